//! Events and metrics: what the state machines report, when the features ask for it.
//!
//! Every function here is a no-op unless the `tracing` or `metrics` feature is on, so the
//! calls compile away in a default build. Only moments that are already off the hot path
//! report: state transitions, rejections, retries, hedges. A breaker's successful call reports
//! nothing.
//!
//! The events, their fields and the metric names are documented once, for users, in the
//! facade's `monitor` module (`src/monitor.rs`); a change here changes that table.

#![cfg_attr(not(feature = "tracing"), allow(unused_variables))]

use std::time::Duration;

use crate::{BreakerState, Rejected};

/// The state names used in events, labels and serialized snapshots.
#[cfg(any(feature = "tracing", feature = "metrics", feature = "serde"))]
pub(crate) fn state_name(state: BreakerState) -> &'static str {
    match state {
        BreakerState::Closed => "closed",
        BreakerState::Open => "open",
        BreakerState::HalfOpen => "half_open",
        BreakerState::ForcedOpen => "forced_open",
        BreakerState::ForcedClosed => "forced_closed",
    }
}

/// A breaker moved from one state to another.
#[inline]
pub(crate) fn transition(
    name: &'static str,
    key: Option<&str>,
    from: BreakerState,
    to: BreakerState,
) {
    #[cfg(feature = "tracing")]
    {
        let (from, to) = (state_name(from), state_name(to));
        if to == "open" {
            tracing::warn!(target: "resilience", name, key, from, to, "circuit breaker state changed");
        } else {
            tracing::info!(target: "resilience", name, key, from, to, "circuit breaker state changed");
        }
    }
    #[cfg(feature = "metrics")]
    {
        let state = f64::from(to as u8);
        let (from, to) = (state_name(from), state_name(to));
        if let Some(key) = key {
            // A keyed breaker's label is its key's text, owned by the metrics registry.
            let key = key.to_owned();
            metrics::counter!("resilience_breaker_transitions_total", "name" => name, "key" => key.clone(), "from" => from, "to" => to).increment(1);
            metrics::gauge!("resilience_breaker_state", "name" => name, "key" => key).set(state);
        } else {
            metrics::counter!("resilience_breaker_transitions_total", "name" => name, "from" => from, "to" => to).increment(1);
            metrics::gauge!("resilience_breaker_state", "name" => name).set(state);
        }
    }
}

/// A layer refused or cut off a call.
#[inline]
pub(crate) fn rejected(rejected: &Rejected) {
    refused(rejected.name(), rejected.key(), rejected.reason());
}

/// A layer refused or cut off a call, told by its parts: for a layer that reports the
/// refusal before it builds the [`Rejected`] (the breaker's, `breaker/mod.rs`).
#[inline]
#[allow(unused_variables)] // without `tracing` and `metrics`
pub(crate) fn refused(name: &'static str, key: Option<&str>, reason: &'static str) {
    #[cfg(feature = "tracing")]
    tracing::debug!(target: "resilience", name, key, reason, "call rejected");
    #[cfg(feature = "metrics")]
    {
        match key {
            Some(key) => metrics::counter!("resilience_rejections_total", "name" => name, "key" => key.to_owned(), "reason" => reason),
            None => metrics::counter!("resilience_rejections_total", "name" => name, "reason" => reason),
        }
        .increment(1);
    }
}

/// A retry is about to wait `delay`; `attempt` is its number, from 1.
#[inline]
pub(crate) fn retrying(name: &'static str, attempt: u32, delay: Duration, cause: &'static str) {
    #[cfg(feature = "tracing")]
    tracing::debug!(
        target: "resilience",
        name,
        attempt,
        delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
        cause,
        "retrying"
    );
    #[cfg(feature = "metrics")]
    metrics::counter!("resilience_retries_total", "name" => name, "cause" => cause).increment(1);
}

/// A failed call is returned without a further retry, after `attempts` attempts: its retries
/// ran out (`cause` is the last failure's), or the budget or `max_elapsed` stopped them
/// (`cause` says which).
#[inline]
pub(crate) fn retries_exhausted(name: &'static str, attempts: u32, cause: &'static str) {
    #[cfg(feature = "tracing")]
    tracing::info!(target: "resilience", name, attempts, cause, "retries exhausted");
    #[cfg(feature = "metrics")]
    {
        metrics::counter!("resilience_retries_exhausted_total", "name" => name).increment(1);
        if cause == crate::retry::BUDGET {
            metrics::counter!("resilience_retry_budget_exhausted_total", "name" => name)
                .increment(1);
        }
    }
}

/// A hedge sends attempt `attempt` (from 1) of a call after `delay` without an answer.
#[inline]
pub(crate) fn hedging(name: &'static str, attempt: u32, delay: Duration) {
    #[cfg(feature = "tracing")]
    tracing::debug!(
        target: "resilience",
        name,
        attempt,
        delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
        "hedging"
    );
    #[cfg(feature = "metrics")]
    metrics::counter!("resilience_hedges_total", "name" => name).increment(1);
}

/// A hedge answered a call first.
#[inline]
pub(crate) fn hedge_won(name: &'static str) {
    #[cfg(feature = "tracing")]
    tracing::debug!(target: "resilience", name, "hedge won");
    #[cfg(feature = "metrics")]
    metrics::counter!("resilience_hedges_won_total", "name" => name).increment(1);
}

/// A hedge was due but its budget was spent: the call goes on without it.
#[inline]
pub(crate) fn hedge_refused(name: &'static str) {
    #[cfg(feature = "tracing")]
    tracing::debug!(target: "resilience", name, "hedge budget exhausted");
    #[cfg(feature = "metrics")]
    metrics::counter!("resilience_hedge_budget_exhausted_total", "name" => name).increment(1);
}

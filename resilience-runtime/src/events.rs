//! Events and metrics: what the state machines report, when the features ask for it.
//!
//! Every function here is a no-op unless the `tracing` or `metrics` feature is on, so the
//! calls compile away in a default build. Only moments that are already off the hot path
//! report: state transitions, rejections, retries. A breaker's successful call reports
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
pub(crate) fn transition(name: &'static str, from: BreakerState, to: BreakerState) {
    #[cfg(feature = "tracing")]
    {
        let (from, to) = (state_name(from), state_name(to));
        if to == "open" {
            tracing::warn!(target: "resilience", name, from, to, "circuit breaker state changed");
        } else {
            tracing::info!(target: "resilience", name, from, to, "circuit breaker state changed");
        }
    }
    #[cfg(feature = "metrics")]
    {
        metrics::counter!(
            "resilience_breaker_transitions_total",
            "name" => name,
            "from" => state_name(from),
            "to" => state_name(to)
        )
        .increment(1);
        metrics::gauge!("resilience_breaker_state", "name" => name).set(f64::from(to as u8));
    }
}

/// A layer refused or cut off a call.
#[inline]
pub(crate) fn rejected(rejected: &Rejected) {
    #[cfg(feature = "tracing")]
    tracing::debug!(
        target: "resilience",
        name = rejected.name(),
        reason = rejected.reason(),
        "call rejected"
    );
    #[cfg(feature = "metrics")]
    metrics::counter!(
        "resilience_rejections_total",
        "name" => rejected.name(),
        "reason" => rejected.reason()
    )
    .increment(1);
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

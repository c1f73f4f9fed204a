//! [`snapshot`]: what every instance looks like now, typed, for dashboards, health endpoints
//! and tests.
//!
//! A snapshot copies a few words per instance out of the registry: the state word's reading,
//! the configuration in force (overrides applied), and the `stats` counters. It takes the
//! registry's lock only to copy the list of instances, never while reading them.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::registry::{registered, Instance};
use crate::{
    BreakerConfig, BreakerState, Bulkhead, BulkheadConfig, CircuitBreaker, HedgeConfig,
    RateLimitConfig, RateLimiter, RetryConfig, Stats,
};

/// Which attribute an instance belongs to.
///
/// ```
/// use resilience_runtime::InstanceKind;
///
/// assert_eq!(InstanceKind::CircuitBreaker.to_string(), "circuit_breaker");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InstanceKind {
    /// `#[circuit_breaker]`.
    CircuitBreaker,
    /// `#[bulkhead]`.
    Bulkhead,
    /// `#[retry]`.
    Retry,
    /// `#[timeout]`.
    Timeout,
    /// `#[rate_limit]`.
    RateLimit,
    /// `#[hedge]`.
    Hedge,
}

impl InstanceKind {
    /// The attribute's name, as in override keys: `circuit_breaker`, `bulkhead`, `retry`,
    /// `timeout`, `rate_limit`, `hedge`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::CircuitBreaker => "circuit_breaker",
            Self::Bulkhead => "bulkhead",
            Self::Retry => "retry",
            Self::Timeout => "timeout",
            Self::RateLimit => "rate_limit",
            Self::Hedge => "hedge",
        }
    }
}

impl fmt::Display for InstanceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The configuration an instance runs with, overrides applied.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum InstanceConfig {
    /// A breaker's.
    CircuitBreaker(BreakerConfig),
    /// A bulkhead's.
    Bulkhead(BulkheadConfig),
    /// A retry's.
    Retry(RetryConfig),
    /// A timeout's limit.
    Timeout(Duration),
    /// A rate limiter's.
    RateLimit(RateLimitConfig),
    /// A hedge's.
    Hedge(HedgeConfig),
}

/// What one instance looks like now.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct InstanceSnapshot {
    /// The instance name: its `name = "..."`, or the path of the function it guards. For a
    /// keyed instance, the attribute's name, shared by every key (see `key`).
    pub name: &'static str,
    /// A keyed instance's key (`key = host` on the attribute), as its `Display` wrote it;
    /// `None` for an instance without a key. Together they read `name[key]`
    /// ([`full_name`](Self::full_name)), the name `breaker` and its siblings find it by.
    pub key: Option<Arc<str>>,
    /// The attribute.
    pub kind: InstanceKind,
    /// A breaker's state.
    pub state: Option<BreakerState>,
    /// How long a breaker has been in that state (since its first call if it never changed).
    pub in_state: Option<Duration>,
    /// A breaker's open period of its latest opening, backoff included (`timeout` while
    /// closed; see `CircuitBreaker::open_period`).
    pub open_period: Option<Duration>,
    /// A window breaker's (count or time window) failed fraction of its window now (`None`
    /// for a consecutive breaker, or while the window is empty; see
    /// `CircuitBreaker::failure_rate`).
    pub failure_rate: Option<f64>,
    /// A window breaker's slow fraction of its window now, with `slow_call` set (`None`
    /// otherwise, or while the window is empty; see `CircuitBreaker::slow_rate`).
    pub slow_rate: Option<f64>,
    /// A bulkhead's free slots; a rate limiter's permits that could be taken now without
    /// waiting.
    pub available: Option<u32>,
    /// A bulkhead's waiting callers; a rate limiter's callers waiting for a reserved permit.
    pub waiting: Option<u32>,
    /// The configuration in force, overrides applied.
    pub config: InstanceConfig,
    /// What the instance counted (all zeros without the `stats` feature).
    pub stats: Stats,
}

impl InstanceSnapshot {
    /// The name `monitor` lists the instance under: `name`, or `name[key]` for a keyed
    /// instance.
    ///
    /// ```
    /// for instance in resilience_runtime::snapshot() {
    ///     println!("{} {}", instance.kind, instance.full_name());
    /// }
    /// ```
    pub fn full_name(&self) -> Cow<'static, str> {
        match &self.key {
            Some(key) => Cow::Owned(format!("{}[{key}]", self.name)),
            None => Cow::Borrowed(self.name),
        }
    }

    fn new(name: &'static str, config: InstanceConfig, stats: Stats) -> Self {
        let kind = match config {
            InstanceConfig::CircuitBreaker(_) => InstanceKind::CircuitBreaker,
            InstanceConfig::Bulkhead(_) => InstanceKind::Bulkhead,
            InstanceConfig::Retry(_) => InstanceKind::Retry,
            InstanceConfig::Timeout(_) => InstanceKind::Timeout,
            InstanceConfig::RateLimit(_) => InstanceKind::RateLimit,
            InstanceConfig::Hedge(_) => InstanceKind::Hedge,
        };
        Self {
            name,
            key: None,
            kind,
            state: None,
            in_state: None,
            open_period: None,
            failure_rate: None,
            slow_rate: None,
            available: None,
            waiting: None,
            config,
            stats,
        }
    }
}

/// A snapshot of every instance that has served a call, in the order of their first calls.
///
/// ```
/// use resilience_runtime::InstanceConfig;
///
/// for instance in resilience_runtime::snapshot() {
///     println!("{} {} {:?}", instance.kind, instance.name, instance.state);
///     if let InstanceConfig::Retry(config) = instance.config {
///         println!("  at most {} retries", config.max());
///     }
/// }
/// ```
pub fn snapshot() -> Vec<InstanceSnapshot> {
    let mut all: Vec<InstanceSnapshot> = registered()
        .into_iter()
        .map(|instance| match instance {
            Instance::CircuitBreaker(b) => breaker(b),
            Instance::Bulkhead(b) => bulkhead(b),
            Instance::Retry(r) => {
                InstanceSnapshot::new(r.name(), InstanceConfig::Retry(*r.config()), r.stats())
            }
            Instance::Timeout(t) => {
                InstanceSnapshot::new(t.name(), InstanceConfig::Timeout(t.limit()), t.stats())
            }
            Instance::RateLimiter(r) => rate_limiter(r),
            Instance::Hedge(h) => {
                InstanceSnapshot::new(h.name(), InstanceConfig::Hedge(*h.config()), h.stats())
            }
        })
        .collect();
    // Keyed instances after the others, one per resident key.
    all.extend(crate::keyed::snapshots());
    all
}

pub(crate) fn breaker(b: &CircuitBreaker) -> InstanceSnapshot {
    InstanceSnapshot {
        state: Some(b.state()),
        in_state: Some(b.time_in_state()),
        open_period: Some(b.open_period()),
        failure_rate: b.failure_rate(),
        slow_rate: b.slow_rate(),
        ..InstanceSnapshot::new(
            b.name(),
            InstanceConfig::CircuitBreaker(*b.config()),
            b.stats(),
        )
    }
}

pub(crate) fn bulkhead(b: &Bulkhead) -> InstanceSnapshot {
    InstanceSnapshot {
        available: Some(b.available()),
        waiting: Some(b.waiting()),
        ..InstanceSnapshot::new(b.name(), InstanceConfig::Bulkhead(*b.config()), b.stats())
    }
}

pub(crate) fn rate_limiter(r: &RateLimiter) -> InstanceSnapshot {
    InstanceSnapshot {
        available: Some(r.available()),
        waiting: Some(r.waiting()),
        ..InstanceSnapshot::new(r.name(), InstanceConfig::RateLimit(*r.config()), r.stats())
    }
}

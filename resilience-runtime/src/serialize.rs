//! `Serialize` for snapshots and their parts (feature `serde`): what an admin endpoint
//! returns as JSON.
//!
//! Written by hand rather than derived, so the shape is chosen here, once, and the feature
//! costs only `serde`'s traits (no derive macro to compile). The rules:
//!
//! - keys are the attributes' parameter names, as in override keys (`timeout`, `half_open`,
//!   `max_wait`), and names are the strings of events and labels (`"half_open"`,
//!   `"circuit_breaker"`, `"full"`);
//! - every duration is a number of seconds (fractional: `0.25`);
//! - a field that does not apply to an instance's kind is left out (a bulkhead has no
//!   `state`); one that applies but has no value now is `null` (a window breaker's
//!   `failure_rate` while its window is empty, a bulkhead's `max_wait` when it waits
//!   forever).
//!
//! The facade's crate docs show the whole shape, and its `tests/serde_json.rs` pins it.

use std::time::Duration;

use resilience_config::retry::Jitter as JitterName;
use serde::ser::{Serialize, SerializeMap, SerializeStruct, Serializer};

use crate::events::state_name;
use crate::{
    BreakerConfig, BreakerState, BulkheadConfig, HedgeConfig, HedgeDelay, InstanceConfig,
    InstanceKind, InstanceSnapshot, Jitter, RateLimitConfig, RetryConfig, Stats, TripPolicy,
};

fn seconds(duration: Duration) -> f64 {
    duration.as_secs_f64()
}

impl Serialize for BreakerState {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(state_name(*self))
    }
}

impl Serialize for InstanceKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl Serialize for Jitter {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let name = match self {
            Jitter::None => JitterName::None,
            Jitter::Full => JitterName::Full,
            Jitter::Equal => JitterName::Equal,
            Jitter::Decorrelated => JitterName::Decorrelated,
        };
        serializer.serialize_str(name.name())
    }
}

impl Serialize for Stats {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_struct("Stats", 8)?;
        map.serialize_field("calls", &self.calls)?;
        map.serialize_field("successes", &self.successes)?;
        map.serialize_field("failures", &self.failures)?;
        map.serialize_field("rejections", &self.rejections)?;
        map.serialize_field("retries", &self.retries)?;
        map.serialize_field("budget_exhausted", &self.budget_exhausted)?;
        map.serialize_field("hedges", &self.hedges)?;
        map.serialize_field("hedges_won", &self.hedges_won)?;
        map.end()
    }
}

impl Serialize for TripPolicy {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        match *self {
            TripPolicy::Consecutive { threshold } => {
                map.serialize_entry("kind", "consecutive")?;
                map.serialize_entry("threshold", &threshold)?;
            }
            TripPolicy::FailureRate {
                failure_rate,
                window,
                min_calls,
            } => {
                map.serialize_entry("kind", "failure_rate")?;
                map.serialize_entry("failure_rate", &failure_rate)?;
                map.serialize_entry("window", &window)?;
                map.serialize_entry("min_calls", &min_calls)?;
            }
            TripPolicy::TimeWindow {
                failure_rate,
                window,
                buckets,
                min_calls,
            } => {
                map.serialize_entry("kind", "time_window")?;
                map.serialize_entry("failure_rate", &failure_rate)?;
                map.serialize_entry("window", &seconds(window))?;
                map.serialize_entry("buckets", &buckets)?;
                map.serialize_entry("min_calls", &min_calls)?;
            }
        }
        map.end()
    }
}

impl Serialize for BreakerConfig {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_struct("BreakerConfig", 6)?;
        map.serialize_field("policy", &self.policy())?;
        map.serialize_field("timeout", &seconds(self.open_for()))?;
        map.serialize_field("timeout_max", &seconds(self.open_for_max()))?;
        map.serialize_field("half_open", &self.half_open())?;
        map.serialize_field("slow_call", &self.slow_call().map(seconds))?;
        map.serialize_field("slow_call_rate", &self.slow_call_rate())?;
        map.end()
    }
}

impl Serialize for BulkheadConfig {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_struct("BulkheadConfig", 3)?;
        map.serialize_field("max", &self.max())?;
        map.serialize_field("max_wait", &self.max_wait().map(seconds))?;
        map.serialize_field("queue", &self.queue())?;
        map.end()
    }
}

impl Serialize for RateLimitConfig {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_struct("RateLimitConfig", 4)?;
        map.serialize_field("rate", &self.rate())?;
        map.serialize_field("per", &seconds(self.per()))?;
        map.serialize_field("burst", &self.burst())?;
        map.serialize_field("max_wait", &self.max_wait().map(seconds))?;
        map.end()
    }
}

impl Serialize for RetryConfig {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_struct("RetryConfig", 7)?;
        map.serialize_field("max", &self.max())?;
        map.serialize_field("base", &seconds(self.base()))?;
        map.serialize_field("max_delay", &seconds(self.max_delay()))?;
        map.serialize_field("jitter", &self.jitter())?;
        map.serialize_field("budget", &self.budget())?;
        map.serialize_field("budget_min", &self.budget_min())?;
        map.serialize_field("max_elapsed", &self.max_elapsed().map(seconds))?;
        map.end()
    }
}

/// `delay` is a number of seconds, or the percentile as written (`"p95"`, `"p99.9"`).
impl Serialize for HedgeConfig {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_struct("HedgeConfig", 3)?;
        match self.delay() {
            HedgeDelay::After(delay) => map.serialize_field("delay", &seconds(delay))?,
            HedgeDelay::Percentile(permille) if permille % 10 == 0 => {
                map.serialize_field("delay", &format!("p{}", permille / 10))?;
            }
            HedgeDelay::Percentile(permille) => {
                map.serialize_field("delay", &format!("p{}.{}", permille / 10, permille % 10))?;
            }
        }
        map.serialize_field("max", &self.max())?;
        map.serialize_field("budget", &self.budget())?;
        map.end()
    }
}

/// A configuration alone, without saying its kind: the snapshot's `kind` says it.
impl Serialize for InstanceConfig {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::CircuitBreaker(config) => config.serialize(serializer),
            Self::Bulkhead(config) => config.serialize(serializer),
            Self::Retry(config) => config.serialize(serializer),
            Self::RateLimit(config) => config.serialize(serializer),
            Self::Hedge(config) => config.serialize(serializer),
            Self::Timeout(limit) => {
                let mut map = serializer.serialize_struct("TimeoutConfig", 1)?;
                map.serialize_field("limit", &seconds(*limit))?;
                map.end()
            }
        }
    }
}

impl Serialize for InstanceSnapshot {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("name", self.name)?;
        if let Some(key) = &self.key {
            map.serialize_entry("key", &**key)?;
        }
        map.serialize_entry("kind", &self.kind)?;
        if let Some(state) = self.state {
            map.serialize_entry("state", &state)?;
            map.serialize_entry("in_state", &self.in_state.map(seconds))?;
            map.serialize_entry("open_period", &self.open_period.map(seconds))?;
            map.serialize_entry("failure_rate", &self.failure_rate)?;
            map.serialize_entry("slow_rate", &self.slow_rate)?;
        }
        if let Some(available) = self.available {
            map.serialize_entry("available", &available)?;
            map.serialize_entry("waiting", &self.waiting)?;
        }
        map.serialize_entry("config", &self.config)?;
        map.serialize_entry("stats", &self.stats)?;
        map.end()
    }
}

//! `#[circuit_breaker]`: defaults and limits.
//!
//! | parameter | default | limits |
//! |---|---|---|
//! | `threshold` | [`DEFAULT_THRESHOLD`] (3) | 1 to 2^20 |
//! | `timeout` | [`DEFAULT_TIMEOUT_NANOS`] (10 s) | longer than zero |
//! | `half_open` | [`DEFAULT_HALF_OPEN`] (1) | 1 to 2^12 |
//! | `failure_rate` | none: it selects the failure-rate mode | greater than 0, at most 1 |
//! | `window` | [`DEFAULT_WINDOW`] (100) | 1 to 2^24 (a bit per call, allocated at first use) |
//! | `min_calls` | the window ([`default_min_calls`]) | 1 to `window` |
//! | `timeout_max` | `timeout`: no backoff | at least `timeout` ([`check_timeout_max`]) |
//! | `slow_call` | none: no call is slow | longer than zero |
//! | `slow_call_rate` | [`DEFAULT_SLOW_CALL_RATE`] (1.0) | greater than 0, at most 1; needs `slow_call` and the failure-rate mode |
//!
//! `threshold` (consecutive failures) and `failure_rate` (with `window` and `min_calls`) are
//! two trip policies: naming both is [`Error::ThresholdWithFailureRate`], and `window` or
//! `min_calls` without the failure-rate mode is [`Error::NeedsFailureRate`]. `slow_call_rate`
//! is the failure-rate mode's too (a consecutive breaker counts a slow call as a failure), and
//! without `slow_call` it is [`Error::NeedsSlowCall`].

use crate::{Count, Error, Rate, Time, SECOND};

/// Consecutive failures that open the breaker.
pub const THRESHOLD: Count = Count {
    name: "threshold",
    min: 1,
    max: 1 << 20,
};
/// The default `threshold`.
pub const DEFAULT_THRESHOLD: u32 = 3;

/// Time spent open before trial calls are admitted.
pub const TIMEOUT: Time = Time {
    name: "timeout",
    zero: Some("`timeout` must be longer than zero: the breaker would never stay open"),
};
/// The default `timeout`: 10 s.
pub const DEFAULT_TIMEOUT_NANOS: u64 = 10 * SECOND;

/// Trial calls admitted at once while half-open.
pub const HALF_OPEN: Count = Count {
    name: "half_open",
    min: 1,
    max: 1 << 12,
};
/// The default `half_open`.
pub const DEFAULT_HALF_OPEN: u32 = 1;

/// The failed fraction of the window that opens the breaker.
pub const FAILURE_RATE: Rate = Rate {
    name: "failure_rate",
};

/// How many of the last calls the failure rate is computed over. The ring holds a bit per
/// call, so the limit bounds it at 2 MiB.
pub const WINDOW: Count = Count {
    name: "window",
    min: 1,
    max: 1 << 24,
};
/// The default `window`.
pub const DEFAULT_WINDOW: u32 = 100;

/// Calls recorded before the rate is trusted; at most the window ([`check_min_calls`]).
pub const MIN_CALLS: Count = Count {
    name: "min_calls",
    min: 1,
    max: WINDOW.max,
};

/// The default `min_calls` of a window: the whole window.
///
/// ```
/// assert_eq!(resilience_config::breaker::default_min_calls(20), 20);
/// ```
pub const fn default_min_calls(window: u32) -> u32 {
    window
}

/// The rule between `min_calls` and `window`.
///
/// ```
/// use resilience_config::breaker::check_min_calls;
///
/// assert!(check_min_calls(20, 100).is_ok());
/// assert!(check_min_calls(200, 100).is_err());
/// ```
///
/// # Errors
///
/// [`Error::MinCallsAboveWindow`].
pub fn check_min_calls(min_calls: u32, window: u32) -> Result<(), Error> {
    if min_calls > window {
        Err(Error::MinCallsAboveWindow { window })
    } else {
        Ok(())
    }
}

/// The longest open period: each half-open phase that ends with a failed trial doubles the
/// open period, up to this. At least `timeout` ([`check_timeout_max`]); by default equal to it.
pub const TIMEOUT_MAX: Time = Time {
    name: "timeout_max",
    zero: Some(
        "`timeout_max` must be longer than zero: it caps the open period, which is never zero",
    ),
};

/// The rule between `timeout_max` and `timeout`, in nanoseconds.
///
/// ```
/// use resilience_config::breaker::check_timeout_max;
///
/// assert!(check_timeout_max(300_000_000_000, 10_000_000_000).is_ok());
/// assert!(check_timeout_max(10_000_000_000, 10_000_000_000).is_ok(), "no backoff");
/// assert!(check_timeout_max(5_000_000_000, 10_000_000_000).is_err());
/// ```
///
/// # Errors
///
/// [`Error::TimeoutMaxBelowTimeout`]: the open period starts at `timeout` and only grows.
pub fn check_timeout_max(timeout_max: u64, timeout: u64) -> Result<(), Error> {
    if timeout_max < timeout {
        Err(Error::TimeoutMaxBelowTimeout)
    } else {
        Ok(())
    }
}

/// The duration after which a call is slow: a consecutive breaker counts a slow call as a
/// failure, a failure-rate breaker also opens on the slow fraction ([`SLOW_CALL_RATE`]).
pub const SLOW_CALL: Time = Time {
    name: "slow_call",
    zero: Some("`slow_call` must be longer than zero: every call would be slow"),
};

/// The slow fraction of the window that opens a failure-rate breaker.
pub const SLOW_CALL_RATE: Rate = Rate {
    name: "slow_call_rate",
};
/// The default `slow_call_rate`: every call in the window slow (resilience4j's default).
pub const DEFAULT_SLOW_CALL_RATE: f64 = 1.0;

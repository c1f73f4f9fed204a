//! `#[circuit_breaker]`: defaults and limits.
//!
//! | parameter | default | limits |
//! |---|---|---|
//! | `threshold` | [`DEFAULT_THRESHOLD`] (3) | 1 to 2^20 |
//! | `timeout` | [`DEFAULT_TIMEOUT_NANOS`] (10 s) | longer than zero |
//! | `half_open` | [`DEFAULT_HALF_OPEN`] (1) | 1 to 2^12 |
//! | `failure_rate` | none: it selects the failure-rate mode | greater than 0, at most 1 |
//! | `window` (calls) | [`DEFAULT_WINDOW`] (100) | 1 to 2^24 (a bit per call, allocated at first use) |
//! | `window` (a duration: [`WINDOW_TIME`]) | none: it selects the time-window mode | longer than zero |
//! | `buckets` | [`DEFAULT_BUCKETS`] (10) | 1 to 2^12, each at least 1 ms long ([`check_buckets`]); time window only |
//! | `min_calls` | the window ([`default_min_calls`]); [`DEFAULT_TIME_MIN_CALLS`] (20) with a time window | 1 to `window` (calls); 1 to 2^24 with a time window |
//! | `timeout_max` | `timeout`: no backoff | at least `timeout` ([`check_timeout_max`]) |
//! | `slow_call` | none: no call is slow | longer than zero |
//! | `slow_call_rate` | [`DEFAULT_SLOW_CALL_RATE`] (1.0) | greater than 0, at most 1; needs `slow_call` and the failure-rate mode |
//!
//! `threshold` (consecutive failures) and `failure_rate` (with `window` and `min_calls`) are
//! two trip policies: naming both is [`Error::ThresholdWithFailureRate`], and `window` or
//! `min_calls` without the failure-rate mode is [`Error::NeedsFailureRate`]. `slow_call_rate`
//! is the failure-rate mode's too (a consecutive breaker counts a slow call as a failure), and
//! without `slow_call` it is [`Error::NeedsSlowCall`].
//!
//! `window` is a count of calls (`window = 100`) or a duration (`window = "30s"`, the
//! time-window mode, [`parse_window`]); `buckets` without a time window is
//! [`Error::NeedsTimeWindow`].

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

/// The failure-rate window as a duration: the calls that completed in the last `window`,
/// kept in [`BUCKETS`] rotating buckets. In nanoseconds, like every [`Time`].
pub const WINDOW_TIME: Time = Time {
    name: "window",
    zero: Some("`window` must be longer than zero: a time window of no time holds no call"),
};

/// A `window` as written: a count of calls, or a duration (the time-window mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// The last N calls.
    Calls(u32),
    /// The calls that completed in the last N nanoseconds.
    Time(u64),
}

/// Parses a `window` override: digits alone are a count of calls ([`WINDOW`]), anything else
/// a duration ([`WINDOW_TIME`]).
///
/// ```
/// use resilience_config::breaker::{parse_window, Window};
///
/// assert_eq!(parse_window("100"), Ok(Window::Calls(100)));
/// assert_eq!(parse_window("30s"), Ok(Window::Time(30_000_000_000)));
/// assert!(parse_window("0s").is_err());
/// assert!(parse_window("0").is_err());
/// ```
///
/// # Errors
///
/// What [`Count::parse`](crate::Count::parse) or [`Time::parse`] says.
pub fn parse_window(text: &str) -> Result<Window, Error> {
    let trimmed = text.trim();
    if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
        WINDOW.parse(text).map(Window::Calls)
    } else {
        WINDOW_TIME.parse(text).map(Window::Time)
    }
}

/// The buckets a time window is kept in: the window slides by one bucket at a time.
pub const BUCKETS: Count = Count {
    name: "buckets",
    min: 1,
    max: 1 << 12,
};
/// The default `buckets`.
pub const DEFAULT_BUCKETS: u32 = 10;

/// The shortest bucket: 1 ms.
pub const BUCKET_MIN_NANOS: u64 = crate::MILLISECOND;

/// The rule between a time `window` (nanoseconds) and `buckets`: each bucket, `window /
/// buckets` rounded down to a nanosecond, lasts at least [`BUCKET_MIN_NANOS`].
///
/// ```
/// use resilience_config::breaker::check_buckets;
///
/// assert!(check_buckets(30_000_000_000, 10).is_ok());
/// assert!(check_buckets(10_000_000, 10).is_ok(), "1 ms each");
/// assert!(check_buckets(9_999_999, 10).is_err());
/// ```
///
/// # Errors
///
/// [`Error::BucketsTooShort`].
pub fn check_buckets(window: u64, buckets: u32) -> Result<(), Error> {
    if window / u64::from(buckets.max(1)) < BUCKET_MIN_NANOS {
        Err(Error::BucketsTooShort { buckets })
    } else {
        Ok(())
    }
}

/// The default `min_calls` of a time window: 20, the volume threshold of `MicroProfile` Fault Tolerance.
pub const DEFAULT_TIME_MIN_CALLS: u32 = 20;

/// Calls recorded before the rate is trusted; at most a count window ([`check_min_calls`]).
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

//! [`Error`]: why a value was refused, worded once for compile errors and refused overrides.

use std::fmt;

/// Why a parameter's value was refused. `Display` is the message: the macros show it as a
/// compile error on the offending token, the runtime as the reason of a refused override.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// Not a whole number.
    NotACount {
        /// The text as given.
        text: String,
    },
    /// Not a number.
    NotARate {
        /// The text as given.
        text: String,
    },
    /// Not a number and a unit.
    BadDuration {
        /// The text as given.
        text: String,
    },
    /// A nonzero digit finer than a nanosecond.
    SubNanosecond {
        /// The text as given.
        text: String,
    },
    /// Past `u64::MAX` nanoseconds.
    DurationTooLong {
        /// The text as given.
        text: String,
    },
    /// Below the parameter's minimum.
    TooSmall {
        /// The parameter.
        parameter: &'static str,
        /// Its minimum.
        min: u32,
    },
    /// Above the parameter's maximum.
    TooLarge {
        /// The parameter.
        parameter: &'static str,
        /// Its maximum.
        max: u32,
    },
    /// A zero duration where zero makes no sense.
    Zero {
        /// The parameter.
        parameter: &'static str,
        /// The whole message: what zero would do.
        message: &'static str,
    },
    /// A rate outside `(0, 1]`.
    RateOutOfRange {
        /// The parameter.
        parameter: &'static str,
    },
    /// A share outside `[0, 1]`.
    ShareOutOfRange {
        /// The parameter.
        parameter: &'static str,
    },
    /// Not a jitter kind.
    UnknownJitter {
        /// The text as given.
        text: String,
    },
    /// An empty instance name.
    EmptyName,
    /// `min_calls` above `window`.
    MinCallsAboveWindow {
        /// The window.
        window: u32,
    },
    /// `base` longer than `max_delay`.
    BaseAboveMaxDelay,
    /// A breaker's `timeout_max` shorter than its `timeout`.
    TimeoutMaxBelowTimeout,
    /// Both `threshold` and `failure_rate`.
    ThresholdWithFailureRate,
    /// A failure-rate parameter (`window`, `min_calls`) for a consecutive-failures breaker.
    NeedsFailureRate {
        /// The parameter.
        parameter: &'static str,
    },
    /// `slow_call_rate` for a breaker without `slow_call`.
    NeedsSlowCall,
    /// `buckets` for a breaker whose window is not a duration.
    NeedsTimeWindow,
    /// A time `window` cut into buckets shorter than 1 ms.
    BucketsTooShort {
        /// The buckets.
        buckets: u32,
    },
    /// A `window` of the other kind than the breaker's: a count for a time window, or a
    /// duration for a count window.
    WindowKind {
        /// Whether the breaker's window is a duration.
        time: bool,
    },
    /// A hedge `delay` that starts with `p` but is no percentile from 50 to 99.9.
    BadPercentile {
        /// The text as given.
        text: String,
    },
    /// A parameter the attribute does not have.
    UnknownParameter {
        /// The attribute, like `circuit_breaker`.
        attribute: &'static str,
        /// The parameter as given.
        parameter: String,
        /// The attribute's parameters.
        expected: &'static [&'static str],
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotACount { text } => write!(f, "expected a whole number, not `{text}`"),
            Error::NotARate { text } => write!(f, "expected a rate like `0.5`, not `{text}`"),
            Error::BadDuration { text } => write!(
                f,
                "cannot parse `{text}` as a duration; write a number and a unit, like 250ms, 10s, 1.5s, 2m or 1h (units: ns, us, ms, s, m, h)"
            ),
            Error::SubNanosecond { text } => write!(
                f,
                "`{text}` is finer than a nanosecond; durations are whole nanoseconds"
            ),
            Error::DurationTooLong { text } => write!(
                f,
                "`{text}` is too long; durations go up to about 584 years ({} ns)",
                u64::MAX
            ),
            Error::TooSmall { parameter, min } => {
                write!(f, "`{parameter}` must be at least {min}")
            }
            Error::TooLarge { parameter, max } => write!(f, "`{parameter}` must be at most {max}"),
            Error::Zero { message, .. } => f.write_str(message),
            Error::RateOutOfRange { parameter } => write!(
                f,
                "`{parameter}` must be greater than 0 and at most 1, like `0.5`"
            ),
            Error::ShareOutOfRange { parameter } => write!(
                f,
                "`{parameter}` must be from 0 to 1, like `0.2`, or \"none\""
            ),
            Error::UnknownJitter { text } => {
                write!(f, "unknown jitter `{text}`; expected one of: ")?;
                for (i, jitter) in crate::retry::Jitter::ALL.iter().enumerate() {
                    let sep = if i == 0 { "" } else { ", " };
                    write!(f, "{sep}\"{}\"", jitter.name())?;
                }
                Ok(())
            }
            Error::EmptyName => f.write_str(
                "`name` must not be empty: it names the instance in errors, monitoring and overrides",
            ),
            Error::MinCallsAboveWindow { window } => write!(
                f,
                "`min_calls` cannot exceed `window` ({window}): the window never holds more calls"
            ),
            Error::BaseAboveMaxDelay => f.write_str(
                "`base` is longer than `max_delay`: every delay would be capped to `max_delay`",
            ),
            Error::TimeoutMaxBelowTimeout => f.write_str(
                "`timeout_max` is shorter than `timeout`: the open period starts at `timeout` and only doubles from there",
            ),
            Error::ThresholdWithFailureRate => f.write_str(
                "`threshold` and `failure_rate` are two ways to decide when to open; use one of them",
            ),
            Error::NeedsFailureRate { parameter } => write!(
                f,
                "`{parameter}` applies to a failure-rate breaker; set `failure_rate` too"
            ),
            Error::NeedsSlowCall => f.write_str(
                "`slow_call_rate` needs `slow_call`, the duration after which a call is slow; set `slow_call` too",
            ),
            Error::NeedsTimeWindow => f.write_str(
                "`buckets` applies to a time window; write `window` as a duration, like `window = \"30s\"`",
            ),
            Error::BucketsTooShort { buckets } => write!(
                f,
                "{buckets} buckets cut `window` into buckets shorter than 1 ms; use fewer buckets or a longer window"
            ),
            Error::WindowKind { time: true } => f.write_str(
                "this breaker's window is a duration; write `window` like `30s`",
            ),
            Error::WindowKind { time: false } => f.write_str(
                "this breaker's window is a count of calls; write `window` as a whole number, like `100`",
            ),
            Error::BadPercentile { text } => write!(
                f,
                "`{text}` is no percentile `delay` can use: write \"p50\" to \"p99.9\", with at most one decimal (\"p95\", \"p99\", \"p99.9\"), or a duration like \"50ms\""
            ),
            Error::UnknownParameter {
                attribute,
                parameter,
                expected,
            } => write!(
                f,
                "unknown parameter `{parameter}` for {attribute}; expected one of: {}",
                expected.join(", ")
            ),
        }
    }
}

impl std::error::Error for Error {}

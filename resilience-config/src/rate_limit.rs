//! `#[rate_limit]`: defaults and limits.
//!
//! | parameter | default | limits |
//! |---|---|---|
//! | `rate` | required | 1 to `u32::MAX` permits per `per` |
//! | `per` | [`DEFAULT_PER_NANOS`] (1 s) | longer than zero |
//! | `burst` | `rate` ([`default_burst`]) | 1 to `u32::MAX` |
//! | `max_wait` | [`DEFAULT_MAX_WAIT_NANOS`]: wait forever | any duration; zero never waits |
//!
//! One permit comes every `per / rate` (rounded up to a whole nanosecond, so the limit is
//! never exceeded), and up to `burst` permits can be taken at once after a quiet period.

use crate::{Count, Time, SECOND};

/// Permits per `per`.
pub const RATE: Count = Count {
    name: "rate",
    min: 1,
    max: u32::MAX,
};

/// The period `rate` is counted over.
pub const PER: Time = Time {
    name: "per",
    zero: Some("`per` must be longer than zero: a rate per no time at all is no limit"),
};
/// The default `per`: 1 s.
pub const DEFAULT_PER_NANOS: u64 = SECOND;

/// Permits that can be taken at once after a quiet period: the bucket's capacity.
pub const BURST: Count = Count {
    name: "burst",
    min: 1,
    max: u32::MAX,
};

/// The default `burst` of a rate: the rate itself, so a quiet period of `per` lets a whole
/// period's permits be taken at once.
///
/// ```
/// assert_eq!(resilience_config::rate_limit::default_burst(100), 100);
/// ```
pub const fn default_burst(rate: u32) -> u32 {
    rate
}

/// How long a caller may wait for its permit.
pub const MAX_WAIT: Time = Time {
    name: "max_wait",
    zero: None,
};
/// The default `max_wait`: none, wait until the permit comes.
pub const DEFAULT_MAX_WAIT_NANOS: Option<u64> = None;

//! Every default, every limit and the duration grammar of the `resilience` attributes, defined
//! once.
//!
//! Two places check a parameter: the macros, when an attribute is compiled
//! (`#[circuit_breaker(threshold = 0)]` is a spanned compile error), and the runtime, when an
//! operator overrides a compiled value (`RESILIENCE_PAYMENT_CIRCUIT_BREAKER_THRESHOLD=0` is
//! refused and the compiled value stays). Both depend on this crate, so they cannot disagree
//! about what a value means or where its range ends. It has no dependencies: the proc-macro
//! crate builds it for the host, the runtime for the target.
//!
//! - [`parse_duration`]: the one grammar of durations, `"250ms"`, `"10s"`, `"1.5s"`, `"2m"`,
//!   `"1h"` (units `ns`, `us`, `ms`, `s`, `m`, `h`), in whole nanoseconds: integer arithmetic,
//!   no `f64`, and a value finer than a nanosecond (`"0.5ns"`) is an error, not a zero;
//! - one module per attribute ([`breaker`], [`retry`], [`bulkhead`], [`timeout`],
//!   [`rate_limit`], [`hedge`]) with its
//!   defaults (`DEFAULT_*` constants) and one descriptor per parameter ([`Count`], [`Rate`],
//!   [`Share`], [`Time`]) holding its limits, which checks a typed value (the macros) or parses and
//!   checks text (the runtime);
//! - the rules that relate parameters ([`breaker::check_min_calls`],
//!   [`breaker::check_timeout_max`], [`retry::check_base`]) and [`check_name`];
//! - [`Error`], whose `Display` is the message both sides show.
//!
//! ```
//! use resilience_config::{breaker, parse_duration};
//!
//! assert_eq!(parse_duration("1.5s"), Ok(1_500_000_000));
//! assert_eq!(breaker::THRESHOLD.parse("5"), Ok(5));
//! let refused = breaker::WINDOW.parse("4000000000").unwrap_err();
//! assert_eq!(refused.to_string(), "`window` must be at most 16777216");
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub, rust_2018_idioms)]

pub mod breaker;
pub mod bulkhead;
mod duration;
mod error;
pub mod hedge;
pub mod keyed;
mod param;
pub mod rate_limit;
pub mod retry;
pub mod timeout;

#[cfg(test)]
mod tests;

pub use duration::{
    format_duration, parse_duration, HOUR, MICROSECOND, MILLISECOND, MINUTE, SECOND,
};
pub use error::Error;
pub use param::{Count, Rate, Share, Time};

/// Checks an explicit instance name: it names the instance in errors, monitoring and override
/// keys, so it cannot be empty.
///
/// ```
/// assert!(resilience_config::check_name("payment").is_ok());
/// assert!(resilience_config::check_name("").is_err());
/// ```
///
/// # Errors
///
/// [`Error::EmptyName`] for an empty or blank name.
pub fn check_name(name: &str) -> Result<(), Error> {
    if name.trim().is_empty() {
        Err(Error::EmptyName)
    } else {
        Ok(())
    }
}

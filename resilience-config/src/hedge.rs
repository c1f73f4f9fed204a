//! `#[hedge]`: defaults, limits and the grammar of `delay`.
//!
//! | parameter | default | limits |
//! |---|---|---|
//! | `delay` | required | a duration longer than zero, or a percentile `"p50"` to `"p99.9"` ([`parse_delay`]) |
//! | `max` | [`DEFAULT_MAX`] (1) | 1 to [`MAX`]`.max` (4: five attempts in flight, gRPC's cap) |
//! | `budget` | [`DEFAULT_BUDGET`] (0.1) | 0 to 1 |
//!
//! The budget's window is [`BUDGET_WINDOW_SECS`] (10 s, the retry budget's), and a percentile
//! needs [`WARM_UP`] (100) completed calls before it is trusted: not parameters.

use crate::{parse_duration, Count, Error, Share, Time};

/// Extra attempts at most, beyond the first.
pub const MAX: Count = Count {
    name: "max",
    min: 1,
    max: 4,
};
/// The default `max`: one hedge.
pub const DEFAULT_MAX: u32 = 1;

/// A fixed `delay`: how long the attempts in flight have to answer before another is sent.
pub const DELAY: Time = Time {
    name: "delay",
    zero: Some(
        "`delay` must be longer than zero: every attempt would be sent at once, multiplying the load; write a duration like \"50ms\" or a percentile like \"p95\"",
    ),
};

/// The hedge budget: the share of the calls started that hedges may add.
pub const BUDGET: Share = Share { name: "budget" };
/// The default `budget`: hedges may add 10 % to the calls.
pub const DEFAULT_BUDGET: f64 = 0.1;

/// The rolling window over which the budget counts calls and hedges, in seconds.
pub const BUDGET_WINDOW_SECS: u32 = crate::retry::BUDGET_WINDOW_SECS;

/// Completed calls seen before a percentile `delay` is trusted: until then, no hedging.
pub const WARM_UP: u32 = 100;

/// The lowest percentile `delay` may name, in tenths of a percent (p50).
pub const MIN_PERMILLE: u16 = 500;
/// The highest percentile `delay` may name, in tenths of a percent (p99.9).
pub const MAX_PERMILLE: u16 = 999;

/// When to send another attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delay {
    /// After this many nanoseconds.
    After(u64),
    /// After this percentile of the function's recent latencies, in tenths of a percent
    /// (`"p95"` is 950, `"p99.9"` is 999).
    Percentile(u16),
}

/// A `delay` as written: a duration (`"50ms"`), or a percentile from `"p50"` to `"p99.9"`
/// with at most one decimal.
///
/// ```
/// use resilience_config::hedge::{parse_delay, Delay};
///
/// assert_eq!(parse_delay("50ms"), Ok(Delay::After(50_000_000)));
/// assert_eq!(parse_delay("p95"), Ok(Delay::Percentile(950)));
/// assert_eq!(parse_delay("p99.9"), Ok(Delay::Percentile(999)));
/// assert!(parse_delay("p100").is_err());
/// assert!(parse_delay("p99.99").is_err());
/// assert!(parse_delay("0s").is_err());
/// ```
///
/// # Errors
///
/// [`Error::BadPercentile`] for a `p` that is no percentile from 50 to 99.9, or what
/// [`DELAY`] says of a duration.
pub fn parse_delay(text: &str) -> Result<Delay, Error> {
    let trimmed = text.trim();
    match trimmed.strip_prefix('p') {
        Some(number) => percentile(number)
            .filter(|permille| (MIN_PERMILLE..=MAX_PERMILLE).contains(permille))
            .map(Delay::Percentile)
            .ok_or_else(|| Error::BadPercentile {
                text: text.to_owned(),
            }),
        None => DELAY.check(parse_duration(trimmed)?).map(Delay::After),
    }
}

/// `95` → 950, `99.9` → 999; `None` for anything else (more than one decimal included).
fn percentile(number: &str) -> Option<u16> {
    let (whole, tenths) = match number.split_once('.') {
        Some((whole, tenth)) if tenth.len() == 1 => (whole, tenth),
        Some(_) => return None,
        None => (number, "0"),
    };
    let digits = |s: &str| !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !digits(tenths) {
        return None;
    }
    Some(whole.parse::<u16>().ok()? * 10 + tenths.parse::<u16>().ok()?)
}

//! The duration grammar: a decimal number and a unit, in whole nanoseconds.
//!
//! `"250ms"`, `"10s"`, `"1.5s"`, `".5s"`, `"2m"`, `"1h"`; units `ns`, `us` (or `µs`), `ms`,
//! `s`, `m`, `h`; blanks around the value and before the unit are allowed. The number is
//! read digit by digit into a `u64` of nanoseconds, so `"0.1s"` is exactly 100 ms (no binary
//! fraction on the way) and the largest duration is `u64::MAX` ns, about 584 years. Digits
//! finer than a nanosecond must be zeros: `"1.50s"` is fine, `"0.5ns"` or `"1.0000000001s"`
//! is an error, so no nonzero value silently becomes zero.

use crate::Error;

/// One microsecond, in nanoseconds.
pub const MICROSECOND: u64 = 1_000;
/// One millisecond, in nanoseconds.
pub const MILLISECOND: u64 = 1_000_000;
/// One second, in nanoseconds.
pub const SECOND: u64 = 1_000_000_000;
/// One minute, in nanoseconds.
pub const MINUTE: u64 = 60 * SECOND;
/// One hour, in nanoseconds.
pub const HOUR: u64 = 60 * MINUTE;

/// Units from the largest, for [`format_duration`].
const UNITS: [(&str, u64); 6] = [
    ("h", HOUR),
    ("m", MINUTE),
    ("s", SECOND),
    ("ms", MILLISECOND),
    ("us", MICROSECOND),
    ("ns", 1),
];

/// Parses a duration into nanoseconds.
///
/// ```
/// use resilience_config::{parse_duration, Error};
///
/// assert_eq!(parse_duration("250ms"), Ok(250_000_000));
/// assert_eq!(parse_duration("1.5s"), Ok(1_500_000_000));
/// assert!(matches!(parse_duration("10"), Err(Error::BadDuration { .. })));
/// assert!(matches!(parse_duration("0.5ns"), Err(Error::SubNanosecond { .. })));
/// ```
///
/// # Errors
///
/// [`Error::BadDuration`] for anything but a number and a unit (a negative number too),
/// [`Error::SubNanosecond`] for a nonzero digit finer than a nanosecond,
/// [`Error::DurationTooLong`] past `u64::MAX` nanoseconds.
pub fn parse_duration(text: &str) -> Result<u64, Error> {
    let malformed = || Error::BadDuration {
        text: text.to_owned(),
    };
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(malformed)?;
    let (number, unit) = trimmed.split_at(split);
    let unit = match unit.trim_start() {
        "ns" => 1,
        "us" | "µs" => MICROSECOND,
        "ms" => MILLISECOND,
        "s" => SECOND,
        "m" => MINUTE,
        "h" => HOUR,
        _ => return Err(malformed()),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
        return Err(malformed());
    }
    let too_long = || Error::DurationTooLong {
        text: text.to_owned(),
    };
    let mut nanos: u64 = 0;
    for digit in whole.bytes() {
        nanos = nanos
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(digit - b'0')))
            .ok_or_else(too_long)?;
    }
    nanos = nanos.checked_mul(unit).ok_or_else(too_long)?;
    // Each fractional digit is worth a tenth of the one before; past the nanosecond (`scale`
    // reaches zero) only zeros may follow.
    let mut scale = unit;
    for digit in fraction.bytes() {
        let digit = u64::from(digit - b'0');
        scale /= 10;
        if scale == 0 && digit != 0 {
            return Err(Error::SubNanosecond {
                text: text.to_owned(),
            });
        }
        nanos = nanos.checked_add(digit * scale).ok_or_else(too_long)?;
    }
    Ok(nanos)
}

/// A duration in the grammar [`parse_duration`] reads, in the largest unit that keeps it a
/// whole number: for messages.
///
/// ```
/// use resilience_config::format_duration;
///
/// assert_eq!(format_duration(10_000_000_000), "10s");
/// assert_eq!(format_duration(1_500_000_000), "1500ms");
/// assert_eq!(format_duration(0), "0s");
/// ```
pub fn format_duration(nanos: u64) -> String {
    if nanos == 0 {
        return "0s".to_owned();
    }
    let (unit, size) = UNITS
        .iter()
        .copied()
        .find(|(_, size)| nanos % size == 0)
        .unwrap_or(("ns", 1));
    format!("{}{unit}", nanos / size)
}

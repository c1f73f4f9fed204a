//! Parameter descriptors: a name and its limits, checking a typed value (what the macros hold
//! after parsing a literal) or parsing and checking text (what an override brings).

use crate::{parse_duration, Error};

/// A whole-number parameter: `threshold`, `window`, a bulkhead's `max`, ...
///
/// ```
/// use resilience_config::breaker::HALF_OPEN;
///
/// assert_eq!(HALF_OPEN.check(2), Ok(2));
/// assert_eq!(HALF_OPEN.check(0).unwrap_err().to_string(), "`half_open` must be at least 1");
/// assert_eq!(HALF_OPEN.parse(" 3 "), Ok(3));
/// assert!(HALF_OPEN.parse("three").is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count {
    /// The parameter as written in attributes and override keys.
    pub name: &'static str,
    /// The smallest value allowed.
    pub min: u32,
    /// The largest value allowed.
    pub max: u32,
}

impl Count {
    /// `value`, if it is within the limits.
    ///
    /// # Errors
    ///
    /// [`Error::TooSmall`] or [`Error::TooLarge`].
    pub fn check(&self, value: u32) -> Result<u32, Error> {
        if value < self.min {
            Err(Error::TooSmall {
                parameter: self.name,
                min: self.min,
            })
        } else if value > self.max {
            Err(Error::TooLarge {
                parameter: self.name,
                max: self.max,
            })
        } else {
            Ok(value)
        }
    }

    /// Parses a whole number (blanks around it allowed) and checks it.
    ///
    /// # Errors
    ///
    /// [`Error::NotACount`], or what [`Count::check`] says; digits past `u32::MAX` are
    /// [`Error::TooLarge`].
    pub fn parse(&self, text: &str) -> Result<u32, Error> {
        let digits = text.trim();
        match digits.parse::<u32>() {
            Ok(value) => self.check(value),
            Err(_) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
                Err(Error::TooLarge {
                    parameter: self.name,
                    max: self.max,
                })
            }
            Err(_) => Err(Error::NotACount {
                text: text.to_owned(),
            }),
        }
    }
}

/// A fraction in `(0, 1]`: `failure_rate`.
///
/// ```
/// use resilience_config::breaker::FAILURE_RATE;
///
/// assert_eq!(FAILURE_RATE.parse("0.5"), Ok(0.5));
/// assert!(FAILURE_RATE.check(1.5).is_err());
/// assert!(FAILURE_RATE.check(0.0).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// The parameter as written in attributes and override keys.
    pub name: &'static str,
}

impl Rate {
    /// `value`, if it is greater than 0 and at most 1 (not NaN).
    ///
    /// # Errors
    ///
    /// [`Error::RateOutOfRange`].
    pub fn check(&self, value: f64) -> Result<f64, Error> {
        if value > 0.0 && value <= 1.0 {
            Ok(value)
        } else {
            Err(Error::RateOutOfRange {
                parameter: self.name,
            })
        }
    }

    /// Parses a decimal number (blanks around it allowed) and checks it.
    ///
    /// # Errors
    ///
    /// [`Error::NotARate`], or what [`Rate::check`] says.
    pub fn parse(&self, text: &str) -> Result<f64, Error> {
        self.check(decimal(text)?)
    }
}

/// A share from 0 to 1, both included: a retry `budget`.
///
/// ```
/// use resilience_config::retry::BUDGET;
///
/// assert_eq!(BUDGET.parse("0.2"), Ok(0.2));
/// assert_eq!(BUDGET.check(0.0), Ok(0.0), "the reserve alone");
/// assert!(BUDGET.check(1.5).is_err());
/// assert!(BUDGET.check(-1.0).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    /// The parameter as written in attributes and override keys.
    pub name: &'static str,
}

impl Share {
    /// `value`, if it is from 0 to 1 (not NaN).
    ///
    /// # Errors
    ///
    /// [`Error::ShareOutOfRange`].
    pub fn check(&self, value: f64) -> Result<f64, Error> {
        if (0.0..=1.0).contains(&value) {
            Ok(value)
        } else {
            Err(Error::ShareOutOfRange {
                parameter: self.name,
            })
        }
    }

    /// Parses a decimal number (blanks around it allowed) and checks it.
    ///
    /// # Errors
    ///
    /// [`Error::NotARate`], or what [`Share::check`] says.
    pub fn parse(&self, text: &str) -> Result<f64, Error> {
        self.check(decimal(text)?)
    }
}

/// A decimal number, blanks around it allowed.
fn decimal(text: &str) -> Result<f64, Error> {
    text.trim().parse::<f64>().map_err(|_| Error::NotARate {
        text: text.to_owned(),
    })
}

/// A duration parameter, in nanoseconds: a breaker's `timeout`, a retry's `base`, ...
///
/// The grammar's own limit (`u64::MAX` nanoseconds) is the upper one; some parameters refuse
/// zero.
///
/// ```
/// use resilience_config::{breaker::TIMEOUT, retry::BASE};
///
/// assert_eq!(TIMEOUT.parse("30s"), Ok(30_000_000_000));
/// assert!(TIMEOUT.parse("0s").is_err(), "a breaker that never stays open");
/// assert_eq!(BASE.parse("0s"), Ok(0), "retry at once");
/// assert!(BASE.parse("0.5ns").is_err(), "not silently zero");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Time {
    /// The parameter as written in attributes and override keys.
    pub name: &'static str,
    /// `Some(message)` if zero is refused; the message says what zero would do.
    pub zero: Option<&'static str>,
}

impl Time {
    /// `nanos`, if it is allowed.
    ///
    /// # Errors
    ///
    /// [`Error::Zero`] for a zero this parameter refuses.
    pub fn check(&self, nanos: u64) -> Result<u64, Error> {
        match self.zero {
            Some(message) if nanos == 0 => Err(Error::Zero {
                parameter: self.name,
                message,
            }),
            _ => Ok(nanos),
        }
    }

    /// Parses a duration ([`parse_duration`]) and checks it.
    ///
    /// # Errors
    ///
    /// What [`parse_duration`] or [`Time::check`] says.
    pub fn parse(&self, text: &str) -> Result<u64, Error> {
        self.check(parse_duration(text)?)
    }
}

//! `#[retry]`: defaults, limits and the jitter kinds.
//!
//! | parameter | default | limits |
//! |---|---|---|
//! | `max` | [`DEFAULT_MAX`] (3) | 0 (a single attempt: retries off) to `u32::MAX` |
//! | `base` | [`DEFAULT_BASE_NANOS`] (100 ms) | any duration, at most `max_delay` ([`check_base`]) |
//! | `max_delay` | [`DEFAULT_MAX_DELAY_NANOS`] (10 s) | any duration |
//! | `jitter` | [`DEFAULT_JITTER`] (`"full"`) | [`Jitter::ALL`] |

use crate::{Count, Error, Time, MILLISECOND, SECOND};

/// Retries after the first attempt. Zero is a single attempt, so an operator can switch
/// retries off.
pub const MAX: Count = Count {
    name: "max",
    min: 0,
    max: u32::MAX,
};
/// The default `max`.
pub const DEFAULT_MAX: u32 = 3;

/// The delay before the first retry, doubled for each one after it.
pub const BASE: Time = Time {
    name: "base",
    zero: None,
};
/// The default `base`: 100 ms.
pub const DEFAULT_BASE_NANOS: u64 = 100 * MILLISECOND;

/// The cap on any one delay.
pub const MAX_DELAY: Time = Time {
    name: "max_delay",
    zero: None,
};
/// The default `max_delay`: 10 s.
pub const DEFAULT_MAX_DELAY_NANOS: u64 = 10 * SECOND;

/// The default `jitter`.
pub const DEFAULT_JITTER: Jitter = Jitter::Full;

/// The rule between `base` and `max_delay`, in nanoseconds.
///
/// ```
/// use resilience_config::retry::check_base;
///
/// assert!(check_base(100, 1_000).is_ok());
/// assert!(check_base(2_000, 1_000).is_err());
/// ```
///
/// # Errors
///
/// [`Error::BaseAboveMaxDelay`]: every delay would be capped to `max_delay`.
pub fn check_base(base: u64, max_delay: u64) -> Result<(), Error> {
    if base > max_delay {
        Err(Error::BaseAboveMaxDelay)
    } else {
        Ok(())
    }
}

/// How each delay is randomised, by the names attributes and overrides use.
///
/// ```
/// use resilience_config::retry::Jitter;
///
/// assert_eq!(Jitter::from_name("equal"), Ok(Jitter::Equal));
/// assert_eq!(Jitter::Decorrelated.name(), "decorrelated");
/// assert!(Jitter::from_name("random").is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    /// `"none"`: the exponential delay exactly.
    None,
    /// `"full"`: uniform in `[0, d]`.
    Full,
    /// `"equal"`: `d / 2` plus uniform in `[0, d / 2]`.
    Equal,
    /// `"decorrelated"`: `min(max_delay, uniform in [base, 3 * previous])`.
    Decorrelated,
}

impl Jitter {
    /// Every kind, in the order messages list them.
    pub const ALL: [Jitter; 4] = [
        Jitter::None,
        Jitter::Full,
        Jitter::Equal,
        Jitter::Decorrelated,
    ];

    /// The name as written.
    pub const fn name(self) -> &'static str {
        match self {
            Jitter::None => "none",
            Jitter::Full => "full",
            Jitter::Equal => "equal",
            Jitter::Decorrelated => "decorrelated",
        }
    }

    /// The kind of that name (blanks around it allowed).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownJitter`], listing the kinds.
    pub fn from_name(text: &str) -> Result<Jitter, Error> {
        let name = text.trim();
        Jitter::ALL
            .into_iter()
            .find(|jitter| jitter.name() == name)
            .ok_or_else(|| Error::UnknownJitter {
                text: text.to_owned(),
            })
    }
}

//! `#[retry]`: defaults, limits and the jitter kinds.
//!
//! | parameter | default | limits |
//! |---|---|---|
//! | `max` | [`DEFAULT_MAX`] (3) | 0 (a single attempt: retries off) to `u32::MAX` |
//! | `base` | [`DEFAULT_BASE_NANOS`] (100 ms) | any duration, at most `max_delay` ([`check_base`]) |
//! | `max_delay` | [`DEFAULT_MAX_DELAY_NANOS`] (10 s) | any duration |
//! | `jitter` | [`DEFAULT_JITTER`] (`"full"`) | [`Jitter::ALL`] |
//! | `budget` | [`DEFAULT_BUDGET`] (0.2) | 0 to 1, or `"none"` ([`parse_budget`]) |
//! | `budget_min` | [`DEFAULT_BUDGET_MIN`] (10 a second) | 0 to 2^20 |
//! | `max_elapsed` | none | longer than zero |
//!
//! The budget's window is [`BUDGET_WINDOW_SECS`] (10 s), Finagle's `ttl`: not a parameter.

use crate::{Count, Error, Share, Time, MILLISECOND, SECOND};

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

/// The retry budget: the share of the calls served that retries may add.
pub const BUDGET: Share = Share { name: "budget" };
/// The default `budget`: retries may add 20 % to the calls (Finagle's `percentCanRetry`).
pub const DEFAULT_BUDGET: f64 = 0.2;
/// What `budget = "none"` is written as: no budget.
pub const NO_BUDGET: &str = "none";

/// The budget's reserve, in retries per second of the window, always there.
pub const BUDGET_MIN: Count = Count {
    name: "budget_min",
    min: 0,
    max: 1 << 20,
};
/// The default `budget_min` (Finagle's `minRetriesPerSec`).
pub const DEFAULT_BUDGET_MIN: u32 = 10;

/// The rolling window over which the budget counts calls and retries, in seconds.
pub const BUDGET_WINDOW_SECS: u32 = 10;

/// The total time budget of a call, from the start of its first attempt.
pub const MAX_ELAPSED: Time = Time {
    name: "max_elapsed",
    zero: Some("`max_elapsed` must be longer than zero: no retry could ever start"),
};

/// A `budget` as an override writes it: a share from 0 to 1, or `none` in any case (no
/// budget).
///
/// ```
/// use resilience_config::retry::parse_budget;
///
/// assert_eq!(parse_budget("0.1"), Ok(Some(0.1)));
/// assert_eq!(parse_budget(" none "), Ok(None));
/// assert!(parse_budget("1.5").is_err());
/// ```
///
/// # Errors
///
/// What [`Share::parse`] says.
pub fn parse_budget(text: &str) -> Result<Option<f64>, Error> {
    if text.trim().eq_ignore_ascii_case(NO_BUDGET) {
        Ok(None)
    } else {
        BUDGET.parse(text).map(Some)
    }
}

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

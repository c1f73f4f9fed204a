//! The overrides of `#[bulkhead]`, `#[retry]`, `#[rate_limit]` and `#[timeout]`: each a
//! parameter list, a check of a value alone, a setter, and the rules between parameters.

use std::time::Duration;

use resilience_config::{bulkhead, rate_limit, retry, timeout, Error};

use super::{duration, optional, unknown, Conflict, Overridable};
use crate::{BulkheadConfig, Jitter, RateLimitConfig, RetryConfig};

impl Overridable for BulkheadConfig {
    const ATTRIBUTE: &'static str = "bulkhead";
    const PARAMETERS: &'static [&'static str] = &["max", "max_wait", "queue"];

    fn check(parameter: &str, value: &str) -> Result<(), Error> {
        match parameter {
            "max" => bulkhead::MAX.parse(value).map(drop),
            "max_wait" => optional(value, |v| bulkhead::MAX_WAIT.parse(v)).map(drop),
            "queue" => optional(value, |v| bulkhead::QUEUE.parse(v)).map(drop),
            _ => Err(unknown::<Self>(parameter)),
        }
    }

    fn set(&mut self, parameter: &str, value: &str) -> Result<(), Error> {
        match parameter {
            "max" => self.max = bulkhead::MAX.parse(value)?,
            "max_wait" => self.max_wait = optional(value, |v| duration(bulkhead::MAX_WAIT, v))?,
            "queue" => self.queue = optional(value, |v| bulkhead::QUEUE.parse(v))?,
            _ => return Err(unknown::<Self>(parameter)),
        }
        Ok(())
    }

    fn validate(&self, _: &[&str]) -> Result<(), Conflict> {
        Ok(())
    }
}

impl Overridable for RetryConfig {
    const ATTRIBUTE: &'static str = "retry";
    const PARAMETERS: &'static [&'static str] = &[
        "max",
        "base",
        "max_delay",
        "jitter",
        "budget",
        "budget_min",
        "max_elapsed",
    ];

    fn check(parameter: &str, value: &str) -> Result<(), Error> {
        match parameter {
            "max" => retry::MAX.parse(value).map(drop),
            "base" => retry::BASE.parse(value).map(drop),
            "max_delay" => retry::MAX_DELAY.parse(value).map(drop),
            "jitter" => retry::Jitter::from_name(value).map(drop),
            "budget" => retry::parse_budget(value).map(drop),
            "budget_min" => retry::BUDGET_MIN.parse(value).map(drop),
            "max_elapsed" => optional(value, |v| retry::MAX_ELAPSED.parse(v)).map(drop),
            _ => Err(unknown::<Self>(parameter)),
        }
    }

    fn set(&mut self, parameter: &str, value: &str) -> Result<(), Error> {
        match parameter {
            "max" => self.max = retry::MAX.parse(value)?,
            "base" => self.base = duration(retry::BASE, value)?,
            "max_delay" => self.max_delay = duration(retry::MAX_DELAY, value)?,
            "jitter" => self.jitter = jitter(retry::Jitter::from_name(value)?),
            "budget" => self.budget = retry::parse_budget(value)?,
            "budget_min" => self.budget_min = retry::BUDGET_MIN.parse(value)?,
            "max_elapsed" => {
                self.max_elapsed = optional(value, |v| duration(retry::MAX_ELAPSED, v))?;
            }
            _ => return Err(unknown::<Self>(parameter)),
        }
        Ok(())
    }

    fn validate(&self, _: &[&str]) -> Result<(), Conflict> {
        retry::check_base(nanos(self.base), nanos(self.max_delay)).map_err(|error| Conflict {
            parameters: &["base", "max_delay"],
            error,
        })
    }
}

/// The runtime's jitter of a jitter name.
pub(super) fn jitter(kind: retry::Jitter) -> Jitter {
    match kind {
        retry::Jitter::None => Jitter::None,
        retry::Jitter::Full => Jitter::Full,
        retry::Jitter::Equal => Jitter::Equal,
        retry::Jitter::Decorrelated => Jitter::Decorrelated,
    }
}

/// Whole nanoseconds, saturating (a hand-built configuration may hold more than `u64`).
fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

impl Overridable for RateLimitConfig {
    const ATTRIBUTE: &'static str = "rate_limit";
    const PARAMETERS: &'static [&'static str] = &["rate", "per", "burst", "max_wait"];

    fn check(parameter: &str, value: &str) -> Result<(), Error> {
        match parameter {
            "rate" => rate_limit::RATE.parse(value).map(drop),
            "per" => rate_limit::PER.parse(value).map(drop),
            "burst" => optional(value, |v| rate_limit::BURST.parse(v)).map(drop),
            "max_wait" => optional(value, |v| rate_limit::MAX_WAIT.parse(v)).map(drop),
            _ => Err(unknown::<Self>(parameter)),
        }
    }

    fn set(&mut self, parameter: &str, value: &str) -> Result<(), Error> {
        match parameter {
            // A burst left to its default follows the rate.
            "rate" => self.rate = rate_limit::RATE.parse(value)?,
            "per" => self.per = duration(rate_limit::PER, value)?,
            "burst" => self.burst = optional(value, |v| rate_limit::BURST.parse(v))?,
            "max_wait" => self.max_wait = optional(value, |v| duration(rate_limit::MAX_WAIT, v))?,
            _ => return Err(unknown::<Self>(parameter)),
        }
        Ok(())
    }

    fn validate(&self, _: &[&str]) -> Result<(), Conflict> {
        Ok(())
    }
}

/// The one parameter of `#[timeout]`.
#[derive(Clone, Copy)]
pub(crate) struct TimeoutConfig(pub(crate) Duration);

impl Overridable for TimeoutConfig {
    const ATTRIBUTE: &'static str = "timeout";
    const PARAMETERS: &'static [&'static str] = &["limit"];

    fn check(parameter: &str, value: &str) -> Result<(), Error> {
        match parameter {
            "limit" => timeout::LIMIT.parse(value).map(drop),
            _ => Err(unknown::<Self>(parameter)),
        }
    }

    fn set(&mut self, parameter: &str, value: &str) -> Result<(), Error> {
        match parameter {
            "limit" => self.0 = duration(timeout::LIMIT, value)?,
            _ => return Err(unknown::<Self>(parameter)),
        }
        Ok(())
    }

    fn validate(&self, _: &[&str]) -> Result<(), Conflict> {
        Ok(())
    }
}

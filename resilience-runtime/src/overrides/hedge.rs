//! The overrides of `#[hedge]`: `delay` (a duration or a percentile), `max` and `budget`.

use resilience_config::{hedge, Error};

use super::{unknown, Conflict, Overridable};
use crate::{HedgeConfig, HedgeDelay};

impl Overridable for HedgeConfig {
    const ATTRIBUTE: &'static str = "hedge";
    const PARAMETERS: &'static [&'static str] = &["delay", "max", "budget"];

    fn check(parameter: &str, value: &str) -> Result<(), Error> {
        match parameter {
            "delay" => hedge::parse_delay(value).map(drop),
            "max" => hedge::MAX.parse(value).map(drop),
            "budget" => hedge::BUDGET.parse(value).map(drop),
            _ => Err(unknown::<Self>(parameter)),
        }
    }

    fn set(&mut self, parameter: &str, value: &str) -> Result<(), Error> {
        match parameter {
            "delay" => {
                self.delay = match hedge::parse_delay(value)? {
                    hedge::Delay::After(nanos) => {
                        HedgeDelay::After(std::time::Duration::from_nanos(nanos))
                    }
                    hedge::Delay::Percentile(permille) => HedgeDelay::Percentile(permille),
                }
            }
            "max" => self.max = hedge::MAX.parse(value)?,
            "budget" => self.budget = hedge::BUDGET.parse(value)?,
            _ => return Err(unknown::<Self>(parameter)),
        }
        Ok(())
    }

    fn validate(&self, _: &[&str]) -> Result<(), Conflict> {
        Ok(())
    }
}

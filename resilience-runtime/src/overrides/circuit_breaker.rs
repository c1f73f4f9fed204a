//! `#[circuit_breaker]`'s overrides: its parameters, and the switches between trip policies
//! they may make.

use std::time::Duration;

use resilience_config::{breaker, Error};

use super::{duration, unknown, Conflict, Overridable};
use crate::{BreakerConfig, TripPolicy};

impl Overridable for BreakerConfig {
    const ATTRIBUTE: &'static str = "circuit_breaker";
    // The trip policy first, `threshold` or `failure_rate` before the window it sizes.
    const PARAMETERS: &'static [&'static str] = &[
        "threshold",
        "failure_rate",
        "window",
        "buckets",
        "min_calls",
        "slow_call",
        "slow_call_rate",
        "timeout",
        "timeout_max",
        "half_open",
    ];

    fn check(parameter: &str, value: &str) -> Result<(), Error> {
        match parameter {
            "threshold" => breaker::THRESHOLD.parse(value).map(drop),
            "failure_rate" => breaker::FAILURE_RATE.parse(value).map(drop),
            "window" => breaker::parse_window(value).map(drop),
            "buckets" => breaker::BUCKETS.parse(value).map(drop),
            "min_calls" => breaker::MIN_CALLS.parse(value).map(drop),
            "slow_call" => breaker::SLOW_CALL.parse(value).map(drop),
            "slow_call_rate" => breaker::SLOW_CALL_RATE.parse(value).map(drop),
            "timeout" => breaker::TIMEOUT.parse(value).map(drop),
            "timeout_max" => breaker::TIMEOUT_MAX.parse(value).map(drop),
            "half_open" => breaker::HALF_OPEN.parse(value).map(drop),
            _ => Err(unknown::<Self>(parameter)),
        }
    }

    fn set(&mut self, parameter: &str, value: &str) -> Result<(), Error> {
        let needs_rate = |parameter| Error::NeedsFailureRate { parameter };
        self.policy = match (parameter, self.policy) {
            ("threshold", _) => TripPolicy::Consecutive {
                threshold: breaker::THRESHOLD.parse(value)?,
            },
            (
                "failure_rate",
                TripPolicy::FailureRate {
                    window, min_calls, ..
                },
            ) => TripPolicy::FailureRate {
                failure_rate: breaker::FAILURE_RATE.parse(value)?,
                window,
                min_calls,
            },
            ("failure_rate", TripPolicy::Consecutive { .. }) => TripPolicy::FailureRate {
                failure_rate: breaker::FAILURE_RATE.parse(value)?,
                window: breaker::DEFAULT_WINDOW,
                min_calls: breaker::default_min_calls(breaker::DEFAULT_WINDOW),
            },
            (
                "failure_rate" | "window" | "buckets" | "min_calls",
                TripPolicy::TimeWindow {
                    failure_rate,
                    window,
                    buckets,
                    min_calls,
                },
            ) => time_window(parameter, value, failure_rate, window, buckets, min_calls)?,
            ("buckets", _) => return Err(Error::NeedsTimeWindow),
            (
                "window",
                TripPolicy::FailureRate {
                    failure_rate,
                    window: old,
                    min_calls,
                },
            ) => {
                let breaker::Window::Calls(window) = breaker::parse_window(value)? else {
                    return Err(Error::WindowKind { time: false });
                };
                // A `min_calls` equal to the window is the default `min_calls = window`.
                let follows = min_calls == breaker::default_min_calls(old);
                TripPolicy::FailureRate {
                    failure_rate,
                    window,
                    min_calls: if follows {
                        breaker::default_min_calls(window)
                    } else {
                        min_calls
                    },
                }
            }
            (
                "min_calls",
                TripPolicy::FailureRate {
                    failure_rate,
                    window,
                    ..
                },
            ) => TripPolicy::FailureRate {
                failure_rate,
                window,
                min_calls: breaker::MIN_CALLS.parse(value)?,
            },
            ("window", TripPolicy::Consecutive { .. }) => return Err(needs_rate("window")),
            ("min_calls", TripPolicy::Consecutive { .. }) => return Err(needs_rate("min_calls")),
            ("slow_call", policy) => {
                *self = self.with_slow_call(duration(breaker::SLOW_CALL, value)?);
                policy
            }
            (
                "slow_call_rate",
                policy @ (TripPolicy::FailureRate { .. } | TripPolicy::TimeWindow { .. }),
            ) => {
                self.slow_call_rate = breaker::SLOW_CALL_RATE.parse(value)?;
                policy
            }
            ("slow_call_rate", TripPolicy::Consecutive { .. }) => {
                return Err(needs_rate("slow_call_rate"))
            }
            ("timeout", policy) => {
                *self = self.with_open_for(duration(breaker::TIMEOUT, value)?);
                policy
            }
            ("timeout_max", policy) => {
                *self = self.with_open_for_max(duration(breaker::TIMEOUT_MAX, value)?);
                policy
            }
            ("half_open", policy) => {
                self.half_open = breaker::HALF_OPEN.parse(value)?;
                policy
            }
            _ => return Err(unknown::<Self>(parameter)),
        };
        Ok(())
    }

    fn validate(&self, overridden: &[&str]) -> Result<(), Conflict> {
        if overridden.contains(&"threshold") && overridden.contains(&"failure_rate") {
            return Err(Conflict {
                parameters: &["threshold", "failure_rate"],
                error: Error::ThresholdWithFailureRate,
            });
        }
        if let TripPolicy::FailureRate {
            window, min_calls, ..
        } = self.policy
        {
            breaker::check_min_calls(min_calls, window).map_err(|error| Conflict {
                parameters: &["window", "min_calls"],
                error,
            })?;
        }
        if let TripPolicy::TimeWindow {
            window, buckets, ..
        } = self.policy
        {
            let window = u64::try_from(window.as_nanos()).unwrap_or(u64::MAX);
            breaker::check_buckets(window, buckets).map_err(|error| Conflict {
                parameters: &["window", "buckets"],
                error,
            })?;
        }
        // The compiled configuration cannot break this rule (the macro refuses it), so an
        // overridden rate is the one to refuse.
        if overridden.contains(&"slow_call_rate") && self.slow_call_ns == 0 {
            return Err(Conflict {
                parameters: &["slow_call_rate"],
                error: Error::NeedsSlowCall,
            });
        }
        // Unset (0), the cap is `timeout` itself: nothing to check.
        if self.open_for_max_ns != 0 {
            breaker::check_timeout_max(self.open_for_max_ns, self.open_for_ns).map_err(
                |error| Conflict {
                    parameters: &["timeout", "timeout_max"],
                    error,
                },
            )?;
        }
        Ok(())
    }
}

/// A time-window breaker's policy with `parameter` (one of its own) set to `value`.
fn time_window(
    parameter: &str,
    value: &str,
    failure_rate: f64,
    window: Duration,
    buckets: u32,
    min_calls: u32,
) -> Result<TripPolicy, Error> {
    let mut policy = (failure_rate, window, buckets, min_calls);
    match parameter {
        "failure_rate" => policy.0 = breaker::FAILURE_RATE.parse(value)?,
        "window" => match breaker::parse_window(value)? {
            breaker::Window::Time(window) => policy.1 = Duration::from_nanos(window),
            breaker::Window::Calls(_) => return Err(Error::WindowKind { time: true }),
        },
        "buckets" => policy.2 = breaker::BUCKETS.parse(value)?,
        _ => policy.3 = breaker::MIN_CALLS.parse(value)?,
    }
    let (failure_rate, window, buckets, min_calls) = policy;
    Ok(TripPolicy::TimeWindow {
        failure_rate,
        window,
        buckets,
        min_calls,
    })
}

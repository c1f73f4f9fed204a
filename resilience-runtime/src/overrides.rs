//! Configuration overrides without recompiling: environment variables and [`configure`].
//!
//! The attributes' parameters are compiled in. Operators can still change them for one
//! instance, read **once, when that instance serves its first call**:
//!
//! 1. a table loaded with [`configure`] (say, from the TOML file the application already
//!    reads), keyed MicroProfile-style as `<name>/<attribute>/<parameter>`:
//!    `payment/circuit_breaker/threshold`;
//! 2. otherwise an environment variable, the same key spelled for a shell:
//!    `RESILIENCE_<NAME>_<ATTRIBUTE>_<PARAMETER>`, upper case, with every run of characters
//!    other than letters and digits turned into one `_`:
//!    `RESILIENCE_PAYMENT_CIRCUIT_BREAKER_THRESHOLD=5`. An instance without an explicit
//!    `name` is named after its function, so `my_app::client::Client::charge` reads
//!    `RESILIENCE_MY_APP_CLIENT_CLIENT_CHARGE_RETRY_MAX`.
//!
//! The parameters and their limits are documented once, for users, in the facade's `monitor`
//! module (`src/monitor.rs`); the limits themselves are `resilience_config`'s.
//!
//! Values are written as in the attributes (without the quotes): whole numbers, rates like
//! `0.5`, durations like `250ms`, `10s`, `1.5s`, `2m`, `1h` in whole nanoseconds (`0.5ns` is
//! refused, not rounded to zero). The limits and the grammar are `resilience_config`'s, the
//! definitions the attributes are checked against when they compile, so an override can set
//! exactly what an attribute could have.
//!
//! # Refused overrides
//!
//! An override that is not applied leaves the compiled-in value, and nothing here panics.
//!
//! - **Each value alone** — a known parameter, a value that parses, within its limits — is
//!   checked by [`configure`] up front (a refused entry is returned as a [`ConfigError`] and
//!   not stored), and for environment variables at the instance's first call.
//! - **Rules between parameters** (`min_calls` at most `window`, `base` at most `max_delay`,
//!   not both `threshold` and `failure_rate`, `window` only with a failure rate,
//!   `slow_call_rate` only with `slow_call`, a time window's buckets at least 1 ms) depend on the
//!   compiled configuration, so they are checked at the instance's first call, on the
//!   compiled configuration with all its overrides applied. An override that breaks such a
//!   rule is refused together with the instance's other overrides of that rule's parameters;
//!   its other overrides still apply.
//!
//! Refusals at first call are kept in [`override_errors`] (and logged with the `tracing`
//! feature).
//!
//! # Locks
//!
//! The table and the list of refusals are each behind a mutex held only to copy data in or
//! out. Refusals are reported — logged, which runs the application's `tracing` subscriber —
//! once the instance is resolved and no lock of this crate is held, so a subscriber may call
//! annotated functions, even the one whose first call it is told about.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use resilience_config::{breaker, bulkhead, rate_limit, retry, timeout, Error};

use crate::{BreakerConfig, BulkheadConfig, Jitter, RateLimitConfig, RetryConfig, TripPolicy};

/// An override that could not be applied; the compiled-in value stays.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigError {
    /// The key as given: `payment/circuit_breaker/threshold`, or the environment variable.
    pub key: String,
    /// The value as given.
    pub value: String,
    /// Why it was refused.
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ignored `{}={}`: {}", self.key, self.value, self.reason)
    }
}

impl std::error::Error for ConfigError {}

/// `(name, attribute, parameter) → value`, from [`configure`].
type Table = HashMap<(String, String, String), String>;

static TABLE: Mutex<Option<Table>> = Mutex::new(None);
static ERRORS: Mutex<Vec<ConfigError>> = Mutex::new(Vec::new());

/// Loads overrides keyed `<name>/<attribute>/<parameter>`, for instances that have not served
/// a call yet (an instance reads its overrides once, at its first call).
///
/// Every entry is checked alone now: an unknown attribute or parameter, or a value that does
/// not parse or is out of its limits, is returned as an error and not stored; the valid
/// entries are stored either way. Rules between parameters are checked when the instance
/// applies them, against its compiled configuration (module docs).
///
/// ```
/// use resilience_runtime::configure;
///
/// let problems = configure([
///     ("payment/circuit_breaker/threshold", "5"),
///     ("payment/circuit_breaker/timeout", "30s"),
///     ("db/bulkhead/max", "lots"),
///     ("db/bulkhead/queue", "-1"),
/// ])
/// .unwrap_err();
/// assert_eq!(problems.len(), 2);
/// assert_eq!(problems[0].key, "db/bulkhead/max");
/// ```
///
/// # Errors
///
/// One [`ConfigError`] per entry that was not stored.
pub fn configure<I, K, V>(entries: I) -> Result<(), Vec<ConfigError>>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut errors = Vec::new();
    let mut accepted = Vec::new();
    for (key, value) in entries {
        let (key, value) = (key.as_ref(), value.as_ref());
        let refuse = |reason: String| ConfigError {
            key: key.to_owned(),
            value: value.to_owned(),
            reason,
        };
        let mut parts = key.rsplitn(3, '/');
        let (Some(param), Some(kind), Some(name)) = (parts.next(), parts.next(), parts.next())
        else {
            errors.push(refuse(
                "expected `<name>/<attribute>/<parameter>`, like `payment/circuit_breaker/threshold`"
                    .into(),
            ));
            continue;
        };
        if let Err(reason) = resilience_config::check_name(name)
            .map_err(|e| e.to_string())
            .and_then(|()| check(kind, param, value))
        {
            errors.push(refuse(reason));
            continue;
        }
        accepted.push((
            (name.to_owned(), kind.to_owned(), param.to_owned()),
            value.to_owned(),
        ));
    }
    lock(&TABLE)
        .get_or_insert_with(HashMap::new)
        .extend(accepted);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Overrides from environment variables and [`configure`] that could not be applied at an
/// instance's first call, in the order instances met them. Their compiled-in values stayed.
///
/// ```
/// assert!(resilience_runtime::override_errors().is_empty());
/// ```
pub fn override_errors() -> Vec<ConfigError> {
    lock(&ERRORS).clone()
}

/// The environment variable for one parameter of one instance.
///
/// ```
/// use resilience_runtime::env_key;
///
/// assert_eq!(env_key("payment", "circuit_breaker", "threshold"), "RESILIENCE_PAYMENT_CIRCUIT_BREAKER_THRESHOLD");
/// assert_eq!(env_key("app::Client::charge", "retry", "max"), "RESILIENCE_APP_CLIENT_CHARGE_RETRY_MAX");
/// ```
pub fn env_key(name: &str, attribute: &str, parameter: &str) -> String {
    let mut key = String::from("RESILIENCE");
    for part in [name, attribute, parameter] {
        let mut gap = true;
        for c in part.chars() {
            if c.is_ascii_alphanumeric() {
                if gap {
                    key.push('_');
                    gap = false;
                }
                key.push(c.to_ascii_uppercase());
            } else {
                gap = true;
            }
        }
    }
    key
}

/// A configuration that can be overridden, parameter by parameter.
pub(crate) trait Overridable: Copy {
    /// The attribute's name in keys.
    const ATTRIBUTE: &'static str;
    /// Its parameters, in the order they are applied.
    const PARAMETERS: &'static [&'static str];
    /// Checks one value alone: a known parameter, a value that parses, within its limits.
    fn check(parameter: &str, value: &str) -> Result<(), Error>;
    /// Sets one parameter: the checks of [`Overridable::check`], and whether the parameter
    /// applies to this configuration (`window` needs a failure-rate breaker).
    fn set(&mut self, parameter: &str, value: &str) -> Result<(), Error>;
    /// Checks the rules between parameters, given the overridden ones.
    fn validate(&self, overridden: &[&str]) -> Result<(), Conflict>;
}

/// A broken rule between parameters: the overrides of `parameters` are refused for `error`.
pub(crate) struct Conflict {
    parameters: &'static [&'static str],
    error: Error,
}

/// One override found for an instance.
struct Found {
    parameter: &'static str,
    key: String,
    value: String,
}

impl Found {
    fn refuse(self, reason: &Error) -> ConfigError {
        ConfigError {
            key: self.key,
            value: self.value,
            reason: reason.to_string(),
        }
    }
}

/// The configuration `compiled` with the overrides for `name` applied (`None` if none
/// applied), and the overrides that were refused, to be [`report`]ed by the caller once it
/// holds no lock.
pub(crate) fn apply<C: Overridable>(name: &str, compiled: &C) -> (Option<C>, Vec<ConfigError>) {
    let mut candidates = find::<C>(name);
    let mut refused = Vec::new();
    // Each round applies the candidates to the compiled configuration; a broken rule refuses
    // the candidates of its parameters and the next round goes without them. Every round but
    // the last removes at least one candidate, so this ends.
    loop {
        let mut config = *compiled;
        let mut applied = Vec::with_capacity(candidates.len());
        for found in candidates {
            match config.set(found.parameter, &found.value) {
                Ok(()) => applied.push(found),
                Err(error) => refused.push(found.refuse(&error)),
            }
        }
        let overridden: Vec<&'static str> = applied.iter().map(|found| found.parameter).collect();
        let Err(conflict) = config.validate(&overridden) else {
            return ((!applied.is_empty()).then_some(config), refused);
        };
        let (involved, rest): (Vec<_>, Vec<_>) = applied
            .into_iter()
            .partition(|found| conflict.parameters.contains(&found.parameter));
        if involved.is_empty() {
            // The compiled configuration breaks the rule by itself: not an override's doing,
            // so the overrides stand.
            return ((!rest.is_empty()).then_some(config), refused);
        }
        refused.extend(involved.into_iter().map(|f| f.refuse(&conflict.error)));
        candidates = rest;
    }
}

/// The overrides for one instance, from the table or else the environment, in the order of
/// `C::PARAMETERS`. The table's lock is held only to copy the values out.
fn find<C: Overridable>(name: &str) -> Vec<Found> {
    let from_table: Vec<Option<String>> = {
        let table = lock(&TABLE);
        C::PARAMETERS
            .iter()
            .map(|parameter| {
                table.as_ref().and_then(|table| {
                    table
                        .get(&(
                            name.to_owned(),
                            C::ATTRIBUTE.to_owned(),
                            (*parameter).to_owned(),
                        ))
                        .cloned()
                })
            })
            .collect()
    };
    C::PARAMETERS
        .iter()
        .zip(from_table)
        .filter_map(|(&parameter, value)| {
            let (key, value) = match value {
                Some(value) => (format!("{name}/{}/{parameter}", C::ATTRIBUTE), value),
                None => {
                    let key = env_key(name, C::ATTRIBUTE, parameter);
                    let value = std::env::var(&key).ok()?;
                    (key, value)
                }
            };
            Some(Found {
                parameter,
                key,
                value,
            })
        })
        .collect()
}

/// Records refused overrides in [`override_errors`], then logs them. Call it holding no lock:
/// a `tracing` subscriber may call annotated functions.
pub(crate) fn report(refused: &[ConfigError]) {
    if refused.is_empty() {
        return;
    }
    lock(&ERRORS).extend_from_slice(refused);
    #[cfg(feature = "tracing")]
    for error in refused {
        tracing::warn!(
            target: "resilience",
            key = %error.key,
            value = %error.value,
            reason = %error.reason,
            "resilience override ignored; the compiled-in value stays"
        );
    }
}

/// Whether `attribute`/`parameter` exists and `value` alone is valid for it.
fn check(attribute: &str, parameter: &str, value: &str) -> Result<(), String> {
    match attribute {
        "circuit_breaker" => checked::<BreakerConfig>(parameter, value),
        "bulkhead" => checked::<BulkheadConfig>(parameter, value),
        "retry" => checked::<RetryConfig>(parameter, value),
        "timeout" => checked::<TimeoutConfig>(parameter, value),
        "rate_limit" => checked::<RateLimitConfig>(parameter, value),
        other => Err(format!(
            "unknown attribute `{other}`; expected circuit_breaker, bulkhead, retry, timeout or rate_limit"
        )),
    }
}

fn checked<C: Overridable>(parameter: &str, value: &str) -> Result<(), String> {
    C::check(parameter, value).map_err(|e| e.to_string())
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere while holding the lock leaves plain data behind: keep using it.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn duration(limits: resilience_config::Time, value: &str) -> Result<Duration, Error> {
    limits.parse(value).map(Duration::from_nanos)
}

/// `none` (any case), or a value.
fn optional<T>(
    value: &str,
    parse: impl FnOnce(&str) -> Result<T, Error>,
) -> Result<Option<T>, Error> {
    if value.trim().eq_ignore_ascii_case("none") {
        Ok(None)
    } else {
        parse(value).map(Some)
    }
}

/// A parameter the configuration `C` does not have.
fn unknown<C: Overridable>(parameter: &str) -> Error {
    Error::UnknownParameter {
        attribute: C::ATTRIBUTE,
        parameter: parameter.to_owned(),
        expected: C::PARAMETERS,
    }
}

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
fn jitter(kind: retry::Jitter) -> Jitter {
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

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::InstanceName;

    fn rate_breaker(window: u32, min_calls: u32) -> BreakerConfig {
        BreakerConfig {
            policy: TripPolicy::FailureRate {
                failure_rate: 0.5,
                window,
                min_calls,
            },
            ..BreakerConfig::new(InstanceName::given("test"))
        }
    }

    /// Loads `entries` for `name` and applies them to `compiled`.
    fn overridden<C: Overridable>(
        name: &str,
        compiled: &C,
        entries: &[(&str, &str)],
    ) -> (C, Vec<ConfigError>) {
        configure(
            entries
                .iter()
                .map(|(parameter, value)| (format!("{name}/{}/{parameter}", C::ATTRIBUTE), *value)),
        )
        .unwrap();
        let (config, refused) = apply(name, compiled);
        (config.unwrap_or(*compiled), refused)
    }

    #[test]
    fn the_runtime_defaults_are_the_shared_ones() {
        let name = InstanceName::given("defaults");
        let breaker = BreakerConfig::new(name);
        assert_eq!(
            breaker.policy,
            TripPolicy::Consecutive {
                threshold: breaker::DEFAULT_THRESHOLD
            }
        );
        assert_eq!(
            breaker.open_for(),
            Duration::from_nanos(breaker::DEFAULT_TIMEOUT_NANOS)
        );
        assert_eq!(breaker.half_open, breaker::DEFAULT_HALF_OPEN);
        let retry = RetryConfig::new(name);
        assert_eq!(retry.max, retry::DEFAULT_MAX);
        assert_eq!(retry.base, Duration::from_nanos(retry::DEFAULT_BASE_NANOS));
        assert_eq!(
            retry.max_delay,
            Duration::from_nanos(retry::DEFAULT_MAX_DELAY_NANOS)
        );
        assert_eq!(retry.jitter, jitter(retry::DEFAULT_JITTER));
        let bulkhead = BulkheadConfig::new(name, 4);
        assert_eq!(
            bulkhead.max_wait,
            bulkhead::DEFAULT_MAX_WAIT_NANOS.map(Duration::from_nanos)
        );
        assert_eq!(bulkhead.queue, bulkhead::DEFAULT_QUEUE);
    }

    #[test]
    fn values_are_checked_alone_up_front() {
        let errors = configure([
            ("alone/circuit_breaker/window", "20"),
            ("alone/circuit_breaker/window", "4000000000"),
            ("alone/circuit_breaker/half_open", "4097"),
            ("alone/bulkhead/max", "2147483648"),
            ("alone/bulkhead/max_wait", "0.5ns"),
            ("alone/retry/max", "0"),
            ("alone/retry/jitter", "random"),
            ("alone/timeout/limit", "0s"),
            ("/circuit_breaker/threshold", "5"),
        ])
        .unwrap_err();
        let reasons: Vec<_> = errors.iter().map(|e| e.reason.as_str()).collect();
        assert_eq!(
            reasons,
            [
                "`window` must be at most 16777216",
                "`half_open` must be at most 4096",
                "`max` must be at most 2147483647",
                "`0.5ns` is finer than a nanosecond; durations are whole nanoseconds",
                r#"unknown jitter `random`; expected one of: "none", "full", "equal", "decorrelated""#,
                "the time limit must be longer than zero: every call would time out",
                "`name` must not be empty: it names the instance in errors, monitoring and overrides",
            ]
        );
    }

    #[test]
    fn an_unknown_parameter_lists_the_known_ones() {
        let errors = configure([("unknown/retry/tries", "2")]).unwrap_err();
        assert_eq!(
            errors[0].reason,
            "unknown parameter `tries` for retry; expected one of: max, base, max_delay, jitter, budget, budget_min, max_elapsed"
        );
    }

    #[test]
    fn timeout_max_obeys_the_attributes_rule_against_timeout() {
        let compiled = BreakerConfig::new(InstanceName::given("backoff"));
        let (config, refused) = overridden("backoff", &compiled, &[("timeout_max", "5m")]);
        assert!(refused.is_empty(), "{refused:?}");
        assert_eq!(config.open_for_max(), Duration::from_secs(300));

        let (config, refused) = overridden("backoff-below", &compiled, &[("timeout_max", "5s")]);
        assert_eq!(config, compiled, "refused: below the compiled 10 s timeout");
        assert_eq!(refused.len(), 1);
        assert_eq!(
            refused[0].reason,
            Error::TimeoutMaxBelowTimeout.to_string(),
            "the attribute's message"
        );

        // Raising `timeout` past a compiled cap refuses the override, not the compiled value.
        let capped = compiled.with_open_for_max(Duration::from_secs(60));
        let (config, refused) = overridden("backoff-raised", &capped, &[("timeout", "2m")]);
        assert_eq!(config, capped);
        assert_eq!(refused[0].key, "backoff-raised/circuit_breaker/timeout");
        assert!(configure([("x/circuit_breaker/timeout_max", "0s")]).is_err());
    }

    #[test]
    fn a_window_follows_a_failure_rate_breaker_and_its_default_min_calls() {
        let (config, refused) = overridden("follows", &rate_breaker(100, 100), &[("window", "20")]);
        assert!(refused.is_empty(), "{refused:?}");
        assert_eq!(config.policy, rate_breaker(20, 20).policy);
    }

    #[test]
    fn a_window_below_an_explicit_min_calls_is_refused_at_first_call() {
        let (config, refused) = overridden(
            "below-min-calls",
            &rate_breaker(100, 50),
            &[("window", "20"), ("timeout", "30s")],
        );
        assert_eq!(
            config.policy,
            rate_breaker(100, 50).policy,
            "compiled window"
        );
        assert_eq!(
            config.open_for(),
            Duration::from_secs(30),
            "the timeout still applies"
        );
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert_eq!(refused[0].key, "below-min-calls/circuit_breaker/window");
        assert_eq!(
            refused[0].reason,
            "`min_calls` cannot exceed `window` (20): the window never holds more calls"
        );
    }

    #[test]
    fn a_window_needs_a_failure_rate() {
        let compiled = BreakerConfig::new(InstanceName::given("consecutive"));
        let (config, refused) = overridden("consecutive", &compiled, &[("window", "20")]);
        assert_eq!(config.policy, compiled.policy);
        assert_eq!(
            refused[0].reason,
            "`window` applies to a failure-rate breaker; set `failure_rate` too"
        );
        let (config, refused) = overridden(
            "switched",
            &compiled,
            &[("failure_rate", "0.25"), ("window", "20")],
        );
        assert!(refused.is_empty(), "{refused:?}");
        assert_eq!(
            config.policy,
            TripPolicy::FailureRate {
                failure_rate: 0.25,
                window: 20,
                min_calls: 20
            }
        );
    }

    #[test]
    fn threshold_and_failure_rate_together_are_both_refused() {
        let compiled = BreakerConfig::new(InstanceName::given("both"));
        let (config, refused) = overridden(
            "both",
            &compiled,
            &[
                ("threshold", "5"),
                ("failure_rate", "0.5"),
                ("half_open", "2"),
            ],
        );
        assert_eq!(config.policy, compiled.policy);
        assert_eq!(config.half_open, 2);
        let keys: Vec<_> = refused.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "both/circuit_breaker/threshold",
                "both/circuit_breaker/failure_rate"
            ]
        );
    }

    #[test]
    fn rules_between_parameters_do_not_depend_on_the_order_of_application() {
        let compiled = RetryConfig::new(InstanceName::given("order"));
        let (config, refused) = overridden(
            "order",
            &compiled,
            &[("base", "20s"), ("max_delay", "30s"), ("max", "0")],
        );
        assert!(refused.is_empty(), "{refused:?}");
        assert_eq!(
            (config.base, config.max_delay, config.max),
            (Duration::from_secs(20), Duration::from_secs(30), 0)
        );
        let (config, refused) = overridden("order-bad", &compiled, &[("base", "20s")]);
        assert_eq!(config.base, compiled.base);
        assert_eq!(
            refused[0].reason,
            "`base` is longer than `max_delay`: every delay would be capped to `max_delay`"
        );
    }

    #[test]
    fn rate_limit_overrides_use_the_attributes_limits() {
        let errors = configure([
            ("limits-rate/rate_limit/rate", "0"),
            ("limits-rate/rate_limit/burst", "0"),
            ("limits-rate/rate_limit/per", "0s"),
            ("limits-rate/rate_limit/max_wait", "soon"),
            ("limits-rate/rate_limit/window", "2"),
        ])
        .unwrap_err();
        let reasons: Vec<_> = errors.iter().map(|e| e.reason.as_str()).collect();
        assert_eq!(
            reasons,
            [
                "`rate` must be at least 1",
                "`burst` must be at least 1",
                "`per` must be longer than zero: a rate per no time at all is no limit",
                "cannot parse `soon` as a duration; write a number and a unit, like 250ms, 10s, 1.5s, 2m or 1h (units: ns, us, ms, s, m, h)",
                "unknown parameter `window` for rate_limit; expected one of: rate, per, burst, max_wait",
            ]
        );
    }

    #[test]
    fn a_default_burst_follows_an_overridden_rate() {
        let compiled = RateLimitConfig::new(InstanceName::given("follows-rate"), 10);
        let (config, refused) = overridden(
            "follows-rate",
            &compiled,
            &[("rate", "50"), ("per", "1m"), ("max_wait", "0s")],
        );
        assert!(refused.is_empty(), "{refused:?}");
        assert_eq!(
            (
                config.rate(),
                config.burst(),
                config.per(),
                config.max_wait()
            ),
            (50, 50, Duration::from_secs(60), Some(Duration::ZERO))
        );
        let explicit = compiled.with_burst(2).with_max_wait(Duration::from_secs(1));
        let (config, refused) = overridden(
            "explicit-burst",
            &explicit,
            &[("rate", "50"), ("max_wait", "none")],
        );
        assert!(refused.is_empty(), "{refused:?}");
        assert_eq!((config.burst(), config.max_wait()), (2, None));
    }

    #[test]
    fn bulkhead_none_means_unbounded() {
        let compiled = BulkheadConfig {
            max_wait: Some(Duration::from_millis(50)),
            queue: Some(10),
            ..BulkheadConfig::new(InstanceName::given("none"), 2)
        };
        let (config, refused) = overridden(
            "none",
            &compiled,
            &[("max_wait", "none"), ("queue", "NONE"), ("max", "3")],
        );
        assert!(refused.is_empty(), "{refused:?}");
        assert_eq!((config.max, config.max_wait, config.queue), (3, None, None));
    }
}

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
//! | attribute | parameters |
//! |---|---|
//! | `circuit_breaker` | `threshold`, `timeout`, `half_open`, `failure_rate`, `window`, `min_calls` |
//! | `bulkhead` | `max`, `max_wait` (`"none"` waits forever), `queue` (`"none"` is unbounded) |
//! | `retry` | `max`, `base`, `max_delay`, `jitter` |
//! | `timeout` | `limit` |
//!
//! Values are written as in the attributes: whole numbers, rates like `0.5`, durations like
//! `250ms`, `10s`, `1.5s`, `2m`, `1h`. Setting `threshold` on a failure-rate breaker (or the
//! reverse) switches its policy. An override that does not parse or is out of range is never
//! applied: [`configure`] returns it as a [`ConfigError`] at once; an environment variable's
//! is kept in [`override_errors`] (and logged with the `tracing` feature), and the compiled-in
//! value stays. Nothing here panics.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::{BreakerConfig, BulkheadConfig, Jitter, RetryConfig, TripPolicy};

/// An override that could not be applied; the compiled-in value stays.
#[derive(Debug, Clone, PartialEq, Eq)]
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
/// Every entry is checked now: an unknown attribute or parameter, or a value that does not
/// parse, is returned as an error and not stored; the valid entries are stored either way.
///
/// ```
/// use resilience_runtime::configure;
///
/// let problems = configure([
///     ("payment/circuit_breaker/threshold", "5"),
///     ("payment/circuit_breaker/timeout", "30s"),
///     ("db/bulkhead/max", "lots"),
/// ])
/// .unwrap_err();
/// assert_eq!(problems.len(), 1);
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
        if let Err(reason) = check(kind, param, value) {
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

/// Overrides from environment variables that could not be applied, in the order instances
/// met them. Their compiled-in values stayed.
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
    /// Sets one parameter, or says why not.
    fn set(&mut self, parameter: &str, value: &str) -> Result<(), String>;
    /// Checks the whole configuration after every override was applied.
    fn validate(&self) -> Result<(), String>;
}

/// The configuration `compiled` with the overrides for `name` applied: `None` if there are
/// none. Refused overrides are recorded in [`override_errors`].
pub(crate) fn apply<C: Overridable>(name: &str, compiled: &C) -> Option<C> {
    let table = lock(&TABLE);
    let mut config = *compiled;
    let mut changed = false;
    for parameter in C::PARAMETERS {
        let from_table = table.as_ref().and_then(|table| {
            table
                .get(&(
                    name.to_owned(),
                    C::ATTRIBUTE.to_owned(),
                    (*parameter).to_owned(),
                ))
                .map(|value| {
                    (
                        format!("{name}/{}/{parameter}", C::ATTRIBUTE),
                        value.clone(),
                    )
                })
        });
        let found = from_table.or_else(|| {
            let key = env_key(name, C::ATTRIBUTE, parameter);
            std::env::var(&key).ok().map(|value| (key, value))
        });
        let Some((key, value)) = found else { continue };
        let mut candidate = config;
        match candidate
            .set(parameter, value.trim())
            .and_then(|()| candidate.validate())
        {
            Ok(()) => {
                config = candidate;
                changed = true;
            }
            Err(reason) => report(ConfigError { key, value, reason }),
        }
    }
    changed.then_some(config)
}

fn report(error: ConfigError) {
    #[cfg(feature = "tracing")]
    tracing::warn!(
        target: "resilience",
        key = %error.key,
        value = %error.value,
        reason = %error.reason,
        "resilience override ignored; the compiled-in value stays"
    );
    lock(&ERRORS).push(error);
}

/// Whether `attribute`/`parameter` exists and `value` parses for it.
fn check(attribute: &str, parameter: &str, value: &str) -> Result<(), String> {
    let name = crate::InstanceName::given("check");
    match attribute {
        "circuit_breaker" => known::<BreakerConfig>(parameter)
            .and_then(|()| BreakerConfig::new(name).set(parameter, value)),
        "bulkhead" => known::<BulkheadConfig>(parameter)
            .and_then(|()| BulkheadConfig::new(name, 1).set(parameter, value)),
        "retry" => known::<RetryConfig>(parameter)
            .and_then(|()| RetryConfig::new(name).set(parameter, value)),
        "timeout" => known::<TimeoutConfig>(parameter)
            .and_then(|()| TimeoutConfig(Duration::from_secs(1)).set(parameter, value)),
        other => Err(format!(
            "unknown attribute `{other}`; expected circuit_breaker, bulkhead, retry or timeout"
        )),
    }
}

fn known<C: Overridable>(parameter: &str) -> Result<(), String> {
    if C::PARAMETERS.contains(&parameter) {
        Ok(())
    } else {
        Err(format!(
            "unknown parameter `{parameter}` for {}; expected one of: {}",
            C::ATTRIBUTE,
            C::PARAMETERS.join(", ")
        ))
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere while holding the lock leaves plain data behind: keep using it.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn count(value: &str) -> Result<u32, String> {
    value
        .parse()
        .map_err(|_| format!("expected a whole number, not `{value}`"))
}

fn at_least_one(value: &str) -> Result<u32, String> {
    match count(value)? {
        0 => Err("must be at least 1".into()),
        n => Ok(n),
    }
}

/// `"250ms"`, `"10s"`, `"1.5s"`, `"2m"`, `"1h"` (also `ns`, `us`).
pub(crate) fn duration(value: &str) -> Result<Duration, String> {
    let invalid =
        || format!("expected a duration like `250ms`, `10s`, `1.5s`, `2m`, not `{value}`");
    let digits = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(invalid)?;
    let (number, unit) = value.split_at(digits);
    let seconds_per_unit = match unit.trim() {
        "ns" => 1e-9,
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err(invalid()),
    };
    let number: f64 = number.parse().map_err(|_| invalid())?;
    Duration::try_from_secs_f64(number * seconds_per_unit).map_err(|_| invalid())
}

fn optional<T>(
    value: &str,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<Option<T>, String> {
    if value.eq_ignore_ascii_case("none") {
        Ok(None)
    } else {
        parse(value).map(Some)
    }
}

impl Overridable for BreakerConfig {
    const ATTRIBUTE: &'static str = "circuit_breaker";
    const PARAMETERS: &'static [&'static str] = &[
        "threshold",
        "failure_rate",
        "window",
        "min_calls",
        "timeout",
        "half_open",
    ];

    fn set(&mut self, parameter: &str, value: &str) -> Result<(), String> {
        let (rate, window, min_calls) = match self.policy {
            TripPolicy::FailureRate {
                failure_rate,
                window,
                min_calls,
            } => (failure_rate, window, min_calls),
            TripPolicy::Consecutive { .. } => (0.5, 100, 100),
        };
        match parameter {
            "threshold" => {
                self.policy = TripPolicy::Consecutive {
                    threshold: at_least_one(value)?,
                }
            }
            "failure_rate" => {
                let failure_rate: f64 = value
                    .parse()
                    .map_err(|_| format!("expected a rate like `0.5`, not `{value}`"))?;
                self.policy = TripPolicy::FailureRate {
                    failure_rate,
                    window,
                    min_calls,
                };
            }
            "window" | "min_calls" if matches!(self.policy, TripPolicy::Consecutive { .. }) => {
                return Err(format!(
                    "`{parameter}` applies to a failure-rate breaker; set `failure_rate` too"
                ))
            }
            "window" => {
                self.policy = TripPolicy::FailureRate {
                    failure_rate: rate,
                    window: at_least_one(value)?,
                    min_calls,
                }
            }
            "min_calls" => {
                self.policy = TripPolicy::FailureRate {
                    failure_rate: rate,
                    window,
                    min_calls: at_least_one(value)?,
                }
            }
            "timeout" => self.open_for = duration(value)?,
            "half_open" => self.half_open = at_least_one(value)?,
            _ => return Err(format!("unknown parameter `{parameter}`")),
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), String> {
        if self.open_for.is_zero() {
            return Err("`timeout` must be longer than zero".into());
        }
        if let TripPolicy::FailureRate {
            failure_rate,
            window,
            min_calls,
        } = self.policy
        {
            if !(failure_rate > 0.0 && failure_rate <= 1.0) {
                return Err("`failure_rate` must be greater than 0 and at most 1".into());
            }
            if min_calls > window {
                return Err(format!(
                    "`min_calls` ({min_calls}) cannot exceed `window` ({window})"
                ));
            }
        }
        Ok(())
    }
}

impl Overridable for BulkheadConfig {
    const ATTRIBUTE: &'static str = "bulkhead";
    const PARAMETERS: &'static [&'static str] = &["max", "max_wait", "queue"];

    fn set(&mut self, parameter: &str, value: &str) -> Result<(), String> {
        match parameter {
            "max" => self.max = at_least_one(value)?,
            "max_wait" => self.max_wait = optional(value, duration)?,
            "queue" => self.queue = optional(value, count)?,
            _ => return Err(format!("unknown parameter `{parameter}`")),
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), String> {
        Ok(())
    }
}

impl Overridable for RetryConfig {
    const ATTRIBUTE: &'static str = "retry";
    const PARAMETERS: &'static [&'static str] = &["max", "base", "max_delay", "jitter"];

    fn set(&mut self, parameter: &str, value: &str) -> Result<(), String> {
        match parameter {
            "max" => self.max = count(value)?,
            "base" => self.base = duration(value)?,
            "max_delay" => self.max_delay = duration(value)?,
            "jitter" => {
                self.jitter = match value {
                    "none" => Jitter::None,
                    "full" => Jitter::Full,
                    "equal" => Jitter::Equal,
                    "decorrelated" => Jitter::Decorrelated,
                    _ => {
                        return Err(format!(
                            "unknown jitter `{value}`; expected none, full, equal or decorrelated"
                        ))
                    }
                }
            }
            _ => return Err(format!("unknown parameter `{parameter}`")),
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), String> {
        if self.base > self.max_delay {
            return Err("`base` is longer than `max_delay`".into());
        }
        Ok(())
    }
}

/// The one parameter of `#[timeout]`.
#[derive(Clone, Copy)]
pub(crate) struct TimeoutConfig(pub(crate) Duration);

impl Overridable for TimeoutConfig {
    const ATTRIBUTE: &'static str = "timeout";
    const PARAMETERS: &'static [&'static str] = &["limit"];

    fn set(&mut self, parameter: &str, value: &str) -> Result<(), String> {
        match parameter {
            "limit" => self.0 = duration(value)?,
            _ => return Err(format!("unknown parameter `{parameter}`")),
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), String> {
        if self.0.is_zero() {
            return Err("the time limit must be longer than zero".into());
        }
        Ok(())
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_the_attributes() {
        assert_eq!(duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(duration("soon").is_err());
        assert!(duration("10").is_err());
        assert!(duration("-1s").is_err());
    }

    #[test]
    fn a_bad_value_keeps_the_compiled_configuration() {
        let mut config = BreakerConfig::new(crate::InstanceName::given("x"));
        assert!(config.set("threshold", "0").is_err());
        assert!(config.set("failure_rate", "1.5").is_ok());
        assert!(config.validate().is_err(), "1.5 is out of range");
    }
}

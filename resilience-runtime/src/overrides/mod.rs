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
//! # Files
//!
//! This module holds the table, the environment lookup and the application of overrides
//! to any [`Overridable`] configuration; `circuit_breaker.rs` and `configs.rs` hold each
//! attribute's parameters, and `tests.rs` the unit tests.
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

use resilience_config::Error;

mod circuit_breaker;
mod configs;
mod hedge;
#[cfg(all(test, not(loom)))]
mod tests;

pub(crate) use configs::TimeoutConfig;

use crate::{BreakerConfig, BulkheadConfig, RateLimitConfig, RetryConfig};

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
        "hedge" => checked::<crate::HedgeConfig>(parameter, value),
        other => Err(format!(
            "unknown attribute `{other}`; expected circuit_breaker, bulkhead, retry, timeout, rate_limit or hedge"
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

/// Loads `entries` for `name` and applies them to `compiled`.
#[cfg(all(test, not(loom)))]
pub(crate) fn overridden<C: Overridable>(
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

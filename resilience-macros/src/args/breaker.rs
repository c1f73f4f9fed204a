//! `#[circuit_breaker(threshold = 3, timeout = "10s", timeout_max = "5m", half_open = 1, failure_rate = 0.5,
//! window = 100 | "30s", buckets = 10, min_calls = 100, slow_call = "2s", slow_call_rate = 1.0, failure_if = path,
//! ignore_if = path, name = "...", shared, crate = "...")]`
//!
//! The defaults are `resilience_config::breaker`'s, the ones the runtime's overrides use.

use syn::{LitStr, Path};

use super::{
    duration, float, int, path, set_once, string, unknown_key, Errors, Kind, RawArg, Spanned,
};

const KEYS: &[&str] = &[
    "threshold",
    "timeout",
    "timeout_max",
    "half_open",
    "failure_rate",
    "window",
    "buckets",
    "min_calls",
    "slow_call",
    "slow_call_rate",
    "failure_if",
    "ignore_if",
    "name",
    "key",
    "max_keys",
    "shared",
    "crate",
];

/// The breaker's parameters as written; `None` where the default applies.
#[derive(Default)]
pub(crate) struct BreakerArgs {
    pub(crate) threshold: Option<Spanned<u32>>,
    pub(crate) timeout: Option<Spanned<u64>>,
    pub(crate) timeout_max: Option<Spanned<u64>>,
    pub(crate) half_open: Option<Spanned<u32>>,
    pub(crate) failure_rate: Option<Spanned<f64>>,
    pub(crate) window: Option<Spanned<Window>>,
    pub(crate) buckets: Option<Spanned<u32>>,
    pub(crate) min_calls: Option<Spanned<u32>>,
    pub(crate) slow_call: Option<Spanned<u64>>,
    pub(crate) slow_call_rate: Option<Spanned<f64>>,
    pub(crate) failure_if: Option<Spanned<Path>>,
    pub(crate) ignore_if: Option<Spanned<Path>>,
    pub(crate) name: Option<Spanned<LitStr>>,
    /// `key = expr`, `max_keys = N`.
    pub(crate) keyed: super::KeyedArgs,
    /// `shared`: the breaker joins the fleet (needs `name`).
    pub(crate) shared: Option<Spanned<()>>,
}

/// A `window` as written: a count of calls or a duration (nanoseconds).
pub(crate) use resilience_config::breaker::Window;

/// How the breaker decides to open, after defaults.
pub(crate) enum Policy {
    Consecutive {
        threshold: u32,
    },
    FailureRate {
        failure_rate: f64,
        window: u32,
        min_calls: u32,
    },
    TimeWindow {
        failure_rate: f64,
        window: u64,
        buckets: u32,
        min_calls: u32,
    },
}

pub(crate) use resilience_config::breaker::{
    default_min_calls, DEFAULT_BUCKETS, DEFAULT_THRESHOLD, DEFAULT_TIME_MIN_CALLS, DEFAULT_WINDOW,
};

impl BreakerArgs {
    pub(crate) fn from_raw(raw: Vec<RawArg>) -> syn::Result<Self> {
        let mut args = BreakerArgs::default();
        let mut errors = Errors::default();
        for RawArg { key, value } in raw {
            let Some(key) = key else {
                errors.push(super::shared_flag(
                    &mut args.shared,
                    Kind::CircuitBreaker,
                    &value,
                    KEYS,
                ));
                continue;
            };
            if let Some(result) = args.keyed.set(&key, &value) {
                errors.push(result);
                continue;
            }
            let result = match key.to_string().as_str() {
                "threshold" => set_once(&mut args.threshold, &key, int(&value)),
                "timeout" => set_once(&mut args.timeout, &key, duration(&value)),
                "timeout_max" => set_once(&mut args.timeout_max, &key, duration(&value)),
                "half_open" => set_once(&mut args.half_open, &key, int(&value)),
                "failure_rate" => set_once(&mut args.failure_rate, &key, float(&value)),
                "window" => set_once(&mut args.window, &key, window(&value)),
                "buckets" => set_once(&mut args.buckets, &key, int(&value)),
                "min_calls" => set_once(&mut args.min_calls, &key, int(&value)),
                "slow_call" => set_once(&mut args.slow_call, &key, duration(&value)),
                "slow_call_rate" => set_once(&mut args.slow_call_rate, &key, float(&value)),
                "failure_if" => set_once(&mut args.failure_if, &key, path(&value)),
                "ignore_if" => set_once(&mut args.ignore_if, &key, path(&value)),
                "name" => set_once(
                    &mut args.name,
                    &key,
                    string(&value, "the breaker's name", "payment"),
                ),
                _ => Err(unknown_key(Kind::CircuitBreaker, &key, KEYS)),
            };
            errors.push(result);
        }
        errors.finish().map(|()| args)
    }

    /// The trip policy with defaults filled in.
    pub(crate) fn policy(&self) -> Policy {
        match &self.failure_rate {
            Some(rate) => {
                let min_calls = self.min_calls.as_ref().map(|m| m.value);
                let window = match self.window.as_ref().map(|w| w.value) {
                    Some(Window::Time(window)) => {
                        return Policy::TimeWindow {
                            failure_rate: rate.value,
                            window,
                            buckets: self.buckets.as_ref().map_or(DEFAULT_BUCKETS, |b| b.value),
                            min_calls: min_calls.unwrap_or(DEFAULT_TIME_MIN_CALLS),
                        };
                    }
                    Some(Window::Calls(window)) => window,
                    None => DEFAULT_WINDOW,
                };
                Policy::FailureRate {
                    failure_rate: rate.value,
                    window,
                    min_calls: self
                        .min_calls
                        .as_ref()
                        .map_or(default_min_calls(window), |m| m.value),
                }
            }
            None => Policy::Consecutive {
                threshold: self
                    .threshold
                    .as_ref()
                    .map_or(DEFAULT_THRESHOLD, |t| t.value),
            },
        }
    }
}

/// A `window`: a whole number of calls, or a duration string (a time window).
fn window(value: &syn::Expr) -> syn::Result<Spanned<Window>> {
    if let Ok(calls) = int(value) {
        return Ok(Spanned {
            value: Window::Calls(calls.value),
            span: calls.span,
        });
    }
    match duration(value) {
        Ok(time) => Ok(Spanned {
            value: Window::Time(time.value),
            span: time.span,
        }),
        // A bad duration string keeps its own message; anything else gets both forms.
        Err(error) if matches!(super::lit(value), Some(syn::Lit::Str(_))) => Err(error),
        Err(_) => Err(syn::Error::new(
            syn::spanned::Spanned::span(value),
            "expected a number of calls, like `100`, or a duration as a string, like `\"30s\"`",
        )),
    }
}

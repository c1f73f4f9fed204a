//! `#[hedge(delay = "50ms" | "p95", max = 1, budget = 0.1, context = attempt, name = "...",
//! crate = "...")]`
//!
//! The defaults, the limits and the percentile grammar are `resilience_config::hedge`'s, the
//! ones the runtime's overrides use.

use proc_macro2::Span;
use syn::{Expr, Lit, LitStr};

use super::retry::local_name;
use super::{
    duration, float, int, lit, set_once, string, unknown_key, Errors, Kind, RawArg, Spanned,
};

pub(crate) use resilience_config::hedge::Delay;

const KEYS: &[&str] = &["delay", "max", "budget", "context", "name", "crate"];

/// The hedge's parameters as written; `delay` is required.
pub(crate) struct HedgeArgs {
    pub(crate) delay: Option<Spanned<Delay>>,
    pub(crate) max: Option<Spanned<u32>>,
    pub(crate) budget: Option<Spanned<f64>>,
    pub(crate) name: Option<Spanned<LitStr>>,
    /// `context = name`: the local that holds the attempt inside the body.
    pub(crate) context: Option<Spanned<syn::Ident>>,
    /// The attribute's span, to point at when `delay` is missing.
    pub(crate) span: Span,
}

impl HedgeArgs {
    pub(crate) fn from_raw(span: Span, raw: Vec<RawArg>) -> syn::Result<Self> {
        let mut args = HedgeArgs {
            delay: None,
            max: None,
            budget: None,
            name: None,
            context: None,
            span,
        };
        let mut errors = Errors::default();
        for RawArg { key, value } in raw {
            let Some(key) = key else {
                errors.add(super::expected_key(Kind::Hedge, &value, KEYS));
                continue;
            };
            let result = match key.to_string().as_str() {
                "delay" => set_once(&mut args.delay, &key, delay(&value)),
                "max" => set_once(&mut args.max, &key, int(&value)),
                "budget" => set_once(&mut args.budget, &key, float(&value)),
                "name" => set_once(
                    &mut args.name,
                    &key,
                    string(&value, "the hedge's name", "search"),
                ),
                "context" => set_once(&mut args.context, &key, local_name(&value)),
                _ => Err(unknown_key(Kind::Hedge, &key, KEYS)),
            };
            errors.push(result);
        }
        errors.finish().map(|()| args)
    }
}

/// `delay = "50ms"` (the duration grammar; zero is refused by validation), or a percentile
/// `delay = "p95"` (checked here: `"p50"` to `"p99.9"`).
fn delay(value: &Expr) -> syn::Result<Spanned<Delay>> {
    if let Some(Lit::Str(s)) = lit(value) {
        if s.value().trim_start().starts_with('p') {
            return resilience_config::hedge::parse_delay(&s.value())
                .map(|delay| Spanned {
                    value: delay,
                    span: s.span(),
                })
                .map_err(|error| syn::Error::new(s.span(), error));
        }
    }
    duration(value).map(|nanos| Spanned {
        value: Delay::After(nanos.value),
        span: nanos.span,
    })
}

//! Parsing attribute arguments into typed models, one file per attribute.
//!
//! Every attribute takes a comma-separated list of `key = value` pairs (and, for `#[timeout]`
//! and `#[fallback]`, one positional value). [`RawArgs`] splits the list; each attribute's
//! model then takes the pairs through a setter per key that rejects duplicates and names the
//! valid keys on an unknown one. Values are checked for their *form* here (a duration string
//! that parses, an integer that fits); ranges and conflicts are [`crate::validate`]'s job.
//! Durations are turned into nanoseconds now, so nothing is parsed at run time, by the grammar
//! the runtime's overrides read too (`resilience_config::parse_duration`), and the defaults
//! are `resilience_config`'s.

mod breaker;
mod bulkhead;
mod fallback;
mod hedge;
mod keyed;
mod rate_limit;
mod retry;
mod timeout;

pub(crate) use breaker::{BreakerArgs, Policy, Window, DEFAULT_BUCKETS, DEFAULT_WINDOW};
pub(crate) use bulkhead::BulkheadArgs;
pub(crate) use fallback::FallbackArgs;
pub(crate) use hedge::{Delay, HedgeArgs};
pub(crate) use keyed::KeyedArgs;
pub(crate) use rate_limit::RateLimitArgs;
pub(crate) use retry::{JitterKind, RetryArgs};
pub(crate) use timeout::TimeoutArgs;

use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned as _;
use syn::{Expr, ExprLit, Ident, Lit, LitStr, Path, Token};

/// The seven attributes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    CircuitBreaker,
    Retry,
    Bulkhead,
    Timeout,
    Fallback,
    RateLimit,
    Hedge,
}

impl Kind {
    pub(crate) const ALL: [Kind; 7] = [
        Kind::CircuitBreaker,
        Kind::Retry,
        Kind::Bulkhead,
        Kind::Timeout,
        Kind::Fallback,
        Kind::RateLimit,
        Kind::Hedge,
    ];

    /// The attribute's name as written.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::CircuitBreaker => "circuit_breaker",
            Kind::Retry => "retry",
            Kind::Bulkhead => "bulkhead",
            Kind::Timeout => "timeout",
            Kind::Fallback => "fallback",
            Kind::RateLimit => "rate_limit",
            Kind::Hedge => "hedge",
        }
    }
}

/// One layer of a stack: an attribute with its parsed arguments.
pub(crate) struct Layer {
    pub(crate) kind: Kind,
    pub(crate) args: LayerArgs,
    /// `crate = "path"`: where generated code finds the facade.
    pub(crate) krate: Option<Spanned<Path>>,
}

pub(crate) enum LayerArgs {
    CircuitBreaker(BreakerArgs),
    Retry(RetryArgs),
    Bulkhead(BulkheadArgs),
    Timeout(TimeoutArgs),
    Fallback(FallbackArgs),
    RateLimit(RateLimitArgs),
    Hedge(HedgeArgs),
}

impl Layer {
    /// Parses the arguments of one attribute of the given kind.
    pub(crate) fn parse(kind: Kind, span: Span, tokens: TokenStream) -> syn::Result<Layer> {
        let raw = RawArgs::parse.parse2(tokens)?;
        let mut krate = None;
        let mut errors = Errors::default();
        let mut rest = Vec::with_capacity(raw.0.len());
        for arg in raw.0 {
            match &arg.key {
                Some(key) if key == "crate" => {
                    errors.push(set_once(&mut krate, key, path_str(&arg.value)));
                }
                _ => rest.push(arg),
            }
        }
        let args = match kind {
            Kind::CircuitBreaker => BreakerArgs::from_raw(rest).map(LayerArgs::CircuitBreaker),
            Kind::Retry => RetryArgs::from_raw(rest).map(LayerArgs::Retry),
            Kind::Bulkhead => BulkheadArgs::from_raw(span, rest).map(LayerArgs::Bulkhead),
            Kind::Timeout => TimeoutArgs::from_raw(span, rest).map(LayerArgs::Timeout),
            Kind::Fallback => FallbackArgs::from_raw(span, rest).map(LayerArgs::Fallback),
            Kind::RateLimit => RateLimitArgs::from_raw(span, rest).map(LayerArgs::RateLimit),
            Kind::Hedge => HedgeArgs::from_raw(span, rest).map(LayerArgs::Hedge),
        };
        match (args, errors.finish()) {
            (Ok(args), Ok(())) => Ok(Layer { kind, args, krate }),
            (Err(mut first), Err(second)) => {
                first.combine(second);
                Err(first)
            }
            (Err(error), Ok(())) | (Ok(_), Err(error)) => Err(error),
        }
    }
}

/// A value and the span of the token it came from, so validation can point at it.
#[derive(Clone)]
pub(crate) struct Spanned<T> {
    pub(crate) value: T,
    pub(crate) span: Span,
}

/// One `key = value`, or a positional `value`.
pub(crate) struct RawArg {
    pub(crate) key: Option<Ident>,
    pub(crate) value: Expr,
}

struct RawArgs(Punctuated<RawArg, Token![,]>);

impl Parse for RawArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        Punctuated::parse_terminated(input).map(RawArgs)
    }
}

impl Parse for RawArg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(Ident::peek_any) && input.peek2(Token![=]) && !input.peek2(Token![==]) {
            let key = Ident::parse_any(input)?;
            input.parse::<Token![=]>()?;
            let value = input.parse()?;
            Ok(RawArg {
                key: Some(key),
                value,
            })
        } else {
            Ok(RawArg {
                key: None,
                value: input.parse()?,
            })
        }
    }
}

/// Collects several errors so one compile reports them all.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn add(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// Keeps the value of a result, records its error.
    pub(crate) fn push<T>(&mut self, result: syn::Result<T>) -> Option<T> {
        result.map_err(|e| self.add(e)).ok()
    }

    pub(crate) fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// A bare `shared` (fleet-wide state: `#[circuit_breaker(name = "payment", shared)]`), stored
/// like a key without a value; anything else positional is `expected_key`'s error.
pub(crate) fn shared_flag(
    slot: &mut Option<Spanned<()>>,
    kind: Kind,
    value: &Expr,
    valid: &[&str],
) -> syn::Result<()> {
    match value {
        Expr::Path(flag) if flag.qself.is_none() && flag.path.is_ident("shared") => {
            let key = flag.path.get_ident().expect("checked by is_ident");
            let span = key.span();
            set_once(slot, key, Ok(Spanned { value: (), span }))
        }
        _ => Err(expected_key(kind, value, valid)),
    }
}

/// Stores a key's value, or reports the key as a duplicate.
pub(crate) fn set_once<T>(
    slot: &mut Option<Spanned<T>>,
    key: &Ident,
    value: syn::Result<Spanned<T>>,
) -> syn::Result<()> {
    if slot.is_some() {
        return Err(syn::Error::new(
            key.span(),
            format!("duplicate parameter `{key}`"),
        ));
    }
    *slot = Some(value?);
    Ok(())
}

/// The error for a key the attribute does not know.
pub(crate) fn unknown_key(kind: Kind, key: &Ident, valid: &[&str]) -> syn::Error {
    if key == "context" {
        return syn::Error::new(
            key.span(),
            format!(
                "`context` belongs to #[retry] and #[hedge]: it binds the attempt's number and call \
                 id inside the body, and #[{}] makes no attempts; move it to the #[retry] or \
                 #[hedge] of this stack",
                kind.name()
            ),
        );
    }
    syn::Error::new(
        key.span(),
        format!(
            "unknown parameter `{key}` for #[{}]; expected one of: {}",
            kind.name(),
            valid.join(", ")
        ),
    )
}

/// The error for a positional value where a `key = value` pair was expected.
pub(crate) fn expected_key(kind: Kind, value: &Expr, valid: &[&str]) -> syn::Error {
    syn::Error::new(
        value.span(),
        format!(
            "expected `key = value` in #[{}]; keys: {}",
            kind.name(),
            valid.join(", ")
        ),
    )
}

pub(crate) fn lit(value: &Expr) -> Option<&Lit> {
    match value {
        Expr::Lit(ExprLit { lit, .. }) => Some(lit),
        Expr::Group(group) => lit(&group.expr),
        _ => None,
    }
}

/// An unsigned integer literal that fits in `u32`.
pub(crate) fn int(value: &Expr) -> syn::Result<Spanned<u32>> {
    match lit(value) {
        Some(Lit::Int(int)) => {
            let parsed = int.base10_parse::<u32>().map_err(|_| {
                syn::Error::new(int.span(), "expected a whole number from 0 to 4294967295")
            })?;
            Ok(Spanned {
                value: parsed,
                span: int.span(),
            })
        }
        _ => Err(syn::Error::new(
            value.span(),
            "expected a whole number, like `3`",
        )),
    }
}

/// A number literal (`0.5`, or `1`), for rates.
pub(crate) fn float(value: &Expr) -> syn::Result<Spanned<f64>> {
    let parsed = match lit(value) {
        Some(Lit::Float(f)) => f.base10_parse::<f64>().ok().map(|v| (v, f.span())),
        Some(Lit::Int(i)) => i.base10_parse::<f64>().ok().map(|v| (v, i.span())),
        _ => None,
    };
    match parsed {
        Some((value, span)) => Ok(Spanned { value, span }),
        None => Err(syn::Error::new(
            value.span(),
            "expected a number between 0 and 1, like `0.5`",
        )),
    }
}

/// A string literal; `example` is a value of that parameter, for the error.
pub(crate) fn string(value: &Expr, what: &str, example: &str) -> syn::Result<Spanned<LitStr>> {
    match lit(value) {
        Some(Lit::Str(s)) => Ok(Spanned {
            value: s.clone(),
            span: s.span(),
        }),
        _ => Err(syn::Error::new(
            value.span(),
            format!("expected {what} as a string, like `\"{example}\"`"),
        )),
    }
}

/// A path to a function, like `is_transient` or `Self::cached`.
pub(crate) fn path(value: &Expr) -> syn::Result<Spanned<Path>> {
    match value {
        Expr::Path(p) if p.qself.is_none() => Ok(Spanned {
            value: p.path.clone(),
            span: p.span(),
        }),
        Expr::Group(group) => path(&group.expr),
        _ => Err(syn::Error::new(
            value.span(),
            "expected a path to a function, like `is_transient`",
        )),
    }
}

/// A path written as a string: `crate = "::my_resilience"`.
fn path_str(value: &Expr) -> syn::Result<Spanned<Path>> {
    let s = string(value, "a path", "::resilience")?;
    let parsed = s.value.parse::<Path>().map_err(|_| {
        syn::Error::new(
            s.span,
            "expected the path of the `resilience` crate, like `\"::resilience\"`",
        )
    })?;
    Ok(Spanned {
        value: parsed,
        span: s.span,
    })
}

/// A duration string: `"250ms"`, `"10s"`, `"1.5s"`, `"2m"`, `"1h"`, in nanoseconds.
pub(crate) fn duration(value: &Expr) -> syn::Result<Spanned<u64>> {
    const HINT: &str = "write durations as strings with a unit: \"250ms\", \"10s\", \"1.5s\", \"2m\", \"1h\" (units: ns, us, ms, s, m, h)";
    let s = match lit(value) {
        Some(Lit::Str(s)) => s,
        Some(Lit::Int(_) | Lit::Float(_)) => {
            return Err(syn::Error::new(
                value.span(),
                format!("a bare number has no unit; {HINT}"),
            ))
        }
        _ => return Err(syn::Error::new(value.span(), HINT)),
    };
    match resilience_config::parse_duration(&s.value()) {
        Ok(nanos) => Ok(Spanned {
            value: nanos,
            span: s.span(),
        }),
        Err(resilience_config::Error::BadDuration { text }) => Err(syn::Error::new(
            s.span(),
            format!("cannot parse `{text}` as a duration; {HINT}"),
        )),
        Err(error) => Err(syn::Error::new(s.span(), error)),
    }
}

#[cfg(test)]
mod tests {
    use super::{duration, string};

    #[test]
    fn durations_read_the_shared_grammar() {
        let nanos = |text: &str| duration(&syn::parse_str(text).unwrap()).map(|d| d.value);
        assert_eq!(nanos(r#""1.5s""#).unwrap(), 1_500_000_000);
        let error = nanos(r#""0.5ns""#).unwrap_err().to_string();
        assert!(error.contains("finer than a nanosecond"), "{error}");
        let error = nanos(r#""soon""#).unwrap_err().to_string();
        assert!(
            error.starts_with("cannot parse `soon` as a duration; write durations as strings"),
            "{error}"
        );
    }

    #[test]
    fn an_unquoted_string_is_answered_with_an_example_of_its_own() {
        let error = string(&syn::parse_str("full").unwrap(), "the jitter kind", "full")
            .err()
            .unwrap()
            .to_string();
        assert_eq!(
            error,
            "expected the jitter kind as a string, like `\"full\"`"
        );
    }
}

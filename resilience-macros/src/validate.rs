//! Checks that need more than one token: ranges, conflicts between parameters, and what the
//! annotated function must look like. Every check reports a spanned error and goes on, so one
//! compile shows every mistake.

use syn::{ReturnType, Type};

use crate::args::{Errors, Kind, Layer, LayerArgs, Spanned};
use crate::item::Function;

/// The function must be `async` and return a `Result` (as far as the spelling shows: an alias
/// like `anyhow::Result<T>` passes here and is checked by the type system).
pub(crate) fn function(function: &Function, kind: Kind, layers: &[Layer], errors: &mut Errors) {
    let sig = &function.item.sig;
    let attr = kind.name();
    if sig.asyncness.is_none() {
        errors.add(syn::Error::new_spanned(
            sig.fn_token,
            format!("#[{attr}] applies to `async fn`s only; add `async` before `fn`"),
        ));
    }
    match &sig.output {
        ReturnType::Default => errors.add(syn::Error::new_spanned(
            &sig.ident,
            format!(
                "#[{attr}] needs the function to return `Result<T, E>` (with `E: From<resilience::Rejected>`); it returns `()`"
            ),
        )),
        ReturnType::Type(_, ty) => {
            if let Some(found) = clearly_not_result(ty) {
                errors.add(syn::Error::new_spanned(
                    ty,
                    format!(
                        "#[{attr}] needs the function to return `Result<T, E>` (with `E: From<resilience::Rejected>`), not {found}"
                    ),
                ));
            }
        }
    }
    if layers.iter().any(|l| l.kind == Kind::Fallback) {
        for arg in function.args.iter().filter(|a| a.name.is_none()) {
            errors.add(syn::Error::new(
                arg.span,
                "#[fallback] passes the arguments on by name: give this argument a plain name and destructure it in the body",
            ));
        }
    }
}

/// A description of the return type when its spelling alone shows it is no `Result`.
fn clearly_not_result(ty: &Type) -> Option<String> {
    const NOT_RESULTS: &[&str] = &[
        "Option", "bool", "char", "str", "String", "Vec", "u8", "u16", "u32", "u64", "u128",
        "usize", "i8", "i16", "i32", "i64", "i128", "isize", "f32", "f64",
    ];
    match ty {
        Type::Tuple(t) if t.elems.is_empty() => Some("`()`".into()),
        Type::Tuple(_) => Some("a tuple".into()),
        Type::Reference(_) => Some("a reference".into()),
        Type::Array(_) | Type::Slice(_) => Some("an array".into()),
        Type::ImplTrait(_) => Some("`impl Trait`".into()),
        Type::Never(_) => Some("`!`".into()),
        Type::Ptr(_) => Some("a pointer".into()),
        Type::BareFn(_) => Some("a function pointer".into()),
        Type::TraitObject(_) => Some("a trait object".into()),
        Type::Paren(p) => clearly_not_result(&p.elem),
        Type::Group(g) => clearly_not_result(&g.elem),
        Type::Path(p) if p.qself.is_none() => {
            let last = p.path.segments.last()?;
            NOT_RESULTS
                .iter()
                .any(|name| last.ident == name)
                .then(|| format!("`{}`", last.ident))
        }
        _ => None,
    }
}

/// Ranges and conflicts of one attribute's parameters.
pub(crate) fn layer(layer: &Layer, errors: &mut Errors) {
    match &layer.args {
        LayerArgs::CircuitBreaker(args) => {
            at_least(1, args.threshold.as_ref(), "threshold", errors);
            at_most(MAX_THRESHOLD, args.threshold.as_ref(), "threshold", errors);
            not_zero(args.timeout.as_ref(), "timeout", "the breaker would never stay open", errors);
            at_least(1, args.half_open.as_ref(), "half_open", errors);
            at_most(MAX_HALF_OPEN, args.half_open.as_ref(), "half_open", errors);
            if let Some(rate) = &args.failure_rate {
                if !(rate.value > 0.0 && rate.value <= 1.0) {
                    errors.add(syn::Error::new(
                        rate.span,
                        "`failure_rate` must be greater than 0 and at most 1, like `0.5`",
                    ));
                }
                if let Some(threshold) = &args.threshold {
                    errors.add(syn::Error::new(
                        threshold.span,
                        "`threshold` and `failure_rate` are two ways to decide when to open; use one of them",
                    ));
                }
            } else {
                for (key, value) in [("window", &args.window), ("min_calls", &args.min_calls)] {
                    if let Some(value) = value {
                        errors.add(syn::Error::new(
                            value.span,
                            format!("`{key}` belongs to the failure-rate mode; add `failure_rate = 0.5` or remove `{key}`"),
                        ));
                    }
                }
            }
            at_least(1, args.window.as_ref(), "window", errors);
            at_most(MAX_WINDOW, args.window.as_ref(), "window", errors);
            at_least(1, args.min_calls.as_ref(), "min_calls", errors);
            if let (Some(min_calls), window) = (&args.min_calls, &args.window) {
                let window = window
                    .as_ref()
                    .map_or(crate::args::DEFAULT_WINDOW, |w| w.value);
                if min_calls.value > window {
                    errors.add(syn::Error::new(
                        min_calls.span,
                        format!("`min_calls` cannot exceed `window` ({window}): the window never holds more calls"),
                    ));
                }
            }
        }
        LayerArgs::Retry(args) => {
            at_least(1, args.max.as_ref(), "max", errors);
            if let (Some(base), Some(max_delay)) = (&args.base, &args.max_delay) {
                if base.value > max_delay.value {
                    errors.add(syn::Error::new(
                        base.span,
                        "`base` is longer than `max_delay`: every delay would be capped to `max_delay`",
                    ));
                }
            } else if let Some(base) = &args.base {
                if base.value > crate::args::DEFAULT_MAX_DELAY_NANOS {
                    errors.add(syn::Error::new(
                        base.span,
                        "`base` is longer than the default `max_delay` of 10s; raise `max_delay` too",
                    ));
                }
            }
        }
        LayerArgs::Bulkhead(args) => match &args.max {
            None => errors.add(syn::Error::new(
                args.span,
                "#[bulkhead] needs `max`, the number of calls that may run at once, like #[bulkhead(max = 10)]",
            )),
            Some(max) => {
                at_least(1, Some(max), "max", errors);
                at_most(MAX_BULKHEAD, Some(max), "max", errors);
            }
        },
        LayerArgs::Timeout(args) => {
            not_zero(Some(&args.limit), "the time limit", "every call would time out", errors);
        }
        LayerArgs::Fallback(_) => {}
    }
}

/// Counts the breaker keeps in its state word; see the runtime's breaker module.
const MAX_THRESHOLD: u32 = 1 << 20;
const MAX_HALF_OPEN: u32 = 1 << 12;
const MAX_WINDOW: u32 = 1 << 24;
const MAX_BULKHEAD: u32 = i32::MAX as u32;

fn at_least(min: u32, value: Option<&Spanned<u32>>, key: &str, errors: &mut Errors) {
    if let Some(value) = value.filter(|v| v.value < min) {
        errors.add(syn::Error::new(
            value.span,
            format!("`{key}` must be at least {min}"),
        ));
    }
}

fn at_most(max: u32, value: Option<&Spanned<u32>>, key: &str, errors: &mut Errors) {
    if let Some(value) = value.filter(|v| v.value > max) {
        errors.add(syn::Error::new(
            value.span,
            format!("`{key}` must be at most {max}"),
        ));
    }
}

fn not_zero(value: Option<&Spanned<u64>>, what: &str, why: &str, errors: &mut Errors) {
    if let Some(value) = value.filter(|v| v.value == 0) {
        errors.add(syn::Error::new(
            value.span,
            format!("{what} must be longer than zero: {why}"),
        ));
    }
}

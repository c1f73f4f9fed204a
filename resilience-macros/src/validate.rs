//! Checks that need more than one token: ranges, conflicts between parameters, and what the
//! annotated function must look like. Every check reports a spanned error and goes on, so one
//! compile shows every mistake.
//!
//! Every limit and every rule between parameters comes from `resilience_config`, which the
//! runtime's overrides check against too: a value refused here is refused as an override,
//! with the same message. Only wording that shows attribute syntax (a failure-rate parameter
//! without `failure_rate`, a `base` above the default `max_delay`) is the macro's own.

use resilience_config::{breaker, bulkhead, hedge, rate_limit, retry, timeout, Count, Time};
use syn::{LitStr, ReturnType, Type};

use crate::args::{Delay, Errors, Kind, Layer, LayerArgs, Spanned, Window};
use crate::item::{Function, ReceiverKind};

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
    for layer in layers {
        let context = match &layer.args {
            LayerArgs::Retry(args) => args.context.as_ref(),
            LayerArgs::Hedge(args) => args.context.as_ref(),
            _ => None,
        };
        if let Some(context) = context {
            context_shadows(function, &context.value, errors);
        }
    }
    if layers.iter().any(|l| l.kind == Kind::Hedge) {
        hedged_borrows(function, errors);
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

/// Hedged attempts run at the same time: none of them can hold a `&mut` borrow.
fn hedged_borrows(function: &Function, errors: &mut Errors) {
    if let Some(syn::FnArg::Receiver(receiver)) = function
        .item
        .sig
        .inputs
        .first()
        .filter(|_| function.receiver == Some(ReceiverKind::Mut))
    {
        errors.add(syn::Error::new_spanned(
            receiver,
            "#[hedge] cannot be used on a method taking `&mut self`: its attempts run at the same time, \
             and two attempts cannot both borrow `self` mutably; take `&self` (with interior \
             mutability for what the body changes), or hedge a function that does not need `&mut self`",
        ));
    }
    for arg in function.args.iter().filter(|a| a.is_mut_ref) {
        errors.add(syn::Error::new(
            arg.span,
            "#[hedge] cannot lend a `&mut` argument to its attempts: they run at the same time, and two \
             attempts cannot both borrow it mutably; pass an owned value (cloned per attempt) or a shared reference",
        ));
    }
}

/// `context = name` must not hide an argument the body uses by that name.
fn context_shadows(function: &Function, context: &syn::Ident, errors: &mut Errors) {
    for arg in &function.args {
        if let Some(binding) = arg.bindings.iter().find(|b| b.ident == *context) {
            let mut error = syn::Error::new(
                context.span(),
                format!(
                    "`context = {context}` would hide the argument `{}` inside the body; give the attempt another name, like `context = attempt`",
                    binding.ident
                ),
            );
            error.combine(syn::Error::new(
                binding.ident.span(),
                format!("the argument `{}` is declared here", binding.ident),
            ));
            errors.add(error);
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
        LayerArgs::CircuitBreaker(args) => circuit_breaker(args, errors),
        LayerArgs::Retry(args) => {
            name(args.name.as_ref(), errors);
            shared(
                Kind::Retry,
                args.shared.as_ref(),
                args.name.as_ref(),
                &crate::args::KeyedArgs::default(),
                errors,
            );
            count(retry::MAX, args.max.as_ref(), errors);
            time(retry::MAX_ELAPSED, args.max_elapsed.as_ref(), errors);
            count(retry::BUDGET_MIN, args.budget_min.as_ref(), errors);
            if let Some(Spanned {
                value: Some(share),
                span,
            }) = &args.budget
            {
                spanned(retry::BUDGET.check(*share), *span, errors);
            }
            time(retry::BASE, args.base.as_ref(), errors);
            time(retry::MAX_DELAY, args.max_delay.as_ref(), errors);
            match (&args.base, &args.max_delay) {
                (Some(base), Some(max_delay)) => {
                    spanned(
                        retry::check_base(base.value, max_delay.value),
                        base.span,
                        errors,
                    );
                }
                (Some(base), None) => {
                    if retry::check_base(base.value, retry::DEFAULT_MAX_DELAY_NANOS).is_err() {
                        errors.add(syn::Error::new(
                            base.span,
                            format!(
                                "`base` is longer than the default `max_delay` of {}; raise `max_delay` too",
                                resilience_config::format_duration(retry::DEFAULT_MAX_DELAY_NANOS)
                            ),
                        ));
                    }
                }
                (None, Some(max_delay)) => {
                    if retry::check_base(retry::DEFAULT_BASE_NANOS, max_delay.value).is_err() {
                        errors.add(syn::Error::new(
                            max_delay.span,
                            format!(
                                "`max_delay` is shorter than the default `base` of {}: every delay would be capped to `max_delay`; lower `base` too",
                                resilience_config::format_duration(retry::DEFAULT_BASE_NANOS)
                            ),
                        ));
                    }
                }
                (None, None) => {}
            }
        }
        LayerArgs::Bulkhead(args) => {
            name(args.name.as_ref(), errors);
            keyed(&args.keyed, errors);
            match &args.max {
                None => errors.add(syn::Error::new(
                    args.span,
                    "#[bulkhead] needs `max`, the number of calls that may run at once, like #[bulkhead(max = 10)]",
                )),
                Some(max) => count(bulkhead::MAX, Some(max), errors),
            }
            time(bulkhead::MAX_WAIT, args.max_wait.as_ref(), errors);
            count(bulkhead::QUEUE, args.queue.as_ref(), errors);
        }
        LayerArgs::RateLimit(args) => rate_limit(args, errors),
        LayerArgs::Timeout(args) => time(timeout::LIMIT, Some(&args.limit), errors),
        LayerArgs::Hedge(args) => hedge(args, errors),
        LayerArgs::Fallback(_) => {}
    }
}

/// `delay` is required, longer than zero; `max` at least 1; `budget` a share.
fn hedge(args: &crate::args::HedgeArgs, errors: &mut Errors) {
    name(args.name.as_ref(), errors);
    match &args.delay {
        None => errors.add(syn::Error::new(
            args.span,
            "#[hedge] needs `delay`, how long to wait for an answer before sending another attempt: \
             a duration or a percentile of the recent latencies, like #[hedge(delay = \"50ms\")] or #[hedge(delay = \"p95\")]",
        )),
        Some(Spanned {
            value: Delay::After(nanos),
            span,
        }) => spanned(hedge::DELAY.check(*nanos), *span, errors),
        Some(_) => {}
    }
    if let Some(max) = &args.max {
        if max.value == 0 {
            errors.add(syn::Error::new(
                max.span,
                "`max` must be at least 1: it counts the hedges sent after the first attempt, and \
                 #[hedge(max = 0)] would never hedge; remove #[hedge] instead",
            ));
        } else {
            count(hedge::MAX, Some(max), errors);
        }
    }
    if let Some(budget) = &args.budget {
        spanned(hedge::BUDGET.check(budget.value), budget.span, errors);
    }
}

/// A breaker's ranges and the rules between its parameters.
fn circuit_breaker(args: &crate::args::BreakerArgs, errors: &mut Errors) {
    name(args.name.as_ref(), errors);
    keyed(&args.keyed, errors);
    shared(
        Kind::CircuitBreaker,
        args.shared.as_ref(),
        args.name.as_ref(),
        &args.keyed,
        errors,
    );
    count(breaker::THRESHOLD, args.threshold.as_ref(), errors);
    time(breaker::TIMEOUT, args.timeout.as_ref(), errors);
    time(breaker::TIMEOUT_MAX, args.timeout_max.as_ref(), errors);
    timeout_max(args, errors);
    count(breaker::HALF_OPEN, args.half_open.as_ref(), errors);
    if let Some(rate) = &args.failure_rate {
        spanned(breaker::FAILURE_RATE.check(rate.value), rate.span, errors);
        if let Some(threshold) = &args.threshold {
            errors.add(syn::Error::new(
                threshold.span,
                resilience_config::Error::ThresholdWithFailureRate,
            ));
        }
    } else {
        let spans = [
            ("window", args.window.as_ref().map(|w| w.span)),
            ("min_calls", args.min_calls.as_ref().map(|m| m.span)),
        ];
        for (key, span) in spans {
            if let Some(span) = span {
                errors.add(syn::Error::new(
                    span,
                    format!("`{key}` belongs to the failure-rate mode; add `failure_rate = 0.5` or remove `{key}`"),
                ));
            }
        }
    }
    count(breaker::MIN_CALLS, args.min_calls.as_ref(), errors);
    slow_call(args, errors);
    window(args, errors);
}

/// `window` as a count or a duration, `buckets` with a time window only, each bucket at
/// least 1 ms, `min_calls` at most a count window.
fn window(args: &crate::args::BreakerArgs, errors: &mut Errors) {
    count(breaker::BUCKETS, args.buckets.as_ref(), errors);
    match &args.window {
        Some(Spanned {
            value: Window::Time(nanos),
            span,
        }) => {
            spanned(breaker::WINDOW_TIME.check(*nanos), *span, errors);
            let buckets = args.buckets.as_ref();
            let count = buckets.map_or(crate::args::DEFAULT_BUCKETS, |b| b.value);
            if *nanos != 0 && count != 0 {
                let span = buckets.map_or(*span, |b| b.span);
                spanned(breaker::check_buckets(*nanos, count), span, errors);
            }
        }
        calls => {
            if let Some(Spanned {
                value: Window::Calls(calls),
                span,
            }) = calls
            {
                spanned(breaker::WINDOW.check(*calls), *span, errors);
            }
            if let Some(buckets) = &args.buckets {
                errors.add(syn::Error::new(
                    buckets.span,
                    resilience_config::Error::NeedsTimeWindow,
                ));
            }
            if let Some(min_calls) = &args.min_calls {
                let window = match calls {
                    Some(Spanned {
                        value: Window::Calls(calls),
                        ..
                    }) => *calls,
                    _ => crate::args::DEFAULT_WINDOW,
                };
                spanned(
                    breaker::check_min_calls(min_calls.value, window),
                    min_calls.span,
                    errors,
                );
            }
        }
    }
}

/// `slow_call` longer than zero; `slow_call_rate` in `(0, 1]`, with `slow_call`, in the
/// failure-rate mode (a consecutive breaker counts each slow call as a failure instead).
fn slow_call(args: &crate::args::BreakerArgs, errors: &mut Errors) {
    time(breaker::SLOW_CALL, args.slow_call.as_ref(), errors);
    let Some(rate) = &args.slow_call_rate else {
        return;
    };
    spanned(breaker::SLOW_CALL_RATE.check(rate.value), rate.span, errors);
    if args.slow_call.is_none() {
        errors.add(syn::Error::new(
            rate.span,
            "`slow_call_rate` needs `slow_call`, the duration after which a call is slow; add `slow_call = \"2s\"`",
        ));
    }
    if args.failure_rate.is_none() {
        errors.add(syn::Error::new(
            rate.span,
            "`slow_call_rate` belongs to the failure-rate mode (a consecutive breaker counts each slow call as a failure); add `failure_rate = 0.5` or remove `slow_call_rate`",
        ));
    }
}

/// `timeout_max` at least the breaker's `timeout`, written or the default.
fn timeout_max(args: &crate::args::BreakerArgs, errors: &mut Errors) {
    if let Some(max) = &args.timeout_max {
        match &args.timeout {
            Some(timeout) => spanned(
                breaker::check_timeout_max(max.value, timeout.value),
                max.span,
                errors,
            ),
            None => {
                if breaker::check_timeout_max(max.value, breaker::DEFAULT_TIMEOUT_NANOS).is_err() {
                    errors.add(syn::Error::new(
                        max.span,
                        format!(
                            "`timeout_max` is shorter than the default `timeout` of {}: the open period starts at `timeout` and only doubles from there; lower `timeout` too",
                            resilience_config::format_duration(breaker::DEFAULT_TIMEOUT_NANOS)
                        ),
                    ));
                }
            }
        }
    }
}

/// `rate` is required; every value within `resilience_config::rate_limit`'s limits.
fn rate_limit(args: &crate::args::RateLimitArgs, errors: &mut Errors) {
    name(args.name.as_ref(), errors);
    keyed(&args.keyed, errors);
    shared(
        Kind::RateLimit,
        args.shared.as_ref(),
        args.name.as_ref(),
        &args.keyed,
        errors,
    );
    match &args.rate {
        None => errors.add(syn::Error::new(
            args.span,
            "#[rate_limit] needs `rate`, the number of calls allowed per `per` (1s unless given), like #[rate_limit(rate = 10)]",
        )),
        Some(rate) => count(rate_limit::RATE, Some(rate), errors),
    }
    time(rate_limit::PER, args.per.as_ref(), errors);
    count(rate_limit::BURST, args.burst.as_ref(), errors);
    time(rate_limit::MAX_WAIT, args.max_wait.as_ref(), errors);
}

/// Reports a refused value on the token it came from.
fn spanned<T>(
    checked: Result<T, resilience_config::Error>,
    span: proc_macro2::Span,
    errors: &mut Errors,
) {
    if let Err(error) = checked {
        errors.add(syn::Error::new(span, error));
    }
}

fn count(limits: Count, value: Option<&Spanned<u32>>, errors: &mut Errors) {
    if let Some(value) = value {
        spanned(limits.check(value.value), value.span, errors);
    }
}

fn time(limits: Time, value: Option<&Spanned<u64>>, errors: &mut Errors) {
    if let Some(value) = value {
        spanned(limits.check(value.value), value.span, errors);
    }
}

/// `max_keys` within its limits, and only with a `key`.
fn keyed(args: &crate::args::KeyedArgs, errors: &mut Errors) {
    count(
        resilience_config::keyed::MAX_KEYS,
        args.max_keys.as_ref(),
        errors,
    );
    if let (Some(max_keys), None) = (&args.max_keys, &args.key) {
        errors.add(syn::Error::new(
            max_keys.span,
            "`max_keys` bounds the instances of a keyed attribute and needs `key = <expression>`, like `key = host`",
        ));
    }
}

/// An explicit `name` names the instance in errors, monitoring and override keys.
fn name(value: Option<&Spanned<LitStr>>, errors: &mut Errors) {
    if let Some(value) = value {
        spanned(
            resilience_config::check_name(&value.value.value()),
            value.span,
            errors,
        );
    }
}

/// `shared` needs `name`: replicas find one another's instance by it in Redis.
fn shared(
    kind: Kind,
    shared: Option<&Spanned<()>>,
    name: Option<&Spanned<LitStr>>,
    keyed: &crate::args::KeyedArgs,
    errors: &mut Errors,
) {
    if let (Some(shared), Some(_)) = (shared, &keyed.key) {
        errors.add(syn::Error::new(
            shared.span,
            format!(
                "`shared` and `key` together are not supported yet: keyed instances stay per replica; \
                 remove `shared`, or share one instance per name without `key`, like #[{}(name = \"payment\", shared)]",
                kind.name()
            ),
        ));
    }
    if let (Some(shared), None) = (shared, name) {
        errors.add(syn::Error::new(
            shared.span,
            format!(
                "`shared` needs `name`: the replicas of a fleet find one instance by its name, like #[{}(name = \"payment\", shared)]",
                kind.name()
            ),
        ));
    }
}

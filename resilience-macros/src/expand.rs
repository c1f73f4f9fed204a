//! Generating one pipeline for a whole stack of attributes.
//!
//! The outermost resilience attribute takes every resilience attribute below it (see
//! [`Function::take_stack`]) and rewrites the function once:
//!
//! ```text
//! async fn charge(&self, amount: u64) -> Result<Receipt, PaymentError> {
//!     struct __ResilienceSite;                     // names the instances after this function
//!     static __RESILIENCE_0: Site<RetryPolicy> = …; // one const-built static per layer
//!     static __RESILIENCE_1: Site<CircuitBreaker> = …;
//!     let outcome = {                              // retry: a loop, in place
//!         let mut call = __RESILIENCE_0.get().call();  // a few words; more at a retry
//!         loop {
//!             /* fresh clones of owned arguments */
//!             let outcome;                         // the attempt's, written by the breaker
//!             '__resilience_1: {                   // breaker: in place
//!                 let permit = match __RESILIENCE_1.get().admit() {
//!                     Ok(permit) => permit,
//!                     Err(rejected) => {
//!                         outcome = Err(Failure::Rejected(rejected));
//!                         break '__resilience_1;
//!                     }
//!                 };
//!                 outcome = body::<Result<Receipt, PaymentError>, _>(
//!                     async move { /* the block */ },
//!                 ).await;
//!                 permit.record(&outcome, every_error);
//!             }
//!             match call.after(&__RESILIENCE_0, &outcome, every_error, no_hint) {
//!                 Some(delay) => { drop(outcome); call.pause(delay).await }
//!                 None => break outcome,
//!             }
//!         }
//!     };
//!     finish(outcome)                              // Failure<E> -> E, at the boundary only
//! }
//! ```
//!
//! Every layer is written *in place* where it can be: as a block of the function's own future,
//! its permit or loop state locals of that future, rather than as a future of its own nested
//! in it, which costs a state machine per layer and moves of the outcome through each. A layer
//! is in place when the code above it awaits it in a statement of its own: the function
//! itself, a retry's loop, a fallback, or an unkeyed breaker or bulkhead that is itself in
//! place ([`in_place`], [`Stage`]). A timeout, a rate limiter, a hedge and keyed instances
//! run the layers below them as a future (`Site::run`, `KeyedRef::run`), and a retry or
//! fallback below them is then an `async` block.
//!
//! A stack of unkeyed bulkheads only looks at nothing the body gives, so it goes further: the
//! user's block is not a future of its own but the function's own statements, after the
//! slots ([`Gen::around_block`]).
//!
//! Under a retry's loop, an in-place breaker writes the attempt's outcome into the loop's
//! local ([`Stage::Writing`]) instead of giving it as its block's value: the value was copied
//! on its way to the loop, and a three-deep stack ran 6 to 10 ns a call slower for it.
//!
//! Between layers the outcome is `Result<T, Failure<E>>`, so an outer layer tells the user's
//! errors from inner rejections by type. How the user's block becomes one attempt's future
//! (its output type fixed to the declared return type, `async move`, a receiver and `&mut`
//! arguments of its own under retry and fallback) is [`body`]'s part.
//!
//! Retry re-uses the arguments, so its block owns the originals (`let x = x;`, rather than
//! borrowing them across its awaits) and clones them at the top of every attempt; `&mut self`
//! is reborrowed per attempt, which a closure per attempt could not do.
//!
//! An attribute that finds the function already rewritten by another (only possible when
//! the outer one did not recognise it, as with `#[res::retry] #[res::circuit_breaker]` through
//! `use resilience as res;` without `crate = "res"`) refuses to compile: wrapping the rewritten
//! function would silently run the stack in the opposite order.

mod attempts;

use proc_macro2::{Literal, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned as _;
use syn::visit_mut::VisitMut;
use syn::{ReturnType, Type};

use self::attempts::Hedging;
use crate::args::{Errors, Kind, Layer, LayerArgs, Policy, Spanned};
use crate::item::{Arg, Function, ReceiverKind};
use crate::{args, body, paths, validate};

/// Entry point shared by every attribute: parse, validate, expand; on any error, the
/// function without its resilience attributes plus every error as a `compile_error!`.
pub(crate) fn attribute(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    if is_stacked_marker(&args) {
        return item;
    }
    let mut function = match Function::parse(item.clone()) {
        Ok(function) => function,
        Err(error) => {
            let error = syn::Error::new(
                error.span(),
                format!(
                    "#[{}] applies to `async fn` items with a body: {error}",
                    kind.name()
                ),
            );
            let error = error.into_compile_error();
            return quote!(#item #error);
        }
    };
    let mut errors = Errors::default();
    if function.is_expanded() {
        errors.add(syn::Error::new(
            Span::call_site(),
            format!(
                "#[{}] is written below a resilience attribute that has already rewritten this function, \
                 so it would run outside that attribute: the stack would be silently reordered. \
                 This happens when the attributes are written through another name for the crate \
                 (`use resilience as res;`): add `crate = \"res\"` to the outermost attribute, \
                 like #[res::retry(crate = \"res\")], so it takes the whole stack in the written order",
                kind.name()
            ),
        ));
        let error = errors.finish().err().map(syn::Error::into_compile_error);
        return quote!(#item #error);
    }
    let mut layers: Vec<Layer> = errors
        .push(Layer::parse(kind, Span::call_site(), args))
        .into_iter()
        .collect();
    let krate = layers
        .first()
        .and_then(|layer| layer.krate.as_ref())
        .map(|krate| krate.value.clone());
    layers.extend(function.take_stack(krate.as_ref(), &mut errors));
    validate::function(&function, kind, &layers, &mut errors);
    if let Some(lent) = function.lent_from_mut() {
        for layer in layers
            .iter()
            .filter(|l| matches!(l.kind, Kind::Retry | Kind::Fallback))
        {
            errors.add(syn::Error::new_spanned(
                &lent,
                format!(
                    "#[{}] cannot return a borrow of a `&mut` argument or `&mut self`: every attempt \
                     reborrows it, and a borrow returned by one attempt would have to outlive the \
                     next attempt's; return an owned value (clone what you return), or put the \
                     attribute on a function that does not lend from `&mut`",
                    layer.kind.name()
                ),
            ));
        }
    }
    for layer in &layers {
        validate::layer(layer, &mut errors);
    }
    match errors.finish() {
        Ok(()) => expand(function, &layers),
        Err(error) => {
            let item = &function.item;
            let error = error.into_compile_error();
            quote!(#item #error)
        }
    }
}

/// Whether this attribute was already taken into an outer attribute's pipeline.
fn is_stacked_marker(args: &TokenStream) -> bool {
    let mut tokens = args.clone().into_iter();
    matches!(
        (tokens.next(), tokens.next()),
        (Some(proc_macro2::TokenTree::Ident(ident)), None) if ident == crate::item::STACKED
    )
}

fn expand(function: Function, layers: &[Layer]) -> TokenStream {
    let p = paths::private(layers);
    let Function {
        item,
        args,
        receiver,
        receiver_span,
    } = function;
    let syn::ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = item;
    let (inner_attrs, attrs): (Vec<_>, Vec<_>) = attrs
        .into_iter()
        .partition(|attr| matches!(attr.style, syn::AttrStyle::Inner(_)));
    // Validation guarantees a return type; `()` keeps this total all the same.
    let (ret, ret_span) = match &sig.output {
        ReturnType::Type(_, declared) => (output_type(declared), declared.span()),
        ReturnType::Default => (syn::parse_quote!(()), sig.ident.span()),
    };

    let p_ret = respan(&p, ret_span);
    let site = format_ident!("{}", crate::item::SITE).into_token_stream();
    let gen = Gen {
        p: &p,
        site: &site,
        ret: &ret,
        ret_span,
        args: &args,
        has_receiver: receiver.is_some(),
        receiver,
        hedging: Hedging::of(layers),
    };
    let (statics, body) = if let Some(bulkheads) = only_bulkheads(layers, receiver) {
        gen.around_block(&bulkheads, &block)
    } else {
        let user_body = body::BodyFuture {
            p_ret: &p_ret,
            p: &p,
            ret: &ret,
            ret_span,
            args: &args,
            receiver,
            receiver_span,
            reused: layers
                .iter()
                .any(|l| matches!(l.kind, Kind::Retry | Kind::Fallback | Kind::Hedge)),
            receiver_reused: layers.iter().any(|l| match &l.args {
                LayerArgs::Retry(_) | LayerArgs::Hedge(_) => true,
                LayerArgs::Fallback(a) => passes_self(&a.function.value),
                _ => false,
            }),
            hedged: layers.iter().any(|l| l.kind == Kind::Hedge),
        };
        let mut pipeline = Stage::Future(user_body.future(*block));
        let mut statics = Vec::new();
        let in_place = in_place(layers);
        for (index, layer) in layers.iter().enumerate().rev() {
            let (item, wrapped) = gen.layer(layer, &layer_id(index), &pipeline, in_place[index]);
            statics.extend(item);
            pipeline = wrapped;
        }
        let pipeline = pipeline.outcome();
        // Spanned on the return type: a missing `E: From<Rejected>` is reported there rather
        // than on the attribute.
        let outcome = quote_spanned!(ret_span=> __resilience_outcome);
        let finish = quote_spanned!(ret_span=> #p_ret::finish(#outcome));
        (statics, quote!(let #outcome = #pipeline; #finish))
    };
    quote! {
        #(#attrs)*
        #vis #sig {
            #(#inner_attrs)*
            #[allow(dead_code)]
            struct #site;
            #(#statics)*
            #body
        }
    }
}

/// The name of layer `index`'s `static`, counted from the outermost.
fn layer_id(index: usize) -> syn::Ident {
    format_ident!("__RESILIENCE_{}", index, span = Span::mixed_site())
}

/// A stack of unkeyed bulkheads only, which is written around the user's block itself
/// ([`Gen::around_block`]) unless the function takes `self` by value: the receiver cannot be moved
/// into a local declared after the slots, and must be dropped before they go back.
fn only_bulkheads(
    layers: &[Layer],
    receiver: Option<ReceiverKind>,
) -> Option<Vec<&args::BulkheadArgs>> {
    if receiver == Some(ReceiverKind::Owned) {
        return None;
    }
    layers
        .iter()
        .map(|layer| match &layer.args {
            LayerArgs::Bulkhead(a) if a.keyed.key.is_none() => Some(a),
            _ => None,
        })
        .collect()
}

/// Which layers are awaited in a statement of their own, and so written in place ([`Stage`]):
/// the outermost, and any under a retry's loop, a fallback, or an unkeyed breaker or
/// bulkhead that is itself in place.
fn in_place(layers: &[Layer]) -> Vec<bool> {
    let mut in_place: Vec<bool> = Vec::with_capacity(layers.len());
    for index in 0..layers.len() {
        let here = index == 0 || {
            let above = &layers[index - 1];
            match &above.args {
                LayerArgs::Retry(_) | LayerArgs::Fallback(_) => true,
                LayerArgs::CircuitBreaker(a) => in_place[index - 1] && a.keyed.key.is_none(),
                LayerArgs::Bulkhead(a) => in_place[index - 1] && a.keyed.key.is_none(),
                _ => false,
            }
        };
        in_place.push(here);
    }
    in_place
}

/// What every layer's generation needs to know about the function.
struct Gen<'a> {
    p: &'a TokenStream,
    site: &'a TokenStream,
    ret: &'a Type,
    ret_span: Span,
    args: &'a [Arg],
    has_receiver: bool,
    receiver: Option<ReceiverKind>,
    hedging: Hedging,
}

/// The pipeline as far as it is built: the future of the layers so far, or, for a layer in
/// place, an expression that makes the call where the caller awaits it and gives its outcome.
enum Stage {
    Future(TokenStream),
    InPlace(TokenStream),
    /// In place, and also as statements that write the outcome into [`outcome_place`],
    /// declared by the layer above: a retry's loop takes an in-place breaker's outcome so,
    /// written once where the retry judges it. Handed on as the value of the breaker's block
    /// instead, it was copied on the way (that and what it did to the frame cost a
    /// three-deep stack 6 to 10 ns a call, in the `awaiting` bench group).
    Writing {
        outcome: TokenStream,
        write: TokenStream,
    },
}

/// The local that holds an attempt's outcome where a retry judges it, and that a
/// [`Stage::Writing`] below writes.
fn outcome_place() -> TokenStream {
    quote_spanned!(Span::mixed_site()=> __outcome)
}

impl Stage {
    /// The outcome, in an `async` context: the future awaited, or the expression itself.
    fn outcome(&self) -> TokenStream {
        match self {
            Self::Future(future) => quote!(#future.await),
            Self::InPlace(outcome) | Self::Writing { outcome, .. } => outcome.clone(),
        }
    }

    /// The future, for a layer that runs one. (A layer is in place only under one that takes
    /// its outcome; an `async` block keeps this total all the same.)
    fn future(&self) -> TokenStream {
        match self {
            Self::Future(future) => future.clone(),
            Self::InPlace(outcome) | Self::Writing { outcome, .. } => {
                quote!(async move { #outcome })
            }
        }
    }

    /// Statements that bind [`outcome_place`] to the outcome: written into it by the stage
    /// itself where it can.
    fn bind(&self) -> TokenStream {
        let place = outcome_place();
        if let Self::Writing { write, .. } = self {
            return quote!(let #place; #write);
        }
        let outcome = self.outcome();
        quote!(let #place = #outcome;)
    }
}

impl Gen<'_> {
    /// The layer's `static` (if it has state) and the pipeline wrapped in the layer; `in_place`:
    /// the layer above takes this one's outcome in a statement of its own.
    fn layer(
        &self,
        layer: &Layer,
        id: &syn::Ident,
        inner: &Stage,
        in_place: bool,
    ) -> (Option<TokenStream>, Stage) {
        let p = self.p;
        let (item, future) = match &layer.args {
            LayerArgs::CircuitBreaker(a) => return self.breaker(a, id, inner, in_place),
            LayerArgs::Bulkhead(a) => return self.bulkhead(a, id, inner, in_place),
            LayerArgs::RateLimit(a) => self.rate_limit(a, id, &inner.future()),
            LayerArgs::Timeout(a) => {
                let name = self.name(None);
                let limit = duration(a.limit.value);
                let item = quote! {
                    static #id: #p::Site<#p::Timeout> = #p::Site::new(#p::Timeout::new(#name, #limit));
                };
                let inner = inner.future();
                (Some(item), quote!(#id.get().run(#inner)))
            }
            LayerArgs::Retry(a) => return self.retry(a, id, &inner.bind(), in_place),
            LayerArgs::Hedge(a) => self.hedge(a, id, &inner.future()),
            LayerArgs::Fallback(a) => {
                return (None, self.fallback(a, id, &inner.outcome(), in_place))
            }
        };
        (item, Stage::Future(future))
    }

    /// The breaker's `static`, configured with only what the user wrote, and the call through
    /// it. In place (unkeyed, awaited in a statement of its own): admission, the awaited call and
    /// its record written where the caller awaits, the permit a local of the caller's future,
    /// so the call is one state machine rather than the body's inside a `BreakerRun`'s (28
    /// instructions over a plain call instead of 51, `benches/benches/instructions.rs`). A
    /// cancellation drops the permit unsettled; a panic in the body drops it while unwinding,
    /// which records a failure, as `BreakerRun`'s guard does.
    fn breaker(
        &self,
        a: &args::BreakerArgs,
        id: &syn::Ident,
        inner: &Stage,
        in_place: bool,
    ) -> (Option<TokenStream>, Stage) {
        let p = self.p;
        let name = self.name(a.name.as_ref());
        let mut config = quote!(#p::BreakerConfig::new(#name));
        if a.shared.is_some() {
            config.extend(quote!(.with_fleet()));
        }
        if a.threshold.is_some() || a.failure_rate.is_some() {
            let policy = match a.policy() {
                Policy::Consecutive { threshold } => {
                    quote!(#p::TripPolicy::Consecutive { threshold: #threshold })
                }
                Policy::FailureRate {
                    failure_rate,
                    window,
                    min_calls,
                } => {
                    let rate = Literal::f64_suffixed(failure_rate);
                    quote!(#p::TripPolicy::FailureRate { failure_rate: #rate, window: #window, min_calls: #min_calls })
                }
                Policy::TimeWindow {
                    failure_rate,
                    window,
                    buckets,
                    min_calls,
                } => {
                    let rate = Literal::f64_suffixed(failure_rate);
                    let window = duration(window);
                    quote!(#p::TripPolicy::TimeWindow { failure_rate: #rate, window: #window, buckets: #buckets, min_calls: #min_calls })
                }
            };
            config.extend(quote!(.with_policy(#policy)));
        }
        if let Some(timeout) = &a.timeout {
            let open_for = duration(timeout.value);
            config.extend(quote!(.with_open_for(#open_for)));
        }
        if let Some(timeout_max) = &a.timeout_max {
            let open_for_max = duration(timeout_max.value);
            config.extend(quote!(.with_open_for_max(#open_for_max)));
        }
        if let Some(half_open) = &a.half_open {
            let half_open = half_open.value;
            config.extend(quote!(.with_half_open(#half_open)));
        }
        if let Some(slow_call) = &a.slow_call {
            let slow_call = duration(slow_call.value);
            config.extend(quote!(.with_slow_call(#slow_call)));
        }
        if let Some(rate) = &a.slow_call_rate {
            let rate = Literal::f64_suffixed(rate.value);
            config.extend(quote!(.with_slow_call_rate(#rate)));
        }
        let mut predicate = self.predicate(a.failure_if.as_ref());
        if let Some(ignore_if) = &a.ignore_if {
            // Spanned on the user's path: a predicate of the wrong type is reported there.
            let span = ignore_if.span;
            let (p, ignore_if) = (respan(p, span), &ignore_if.value);
            predicate = quote_spanned!(span=> #p::ignore_if(#ignore_if, #predicate));
        }
        let ty = quote!(#p::CircuitBreaker);
        if !in_place || a.keyed.key.is_some() {
            let inner = inner.future();
            let run = quote!(.run(#inner, #predicate));
            let (item, future) = self.site(&a.keyed, id, &ty, &config, &run);
            return (item, Stage::Future(future));
        }
        let item = self.unkeyed(id, &ty, &config);
        let admit = |rejected: &TokenStream, reject: &TokenStream| {
            let permit = quote_spanned!(Span::mixed_site()=> __permit);
            quote! {
                match #id.get().admit() {
                    ::core::result::Result::Ok(#permit) => #permit,
                    ::core::result::Result::Err(#rejected) => #reject,
                }
            }
        };
        // The outcome is lent to the permit from a local: handing it to the permit by value
        // and back made LLVM keep a success in memory (71 instructions over a plain call,
        // against 28).
        let outcome = outcome_place();
        let call = self.in_place(id, &admit, inner, false, |permit, awaited| {
            quote! {
                let #outcome = #awaited;
                #permit.record(&#outcome, #predicate);
                #outcome
            }
        });
        let write = self.in_place(id, &admit, inner, true, |permit, awaited| {
            quote! {
                #outcome = #awaited;
                #permit.record(&#outcome, #predicate);
            }
        });
        let stage = Stage::Writing {
            outcome: call,
            write,
        };
        (Some(item), stage)
    }

    /// The bulkhead's `static`, configured with only what the user wrote, and the call through
    /// it: in place (unkeyed, awaited in a statement of its own), the slot taken where the
    /// caller awaits ([`take_slot`]), held across the call as a local of the caller's future
    /// and given back after the body's future is dropped.
    fn bulkhead(
        &self,
        a: &args::BulkheadArgs,
        id: &syn::Ident,
        inner: &Stage,
        in_place: bool,
    ) -> (Option<TokenStream>, Stage) {
        let p = self.p;
        let ty = quote!(#p::Bulkhead);
        let config = self.bulkhead_config(a);
        if !in_place || a.keyed.key.is_some() {
            let inner = inner.future();
            let (item, future) = self.site(&a.keyed, id, &ty, &config, &quote!(.run(#inner)));
            return (item, Stage::Future(future));
        }
        let item = self.unkeyed(id, &ty, &config);
        let admit = |rejected: &TokenStream, reject: &TokenStream| take_slot(id, rejected, reject);
        // The slot is a local of the block whose value is the outcome, so it goes back as the
        // block ends: after the body's future, which the `.await` drops as it finishes. A
        // cancellation or a panic drops them in that order too. (No `let` of the outcome
        // first: that would copy it once more on its way out.)
        let call = self.in_place(id, &admit, inner, false, |_, outcome| outcome.clone());
        (Some(item), Stage::InPlace(call))
    }

    /// For a stack of unkeyed bulkheads only: the `static` of each, and the function's
    /// statements, which take the slots, outermost first, then run the user's block as the
    /// function's own.
    ///
    /// Nothing in such a stack looks at the body's outcome, so the body need not be a future
    /// of its own: a `return` or `?` in it leaves the function as it would without the
    /// attributes, giving the slots back on the way. That saves the nested future, its state
    /// and a second copy of every argument (a bulkhead with its body out of line ran about
    /// 1 ns a call faster, in the `bulkhead` bench group). As in a future of its own,
    /// everything the body owns is dropped before the slots go back: owned arguments are
    /// moved into locals after the slots ([`moves`](Self::moves)), and the block's value is
    /// bound before the slots go back, so temporaries of its last expression are dropped
    /// first in every edition. That binding is typed with the declared return type, so
    /// `Ok(Arc::new(Memory))` still coerces to `Result<Arc<dyn Backend>, _>` as the tail of a
    /// plain function does; the block is a `match` arm so that a body that never finishes
    /// (`panic!(..)`) is no "diverging sub-expression" to clippy, and the statement after it no
    /// "unreachable expression" to rustc.
    fn around_block(
        &self,
        bulkheads: &[&args::BulkheadArgs],
        block: &syn::Block,
    ) -> (Vec<TokenStream>, TokenStream) {
        let p = self.p;
        let p_ret = respan(p, self.ret_span);
        let ty = quote!(#p::Bulkhead);
        let (slot, rejected) = (
            quote_spanned!(Span::mixed_site()=> __slot),
            quote_spanned!(Span::mixed_site()=> __rejected),
        );
        // Spanned on the return type: a missing `E: From<Rejected>` is reported there.
        let reject = quote_spanned!(self.ret_span=> return #p_ret::rejected(#rejected));
        let (mut items, mut body) = (Vec::new(), TokenStream::new());
        for (index, a) in bulkheads.iter().enumerate() {
            let id = layer_id(index);
            items.push(self.unkeyed(&id, &ty, &self.bulkhead_config(a)));
            let take = take_slot(&id, &rejected, &reject);
            body.extend(quote!(let #slot = #take;));
        }
        body.extend(self.moves());
        let (ret, stmts) = (self.ret, &block.stmts);
        let outcome = outcome_place();
        body.extend(quote! {
            let #outcome: #ret = match () {
                () => { #(#stmts)* }
            };
            #[allow(unreachable_code)]
            return #outcome;
        });
        (items, body)
    }

    /// The bulkhead's configuration, with only what the user wrote.
    fn bulkhead_config(&self, a: &args::BulkheadArgs) -> TokenStream {
        let p = self.p;
        let name = self.name(a.name.as_ref());
        // Validation guarantees `max`; 1 keeps this total all the same.
        let max = a.max.as_ref().map_or(1, |m| m.value);
        let mut config = quote!(#p::BulkheadConfig::new(#name, #max));
        if let Some(wait) = &a.max_wait {
            let wait = duration(wait.value);
            config.extend(quote!(.with_max_wait(#wait)));
        }
        if let Some(queue) = &a.queue {
            let queue = queue.value;
            config.extend(quote!(.with_queue(#queue)));
        }
        config
    }

    /// The `static` of an unkeyed breaker, bulkhead or rate limiter built from `config`.
    fn unkeyed(&self, id: &syn::Ident, ty: &TokenStream, config: &TokenStream) -> TokenStream {
        let p = self.p;
        quote! {
            static #id: #p::Site<#ty> = #p::Site::new(#ty::new(#config));
        }
    }

    /// A layer written where its caller awaits it: the permit from `admit` (given the name
    /// of a rejection and the statement that makes it the block's outcome, as `run`'s future
    /// would give it), then what `settle` makes of the permit and the call awaited (the
    /// permit held meanwhile). A rejection leaves by a labelled `break`, so no path merges it
    /// with a success before the block's end. With `write`, the block has no value: it writes
    /// the outcome into [`outcome_place`] ([`Stage::Writing`]), a rejection before its
    /// `break`, and `settle` the rest.
    fn in_place(
        &self,
        id: &syn::Ident,
        admit: &dyn Fn(&TokenStream, &TokenStream) -> TokenStream,
        inner: &Stage,
        write: bool,
        settle: impl FnOnce(&TokenStream, &TokenStream) -> TokenStream,
    ) -> TokenStream {
        let p = self.p;
        let label = label(id);
        let (permit, rejected) = (
            quote_spanned!(Span::mixed_site()=> __permit),
            quote_spanned!(Span::mixed_site()=> __rejected),
        );
        let rejection = quote!(::core::result::Result::Err(#p::Failure::Rejected(#rejected)));
        let reject = if write {
            let place = outcome_place();
            quote!({ #place = #rejection; break #label; })
        } else {
            quote!(break #label #rejection)
        };
        let admit = admit(&rejected, &reject);
        let outcome = settle(&permit, &inner.outcome());
        quote! {
            #label: {
                let #permit = #admit;
                #outcome
            }
        }
    }

    /// The rate limiter's `static`, configured with only what the user wrote.
    fn rate_limit(
        &self,
        a: &args::RateLimitArgs,
        id: &syn::Ident,
        inner: &TokenStream,
    ) -> (Option<TokenStream>, TokenStream) {
        let p = self.p;
        let name = self.name(a.name.as_ref());
        // Validation guarantees `rate`; 1 keeps this total all the same.
        let rate = a.rate.as_ref().map_or(1, |r| r.value);
        let mut config = quote!(#p::RateLimitConfig::new(#name, #rate));
        if a.shared.is_some() {
            config.extend(quote!(.with_fleet()));
        }
        if let Some(per) = &a.per {
            let per = duration(per.value);
            config.extend(quote!(.with_per(#per)));
        }
        if let Some(burst) = &a.burst {
            let burst = burst.value;
            config.extend(quote!(.with_burst(#burst)));
        }
        if let Some(wait) = &a.max_wait {
            let wait = duration(wait.value);
            config.extend(quote!(.with_max_wait(#wait)));
        }
        let ty = quote!(#p::RateLimiter);
        self.site(&a.keyed, id, &ty, &config, &quote!(.run(#inner)))
    }

    /// The `static` of a breaker, bulkhead or rate limiter built from `config`, and the call
    /// `run` on it. Keyed (`key = expr`): a `Keyed` site, and `run` on the key's instance,
    /// held for the call (`KeyedRun`); the key expression is evaluated first, in a statement
    /// of its own, borrowed, and spanned on the user's tokens so a key that is not
    /// `Hash + Display` is reported there.
    fn site(
        &self,
        keyed: &args::KeyedArgs,
        id: &syn::Ident,
        ty: &TokenStream,
        config: &TokenStream,
        run: &TokenStream,
    ) -> (Option<TokenStream>, TokenStream) {
        let p = self.p;
        let Some(key) = &keyed.key else {
            return (Some(self.unkeyed(id, ty, config)), quote!(#id.get()#run));
        };
        let max_keys = keyed
            .max_keys
            .as_ref()
            .map_or(resilience_config::keyed::DEFAULT_MAX_KEYS, |m| m.value);
        let item = quote! {
            static #id: #p::Keyed<#ty> = #p::Keyed::new(#ty::new(#config), #max_keys);
        };
        let (span, expr) = (key.span, &key.value);
        let p_key = respan(p, span);
        let key = quote_spanned!(span=> #p_key::key(&(#expr)));
        // The key in a statement of its own: its temporaries (a lock guard the key was read
        // through, say) end there, not at the end of the statement awaiting the call. A
        // block, not an `async` block, which would keep its captures beside the call's future.
        let entry = quote_spanned!(Span::mixed_site()=> __entry);
        let call = quote! {
            {
                let #entry = #id.get(#key);
                #entry #run
            }
        };
        (Some(item), call)
    }

    /// `InstanceName::given("payment")`, or the function's own path.
    fn name(&self, given: Option<&Spanned<syn::LitStr>>) -> TokenStream {
        let p = self.p;
        let site = self.site;
        match given {
            Some(name) => {
                let name = &name.value;
                quote!(#p::InstanceName::given(#name))
            }
            None => quote!(#p::InstanceName::site::<#site>()),
        }
    }

    /// The user's `fn(&E) -> bool`, or one that accepts every error.
    fn predicate(&self, path: Option<&Spanned<syn::Path>>) -> TokenStream {
        let p = self.p;
        match path {
            Some(path) => path.value.to_token_stream(),
            None => quote!(#p::every_error),
        }
    }
}

/// A block whose value is a slot of the bulkhead `id`: taken at once if one is free, else
/// by waiting on `Bulkhead::wait`; a refused wait names the rejection `rejected` and runs
/// `reject`, which leaves the block.
fn take_slot(id: &syn::Ident, rejected: &TokenStream, reject: &TokenStream) -> TokenStream {
    let slot = quote_spanned!(Span::mixed_site()=> __slot);
    let acquired = syn::Lifetime::new(&format!("{}_slot", label(id)), Span::mixed_site());
    // `if let`, not a `match` with the wait in an arm: the `Option` it tests is then gone
    // before the wait, not kept in the call's future (with a drop flag) beside the slot.
    // The wait answers an `Option` and the rejection is built inline after it, so no call
    // out of line writes a `Rejected` into this frame (`bulkhead` module docs, "The
    // wait's output").
    quote! {
        #acquired: {
            if let ::core::option::Option::Some(#slot) = #id.get().try_acquire() {
                break #acquired #slot;
            }
            match #id.get().wait().await {
                ::core::option::Option::Some(#slot) => #slot,
                ::core::option::Option::None => {
                    let #rejected = #id.get().refusal();
                    #reject
                }
            }
        }
    }
}

/// The label of a layer's block (`'__resilience_0`), left early by a labelled `break`.
fn label(id: &syn::Ident) -> syn::Lifetime {
    syn::Lifetime::new(
        &format!("'{}", id.to_string().to_lowercase()),
        Span::mixed_site(),
    )
}

/// Whether a fallback path names a method of `Self`, which is passed the receiver.
fn passes_self(function: &syn::Path) -> bool {
    function.segments.first().is_some_and(|s| s.ident == "Self")
}

/// The user's identifier, resolved as the user wrote it but marked as macro output: the copies
/// generated code makes of an argument are not the user's code, so lints about using a
/// binding (`clippy::used_underscore_binding`) stay quiet, while errors (a missing `Clone`)
/// still point at the argument.
pub(crate) fn at_call_site(ident: &syn::Ident) -> syn::Ident {
    let mut ident = ident.clone();
    ident.set_span(Span::call_site().located_at(ident.span()));
    ident
}

/// The same tokens, every one spanned at `span`, so a diagnostic about the whole expression
/// points at the user's token instead of the attribute.
pub(crate) fn respan(tokens: &TokenStream, span: Span) -> TokenStream {
    tokens
        .clone()
        .into_iter()
        .map(|mut token| {
            if let proc_macro2::TokenTree::Group(group) = &token {
                let mut inner =
                    proc_macro2::Group::new(group.delimiter(), respan(&group.stream(), span));
                inner.set_span(span);
                token = inner.into();
            } else {
                token.set_span(span);
            }
            token
        })
        .collect()
}

fn duration(nanos: u64) -> TokenStream {
    quote!(::core::time::Duration::from_nanos(#nanos))
}

/// The declared return type with every `impl Trait` replaced by `_`, to name the body's output.
fn output_type(declared: &Type) -> Type {
    struct InferImplTrait;
    impl VisitMut for InferImplTrait {
        fn visit_type_mut(&mut self, ty: &mut Type) {
            if let Type::ImplTrait(it) = ty {
                *ty = Type::Infer(syn::TypeInfer {
                    underscore_token: syn::Token![_](it.span()),
                });
            } else {
                syn::visit_mut::visit_type_mut(self, ty);
            }
        }
    }
    let mut ty = declared.clone();
    InferImplTrait.visit_type_mut(&mut ty);
    ty
}

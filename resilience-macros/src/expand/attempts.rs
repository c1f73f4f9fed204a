//! The layers that make more than one attempt of the body: `#[retry]` (a loop, each attempt
//! with fresh clones of the owned arguments), `#[hedge]` (a closure making attempt `k`, run by
//! the runtime) and `#[fallback]` (a second call when the first fails), and where a hedge
//! sits among them ([`Hedging`]).

use proc_macro2::{Literal, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};

use super::{at_call_site, duration, label, outcome_place, passes_self, respan, Gen, Stage};
use crate::args::{self, JitterKind, Kind, Layer, LayerArgs};
use crate::body;
use crate::item::ReceiverKind;

/// Where a `#[hedge]` sits in the stack, for the layers around it.
#[derive(Clone, Copy, Default)]
pub(super) struct Hedging {
    /// A `#[retry]` above a `#[hedge(context = ..)]`: the retry keeps an attempt (even without
    /// a `context` of its own) that the hedges of each of its attempts share.
    retry_feeds_context: bool,
    /// A `#[retry]` or `#[fallback]` below the hedge: their blocks borrow the attempt's
    /// copies, so each attempt is an `async move` block owning them.
    reuse_below: bool,
    /// A `#[retry(context = ..)]` below the hedge: its attempts start from the hedge's, so
    /// every retry of every hedged attempt shares one call id.
    feeds_retry: bool,
}

impl Hedging {
    pub(super) fn of(layers: &[Layer]) -> Self {
        let Some(at) = layers.iter().position(|l| l.kind == Kind::Hedge) else {
            return Self::default();
        };
        let has_context = matches!(&layers[at].args, LayerArgs::Hedge(a) if a.context.is_some());
        Self {
            retry_feeds_context: has_context && layers[..at].iter().any(|l| l.kind == Kind::Retry),
            reuse_below: layers[at + 1..]
                .iter()
                .any(|l| matches!(l.kind, Kind::Retry | Kind::Fallback)),
            feeds_retry: layers[at + 1..]
                .iter()
                .any(|l| matches!(&l.args, LayerArgs::Retry(a) if a.context.is_some())),
        }
    }
}

impl Gen<'_> {
    /// The retry loop, inline: fresh clones of the owned arguments for every attempt;
    /// `attempt` binds one attempt's outcome (the layers below, awaited) to
    /// [`outcome_place`] ([`Stage::bind`]). In place, the loop is a block of the caller's
    /// future; otherwise an `async` block of its own.
    pub(super) fn retry(
        &self,
        a: &args::RetryArgs,
        id: &syn::Ident,
        attempt: &TokenStream,
        in_place: bool,
    ) -> (Option<TokenStream>, Stage) {
        let p = self.p;
        let config = self.retry_config(a);
        let predicate = self.predicate(a.retry_if.as_ref());
        let hint = match &a.retry_after {
            Some(path) => path.value.to_token_stream(),
            None => quote!(#p::no_hint),
        };
        let clones = self.fresh_clones();
        // In place, the caller's future already owns the originals: no copy to move them in.
        let moves = if in_place {
            TokenStream::new()
        } else {
            self.moves()
        };
        let call = quote_spanned!(Span::mixed_site()=> __retry);
        let outcome = outcome_place();
        let delay = quote_spanned!(Span::mixed_site()=> __delay);
        let item = quote! {
            static #id: #p::Site<#p::RetryPolicy> = #p::Site::new(#p::RetryPolicy::new(
                #config,
            ));
        };
        // `context = name`: the attempt, bound where the body can see it, advanced per retry.
        // A hedge below with a context of its own starts its attempts from this one.
        let current = quote_spanned!(Span::mixed_site()=> __attempt);
        let first = if self.hedging.feeds_retry {
            quote_spanned!(Span::mixed_site()=> __hedge_attempt)
        } else {
            quote!(#p::Attempt::first())
        };
        let (context_init, context_bind, context_next) =
            match (&a.context, self.hedging.retry_feeds_context) {
                (Some(context), _) => {
                    let name = &context.value;
                    (
                        quote!(let mut #current = #first;),
                        quote!(let #name = #current;),
                        quote!(#current = #current.next();),
                    )
                }
                (None, true) => (
                    quote!(let mut #current = #p::Attempt::first();),
                    TokenStream::new(),
                    quote!(#current = #current.next();),
                ),
                (None, false) => Default::default(),
            };
        // The outcome's scope ends before the pause, so it is not kept across that await: the
        // future holds either an attempt or a pause, and the call's retry state (`RetryCall`:
        // a few words, the rest allocated at the first retry).
        let block = quote! {
            {
                #moves
                let mut #call = #id.get().call();
                #context_init
                loop {
                    #clones
                    #context_bind
                    let #delay = {
                        #attempt
                        match #call.after(&#id, &#outcome, #predicate, #hint) {
                            ::core::option::Option::Some(#delay) => #delay,
                            ::core::option::Option::None => break #outcome,
                        }
                    };
                    #call.pause(#delay).await;
                    #context_next
                }
            }
        };
        let stage = if in_place {
            Stage::InPlace(block)
        } else {
            Stage::Future(quote!(async #block))
        };
        (Some(item), stage)
    }

    /// The hedge: a closure making attempt `k`, each with fresh clones of the owned arguments
    /// (owned by the closure, so the call's future needs no `Sync`), run by the runtime.
    pub(super) fn hedge(
        &self,
        a: &args::HedgeArgs,
        id: &syn::Ident,
        inner: &TokenStream,
    ) -> (Option<TokenStream>, TokenStream) {
        let p = self.p;
        let name = self.name(a.name.as_ref());
        let delay = match a.delay.as_ref().map(|d| d.value) {
            Some(args::Delay::Percentile(permille)) => {
                quote!(#p::HedgeDelay::Percentile(#permille))
            }
            // Validation guarantees `delay`; zero keeps this total all the same.
            Some(args::Delay::After(nanos)) => {
                let delay = duration(nanos);
                quote!(#p::HedgeDelay::After(#delay))
            }
            None => quote!(#p::HedgeDelay::After(::core::time::Duration::ZERO)),
        };
        let mut config = quote!(#p::HedgeConfig::new(#name, #delay));
        if let Some(max) = &a.max {
            let max = max.value;
            config.extend(quote!(.with_max(#max)));
        }
        if let Some(budget) = &a.budget {
            let budget = Literal::f64_suffixed(budget.value);
            config.extend(quote!(.with_budget(#budget)));
        }
        let item = quote! {
            static #id: #p::Site<#p::Hedge> = #p::Site::new(#p::Hedge::new(#config));
        };
        let index = quote_spanned!(Span::mixed_site()=> __hedge);
        // `context = name`: every attempt shares the call id (an outer retry's, if any); a
        // retry with a context below starts from the hedged attempt's.
        let base = quote_spanned!(Span::mixed_site()=> __hedge_base);
        let source = if self.hedging.retry_feeds_context {
            quote_spanned!(Span::mixed_site()=> __attempt)
        } else {
            quote!(#p::Attempt::first())
        };
        let context_init = if a.context.is_some() || self.hedging.feeds_retry {
            quote!(let #base = #source;)
        } else {
            TokenStream::new()
        };
        let mut context_bind = TokenStream::new();
        if let Some(context) = &a.context {
            let name = &context.value;
            context_bind.extend(quote!(let #name = #base.hedged(#index);));
        }
        if self.hedging.feeds_retry {
            let attempt = quote_spanned!(Span::mixed_site()=> __hedge_attempt);
            context_bind.extend(quote!(let #attempt = #base.hedged(#index);));
        }
        // An owned receiver stays where it is (a layer above may still use it); the closure
        // holds a copy, and each attempt a copy of that.
        let (receiver_init, receiver_bind) = if self.receiver == Some(ReceiverKind::Owned) {
            let held = quote_spanned!(Span::mixed_site()=> __hedge_self);
            let local = body::self_local();
            (
                quote!(let #held = #p::clone_receiver(&self);),
                quote!(let #local = #p::clone_receiver(&#held);),
            )
        } else {
            Default::default()
        };
        let attempt = if self.hedging.reuse_below {
            quote!(async move { #inner.await })
        } else {
            inner.clone()
        };
        let clones = self.fresh_clones();
        let wrapped = quote! {
            {
                #context_init
                #receiver_init
                #id.get().run(move |#index: u32| {
                    #clones
                    #context_bind
                    #receiver_bind
                    #attempt
                })
            }
        };
        (Some(item), wrapped)
    }

    /// `RetryConfig::new(name)` with only what the user wrote; the defaults live there.
    fn retry_config(&self, a: &args::RetryArgs) -> TokenStream {
        let p = self.p;
        let name = self.name(a.name.as_ref());
        let mut config = quote!(#p::RetryConfig::new(#name));
        if a.shared.is_some() {
            config.extend(quote!(.with_fleet()));
        }
        if let Some(max) = &a.max {
            let max = max.value;
            config.extend(quote!(.with_max(#max)));
        }
        if let Some(base) = &a.base {
            let base = duration(base.value);
            config.extend(quote!(.with_base(#base)));
        }
        if let Some(max_delay) = &a.max_delay {
            let max_delay = duration(max_delay.value);
            config.extend(quote!(.with_max_delay(#max_delay)));
        }
        if let Some(jitter) = &a.jitter {
            let jitter = match jitter.value {
                JitterKind::None => quote!(#p::Jitter::None),
                JitterKind::Full => quote!(#p::Jitter::Full),
                JitterKind::Equal => quote!(#p::Jitter::Equal),
                JitterKind::Decorrelated => quote!(#p::Jitter::Decorrelated),
            };
            config.extend(quote!(.with_jitter(#jitter)));
        }
        if let Some(max_elapsed) = &a.max_elapsed {
            let max_elapsed = duration(max_elapsed.value);
            config.extend(quote!(.with_max_elapsed(#max_elapsed)));
        }
        match a.budget.as_ref().map(|b| b.value) {
            Some(Some(share)) => {
                let share = Literal::f64_suffixed(share);
                config.extend(quote!(.with_budget(#share)));
            }
            Some(None) => config.extend(quote!(.without_budget())),
            None => {}
        }
        if let Some(budget_min) = &a.budget_min {
            let budget_min = budget_min.value;
            config.extend(quote!(.with_budget_min(#budget_min)));
        }
        config
    }

    /// `let name = clone_arg(&name);` for every name bound by an owned argument: each attempt
    /// gets its own copy. Spanned on the argument, so a missing `Clone` points at it.
    fn fresh_clones(&self) -> TokenStream {
        let p = self.p;
        self.owned_bindings()
            .map(|binding| {
                let ident = &at_call_site(&binding.ident);
                let span = ident.span();
                let p = respan(p, span);
                if binding.mutable {
                    quote_spanned!(span=> #[allow(unused_mut)] let mut #ident = #p::clone_arg(&mut #ident);)
                } else {
                    quote_spanned!(span=> let #ident = #p::clone_arg(&#ident);)
                }
            })
            .collect()
    }

    /// `let name = name;` for every name bound by an owned argument, at the top of the retry
    /// block: the block owns the originals it clones for each attempt, instead of holding
    /// `&T` across its awaits (which would make it `Send` only for `T: Sync`). After a stack
    /// of bulkheads' slots ([`Gen::around_block`]), the same moves make the arguments locals
    /// declared after the slots, so they are dropped before the slots go back.
    pub(super) fn moves(&self) -> TokenStream {
        self.owned_bindings()
            .map(|binding| {
                let ident = &at_call_site(&binding.ident);
                if binding.mutable {
                    // Borrowing the original mutably keeps the user's `mut` from reading as unused.
                    quote!(let _ = &mut #ident; let mut #ident = #ident;)
                } else {
                    quote!(#[allow(clippy::redundant_locals)] let #ident = #ident;)
                }
            })
            .collect()
    }

    fn owned_bindings(&self) -> impl Iterator<Item = &crate::item::Binding> {
        self.args
            .iter()
            .filter(|arg| !arg.is_ref)
            .flat_map(|arg| &arg.bindings)
    }

    /// The fallback around `awaited`, the layers below awaited: in place, a block of the
    /// caller's future (left early by a labelled `break`), otherwise an `async` block.
    pub(super) fn fallback(
        &self,
        a: &args::FallbackArgs,
        id: &syn::Ident,
        awaited: &TokenStream,
        in_place: bool,
    ) -> Stage {
        let p = self.p;
        let ret = self.ret;
        let function = &a.function.value;
        let span = a.function.span;
        let mut saved = TokenStream::new();
        let mut call_args = Vec::new();
        if self.has_receiver && passes_self(function) {
            call_args.push(quote!(self));
        }
        for (index, arg) in self.args.iter().enumerate() {
            let Some(name) = &arg.name else { continue };
            let name = &at_call_site(name);
            if arg.is_ref {
                call_args.push(name.to_token_stream());
            } else {
                let copy = format_ident!("__fallback_arg_{}", index, span = Span::mixed_site());
                let p = respan(p, name.span());
                saved.extend(quote_spanned!(name.span()=> let #copy = #p::clone_arg(&#name);));
                call_args.push(copy.to_token_stream());
            }
        }
        let predicate = self.predicate(a.fallback_if.as_ref());
        let value = quote_spanned!(Span::mixed_site()=> __value);
        let failure = quote_spanned!(Span::mixed_site()=> __failure);
        let error = quote_spanned!(Span::mixed_site()=> __error);
        let p_ret = respan(p, self.ret_span);
        let into_error = quote_spanned!(self.ret_span=> #p_ret::into_error);
        let call = quote_spanned!(span=> #function(#(#call_args,)* #error));
        let label = label(id);
        let recovery = quote_spanned!(Span::mixed_site()=> __recovery);
        // The same local, located at the fallback's name: a wrong return type points there.
        let recovered = quote_spanned!(Span::mixed_site().located_at(span)=> __recovery);
        // The outcome's and the error's scopes end before the fallback is awaited: the call's
        // future holds the attempt or the fallback, not the outcome or the error (which the
        // predicate borrows, so the compiler would keep it while in scope) beside it.
        let block = quote! {
            #label: {
                #saved
                let #recovery = {
                    let #error = match #awaited {
                        ::core::result::Result::Ok(#value) => {
                            break #label ::core::result::Result::Ok(#value);
                        }
                        ::core::result::Result::Err(#failure) => #into_error(#failure),
                    };
                    if !#p::applies(#predicate, &#error) {
                        break #label ::core::result::Result::Err(#p::Failure::Error(#error));
                    }
                    #call
                };
                #p::body::<#ret, _>(#recovered).await
            }
        };
        if in_place {
            Stage::InPlace(block)
        } else {
            Stage::Future(quote!(async { #block }))
        }
    }
}

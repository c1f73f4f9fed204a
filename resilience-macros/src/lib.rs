//! Attribute macros of the [`resilience`](https://docs.rs/resilience) crate.
//!
//! Depend on `resilience`, not on this crate: the generated code calls into
//! `::resilience::__private`, and the facade documents every attribute with runnable examples.
//!
//! Each entry point below is a shim. The work happens in three steps, each in its own module:
//!
//! 1. **parse** (`args`, `item`): the attribute's `key = value` list into a typed model,
//!    and the function into `item::Function`. The outermost resilience attribute also takes
//!    the resilience attributes written *below* it (a macro never sees the ones above), so the
//!    whole stack becomes one list of layers, outermost first.
//! 2. **validate** (`validate`): ranges, conflicts, and what the function must look like.
//! 3. **expand** (`expand`): one pipeline for the whole stack, innermost body included.
//!
//! Errors never panic: they become `compile_error!`s spanned on the offending token, emitted
//! together with the user's function unchanged, so the rest of rustc and rust-analyzer keep
//! working.

mod args;
mod body;
mod expand;
mod item;
mod paths;
mod validate;

use proc_macro::TokenStream;

use args::Kind;

/// Opens after repeated failures and rejects calls until the dependency had time to recover.
/// See `resilience::circuit_breaker`.
#[proc_macro_attribute]
pub fn circuit_breaker(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::attribute(Kind::CircuitBreaker, args.into(), item.into()).into()
}

/// Retries failed calls with exponential backoff and jitter. See `resilience::retry`.
#[proc_macro_attribute]
pub fn retry(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::attribute(Kind::Retry, args.into(), item.into()).into()
}

/// Bounds how many calls run at once. See `resilience::bulkhead`.
#[proc_macro_attribute]
pub fn bulkhead(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::attribute(Kind::Bulkhead, args.into(), item.into()).into()
}

/// Cuts a call off after a time limit. See `resilience::timeout`.
#[proc_macro_attribute]
pub fn timeout(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::attribute(Kind::Timeout, args.into(), item.into()).into()
}

/// Answers a failed call with another function's result. See `resilience::fallback`.
#[proc_macro_attribute]
pub fn fallback(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::attribute(Kind::Fallback, args.into(), item.into()).into()
}

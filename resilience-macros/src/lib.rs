//! Attribute macros of the [`async-resilience`](https://docs.rs/async-resilience) crate (its
//! library is `resilience`).
//!
//! Depend on `async-resilience`, not on this crate: the generated code calls into
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
//! The attributes are documented once, on the facade's re-exports (`resilience::retry`, ...),
//! where users read them. The shims here carry an empty doc: rustdoc appends a re-exported
//! item's own docs to the re-export's, so any text here would repeat on those pages.
//!
//! Errors never panic: they become `compile_error!`s spanned on the offending token, emitted
//! together with the user's function unchanged, so the rest of rustc and rust-analyzer keep
//! working.

// The shims' empty docs are deliberate: see above.
#![allow(clippy::empty_docs)]

mod args;
mod body;
mod expand;
mod item;
mod paths;
mod validate;

use proc_macro::TokenStream;

use args::Kind;

// Opens after repeated failures and rejects calls until the dependency had time to recover.
#[doc = ""]
#[proc_macro_attribute]
pub fn circuit_breaker(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::attribute(Kind::CircuitBreaker, args.into(), item.into()).into()
}

// Retries failed calls with exponential backoff and jitter.
#[doc = ""]
#[proc_macro_attribute]
pub fn retry(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::attribute(Kind::Retry, args.into(), item.into()).into()
}

// Bounds how many calls run at once.
#[doc = ""]
#[proc_macro_attribute]
pub fn bulkhead(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::attribute(Kind::Bulkhead, args.into(), item.into()).into()
}

// Cuts a call off after a time limit.
#[doc = ""]
#[proc_macro_attribute]
pub fn timeout(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::attribute(Kind::Timeout, args.into(), item.into()).into()
}

// Limits how often a function is called: permits per period, waiting or rejecting.
#[doc = ""]
#[proc_macro_attribute]
pub fn rate_limit(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::attribute(Kind::RateLimit, args.into(), item.into()).into()
}

// Sends another attempt when a call is slow, and takes the first answer.
#[doc = ""]
#[proc_macro_attribute]
pub fn hedge(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::attribute(Kind::Hedge, args.into(), item.into()).into()
}

// Answers a failed call with another function's result.
#[doc = ""]
#[proc_macro_attribute]
pub fn fallback(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::attribute(Kind::Fallback, args.into(), item.into()).into()
}

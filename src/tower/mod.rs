//! `tower` layers over the same named instances as the attributes (feature `tower`).
//!
//! A team that guards its own methods with `#[circuit_breaker(name = "payment")]` can put
//! the *same* breaker on a hyper client, a tonic channel or an axum route:
//! `CircuitBreakerLayer::named("payment")` is that breaker, found in the registry by its
//! name, with one state, one set of counters and one line in [`monitor::snapshot`]. Each
//! layer runs its inner service's future inside the runtime future the attribute uses, so
//! admission, outcome classification, cancellation and panics behave the same.
//!
//! ```
//! use resilience::tower::{CircuitBreakerLayer, RetryLayer, TimeoutLayer};
//! use resilience::{circuit_breaker, Rejected};
//! use std::time::Duration;
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//!
//! #[circuit_breaker(name = "doc-payment", threshold = 2)]
//! async fn charge(amount: u64) -> Result<u64, Rejected> { Ok(amount) }
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! charge(1).await.unwrap(); // registers the breaker "doc-payment"
//! let client = ServiceBuilder::new()
//!     .layer(RetryLayer::named("doc-payment-http"))
//!     .layer(CircuitBreakerLayer::named("doc-payment"))
//!     .layer(TimeoutLayer::named("doc-payment-http", Duration::from_secs(1)))
//!     .service(service_fn(|_: &'static str| async { Err::<(), _>("503") }));
//! // Two failures open the shared breaker; the retry stops at the open circuit.
//! let error = client.oneshot("POST /charge").await.unwrap_err();
//! assert!(matches!(error.downcast_ref(), Some(Rejected::CircuitOpen { .. })));
//! assert!(matches!(charge(2).await, Err(Rejected::CircuitOpen { .. })), "the function's breaker is open too");
//! # }
//! ```
//!
//! | layer | instance | needs |
//! |---|---|---|
//! | [`CircuitBreakerLayer`] | `#[circuit_breaker(name = ...)]`'s | — |
//! | [`BulkheadLayer`] | `#[bulkhead(name = ...)]`'s | `S: Clone` |
//! | [`RateLimitLayer`] | `#[rate_limit(name = ...)]`'s | `S: Clone` |
//! | [`RetryLayer`] | `#[retry(name = ...)]`'s (one budget) | `S: Clone`, `Req: Clone` |
//! | [`TimeoutLayer`] | its own (`#[timeout]` takes no name) | — |
//!
//! # Names: who decides the configuration
//!
//! A layer resolves its instance when it is built (`named`, `new`): if an instance of that
//! kind is registered under the name — by an annotated function that has run, or by another
//! layer — the layer shares it, and its configuration is the registered one's. Otherwise the
//! layer registers its own now (a name no attribute declares is fine: the layer's instance
//! is then the only one, listed by [`monitor`] like any other), from the attribute's
//! defaults (`named`) or the configuration given (`new`, with the configuration types of
//! [`runtime`](crate::runtime)), with the overrides for the name
//! applied ([`monitor::configure`], environment variables). A function declaring the name
//! that runs later joins it, and its own parameters go unused, as between two functions
//! sharing a name: the first to register decides. So a service that builds its layers at
//! startup decides for the functions; to make both agree whatever the order, give them the
//! same parameters, or set the parameters once as overrides of the name, which apply to
//! whichever registers first.
//!
//! Building a layer takes the registry's lock and searches it by name: build each layer once,
//! at startup, and clone it or the services it makes (a layer is a `Copy` reference to its
//! instance; calls through it take no lock and allocate nothing, as the attributes').
//!
//! # `poll_ready`
//!
//! Every service's `poll_ready` is its inner service's, and no layer makes it pending or
//! failed: a full bulkhead or a spent rate limit does not block `poll_ready` (tower's
//! `ConcurrencyLimit` does, for as long as the limit is reached — tower issue #793), and an
//! open breaker does not fail it (a failed `poll_ready` means a broken service in tower's
//! contract). Each layer decides in the future `call` returns, with the instance's own
//! rules: a breaker refuses at once without calling the inner service; a bulkhead waits in
//! arrival order for at most `max_wait`, at most `queue` waiters; a rate limit waits for a
//! permit due within `max_wait`. The inner service is called only once the request is
//! admitted; the layers that may wait before that (bulkhead, rate limit) and the retry, which
//! calls again, hold a clone of the inner service, hence `S: Clone`.
//!
//! # Errors
//!
//! As in tower's own middleware, every service's error is a [`BoxError`]: the inner
//! service's error boxed, or a [`Rejected`](crate::Rejected), which `downcast_ref` recovers.
//! Layers stacked in a `ServiceBuilder` recognise each other's rejections through it, as
//! stacked attributes do: an outer breaker counts an inner `TimedOut` as a failure and
//! ignores an inner `BulkheadFull` or `RateLimited`; an outer retry stops at an inner
//! `CircuitOpen` and waits an inner `RateLimited`'s `retry_after`.
//!
//! A response is a success whatever it says: to count an HTTP 503 as a failure, turn it into
//! an error below the breaker (`ServiceBuilder::map_result`), or classify errors with
//! [`CircuitBreakerLayer::failure_if`].
//!
//! [`monitor::snapshot`]: crate::monitor::snapshot
//! [`monitor`]: crate::monitor
//! [`monitor::configure`]: crate::monitor::configure

mod admission;
mod breaker;
pub mod future;
mod retry;
mod timeout;

pub use admission::{BulkheadLayer, BulkheadService, RateLimitLayer, RateLimitService};
pub use breaker::{CircuitBreakerLayer, CircuitBreakerService};
pub use retry::{RetryFuture, RetryLayer, RetryService};
pub use timeout::{TimeoutLayer, TimeoutService};

/// The error of every service here, as in tower's own middleware: a boxed error that
/// downcasts to [`Rejected`](crate::Rejected) when a layer refused or cut off the request.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

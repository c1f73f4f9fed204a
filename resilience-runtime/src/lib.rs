//! The state machines behind the `resilience` attributes.
//!
//! Users depend on the `resilience` facade; this crate holds what its generated code calls:
//!
//! - [`CircuitBreaker`]: closed → open → half-open, in one atomic word;
//! - [`RetryPolicy`] and [`Backoff`]: exponential backoff with jitter;
//! - [`Bulkhead`]: bounded concurrency with a FIFO queue of waiters;
//! - [`RateLimiter`]: GCRA permits per period in one atomic word, waiters served in order;
//! - [`Timeout`]: a time limit per call;
//! - [`Hedge`]: a second attempt when the first is slow, under a budget;
//! - [`Rejected`]: the typed error every layer produces, and [`Failure`], which carries it
//!   between stacked layers;
//! - [`Site`] and the registry: instances resolved by name at their first call, listed by
//!   [`snapshot`], found by [`breaker`], [`bulkhead`] and [`rate_limiter`];
//! - [`configure`] and environment overrides, read once per instance at its first call;
//! - events and metrics behind the `tracing` and `metrics` features, and per-instance
//!   counters ([`Stats`]) behind `stats`; all compiled away when off;
//! - `fleet` (the `fleet` feature): `shared` breakers and rate limits across the replicas
//!   of a service, through Redis.
//!
//! Every type is non-generic and has a `const fn new`, so an instance lives in a `static`.
//! Every clock read and every wait goes through `tokio::time`, so tests drive time with
//! `#[tokio::test(start_paused = true)]`.

#![warn(missing_docs, unreachable_pub, rust_2018_idioms)]

mod attempt;
mod breaker;
mod bulkhead;
mod clock;
mod error;
mod events;
#[cfg(feature = "fleet")]
pub mod fleet;
mod hedge;
mod keyed;
mod name;
mod outcome;
mod overrides;
mod rate_limit;
mod registry;
mod retry;
#[cfg(feature = "serde")]
mod serialize;
mod snapshot;
mod stats;
mod sync;
mod timeout;

pub use attempt::{Attempt, CallId};
pub use breaker::{
    BreakerConfig, BreakerPermit, BreakerRun, BreakerState, CircuitBreaker, ErrorClass, TripPolicy,
};
pub use bulkhead::{Bulkhead, BulkheadConfig, BulkheadPermit, BulkheadRun, SlotWait};
pub use error::{KeyText, Rejected};
pub use hedge::{Hedge, HedgeConfig, HedgeDelay, HedgeRun};
pub use keyed::{InstanceKey, Keyable, Keyed, KeyedRef, KeyedRun, KeyedSite, KeyedState};
pub use name::InstanceName;
pub use outcome::Failure;
pub use overrides::{configure, env_key, override_errors, ConfigError};
pub use rate_limit::{RateLimitConfig, RateLimitRun, RateLimiter};
pub use registry::{
    adopt, breaker, bulkhead, rate_limiter, registered, Instance, Registered, Site,
};
pub use retry::{Backoff, Jitter, Pause, PolicySource, RetryCall, RetryConfig, RetryPolicy};
pub use snapshot::{snapshot, InstanceConfig, InstanceKind, InstanceSnapshot};
pub use stats::Stats;
pub use timeout::{Timeout, TimeoutRun};

//! Declarative fault tolerance for async Rust.
//!
//! Annotate an `async fn` — a free function or a method — and its calls go through a circuit
//! breaker, retries with backoff, a bulkhead, a rate limit, a time limit or a fallback,
//! without a line of plumbing and without changing the function's signature:
//!
//! ```
//! use resilience::{bulkhead, circuit_breaker, retry, Rejected};
//!
//! #[derive(Debug)]
//! enum PaymentError { Declined, Unavailable, Resilience(Rejected) }
//!
//! impl From<Rejected> for PaymentError {
//!     fn from(rejected: Rejected) -> Self { PaymentError::Resilience(rejected) }
//! }
//!
//! struct PaymentClient;
//!
//! impl PaymentClient {
//!     #[retry(max = 3, base = "100ms")]
//!     #[circuit_breaker(threshold = 3, timeout = "10s")]
//!     #[bulkhead(max = 2)]
//!     async fn charge(&self, amount: u64) -> Result<u64, PaymentError> {
//!         if amount == 0 { return Err(PaymentError::Declined); }
//!         Ok(amount)
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! assert_eq!(PaymentClient.charge(42).await.unwrap(), 42);
//! # }
//! ```
//!
//! # The attributes
//!
//! | attribute | what it does |
//! |---|---|
//! | [`#[circuit_breaker]`](circuit_breaker) | stops calling a dependency that keeps failing, and tests it again later |
//! | [`#[retry]`](retry) | retries failed calls with exponential backoff and jitter |
//! | [`#[bulkhead]`](bulkhead) | bounds how many calls run at once; the rest wait in order or are turned away |
//! | [`#[rate_limit]`](rate_limit) | bounds how often calls start: `rate` per `per`, `burst` at once; the rest wait in order or are turned away |
//! | [`#[timeout]`](timeout) | drops a call that takes too long |
//! | [`#[fallback]`](fallback) | answers a failed call with another function's result |
//! | [`#[hedge]`](hedge) | sends another attempt when a call is slow, takes the first answer, under a budget |
//!
//! With the `fleet` feature, `shared` (beside `name`) on `#[circuit_breaker]`, `#[rate_limit]`
//! and `#[retry]` makes the instance fleet-wide once the process is linked to a Redis server
//! (`resilience::fleet::connect`): one breaker, one quota and one retry budget for every
//! replica of a service.
//! `shared` compiles without the feature; the instance is then local.
//!
//! # Errors
//!
//! An annotated function returns `Result<T, E>` under any spelling (`anyhow::Result<T>`, a
//! local alias), where `E: From<`[`Rejected`]`>`. When a layer refuses or cuts off a call, the
//! caller gets `Err(E::from(rejected))`; the body's own errors pass through untouched.
//! With `anyhow`, nothing is needed: `anyhow::Error` converts from any error, and
//! `error.downcast_ref::<Rejected>()` recovers the rejection.
//!
//! # Stacking
//!
//! Attributes apply in the order written, outermost first, like decorators:
//! `#[retry] #[circuit_breaker] #[bulkhead] async fn f()` is retry(breaker(bulkhead(f))).
//! The outermost attribute rewrites the function once for the whole stack. Between layers a
//! rejection stays typed, so:
//!
//! - a `#[retry]` outside a breaker stops at once on [`Rejected::CircuitOpen`], and retries
//!   the other rejections (a full bulkhead, a timeout), which are transient, when `retry_if`
//!   accepts them: it judges them as the error `E::from(rejected)` the caller would get, so a
//!   call that is not idempotent can refuse to retry a timeout;
//! - a breaker outside a `#[timeout]` counts [`Rejected::TimedOut`] as a failure (the
//!   dependency was too slow), but ignores [`Rejected::BulkheadFull`] from a bulkhead inside
//!   it, and [`Rejected::RateLimited`] from a rate limit inside it: a full local compartment
//!   or a spent local quota says nothing about the dependency's health, and counting it
//!   would let a burst of load open the breaker. `resilience4j` and `MicroProfile` count both;
//!   we count only what the dependency did;
//! - a `#[rate_limit]` inside a `#[retry]` gives every attempt its own permit (each attempt
//!   is a call to the dependency); written above the retry, it takes one permit for the whole
//!   call, retries included.
//! - a `#[hedge]` inside a `#[retry]` may hedge each retry attempt; a breaker, bulkhead or
//!   rate limit inside the hedge sees every hedged attempt, and an inner
//!   [`Rejected::CircuitOpen`] ends the hedged call at once.
//!
//! The stack is never silently reordered. When the crate is imported under another name
//! (`use resilience as res;`), give the outermost attribute that path, `#[res::retry(crate =
//! "res")]`, so it recognises the others as its own; without it, an attribute that finds the
//! function already rewritten refuses to compile and says so.
//!
//! The expansion adds no bound the plain function does not have: the body owns what it uses,
//! as the plain `async fn` does, so an owned `Send + !Sync` argument (a `Cell`) or a
//! `&mut self` of such a type still gives a `Send` future under `#[retry]` and `#[fallback]`;
//! an owned receiver (`self: Arc<Self>`) is cloned for each attempt like any owned argument;
//! `return Ok(Arc::new(x))` coerces to `Result<Arc<dyn Trait>, E>`; inner attributes
//! (`#![allow(..)]`) apply. One shape cannot work: under `#[retry]` or `#[fallback]`, a
//! function that returns a borrow of `&mut self` (or of a `&mut` argument) is a compile error,
//! since each attempt reborrows it and one attempt's borrow would outlive the next's.
//!
//! # Error handling
//!
//! With `thiserror`, give your error one variant for rejections:
//!
//! ```
//! use resilience::{circuit_breaker, Rejected};
//!
//! #[derive(Debug, thiserror::Error)]
//! enum InventoryError {
//!     #[error("item {0} not found")]
//!     NotFound(u64),
//!     #[error(transparent)]
//!     Rejected(#[from] Rejected),
//! }
//!
//! #[circuit_breaker]
//! async fn stock(item: u64) -> Result<u32, InventoryError> {
//!     if item == 0 { Err(InventoryError::NotFound(item)) } else { Ok(3) }
//! }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! match stock(7).await {
//!     Ok(count) => println!("{count} in stock"),
//!     Err(InventoryError::Rejected(Rejected::CircuitOpen { retry_after, .. })) => {
//!         println!("inventory is down; try again in {retry_after:?}")
//!     }
//!     Err(other) => println!("{other}"),
//! }
//! # }
//! ```
//!
//! With `anyhow`, nothing is needed; `downcast_ref::<Rejected>()` tells a rejection apart:
//!
//! ```
//! use resilience::{bulkhead, Rejected};
//!
//! #[bulkhead(max = 4)]
//! async fn report() -> anyhow::Result<String> {
//!     Ok("ok".into())
//! }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! if let Err(error) = report().await {
//!     if let Some(Rejected::BulkheadFull { .. }) = error.downcast_ref::<Rejected>() {
//!         println!("busy, shed the request");
//!     }
//! }
//! # }
//! ```
//!
//! # Testing with a paused clock
//!
//! Every clock read and every wait goes through `tokio::time`, so tests run the whole
//! machinery on a paused clock: `#[tokio::test(start_paused = true)]` (tokio's `test-util`
//! feature). Open periods, backoff delays, bulkhead waits and timeouts then take no real
//! time, and `tokio::time::advance` moves past them exactly:
//!
//! ```
//! use resilience::{circuit_breaker, Rejected};
//! use std::time::Duration;
//!
//! #[circuit_breaker(threshold = 1, timeout = "1h")]
//! async fn flaky(fail: bool) -> Result<(), Rejected> {
//!     if fail { Err(Rejected::timed_out("flaky", Duration::ZERO)) } else { Ok(()) }
//! }
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! // In a test: #[tokio::test(start_paused = true)] async fn breaker_recovers() { ... }
//! flaky(true).await.unwrap_err();
//! assert!(matches!(flaky(false).await, Err(Rejected::CircuitOpen { .. })));
//! tokio::time::advance(Duration::from_secs(3600)).await; // an hour, instantly
//! assert!(flaky(false).await.is_ok());
//! # }
//! ```
//!
//! Each annotated function keeps its state in a `static`, shared by every test in the same
//! test binary: give each test its own functions (or its own `name`), as this crate's tests do.
//!
//! # Equivalent code without the macros
//!
//! The attributes generate calls into the runtime types, which you can use directly — for a
//! breaker whose parameters come from elsewhere, or to see what the macro does. This is, in
//! substance, what `#[retry(max = 2)] #[circuit_breaker(threshold = 3)]` makes of a function:
//!
//! ```
//! use resilience::runtime::{
//!     BreakerConfig, CircuitBreaker, Failure, InstanceName, Rejected, RetryConfig,
//!     RetryPolicy, TripPolicy,
//! };
//!
//! #[derive(Debug)]
//! enum Error { Down, Rejected(Rejected) }
//! impl From<Rejected> for Error {
//!     fn from(r: Rejected) -> Self { Error::Rejected(r) }
//! }
//!
//! // What `#[retry(max = 2)] #[circuit_breaker(threshold = 3)]` declare.
//! static RETRY: RetryPolicy =
//!     RetryPolicy::new(RetryConfig::new(InstanceName::given("fetch")).with_max(2));
//! static BREAKER: CircuitBreaker = CircuitBreaker::new(
//!     BreakerConfig::new(InstanceName::given("fetch"))
//!         .with_policy(TripPolicy::Consecutive { threshold: 3 }),
//! );
//!
//! async fn fetch(key: &str) -> Result<String, Error> {
//!     let mut backoff = RETRY.backoff();
//!     let outcome = loop {
//!         // The permit is a local of this function's future: a cancelled call drops it
//!         // unsettled (nothing recorded), a panic drops it while unwinding (a failure).
//!         let outcome = match BREAKER.admit() {
//!             Ok(permit) => {
//!                 let outcome = fetch_once(key).await.map_err(Failure::Error);
//!                 permit.record(&outcome, |_error| true); // failure_if: every error counts
//!                 outcome
//!             }
//!             Err(rejected) => Err(Failure::Rejected(rejected)),
//!         };
//!         // retry_if: every error; retry_after: no server hint.
//!         match RETRY.delay_after(&mut backoff, &outcome, |_error| true, |_error| None) {
//!             Some(delay) => tokio::time::sleep(delay).await,
//!             None => break outcome,
//!         }
//!     };
//!     outcome.map_err(Failure::into_error)
//! }
//!
//! async fn fetch_once(key: &str) -> Result<String, Error> {
//!     if key.is_empty() { Err(Error::Down) } else { Ok(key.to_uppercase()) }
//! }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! assert_eq!(fetch("a").await.unwrap(), "A");
//! # }
//! ```
//!
//! The macro adds what is tedious by hand: fresh clones of owned arguments per attempt,
//! `&mut self` reborrowed per attempt, the declared return type kept for `?` and coercions,
//! and `static`s
//! declared inside the function so each function has its own instances.
//!
//! # Instances
//!
//! Each attribute keeps its state in a `static` declared inside the rewritten function: one
//! breaker per function, shared by every caller, every task and every `self`. `name = "..."`
//! on a breaker, bulkhead or rate limit shares one instance between every function that gives
//! the same name (the first to run decides its configuration): one quota for every function
//! that calls the same API. A `static` inside a generic function is
//! shared by all its instantiations.
//!
//! # Keyed instances
//!
//! `key = <expression over the arguments>` on a breaker, bulkhead or rate limit gives each
//! distinct value its own instance, with the attribute's parameters: a breaker per host (one
//! dead shard does not stop the others), a rate limit per tenant, a bulkhead per user.
//!
//! ```
//! use resilience::{circuit_breaker, monitor, rate_limit, Rejected};
//!
//! #[derive(Debug)]
//! enum Error { Down, Rejected(Rejected) }
//! impl From<Rejected> for Error {
//!     fn from(r: Rejected) -> Self { Error::Rejected(r) }
//! }
//!
//! struct Request { tenant_id: u64 }
//!
//! #[circuit_breaker(threshold = 2, key = host, name = "shards")]
//! async fn get(host: &str, path: &str) -> Result<String, Error> {
//!     if host == "shard-3" { Err(Error::Down) } else { Ok(format!("{host}{path}")) }
//! }
//!
//! #[rate_limit(rate = 1, per = "1s", max_wait = "0s", key = req.tenant_id, max_keys = 50_000)]
//! async fn serve(req: &Request) -> Result<(), Error> { Ok(()) }
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! for _ in 0..2 {
//!     assert!(matches!(get("shard-3", "/a").await, Err(Error::Down)));
//! }
//! // shard-3's breaker is open; the other shards' are not.
//! let open = get("shard-3", "/a").await.unwrap_err();
//! assert!(matches!(&open, Error::Rejected(r) if r.to_string().starts_with("circuit breaker `shards[shard-3]` is open")));
//! assert_eq!(get("shard-1", "/a").await.unwrap(), "shard-1/a");
//! assert_eq!(monitor::breaker("shards[shard-3]").unwrap().state(), monitor::BreakerState::Open);
//!
//! // One permit a second per tenant.
//! assert!(serve(&Request { tenant_id: 7 }).await.is_ok());
//! assert!(serve(&Request { tenant_id: 7 }).await.is_err());
//! assert!(serve(&Request { tenant_id: 8 }).await.is_ok());
//! # }
//! ```
//!
//! - **The key** is any `Hash + Display` value, used borrowed: a `&str`, a `String`, an
//!   integer, a field. A call with a key already seen allocates nothing and takes no lock (a
//!   lock-free map lookup and an atomic count of the calls in flight). Two keys are the same
//!   instance when their `Hash` writes the same bytes (for strings, integers and derived
//!   `Hash`, when they are equal; `"a"` and `String::from("a")` are one key); the key's
//!   `Display` text names the instance. A key expression that is not `Hash + Display` is a
//!   compile error on the expression.
//! - **Memory** is bounded by `max_keys` (default 10 000, about 460 bytes per breaker key,
//!   see the README's sizes): past it, adding a key evicts the least recently used *idle*
//!   instance, never one with calls in flight or waiting, a breaker that is not closed (open,
//!   half-open or forced: evicting it would let calls through to a dependency it knows is
//!   down), a rate limiter short of its burst (evicting it would hand the key a fresh
//!   burst), or one a `monitor` lookup handed out. When nothing is idle the map grows past
//!   `max_keys` rather than refuse calls.
//! - **Monitoring** lists each resident key as `name[key]` ([`monitor::snapshot`]'s `name`
//!   and `key`, [`full_name`](monitor::InstanceSnapshot::full_name)); [`monitor::breaker`]
//!   and its siblings find `"name[key]"`; rejections carry the key ([`Rejected::key`], and
//!   `name[key]` in their message); events and metrics have a `key` field and label,
//!   whose values are bounded by `max_keys` only while keys are not replaced (each key seen
//!   becomes a metrics series).
//! - **Overrides** for `name` (or the function's path) apply to every key, created now or
//!   later: the overridden configuration is read once, at the first call, like any instance's.
//!   Functions that share a `name` and a `key` share one map of keys.

//!
//! # Features
//!
//! All off by default; each adds behaviour or an integration, none is needed by generated code.
//!
//! | feature | what it adds | dependencies |
//! |---|---|---|
//! | `tracing` | state transitions, rejections and retries as `tracing` events ([`monitor`]) | `tracing` |
//! | `metrics` | counters and gauges through the `metrics` facade ([`monitor`]) | `metrics` |
//! | `stats` | per-instance counters in [`monitor::snapshot`] (an atomic add per call) | — |
//! | `serde` | `Serialize` for snapshots: the JSON of an admin endpoint ([`monitor`], "JSON") | `serde` (no derive) |
//! | `tower` | `resilience::tower`: layers over the same named instances as the attributes | `tower-service`, `tower-layer` |
//!
//! `examples/observability.rs` puts them together: a hyper server exposing `/metrics`
//! (Prometheus) and `/resilience` (the JSON snapshot), with `docs/grafana-dashboard.json`
//! graphing the metrics.

#![warn(missing_docs, unreachable_pub, rust_2018_idioms)]

pub use resilience_runtime::{Attempt, CallId, Failure, KeyText, Rejected};

/// The state machines behind the attributes, for use without the macros (see "Equivalent
/// code without the macros" above) and for monitoring (see [`monitor`]).
///
/// An explicit list: what exists only for generated code (the registry's sites, the sealed
/// `Registered` trait) is in the hidden `__private` module instead.
pub mod runtime {
    pub use resilience_runtime::{
        Backoff, BreakerConfig, BreakerPermit, BreakerRun, BreakerState, Bulkhead, BulkheadConfig,
        BulkheadPermit, BulkheadRun, CircuitBreaker, ErrorClass, Failure, InstanceName, Jitter,
        RateLimitConfig, RateLimitRun, RateLimiter, Rejected, RetryConfig, RetryPolicy, SlotWait,
        Stats, Timeout, TimeoutRun, TripPolicy,
    };
}

/// Opens after repeated failures, rejecting calls unrun until the dependency had time to recover.
///
/// | parameter | default | meaning |
/// |---|---|---|
/// | `threshold = N` | 3 | consecutive failures that open the breaker; a success resets the count when it completes (failure, failure, a slow success admitted before them, failure: one failure counted) |
/// | `timeout = "10s"` | `"10s"` | time spent open before trial calls are admitted |
/// | `timeout_max = "5m"` | `timeout` | open-period backoff: each failed half-open trial doubles the open period, up to `timeout_max`; closing resets it; `retry_after` reports the current period. At least `timeout` |
/// | `half_open = N` | 1 | trial calls admitted while half-open; others are rejected unrun |
/// | `failure_rate = 0.5`, `window = N`, `min_calls = N` | — / 100 / `window` | open when at least `min_calls` of the last `window` calls are recorded and failures / recorded ≥ `failure_rate`; replaces `threshold` |
/// | `window = "30s"`, `buckets = N` | — / 10 | with `failure_rate`, a time window (a duration instead of a count): the rate over the calls that completed in the last 30 s, kept in `buckets` rotating buckets of `window / buckets` each, so the window slides one bucket at a time and spans between `window - window / buckets` and `window`; `min_calls` defaults to 20 here (the volume threshold of `MicroProfile` Fault Tolerance). Each bucket is at least 1 ms; `buckets` needs a time window. A success writes one counter in this mode (the count window's healthy successes write nothing) |
/// | `slow_call = "2s"`, `slow_call_rate = R` | off / 1.0 | a call that completes more than `slow_call` after its admission is slow (timed in whole microseconds; the clock is read for a call only when this is set). With `threshold`, a slow call counts as a failure even if it succeeded; with `failure_rate`, the breaker also opens when at least `min_calls` are recorded and slow / recorded ≥ `slow_call_rate` (resilience4j's rule; only there may `slow_call_rate` be written, in (0, 1]). A slow half-open trial fails. `slow_call` is longer than zero |
/// | `failure_if = path` | every `Err` | `fn(&E) -> bool`; errors for which it returns false count as successes |
/// | `ignore_if = path` | none | `fn(&E) -> bool`; errors for which it returns true are recorded as neither success nor failure, whatever `failure_if` says; a half-open trial ending so gives its place back |
/// | `name = "payment"` | the function's path | functions with the same name share one breaker |
/// | `key = expr` | none | one breaker per distinct value of `expr`, an expression over the arguments (`key = host`, `key = req.tenant_id`) that is `Hash + Display`, used borrowed. See [Keyed instances](crate#keyed-instances) |
/// | `max_keys = N` | 10000 | with `key`: instances resident at once; past it the least recently used idle one is evicted |
/// | `shared` | off | with `name`: the breaker is fleet-wide once the process is linked (the `fleet` feature, `resilience::fleet::connect`): a trip in any replica opens every replica, and the fleet admits `half_open` trials in total. Without the feature or the link, local |
/// | `crate = "path"` | `"::resilience"` | where to find this crate, if renamed |
///
/// Closed → (threshold reached) → open → (`timeout` elapsed) → half-open → `half_open`
/// successful trials → closed; any failed trial → open for a full `timeout` again (doubled
/// each time, up to `timeout_max`, when that is set). While open
/// the body does not run and the caller gets [`Rejected::CircuitOpen`] with the time left.
/// A panic in the body counts as a failure and keeps unwinding; a call whose future is dropped
/// counts as nothing and frees its trial slot at once. A trial that never finishes (a hung
/// connection, no `#[timeout]` inside) holds its place for one `timeout` after its admission
/// at most: then the next caller becomes a trial and the late trial's outcome is ignored.
/// With `failure_rate`, the rule is judged whenever an outcome is recorded, so the success
/// that brings the recorded calls to `min_calls` opens the breaker if the rate is already
/// reached; the same holds for the slow rate. A breaker forced open through [`monitor`] rejects with a `CircuitOpen` that says
/// "forced open". The implementation (one atomic word, memory orderings, the loom models) is
/// described in the runtime crate's `breaker` module.
///
/// ```
/// use resilience::{circuit_breaker, Rejected};
/// use std::time::Duration;
///
/// #[derive(Debug)]
/// enum Error { Down, Rejected(Rejected) }
/// impl From<Rejected> for Error {
///     fn from(r: Rejected) -> Self { Error::Rejected(r) }
/// }
///
/// #[circuit_breaker(threshold = 2, timeout = "30s")]
/// async fn fetch(up: bool) -> Result<&'static str, Error> {
///     if up { Ok("fresh") } else { Err(Error::Down) }
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// assert!(matches!(fetch(false).await, Err(Error::Down)));
/// assert!(matches!(fetch(false).await, Err(Error::Down)));
/// // Open: the body does not run, even though it would succeed now.
/// assert!(matches!(fetch(true).await, Err(Error::Rejected(Rejected::CircuitOpen { .. }))));
/// tokio::time::advance(Duration::from_secs(30)).await;
/// // Half-open: one trial call goes through, and its success closes the breaker.
/// assert_eq!(fetch(true).await.unwrap(), "fresh");
/// # }
/// ```
pub use resilience_macros::circuit_breaker;

/// Retries failed calls with exponential backoff and jitter.
///
/// | parameter | default | meaning |
/// |---|---|---|
/// | `max = N` | 3 | retries after the first attempt (`N + 1` attempts at most); `0` is a single attempt |
/// | `base = "100ms"` | `"100ms"` | the delay before retry `k` is `base * 2^k`, capped, then jittered |
/// | `max_delay = "10s"` | `"10s"` | cap on any one delay |
/// | `jitter = "full"` | `"full"` | `"none"`, `"full"` (uniform in `[0, d]`), `"equal"` (`d/2` + uniform in `[0, d/2]`), `"decorrelated"` (uniform in `[base, 3 * previous]`, capped) |
/// | `retry_if = path` | every `Err` | `fn(&E) -> bool`; other errors return at once. It also judges an inner `TimedOut`, `BulkheadFull` or `RateLimited`, as the `E` the caller would get; an inner `CircuitOpen` always ends retrying |
/// | `retry_after = path` | none | `fn(&E) -> Option<Duration>`: the server's hint (HTTP `Retry-After`, gRPC pushback). `Some(d)` makes the next delay `d`, capped at `max_delay`, instead of the backoff's. An inner `RateLimited` rejection's own `retry_after` is honoured the same way, without a path |
/// | `max_elapsed = "30s"` | none | total time budget: no retry starts whose delay would end later than this after the first attempt began |
/// | `budget = 0.2` | `0.2` | retry budget: over a rolling 10 s, retries may add at most this share (0 to 1) of the calls the instance served; `"none"` turns it off. See [Retry storms](#retry-storms) |
/// | `budget_min = 10` | `10` | the budget's reserve: retries per second always allowed, whatever the share |
/// | `context = name` | none | binds `name:` [`Attempt`] inside the body: the attempt's `number()` (0 first), `is_retry()`, and the `call_id()` shared by every attempt of the call |
/// | `name = "payments"` | the function's path | functions with the same name share one retry instance, hence one budget |
/// | `shared` | off | with `name`: the budget is fleet-wide once the process is linked (the `fleet` feature, `resilience::fleet::connect`): retries are granted from the fleet's calls and retries over the window, with one `budget_min` reserve for the whole fleet, not one per replica. Without the feature or the link, local |
/// | `crate = "path"` | `"::resilience"` | where to find this crate, if renamed |
///
/// Each attempt gets fresh clones of the owned arguments, so they must be `Clone`; references
/// (including `&self` and `&mut self`) are passed as they are. When attempts run out, the
/// last error is returned; so it is when `max_elapsed` or the budget stops the retries. Dropping
/// the call's future stops further attempts. Stacked around a `#[circuit_breaker]`, an open
/// circuit ends the retrying at once.
///
/// # Retry storms
///
/// When a dependency goes down, every caller's `#[retry(max = 3)]` sends it four calls for
/// each one the application makes, at exactly the moment it can least take them, and every
/// replica does the same. The retry budget (Finagle's `RetryBudget`, on by default) stops the
/// multiplication: over a rolling 10 s, retries may add at most `budget` (0.2) of the calls
/// this instance served, plus a reserve of `budget_min` (10) retries per second that is
/// always there. So during an outage the dependency receives at most 1.2 times the calls plus
/// 10 a second, instead of 4 times; a call that finds the budget spent returns its own error
/// at once, without a new kind of rejection, and is counted (`budget_exhausted` in
/// [`monitor::snapshot`]), reported (`retries exhausted` with cause `budget`) and metered
/// (`resilience_retry_budget_exhausted_total`). Occasional failures never notice it: each call
/// deposits a fifth of a retry, and the reserve covers quiet services.
///
/// The budget and a circuit breaker work together. The breaker *stops* calls once it has
/// seen enough failures, and then for its whole open period; the budget stops the
/// *multiplication* from the first failed call, before the breaker trips, and keeps
/// protecting a dependency that fails only partly — one failure in three never opens a
/// threshold breaker, yet with retries alone it would receive half as many calls again.
///
/// Its cost on a call that does not fail is one relaxed atomic add. `budget = "none"` turns it
/// off (for a dependency you own and size for retries); functions that share a `name` share
/// one budget. A server that says when to come back is honoured through `retry_after`, and a
/// call's total time is bounded by `max_elapsed`:
///
/// ```
/// use resilience::{retry, Rejected};
/// use std::time::Duration;
///
/// #[derive(Debug)]
/// enum Error { Busy { retry_after: Option<Duration> }, Rejected(Rejected) }
/// impl From<Rejected> for Error {
///     fn from(r: Rejected) -> Self { Error::Rejected(r) }
/// }
///
/// /// The server's `Retry-After`, when it sent one.
/// fn retry_after(error: &Error) -> Option<Duration> {
///     match error {
///         Error::Busy { retry_after } => *retry_after,
///         Error::Rejected(_) => None,
///     }
/// }
///
/// #[retry(max = 5, retry_after = retry_after, max_elapsed = "10s", name = "quotes")]
/// async fn quote() -> Result<u32, Error> {
///     Err(Error::Busy { retry_after: Some(Duration::from_secs(4)) })
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let start = tokio::time::Instant::now();
/// assert!(quote().await.is_err());
/// // Retries at 4 s and 8 s, as the server asked; one at 12 s would end past 10 s.
/// assert_eq!(start.elapsed(), Duration::from_secs(8));
/// # }
/// ```
///
/// # Retrying what is not idempotent
///
/// A retry is safe when running the call twice does no harm: a read, a `PUT` of a whole
/// value. For a call that changes something each time it runs (charging a card, creating an
/// order), an attempt whose answer was lost may have done its work already. Two ways out:
///
/// - **Refuse to retry what may have happened.** `retry_if` sees the user's errors and the
///   inner `TimedOut` and `BulkheadFull` rejections; return `false` for a timeout (the request
///   may have been served) and `true` only for errors that say the request was not processed
///   (a refused connection, a 503 before the body was read).
/// - **Let the server drop duplicates.** With `context = attempt`, send
///   `attempt.call_id()` as the `Idempotency-Key` (or request id): it is the same on every
///   attempt of one call and different between calls (128 random bits, shown as a UUID), so
///   the server can answer a repeated key with the first result instead of doing the work
///   again. Then every error is safe to retry.
///
/// ```
/// use resilience::{retry, CallId, Rejected};
/// use std::collections::HashSet;
/// use std::sync::Mutex;
///
/// #[derive(Debug)]
/// enum Error { LostResponse, Rejected(Rejected) }
/// impl From<Rejected> for Error {
///     fn from(r: Rejected) -> Self { Error::Rejected(r) }
/// }
///
/// static SEEN: Mutex<Vec<(u32, CallId)>> = Mutex::new(Vec::new());
///
/// #[retry(max = 2, base = "10ms", context = attempt)]
/// async fn create_order(sku: String) -> Result<u32, Error> {
///     SEEN.lock().unwrap().push((attempt.number(), attempt.call_id()));
///     // The request carries `Idempotency-Key: {attempt.call_id()}`; the first answer is lost.
///     if !attempt.is_retry() { return Err(Error::LostResponse); }
///     Ok(sku.len() as u32)
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// assert_eq!(create_order("book".to_string()).await.unwrap(), 4);
/// let seen = SEEN.lock().unwrap();
/// assert_eq!(seen.iter().map(|(n, _)| *n).collect::<Vec<_>>(), [0, 1]);
/// assert_eq!(seen[0].1, seen[1].1, "one key for both attempts");
/// # }
/// ```
///
/// ```
/// use resilience::{retry, Rejected};
/// use std::sync::atomic::{AtomicU32, Ordering};
///
/// #[derive(Debug)]
/// enum Error { Flaky, Rejected(Rejected) }
/// impl From<Rejected> for Error {
///     fn from(r: Rejected) -> Self { Error::Rejected(r) }
/// }
///
/// static CALLS: AtomicU32 = AtomicU32::new(0);
///
/// #[retry(max = 3, base = "100ms", jitter = "none")]
/// async fn lookup(key: String) -> Result<usize, Error> {
///     if CALLS.fetch_add(1, Ordering::SeqCst) < 2 { return Err(Error::Flaky); }
///     Ok(key.len())
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let started = tokio::time::Instant::now();
/// assert_eq!(lookup("user:7".to_string()).await.unwrap(), 6);
/// assert_eq!(CALLS.load(Ordering::SeqCst), 3);
/// assert_eq!(started.elapsed().as_millis(), 100 + 200);
/// # }
/// ```
pub use resilience_macros::retry;

/// Bounds how many calls of a function (or of a named compartment) run at once.
///
/// | parameter | default | meaning |
/// |---|---|---|
/// | `max = N` | required | bodies running at once |
/// | `max_wait = "50ms"` | wait forever | how long a caller waits for a slot before [`Rejected::BulkheadFull`]; `"0s"` rejects at once |
/// | `queue = N` | unbounded | callers allowed to wait; beyond that, reject at once |
/// | `name = "db"` | the function's path | same name, same compartment |
/// | `key = expr` | none | one compartment per distinct value of `expr`, an expression over the arguments (`key = host`, `key = req.tenant_id`) that is `Hash + Display`, used borrowed. See [Keyed instances](crate#keyed-instances) |
/// | `max_keys = N` | 10000 | with `key`: instances resident at once; past it the least recently used idle one is evicted |
/// | `crate = "path"` | `"::resilience"` | where to find this crate, if renamed |
///
/// Waiters are served in arrival order. A slot is returned when the body finishes, panics or
/// is dropped, and a waiting caller that is dropped leaves the queue.
///
/// ```
/// use resilience::{bulkhead, Rejected};
/// use std::time::Duration;
///
/// #[derive(Debug)]
/// enum Error { Rejected(Rejected) }
/// impl From<Rejected> for Error {
///     fn from(r: Rejected) -> Self { Error::Rejected(r) }
/// }
///
/// #[bulkhead(max = 1, max_wait = "0s")]
/// async fn report() -> Result<(), Error> {
///     tokio::time::sleep(Duration::from_secs(1)).await;
///     Ok(())
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let (first, second) = tokio::join!(report(), report());
/// assert!(first.is_ok());
/// assert!(matches!(second, Err(Error::Rejected(Rejected::BulkheadFull { .. }))));
/// # }
/// ```
pub use resilience_macros::bulkhead;

/// Limits how often a function (or a named quota shared by several) is called: `rate`
/// permits per `per`, `burst` at once after a quiet period; callers beyond that wait for
/// their permit in arrival order, or are refused at once when it would come too late.
///
/// | parameter | default | meaning |
/// |---|---|---|
/// | `rate = N` | required | permits per `per` |
/// | `per = "1s"` | `"1s"` | the period of `rate` |
/// | `burst = N` | `rate` | permits that may be taken at once after a quiet period (the bucket's capacity) |
/// | `max_wait = "2s"` | wait forever | how long a caller may wait for its permit; a caller whose permit would come later is refused at once with [`Rejected::RateLimited`], without waiting to find out; `"0s"` never waits |
/// | `name = "github"` | the function's path | same name, same limiter: one quota for every function that names it |
/// | `key = expr` | none | one limiter (one quota) per distinct value of `expr`, an expression over the arguments (`key = host`, `key = req.tenant_id`) that is `Hash + Display`, used borrowed. See [Keyed instances](crate#keyed-instances) |
/// | `max_keys = N` | 10000 | with `key`: instances resident at once; past it the least recently used idle one is evicted |
/// | `shared` | off | with `name`: the quota is fleet-wide once the process is linked (the `fleet` feature, `resilience::fleet::connect`). Without the feature or the link, local |
/// | `crate = "path"` | `"::resilience"` | where to find this crate, if renamed |
///
/// The limiter is GCRA (governor's algorithm): one permit every `per / rate`, with `burst`
/// of tolerance, so over any stretch of time `d` at most `burst + rate × d / per` calls
/// start. It is one atomic word on tokio's clock, with no background task and no allocation
/// per call; a paused test clock drives it exactly. A waiting caller holds a reservation, so
/// waiters are served in arrival order; a refused one gets `retry_after`, the time until a
/// permit is free ([`Rejected::retry_after`] reads it). A waiting caller whose future is
/// dropped gives its permit back when nobody has reserved after it; otherwise its permit
/// passes unused, and the rate is never exceeded (the runtime crate's `rate_limit` module
/// describes the implementation, its memory orderings and its loom models).
///
/// Under `#[retry]`, every attempt takes a permit; written above `#[retry]`, the whole call
/// takes one. A breaker outside ignores `RateLimited`: a spent local quota says nothing about
/// the dependency's health.
///
/// ```
/// use resilience::{rate_limit, Rejected};
/// use std::time::Duration;
/// use tokio::time::Instant;
///
/// #[derive(Debug)]
/// enum Error { Rejected(Rejected) }
/// impl From<Rejected> for Error {
///     fn from(r: Rejected) -> Self { Error::Rejected(r) }
/// }
///
/// #[rate_limit(rate = 2, per = "1s", max_wait = "600ms", name = "github")]
/// async fn fetch_repo(id: u32) -> Result<u32, Error> {
///     Ok(id)
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let start = Instant::now();
/// // A burst of 2 at once, then one permit every 500 ms: the third caller waits for its own.
/// for id in 1..=3 {
///     assert_eq!(fetch_repo(id).await.unwrap(), id);
/// }
/// assert_eq!(start.elapsed(), Duration::from_millis(500));
/// // Two more at once: the first waits 500 ms; the second would wait 1 s, more than its
/// // 600 ms, so it is refused at once and told when a permit is free.
/// let (fourth, fifth) = tokio::join!(fetch_repo(4), fetch_repo(5));
/// assert_eq!(fourth.unwrap(), 4);
/// match fifth {
///     Err(Error::Rejected(rejected @ Rejected::RateLimited { .. })) => {
///         assert_eq!(rejected.retry_after(), Some(Duration::from_secs(1)));
///     }
///     other => panic!("expected RateLimited, got {other:?}"),
/// }
/// # }
/// ```
pub use resilience_macros::rate_limit;

/// Drops a call that takes longer than a time limit, returning [`Rejected::TimedOut`].
///
/// `#[timeout("2s")]` (or `#[timeout(limit = "2s")]`). The body's future is dropped when the
/// limit elapses: it does not go on in the background. Inside `#[retry]`, each attempt gets
/// the full limit; inside a breaker, a timeout counts as a failure.
///
/// ```
/// use resilience::{timeout, Rejected};
/// use std::time::Duration;
///
/// #[timeout("2s")]
/// async fn slow() -> anyhow::Result<()> {
///     tokio::time::sleep(Duration::from_secs(5)).await;
///     Ok(())
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let error = slow().await.unwrap_err();
/// assert!(matches!(error.downcast_ref::<Rejected>(), Some(Rejected::TimedOut { .. })));
/// # }
/// ```
pub use resilience_macros::timeout;

/// Answers a failed call with another async function's result.
///
/// `#[fallback(path)]` calls `path` — an `async fn`, or `Self::method` — with the same
/// arguments plus the error by value, whenever the call returns `Err` (rejections included),
/// and returns what it returns. `fallback_if = predicate` (`fn(&E) -> bool`) limits it to some
/// errors. Owned arguments are cloned before the first call, so they must be `Clone`.
///
/// ```
/// use resilience::{circuit_breaker, fallback, Rejected};
///
/// #[derive(Debug)]
/// enum Error { Down, Rejected(Rejected) }
/// impl From<Rejected> for Error {
///     fn from(r: Rejected) -> Self { Error::Rejected(r) }
/// }
///
/// async fn cached_price(sku: String, _error: Error) -> Result<u64, Error> {
///     Ok(if sku == "book" { 15 } else { 0 })
/// }
///
/// #[fallback(cached_price)]
/// #[circuit_breaker(threshold = 1)]
/// async fn price(sku: String) -> Result<u64, Error> {
///     Err(Error::Down)
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// assert_eq!(price("book".to_string()).await.unwrap(), 15); // the failure, answered
/// assert_eq!(price("book".to_string()).await.unwrap(), 15); // the open circuit, answered
/// # }
/// ```
pub use resilience_macros::fallback;

/// Cuts tail latency: when a call has not answered after `delay`, sends another attempt,
/// and returns the first `Ok` ("The Tail at Scale", gRPC's and Polly's hedging).
///
/// | parameter | default | meaning |
/// |---|---|---|
/// | `delay = "50ms"` or `delay = "p95"` | required | when to send another attempt if none has answered: a duration, or a percentile (`"p50"` to `"p99.9"`) of this function's recent latencies; a percentile hedges nothing until 100 calls completed within its window (the last 10 to 20 s) |
/// | `max = N` | 1 | hedges at most (1 to 4): N + 1 attempts in flight, each sent `delay` after the previous |
/// | `budget = 0.1` | 0.1 | hedges may add at most this share to the calls started in the last 10 s, with no minimum allowance: a function's first calls are not hedged, and a dependency slow for every call gets at most 1.1 times its load |
/// | `context = attempt` | none | binds a [`resilience::Attempt`](Attempt) in the body: `attempt.hedge()` is 0 for the first attempt sent, 1 for the first hedge, and `attempt.call_id()` is the same on every attempt of the call (under a `#[retry]`, the retry's call id; a `#[retry(context = ..)]` below the hedge numbers its retries within each hedged attempt, under the same id) |
/// | `name = "search"` | the function's path | same name, same hedge: one budget and one latency estimate |
/// | `crate = "path"` | `"::resilience"` | where to find this crate, if renamed |
///
/// The first `Ok` wins, and the other attempts are dropped before the call returns. An
/// attempt's `Err` does not end the call while another attempt is in flight; when all have
/// failed, the error of the attempt that failed last is returned. Errors never send a hedge:
/// an attempt that fails before `delay` with no other in flight ends the call with its error
/// (hedging is for slowness, failures are `#[retry]`'s). An inner breaker's
/// [`Rejected::CircuitOpen`] ends the call at once.
///
/// The attempts run concurrently inside the caller's task: nothing is spawned, and no
/// `Send` or `'static` bound is added. Each gets fresh clones of the owned arguments (which
/// must be `Clone`); `&mut self` and `&mut` arguments are a compile error, since two attempts
/// cannot both borrow them. A call that answers before `delay` costs one timer (what a
/// `#[timeout]` costs) and no allocation; a hedge allocates its attempt.
///
/// Only hedge what is safe to do twice (reads, idempotent writes, or a write that carries
/// `context`'s call id as an idempotency key). Stacking: under `#[retry]` each retry attempt
/// may hedge; a `#[bulkhead]` or `#[rate_limit]` below the hedge sees every attempt, and a
/// breaker below it counts every attempt's outcome.
///
/// ```
/// use resilience::{hedge, Rejected};
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::time::Duration;
/// use tokio::time::Instant;
///
/// #[derive(Debug)]
/// enum Error { Rejected(Rejected) }
/// impl From<Rejected> for Error {
///     fn from(r: Rejected) -> Self { Error::Rejected(r) }
/// }
///
/// static SENT: AtomicU32 = AtomicU32::new(0);
///
/// // The first replica asked is stuck; any other answers in 10 ms.
/// #[hedge(delay = "50ms", budget = 1.0, context = attempt)]
/// async fn search(query: String) -> Result<String, Error> {
///     SENT.fetch_add(1, Ordering::Relaxed);
///     let latency = if attempt.is_hedge() { 10 } else { 10_000 };
///     tokio::time::sleep(Duration::from_millis(latency)).await;
///     Ok(format!("{query}: answered by attempt {}", attempt.hedge()))
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let start = Instant::now();
/// assert_eq!(search("rust".into()).await.unwrap(), "rust: answered by attempt 1");
/// assert_eq!(start.elapsed(), Duration::from_millis(60), "50 ms of patience, 10 ms of hedge");
/// assert_eq!(SENT.load(Ordering::Relaxed), 2);
/// # }
/// ```
pub use resilience_macros::hedge;

#[cfg(feature = "fleet")]
pub mod fleet;
pub mod monitor;

#[cfg(feature = "tower")]
pub mod tower;

#[doc(hidden)]
pub mod __private;

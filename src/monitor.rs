//! Monitoring and control: every instance's state, manual overrides, configuration without
//! recompiling, events and metrics.
//!
//! # Seeing instances
//!
//! Every breaker, bulkhead, rate limiter, retry and timeout registers itself when it serves
//! its first call (nothing runs before `main`). [`snapshot`] lists them; [`breaker`],
//! [`bulkhead`] and [`rate_limiter`] look one up by name — its `name = "..."`, or the path
//! of the function it guards, like `my_app::client::PaymentClient::charge`.
//!
//! ```
//! use resilience::{circuit_breaker, monitor, Rejected};
//!
//! #[circuit_breaker(name = "payment")]
//! async fn charge() -> Result<(), Rejected> { Ok(()) }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! charge().await.unwrap();
//! let payment = monitor::breaker("payment").expect("registered at its first call");
//! payment.force_open(); // maintenance: reject every call until reset
//! assert!(matches!(charge().await, Err(Rejected::CircuitOpen { .. })));
//! payment.reset();
//! assert!(charge().await.is_ok());
//! for instance in monitor::snapshot() {
//!     println!("{} {} {:?}", instance.kind, instance.name, instance.state);
//! }
//! # }
//! ```
//!
//! A breaker's snapshot also says how long it has been in its state (`in_state`) and the
//! open period of its latest opening, backoff included (`open_period`), and, for a
//! failure-rate breaker (count or time window), the failed fraction of its window
//! (`failure_rate`) and, with `slow_call`, the slow fraction (`slow_rate`); a
//! bulkhead's its free slots and waiting callers (`available`, `waiting`); a rate limiter's the
//! permits a caller could take now without waiting and the callers waiting for a reserved
//! permit (`available`, `waiting`). A transition caused by slow calls is reported like any
//! other (no cause field).
//! With the `stats` feature, each snapshot also carries counters ([`Stats`]: calls,
//! successes, failures, rejections, retries). They cost an atomic add per call, so they are
//! opt-in; without the feature they read zero.
//!
//! With the `fleet` feature, `fleet_status` says whether the process is linked to the
//! fleet's Redis, since when, and the link's last error (`resilience::fleet`).
//!
//! # Manual control
//!
//! A [`CircuitBreaker`] handle can be forced open (every call rejected), forced closed (every
//! call admitted and nothing recorded by the state machine: the breaker is disabled), and
//! reset (closed, counts cleared). Each lasts until the next. Forced closed is also
//! resilience4j's "metrics only" mode: the `stats` counters keep counting calls, successes
//! and failures while the breaker never trips.
//!
//! # Configuration without recompiling
//!
//! Each instance reads overrides once, at its first call: from [`configure`] (keys
//! `<name>/<attribute>/<parameter>`), else from environment variables named by [`env_key`]
//! (`RESILIENCE_PAYMENT_CIRCUIT_BREAKER_THRESHOLD=5`). A bad override never applies:
//! [`configure`] returns it as a [`ConfigError`], an environment variable's lands in
//! [`override_errors`], and the compiled-in value stays.
//!
//! | attribute | parameter | values |
//! |---|---|---|
//! | `circuit_breaker` | `threshold` | 1 to 1048576 (2^20); switches a failure-rate breaker to consecutive failures |
//! | | `failure_rate` | greater than 0, at most 1; switches a consecutive breaker to a window of 100 calls |
//! | | `window` | 1 to 16777216 (2^24), failure-rate breakers only; a `min_calls` equal to the window (its default) follows it. For a time-window breaker, a duration longer than zero instead (`30s`); a window of the other kind is refused |
//! | | `buckets` | 1 to 4096 (2^12), time-window breakers only; each bucket (`window / buckets`) at least 1 ms |
//! | | `min_calls` | 1 to `window`, failure-rate breakers only (1 to 16777216 with a time window) |
//! | | `slow_call` | a duration longer than zero; switches slow-call detection on |
//! | | `slow_call_rate` | greater than 0, at most 1; failure-rate breakers with `slow_call` only |
//! | | `timeout` | a duration longer than zero, at most `timeout_max` if that is set |
//! | | `timeout_max` | a duration, at least `timeout` |
//! | | `half_open` | 1 to 4096 (2^12) |
//! | `bulkhead` | `max` | 1 to 2147483647 (`i32::MAX`) |
//! | | `max_wait` | a duration (`0s` rejects at once), or `none`: wait forever |
//! | | `queue` | 0 to 4294967295, or `none`: unbounded |
//! | `retry` | `max` | 0 (a single attempt: retries off) to 4294967295 |
//! | | `base` | a duration, at most `max_delay` |
//! | | `max_delay` | a duration, at least `base` |
//! | | `jitter` | `none`, `full`, `equal` or `decorrelated` |
//! | | `budget` | 0 to 1, or `none`: no budget |
//! | | `budget_min` | 0 to 1048576 (2^20) retries a second |
//! | | `max_elapsed` | a duration longer than zero, or `none`: no total time budget |
//! | `timeout` | `limit` | a duration longer than zero |
//! | `rate_limit` | `rate` | 1 to 4294967295; a `burst` left to its default follows it |
//! | | `per` | a duration longer than zero |
//! | | `burst` | 1 to 4294967295, or `none`: equal to `rate` |
//! | | `max_wait` | a duration (`0s` never waits), or `none`: wait as long as it takes |
//!
//! Values are written as in the attributes, without the quotes: whole numbers, rates like
//! `0.5`, durations like `250ms`, `10s`, `1.5s`, `2m`, `1h` (`0.5ns` is refused, not rounded
//! to zero). The limits are the ones the attributes are checked against when they compile. A
//! value alone is checked by [`configure`] up front; rules between parameters (`min_calls` at
//! most `window`, `base` at most `max_delay`, `timeout_max` at least `timeout`, `slow_call_rate`
//! only with `slow_call`, a time window's buckets at least 1 ms) when the instance applies its overrides at its
//! first call, and a refusal then lands in [`override_errors`].
//!
//! # Events and metrics
//!
//! Off by default and compiled away when off. The `tracing` feature emits events (target
//! `resilience`); the `metrics` feature records through the `metrics` facade, so any exporter
//! (`Prometheus`, `StatsD`, ...) graphs them:
//!
//! | `tracing` message | level | fields |
//! |---|---|---|
//! | `circuit breaker state changed` | `warn` when it opens, `info` otherwise | `name`, `from`, `to` |
//! | `call rejected` | `debug` | `name`, `reason` (`circuit_open`, `bulkhead_full`, `timed_out`, `rate_limited`) |
//! | `retrying` | `debug` | `name`, `attempt` (the retry about to happen, from 1), `delay_ms`, `cause` (`error`, or a rejection reason) |
//! | `retries exhausted` | `info` | `name`, `attempts`, `cause` (the last failure's, or `budget`: the retry budget was spent, or `max_elapsed`: the next delay would end past it) |
//! | `resilience override ignored; the compiled-in value stays` | `warn` | `key`, `value`, `reason` |
//! | `fleet link changed` (the `fleet` feature) | `warn` when down, `info` when linked | `linked`, `error` |
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `resilience_breaker_transitions_total` | counter | `name`, `from`, `to` |
//! | `resilience_breaker_state` | gauge: 0 closed, 1 open, 2 half-open, 3 forced open, 4 forced closed | `name` |
//! | `resilience_rejections_total` | counter | `name`, `reason` (as in `call rejected`) |
//! | `resilience_retries_total` | counter | `name`, `cause` |
//! | `resilience_retries_exhausted_total` | counter | `name` |
//! | `resilience_retry_budget_exhausted_total` | counter: failed calls not retried because the budget was spent | `name` |
//! | `resilience_fleet_linked` (the `fleet` feature) | gauge: 1 linked to the fleet's Redis, 0 not | none |
//!
//! State names in events and labels: `closed`, `open`, `half_open`, `forced_open`,
//! `forced_closed`.

pub use resilience_runtime::{
    breaker, bulkhead, configure, env_key, override_errors, rate_limiter, snapshot, BreakerState,
    Bulkhead, CircuitBreaker, ConfigError, InstanceConfig, InstanceKind, InstanceSnapshot,
    RateLimiter, Stats,
};

#[cfg(feature = "fleet")]
pub use resilience_runtime::fleet::{status as fleet_status, FleetStatus};

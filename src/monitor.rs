//! Monitoring and control: every instance's state, manual overrides, configuration without
//! recompiling, events and metrics.
//!
//! # Seeing instances
//!
//! Every breaker, bulkhead, rate limiter, retry, timeout and hedge registers itself when it
//! serves its first call (nothing runs before `main`); a layer of `resilience::tower` (feature
//! `tower`) registers its instance, or joins the one registered under its name, when it is
//! built. [`snapshot`] lists them; [`breaker`],
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
//! A keyed instance (`key = host`, see the crate docs' "Keyed instances") is listed once per
//! resident key, with the attribute's `name` and its `key`
//! ([`InstanceSnapshot::full_name`]: `name[key]`), and found by that full name:
//! `monitor::breaker("shards[shard-3]")`. Such a lookup hands out a `&'static`, so it pins
//! the instance: it is never evicted from then on, and keeps serving its key's calls, so
//! the handle can be kept (a switch such as `force_open` on it reaches every call of the
//! key). A pinned instance counts toward `max_keys` like one with a call in flight.
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
//! successes, failures, rejections, retries; a hedge's `hedges` sent and `hedges_won`, the
//! calls a hedge answered first). They cost an atomic add per call, so they are
//! opt-in; without the feature they read zero.
//!
//! With the `fleet` feature, `fleet_status` says whether the process is linked to the
//! fleet's Redis, since when, and the link's last error (`resilience::fleet`).
//!
//! # JSON (feature `serde`)
//!
//! With the `serde` feature, [`InstanceSnapshot`] and its parts ([`Stats`],
//! [`InstanceConfig`], [`BreakerState`], [`InstanceKind`]) implement `serde::Serialize`, so
//! an admin endpoint returns `serde_json::to_string(&monitor::snapshot())`:
//!
//! ```
//! use resilience::{circuit_breaker, monitor, Rejected};
//!
//! #[circuit_breaker(name = "json-doc", threshold = 5)]
//! async fn charge() -> Result<(), Rejected> { Ok(()) }
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! charge().await.unwrap();
//! let json = serde_json::to_value(monitor::snapshot()).unwrap();
//! let breaker = &json.as_array().unwrap()[0];
//! assert_eq!(breaker["state"], "closed");
//! assert_eq!(breaker["config"]["policy"]["threshold"], 5);
//! # }
//! ```
//!
//! The snapshot is an array with one object per instance; the rules: keys are the
//! attributes' parameter names, as in override keys; names are the strings of events and
//! labels; **every duration is a number of seconds** (fractional); a field that does not apply
//! to the instance's kind is left out, one that applies but has no value now is `null`.
//!
//! ```json
//! [
//!   { "name": "payment", "kind": "circuit_breaker",
//!     "state": "open", "in_state": 3.0, "open_period": 30.0,
//!     "failure_rate": null, "slow_rate": null,
//!     "config": { "policy": { "kind": "consecutive", "threshold": 2 },
//!                 "timeout": 30.0, "timeout_max": 30.0, "half_open": 1,
//!                 "slow_call": 2.0, "slow_call_rate": 1.0 },
//!     "stats": { "calls": 2, "successes": 0, "failures": 2, "rejections": 0,
//!                "retries": 0, "budget_exhausted": 0, "hedges": 0, "hedges_won": 0 } },
//!   { "name": "hosts", "key": "db-1", "kind": "circuit_breaker", "state": "closed", ... },
//!   { "name": "db", "kind": "bulkhead", "available": 4, "waiting": 0,
//!     "config": { "max": 4, "max_wait": 0.05, "queue": null }, "stats": { ... } },
//!   { "name": "github", "kind": "rate_limit", "available": 5, "waiting": 0,
//!     "config": { "rate": 10, "per": 1.0, "burst": 5, "max_wait": null }, "stats": { ... } },
//!   { "name": "payments", "kind": "retry",
//!     "config": { "max": 1, "base": 0.25, "max_delay": 10.0, "jitter": "none",
//!                 "budget": 0.2, "budget_min": 10, "max_elapsed": null }, "stats": { ... } },
//!   { "name": "my_app::search", "kind": "timeout", "config": { "limit": 1.5 }, "stats": { ... } },
//!   { "name": "search", "kind": "hedge",
//!     "config": { "delay": "p99.9", "max": 2, "budget": 0.05 }, "stats": { ... } }
//! ]
//! ```
//!
//! | field | kinds | value |
//! |---|---|---|
//! | `name`, `kind` | all | the instance name; `circuit_breaker`, `bulkhead`, `rate_limit`, `retry`, `timeout`, `hedge` |
//! | `key` | keyed instances | the key's `Display` text (the instance is `name[key]`); absent otherwise |
//! | `state`, `in_state`, `open_period` | breaker | `closed`, `open`, `half_open`, `forced_open`, `forced_closed`; seconds; seconds |
//! | `failure_rate`, `slow_rate` | breaker | the window's fractions, `null` for a consecutive breaker, an empty window, or no `slow_call` |
//! | `available`, `waiting` | bulkhead, rate limit | free slots or permits; waiting callers |
//! | `config.policy` | breaker | `{"kind": "consecutive", "threshold"}`, `{"kind": "failure_rate", "failure_rate", "window", "min_calls"}` or `{"kind": "time_window", "failure_rate", "window" (seconds), "buckets", "min_calls"}` |
//! | `config.delay` | hedge | seconds, or the percentile as written (`"p95"`) |
//! | `config.*` | all | the parameters in force, overrides applied: `null` for "forever", "unbounded" or "none" |
//! | `stats` | all | the [`Stats`] counters (zeros without the `stats` feature) |
//!
//! `tests/serde_json.rs` pins this shape for every kind.
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
//! | `hedge` | `delay` | a duration longer than zero, or a percentile `p50` to `p99.9` |
//! | | `max` | 1 to 4 |
//! | | `budget` | 0 to 1 |
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
//! | `circuit breaker state changed` | `warn` when it opens, `info` otherwise | `name`, `key`, `from`, `to` |
//! | `call rejected` | `debug` | `name`, `key`, `reason` (`circuit_open`, `bulkhead_full`, `timed_out`, `rate_limited`) |
//! | `retrying` | `debug` | `name`, `attempt` (the retry about to happen, from 1), `delay_ms`, `cause` (`error`, or a rejection reason) |
//! | `retries exhausted` | `info` | `name`, `attempts`, `cause` (the last failure's, or `budget`: the retry budget was spent, or `max_elapsed`: the next delay would end past it) |
//! | `hedging` | `debug` | `name`, `attempt` (the hedge about to be sent, from 1), `delay_ms` |
//! | `hedge won` | `debug` | `name` |
//! | `hedge budget exhausted` | `debug` | `name` |
//! | `resilience override ignored; the compiled-in value stays` | `warn` | `key`, `value`, `reason` |
//! | `fleet link changed` (the `fleet` feature) | `warn` when down, `info` when linked | `linked`, `error` |
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `resilience_breaker_transitions_total` | counter | `name`, `key`, `from`, `to` |
//! | `resilience_breaker_state` | gauge: 0 closed, 1 open, 2 half-open, 3 forced open, 4 forced closed | `name`, `key` |
//! | `resilience_rejections_total` | counter | `name`, `key`, `reason` (as in `call rejected`) |
//! | `resilience_retries_total` | counter | `name`, `cause` |
//! | `resilience_retries_exhausted_total` | counter | `name` |
//! | `resilience_retry_budget_exhausted_total` | counter: failed calls not retried because the budget was spent | `name` |
//! | `resilience_hedges_total` | counter: hedges sent | `name` |
//! | `resilience_hedges_won_total` | counter: calls a hedge answered first | `name` |
//! | `resilience_hedge_budget_exhausted_total` | counter: hedges not sent because the budget was spent | `name` |
//! | `resilience_fleet_linked` (the `fleet` feature) | gauge: 1 linked to the fleet's Redis, 0 not | none |
//!
//! `key` is a keyed instance's key (`key = host`, as its `Display` writes it): a field of the
//! events and a label of the metrics of keyed instances only (an event of an instance without
//! a key has no `key` value; its series have no `key` label).
//!
//! State names in events and labels: `closed`, `open`, `half_open`, `forced_open`,
//! `forced_closed`.

pub use resilience_runtime::{
    breaker, bulkhead, configure, env_key, override_errors, rate_limiter, snapshot, BreakerState,
    Bulkhead, CircuitBreaker, ConfigError, Hedge, HedgeConfig, HedgeDelay, InstanceConfig,
    InstanceKind, InstanceSnapshot, RateLimiter, Stats,
};

#[cfg(feature = "fleet")]
pub use resilience_runtime::fleet::{status as fleet_status, FleetStatus};

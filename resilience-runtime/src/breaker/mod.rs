//! `#[circuit_breaker]`: stop calling a dependency that keeps failing, and let a few trial calls
//! through before trusting it again.
//!
//! # States
//!
//! ```text
//!            policy trips                open_for elapsed
//!   Closed ───────────────▶ Open ─────────────────────────▶ HalfOpen
//!     ▲                      ▲                                 │ │
//!     │                      └──────── any trial fails ────────┘ │
//!     └──────────────── `half_open` trials succeed ──────────────┘
//! ```
//!
//! - **Closed**: every call runs. The [`TripPolicy`] watches the outcomes: `Consecutive` opens
//!   after `threshold` failures in a row (a success resets the count when it completes, so a
//!   slow success admitted before some failures still resets them: completion order); `FailureRate` opens when
//!   at least `min_calls` of the last `window` calls are recorded and the failed fraction is at
//!   least `failure_rate`, judged whenever an outcome is recorded: a success that brings the
//!   recorded count to `min_calls` opens the breaker if the rate is already reached.
//!   `TimeWindow` is the same rule over the calls that completed in the last `window` (a
//!   duration), kept in `buckets` rotating buckets (`time_window.rs`).
//! - **Slow calls** (`slow_call`, off by default): a call that completes more than
//!   `slow_call` after its admission is slow. `Consecutive` counts it as a failure even if it
//!   succeeded; `FailureRate` also opens when at least `min_calls` are recorded and the slow
//!   fraction of the window is at least `slow_call_rate` (resilience4j's rule), judged like
//!   the failure rate whenever an outcome is recorded; a slow half-open trial fails. Only
//!   then is the clock read for a call, at admission and at completion; the start rides in
//!   the permit (`clock.rs`, "Slow calls"), which is why neither it nor the future of
//!   [`run`](CircuitBreaker::run) grows. An ignored or cancelled call is never slow.
//! - **Open**: no call runs; each is rejected with [`Rejected::CircuitOpen`] carrying
//!   `retry_after: Some(time until the open period ends)`. The open period is never shorter than
//!   `open_for`. With a longer `open_for_max` (the attribute's `timeout_max`) it backs off:
//!   each half-open phase that ends with a failed trial doubles it, up to `open_for_max`, and
//!   closing (or a reset) brings it back to `open_for` ([`CircuitBreaker::open_period`]). The
//!   doubling lives in the state word (`state.rs`, "level"), so the transition and the
//!   period it opens for are one compare-and-swap.
//! - **Half-open**: the first caller after the open period becomes a trial. At most `half_open`
//!   trials are admitted in this phase; everyone else is rejected unrun with
//!   `retry_after: None` (the next admission depends on the trials' outcomes). When `half_open`
//!   trials have succeeded the breaker closes with fresh counts; the first trial failure opens
//!   it again for a full open period (doubled, with backoff). A trial that is cancelled (its future dropped) or whose
//!   outcome is ignored gives its admission back at once, so another caller can be the trial:
//!   a dropped trial cannot wedge the breaker. A successful trial keeps its admission, so a
//!   phase admits `half_open` trials *in total*, not `half_open` at a time forever.
//! - **Hung trials** (Polly's rule): a trial still running one open period (`open_for`) after
//!   its admission no longer holds its place, so a trial that never finishes (a hung
//!   connection, no timeout inside) cannot wedge the breaker either. When every place is
//!   taken and the latest trial was admitted at least `open_for` ago, the next caller starts
//!   the half-open phase over as its first trial; the late trials' outcomes are then ignored
//!   (they neither close nor reopen the breaker, and give no place back), and the successes
//!   of the old phase no longer count towards closing.
//! - **Forced open / forced closed**: manual overrides ([`CircuitBreaker::force_open`],
//!   [`CircuitBreaker::force_closed`]). Forced open rejects everything with `retry_after: None`
//!   and `forced: true` (its message says "forced open", not half-open); forced closed admits
//!   everything and records nothing. Both last until
//!   [`CircuitBreaker::reset`] (back to closed with counts cleared) or the other override.
//!
//! # What counts as a failure
//!
//! [`CircuitBreaker::run`] classifies the outcome of the guarded future:
//!
//! | outcome | recorded as |
//! |---|---|
//! | `Ok(_)` | success |
//! | `Err(Failure::Error(e))`, `is_failure(&e)` is `true` or [`ErrorClass::Failed`] | failure |
//! | `Err(Failure::Error(e))`, `is_failure(&e)` is `false` or [`ErrorClass::Succeeded`] | success: the service answered |
//! | `Err(Failure::Error(e))`, `is_failure(&e)` is [`ErrorClass::Ignored`] | nothing (the attribute's `ignore_if`, resilience4j's `ignoreExceptions`) |
//! | `Err(Failure::Rejected(Rejected::TimedOut { .. }))` | failure: a slow dependency is an unhealthy one |
//! | any other inner rejection (`BulkheadFull`, `RateLimited`, an inner breaker's `CircuitOpen`) | nothing |
//! | a panic in the body | failure; the panic then resumes unwinding |
//! | the future dropped before it finished | nothing: a cancellation |
//!
//! An inner bulkhead's `BulkheadFull` and an inner rate limiter's `RateLimited` are *local*
//! back-pressure: the dependency never saw the call, so they say nothing about the
//! dependency's health. Counting them would let a burst of callers open the breaker on a
//! healthy service. A cancellation says nothing either: the
//! caller lost interest (a `select!`, an outer timeout's sibling, a dropped request). Both
//! release their permit without recording, which for a half-open trial means giving the
//! admission back. So does an error the caller classifies as [`ErrorClass::Ignored`]: a
//! validation error, say, that the service reports without having been exercised. It neither
//! resets nor extends a run of consecutive failures, takes no place in a failure-rate window,
//! and a half-open trial ending so gives its place back, so it can neither close nor reopen
//! the breaker.
//!
//! How a panic or a cancellation reaches the state machine is in `permit.rs`.
//!
//! # Implementation details
//!
//! The module is split by concern; each file opens with the notes on what it holds:
//!
//! - this file: the public API ([`CircuitBreaker`], [`BreakerConfig`], [`TripPolicy`],
//!   [`BreakerState`]) and the breaker's size;
//! - `permit.rs`: [`BreakerPermit`], [`BreakerRun`] and the guard that records a panic;
//! - `state.rs`: the state word: its bit layout, packing and unpacking, and generations;
//! - `machine.rs`: the transitions (admission, recording, half-open trials, the takeover of
//!   hung trials), the hot path, and the memory ordering of the state word;
//! - `window.rs`: the failure-rate ring (failure bits, and slow bits with `slow_call`);
//! - `time_window.rs`: the time window's rotating buckets, and what a success costs there;
//! - `clock.rs`: time, deadlines, the timing of slow calls and the loom stand-in clock.
//!
//! # Size
//!
//! A `CircuitBreaker` is its configuration, the state word, the lazily allocated slow-path
//! words (the takeover deadline, allocated at the first trial, and the failure-rate ring), the
//! time of the last transition, the epoch and a keyed breaker's key (16 bytes, `None` for a
//! breaker without one): 168 bytes on 64-bit targets, 88 of them the
//! configuration (`slow_call` and `slow_call_rate` took it from 64 to 80, the time window's
//! `Duration` in [`TripPolicy`] to 88; the `stats` feature adds
//! 40 bytes of counters, the `fleet` feature 8 for its lease flags, `fleet.rs`). A permit is 16 bytes, with or without `slow_call`. It is not padded to a
//! cache line: the word is written only on a change of state and, under `Consecutive`, on a
//! failure or a success that saw a non-zero count, so the readers sharing its line rarely lose
//! it. Under `FailureRate` the writes go to the separately allocated ring, and only when a
//! count can change: an absorbed success writes nothing (the word is written when the ring
//! starts or stops absorbing, `window.rs`). Under `TimeWindow` they go to the
//! separately allocated buckets, one compare-and-swap per outcome, successes included.

mod clock;
#[cfg(feature = "fleet")]
mod fleet;
mod machine;
mod permit;
mod state;
mod time_window;
mod window;

#[cfg(all(test, loom))]
mod loom;
#[cfg(all(test, not(loom)))]
mod tests;
#[cfg(all(test, not(loom)))]
mod tests_backoff;
#[cfg(all(test, not(loom), feature = "fleet"))]
mod tests_fleet;
#[cfg(all(test, not(loom)))]
mod tests_outcomes;
#[cfg(all(test, not(loom)))]
mod tests_slow;
#[cfg(all(test, not(loom)))]
mod tests_time_window;

use std::fmt;
use std::future::Future;
use std::time::Duration;

use resilience_config::breaker as limits;

use crate::stats::{Counters, Stats};
use crate::sync::{const_fn, Ordering};
use crate::{Failure, InstanceName, Rejected};

use self::machine::Core;
pub use self::permit::{BreakerPermit, BreakerRun};
use self::state::{Tag, TRIALS_MAX};
use crate::clock::Clock;

/// When a closed breaker opens.
///
/// ```
/// use resilience_runtime::TripPolicy;
///
/// // Open after 5 failures in a row.
/// let consecutive = TripPolicy::Consecutive { threshold: 5 };
/// // Open when at least 20 of the last 100 calls are known and half of them failed.
/// let rate = TripPolicy::FailureRate { failure_rate: 0.5, window: 100, min_calls: 20 };
/// assert_ne!(consecutive, rate);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum TripPolicy {
    /// Open after `threshold` consecutive failures; a success resets the count when it
    /// completes.
    Consecutive {
        /// Failures in a row that open the breaker (at least 1).
        threshold: u32,
    },
    /// Open when at least `min_calls` of the last `window` calls are recorded and the fraction
    /// of failures among them is at least `failure_rate`.
    FailureRate {
        /// The failed fraction that opens the breaker, in `(0, 1]`.
        failure_rate: f64,
        /// How many of the most recent calls the rate is computed over (at least 1).
        window: u32,
        /// Calls that must be recorded before the rate is trusted (at most `window`).
        min_calls: u32,
    },
    /// Open when at least `min_calls` calls completed in the last `window` and the fraction
    /// of failures among them is at least `failure_rate`. The window is kept in `buckets`
    /// rotating buckets of `window / buckets` each and slides by one bucket at a time, so it
    /// spans between `window - window / buckets` and `window` (`time_window.rs`).
    ///
    /// ```
    /// use resilience_runtime::TripPolicy;
    /// use std::time::Duration;
    ///
    /// // Open when at least 20 calls completed in the last 30 s and half of them failed.
    /// let policy = TripPolicy::TimeWindow {
    ///     failure_rate: 0.5,
    ///     window: Duration::from_secs(30),
    ///     buckets: 10,
    ///     min_calls: 20,
    /// };
    /// # let _ = policy;
    /// ```
    TimeWindow {
        /// The failed fraction that opens the breaker, in `(0, 1]`.
        failure_rate: f64,
        /// How far back the rate looks (longer than zero).
        window: Duration,
        /// The buckets the window is kept in, each at least 1 ms (at least 1).
        buckets: u32,
        /// Calls that must be in the window before the rate is trusted.
        min_calls: u32,
    },
}

/// How [`CircuitBreaker::run`] records an error of the guarded future: what its `is_failure`
/// argument returns (a `bool` converts: `true` is a failure, `false` a success).
///
/// ```
/// use resilience_runtime::ErrorClass;
///
/// assert_eq!(ErrorClass::from(true), ErrorClass::Failed);
/// assert_eq!(ErrorClass::from(false), ErrorClass::Succeeded);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorClass {
    /// The dependency failed: recorded as a failure (a half-open trial ending so reopens).
    Failed,
    /// The dependency answered (a "not found", say): recorded as a success.
    Succeeded,
    /// Says nothing about the dependency's health: recorded as neither, and a half-open
    /// trial ending so gives its place back.
    Ignored,
}

impl From<bool> for ErrorClass {
    /// `true` is a failure, `false` a success: the `is_failure` predicates of `failure_if`.
    fn from(is_failure: bool) -> Self {
        if is_failure {
            Self::Failed
        } else {
            Self::Succeeded
        }
    }
}

/// The configuration of one [`CircuitBreaker`]: the defaults from [`new`](Self::new), changed
/// by `const` builder methods, so it can initialise a `static` and generated code sets only
/// what the user wrote.
///
/// ```
/// use resilience_runtime::{BreakerConfig, InstanceName, TripPolicy};
/// use std::time::Duration;
///
/// const CONFIG: BreakerConfig = BreakerConfig::new(InstanceName::given("payment"))
///     .with_policy(TripPolicy::Consecutive { threshold: 5 })
///     .with_open_for(Duration::from_secs(30));
/// assert_eq!(CONFIG.half_open(), 1);
/// assert_eq!(CONFIG.open_for(), Duration::from_secs(30));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerConfig {
    pub(crate) name: InstanceName,
    pub(crate) policy: TripPolicy,
    /// `open_for` and `open_for_max` in nanoseconds (saturated), so the backoff's cap costs
    /// no more room than a `Duration`; 0 for the cap means `open_for`.
    pub(crate) open_for_ns: u64,
    pub(crate) open_for_max_ns: u64,
    pub(crate) half_open: u32,
    /// `slow_call` in nanoseconds (saturated); 0 means off: no call is timed.
    pub(crate) slow_call_ns: u64,
    pub(crate) slow_call_rate: f64,
    /// `shared`: joins the fleet (the `fleet` feature); in the padding, so free.
    pub(crate) fleet: bool,
}

/// A duration in whole nanoseconds, saturated at `u64::MAX` (584 years, the longest duration
/// the attributes' grammar writes).
const fn nanos(duration: Duration) -> u64 {
    let nanos = duration.as_nanos();
    if nanos > u64::MAX as u128 {
        u64::MAX
    } else {
        // Checked just above.
        #[allow(clippy::cast_possible_truncation)]
        let nanos = nanos as u64;
        nanos
    }
}

impl BreakerConfig {
    /// The defaults of `#[circuit_breaker]`: open after 3 consecutive failures, stay open for
    /// 10 s, then admit 1 trial (the values of [`resilience_config::breaker`], which the macros
    /// check against too).
    pub const fn new(name: InstanceName) -> Self {
        Self {
            name,
            policy: TripPolicy::Consecutive {
                threshold: limits::DEFAULT_THRESHOLD,
            },
            open_for_ns: limits::DEFAULT_TIMEOUT_NANOS,
            open_for_max_ns: 0,
            half_open: limits::DEFAULT_HALF_OPEN,
            slow_call_ns: 0,
            slow_call_rate: limits::DEFAULT_SLOW_CALL_RATE,
            fleet: false,
        }
    }

    /// Joins the fleet (the attribute's `shared`, which needs an explicit name): with the
    /// `fleet` feature and a linked process, a trip in any replica opens every replica and
    /// the fleet admits `half_open` trials in total. Otherwise the breaker is local.
    ///
    /// ```
    /// use resilience_runtime::{BreakerConfig, InstanceName};
    ///
    /// const PAYMENT: BreakerConfig = BreakerConfig::new(InstanceName::given("payment")).with_fleet();
    /// assert!(PAYMENT.fleet());
    /// ```
    #[must_use]
    pub const fn with_fleet(mut self) -> Self {
        self.fleet = true;
        self
    }

    /// Whether the breaker joins the fleet ([`with_fleet`](Self::with_fleet)).
    pub const fn fleet(&self) -> bool {
        self.fleet
    }

    /// When the closed breaker opens.
    #[must_use]
    pub const fn with_policy(mut self, policy: TripPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Time spent open before trial calls are admitted (the attribute's `timeout`).
    #[must_use]
    pub const fn with_open_for(mut self, open_for: Duration) -> Self {
        self.open_for_ns = nanos(open_for);
        self
    }

    /// The longest open period (the attribute's `timeout_max`): each half-open phase that
    /// ends with a failed trial doubles the open period, up to this; closing resets it to
    /// [`open_for`](Self::open_for). By default it is `open_for`: no backoff. A cap below
    /// `open_for` is read as `open_for` (the attribute and overrides refuse it).
    ///
    /// ```
    /// use resilience_runtime::{BreakerConfig, InstanceName};
    /// use std::time::Duration;
    ///
    /// let config = BreakerConfig::new(InstanceName::given("payment"))
    ///     .with_open_for(Duration::from_secs(10))
    ///     .with_open_for_max(Duration::from_secs(300));
    /// assert_eq!(config.open_for_max(), Duration::from_secs(300));
    /// assert_eq!(BreakerConfig::new(InstanceName::given("db")).open_for_max(), Duration::from_secs(10));
    /// ```
    #[must_use]
    pub const fn with_open_for_max(mut self, open_for_max: Duration) -> Self {
        self.open_for_max_ns = nanos(open_for_max);
        self
    }

    /// Trial calls admitted while half-open; that many must succeed to close the breaker
    /// (at least 1).
    #[must_use]
    pub const fn with_half_open(mut self, half_open: u32) -> Self {
        self.half_open = half_open;
        self
    }

    /// A call that completes more than `slow_call` after it was admitted is slow (the
    /// attribute's `slow_call`): under `Consecutive` it counts as a failure even if it
    /// succeeded, a half-open trial that is slow fails, and under `FailureRate` the breaker
    /// also opens when the slow fraction of the window reaches
    /// [`slow_call_rate`](Self::with_slow_call_rate). Off by default, and then the clock is
    /// never read for a call; `Duration::ZERO` turns it off (the attribute and overrides
    /// refuse it). Calls are timed in whole microseconds (`clock.rs`, "Slow calls").
    ///
    /// ```
    /// use resilience_runtime::{BreakerConfig, InstanceName};
    /// use std::time::Duration;
    ///
    /// let config = BreakerConfig::new(InstanceName::given("search")).with_slow_call(Duration::from_secs(2));
    /// assert_eq!(config.slow_call(), Some(Duration::from_secs(2)));
    /// assert_eq!(BreakerConfig::new(InstanceName::given("db")).slow_call(), None);
    /// ```
    #[must_use]
    pub const fn with_slow_call(mut self, slow_call: Duration) -> Self {
        self.slow_call_ns = nanos(slow_call);
        self
    }

    /// The slow fraction of a `FailureRate` window that opens the breaker, in `(0, 1]`
    /// (default 1.0: every recorded call slow), judged like the failure rate: whenever an
    /// outcome is recorded, once at least `min_calls` are. Needs
    /// [`with_slow_call`](Self::with_slow_call); ignored under `Consecutive`.
    #[must_use]
    pub const fn with_slow_call_rate(mut self, slow_call_rate: f64) -> Self {
        self.slow_call_rate = slow_call_rate;
        self
    }

    /// The duration after which a call is slow, if slow calls are detected.
    pub const fn slow_call(&self) -> Option<Duration> {
        if self.slow_call_ns == 0 {
            None
        } else {
            Some(Duration::from_nanos(self.slow_call_ns))
        }
    }

    /// The slow fraction of the window that opens a `FailureRate` breaker.
    pub const fn slow_call_rate(&self) -> f64 {
        self.slow_call_rate
    }

    /// The instance name, reported in [`Rejected::CircuitOpen`].
    pub const fn name(&self) -> InstanceName {
        self.name
    }

    /// When the closed breaker opens.
    pub const fn policy(&self) -> TripPolicy {
        self.policy
    }

    /// Time spent open before trial calls are admitted.
    pub const fn open_for(&self) -> Duration {
        Duration::from_nanos(self.open_for_ns)
    }

    /// The longest open period, after backoff: `open_for` unless a longer cap was set.
    pub const fn open_for_max(&self) -> Duration {
        let max = if self.open_for_max_ns > self.open_for_ns {
            self.open_for_max_ns
        } else {
            self.open_for_ns
        };
        Duration::from_nanos(max)
    }

    /// The open period after `level` failed half-open phases in a row: `open_for * 2^level`,
    /// at most `open_for_max`.
    pub(crate) fn open_period(&self, level: u32) -> Duration {
        let doubled = self
            .open_for_ns
            .saturating_mul(1_u64.checked_shl(level).unwrap_or(u64::MAX));
        Duration::from_nanos(doubled).min(self.open_for_max())
    }

    /// Trial calls admitted per half-open phase.
    pub const fn half_open(&self) -> u32 {
        self.half_open
    }

    /// Trials per half-open phase, as the state word can hold them.
    fn trials(&self) -> u64 {
        u64::from(self.half_open).clamp(1, TRIALS_MAX)
    }
}

/// The state of a [`CircuitBreaker`], as [`CircuitBreaker::state`] reports it.
///
/// ```
/// use resilience_runtime::{BreakerConfig, BreakerState, CircuitBreaker, InstanceName};
///
/// static B: CircuitBreaker = CircuitBreaker::new(BreakerConfig::new(InstanceName::given("db")));
/// assert_eq!(B.state(), BreakerState::Closed);
/// B.force_open();
/// assert_eq!(B.state(), BreakerState::ForcedOpen);
/// B.reset();
/// assert_eq!(B.state(), BreakerState::Closed);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BreakerState {
    /// Calls run; outcomes are watched by the trip policy.
    Closed,
    /// Calls are rejected until the open period ends.
    Open,
    /// Trial calls are admitted (or running); other calls are rejected.
    HalfOpen,
    /// Every call is rejected until [`CircuitBreaker::reset`] or
    /// [`CircuitBreaker::force_closed`].
    ForcedOpen,
    /// Every call runs and nothing is recorded until [`CircuitBreaker::reset`] or
    /// [`CircuitBreaker::force_open`].
    ForcedClosed,
}

/// A circuit breaker: closed → open → half-open, in one atomic word.
///
/// Non-generic and `const`-constructible, so each guarded function keeps one in a `static`.
/// [`run`](Self::run) guards a future; [`try_acquire`](Self::try_acquire) is the manual form.
///
/// ```
/// use resilience_runtime::{BreakerConfig, BreakerState, CircuitBreaker, Failure, InstanceName, Rejected};
/// use std::time::Duration;
///
/// static B: CircuitBreaker = CircuitBreaker::new(BreakerConfig::new(InstanceName::given("payment")));
///
/// async fn charge(fail: bool) -> Result<u32, Failure<&'static str>> {
///     B.run(async { if fail { Err(Failure::Error("declined by bank")) } else { Ok(42) } }, |_| true)
///         .await
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// for _ in 0..3 {
///     assert!(matches!(charge(true).await, Err(Failure::Error(_))));
/// }
/// assert_eq!(B.state(), BreakerState::Open);
/// // While open the body does not run.
/// match charge(false).await {
///     Err(Failure::Rejected(Rejected::CircuitOpen { retry_after, .. })) => {
///         assert_eq!(retry_after, Some(Duration::from_secs(10)));
///     }
///     other => panic!("expected a rejection, got {other:?}"),
/// }
/// // After the open period one trial runs; its success closes the breaker.
/// tokio::time::advance(Duration::from_secs(10)).await;
/// assert_eq!(charge(false).await.unwrap(), 42);
/// assert_eq!(B.state(), BreakerState::Closed);
/// # }
/// ```
pub struct CircuitBreaker {
    config: BreakerConfig,
    core: Core,
    clock: Clock,
    counters: Counters,
}

impl CircuitBreaker {
    const_fn! {
        /// A closed breaker with `config`. `const`, so it can initialise a `static`.
        pub fn new(config: BreakerConfig) -> Self {
            let breaker = Self {
                config,
                core: Core::new(),
                clock: Clock::new(),
                counters: Counters::new(),
            };
            // The `OnceLock` that allocates the slow-path words synchronises itself, but loom
            // cannot see it: under loom they are allocated here, before any thread shares the
            // breaker.
            #[cfg(loom)]
            let _ = breaker.core.extra(&breaker.config);
            breaker
        }
    }

    /// The configuration.
    pub fn config(&self) -> &BreakerConfig {
        &self.config
    }

    /// How long the breaker has been in its current state: since its last transition, or since
    /// its first call if it never had one. For snapshots; an open breaker whose open period is
    /// over reports the time since it opened until a trial moves it to half-open.
    pub fn time_in_state(&self) -> Duration {
        self.core.in_state(self.clock.elapsed())
    }

    /// What this breaker counted (all zeros without the `stats` feature).
    pub fn stats(&self) -> Stats {
        self.counters.read()
    }

    /// The instance name.
    pub fn name(&self) -> &'static str {
        self.config.name.get()
    }

    /// The key of a keyed instance (`key = host` on the attribute), as its `Display` wrote
    /// it; `None` for an instance without a key.
    pub fn key(&self) -> Option<&str> {
        self.core.key.as_deref()
    }

    /// The same instance, as the one of `key` in a keyed site.
    #[must_use]
    pub(crate) fn with_key(mut self, key: std::sync::Arc<str>) -> Self {
        self.core.key = Some(crate::error::KeyText::new(key));
        self
    }

    /// The open period of the latest opening, backoff included: `timeout` doubled for each
    /// half-open phase in a row that ended with a failed trial, at most `timeout_max`; back
    /// to `timeout` once the breaker closes (or is reset or forced).
    ///
    /// ```
    /// use resilience_runtime::{BreakerConfig, CircuitBreaker, InstanceName, TripPolicy};
    /// use std::time::Duration;
    ///
    /// static B: CircuitBreaker = CircuitBreaker::new(
    ///     BreakerConfig::new(InstanceName::given("flaky"))
    ///         .with_policy(TripPolicy::Consecutive { threshold: 1 })
    ///         .with_open_for(Duration::from_secs(10))
    ///         .with_open_for_max(Duration::from_secs(60)),
    /// );
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// B.try_acquire().unwrap().failure();
    /// assert_eq!(B.open_period(), Duration::from_secs(10));
    /// tokio::time::advance(Duration::from_secs(10)).await;
    /// B.try_acquire().unwrap().failure(); // the trial fails: open twice as long
    /// assert_eq!(B.open_period(), Duration::from_secs(20));
    /// # }
    /// ```
    pub fn open_period(&self) -> Duration {
        self.core.open_period(&self.config)
    }

    /// The slow fraction of the calls in the failure-rate window now: `None` for a
    /// `Consecutive` breaker, without [`slow_call`](BreakerConfig::with_slow_call), or while
    /// the window holds no outcome. A few relaxed loads, allocating nothing; for snapshots.
    ///
    /// ```
    /// use resilience_runtime::{BreakerConfig, CircuitBreaker, InstanceName, TripPolicy};
    /// use std::time::Duration;
    ///
    /// static B: CircuitBreaker = CircuitBreaker::new(
    ///     BreakerConfig::new(InstanceName::given("search"))
    ///         .with_policy(TripPolicy::FailureRate { failure_rate: 0.5, window: 10, min_calls: 10 })
    ///         .with_slow_call(Duration::from_secs(2)),
    /// );
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// assert_eq!(B.slow_rate(), None, "nothing recorded yet");
    /// let permit = B.try_acquire().unwrap();
    /// tokio::time::advance(Duration::from_secs(3)).await;
    /// permit.success(); // slow
    /// B.try_acquire().unwrap().success(); // fast
    /// assert_eq!(B.slow_rate(), Some(0.5));
    /// # }
    /// ```
    pub fn slow_rate(&self) -> Option<f64> {
        match self.config.policy {
            _ if self.config.slow_call_ns == 0 => None,
            TripPolicy::FailureRate { window, .. } => self
                .core
                .ring_if_any(&self.config)?
                .slow_rate(window.max(1)),
            TripPolicy::TimeWindow { .. } => self.window_counts()?.slow_rate(),
            TripPolicy::Consecutive { .. } => None,
        }
    }

    /// The failed fraction of the calls in the window now (the count window's last `window`
    /// calls, or the time window's calls of the last `window`): `None` for a `Consecutive`
    /// breaker or while the window holds no outcome. A few relaxed loads (and, for a time
    /// window, a clock reading), allocating nothing; for snapshots.
    ///
    /// ```
    /// use resilience_runtime::{BreakerConfig, CircuitBreaker, InstanceName, TripPolicy};
    /// use std::time::Duration;
    ///
    /// static B: CircuitBreaker = CircuitBreaker::new(
    ///     BreakerConfig::new(InstanceName::given("search")).with_policy(TripPolicy::TimeWindow {
    ///         failure_rate: 0.5,
    ///         window: Duration::from_secs(30),
    ///         buckets: 10,
    ///         min_calls: 20,
    ///     }),
    /// );
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// assert_eq!(B.failure_rate(), None, "nothing recorded yet");
    /// B.try_acquire().unwrap().failure();
    /// for _ in 0..3 {
    ///     B.try_acquire().unwrap().success();
    /// }
    /// assert_eq!(B.failure_rate(), Some(0.25));
    /// tokio::time::advance(Duration::from_secs(31)).await;
    /// assert_eq!(B.failure_rate(), None, "the window moved past them");
    /// # }
    /// ```
    pub fn failure_rate(&self) -> Option<f64> {
        match self.config.policy {
            TripPolicy::FailureRate { window, .. } => self
                .core
                .ring_if_any(&self.config)?
                .failure_rate(window.max(1)),
            TripPolicy::TimeWindow { .. } => self.window_counts()?.failure_rate(),
            TripPolicy::Consecutive { .. } => None,
        }
    }

    /// What the time window holds now, if its buckets were allocated.
    fn window_counts(&self) -> Option<time_window::Counts> {
        let buckets = self.core.buckets_if_any(&self.config)?;
        Some(buckets.counts(buckets.bucket(self.clock.elapsed())))
    }

    /// The current state. An open breaker whose open period has ended reports
    /// [`BreakerState::HalfOpen`]: the next call will be admitted as a trial.
    pub fn state(&self) -> BreakerState {
        self.core.state(|| self.clock.elapsed())
    }

    /// Asks to make one call. The returned permit must be told the call's outcome
    /// ([`success`](BreakerPermit::success), [`failure`](BreakerPermit::failure) or
    /// [`ignore`](BreakerPermit::ignore)); dropping it unsettled counts as a cancellation, or
    /// as a failure if the thread is panicking.
    ///
    /// # Errors
    ///
    /// [`Rejected::CircuitOpen`] if the call must not run: `retry_after` is the time left in
    /// the open period, or `None` while half-open trials are running or when forced open
    /// (then `forced` is `true`).
    ///
    /// ```
    /// use resilience_runtime::{BreakerConfig, CircuitBreaker, InstanceName, TripPolicy};
    ///
    /// static B: CircuitBreaker = CircuitBreaker::new(
    ///     BreakerConfig::new(InstanceName::given("inventory")).with_policy(TripPolicy::Consecutive { threshold: 1 }),
    /// );
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let permit = B.try_acquire().expect("closed");
    /// permit.failure();
    /// assert!(B.try_acquire().is_err());
    /// # }
    /// ```
    #[inline]
    pub fn try_acquire(&self) -> Result<BreakerPermit<'_>, Rejected> {
        // The hot path, inline: one relaxed load, no write (forced closed takes the slow one).
        let word = self.core.load(Ordering::Relaxed);
        if word.tag() == Tag::Closed {
            if self.config.slow_call_ns != 0 {
                return Ok(self.timed(word));
            }
            return Ok(BreakerPermit {
                breaker: self,
                word,
            });
        }
        match self.try_acquire_slow() {
            Ok(permit) => Ok(permit),
            Err(refusal) => Err(self.rejection(refusal)),
        }
    }

    /// Runs `fut` if the breaker admits it, and records its outcome.
    ///
    /// `Ok` is a success; `Err(Failure::Error(e))` is what `is_failure(&e)` says: a `bool`
    /// (`true` a failure, `false` a success: the service answered) or an [`ErrorClass`],
    /// whose [`Ignored`](ErrorClass::Ignored) records nothing and gives a half-open trial's
    /// admission back; an inner [`Rejected::TimedOut`] is a failure; any other inner rejection
    /// (a full bulkhead, a rate limit, an inner breaker) is not recorded. If this future is
    /// dropped before `fut` finishes, nothing is recorded and a half-open trial's admission is
    /// given back.
    ///
    /// # Errors
    ///
    /// [`Rejected::CircuitOpen`] (as `Failure::Rejected`) without polling `fut` if the breaker
    /// refuses the call; otherwise `fut`'s own error.
    ///
    /// # Panics
    ///
    /// If `fut` panics, the panic is recorded as a failure and then resumed.
    ///
    /// ```
    /// use resilience_runtime::{BreakerConfig, CircuitBreaker, Failure, InstanceName, TripPolicy};
    ///
    /// #[derive(Debug)]
    /// enum HttpError { NotFound, Unavailable }
    ///
    /// static B: CircuitBreaker = CircuitBreaker::new(
    ///     BreakerConfig::new(InstanceName::given("catalog")).with_policy(TripPolicy::Consecutive { threshold: 2 }),
    /// );
    ///
    /// // A 404 is an answer from a healthy service, not a failure.
    /// fn is_failure(e: &HttpError) -> bool { matches!(e, HttpError::Unavailable) }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// for _ in 0..5 {
    ///     let r = B.run(async { Err::<(), _>(Failure::Error(HttpError::NotFound)) }, is_failure);
    ///     assert!(matches!(r.await, Err(Failure::Error(HttpError::NotFound))));
    /// }
    /// assert!(B.try_acquire().is_ok(), "404s never open the breaker");
    /// # }
    /// ```
    pub fn run<T, E, F, P, C>(&self, fut: F, is_failure: P) -> BreakerRun<'_, F, P>
    where
        F: Future<Output = Result<T, Failure<E>>>,
        P: FnOnce(&E) -> C,
        C: Into<ErrorClass>,
    {
        BreakerRun::new(self, fut, is_failure)
    }

    /// Opens the breaker until [`reset`](Self::reset) or [`force_closed`](Self::force_closed):
    /// every call is rejected with `retry_after: None` and `forced: true`, which its message
    /// reports as "forced open". Outcomes of calls already running are not recorded.
    ///
    /// ```
    /// # use resilience_runtime::{BreakerConfig, CircuitBreaker, InstanceName};
    /// static B: CircuitBreaker = CircuitBreaker::new(BreakerConfig::new(InstanceName::given("maintenance")));
    /// B.force_open();
    /// assert!(B.try_acquire().is_err());
    /// ```
    pub fn force_open(&self) {
        self.core
            .force(&self.config, Tag::ForcedOpen, || self.clock.elapsed());
    }

    /// Closes the breaker until [`reset`](Self::reset) or [`force_open`](Self::force_open):
    /// every call runs and no outcome is recorded, so it never trips.
    ///
    /// ```
    /// # use resilience_runtime::{BreakerConfig, BreakerState, CircuitBreaker, InstanceName};
    /// static B: CircuitBreaker = CircuitBreaker::new(BreakerConfig::new(InstanceName::given("critical")));
    /// B.force_closed();
    /// for _ in 0..10 {
    ///     B.try_acquire().unwrap().failure();
    /// }
    /// assert_eq!(B.state(), BreakerState::ForcedClosed);
    /// ```
    pub fn force_closed(&self) {
        self.core
            .force(&self.config, Tag::ForcedClosed, || self.clock.elapsed());
    }

    /// Returns the breaker to [`BreakerState::Closed`] with its counts (and failure-rate window)
    /// cleared, ending a forced state. Outcomes of calls already running are not recorded.
    pub fn reset(&self) {
        self.core
            .force(&self.config, Tag::Closed, || self.clock.elapsed());
    }
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("name", &self.name())
            .field("state", &self.state())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

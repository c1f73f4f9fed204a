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
//!   after `threshold` failures in a row (a success resets the count); `FailureRate` opens when
//!   at least `min_calls` of the last `window` calls are recorded and the failed fraction is at
//!   least `failure_rate`, judged whenever an outcome is recorded: a success that brings the
//!   recorded count to `min_calls` opens the breaker if the rate is already reached.
//! - **Open**: no call runs; each is rejected with [`Rejected::CircuitOpen`] carrying
//!   `retry_after: Some(time until the open period ends)`. The open period is never shorter than
//!   `open_for`.
//! - **Half-open**: the first caller after the open period becomes a trial. At most `half_open`
//!   trials are admitted in this phase; everyone else is rejected unrun with
//!   `retry_after: None` (the next admission depends on the trials' outcomes). When `half_open`
//!   trials have succeeded the breaker closes with fresh counts; the first trial failure opens
//!   it again for a full `open_for`. A trial that is cancelled (its future dropped) or whose
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
//! | `Err(Failure::Error(e))`, `is_failure(&e)` | failure |
//! | `Err(Failure::Error(e))`, `!is_failure(&e)` | success: the service answered |
//! | `Err(Failure::Rejected(Rejected::TimedOut { .. }))` | failure: a slow dependency is an unhealthy one |
//! | any other inner rejection (`BulkheadFull`, an inner breaker's `CircuitOpen`) | nothing |
//! | a panic in the body | failure; the panic then resumes unwinding |
//! | the future dropped before it finished | nothing: a cancellation |
//!
//! An inner bulkhead's `BulkheadFull` is *local* back-pressure: the dependency never saw the
//! call, so it says nothing about the dependency's health. Counting it would let a burst of
//! callers open the breaker on a healthy service. A cancellation says nothing either: the
//! caller lost interest (a `select!`, an outer timeout's sibling, a dropped request). Both
//! release their permit without recording, which for a half-open trial means giving the
//! admission back.
//!
//! A panic in the body unwinds through [`BreakerRun`]'s `poll`, where a drop guard around the
//! body's poll records it as a failure at that moment, so the verdict does not depend on when (or
//! whether) the future is dropped afterwards. A permit's own `Drop` is the second line:
//! dropped while [`std::thread::panicking`] (a panic in `is_failure`, or in code holding a
//! permit from [`CircuitBreaker::try_acquire`]) it records a failure; dropped otherwise it is
//! a cancellation.
//!
//! # Implementation details
//!
//! ## One state word
//!
//! The whole state machine lives in one `AtomicU64`, updated by compare-and-swap loops (beside
//! it, only a half-open takeover deadline, see "Hung trials", and the failure-rate ring):
//!
//! ```text
//!  63                                   24 23                     3 2      0
//! ┌──────────────────────────────────────┬────────────────────────┬────────┐
//! │            payload (40 bits)         │   generation (21 bits) │ tag (3)│
//! └──────────────────────────────────────┴────────────────────────┴────────┘
//!
//! tag           payload
//! 0 Closed        consecutive failures (Consecutive policy; 0 under FailureRate)
//! 1 Open          deadline: milliseconds since the breaker's epoch, rounded up
//! 2 HalfOpen      bits 0..20: trials admitted (and not given back)
//!                 bits 20..40: trials succeeded
//! 3 ForcedOpen    0
//! 4 ForcedClosed  0
//! ```
//!
//! The all-zero word is "closed, generation 0, no failures", so a breaker is a `static` with no
//! initialisation. Limits that follow from the layout: a deadline saturates at 2^40 - 1 ms (34
//! years); `half_open` is capped at 2^20 - 1 trials (the macro accepts far fewer).
//!
//! ## Generations
//!
//! Every change of phase (any change of tag, a reset, a takeover) increments the generation.
//! A permit remembers the word it was admitted under, and its outcome is applied only if the
//! current word still has the same generation and tag. So a slow call admitted while closed
//! that finishes after the breaker opened and went half-open cannot decide the trial, a trial
//! admitted before a failed trial reopened the breaker cannot close it, and a hung trial
//! whose place was taken over (a new half-open generation) decides nothing. The generation
//! wraps after 2^21 phase changes; a permit would have to stay in flight across exactly a
//! multiple of that many changes to be mistaken for a current one.
//!
//! ## The hot path
//!
//! Closed with the `Consecutive` policy: [`CircuitBreaker::try_acquire`] is one relaxed load
//! and no write. [`BreakerPermit::success`] writes only if the failure count *seen at
//! acquire* was non-zero. That is correct because a call's success may be linearised at any
//! moment between its admission and its completion: if the count was zero at admission the
//! success is placed there, where resetting the count to zero changes nothing; failures that
//! other calls record meanwhile are ordered after it and keep counting. If the count was
//! non-zero, the success is placed at completion and resets whatever count it finds then. A
//! failure is a CAS that increments the count or, at `threshold`, opens the breaker. No lock,
//! no allocation, and the clock is read only when opening or while open.
//!
//! ## The failure-rate window
//!
//! `FailureRate` keeps the outcomes of the last `window` calls in a ring of bits (1 = failure):
//! `ceil(window / 64)` atomic words allocated once per breaker on first use, preceded by an
//! atomic position counter. A recorded outcome takes an index with `fetch_add` and sets bit
//! `index % window`, or clears it if it is set (a success finding its bit clear only reads
//! it); a failure then counts the set bits (`count_ones` over the ring, only bits below
//! `window` are ever set), with `recorded = min(index + 1, window)`, and opens the breaker when
//! `recorded >= min_calls` and `failures / recorded >= failure_rate`. A success cannot raise
//! the rate, so it is judged only when it is the outcome that makes the rule apply: the one
//! whose index is `min(min_calls, window) - 1`, so `recorded` reaches `min_calls` with it (S,
//! F, F, S opens a breaker at 0.5 over 4). That index is taken once per clear, while the ring
//! is still filling (the position only steps back from `2 * window`), so a full ring's
//! success pays one comparison more than before and an absorbed one nothing. The ring is
//! cleared (position and bits zeroed) on every transition to closed.
//!
//! The position is kept below `2 * window`, so the slot is `index` or `index - window`, found
//! by a comparison instead of a division: the outcome that takes index `2 * window - 1` then
//! subtracts `window` from the position, only while the position is at least `2 * window` (a
//! compare-and-swap loop, once per `window` outcomes). Subtracting a whole window keeps every
//! later slot where it was and keeps a full ring's position at least `window`; the condition
//! means a subtraction that races a clear finds the position below `2 * window` and does
//! nothing, so the position never underflows. An outcome racing the subtraction may take an
//! index past `2 * window`; it falls back to `index % window`.
//!
//! **The hot path: a success is absorbed by a window full of successes.** When the position
//! is at least `window` and no bit is set, a success writes nothing at all: no index, no bit.
//! That is exact, not an approximation: if the last `window` outcomes all succeeded, adding one
//! more success and dropping the oldest (a success) changes no count, and every later window
//! holds the same number of failures as it would have with the success recorded (a window
//! that would have included the absorbed success includes one more of the older successes
//! instead). The position stays at least `window`, so `recorded` is unchanged too. A closed
//! breaker on a healthy dependency therefore pays one `Acquire` load of the state word and
//! `1 + ceil(window / 64)` relaxed loads per success, and no read-modify-write.
//!
//! This is lock-free but not a snapshot: an evaluation may see a concurrent outcome's bit a
//! little early or late, an outcome of the previous generation that passed its generation
//! check just before a transition may land in the fresh ring, a clear may race such an
//! outcome, and a success may be absorbed on loads that a concurrent outcome makes disagree
//! (the position read before that outcome's index was taken, say, and its bit after). All of
//! these shift the decision by at most the few calls in flight at that moment; with no outcome
//! in flight the counts are exact. Counts are always derived from the bits, never kept in a
//! separate counter, so they cannot underflow or drift. Evaluation costs `window / 64` loads,
//! paid on failures and on the one success that brings the recorded count to `min_calls`.
//!
//! ## Hung trials
//!
//! A trial admitted at time `t` holds its place until `t + open_for` at most. The state word
//! has no room for a time beside its trial counts (its 40-bit payload is the two 20-bit
//! counts), so the time lives in a second atomic word, the *takeover deadline*: milliseconds
//! since the epoch, rounded up, at which the latest trial admitted will have run for
//! `open_for`. Every admission of a trial (the one that moves open to half-open, one into a
//! free place, a takeover) raises it with `fetch_max` *before* the compare-and-swap that
//! admits it, and it is never lowered. A caller that finds every place taken reads it and, if
//! it is over, moves the word to a new half-open generation with itself as the one trial
//! admitted: the old trials' permits are stale from then on (see "Generations"), so their
//! outcomes are ignored and their drops give nothing back. Otherwise it is rejected.
//!
//! The deadline read is never earlier than that of any trial counted in the word read (see
//! "Memory ordering"), so no trial loses its place before `open_for`: a takeover is never
//! early. It can be late: a deadline raised by an admission whose compare-and-swap then
//! failed, or by a takeover that lost to a trial's success in the same phase, holds the next
//! takeover back by up to one open period more. Each such delay needs a concurrent change of
//! the word, so a hung trial is always replaced eventually. With no trial hung, callers pay
//! one more relaxed load per rejection and one `fetch_max` per trial admitted.
//!
//! ## Time
//!
//! The clock is [`tokio::time::Instant::now`] (so a paused test clock drives it), read only
//! when opening, when a call or [`CircuitBreaker::state`] meets an open breaker, and when a
//! call is admitted as a trial or finds every trial place taken. Deadlines are milliseconds
//! since a per-breaker epoch, taken the first time the clock is needed
//! (a `OnceLock`, so the zero-initialised `static` needs no clock). A deadline is `open_for`
//! after the moment of opening, rounded *up* to a whole millisecond, and the open period ends
//! when the elapsed time rounded *down* reaches it, so it is never shorter than `open_for`.
//! The state machine itself (`Core`) takes the elapsed time as a lazily called function and
//! knows nothing of tokio; under `--cfg loom` the clock is a settable counter.
//!
//! # Memory ordering
//!
//! The state word is self-contained: a thread that reads it needs no other memory written
//! before it, with two exceptions (the takeover deadline and the failure-rate ring, below).
//! All updates are read-modify-write operations on this one location, which are totally
//! ordered by its modification order whatever their `Ordering`; that is what makes the CAS
//! loops linearizable. Hence:
//!
//! - `Relaxed` for the admission load (the hot path) and [`CircuitBreaker::state`]'s load; for
//!   every CAS that does not move the breaker into the closed state or admit a trial
//!   (counting failures, resetting the count, opening, finishing trials); and for the failure
//!   ordering of those CASes (a failed CAS only retries with the value it read).
//! - `Release` on the CAS that admits a trial (open → half-open, a free place, a takeover),
//!   paired with `Acquire` on the slow path's load of the word and on its failed CASes: the
//!   admitting caller raised the takeover deadline *before* its CAS, so a caller that reads a
//!   word counting that trial (or any later value: every write of the word is a
//!   read-modify-write, which continues the release sequence) happens-after the raise and
//!   reads the deadline it wrote or a later one. The deadline itself is `Relaxed`: `fetch_max`
//!   keeps it monotonic, and it publishes nothing.
//! - `Release` on a CAS that moves the breaker into a new closed generation, paired with an
//!   `Acquire` load of the word before a `FailureRate` outcome is written to the ring: the
//!   ring was cleared *before* the transition, so an outcome whose generation check reads the
//!   new closed word (or any later value: every later write is a read-modify-write, which
//!   continues the release sequence) happens-after the clear and cannot be wiped by it.
//! - Inside the ring, `Relaxed` throughout: each bit and the position are independent
//!   counters whose races are accepted above; nothing is published through them. The
//!   `Acquire` load that checks the generation comes before *every* access to the ring,
//!   including the loads of an absorbed success, so those never read a ring from before the
//!   clear that opened their generation.
//! - The epoch is a `OnceLock`, which synchronises itself: whichever thread initialises it,
//!   every reader gets the one value, so a deadline written relative to it means the same to
//!   every thread whatever ordering the word was read with.
//! - The manual controls ([`CircuitBreaker::force_open`], [`CircuitBreaker::force_closed`],
//!   [`CircuitBreaker::reset`]) are rare and use `SeqCst`, which for `reset` also provides the
//!   `Release` that publishes the ring's clear.
//!
//! # Size
//!
//! A `CircuitBreaker` is its configuration, the state word, the lazily allocated slow-path
//! words (the takeover deadline, allocated at the first trial, and the failure-rate ring), the
//! time of the last transition and the epoch: 128 bytes on 64-bit targets, 64 of them the
//! configuration (the `stats` feature adds 40 bytes of counters). It is not padded to a
//! cache line: the word is written only on a change of state and, under `Consecutive`, on a
//! failure or a success that saw a non-zero count, so the readers sharing its line rarely lose
//! it. Under `FailureRate` the writes go to the separately allocated ring, and only when a
//! count can change: an absorbed success writes nothing.

use std::fmt;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use resilience_config::breaker as limits;
use std::time::Duration;

use crate::stats::{Count, Counters, Stats};
use crate::sync::{const_fn, AtomicU64, Ordering};
use crate::{events, Failure, InstanceName, Rejected};

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
    /// Open after `threshold` consecutive failures; a success resets the count.
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
    pub(crate) open_for: Duration,
    pub(crate) half_open: u32,
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
            open_for: Duration::from_nanos(limits::DEFAULT_TIMEOUT_NANOS),
            half_open: limits::DEFAULT_HALF_OPEN,
        }
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
        self.open_for = open_for;
        self
    }

    /// Trial calls admitted while half-open; that many must succeed to close the breaker
    /// (at least 1).
    #[must_use]
    pub const fn with_half_open(mut self, half_open: u32) -> Self {
        self.half_open = half_open;
        self
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
        self.open_for
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
        // The hot path, inline: one relaxed load, no write (module docs, "Memory ordering").
        let word = self.core.load(Ordering::Relaxed);
        if matches!(word.tag(), Tag::Closed | Tag::ForcedClosed) {
            return Ok(BreakerPermit {
                breaker: self,
                word,
            });
        }
        self.try_acquire_slow()
    }

    #[inline(never)]
    fn try_acquire_slow(&self) -> Result<BreakerPermit<'_>, Rejected> {
        let rejected = match self.core.acquire(&self.config, || self.clock.elapsed()) {
            Ok(word) => {
                return Ok(BreakerPermit {
                    breaker: self,
                    word,
                })
            }
            Err(Refusal::Open { retry_after }) => {
                Rejected::circuit_open(self.name(), Some(retry_after))
            }
            Err(Refusal::Busy) => Rejected::circuit_open(self.name(), None),
            Err(Refusal::Forced) => Rejected::circuit_forced_open(self.name()),
        };
        events::rejected(&rejected);
        Err(rejected)
    }

    /// Runs `fut` if the breaker admits it, and records its outcome.
    ///
    /// `Ok` is a success; `Err(Failure::Error(e))` is a failure if `is_failure(&e)`, otherwise
    /// a success (the service answered); an inner [`Rejected::TimedOut`] is a failure; any
    /// other inner rejection (a full bulkhead, an inner breaker) is not recorded. If this
    /// future is dropped before `fut` finishes, nothing is recorded and a half-open trial's
    /// admission is given back.
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
    pub fn run<T, E, F, P>(&self, fut: F, is_failure: P) -> BreakerRun<'_, F, P>
    where
        F: Future<Output = Result<T, Failure<E>>>,
        P: FnOnce(&E) -> bool,
    {
        BreakerRun {
            breaker: self,
            permit: None,
            is_failure: Some(is_failure),
            fut,
        }
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

    /// Records the outcome of the permit admitted under `word`.
    fn record(&self, word: Word, verdict: Verdict) {
        self.core
            .record(&self.config, word, verdict, || self.clock.elapsed());
    }
}

/// Hooks for the loom model tests (`tests/loom_breaker.rs`); not part of the API.
#[cfg(loom)]
impl CircuitBreaker {
    /// Sets the stand-in clock: milliseconds since the breaker's epoch.
    #[doc(hidden)]
    pub fn loom_set_now_ms(&self, ms: u64) {
        self.clock
            .now_ms
            .store(ms, std::sync::atomic::Ordering::SeqCst);
    }

    /// The state word's generation and payload.
    #[doc(hidden)]
    pub fn loom_snapshot(&self) -> (u32, u64) {
        let word = self.core.load(Ordering::SeqCst);
        (word.gen(), word.payload())
    }

    /// The failure-rate ring's position and number of failure bits (`(0, 0)` before its
    /// first use).
    #[doc(hidden)]
    pub fn loom_ring(&self) -> (u64, u32) {
        self.core.extra.get().map_or((0, 0), |extra| {
            let failures = extra[2..]
                .iter()
                .map(|word| word.load(Ordering::SeqCst).count_ones())
                .sum();
            (extra[1].load(Ordering::SeqCst), failures)
        })
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

/// Permission to make one call through a [`CircuitBreaker`]; tell it the call's outcome.
///
/// Dropping a permit without settling it is a cancellation: nothing is recorded and a
/// half-open trial's admission is given back. If it is dropped while the thread is panicking,
/// it records a failure.
///
/// ```
/// use resilience_runtime::{BreakerConfig, CircuitBreaker, InstanceName};
///
/// static B: CircuitBreaker = CircuitBreaker::new(BreakerConfig::new(InstanceName::given("search")));
///
/// let permit = B.try_acquire().unwrap();
/// let answer: Result<u32, std::io::Error> = Ok(7);
/// match answer {
///     Ok(_) => permit.success(),
///     Err(_) => permit.failure(),
/// }
/// ```
#[must_use = "a dropped permit records nothing; settle it with success(), failure() or ignore()"]
pub struct BreakerPermit<'a> {
    breaker: &'a CircuitBreaker,
    /// The state word this permit was admitted under.
    word: Word,
}

impl BreakerPermit<'_> {
    /// The call succeeded.
    pub fn success(self) {
        self.settle(Verdict::Success);
    }

    /// The call failed.
    pub fn failure(self) {
        self.settle(Verdict::Failure);
    }

    /// Releases the permit without recording anything: the outcome says nothing about the
    /// dependency's health (for example, an inner bulkhead rejected the call).
    pub fn ignore(self) {
        self.settle(Verdict::Release);
    }

    #[inline]
    fn settle(self, verdict: Verdict) {
        let this = ManuallyDrop::new(self);
        // The hot path, inline: a success admitted while closed with no failures counted has
        // nothing to reset (the success is linearised at admission; see the module docs).
        if verdict == Verdict::Success
            && this.word.tag() == Tag::Closed
            && this.word.payload() == 0
            && matches!(this.breaker.config.policy, TripPolicy::Consecutive { .. })
        {
            return;
        }
        this.breaker.record(this.word, verdict);
    }
}

impl Drop for BreakerPermit<'_> {
    fn drop(&mut self) {
        let verdict = if std::thread::panicking() {
            Verdict::Failure
        } else {
            Verdict::Release
        };
        self.breaker.record(self.word, verdict);
    }
}

impl fmt::Debug for BreakerPermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreakerPermit")
            .field("breaker", &self.breaker.name())
            .field("word", &self.word)
            .finish()
    }
}

pin_project! {
    /// The future of [`CircuitBreaker::run`].
    ///
    /// A hand-written future rather than an `async fn`: it stores the guarded future once (an
    /// `async fn` keeps its argument and the moved copy in separate slots of its state), and
    /// its first poll is the whole admission check, inlined into the caller.
    #[must_use = "futures do nothing unless polled"]
    pub struct BreakerRun<'a, F, P> {
        breaker: &'a CircuitBreaker,
        permit: Option<BreakerPermit<'a>>,
        // `None` once the outcome is settled.
        is_failure: Option<P>,
        #[pin]
        fut: F,
    }
}

impl<T, E, F, P> Future for BreakerRun<'_, F, P>
where
    F: Future<Output = Result<T, Failure<E>>>,
    P: FnOnce(&E) -> bool,
{
    type Output = Result<T, Failure<E>>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        assert!(
            this.is_failure.is_some(),
            "`BreakerRun` polled after completion"
        );
        if this.permit.is_none() {
            match this.breaker.try_acquire() {
                Ok(permit) => *this.permit = Some(permit),
                Err(rejected) => {
                    *this.is_failure = None;
                    this.breaker.counters.add(&[Count::Call, Count::Rejection]);
                    return Poll::Ready(Err(Failure::Rejected(rejected)));
                }
            }
        }
        // A panic in the body unwinds through this frame: the guard records it as a failure
        // right there, whoever catches the panic and whenever this future is dropped.
        let polled = {
            let _guard = FailOnUnwind(this.permit);
            this.fut.poll(cx)
        };
        let output = match polled {
            Poll::Ready(output) => output,
            Poll::Pending => return Poll::Pending,
        };
        let (Some(permit), Some(is_failure)) = (this.permit.take(), this.is_failure.take()) else {
            unreachable!("admitted above and not yet settled");
        };
        let counters = &this.breaker.counters;
        match &output {
            Ok(_) => {
                permit.success();
                counters.add(&[Count::Call, Count::Success]);
            }
            Err(Failure::Error(error)) => {
                if is_failure(error) {
                    permit.failure();
                    counters.add(&[Count::Call, Count::Failure]);
                } else {
                    permit.success();
                    counters.add(&[Count::Call, Count::Success]);
                }
            }
            Err(Failure::Rejected(Rejected::TimedOut { .. })) => {
                permit.failure();
                counters.add(&[Count::Call, Count::Failure]);
            }
            Err(Failure::Rejected(_)) => {
                permit.ignore();
                counters.add(&[Count::Call]);
            }
        }
        Poll::Ready(output)
    }
}

/// Settles the permit as a failure if it is dropped during a panic; on the normal path its
/// drop is one relaxed load of the process's panic count.
struct FailOnUnwind<'p, 'a>(&'p mut Option<BreakerPermit<'a>>);

impl Drop for FailOnUnwind<'_, '_> {
    #[inline]
    fn drop(&mut self) {
        if std::thread::panicking() {
            if let Some(permit) = self.0.take() {
                permit.failure();
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The state word.

const TAG_BITS: u32 = 3;
const GEN_BITS: u32 = 21;
const GEN_SHIFT: u32 = TAG_BITS;
const PAYLOAD_SHIFT: u32 = TAG_BITS + GEN_BITS;
const TAG_MASK: u64 = (1 << TAG_BITS) - 1;
const GEN_MASK: u64 = (1 << GEN_BITS) - 1;
/// The low bits of the word that identify a phase: tag and generation.
const PHASE_MASK: u64 = (1 << PAYLOAD_SHIFT) - 1;
/// The largest payload: an open deadline saturates here.
const PAYLOAD_MAX: u64 = (1 << (64 - PAYLOAD_SHIFT)) - 1;
const TRIAL_BITS: u32 = 20;
/// The largest half-open trial count.
const TRIALS_MAX: u64 = (1 << TRIAL_BITS) - 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    Closed = 0,
    Open = 1,
    HalfOpen = 2,
    ForcedOpen = 3,
    ForcedClosed = 4,
}

impl Tag {
    /// The state this tag stands for, as the word says it (an open breaker whose period is
    /// over is still `Open` here; [`CircuitBreaker::state`] reads the clock too).
    fn state(self) -> BreakerState {
        match self {
            Tag::Closed => BreakerState::Closed,
            Tag::Open => BreakerState::Open,
            Tag::HalfOpen => BreakerState::HalfOpen,
            Tag::ForcedOpen => BreakerState::ForcedOpen,
            Tag::ForcedClosed => BreakerState::ForcedClosed,
        }
    }
}

/// One value of the state word; see the module docs for the layout.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Word(u64);

impl Word {
    const CLOSED: Self = Self(0);

    fn new(tag: Tag, gen: u64, payload: u64) -> Self {
        debug_assert!(payload <= PAYLOAD_MAX);
        Self(tag as u64 | (gen & GEN_MASK) << GEN_SHIFT | payload << PAYLOAD_SHIFT)
    }

    fn tag(self) -> Tag {
        match self.0 & TAG_MASK {
            0 => Tag::Closed,
            1 => Tag::Open,
            2 => Tag::HalfOpen,
            3 => Tag::ForcedOpen,
            _ => Tag::ForcedClosed,
        }
    }

    fn gen(self) -> u32 {
        // Masked to GEN_BITS (21) bits, so the cast is lossless.
        #[allow(clippy::cast_possible_truncation)]
        let gen = ((self.0 >> GEN_SHIFT) & GEN_MASK) as u32;
        gen
    }

    fn phase(self) -> u64 {
        self.0 & PHASE_MASK
    }

    fn payload(self) -> u64 {
        self.0 >> PAYLOAD_SHIFT
    }

    /// The first word of the next phase.
    fn next(self, tag: Tag, payload: u64) -> Self {
        Self::new(tag, u64::from(self.gen()) + 1, payload)
    }

    /// This phase with a new payload.
    fn with_payload(self, payload: u64) -> Self {
        debug_assert!(payload <= PAYLOAD_MAX);
        Self(self.phase() | payload << PAYLOAD_SHIFT)
    }

    /// Half-open: trials admitted and not given back.
    fn admitted(self) -> u64 {
        self.payload() & TRIALS_MAX
    }

    /// Half-open: trials that succeeded.
    fn succeeded(self) -> u64 {
        self.payload() >> TRIAL_BITS
    }

    fn trials(admitted: u64, succeeded: u64) -> u64 {
        debug_assert!(succeeded <= admitted && admitted <= TRIALS_MAX);
        admitted | succeeded << TRIAL_BITS
    }
}

impl fmt::Debug for Word {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}#{}({})", self.tag(), self.gen(), self.payload())
    }
}

/// A deadline `open_for` after `elapsed`, in whole milliseconds rounded up.
fn deadline_ms(elapsed: Duration, open_for: Duration) -> u64 {
    let end = elapsed
        .saturating_add(open_for)
        .as_nanos()
        .div_ceil(1_000_000);
    u64::try_from(end).map_or(PAYLOAD_MAX, |ms| ms.min(PAYLOAD_MAX))
}

/// Whether an open period ending at `deadline` (ms) is over at `elapsed`.
fn is_over(deadline: u64, elapsed: Duration) -> bool {
    elapsed.as_millis() >= u128::from(deadline)
}

// ---------------------------------------------------------------------------------------------
// The state machine, free of tokio: time comes in as the elapsed time since the epoch, asked
// for only when needed.

/// A lazily read clock: at most one reading per operation.
struct Now<F> {
    read: F,
    cached: Option<Duration>,
}

impl<F: Fn() -> Duration> Now<F> {
    fn new(read: F) -> Self {
        Self { read, cached: None }
    }

    fn get(&mut self) -> Duration {
        *self.cached.get_or_insert_with(&self.read)
    }
}

/// What a call is told when it may not run.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    /// Open: the open period ends after `retry_after`.
    Open { retry_after: Duration },
    /// Half-open with every place taken by a trial admitted less than an open period ago.
    Busy,
    /// Forced open.
    Forced,
}

/// The outcome a permit reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Success,
    Failure,
    /// Ignored or cancelled: release without recording.
    Release,
}

/// The state word and the words only slow paths touch.
struct Core {
    word: AtomicU64,
    /// `[takeover, position, bits...]`, allocated on first use: the half-open takeover
    /// deadline (module docs, "Hung trials"), then, under `FailureRate` only, the ring.
    extra: OnceLock<Box<[AtomicU64]>>,
    /// When the tag last changed, in milliseconds since the breaker's epoch; for snapshots
    /// only (written on transitions, never read by the state machine).
    changed_ms: AtomicU64,
}

impl Core {
    const_fn! {
        fn new() -> Self {
            Self {
                word: AtomicU64::new(Word::CLOSED.0),
                extra: OnceLock::new(),
                changed_ms: AtomicU64::new(0),
            }
        }
    }

    #[inline]
    fn load(&self, order: Ordering) -> Word {
        Word(self.word.load(order))
    }

    /// Notes a change of tag: its time for snapshots, and an event (a no-op by default).
    /// Relaxed: a snapshot may pair a new state with the previous change's time for a moment.
    fn announce(&self, config: &BreakerConfig, (from, to): (Word, Word), now: Duration) {
        let now_ms = u64::try_from(now.as_millis()).unwrap_or(u64::MAX);
        self.changed_ms.store(now_ms, Ordering::Relaxed);
        events::transition(config.name.get(), from.tag().state(), to.tag().state());
    }

    /// How long since the tag last changed (or since the epoch, if it never did).
    fn in_state(&self, now: Duration) -> Duration {
        now.saturating_sub(Duration::from_millis(
            self.changed_ms.load(Ordering::Relaxed),
        ))
    }

    fn state(&self, now: impl Fn() -> Duration) -> BreakerState {
        let word = self.load(Ordering::Relaxed);
        match word.tag() {
            Tag::Closed => BreakerState::Closed,
            Tag::Open if is_over(word.payload(), now()) => BreakerState::HalfOpen,
            Tag::Open => BreakerState::Open,
            Tag::HalfOpen => BreakerState::HalfOpen,
            Tag::ForcedOpen => BreakerState::ForcedOpen,
            Tag::ForcedClosed => BreakerState::ForcedClosed,
        }
    }

    /// Admits a call, returning the word it is admitted under.
    fn acquire(&self, config: &BreakerConfig, now: impl Fn() -> Duration) -> Result<Word, Refusal> {
        let mut now = Now::new(now);
        // Acquire (here and on a failed CAS): a half-open word read here happens-after the
        // takeover deadlines written for the admissions it counts (module docs, "Memory
        // ordering").
        let mut current = self.load(Ordering::Acquire);
        loop {
            let next = match current.tag() {
                // The hot path: no write. A closed permit needs nothing reserved.
                Tag::Closed | Tag::ForcedClosed => return Ok(current),
                Tag::ForcedOpen => return Err(Refusal::Forced),
                Tag::Open => {
                    let deadline = current.payload();
                    let elapsed = now.get();
                    if !is_over(deadline, elapsed) {
                        let retry_after = Duration::from_millis(deadline).saturating_sub(elapsed);
                        return Err(Refusal::Open { retry_after });
                    }
                    // This caller is the first trial of a new half-open phase.
                    current.next(Tag::HalfOpen, Word::trials(1, 0))
                }
                Tag::HalfOpen => {
                    let admitted = current.admitted();
                    if admitted < config.trials() {
                        current.with_payload(Word::trials(admitted + 1, current.succeeded()))
                    } else if is_over(self.takeover(config).load(Ordering::Relaxed), now.get()) {
                        // Every place is held by a trial admitted at least an open period
                        // ago: they lose their places, and this caller is the first trial of
                        // a new half-open phase, whose generation makes theirs stale.
                        current.next(Tag::HalfOpen, Word::trials(1, 0))
                    } else {
                        return Err(Refusal::Busy);
                    }
                }
            };
            // Before the CAS that admits this trial, so whoever reads a word counting it reads
            // this deadline too (or a later one). Kept even if the CAS fails: a deadline too
            // late only delays a takeover.
            self.takeover(config)
                .fetch_max(deadline_ms(now.get(), config.open_for), Ordering::Relaxed);
            // Strong: a spurious failure would meet the deadline just written and turn a
            // takeover into a rejection.
            match self.word.compare_exchange(
                current.0,
                next.0,
                Ordering::Release,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    if current.tag() != next.tag() {
                        self.announce(config, (current, next), now.get());
                    }
                    return Ok(next);
                }
                Err(actual) => current = Word(actual),
            }
        }
    }

    /// Records the outcome of a call admitted under `permit`.
    fn record(
        &self,
        config: &BreakerConfig,
        permit: Word,
        verdict: Verdict,
        now: impl Fn() -> Duration,
    ) {
        let mut now = Now::new(now);
        let mut transition = None;
        match (permit.tag(), config.policy) {
            (Tag::Closed, _) if verdict == Verdict::Release => {}
            (Tag::Closed, TripPolicy::Consecutive { threshold }) => {
                if verdict == Verdict::Success {
                    // Linearised at acquire when the count was zero then: nothing to reset.
                    if permit.payload() == 0 {
                        return;
                    }
                    transition = self.update(permit, |current| {
                        (current.payload() != 0).then(|| current.with_payload(0))
                    });
                } else {
                    let threshold = u64::from(threshold.max(1));
                    transition = self.update(permit, |current| {
                        let failures = current.payload() + 1;
                        Some(if failures >= threshold {
                            current.next(Tag::Open, deadline_ms(now.get(), config.open_for))
                        } else {
                            current.with_payload(failures)
                        })
                    });
                }
            }
            (
                Tag::Closed,
                TripPolicy::FailureRate {
                    failure_rate,
                    window,
                    min_calls,
                },
            ) => {
                // Acquire: pairs with the Release of the transition into this generation, so
                // the ring's clear happens-before this outcome reads or writes it (module docs).
                if self.load(Ordering::Acquire).phase() != permit.phase() {
                    return;
                }
                let failed = verdict == Verdict::Failure;
                let window = window.max(1);
                let ring = self.ring(config);
                // The hot path: a success absorbed by a window full of successes writes
                // nothing (module docs, "The failure-rate window").
                if !failed && ring.all_successes(window) {
                    return;
                }
                let index = ring.push(window, failed);
                // A failure can raise the rate. A success can only lower it, except the one
                // that brings the recorded count to `min_calls`: the rule applies from then
                // on, and the rate may already be reached (S F F S at 0.5 over 4 opens).
                let reaches_min_calls = index + 1 == u64::from(min_calls.clamp(1, window));
                if (failed || reaches_min_calls)
                    && ring.trips(index, window, failure_rate, min_calls)
                {
                    transition = self.update(permit, |current| {
                        Some(current.next(Tag::Open, deadline_ms(now.get(), config.open_for)))
                    });
                }
            }
            (Tag::HalfOpen, _) => {
                transition = self.update(permit, |current| match verdict {
                    Verdict::Success => {
                        let succeeded = current.succeeded() + 1;
                        if succeeded >= config.trials() {
                            self.clear_ring();
                            Some(current.next(Tag::Closed, 0))
                        } else {
                            Some(current.with_payload(Word::trials(current.admitted(), succeeded)))
                        }
                    }
                    Verdict::Failure => {
                        Some(current.next(Tag::Open, deadline_ms(now.get(), config.open_for)))
                    }
                    Verdict::Release => {
                        debug_assert!(current.admitted() > current.succeeded());
                        let admitted = current.admitted().saturating_sub(1);
                        Some(current.with_payload(Word::trials(admitted, current.succeeded())))
                    }
                });
            }
            // Forced closed records nothing; no other state issues permits.
            (Tag::ForcedClosed | Tag::Open | Tag::ForcedOpen, _) => {}
        }
        if let Some(change) = transition {
            self.announce(config, change, now.get());
        }
    }

    /// A CAS loop applying `f` while the word is still in `permit`'s phase; `f` returning
    /// `None` means there is nothing to write.
    /// Applies `f` while the word is still in the permit's phase; returns the change of tag
    /// it made, if any, for the caller to announce.
    fn update(
        &self,
        permit: Word,
        mut f: impl FnMut(Word) -> Option<Word>,
    ) -> Option<(Word, Word)> {
        let mut current = self.load(Ordering::Relaxed);
        loop {
            if current.phase() != permit.phase() {
                return None; // stale: a transition happened since the permit was admitted
            }
            let next = f(current)?;
            // Release when entering a new closed generation: publishes the ring's clear.
            let order = if next.tag() == Tag::Closed && next.phase() != current.phase() {
                Ordering::Release
            } else {
                Ordering::Relaxed
            };
            match self
                .word
                .compare_exchange_weak(current.0, next.0, order, Ordering::Relaxed)
            {
                Ok(_) => return (current.tag() != next.tag()).then_some((current, next)),
                Err(actual) => current = Word(actual),
            }
        }
    }

    /// Moves to `tag` in a new generation, whatever the current state.
    fn force(&self, config: &BreakerConfig, tag: Tag, now: impl Fn() -> Duration) {
        if tag == Tag::Closed && matches!(config.policy, TripPolicy::FailureRate { .. }) {
            self.clear_ring();
        }
        let mut current = self.load(Ordering::SeqCst);
        loop {
            let next = current.next(tag, 0);
            match self.word.compare_exchange_weak(
                current.0,
                next.0,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => {
                    if current.tag() != next.tag() {
                        self.announce(config, (current, next), now());
                    }
                    return;
                }
                Err(actual) => current = Word(actual),
            }
        }
    }

    /// The slow-path words, allocated at the first call that needs one: `[takeover]`, or
    /// under `FailureRate` `[takeover, position, bits...]`.
    fn extra(&self, config: &BreakerConfig) -> &[AtomicU64] {
        self.extra.get_or_init(|| {
            let ring = match config.policy {
                TripPolicy::Consecutive { .. } => 0,
                TripPolicy::FailureRate { window, .. } => 1 + window.max(1).div_ceil(64) as usize,
            };
            (0..=ring).map(|_| AtomicU64::new(0)).collect()
        })
    }

    /// The half-open takeover deadline: milliseconds since the epoch, rounded up, at which
    /// the latest trial admitted will have run for an open period. Only ever raised.
    fn takeover(&self, config: &BreakerConfig) -> &AtomicU64 {
        &self.extra(config)[0]
    }

    /// The failure-rate ring (`FailureRate` only).
    fn ring(&self, config: &BreakerConfig) -> Ring<'_> {
        Ring(&self.extra(config)[1..])
    }

    /// Empties the failure-rate ring, if it exists. The takeover deadline stays: a trial
    /// admitted in a race with the transition that clears the ring must keep its place.
    fn clear_ring(&self) {
        if let Some(extra) = self.extra.get() {
            for slot in &extra[1..] {
                // A swap, not a store: the same effect here, and loom (tokio-rs/loom#254) can
                // let a plain store land inside a concurrent read-modify-write, an execution
                // no hardware produces, which would fail the model of a clear racing the
                // position's step back.
                slot.swap(0, Ordering::Relaxed);
            }
        }
    }
}

/// The failure-rate ring: `[position, bits...]`.
struct Ring<'a>(&'a [AtomicU64]);

impl Ring<'_> {
    fn position(&self) -> &AtomicU64 {
        &self.0[0]
    }

    fn bits(&self) -> &[AtomicU64] {
        &self.0[1..]
    }

    /// Whether the ring holds `window` outcomes and none of them failed: then one more
    /// success changes no count, now or later, and need not be written.
    fn all_successes(&self, window: u32) -> bool {
        self.position().load(Ordering::Relaxed) >= u64::from(window)
            && self
                .bits()
                .iter()
                .all(|word| word.load(Ordering::Relaxed) == 0)
    }

    /// Writes one outcome and returns its index: its number in the stream of outcomes since
    /// the last clear, less a multiple of `window` once that is at least `2 * window`. A
    /// success whose bit is already clear only reads it.
    fn push(&self, window: u32, failed: bool) -> u64 {
        let position = self.position();
        let window = u64::from(window);
        let index = position.fetch_add(1, Ordering::Relaxed);
        // The position stays below `2 * window` (but for outcomes racing the step below), so
        // the slot is found with a comparison, not a division.
        let slot = if index < window {
            index
        } else if index < 2 * window {
            index - window
        } else {
            index % window
        };
        if index == 2 * window - 1 {
            // This outcome took the last index below `2 * window`: step the position back by
            // a whole window, which keeps every later slot and keeps it at least `window`.
            // Only from `2 * window` up, so a step racing a clear cannot underflow it.
            let _ = position.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |p| {
                (p >= 2 * window).then(|| p - window)
            });
        }
        // `slot < window <= u32::MAX`, so the cast is lossless.
        #[allow(clippy::cast_possible_truncation)]
        let slot = slot as usize;
        let mask = 1 << (slot % 64);
        let word = &self.bits()[slot / 64];
        if failed {
            word.fetch_or(mask, Ordering::Relaxed);
        } else if word.load(Ordering::Relaxed) & mask != 0 {
            word.fetch_and(!mask, Ordering::Relaxed);
        }
        index
    }

    /// Whether the ring, just after the outcome at `index` was written, opens the breaker.
    fn trips(&self, index: u64, window: u32, failure_rate: f64, min_calls: u32) -> bool {
        let recorded = u32::try_from(index.saturating_add(1)).map_or(window, |n| n.min(window));
        // Only bits below `window` are ever set, so no mask is needed on the last word.
        let failures: u32 = self
            .bits()
            .iter()
            .map(|word| word.load(Ordering::Relaxed).count_ones())
            .sum();
        recorded >= min_calls.max(1)
            && f64::from(failures.min(recorded)) / f64::from(recorded) >= failure_rate
    }
}

// ---------------------------------------------------------------------------------------------
// The clock.

/// Elapsed time since a per-breaker epoch, taken on first need.
#[cfg(not(loom))]
struct Clock {
    epoch: OnceLock<tokio::time::Instant>,
}

#[cfg(not(loom))]
impl Clock {
    const fn new() -> Self {
        Self {
            epoch: OnceLock::new(),
        }
    }

    fn elapsed(&self) -> Duration {
        let epoch = *self.epoch.get_or_init(tokio::time::Instant::now);
        tokio::time::Instant::now().saturating_duration_since(epoch)
    }
}

/// Under loom: a counter the model sets, so executions are deterministic.
#[cfg(loom)]
struct Clock {
    now_ms: std::sync::atomic::AtomicU64,
}

#[cfg(loom)]
impl Clock {
    fn new() -> Self {
        Self {
            now_ms: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn elapsed(&self) -> Duration {
        Duration::from_millis(self.now_ms.load(std::sync::atomic::Ordering::SeqCst))
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::panic::AssertUnwindSafe;
    use std::pin::pin;
    use std::sync::atomic::AtomicUsize;
    use tokio::time::advance;

    const SECOND: Duration = Duration::from_secs(1);
    const OPEN_FOR: Duration = Duration::from_secs(10);

    fn consecutive(threshold: u32, half_open: u32) -> BreakerConfig {
        BreakerConfig {
            policy: TripPolicy::Consecutive { threshold },
            open_for: OPEN_FOR,
            half_open,
            ..BreakerConfig::new(InstanceName::given("test"))
        }
    }

    fn rate(failure_rate: f64, window: u32, min_calls: u32) -> BreakerConfig {
        BreakerConfig {
            policy: TripPolicy::FailureRate {
                failure_rate,
                window,
                min_calls,
            },
            ..consecutive(1, 1)
        }
    }

    /// The `retry_after` of a rejection; panics if the call is admitted.
    fn rejected(breaker: &CircuitBreaker) -> Option<Duration> {
        match breaker.try_acquire() {
            Err(Rejected::CircuitOpen {
                retry_after,
                name,
                forced,
            }) => {
                assert_eq!(name, "test");
                assert!(!forced, "not forced open");
                retry_after
            }
            Err(other) => panic!("unexpected rejection {other:?}"),
            Ok(permit) => panic!("admitted under {:?}", permit.word),
        }
    }

    fn fail(breaker: &CircuitBreaker) {
        breaker.try_acquire().expect("admitted").failure();
    }

    fn succeed(breaker: &CircuitBreaker) {
        breaker.try_acquire().expect("admitted").success();
    }

    /// Runs a body through `breaker.run`, counting body runs in `runs`.
    async fn call(
        breaker: &CircuitBreaker,
        runs: &AtomicUsize,
        outcome: Result<u32, Failure<&'static str>>,
    ) -> Result<u32, Failure<&'static str>> {
        breaker
            .run(
                async {
                    runs.fetch_add(1, Ordering::SeqCst);
                    outcome
                },
                |_| true,
            )
            .await
    }

    #[test]
    fn size_of_circuit_breaker() {
        let size = std::mem::size_of::<CircuitBreaker>();
        println!("size_of::<CircuitBreaker>() = {size}");
        println!(
            "size_of::<BreakerConfig>() = {}",
            std::mem::size_of::<BreakerConfig>()
        );
        println!(
            "size_of::<BreakerPermit>() = {}",
            std::mem::size_of::<BreakerPermit<'_>>()
        );
        let counters = if cfg!(feature = "stats") { 40 } else { 0 };
        assert!(
            size <= 128 + counters,
            "CircuitBreaker grew to {size} bytes"
        );
    }

    #[test]
    fn word_layout_round_trips() {
        let word = Word::new(Tag::HalfOpen, 5, Word::trials(3, 2));
        assert_eq!(word.tag(), Tag::HalfOpen);
        assert_eq!(word.gen(), 5);
        assert_eq!((word.admitted(), word.succeeded()), (3, 2));
        let open = word.next(Tag::Open, PAYLOAD_MAX);
        assert_eq!(
            (open.tag(), open.gen(), open.payload()),
            (Tag::Open, 6, PAYLOAD_MAX)
        );
        let wrapped = Word::new(Tag::Closed, GEN_MASK, 7).next(Tag::Open, 1);
        assert_eq!(
            (wrapped.tag(), wrapped.gen(), wrapped.payload()),
            (Tag::Open, 0, 1)
        );
        assert_eq!(deadline_ms(Duration::from_micros(300), SECOND), 1001);
        assert_eq!(deadline_ms(Duration::MAX, SECOND), PAYLOAD_MAX);
    }

    #[tokio::test(start_paused = true)]
    async fn opens_after_threshold_consecutive_failures() {
        let breaker = CircuitBreaker::new(consecutive(3, 1));
        let runs = AtomicUsize::new(0);
        for _ in 0..2 {
            assert!(matches!(
                call(&breaker, &runs, Err(Failure::Error("down"))).await,
                Err(Failure::Error("down"))
            ));
            assert_eq!(breaker.state(), BreakerState::Closed);
        }
        assert!(call(&breaker, &runs, Err(Failure::Error("down")))
            .await
            .is_err());
        assert_eq!(breaker.state(), BreakerState::Open);
        assert_eq!(runs.load(Ordering::SeqCst), 3);

        let result = call(&breaker, &runs, Ok(1)).await;
        assert!(matches!(
            result,
            Err(Failure::Rejected(Rejected::CircuitOpen {
                retry_after: Some(_),
                ..
            }))
        ));
        assert_eq!(
            runs.load(Ordering::SeqCst),
            3,
            "an open breaker does not run the body"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn open_rejects_with_retry_after() {
        let breaker = CircuitBreaker::new(consecutive(1, 1));
        fail(&breaker);
        assert_eq!(rejected(&breaker), Some(OPEN_FOR));
        advance(3 * SECOND).await;
        assert_eq!(rejected(&breaker), Some(7 * SECOND));
        advance(Duration::from_millis(6_500)).await;
        assert_eq!(rejected(&breaker), Some(Duration::from_millis(500)));
        assert_eq!(breaker.state(), BreakerState::Open);
        advance(Duration::from_millis(500)).await;
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        assert!(breaker.try_acquire().is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn open_period_is_never_shorter_than_open_for() {
        let breaker = CircuitBreaker::new(consecutive(1, 1));
        fail(&breaker); // sets the epoch
        advance(OPEN_FOR + Duration::from_micros(300)).await;
        // The trial fails 0.3 ms past a whole millisecond: the deadline rounds up.
        fail(&breaker);
        advance(Duration::from_micros(9_999_999)).await;
        let left = rejected(&breaker).expect("open");
        assert!(
            left > Duration::ZERO && left <= Duration::from_millis(1),
            "{left:?}"
        );
        advance(Duration::from_millis(1)).await;
        assert!(breaker.try_acquire().is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn success_resets_consecutive_count() {
        let breaker = CircuitBreaker::new(consecutive(3, 1));
        fail(&breaker);
        fail(&breaker);
        succeed(&breaker);
        fail(&breaker);
        fail(&breaker);
        assert_eq!(breaker.state(), BreakerState::Closed);
        fail(&breaker);
        assert_eq!(breaker.state(), BreakerState::Open);
    }

    #[tokio::test(start_paused = true)]
    async fn success_admitted_before_a_failure_does_not_erase_it() {
        // The success is linearised at acquire, when the count was zero.
        let breaker = CircuitBreaker::new(consecutive(2, 1));
        let early = breaker.try_acquire().unwrap();
        fail(&breaker);
        early.success();
        fail(&breaker);
        assert_eq!(breaker.state(), BreakerState::Open);
    }

    #[tokio::test(start_paused = true)]
    async fn errors_excluded_by_is_failure_count_as_success() {
        let breaker = CircuitBreaker::new(consecutive(2, 1));
        fail(&breaker);
        let result = breaker
            .run(async { Err::<(), _>(Failure::Error(404)) }, |code| {
                *code >= 500
            })
            .await;
        assert!(matches!(result, Err(Failure::Error(404))));
        fail(&breaker);
        assert_eq!(
            breaker.state(),
            BreakerState::Closed,
            "the 404 reset the count"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn half_open_after_open_for_and_closes_on_success() {
        let breaker = CircuitBreaker::new(consecutive(1, 1));
        let runs = AtomicUsize::new(0);
        assert!(call(&breaker, &runs, Err(Failure::Error("down")))
            .await
            .is_err());
        advance(OPEN_FOR).await;
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        assert_eq!(call(&breaker, &runs, Ok(7)).await.unwrap(), 7);
        assert_eq!(breaker.state(), BreakerState::Closed);
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        // Fresh counts: the next failure trips again (threshold 1), a success does not.
        assert_eq!(call(&breaker, &runs, Ok(8)).await.unwrap(), 8);
        assert_eq!(breaker.state(), BreakerState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn failed_trial_reopens_for_full_open_for() {
        let breaker = CircuitBreaker::new(consecutive(1, 1));
        let runs = AtomicUsize::new(0);
        fail(&breaker);
        advance(OPEN_FOR + 2 * SECOND).await; // a late trial
        assert!(call(&breaker, &runs, Err(Failure::Error("still down")))
            .await
            .is_err());
        assert_eq!(breaker.state(), BreakerState::Open);
        assert_eq!(
            rejected(&breaker),
            Some(OPEN_FOR),
            "a full open period again"
        );
        advance(Duration::from_millis(9_999)).await;
        assert_eq!(rejected(&breaker), Some(Duration::from_millis(1)));
        advance(Duration::from_millis(1)).await;
        assert_eq!(call(&breaker, &runs, Ok(1)).await.unwrap(), 1);
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        assert_eq!(breaker.state(), BreakerState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn half_open_admits_exactly_n_trials() {
        for n in [1_u32, 3] {
            let breaker = CircuitBreaker::new(consecutive(1, n));
            fail(&breaker);
            advance(OPEN_FOR).await;
            let mut trials: Vec<_> = (0..n)
                .map(|_| breaker.try_acquire().expect("a trial"))
                .collect();
            assert_eq!(
                rejected(&breaker),
                None,
                "n = {n}: trial {} is one too many",
                n + 1
            );
            assert_eq!(breaker.state(), BreakerState::HalfOpen);
            let last = trials.pop().unwrap();
            for trial in trials {
                trial.success();
                assert_eq!(breaker.state(), BreakerState::HalfOpen);
                assert_eq!(
                    rejected(&breaker),
                    None,
                    "a successful trial keeps its admission"
                );
            }
            last.success();
            assert_eq!(breaker.state(), BreakerState::Closed, "n = {n}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn trial_failure_reopens_while_other_trials_run() {
        let breaker = CircuitBreaker::new(consecutive(1, 2));
        fail(&breaker);
        advance(OPEN_FOR).await;
        let first = breaker.try_acquire().unwrap();
        let second = breaker.try_acquire().unwrap();
        first.failure();
        assert_eq!(breaker.state(), BreakerState::Open);
        second.success(); // stale: cannot close the reopened breaker
        assert_eq!(rejected(&breaker), Some(OPEN_FOR));
    }

    #[tokio::test(start_paused = true)]
    async fn cancelled_trial_does_not_wedge() {
        let breaker = CircuitBreaker::new(consecutive(1, 1));
        let runs = AtomicUsize::new(0);
        fail(&breaker);
        advance(OPEN_FOR).await;
        // The trial's future is dropped mid-body by an outer timeout.
        let slow = breaker.run(
            async {
                runs.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok::<_, Failure<()>>(())
            },
            |()| true,
        );
        assert!(tokio::time::timeout(SECOND, slow).await.is_err());
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        // The admission was given back at once: the next caller is the trial.
        let trial = breaker.try_acquire().expect("not wedged");
        drop(trial); // a dropped permit is a cancellation too
        breaker.try_acquire().expect("still not wedged").success();
        assert_eq!(breaker.state(), BreakerState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn hung_trial_loses_its_place_after_open_for() {
        let breaker = CircuitBreaker::new(consecutive(1, 1));
        fail(&breaker);
        advance(OPEN_FOR).await;
        let hung = breaker.try_acquire().expect("the first trial");
        advance(Duration::from_millis(9_999)).await;
        assert_eq!(rejected(&breaker), None, "the trial still holds its place");
        advance(Duration::from_millis(1)).await;
        let trial = breaker
            .try_acquire()
            .expect("an open period later: taken over");
        assert_eq!(rejected(&breaker), None, "the new trial holds the place");
        assert_eq!(
            breaker.core.load(Ordering::SeqCst).gen(),
            3,
            "closed #0, open #1, half-open #2, half-open #3"
        );

        // The late trial decides nothing and gives nothing back.
        hung.failure();
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        assert_eq!(rejected(&breaker), None);
        trial.success();
        assert_eq!(breaker.state(), BreakerState::Closed);

        // Nor does a late trial that is dropped, or that succeeds.
        fail(&breaker);
        advance(OPEN_FOR).await;
        let dropped = breaker.try_acquire().unwrap();
        let succeeding = {
            advance(OPEN_FOR).await;
            breaker.try_acquire().expect("took over `dropped`")
        };
        advance(OPEN_FOR).await;
        let trial = breaker.try_acquire().expect("took over `succeeding`");
        drop(dropped);
        succeeding.success();
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        assert_eq!(rejected(&breaker), None, "no place was given back");
        trial.failure();
        assert_eq!(rejected(&breaker), Some(OPEN_FOR));
    }

    #[tokio::test(start_paused = true)]
    async fn takeover_waits_an_open_period_after_the_latest_admission() {
        let breaker = CircuitBreaker::new(consecutive(1, 2));
        fail(&breaker);
        advance(OPEN_FOR).await;
        let hung = breaker.try_acquire().unwrap();
        let cancelled = breaker.try_acquire().unwrap();
        advance(5 * SECOND).await;
        drop(cancelled); // gives its place back
        let recent = breaker.try_acquire().expect("the place given back");
        advance(5 * SECOND).await;
        // `hung` has run for an open period, but `recent` only for half of one.
        assert_eq!(rejected(&breaker), None);
        advance(5 * SECOND).await;
        let first = breaker
            .try_acquire()
            .expect("both ran an open period: taken over");
        let second = breaker.try_acquire().expect("the new phase's second place");
        assert_eq!(rejected(&breaker), None);
        // The old phase's trials decide nothing: the new phase needs its own two successes.
        recent.success();
        hung.success();
        first.success();
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        second.success();
        assert_eq!(breaker.state(), BreakerState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn stale_permit_ignored_after_transition() {
        let breaker = CircuitBreaker::new(consecutive(2, 1));
        let slow = breaker.try_acquire().unwrap(); // admitted while closed, generation 0
        fail(&breaker);
        fail(&breaker);
        advance(OPEN_FOR).await;
        let trial = breaker.try_acquire().unwrap();
        slow.failure(); // finishes during the half-open phase: ignored
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        assert_eq!(rejected(&breaker), None);

        trial.success();
        assert_eq!(breaker.state(), BreakerState::Closed);

        // A closed-phase success from before a reset cannot clear the new count.
        fail(&breaker); // count 1
        let stale_success = breaker.try_acquire().unwrap(); // sees count 1
        breaker.reset(); // a new generation
        fail(&breaker); // count 1 in the new generation
        stale_success.success(); // stale: must not reset the new count
        fail(&breaker);
        assert_eq!(breaker.state(), BreakerState::Open);
    }

    fn explode() -> Result<(), Failure<()>> {
        panic!("the body panicked")
    }

    #[tokio::test(start_paused = true)]
    async fn panic_in_run_counts_as_failure() {
        static BREAKER: CircuitBreaker = CircuitBreaker::new(BreakerConfig {
            policy: TripPolicy::Consecutive { threshold: 1 },
            ..BreakerConfig::new(InstanceName::given("test"))
        });
        static RUNS: AtomicUsize = AtomicUsize::new(0);
        let task = tokio::spawn(BREAKER.run(
            async {
                RUNS.fetch_add(1, Ordering::SeqCst);
                tokio::task::yield_now().await;
                explode()
            },
            |()| true,
        ));
        let err = task.await.expect_err("the panic propagates");
        assert!(err.is_panic());
        assert_eq!(
            err.into_panic().downcast_ref::<&str>(),
            Some(&"the body panicked")
        );
        assert_eq!(RUNS.load(Ordering::SeqCst), 1);
        assert_eq!(
            BREAKER.state(),
            BreakerState::Open,
            "the panic was a failure"
        );
    }

    #[test]
    fn panic_while_holding_permit_counts_as_failure() {
        let breaker = CircuitBreaker::new(consecutive(1, 1));
        let caught = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let _permit = breaker.try_acquire().unwrap();
            panic!("unwinding drops the permit");
        }));
        assert!(caught.is_err());
        assert_eq!(breaker.core.load(Ordering::SeqCst).tag(), Tag::Open);
    }

    #[tokio::test(start_paused = true)]
    async fn failure_rate_window_respects_min_calls() {
        let breaker = CircuitBreaker::new(rate(0.5, 10, 5));
        for _ in 0..4 {
            fail(&breaker);
        }
        assert_eq!(
            breaker.state(),
            BreakerState::Closed,
            "4 calls < min_calls 5"
        );
        fail(&breaker);
        assert_eq!(breaker.state(), BreakerState::Open);

        let breaker = CircuitBreaker::new(rate(0.5, 10, 5));
        for _ in 0..4 {
            succeed(&breaker);
        }
        fail(&breaker);
        assert_eq!(breaker.state(), BreakerState::Closed, "1 of 5 failed");
    }

    #[tokio::test(start_paused = true)]
    async fn failure_rate_opens_at_rate() {
        let breaker = CircuitBreaker::new(rate(0.75, 4, 4));
        // F F S S S F: the window slides; the last 4 are S S S F.
        for failed in [true, true, false, false, false, true] {
            if failed {
                fail(&breaker);
            } else {
                succeed(&breaker);
            }
        }
        assert_eq!(
            breaker.state(),
            BreakerState::Closed,
            "1 of the last 4 failed"
        );
        fail(&breaker); // S S F F
        assert_eq!(breaker.state(), BreakerState::Closed, "2 of 4 < 0.75");
        fail(&breaker); // S F F F
        assert_eq!(breaker.state(), BreakerState::Open, "3 of 4 >= 0.75");

        // Ignored and cancelled calls are not recorded.
        advance(OPEN_FOR).await;
        succeed(&breaker); // the trial closes the breaker and clears the window
        assert_eq!(breaker.state(), BreakerState::Closed);
        for _ in 0..3 {
            fail(&breaker);
            breaker.try_acquire().unwrap().ignore();
            drop(breaker.try_acquire().unwrap());
        }
        assert_eq!(
            breaker.state(),
            BreakerState::Closed,
            "3 recorded < min_calls 4"
        );
        fail(&breaker);
        assert_eq!(breaker.state(), BreakerState::Open);
    }

    #[tokio::test(start_paused = true)]
    async fn failure_rate_success_reaching_min_calls_opens_at_rate() {
        // MicroProfile's testRollingWindowCircuitOpen, resilience4j's
        // shouldOpenAfterFailureRateThresholdExceeded: S F F S at 0.5 over 4.
        let breaker = CircuitBreaker::new(rate(0.5, 4, 4));
        let runs = AtomicUsize::new(0);
        for outcome in [
            Ok(1),
            Err(Failure::Error("down")),
            Err(Failure::Error("down")),
        ] {
            let _ = call(&breaker, &runs, outcome).await;
            assert_eq!(
                breaker.state(),
                BreakerState::Closed,
                "fewer than min_calls"
            );
        }
        assert_eq!(call(&breaker, &runs, Ok(4)).await.unwrap(), 4);
        assert_eq!(breaker.state(), BreakerState::Open, "2 of 4 >= 0.5");
        assert!(matches!(
            call(&breaker, &runs, Ok(5)).await,
            Err(Failure::Rejected(Rejected::CircuitOpen {
                retry_after: Some(OPEN_FOR),
                ..
            }))
        ));
        assert_eq!(
            runs.load(Ordering::SeqCst),
            4,
            "the rejected body did not run"
        );

        // min_calls below the window: the success bringing the count to min_calls decides.
        let breaker = CircuitBreaker::new(rate(0.5, 10, 4));
        fail(&breaker);
        fail(&breaker);
        succeed(&breaker);
        assert_eq!(breaker.state(), BreakerState::Closed);
        succeed(&breaker);
        assert_eq!(breaker.state(), BreakerState::Open, "2 of 4 >= 0.5");

        // Below the rate, it does not; nor do the successes after it.
        let breaker = CircuitBreaker::new(rate(0.5, 4, 4));
        for _ in 0..3 {
            succeed(&breaker);
        }
        fail(&breaker);
        for _ in 0..10 {
            succeed(&breaker);
        }
        assert_eq!(breaker.state(), BreakerState::Closed);
    }

    /// The ring against a plain list of the last `window` outcomes, for sequences that cross
    /// the position's step back many times and alternate long runs of successes (absorbed
    /// without a write) with bursts of failures.
    #[test]
    fn failure_rate_ring_counts_the_last_window_outcomes_exactly() {
        for window in [1_u32, 2, 3, 63, 64, 65, 100, 200] {
            let core = Core::new();
            let config = rate(0.5, window, window);
            let ring = core.ring(&config);
            let mut last = std::collections::VecDeque::new();
            let mut absorbed = 0;
            let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
            for n in 0..(20 * window + 2000) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let failed = (n / (3 * window + 50)) % 2 == 1 && seed % 3 == 0;
                // What `Core::record` does with a closed permit of the current generation.
                if !failed && ring.all_successes(window) {
                    absorbed += 1;
                } else {
                    let index = ring.push(window, failed);
                    assert!(
                        index < 2 * u64::from(window),
                        "window {window}: index {index}"
                    );
                }
                last.push_back(failed);
                if last.len() > window as usize {
                    last.pop_front();
                }
                let position = ring.position().load(Ordering::Relaxed);
                let failures: u32 = ring
                    .bits()
                    .iter()
                    .map(|word| word.load(Ordering::Relaxed).count_ones())
                    .sum();
                let expected = last.iter().filter(|&&failed| failed).count();
                assert_eq!(failures as usize, expected, "window {window}, outcome {n}");
                assert_eq!(
                    position.min(u64::from(window)),
                    last.len() as u64,
                    "window {window}, outcome {n}: recorded"
                );
                assert!(position < 2 * u64::from(window));
            }
            assert!(absorbed > 0, "window {window}: the absorbing path ran");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn failure_rate_window_larger_than_one_word() {
        let breaker = CircuitBreaker::new(rate(0.5, 200, 200));
        for _ in 0..100 {
            succeed(&breaker);
        }
        for _ in 0..99 {
            fail(&breaker);
        }
        assert_eq!(breaker.state(), BreakerState::Closed, "199 < min_calls");
        fail(&breaker);
        assert_eq!(breaker.state(), BreakerState::Open, "100 of 200");
    }

    #[tokio::test(start_paused = true)]
    async fn timed_out_counts_as_failure_and_bulkhead_full_is_ignored() {
        let breaker = CircuitBreaker::new(consecutive(2, 1));
        let runs = AtomicUsize::new(0);
        for _ in 0..10 {
            let full = Failure::Rejected(Rejected::bulkhead_full("db", 4));
            assert!(matches!(
                call(&breaker, &runs, Err(full)).await,
                Err(Failure::Rejected(Rejected::BulkheadFull { .. }))
            ));
            let inner_open = Failure::Rejected(Rejected::circuit_open("inner", None));
            assert!(call(&breaker, &runs, Err(inner_open)).await.is_err());
        }
        assert_eq!(breaker.state(), BreakerState::Closed);
        for _ in 0..2 {
            let timed_out = Failure::Rejected(Rejected::timed_out("slow", SECOND));
            assert!(matches!(
                call(&breaker, &runs, Err(timed_out)).await,
                Err(Failure::Rejected(Rejected::TimedOut { .. }))
            ));
        }
        assert_eq!(breaker.state(), BreakerState::Open);
        assert_eq!(runs.load(Ordering::SeqCst), 22);

        // A half-open trial turned away by an inner bulkhead gives its admission back.
        advance(OPEN_FOR).await;
        let full = Failure::Rejected(Rejected::bulkhead_full("db", 4));
        assert!(call(&breaker, &runs, Err(full)).await.is_err());
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        assert_eq!(call(&breaker, &runs, Ok(5)).await.unwrap(), 5);
        assert_eq!(breaker.state(), BreakerState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn force_open_and_force_closed() {
        let breaker = CircuitBreaker::new(consecutive(1, 1));
        let runs = AtomicUsize::new(0);
        let running = breaker.try_acquire().unwrap();
        breaker.force_open();
        assert_eq!(breaker.state(), BreakerState::ForcedOpen);
        running.failure(); // stale
        assert_eq!(
            breaker.try_acquire().unwrap_err(),
            Rejected::circuit_forced_open("test")
        );
        advance(OPEN_FOR * 100).await;
        assert!(call(&breaker, &runs, Ok(1)).await.is_err());
        assert_eq!(runs.load(Ordering::SeqCst), 0);

        breaker.force_closed();
        assert_eq!(breaker.state(), BreakerState::ForcedClosed);
        for _ in 0..10 {
            assert!(call(&breaker, &runs, Err(Failure::Error("down")))
                .await
                .is_err());
        }
        assert_eq!(
            breaker.state(),
            BreakerState::ForcedClosed,
            "forced closed never trips"
        );
        assert_eq!(runs.load(Ordering::SeqCst), 10);

        breaker.reset();
        assert_eq!(breaker.state(), BreakerState::Closed);
        fail(&breaker);
        assert_eq!(breaker.state(), BreakerState::Open);
        breaker.reset();
        assert_eq!(breaker.state(), BreakerState::Closed);
        succeed(&breaker);
        breaker.force_open();
        breaker.force_closed();
        assert!(breaker.try_acquire().is_ok());
    }

    #[test]
    fn run_future_is_send() {
        fn assert_send<T: Send>(_: &T) {}
        static BREAKER: CircuitBreaker =
            CircuitBreaker::new(BreakerConfig::new(InstanceName::given("send")));
        let fut = BREAKER.run(async { Ok::<_, Failure<String>>(1) }, |_| true);
        assert_send(&fut);
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Settled {
        Succeeded,
        Failed,
        Rejected,
        Cancelled,
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn twenty_thousand_concurrent_calls_are_all_accounted_for() {
        const TOTAL: usize = 20_000;
        static BREAKER: CircuitBreaker = CircuitBreaker::new(BreakerConfig {
            policy: TripPolicy::Consecutive { threshold: 4 },
            open_for: Duration::from_millis(1),
            half_open: 2,
            ..BreakerConfig::new(InstanceName::given("test"))
        });
        static STARTED: AtomicUsize = AtomicUsize::new(0);

        let tasks: Vec<_> = (0..TOTAL)
            .map(|i| {
                tokio::spawn(async move {
                    let body = async move {
                        STARTED.fetch_add(1, Ordering::SeqCst);
                        tokio::task::yield_now().await;
                        if i % 5 == 0 {
                            Err(Failure::Error(i))
                        } else {
                            Ok(i)
                        }
                    };
                    let mut run: Pin<&mut _> = pin!(BREAKER.run(body, |_| true));
                    let result = if i % 11 == 0 {
                        // Poll once, then drop the call mid-body.
                        match std::future::poll_fn(|cx| Poll::Ready(run.as_mut().poll(cx))).await {
                            Poll::Pending => return Settled::Cancelled,
                            Poll::Ready(result) => result,
                        }
                    } else {
                        run.await
                    };
                    match result {
                        Ok(_) => Settled::Succeeded,
                        Err(Failure::Error(_)) => Settled::Failed,
                        Err(Failure::Rejected(Rejected::CircuitOpen { .. })) => Settled::Rejected,
                        Err(Failure::Rejected(other)) => panic!("unexpected {other:?}"),
                    }
                })
            })
            .collect();

        let mut counts = [0_usize; 4];
        let all = async {
            for task in tasks {
                counts[task.await.expect("no panic") as usize] += 1;
            }
        };
        tokio::time::timeout(Duration::from_secs(60), all)
            .await
            .expect("no deadlock");
        let [succeeded, failed, rejected, cancelled] = counts;
        let started = STARTED.load(Ordering::SeqCst);
        println!(
            "{TOTAL} calls: {succeeded} succeeded, {failed} failed, {rejected} rejected, \
             {cancelled} cancelled; final {:?}",
            BREAKER.core.load(Ordering::SeqCst)
        );
        assert_eq!(succeeded + failed + rejected + cancelled, TOTAL);
        assert_eq!(
            started,
            succeeded + failed + cancelled,
            "admitted calls ran once each"
        );
        assert_eq!(started + rejected, TOTAL);
        assert!(succeeded > 0 && failed > 0);

        // Nothing leaked: no trial is still counted as running.
        let word = BREAKER.core.load(Ordering::SeqCst);
        match word.tag() {
            Tag::HalfOpen => {
                assert_eq!(
                    word.admitted(),
                    word.succeeded(),
                    "leaked trial in {word:?}"
                );
                BREAKER
                    .try_acquire()
                    .expect("a trial is admitted")
                    .success();
            }
            Tag::Open => {
                let retry_after = rejected_any(&BREAKER).expect("open");
                assert!(retry_after <= Duration::from_millis(1));
            }
            Tag::Closed => {}
            other => panic!("unexpected state {other:?}"),
        }
    }

    fn rejected_any(breaker: &CircuitBreaker) -> Option<Duration> {
        match breaker.try_acquire() {
            Err(Rejected::CircuitOpen { retry_after, .. }) => retry_after,
            _ => Some(Duration::ZERO), // the open period ended meanwhile
        }
    }
}

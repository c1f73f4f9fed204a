//! `#[rate_limit]`: at most `rate` calls per `per`, with `burst` of tolerance; callers wait
//! for their permit in arrival order, or are refused at once when it would come too late.
//!
//! # Semantics
//!
//! The limiter is GCRA, the generic cell rate algorithm (governor's approach, and ATM's
//! before it): one permit every `interval = per / rate` (rounded up to a whole nanosecond, so
//! the rate is never exceeded), and up to `burst` permits at once after a quiet period. Over
//! any stretch of time `d`, at most `burst + d / interval` permits are given: a token bucket
//! of capacity `burst` refilled at `rate` per `per`, without a refill task.
//!
//! A caller asks for its permit when the call starts:
//!
//! - **due now**: it takes it and the body runs;
//! - **due within `max_wait`**: it *reserves* it, then sleeps until it is due (`max_wait`
//!   unset: any wait);
//! - **due later than `max_wait`**: it is refused at once with [`Rejected::RateLimited`],
//!   whose `retry_after` is when a permit would be due for a caller that does not wait. It
//!   does not wait to find out, and takes nothing from later callers. `max_wait = 0` never
//!   waits.
//!
//! Every clock read and every sleep is `tokio::time`'s, so a paused test clock drives the
//! limiter exactly: with `rate = 10`, `burst = 1`, permits come at 0, 100 ms, 200 ms, ...
//!
//! # Implementation details
//!
//! The state is one `AtomicU64`, the theoretical arrival time, in nanoseconds since an origin
//! taken on tokio's clock at the limiter's first call (`gcra.rs` describes the word). There
//! is no background task, no queue, no lock, and no allocation per call, waiting or not:
//!
//! - **A permit due now:** one clock read, one load, one compare-and-swap.
//! - **A reservation:** the same compare-and-swap, then a tokio sleep until the permit is due,
//!   kept inside the call's future. Reservations are spaced `interval` apart in the order of
//!   their compare-and-swaps, so callers are served in the order they reserved (FIFO) by
//!   construction: none can be overtaken, since its permit is already its own. tokio's timer
//!   fires at millisecond granularity, so a waiter wakes up to a millisecond after its
//!   permit is due, never before; waiters due within the same millisecond wake together.
//! - **A refusal:** a load and no store.
//!
//! The module is split by concern: this file holds the public API ([`RateLimiter`],
//! [`RateLimitConfig`]) and the clock; `gcra.rs` the state word; `wait.rs` the future of
//! [`RateLimiter::run`] and the reservation it may hold.
//!
//! # Cancellation
//!
//! A caller whose future is dropped while it waits (by `#[timeout]`, `select!`, an aborted
//! task) gives its permit back when nobody has reserved after it: it undoes its reservation
//! with one compare-and-swap, and the limiter is exactly as if it had never asked, so the
//! next caller gets that very permit. This is the common case of a single waiter, and of
//! the most recent waiter giving up.
//!
//! A waiter with later reservations behind it cannot take its permit out of the middle of
//! the schedule: the later waiters' permits were computed from it and they are already
//! sleeping until them. Its permit then passes unused — one permit of throughput lost, the
//! rate never exceeded — and the waiters behind it keep their times. The alternative,
//! governor-style (moving the word back by one interval), would let the next caller share
//! the last waiter's instant and exceed `burst + d / interval` by one per such cancellation.
//!
//! A call that got its permit has used it: a permit is a moment, not a slot, so a body that
//! finishes, fails, panics or is dropped gives nothing back.
//!
//! # Memory ordering
//!
//! Every access to the word is `Relaxed`. A bulkhead's slot hands the resource from one body
//! to the next, so its release and acquire must order their memory; a rate limiter's permit
//! hands nothing over — it bounds when calls start, not what they touch — so there is no
//! data whose visibility a permit could promise. What must hold is the count, and it holds
//! under any ordering: every change is a read-modify-write of the one word, these are totally
//! ordered and each reads the latest value, so no two callers take the same permit and a
//! failed compare-and-swap retries from the value that beat it. The plain load that starts a
//! loop only picks a first guess. The undo is a strong compare-and-swap on the same word
//! (a spurious failure would lose a permit).
//!
//! The origin is a `OnceLock`, which synchronises itself: every thread sees the one value.
//! The counter of waiting callers ([`RateLimiter::waiting`]) is a `Relaxed` gauge for
//! snapshots; nothing is decided by it.
//!
//! A permit is dated at the clock read before its compare-and-swap. A thread preempted
//! between the two takes its permit as of the earlier moment, so admissions are bounded by
//! `burst + d / interval` over their clock readings, and by a little more (the preemption)
//! over the moments the compare-and-swaps land; every limiter that reads a clock has the
//! same gap.
//!
//! # Size
//!
//! The future of [`RateLimiter::run`] holds the guarded future, the limiter, a one-byte phase
//! and room for the wait: a tokio `Sleep` and the reservation, inline, so that waiting does
//! not allocate either, at the cost of a larger future for every call (184 bytes more than
//! the plain call's on 64-bit targets; a `RateLimiter` itself is 160 bytes, 16 of them a keyed limiter's key). The phase is a
//! tag beside the wait rather than an enum holding it, so a permit due now changes one byte
//! and drops nothing. Boxing the wait instead would save about 7 instructions per call
//! (callgrind) and allocate at every wait.

#[cfg(feature = "fleet")]
mod fleet;
mod gcra;
mod wait;

#[cfg(all(test, loom))]
mod loom;
#[cfg(all(test, not(loom)))]
mod tests;

use std::fmt;
use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use resilience_config::rate_limit as limits;
use tokio::time::Instant;

use crate::stats::{Count, Counters, Stats};
use crate::sync::{const_fn, AtomicU32, Ordering};
use crate::{events, Failure, InstanceName, Rejected};

use self::gcra::{Decision, Gcra, Reserved, Schedule};
pub use self::wait::RateLimitRun;
use self::wait::Waiting;

/// The parameters of `#[rate_limit]`: `rate` from [`new`](Self::new), the rest changed by
/// `const` builder methods.
///
/// ```
/// use resilience_runtime::{InstanceName, RateLimitConfig};
/// use std::time::Duration;
///
/// const GITHUB: RateLimitConfig = RateLimitConfig::new(InstanceName::given("github"), 5000)
///     .with_per(Duration::from_secs(3600))
///     .with_burst(100)
///     .with_max_wait(Duration::from_secs(2));
/// assert_eq!(GITHUB.rate(), 5000);
/// assert_eq!(GITHUB.burst(), 100);
/// assert_eq!(RateLimitConfig::new(InstanceName::given("api"), 10).burst(), 10);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitConfig {
    pub(crate) name: InstanceName,
    pub(crate) rate: u32,
    pub(crate) per: Duration,
    /// `None`: the rate.
    pub(crate) burst: Option<u32>,
    pub(crate) max_wait: Option<Duration>,
    /// `shared`: the limit holds for the fleet (the `fleet` feature); in the padding.
    pub(crate) fleet: bool,
}

impl RateLimitConfig {
    /// `rate` permits (at least 1) per second, a burst of `rate`, waiting without a time
    /// limit.
    pub const fn new(name: InstanceName, rate: u32) -> Self {
        Self {
            name,
            rate,
            per: Duration::from_nanos(limits::DEFAULT_PER_NANOS),
            burst: None,
            max_wait: None,
            fleet: false,
        }
    }

    /// Holds the limit for the whole fleet (the attribute's `shared`, which needs an explicit
    /// name): with the `fleet` feature and a linked process, permits are leased from Redis
    /// in batches. Otherwise the limit is local.
    ///
    /// ```
    /// use resilience_runtime::{InstanceName, RateLimitConfig};
    ///
    /// const GITHUB: RateLimitConfig = RateLimitConfig::new(InstanceName::given("github"), 5000).with_fleet();
    /// assert!(GITHUB.fleet());
    /// ```
    #[must_use]
    pub const fn with_fleet(mut self) -> Self {
        self.fleet = true;
        self
    }

    /// Whether the limit holds for the fleet ([`with_fleet`](Self::with_fleet)).
    pub const fn fleet(&self) -> bool {
        self.fleet
    }

    /// The period `rate` is counted over (longer than zero); one second without it.
    #[must_use]
    pub const fn with_per(mut self, per: Duration) -> Self {
        self.per = per;
        self
    }

    /// Permits that can be taken at once after a quiet period (at least 1); `rate` without
    /// it.
    #[must_use]
    pub const fn with_burst(mut self, burst: u32) -> Self {
        self.burst = Some(burst);
        self
    }

    /// How long a caller may wait for its permit; a caller whose permit would come later is
    /// refused at once with [`Rejected::RateLimited`]. `Duration::ZERO` never waits. Without
    /// it, callers wait as long as it takes.
    #[must_use]
    pub const fn with_max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = Some(max_wait);
        self
    }

    /// The instance name.
    pub const fn name(&self) -> InstanceName {
        self.name
    }

    /// Permits per [`per`](Self::per).
    pub const fn rate(&self) -> u32 {
        self.rate
    }

    /// The period of the rate.
    pub const fn per(&self) -> Duration {
        self.per
    }

    /// Permits that can be taken at once after a quiet period.
    pub const fn burst(&self) -> u32 {
        match self.burst {
            Some(burst) => burst,
            None => limits::default_burst(self.rate),
        }
    }

    /// How long a caller may wait for its permit; `None` waits as long as it takes.
    pub const fn max_wait(&self) -> Option<Duration> {
        self.max_wait
    }
}

/// A rate limiter: at most `rate` permits per `per`, `burst` at once, callers waiting in
/// arrival order for at most `max_wait`, refused at once (with `retry_after`) when their
/// permit would come later. GCRA in one atomic word on tokio's clock; the implementation
/// notes (cancellation, memory ordering, size) open the source of this crate's `rate_limit`
/// module.
///
/// What `#[rate_limit(rate = 10, burst = 1, max_wait = "150ms")]` generates, written out by
/// hand:
///
/// ```
/// use resilience_runtime::{Failure, InstanceName, RateLimitConfig, RateLimiter, Rejected};
/// use std::time::Duration;
///
/// static API: RateLimiter = RateLimiter::new(
///     RateLimitConfig::new(InstanceName::given("api"), 10)
///         .with_burst(1)
///         .with_max_wait(Duration::from_millis(150)),
/// );
///
/// async fn fetch(id: u32) -> Result<u32, Failure<std::io::Error>> {
///     API.run(async move { Ok(id) }).await
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let start = tokio::time::Instant::now();
/// let (a, b, c) = tokio::join!(fetch(1), fetch(2), fetch(3));
/// // One permit every 100 ms: the first at once, the second after waiting 100 ms...
/// assert_eq!((a.unwrap(), b.unwrap()), (1, 2));
/// assert_eq!(start.elapsed(), Duration::from_millis(100));
/// // ...and the third would have waited 200 ms, more than its 150: refused at once.
/// match c {
///     Err(Failure::Rejected(Rejected::RateLimited { retry_after, .. })) => {
///         assert_eq!(retry_after, Duration::from_millis(200));
///     }
///     other => panic!("expected RateLimited, got {other:?}"),
/// }
/// # }
/// ```
pub struct RateLimiter {
    config: RateLimitConfig,
    schedule: Schedule,
    /// `config.max_wait` in nanoseconds, saturating.
    max_wait: Option<u64>,
    gcra: Gcra,
    /// Callers holding a reservation: a gauge for snapshots.
    waiting: AtomicU32,
    /// The moment the word's nanoseconds count from, taken at the first clock read.
    origin: OnceLock<Instant>,
    counters: Counters,
    /// A keyed instance's key (`keyed/`).
    key: Option<crate::error::KeyText>,
    /// The permits leased from the fleet (`fleet.rs`); only a `shared` limiter of a linked
    /// process uses them.
    #[cfg(feature = "fleet")]
    pool: crate::fleet::Pool,
}

/// Whole nanoseconds, saturating at `u64::MAX` (about 584 years).
const fn nanos(duration: Duration) -> u64 {
    let nanos = duration.as_nanos();
    if nanos > u64::MAX as u128 {
        u64::MAX
    } else {
        #[allow(clippy::cast_possible_truncation)] // checked above
        let nanos = nanos as u64;
        nanos
    }
}

impl RateLimiter {
    const_fn! {
        /// A limiter with its whole burst free.
        ///
        /// # Panics
        ///
        /// If `rate` or `burst` is 0, or `per` is zero (in a `static`, that is a compile-time
        /// error).
        pub fn new(config: RateLimitConfig) -> Self {
            assert!(config.rate >= 1, "a rate limit needs a rate of at least 1");
            assert!(config.burst() >= 1, "a rate limit needs a burst of at least 1");
            assert!(!config.per.is_zero(), "a rate limit needs a period longer than zero");
            Self {
                config,
                schedule: Schedule::new(config.rate, nanos(config.per), config.burst()),
                max_wait: match config.max_wait {
                    Some(max_wait) => Some(nanos(max_wait)),
                    None => None,
                },
                gcra: Gcra::new(),
                waiting: AtomicU32::new(0),
                origin: OnceLock::new(),
                counters: Counters::new(),
                key: None,
                #[cfg(feature = "fleet")]
                pool: crate::fleet::Pool::new(),
            }
        }
    }

    /// The configuration.
    pub fn config(&self) -> &RateLimitConfig {
        &self.config
    }

    /// The instance name.
    pub fn name(&self) -> &'static str {
        self.config.name.get()
    }

    /// The key of a keyed instance (`key = host` on the attribute), as its `Display` wrote
    /// it; `None` for an instance without a key.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// The same instance, as the one of `key` in a keyed site.
    #[must_use]
    pub(crate) fn with_key(mut self, key: std::sync::Arc<str>) -> Self {
        self.key = Some(crate::error::KeyText::new(key));
        self
    }

    /// What this limiter counted (all zeros without the `stats` feature): `calls` that got a
    /// permit (at once or after waiting) or were turned away, and `rejections`.
    pub fn stats(&self) -> Stats {
        self.counters.read()
    }

    /// The time between two permits: `per / rate`, rounded up to a whole nanosecond.
    ///
    /// ```
    /// use resilience_runtime::{InstanceName, RateLimitConfig, RateLimiter};
    /// use std::time::Duration;
    ///
    /// let limiter = RateLimiter::new(RateLimitConfig::new(InstanceName::given("thirds"), 3));
    /// assert_eq!(limiter.interval(), Duration::from_nanos(333_333_334));
    /// ```
    pub fn interval(&self) -> Duration {
        Duration::from_nanos(self.schedule.interval)
    }

    /// Permits a caller could take right now without waiting, at most `burst`. A snapshot for
    /// metrics and tests: other callers may take them first.
    ///
    /// ```
    /// use resilience_runtime::{InstanceName, RateLimitConfig, RateLimiter};
    ///
    /// static API: RateLimiter = RateLimiter::new(RateLimitConfig::new(InstanceName::given("api"), 5));
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// assert_eq!(API.available(), 5);
    /// API.try_acquire().unwrap();
    /// assert_eq!(API.available(), 4);
    /// # }
    /// ```
    pub fn available(&self) -> u32 {
        self.gcra.available(self.now(), self.schedule)
    }

    /// Callers waiting for a reserved permit right now. A snapshot, like
    /// [`available`](Self::available).
    pub fn waiting(&self) -> u32 {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Takes a permit if one is free now; never waits and never reserves.
    ///
    /// ```
    /// use resilience_runtime::{InstanceName, RateLimitConfig, RateLimiter, Rejected};
    /// use std::time::Duration;
    ///
    /// static ONE: RateLimiter = RateLimiter::new(RateLimitConfig::new(InstanceName::given("one"), 1));
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// ONE.try_acquire().expect("the first permit is free");
    /// let refused = ONE.try_acquire().unwrap_err();
    /// assert_eq!(refused.retry_after(), Some(Duration::from_secs(1)));
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Rejected::RateLimited`] with the time until a permit is free.
    #[inline]
    pub fn try_acquire(&self) -> Result<(), Rejected> {
        #[cfg(feature = "fleet")]
        if self.config.fleet && crate::fleet::linked() {
            return match self.decide_fleet() {
                Decision::Refused { retry_after } => Err(self.refused(retry_after)),
                _ => {
                    self.admitted();
                    Ok(())
                }
            };
        }
        match self.gcra.acquire(self.now(), self.schedule, Some(0)) {
            Decision::Now => {
                self.admitted();
                Ok(())
            }
            Decision::Refused { retry_after } => Err(self.refused(retry_after)),
            // `Some(0)` never reserves; undo it all the same rather than assume.
            Decision::Later(reserved) => {
                self.gcra.undo(reserved);
                Err(self.refused(reserved.at.saturating_sub(self.now())))
            }
        }
    }

    /// Waits for a permit, in arrival order, for at most `max_wait`: reserves it and sleeps
    /// until it is due, or is refused at once if it would come later.
    ///
    /// Dropping the returned future while it waits gives the permit back when nobody reserved
    /// after it (module docs, "Cancellation").
    ///
    /// ```
    /// use resilience_runtime::{InstanceName, RateLimitConfig, RateLimiter};
    /// use std::time::Duration;
    ///
    /// static TICK: RateLimiter =
    ///     RateLimiter::new(RateLimitConfig::new(InstanceName::given("tick"), 4).with_burst(1));
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let start = tokio::time::Instant::now();
    /// for _ in 0..3 {
    ///     TICK.acquire().await.unwrap();
    /// }
    /// assert_eq!(start.elapsed(), Duration::from_millis(500), "at 0, 250 and 500 ms");
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Rejected::RateLimited`] when the permit would come later than `max_wait`.
    pub async fn acquire(&self) -> Result<(), Rejected> {
        match self.decide() {
            Decision::Now => {
                self.admitted();
                Ok(())
            }
            Decision::Refused { retry_after } => Err(self.refused(retry_after)),
            Decision::Later(reserved) => {
                self.wait(reserved).await;
                self.admitted();
                Ok(())
            }
        }
    }

    /// Runs `fut` once it has a permit, waiting for one as [`acquire`](Self::acquire) does;
    /// `fut` is not polled before.
    ///
    /// ```
    /// use resilience_runtime::{Failure, InstanceName, RateLimitConfig, RateLimiter};
    /// use std::time::Duration;
    ///
    /// static API: RateLimiter = RateLimiter::new(
    ///     RateLimitConfig::new(InstanceName::given("api"), 2).with_per(Duration::from_secs(1)),
    /// );
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let start = tokio::time::Instant::now();
    /// for n in 0..4 {
    ///     let answer = API.run(async move { Ok::<_, Failure<String>>(n) }).await;
    ///     assert_eq!(answer.unwrap(), n);
    /// }
    /// // A burst of 2 at once, then one every 500 ms.
    /// assert_eq!(start.elapsed(), Duration::from_secs(1));
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// `fut`'s own error, or [`Rejected::RateLimited`] as [`acquire`](Self::acquire) returns
    /// it; `fut` is not polled then.
    pub fn run<T, E, F>(&self, fut: F) -> RateLimitRun<'_, F>
    where
        F: Future<Output = Result<T, Failure<E>>>,
    {
        RateLimitRun::new(self, fut)
    }

    /// Asks the word, with this limiter's schedule and `max_wait`.
    #[inline]
    fn decide(&self) -> Decision {
        #[cfg(feature = "fleet")]
        if self.config.fleet && crate::fleet::linked() {
            return self.decide_fleet();
        }
        self.gcra.acquire(self.now(), self.schedule, self.max_wait)
    }

    #[inline]
    fn admitted(&self) {
        self.counters.add(&[Count::Call]);
    }

    /// The rejection for a permit due in `retry_after` nanoseconds, reported and counted.
    ///
    /// Reported out of line, built inline: a `Rejected` returned from a call that is not
    /// inlined is written through the address of the caller's whole output, which then
    /// escapes on the success path too (`CircuitBreaker::rejection`). The report hands back
    /// the name, so the refusal makes one call: 196 instructions per admitted call against
    /// 188 (`benches/benches/instructions.rs`, entry `rate-limit`).
    #[inline]
    fn refused(&self, retry_after: u64) -> Rejected {
        let name = self.report_refusal();
        Rejected::RateLimited {
            name,
            retry_after: Duration::from_nanos(retry_after),
            key: self.key.clone(),
        }
    }

    /// Reports and counts a refusal; returns the name for the rejection.
    #[cold]
    #[inline(never)]
    fn report_refusal(&self) -> &'static str {
        events::refused(self.name(), self.key(), "rate_limited");
        self.counters.add(&[Count::Call, Count::Rejection]);
        self.name()
    }

    /// The wait for a reserved permit: counted as waiting until it is dropped.
    #[cold]
    #[inline(never)]
    fn wait(&self, reserved: Reserved) -> Waiting<'_> {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        Waiting::new(self, reserved, self.deadline(reserved.at))
    }

    /// Nanoseconds since the origin, which the first call sets.
    #[inline]
    fn now(&self) -> u64 {
        let origin = *self.origin.get_or_init(Instant::now);
        nanos(Instant::now().saturating_duration_since(origin))
    }

    /// The moment `at` nanoseconds after the origin.
    fn deadline(&self, at: u64) -> Instant {
        let origin = *self.origin.get_or_init(Instant::now);
        origin + Duration::from_nanos(at)
    }
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("name", &self.name())
            .field("rate", &self.config.rate)
            .field("per", &self.config.per)
            .field("burst", &self.config.burst())
            .field("waiting", &self.waiting())
            .finish_non_exhaustive()
    }
}

//! `#[retry]`: exponential backoff with jitter between attempts.
//!
//! A [`RetryPolicy`] is the immutable configuration of one annotated function, kept in a
//! `static`. Each call asks it for a fresh [`Backoff`], a few words on the caller's stack that
//! hand out the delay before each retry until `max` retries were handed out. The attempt loop
//! itself (re-cloning arguments, deciding which errors to retry, sleeping) is generated inline by
//! the macro; this module only computes delays.
//!
//! # The delay before retry `k`
//!
//! Retries are numbered from zero. The un-jittered delay before retry `k` is
//!
//! ```text
//! d(k) = min(base * 2^k, max_delay)
//! ```
//!
//! computed without overflow for every `k` (the product saturates, so `k = u32::MAX` gives
//! `max_delay`). Jitter then spreads it:
//!
//! | [`Jitter`] | delay |
//! |---|---|
//! | [`None`](Jitter::None) | `d(k)` exactly |
//! | [`Full`](Jitter::Full) | uniform in `[0, d(k)]` |
//! | [`Equal`](Jitter::Equal) | `d(k) / 2` + uniform in `[0, d(k) / 2]` |
//! | [`Decorrelated`](Jitter::Decorrelated) | `min(max_delay, uniform in [base, 3 * previous])`, `previous` starting at `base` |
//!
//! These are the variants of Marc Brooker's "Exponential Backoff And Jitter" (AWS Architecture
//! Blog, 2015). Decorrelated jitter does not use `2^k`: each delay is drawn relative to the one
//! before it, so it grows by a factor of 2 on average and still stays within `max_delay`.
//!
//! # Why jitter
//!
//! When a dependency fails, every client that called it fails at about the same moment. With
//! exact exponential delays they all retry at the same moments too — 100 ms later, 200 ms later,
//! … — and the recovering service meets the whole crowd at once, again and again (the
//! *thundering herd*). Randomising each delay spreads those retries out over the interval, so
//! the load the service sees is smooth. Full jitter spreads the most and does the least total
//! work; equal jitter keeps a guaranteed minimum wait; decorrelated jitter keeps growing without
//! a retry counter. `"full"` is the default, as Brooker's measurements recommend.
//!
//! # Randomness
//!
//! Random numbers come from a [`SmallRng`] per thread, seeded once from the operating system the
//! first time that thread needs a jittered delay, and sampled uniformly at nanosecond
//! resolution. Computing a delay never allocates, locks or reads a clock, and creating a
//! [`Backoff`] does not touch the generator at all. Delays are sampled in whole nanoseconds
//! up to `u64::MAX` (about 584 years); a longer `max_delay` is treated as that long.

use std::cell::RefCell;
use std::iter::FusedIterator;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::stats::{Count, Counters, Stats};
use resilience_config::retry;

use crate::{events, Failure, InstanceName, Rejected};

/// How a retry delay is randomised, so that callers which failed together do not all retry
/// together (the thundering herd).
///
/// Below, `d = min(base * 2^k, max_delay)` is the exponential delay before retry `k`
/// (`k = 0, 1, ...`). The variants follow Marc Brooker's "Exponential Backoff And Jitter".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Jitter {
    /// No randomness: exactly `min(base * 2^k, max_delay)`.
    None,
    /// Uniform in `[0, d]`, where `d = min(base * 2^k, max_delay)`. The default.
    Full,
    /// `d / 2` plus uniform in `[0, d / 2]`: at least half of the exponential delay.
    Equal,
    /// `min(max_delay, uniform in [base, 3 * previous])`, with `previous` starting at `base`.
    Decorrelated,
}

/// The parameters of `#[retry]`: the defaults from [`new`](Self::new), changed by `const`
/// builder methods, so generated code sets only what the user wrote.
///
/// ```
/// use resilience_runtime::{InstanceName, Jitter, RetryConfig};
/// use std::time::Duration;
///
/// const CONFIG: RetryConfig = RetryConfig::new(InstanceName::given("fetch"))
///     .with_max(5)
///     .with_jitter(Jitter::Equal);
/// assert_eq!(CONFIG.max(), 5);
/// assert_eq!(CONFIG.base(), Duration::from_millis(100));
/// assert_eq!(CONFIG.max_delay(), Duration::from_secs(10));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryConfig {
    pub(crate) name: InstanceName,
    pub(crate) max: u32,
    pub(crate) base: Duration,
    pub(crate) max_delay: Duration,
    pub(crate) jitter: Jitter,
}

impl RetryConfig {
    /// The defaults: `max` 3, `base` 100 ms, `max_delay` 10 s, [`Jitter::Full`] (the values of
    /// [`resilience_config::retry`], which the macros check against too).
    pub const fn new(name: InstanceName) -> Self {
        Self {
            name,
            max: retry::DEFAULT_MAX,
            base: Duration::from_nanos(retry::DEFAULT_BASE_NANOS),
            max_delay: Duration::from_nanos(retry::DEFAULT_MAX_DELAY_NANOS),
            jitter: Jitter::Full,
        }
    }

    /// Retries after the first attempt: at most `max + 1` attempts in all; 0 is one attempt.
    #[must_use]
    pub const fn with_max(mut self, max: u32) -> Self {
        self.max = max;
        self
    }

    /// The delay before the first retry, doubled for each one after it.
    #[must_use]
    pub const fn with_base(mut self, base: Duration) -> Self {
        self.base = base;
        self
    }

    /// The cap on any one delay.
    #[must_use]
    pub const fn with_max_delay(mut self, max_delay: Duration) -> Self {
        self.max_delay = max_delay;
        self
    }

    /// How each delay is randomised.
    #[must_use]
    pub const fn with_jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// The instance name.
    pub const fn name(&self) -> InstanceName {
        self.name
    }

    /// Retries after the first attempt.
    pub const fn max(&self) -> u32 {
        self.max
    }

    /// The delay before the first retry.
    pub const fn base(&self) -> Duration {
        self.base
    }

    /// The cap on any one delay.
    pub const fn max_delay(&self) -> Duration {
        self.max_delay
    }

    /// How each delay is randomised.
    pub const fn jitter(&self) -> Jitter {
        self.jitter
    }
}

/// The retry policy of one annotated function: its configuration, from which each call takes a
/// fresh [`Backoff`].
///
/// The attempt loop below is what `#[retry]` generates, written out by hand:
///
/// ```
/// use resilience_runtime::{InstanceName, Jitter, RetryConfig, RetryPolicy};
/// use std::time::Duration;
///
/// static POLICY: RetryPolicy =
///     RetryPolicy::new(RetryConfig::new(InstanceName::given("fetch")).with_jitter(Jitter::None));
///
/// async fn flaky(attempt: u32) -> Result<&'static str, String> {
///     if attempt < 3 { Err(format!("attempt {attempt} failed")) } else { Ok("done") }
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let start = tokio::time::Instant::now();
/// let mut backoff = POLICY.backoff();
/// let mut attempt = 1;
/// let result = loop {
///     match flaky(attempt).await {
///         Ok(value) => break Ok(value),
///         Err(err) => match backoff.next_delay() {
///             Some(delay) => tokio::time::sleep(delay).await,
///             None => break Err(err),
///         },
///     }
///     attempt += 1;
/// };
/// assert_eq!(result, Ok("done"));
/// // Two retries: 100 ms, then 200 ms.
/// assert_eq!(start.elapsed(), Duration::from_millis(300));
/// # }
/// ```
#[derive(Debug)]
pub struct RetryPolicy {
    config: RetryConfig,
    counters: Counters,
}

impl RetryPolicy {
    /// A policy with this configuration.
    pub const fn new(config: RetryConfig) -> Self {
        Self {
            config,
            counters: Counters::new(),
        }
    }

    /// What this policy counted (all zeros without the `stats` feature): `calls`, final
    /// `successes` and `failures`, and `retries` made.
    pub fn stats(&self) -> Stats {
        self.counters.read()
    }

    /// The configuration.
    pub fn config(&self) -> &RetryConfig {
        &self.config
    }

    /// The instance name.
    pub fn name(&self) -> &'static str {
        self.config.name.get()
    }

    /// The delay before the next attempt after `outcome`, or `None` when the outcome is final:
    /// a success, an open circuit (an inner breaker refused the call: retrying it would only
    /// be refused again), an error `retry_if` declines, or no retries left. Other inner
    /// rejections — a full bulkhead, a timeout — are transient: `retry_if` judges them as the
    /// error `E::from(rejected)` the caller would get, so a call that is not idempotent can
    /// refuse to retry a timeout.
    ///
    /// ```
    /// use resilience_runtime::{Failure, InstanceName, Jitter, Rejected, RetryConfig, RetryPolicy};
    /// use std::time::Duration;
    ///
    /// static POLICY: RetryPolicy =
    ///     RetryPolicy::new(RetryConfig::new(InstanceName::given("lookup")).with_jitter(Jitter::None));
    /// #[derive(Debug)]
    /// enum Error { Flaky, Rejected(Rejected) }
    /// impl From<Rejected> for Error {
    ///     fn from(r: Rejected) -> Self { Error::Rejected(r) }
    /// }
    ///
    /// let mut backoff = POLICY.backoff();
    /// let failed: Result<(), Failure<Error>> = Err(Failure::Error(Error::Flaky));
    /// assert_eq!(POLICY.delay_after(&mut backoff, &failed, |_| true), Some(Duration::from_millis(100)));
    /// assert_eq!(POLICY.delay_after(&mut backoff, &failed, |e| !matches!(e, Error::Flaky)), None);
    ///
    /// // An inner timeout is judged as the error the caller would get: here, not retried.
    /// let not_idempotent = |e: &Error| !matches!(e, Error::Rejected(Rejected::TimedOut { .. }));
    /// let timed_out: Result<(), Failure<Error>> =
    ///     Err(Failure::Rejected(Rejected::timed_out("lookup", Duration::from_secs(1))));
    /// assert_eq!(POLICY.delay_after(&mut backoff, &timed_out, not_idempotent), None);
    /// ```
    #[inline]
    pub fn delay_after<T, E: From<Rejected>>(
        &self,
        backoff: &mut Backoff,
        outcome: &Result<T, Failure<E>>,
        retry_if: impl FnOnce(&E) -> bool,
    ) -> Option<Duration> {
        let cause = match outcome {
            // A success is final, and an open circuit would only refuse the retry again.
            Ok(_) | Err(Failure::Rejected(Rejected::CircuitOpen { .. })) => None,
            Err(Failure::Error(error)) => retry_if(error).then_some("error"),
            // Judged as the error the caller would get, so `retry_if` can refuse to retry a
            // timeout of a call that is not idempotent. Cloning a rejection is a few words,
            // and this is the failure path only.
            Err(Failure::Rejected(rejected)) => {
                retry_if(&E::from(rejected.clone())).then(|| rejected.reason())
            }
        };
        let Some(cause) = cause else {
            self.counters.add(&[if outcome.is_ok() {
                Count::Success
            } else {
                Count::Failure
            }]);
            return None;
        };
        let delay = backoff.next_delay();
        events::retry(self.name(), backoff.retries(), delay, cause);
        self.counters.add(&[if delay.is_some() {
            Count::Retry
        } else {
            Count::Failure
        }]);
        delay
    }

    /// The delays for one call, starting before its first retry.
    ///
    /// Cheap: a copy of a few fields, with no allocation, clock read or random number.
    pub fn backoff(&self) -> Backoff {
        self.counters.add(&[Count::Call]);
        Backoff {
            max: self.config.max,
            base: self.config.base,
            max_delay: self.config.max_delay,
            jitter: self.config.jitter,
            retries: 0,
            previous: self.config.base,
        }
    }
}

/// The retry delays of one call: [`next_delay`](Self::next_delay) hands out the delay before
/// each retry, and `None` once `max` retries were handed out.
///
/// It is also an [`Iterator`] over the same delays.
///
/// ```
/// use resilience_runtime::{InstanceName, Jitter, RetryConfig, RetryPolicy};
/// use std::time::Duration;
///
/// let policy = RetryPolicy::new(
///     RetryConfig::new(InstanceName::given("fetch"))
///         .with_max(4)
///         .with_base(Duration::from_millis(100))
///         .with_max_delay(Duration::from_millis(500))
///         .with_jitter(Jitter::None),
/// );
///
/// let delays: Vec<u64> = policy.backoff().map(|d| d.as_millis() as u64).collect();
/// assert_eq!(delays, [100, 200, 400, 500]);
///
/// let mut backoff = policy.backoff();
/// let first = backoff.next_delay();
/// assert_eq!(first, Some(Duration::from_millis(100)));
/// assert_eq!(backoff.retries(), 1);
/// ```
#[derive(Debug)]
pub struct Backoff {
    max: u32,
    base: Duration,
    max_delay: Duration,
    jitter: Jitter,
    retries: u32,
    /// The last delay handed out (`base` before the first); only decorrelated jitter reads it.
    previous: Duration,
}

impl Backoff {
    /// The delay to wait before the next retry, or `None` when `max` retries were already
    /// handed out and the last error should be returned.
    pub fn next_delay(&mut self) -> Option<Duration> {
        if self.retries >= self.max {
            return None;
        }
        let k = self.retries;
        self.retries += 1;
        let delay = match self.jitter {
            Jitter::None => exponential(self.base, k, self.max_delay),
            Jitter::Full => uniform(Duration::ZERO, exponential(self.base, k, self.max_delay)),
            Jitter::Equal => {
                let d = exponential(self.base, k, self.max_delay);
                let half = d / 2;
                // `d - half` rather than `half`, so an odd number of nanoseconds still reaches d.
                half + uniform(Duration::ZERO, d.saturating_sub(half))
            }
            Jitter::Decorrelated => {
                let high = self.previous.saturating_mul(3).max(self.base);
                uniform(self.base, high).min(self.max_delay)
            }
        };
        self.previous = delay;
        Some(delay)
    }

    /// How many retries were handed out so far.
    pub fn retries(&self) -> u32 {
        self.retries
    }
}

impl Iterator for Backoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        self.next_delay()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = usize::try_from(self.max - self.retries).ok();
        (left.unwrap_or(usize::MAX), left)
    }
}

impl FusedIterator for Backoff {}

/// `min(base * 2^k, cap)`, saturating instead of overflowing for any `k`.
fn exponential(base: Duration, k: u32, cap: Duration) -> Duration {
    let raw = match 1u32.checked_shl(k) {
        Some(factor) => base.saturating_mul(factor),
        // 2^k does not fit in a u32, so base * 2^k exceeds any cap unless base is zero.
        None if base.is_zero() => Duration::ZERO,
        None => Duration::MAX,
    };
    raw.min(cap)
}

thread_local! {
    static RNG: RefCell<SmallRng> = RefCell::new(seeded_rng());
}

fn seeded_rng() -> SmallRng {
    SmallRng::try_from_os_rng().unwrap_or_else(|_| {
        // The OS refused randomness (practically never on supported platforms). Jitter only
        // has to differ between processes and threads, so the clock and a stack address do.
        let local = 0u8;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let addr = std::ptr::addr_of!(local) as usize as u64;
        SmallRng::seed_from_u64(
            u64::from(now.subsec_nanos()) ^ now.as_secs() ^ addr.rotate_left(32),
        )
    })
}

/// Uniform in `[low, high]` at nanosecond resolution; `low` when the range is empty.
fn uniform(low: Duration, high: Duration) -> Duration {
    let low_ns = nanos(low);
    let high_ns = nanos(high);
    if high_ns <= low_ns {
        return Duration::from_nanos(low_ns);
    }
    // `try_with` fails only while the thread's locals are being destroyed: no jitter then.
    let ns = RNG
        .try_with(|rng| rng.borrow_mut().random_range(low_ns..=high_ns))
        .unwrap_or(high_ns);
    Duration::from_nanos(ns)
}

/// 128 random bits from this thread's generator (a call id). While the thread's locals are
/// being destroyed, from a generator seeded for this draw alone.
pub(crate) fn random_u128() -> u128 {
    RNG.try_with(|rng| rng.borrow_mut().random())
        .unwrap_or_else(|_| seeded_rng().random())
}

/// Whole nanoseconds, saturating at `u64::MAX` (about 584 years).
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn policy(max: u32, base: Duration, max_delay: Duration, jitter: Jitter) -> RetryPolicy {
        RetryPolicy::new(RetryConfig {
            max,
            base,
            max_delay,
            jitter,
            ..RetryConfig::new(InstanceName::given("test"))
        })
    }

    #[test]
    fn defaults_match_the_contract() {
        let config = RetryConfig::new(InstanceName::given("x"));
        assert_eq!(config.max, 3);
        assert_eq!(config.base, 100 * MS);
        assert_eq!(config.max_delay, Duration::from_secs(10));
        assert_eq!(config.jitter, Jitter::Full);
        assert_eq!(RetryPolicy::new(config).name(), "x");
    }

    #[test]
    fn no_jitter_doubles_exactly() {
        let p = policy(3, 100 * MS, Duration::from_secs(10), Jitter::None);
        let delays: Vec<_> = p.backoff().collect();
        assert_eq!(delays, [100 * MS, 200 * MS, 400 * MS]);
    }

    #[test]
    fn delays_are_capped_at_max_delay() {
        let p = policy(
            6,
            Duration::from_secs(1),
            Duration::from_secs(5),
            Jitter::None,
        );
        let secs: Vec<_> = p.backoff().map(|d| d.as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 5, 5, 5]);
    }

    #[test]
    fn huge_retry_numbers_do_not_overflow() {
        let cap = Duration::from_secs(10);
        for k in [31, 32, 33, 63, 64, 65, 1_000, u32::MAX - 1, u32::MAX] {
            assert_eq!(exponential(100 * MS, k, cap), cap, "k = {k}");
            assert_eq!(exponential(Duration::MAX, k, Duration::MAX), Duration::MAX);
            assert_eq!(exponential(Duration::ZERO, k, cap), Duration::ZERO);
        }
        assert_eq!(exponential(Duration::MAX, 0, Duration::MAX), Duration::MAX);

        // Driving a real Backoff far along, with every jitter kind and an unbounded cap.
        for jitter in [
            Jitter::None,
            Jitter::Full,
            Jitter::Equal,
            Jitter::Decorrelated,
        ] {
            let p = policy(u32::MAX, 100 * MS, Duration::MAX, jitter);
            let mut backoff = p.backoff();
            for _ in 0..200 {
                assert!(backoff.next_delay().is_some());
            }
            // Set the counter close to the end: the last retries are still computed.
            backoff.retries = u32::MAX - 2;
            assert!(backoff.next_delay().is_some());
            assert!(backoff.next_delay().is_some());
            assert_eq!(backoff.next_delay(), None);
        }
    }

    #[test]
    fn next_delay_returns_none_after_max_retries() {
        let p = policy(5, 10 * MS, Duration::from_secs(1), Jitter::Full);
        let mut backoff = p.backoff();
        assert_eq!(backoff.size_hint(), (5, Some(5)));
        for i in 1..=5 {
            assert!(backoff.next_delay().is_some());
            assert_eq!(backoff.retries(), i);
        }
        assert_eq!(backoff.next_delay(), None);
        assert_eq!(backoff.next(), None);
        assert_eq!(backoff.retries(), 5);
        assert_eq!(backoff.size_hint(), (0, Some(0)));
    }

    #[test]
    fn max_zero_gives_no_delay() {
        let p = policy(0, 100 * MS, Duration::from_secs(10), Jitter::None);
        let mut backoff = p.backoff();
        assert_eq!(backoff.next_delay(), None);
        assert_eq!(backoff.retries(), 0);
    }

    /// Collects `rounds` full backoff sequences, grouped by retry number.
    fn samples(p: &RetryPolicy, rounds: usize) -> Vec<Vec<Duration>> {
        let mut by_k = vec![Vec::with_capacity(rounds); p.config().max as usize];
        for _ in 0..rounds {
            for (k, d) in p.backoff().enumerate() {
                by_k[k].push(d);
            }
        }
        by_k
    }

    fn varies(values: &[Duration]) -> bool {
        values.iter().any(|v| *v != values[0])
    }

    #[test]
    fn full_jitter_stays_within_zero_and_d_and_varies() {
        let p = policy(6, 100 * MS, 2_000 * MS, Jitter::Full);
        for (k, values) in samples(&p, 2_000).iter().enumerate() {
            let d = exponential(100 * MS, u32::try_from(k).unwrap(), 2_000 * MS);
            assert!(values.iter().all(|v| *v <= d), "k = {k}");
            assert!(varies(values), "k = {k}");
            // Both halves of the range are reached.
            assert!(values.iter().any(|v| *v < d / 4), "k = {k}");
            assert!(values.iter().any(|v| *v > d * 3 / 4), "k = {k}");
        }
    }

    #[test]
    fn equal_jitter_stays_within_half_d_and_d_and_varies() {
        let p = policy(6, 100 * MS, 2_000 * MS, Jitter::Equal);
        for (k, values) in samples(&p, 2_000).iter().enumerate() {
            let d = exponential(100 * MS, u32::try_from(k).unwrap(), 2_000 * MS);
            assert!(values.iter().all(|v| *v >= d / 2 && *v <= d), "k = {k}");
            assert!(varies(values), "k = {k}");
        }
    }

    #[test]
    fn decorrelated_jitter_stays_within_base_and_three_times_previous() {
        let base = 100 * MS;
        let cap = 3_000 * MS;
        let p = policy(12, base, cap, Jitter::Decorrelated);
        let mut firsts = Vec::new();
        let mut reached_cap = false;
        for _ in 0..2_000 {
            let mut previous = base;
            for d in p.backoff() {
                assert!(d >= base, "{d:?} below base");
                assert!(d <= cap, "{d:?} above the cap");
                assert!(d <= previous * 3, "{d:?} above 3 x {previous:?}");
                reached_cap |= d == cap;
                previous = d;
            }
            firsts.push(p.backoff().next_delay().unwrap());
        }
        assert!(varies(&firsts));
        assert!(firsts.iter().all(|d| *d <= base * 3));
        assert!(reached_cap, "twelve retries should reach a 3 s cap");
    }

    #[test]
    fn decorrelated_jitter_with_cap_below_base_returns_the_cap() {
        let p = policy(3, 100 * MS, 10 * MS, Jitter::Decorrelated);
        assert!(p.backoff().all(|d| d == 10 * MS));
    }

    #[test]
    fn zero_base_gives_zero_delays() {
        for jitter in [
            Jitter::None,
            Jitter::Full,
            Jitter::Equal,
            Jitter::Decorrelated,
        ] {
            let p = policy(40, Duration::ZERO, Duration::from_secs(1), jitter);
            assert!(p.backoff().all(|d| d.is_zero()), "{jitter:?}");
        }
    }
}

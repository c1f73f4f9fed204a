//! The delays of one call: exponential backoff with jitter.
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

use super::RetryConfig;
use crate::clock::{nanos, Clock};

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
pub struct Backoff<'a> {
    /// The policy's parameters, read in place: a call's future holds a reference, not a copy.
    config: &'a RetryConfig,
    /// The policy's clock, which `deadline` is on.
    clock: &'a Clock,
    pub(super) retries: u32,
    /// The last delay handed out (`base` before the first); only decorrelated jitter reads it.
    previous: Duration,
    /// When no retry may end any more (`max_elapsed` after the first attempt began).
    deadline: Deadline,
}

impl<'a> Backoff<'a> {
    /// The delays of a call whose retries must end by `deadline` (`max_elapsed` after it
    /// began), if any.
    #[inline]
    pub(super) fn until(config: &'a RetryConfig, clock: &'a Clock, deadline: Deadline) -> Self {
        Self {
            config,
            clock,
            retries: 0,
            previous: config.base,
            deadline,
        }
    }

    /// Whether a retry after `delay` would start within `max_elapsed` of the first attempt.
    pub(super) fn fits(&self, delay: Duration) -> bool {
        self.deadline.fits(self.clock, delay)
    }

    /// The delay to wait before the next retry, or `None` when `max` retries were already
    /// handed out and the last error should be returned.
    pub fn next_delay(&mut self) -> Option<Duration> {
        let RetryConfig {
            max,
            base,
            max_delay,
            jitter,
            ..
        } = *self.config;
        if self.retries >= max {
            return None;
        }
        let k = self.retries;
        self.retries += 1;
        let delay = match jitter {
            Jitter::None => exponential(base, k, max_delay),
            Jitter::Full => uniform(Duration::ZERO, exponential(base, k, max_delay)),
            Jitter::Equal => {
                let d = exponential(base, k, max_delay);
                let half = d / 2;
                // `d - half` rather than `half`, so an odd number of nanoseconds still reaches d.
                half + uniform(Duration::ZERO, d.saturating_sub(half))
            }
            Jitter::Decorrelated => {
                let high = self.previous.saturating_mul(3).max(base);
                uniform(base, high).min(max_delay)
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

/// When a call's retries must end: a time on its policy's clock, in nanoseconds since the
/// clock's epoch (8 bytes in the call's future, where an `Option<Instant>` takes 16).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Deadline(u64);

impl Deadline {
    /// No deadline (no `max_elapsed`).
    pub(super) const NONE: Self = Self(u64::MAX);

    /// `limit` from now on `clock`; a deadline more than 584 years away is none.
    #[cold]
    #[inline(never)]
    pub(super) fn after(clock: &Clock, limit: Duration) -> Self {
        Self(nanos(clock.elapsed()).saturating_add(nanos(limit)))
    }

    /// Whether a wait of `delay` from now on `clock` ends by this deadline.
    fn fits(self, clock: &Clock, delay: Duration) -> bool {
        self == Self::NONE
            || nanos(clock.elapsed())
                .checked_add(nanos(delay))
                .is_some_and(|end| end <= self.0)
    }
}

impl Iterator for Backoff<'_> {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        self.next_delay()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = usize::try_from(self.config.max - self.retries).ok();
        (left.unwrap_or(usize::MAX), left)
    }
}

impl FusedIterator for Backoff<'_> {}

/// `min(base * 2^k, cap)`, saturating instead of overflowing for any `k`.
pub(super) fn exponential(base: Duration, k: u32, cap: Duration) -> Duration {
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

//! The latency estimate behind `delay = "p95"`: a log-bucketed histogram of recent call
//! latencies, in fixed memory, updated without a lock.
//!
//! # Buckets
//!
//! A latency is counted in units of 1 024 ns (about a microsecond). Below 16 units each unit
//! has its bucket; above, every power of two is split into 16 buckets, so a bucket is at most
//! 1/16 (6 %) wider than its lower edge, `HdrHistogram`'s layout with four bits of precision.
//! 528 buckets reach 2^36 units (19 hours); longer calls count in the last one. A percentile
//! reads as the *upper* edge of the bucket it falls in, so the estimate errs towards hedging
//! a little later, never earlier.
//!
//! # Decay
//!
//! Two generations of buckets, each [`PERIOD_SECS`] long, alternate: calls completing in
//! period `n` count in generation `n % 2`, and the estimate reads periods `n` and `n - 1`, so
//! it reflects the last 10 to 20 seconds. The first call of a new period claims the older
//! generation with one compare-and-swap on its period tag and clears it; there is no
//! background task. Until the generations read hold [`WARM_UP`] calls, there is no estimate
//! and no hedging, so a fresh function (or one back from a long quiet spell) is not hedged on
//! a handful of samples.
//!
//! Recording a call is three `Relaxed` adds (its bucket, its generation's total and the calls
//! ever recorded) and one load of the tag, on the clock reading that ended the call. Reading a percentile walks the buckets (about a
//! thousand loads), so the estimate is cached in one word and recomputed only after another
//! 16 calls were recorded or a period went by.
//!
//! # Memory ordering
//!
//! Counts are `Relaxed`: the estimate is statistical, and a count seen late or lost in a
//! rotation (an add racing the clearing of its generation) moves it by one sample of
//! hundreds. The tag is claimed with an `AcqRel` compare-and-swap so only one thread clears a
//! generation for a period; a thread descheduled across a whole period may add one sample to
//! the wrong generation, which is the same blur.

use std::time::Duration;

use tokio::time::Instant;

use resilience_config::hedge::WARM_UP;

use crate::clock::Clock;
use crate::sync::{const_fn, AtomicU32, AtomicU64, Ordering};

/// The length of one generation.
pub(crate) const PERIOD_SECS: u64 = 10;
/// Bits of precision within a power of two: 16 buckets each.
const SUB_BITS: u32 = 4;
const SUB: usize = 1 << SUB_BITS;
/// Nanoseconds per unit, as a shift: 1 024 ns.
const UNIT_SHIFT: u32 = 10;
/// Latencies are capped below 2^36 units.
const MAX_UNITS: u64 = 1 << 36;
/// Buckets in a generation: 16 exact ones, then 16 per power of two from 2^4 to 2^35 units.
pub(crate) const BUCKETS: usize = SUB + (36 - SUB_BITS as usize) * SUB;
/// Calls recorded between two recomputations of the cached estimate.
const REFRESH_SHIFT: u32 = 4;

/// One period's counts.
#[derive(Debug)]
struct Generation {
    /// The period counted here, plus one (0: never used).
    period: AtomicU64,
    total: AtomicU32,
    counts: [AtomicU32; BUCKETS],
}

/// Recent latencies of one function, and the cached percentile.
#[derive(Debug)]
pub(crate) struct Latencies {
    generations: [Generation; 2],
    /// Calls ever recorded, to know when the cache is stale.
    recorded: AtomicU64,
    /// `(stamp << 32) | (units + 1)` of the latest estimate; 0 before the first.
    cached: AtomicU64,
    clock: Clock,
}

/// The bucket of a latency.
pub(crate) fn bucket(latency: Duration) -> usize {
    let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
    let units = (nanos >> UNIT_SHIFT).min(MAX_UNITS - 1);
    #[allow(clippy::cast_possible_truncation)] // below 2^36 units, by the cap
    if units < SUB as u64 {
        units as usize
    } else {
        let power = units.ilog2();
        let within = (units >> (power - SUB_BITS)) as usize & (SUB - 1);
        (power - SUB_BITS + 1) as usize * SUB + within
    }
}

/// The upper edge of a bucket, in units.
#[allow(clippy::cast_possible_truncation)] // below `BUCKETS`, by construction
pub(crate) fn upper_edge(bucket: usize) -> u64 {
    if bucket < SUB {
        return bucket as u64 + 1;
    }
    let power = (bucket / SUB) as u32 + SUB_BITS - 1;
    let width = 1u64 << (power - SUB_BITS);
    ((SUB + bucket % SUB) as u64) * width + width
}

impl Latencies {
    const_fn! {
        pub(crate) fn new() -> Latencies {
            Latencies {
                #[cfg(not(loom))]
                generations: [const { Generation::new() }; 2],
                #[cfg(loom)]
                generations: [Generation::new(), Generation::new()],
                recorded: AtomicU64::new(0),
                cached: AtomicU64::new(0),
                clock: Clock::new(),
            }
        }
    }

    /// The current period, plus one.
    fn period(&self) -> u64 {
        Self::period_of(self.clock.elapsed())
    }

    fn period_of(elapsed: Duration) -> u64 {
        elapsed.as_secs() / PERIOD_SECS + 1
    }

    /// Counts one call that started at `started` and completed `now`.
    pub(crate) fn record(&self, started: Instant, now: Instant) {
        let latency = now.saturating_duration_since(started);
        let period = Self::period_of(self.clock.elapsed_at(now));
        let generation = &self.generations[(period % 2) as usize];
        let tag = generation.period.load(Ordering::Acquire);
        if tag < period
            && generation
                .period
                .compare_exchange(tag, period, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            for count in &generation.counts {
                count.store(0, Ordering::Relaxed);
            }
            generation.total.store(0, Ordering::Relaxed);
        }
        generation.counts[bucket(latency)].fetch_add(1, Ordering::Relaxed);
        generation.total.fetch_add(1, Ordering::Relaxed);
        self.recorded.fetch_add(1, Ordering::Relaxed);
    }

    /// The latency below which `permille` tenths of a percent of the recent calls completed,
    /// or `None` while fewer than [`WARM_UP`] calls are recent.
    pub(crate) fn percentile(&self, permille: u16) -> Option<Duration> {
        let period = self.period();
        #[allow(clippy::cast_possible_truncation)] // a stamp: only equality matters
        let stamp = ((period as u32) << 24)
            ^ (u32::from(permille) << 12)
            ^ (self.recorded.load(Ordering::Relaxed) >> REFRESH_SHIFT) as u32;
        let cached = self.cached.load(Ordering::Relaxed);
        #[allow(clippy::cast_possible_truncation)] // the halves of a word, by construction
        let units = if (cached >> 32) as u32 == stamp {
            cached & u64::from(u32::MAX)
        } else {
            // Only an estimate is cached: while warming up, every call looks again.
            let units = self.compute(period, permille).map_or(0, |units| units + 1);
            if units != 0 {
                self.cached
                    .store((u64::from(stamp) << 32) | units, Ordering::Relaxed);
            }
            units
        };
        units
            .checked_sub(1)
            .map(|units| Duration::from_nanos(units << UNIT_SHIFT))
    }

    /// Walks the buckets of periods `period` and `period - 1`, in units (below 2^32 for any
    /// cached value: longer estimates saturate).
    fn compute(&self, period: u64, permille: u16) -> Option<u64> {
        let live = |g: &Generation| {
            let tag = g.period.load(Ordering::Acquire);
            tag == period || tag + 1 == period
        };
        let [a, b] = &self.generations;
        let (a, b) = (live(a).then_some(a), live(b).then_some(b));
        let total =
            |g: Option<&Generation>| g.map_or(0, |g| u64::from(g.total.load(Ordering::Relaxed)));
        let count = |g: Option<&Generation>, i: usize| {
            g.map_or(0, |g| u64::from(g.counts[i].load(Ordering::Relaxed)))
        };
        let calls = total(a) + total(b);
        if calls < u64::from(WARM_UP) {
            return None;
        }
        let rank = (calls * u64::from(permille)).div_ceil(1000).max(1);
        let mut seen = 0;
        for i in 0..BUCKETS {
            seen += count(a, i) + count(b, i);
            if seen >= rank {
                return Some(upper_edge(i).min(u64::from(u32::MAX) - 1));
            }
        }
        // The totals ran ahead of the buckets (a race): the last bucket counted.
        None
    }
}

impl Generation {
    const_fn! {
        fn new() -> Generation {
            Generation {
                period: AtomicU64::new(0),
                total: AtomicU32::new(0),
                #[cfg(not(loom))]
                counts: [const { AtomicU32::new(0) }; BUCKETS],
                #[cfg(loom)]
                counts: std::array::from_fn(|_| AtomicU32::new(0)),
            }
        }
    }
}

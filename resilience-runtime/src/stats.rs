//! Per-instance counters for snapshots, kept when the `stats` feature is on.
//!
//! Counting every call costs an atomic add on the hot path, so it is opt-in: without the
//! feature [`Counters`] is an empty struct, every `add` compiles to nothing and [`Stats`]
//! reads all zeros. The counters are `Relaxed` adds: each is exact on its own, and a snapshot
//! taken while calls run may see one counter a little ahead of another.

#[cfg(feature = "stats")]
use std::sync::atomic::{AtomicU64, Ordering};

/// What an instance has counted since the process started (all zeros without the `stats`
/// feature).
///
/// | instance | `calls` | `successes` / `failures` | `rejections` | `retries` |
/// |---|---|---|---|---|
/// | breaker | calls that finished or were rejected | recorded outcomes | calls refused while open or half-open | — |
/// | bulkhead | calls that got a slot or were turned away | — | turned away (`BulkheadFull`) | — |
/// | retry | calls | final outcomes: `Ok` / `Err` | — | retries made |
/// | timeout | calls that finished or timed out | — | timed out | — |
/// | rate limiter | calls that got a permit (at once or after waiting) or were turned away | — | turned away (`RateLimited`) | — |
///
/// A retry instance also counts `budget_exhausted`: failed calls it did not retry because
/// its retry budget was spent (they are among its `failures`). A hedge counts `calls`, their
/// final `successes` and `failures`, `hedges` sent, `hedges_won` (calls answered by a hedge)
/// and, as `budget_exhausted`, hedges its budget refused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Calls seen.
    pub calls: u64,
    /// Calls that succeeded (as the instance judges success).
    pub successes: u64,
    /// Calls that failed (as the instance judges failure).
    pub failures: u64,
    /// Calls the instance refused or cut off.
    pub rejections: u64,
    /// Retries made.
    pub retries: u64,
    /// Failed calls not retried because the retry budget was spent; for a hedge, hedges
    /// not sent because its budget was spent.
    pub budget_exhausted: u64,
    /// Hedges sent.
    pub hedges: u64,
    /// Calls a hedge answered (its `Ok` came first).
    pub hedges_won: u64,
}

/// Which counter to add to.
#[derive(Clone, Copy)]
pub(crate) enum Count {
    Call,
    Success,
    Failure,
    Rejection,
    Retry,
    BudgetExhausted,
    Hedge,
    HedgeWon,
}

/// The counters of one instance; empty without the `stats` feature.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    #[cfg(feature = "stats")]
    counts: [AtomicU64; 8],
}

impl Counters {
    pub(crate) const fn new() -> Self {
        Self {
            #[cfg(feature = "stats")]
            counts: [
                AtomicU64::new(0),
                AtomicU64::new(0),
                AtomicU64::new(0),
                AtomicU64::new(0),
                AtomicU64::new(0),
                AtomicU64::new(0),
                AtomicU64::new(0),
                AtomicU64::new(0),
            ],
        }
    }

    /// Adds one to each counter named.
    #[inline]
    #[cfg_attr(not(feature = "stats"), allow(clippy::unused_self))]
    pub(crate) fn add(&self, counts: &[Count]) {
        #[cfg(feature = "stats")]
        for count in counts {
            self.counts[*count as usize].fetch_add(1, Ordering::Relaxed);
        }
        #[cfg(not(feature = "stats"))]
        let _ = counts;
    }

    #[cfg_attr(not(feature = "stats"), allow(clippy::unused_self))]
    pub(crate) fn read(&self) -> Stats {
        #[cfg(feature = "stats")]
        {
            let get = |count: Count| self.counts[count as usize].load(Ordering::Relaxed);
            Stats {
                calls: get(Count::Call),
                successes: get(Count::Success),
                failures: get(Count::Failure),
                rejections: get(Count::Rejection),
                retries: get(Count::Retry),
                budget_exhausted: get(Count::BudgetExhausted),
                hedges: get(Count::Hedge),
                hedges_won: get(Count::HedgeWon),
            }
        }
        #[cfg(not(feature = "stats"))]
        Stats::default()
    }
}

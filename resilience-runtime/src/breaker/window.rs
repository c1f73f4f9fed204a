//! The failure-rate ring of `TripPolicy::FailureRate`.
//!
//! # The failure-rate window
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
//! # Memory ordering
//!
//! Inside the ring, `Relaxed` throughout: each bit and the position are independent counters
//! whose races are accepted above; nothing is published through them. The `Acquire` load that
//! checks the generation comes before *every* access to the ring, including the loads of an
//! absorbed success, so those never read a ring from before the clear that opened their
//! generation (`machine.rs`, "Memory ordering").

use crate::sync::{AtomicU64, Ordering};

/// The failure-rate ring: `[position, bits...]`.
pub(super) struct Ring<'a>(pub(super) &'a [AtomicU64]);

impl Ring<'_> {
    pub(super) fn position(&self) -> &AtomicU64 {
        &self.0[0]
    }

    pub(super) fn bits(&self) -> &[AtomicU64] {
        &self.0[1..]
    }

    /// Whether the ring holds `window` outcomes and none of them failed: then one more
    /// success changes no count, now or later, and need not be written.
    pub(super) fn all_successes(&self, window: u32) -> bool {
        self.position().load(Ordering::Relaxed) >= u64::from(window)
            && self
                .bits()
                .iter()
                .all(|word| word.load(Ordering::Relaxed) == 0)
    }

    /// Writes one outcome and returns its index: its number in the stream of outcomes since
    /// the last clear, less a multiple of `window` once that is at least `2 * window`. A
    /// success whose bit is already clear only reads it.
    pub(super) fn push(&self, window: u32, failed: bool) -> u64 {
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
    pub(super) fn trips(&self, index: u64, window: u32, failure_rate: f64, min_calls: u32) -> bool {
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

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
//! instead). The position stays at least `window`, so `recorded` is unchanged too.
//!
//! Whether the ring is in that condition is kept in the state word itself: a closed
//! `FailureRate` word's payload is [`ABSORBING`](super::state::ABSORBING) (1) while it is,
//! 0 otherwise (`state.rs`). So a closed breaker on a healthy dependency pays, per success,
//! one relaxed load of the state word and a comparison, inline, as the consecutive mode does:
//! the ring is not read, and nothing is written. Under callgrind
//! (`benches/benches/instructions.rs`, `window = 100`) a success costs 4 instructions more
//! than the consecutive mode's (the tests of the policy and of the permit's tag); reading
//! the ring out of line instead cost 43 more (the call, the ring's `OnceLock`, the position
//! and the bit words).
//!
//! **Starting and stopping.** A fast success that is written (the word not absorbing) and
//! finds the ring full with no bit set afterwards marks its phase absorbing with a
//! compare-and-swap, then reads the ring again and takes the mark back if a bit appeared.
//! A failure or slow call, after writing its bit, takes the mark back with a
//! read-modify-write on the state word (in whatever closed phase it finds: an outcome of the
//! previous phase may have landed in this ring). Both orders are safe: if the failure's
//! read-modify-write comes first in the word's order, the success's compare-and-swap reads
//! from it (Release, Acquire), so its second read of the ring sees the bit; if it comes
//! second, it reads the mark and removes it. A plain load on the failure's side would not
//! do: the two could each miss the other's write (`loom.rs` checks it). So the mark is never
//! left set over a ring holding a failure, beyond the outcomes in flight described next.
//!
//! This is lock-free but not a snapshot: an evaluation may see a concurrent outcome's bit a
//! little early or late, an outcome of the previous generation that passed its generation
//! check just before a transition may land in the fresh ring, a clear may race such an
//! outcome, and a success may be absorbed while a concurrent failure has written its bit but
//! not yet taken the mark back. All of these shift the decision by at most the few calls in
//! flight at that moment; with no outcome in flight the counts are exact. Counts are always
//! derived from the bits, never kept in a separate counter, so they cannot underflow or
//! drift. Evaluation costs `window / 64` loads, paid on failures and on the one success that
//! brings the recorded count to `min_calls`.
//!
//! # Slow calls
//!
//! With `slow_call` set, a second array of `ceil(window / 64)` words follows the failure
//! bits: the slow bits, written at the same slot by the same rule (set for a slow outcome,
//! cleared if set for a fast one), so a slow failure sets both bits and a slow success only
//! its slow bit. An outcome that is slow is evaluated like a failure, against both rates:
//! the breaker opens when at least `min_calls` are recorded and either
//! `failures / recorded >= failure_rate` or `slow / recorded >= slow_call_rate`. Only a fast
//! success is absorbed, by a window with no failure bit and no slow bit set. The two bits of
//! a slot are separate writes, so two outcomes racing for one slot (a window narrower than
//! the calls in flight) may leave one's failure bit beside the other's slow bit: one more of
//! the races above, bounded the same way. Without `slow_call` the slow array is empty and
//! nothing here touches it.
//!
//! # Memory ordering
//!
//! Inside the ring, `Relaxed` throughout: each bit and the position are independent counters
//! whose races are accepted above; nothing is published through them. The `Acquire` load that
//! checks the generation comes before *every* access to the ring, so none reads a ring from
//! before the clear that opened its generation (`machine.rs`, "Memory ordering"). An absorbed
//! success reads no ring, only the state word (`Relaxed`: it decides on that word alone).
//! The absorbing mark's own pairing is above, in "Starting and stopping".

use crate::sync::{AtomicU64, Ordering};

/// The failure-rate ring: a position, the failure bits and (with `slow_call`) the slow bits.
pub(super) struct Ring<'a> {
    position: &'a AtomicU64,
    failed: &'a [AtomicU64],
    /// Empty without `slow_call`.
    slow: &'a [AtomicU64],
}

/// The rates that open the breaker: the failed and the slow fraction.
#[derive(Clone, Copy)]
pub(super) struct Rates {
    pub(super) failure: f64,
    pub(super) slow: f64,
}

impl<'a> Ring<'a> {
    /// The ring in `words`: `[position, failure bits..., slow bits...]`, `per` words to an
    /// array of bits.
    pub(super) fn new(words: &'a [AtomicU64], per: usize) -> Self {
        let (position, bits) = words.split_first().expect("the ring has a position");
        let (failed, slow) = bits.split_at(per);
        Self {
            position,
            failed,
            slow,
        }
    }

    pub(super) fn position(&self) -> &AtomicU64 {
        self.position
    }

    #[cfg(test)]
    pub(super) fn bits(&self) -> &[AtomicU64] {
        self.failed
    }

    #[cfg(test)]
    pub(super) fn slow_bits(&self) -> &[AtomicU64] {
        self.slow
    }

    /// Whether the ring holds `window` outcomes and none of them failed or was slow: then
    /// one more fast success changes no count, now or later, and need not be written.
    pub(super) fn all_successes(&self, window: u32) -> bool {
        self.position().load(Ordering::Relaxed) >= u64::from(window)
            && self
                .failed
                .iter()
                .chain(self.slow)
                .all(|word| word.load(Ordering::Relaxed) == 0)
    }

    /// Writes one outcome and returns its index: its number in the stream of outcomes since
    /// the last clear, less a multiple of `window` once that is at least `2 * window`. A
    /// bit that is already what the outcome says is only read.
    pub(super) fn push(&self, window: u32, failed: bool, is_slow: bool) -> u64 {
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
        write_bit(self.failed, slot, failed);
        if !self.slow.is_empty() {
            write_bit(self.slow, slot, is_slow);
        }
        index
    }

    /// Whether the ring, just after the outcome at `index` was written, opens the breaker.
    pub(super) fn trips(&self, index: u64, window: u32, rates: Rates, min_calls: u32) -> bool {
        let recorded = u32::try_from(index.saturating_add(1)).map_or(window, |n| n.min(window));
        if recorded < min_calls.max(1) {
            return false;
        }
        let reached = |bits: &[AtomicU64], rate: f64| {
            f64::from(ones(bits).min(recorded)) / f64::from(recorded) >= rate
        };
        reached(self.failed, rates.failure)
            || (!self.slow.is_empty() && reached(self.slow, rates.slow))
    }

    /// The slow fraction of the outcomes in the ring, or `None` if it holds none.
    pub(super) fn slow_rate(&self, window: u32) -> Option<f64> {
        self.rate(self.slow, window)
    }

    /// The failed fraction of the outcomes in the ring, or `None` if it holds none.
    pub(super) fn failure_rate(&self, window: u32) -> Option<f64> {
        self.rate(self.failed, window)
    }

    /// The outcomes the ring holds, and of them the failed and the slow ones (none slow
    /// without `slow_call`): the fleet's window (`fleet.rs`).
    #[cfg(feature = "fleet")]
    pub(super) fn counts(&self, window: u32) -> (u32, u32, u32) {
        let recorded = self.recorded(window);
        (
            recorded,
            ones(self.failed).min(recorded),
            ones(self.slow).min(recorded),
        )
    }

    fn rate(&self, bits: &[AtomicU64], window: u32) -> Option<f64> {
        let recorded = self.recorded(window);
        (recorded != 0).then(|| f64::from(ones(bits).min(recorded)) / f64::from(recorded))
    }

    /// How many outcomes the ring holds: its position, at most `window`.
    fn recorded(&self, window: u32) -> u32 {
        let position = self.position().load(Ordering::Relaxed);
        u32::try_from(position).map_or(window, |n| n.min(window))
    }
}

/// The bits set in `bits`. Only bits below the window are ever set, so no mask is needed on
/// the last word.
fn ones(bits: &[AtomicU64]) -> u32 {
    bits.iter()
        .map(|word| word.load(Ordering::Relaxed).count_ones())
        .sum()
}

/// Sets bit `slot` of `bits` if `set`, else clears it if it is set (a bit already clear is
/// only read).
fn write_bit(bits: &[AtomicU64], slot: usize, set: bool) {
    let mask = 1 << (slot % 64);
    let word = &bits[slot / 64];
    if set {
        word.fetch_or(mask, Ordering::Relaxed);
    } else if word.load(Ordering::Relaxed) & mask != 0 {
        word.fetch_and(!mask, Ordering::Relaxed);
    }
}

//! The time window of `TripPolicy::TimeWindow`: the failure (and slow) rate over the calls
//! that completed in the last `window`, kept in `buckets` rotating buckets.
//!
//! # The window
//!
//! Time since the breaker's epoch is cut into buckets of `span = window / buckets` (rounded
//! down to a nanosecond, at least 1 ms by the attribute's rule): an outcome settled at
//! `elapsed` belongs to bucket `k = elapsed / span`, kept in slot `k % buckets`. The window at
//! bucket `k` is the buckets `k - buckets + 1 ..= k`: the calls that completed since the start
//! of bucket `k - buckets + 1`, between `window - span` and `window` ago. It slides by one
//! bucket at a time, like Hystrix's and resilience4j's. The breaker opens when at least
//! `min_calls` outcomes are in the window and `failures / calls >= failure_rate` (or, with
//! `slow_call`, `slow / calls >= slow_call_rate`).
//!
//! # Implementation details
//!
//! Each slot is up to three atomic words, in three arrays allocated once per breaker on first
//! use (after three words: the span, the hint of "What a success costs" and `pending`,
//! below): the outcomes recorded in it, the failures, and (with
//! `slow_call` only) the slow calls. Each word holds its count *and the bucket it counts*:
//! `(k mod 2^32) << 32 | count`. A word therefore says by itself which bucket it belongs to,
//! as the retry budget's marks do (`retry/budget.rs`), and no two words ever have to agree:
//!
//! - **Recording** an outcome at bucket `k` is a compare-and-swap loop on each word it counts
//!   in (every outcome on the calls word, a failure on the failures word, a slow call on the
//!   slow word): a word of bucket `k` is incremented (saturating at `2^32 - 1`); a word of an
//!   older bucket is *rotated*, replaced by `(k, 1)`. So the first outcome recorded in a new
//!   bucket rotates its slot, whoever it is, with no background task and no lock. A word of a
//!   *later* bucket (this thread read the clock, then was descheduled while another recorded
//!   in the next bucket) is incremented too: the outcome counts in the bucket after its own.
//! - **Reading** the window at bucket `k` sums each word whose bucket is one of
//!   `k - buckets + 1 ..= k`; any other word is an expired (or early) bucket and counts zero.
//!   Idle for longer than the window, every word is expired and the window is empty without
//!   anyone having cleared it. Counts are never subtracted, so they cannot underflow or drift.
//!
//! Bucket numbers are kept modulo 2^32: a slot nobody recorded in for exactly a multiple of
//! 2^32 buckets (49 days of 1 ms buckets, 408 years of the default 3 s buckets) while the rest
//! of the window was recorded in would have its old counts read as current, once.
//!
//! **Who evaluates.** A failure or a slow call evaluates the rule (`3 * buckets` relaxed loads
//! at most). A fast success can only lower both rates, with two exceptions, and evaluates in
//! those only:
//!
//! - a bucket expired since the last outcome, taking older outcomes (successes among them)
//!   out of the window: then the success is the first outcome recorded in its bucket, the one
//!   that rotated its slot's calls word, which the compare-and-swap tells it;
//! - the success brings the count to `min_calls` while a rate is already reached. An
//!   evaluation that finds a rate reached with fewer than `min_calls` outcomes sets the
//!   `pending` word, and any other evaluation clears it; a success evaluates while it is set.
//!   Between two evaluations without an expiry the window only gained successes, so a clear
//!   `pending` means no rate can be reached.
//!
//! The rule is thus evaluated, in effect, whenever an outcome is recorded, as the count window
//! does, while a success on a healthy dependency evaluates once per bucket.
//!
//! **What a success costs.** Unlike the count window, a success always writes, and reads
//! the clock: the number of calls in the window is information only calls bring, and an
//! unrecorded success would make a later failure's rate too high (a count window can absorb
//! a success into a window full of successes because its length is a number of calls, not
//! of seconds). Nor can the reading be skipped while the window holds no failure: a success
//! stays in the window for as long as its bucket does, so its bucket must be known, and
//! counting it in a bucket guessed without the clock would keep it too long or drop it too
//! early. The window stays exact instead, and a success in this mode pays a clock reading
//! ([`tokio::time::Instant::now`] and the subtraction of the epoch), the `Acquire`
//! generation check, finding its bucket, one compare-and-swap on its slot's calls word (one
//! read-modify-write, on a word that every core completing a call in that bucket writes
//! too) and one relaxed load of `pending`.
//!
//! Finding the bucket divides nothing on the hot path. The span is computed once, when the
//! words are allocated, and kept in the first of them (a clear keeps it); the second is a
//! *hint*, the latest bucket found, as `number << 20 | slot`. An outcome at `t` nanoseconds
//! checks `0 <= t - number * span < span` (a multiplication, a subtraction and a comparison) and, in that bucket,
//! takes the hint's slot; otherwise it divides (`t / span`, then the slot `% buckets`) and
//! stores the hint, once per bucket and thread that moves into it. The hint is only ever
//! checked against the time, so a stale or racing hint costs a division, never a wrong
//! bucket; a bucket number past 2^44 or a slot past 2^20 (buckets under 1 ms or more than
//! 2^20 of them, which only the runtime API can ask for) is not hinted and always divides.
//!
//! In `benches/benches/instructions.rs` under callgrind (plain call 18 instructions), a time
//! window's success costs 266 instructions over a plain call where a count window's costs
//! 103: the clock's reading is about 95 of the difference (tokio's `Instant::now`, 33, and
//! std's subtraction of two instants, about 60), the compare-and-swap and its bucket's
//! checks the rest. It was 416 before the span and the hint replaced two divisions (a
//! `u128` by a `u64`, then the slot's modulo) and the view over the words was made lean.
//!
//! This is lock-free but not a snapshot: an evaluation may miss an outcome recorded
//! concurrently or see it early, two outcomes racing across a bucket boundary may both count
//! in the later bucket, and a success may skip an evaluation that a concurrent failure's
//! `pending` would have asked for. All of these shift a decision by at most the outcomes in
//! flight at that moment; with none in flight the counts are exact.
//!
//! # Memory ordering
//!
//! `Relaxed` throughout: each word is an independent counter whose races are accepted above,
//! and each read-modify-write of one word is atomic whatever its ordering, so a rotation and
//! an increment never lose each other's effect on that word. Nothing is published through
//! them. As for the count window, the `Acquire` load of the state word that checks the
//! generation precedes every access, so no outcome reads or writes buckets from before the
//! clear that opened its generation (`machine.rs`, "Memory ordering").

use std::time::Duration;

use super::window::Rates;
use crate::sync::{AtomicU64, Ordering};

/// The buckets of a time window: the span, the hint and `pending`, then the calls, failures
/// and slow words.
///
/// The arrays are found by offset in one slice, not split apart, so that building this view
/// for the hot path costs one length check and the span's load.
pub(super) struct Buckets<'a> {
    /// The latest bucket found, as `number << SLOT_BITS | slot` (module docs, "What a
    /// success costs").
    hint: &'a AtomicU64,
    pending: &'a AtomicU64,
    /// `[calls..., failed..., slow...]`.
    slots: &'a [AtomicU64],
    /// Buckets per array.
    len: usize,
    span_ns: u64,
}

/// A bucket: its number since the epoch and its slot (`number % buckets`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Bucket {
    pub(super) number: u64,
    pub(super) slot: usize,
}

/// What a window holds now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Counts {
    pub(super) calls: u64,
    pub(super) failed: u64,
    pub(super) slow: u64,
}

impl Counts {
    /// Whether `count` of these calls reaches `rate`.
    fn reaches(self, count: u64, rate: f64) -> bool {
        // Precision is lost only past 2^53 calls.
        #[allow(clippy::cast_precision_loss)]
        let fraction = count.min(self.calls) as f64 / self.calls as f64;
        self.calls != 0 && fraction >= rate
    }

    /// The failed fraction, or `None` for an empty window.
    pub(super) fn failure_rate(self) -> Option<f64> {
        self.rate(self.failed)
    }

    /// The slow fraction, or `None` for an empty window.
    pub(super) fn slow_rate(self) -> Option<f64> {
        self.rate(self.slow)
    }

    fn rate(self, count: u64) -> Option<f64> {
        #[allow(clippy::cast_precision_loss)]
        (self.calls != 0).then(|| count.min(self.calls) as f64 / self.calls as f64)
    }
}

/// The words before the slots: the span in nanoseconds (constant), the hint and `pending`.
const HEAD: usize = 3;
/// The head words a clear keeps: the span and the hint, which depend on the configuration
/// and on time only, not on the outcomes.
pub(super) const KEPT: usize = 2;
/// The hint's slot bits (at most 2^20 buckets), and the largest bucket number it holds.
const SLOT_BITS: u32 = 20;
const HINT_MAX: u64 = u64::MAX >> SLOT_BITS;

/// The words a breaker needs: the head, then `arrays * buckets`.
pub(super) fn words(buckets: u32, slow_call: bool) -> usize {
    let arrays = if slow_call { 3 } else { 2 };
    HEAD + arrays * buckets.max(1) as usize
}

/// Sets up freshly allocated (zeroed) `words`: the span of `window / buckets`. A zero hint
/// is bucket 0 in slot 0, already right.
pub(super) fn init(words: &[AtomicU64], window: Duration, buckets: u32) {
    words[0].store(span_ns(window, buckets), Ordering::Relaxed);
}

/// The length of a bucket in nanoseconds: `window / buckets`, at least 1 ns (the attribute
/// and overrides ask for 1 ms).
pub(super) fn span_ns(window: Duration, buckets: u32) -> u64 {
    let window = crate::clock::nanos(window);
    (window / u64::from(buckets.max(1))).max(1)
}

const COUNT_MASK: u64 = u32::MAX as u64;

fn pack(stamp: u32, count: u64) -> u64 {
    u64::from(stamp) << 32 | count.min(COUNT_MASK)
}

/// The bucket (mod 2^32) a word counts, and its count.
fn unpack(word: u64) -> (u32, u64) {
    // The high half, by construction.
    #[allow(clippy::cast_possible_truncation)]
    let stamp = (word >> 32) as u32;
    (stamp, word & COUNT_MASK)
}

/// Counts one outcome of bucket `stamp` in `word`; returns whether it rotated the word (it
/// held an older bucket).
#[inline]
fn bump(word: &AtomicU64, stamp: u32) -> bool {
    let previous = word
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |current| {
            let (held, count) = unpack(current);
            Some(if is_older(held, stamp) {
                pack(stamp, 1)
            } else {
                // This bucket, or a later one (module docs): one more.
                pack(held, count + 1)
            })
        })
        .unwrap_or_else(|current| current);
    is_older(unpack(previous).0, stamp)
}

/// Whether bucket `held` is older than bucket `stamp` (both mod 2^32).
fn is_older(held: u32, stamp: u32) -> bool {
    // Differences over half the range are a later `held`.
    stamp.wrapping_sub(held).wrapping_sub(1) < u32::MAX / 2
}

impl<'a> Buckets<'a> {
    /// The buckets in `words` (`[span, hint, pending, calls..., failed..., slow...]`, set up
    /// by [`init`]).
    #[inline]
    pub(super) fn new(words: &'a [AtomicU64], buckets: u32) -> Self {
        let [span, hint, pending, slots @ ..] = words else {
            unreachable!("`words` allocates the head")
        };
        Self {
            hint,
            pending,
            slots,
            len: buckets.max(1) as usize,
            span_ns: span.load(Ordering::Relaxed).max(1),
        }
    }

    /// Array `i` (0: calls, 1: failures, 2: slow calls, empty without `slow_call`).
    fn array(&self, i: usize) -> &'a [AtomicU64] {
        let start = i * self.len;
        self.slots.get(start..start + self.len).unwrap_or_default()
    }

    /// The word of `slot` in array `i`, if there is one.
    #[inline]
    fn word(&self, i: usize, slot: usize) -> Option<&'a AtomicU64> {
        self.slots.get(i * self.len + slot)
    }

    /// The bucket of an outcome settled at `elapsed`: the hint's if `elapsed` falls in it (a
    /// multiplication and a comparison), else found by division and kept as the hint.
    #[inline]
    pub(super) fn bucket(&self, elapsed: Duration) -> Bucket {
        let ns = crate::clock::nanos(elapsed);
        let hint = self.hint.load(Ordering::Relaxed);
        let number = hint >> SLOT_BITS;
        // Only `find` writes the hint, with `number * span <= ns`: no overflow. The bucket's
        // end may pass `u64::MAX`, so the subtraction is checked rather than wrapped.
        let start = number.wrapping_mul(self.span_ns);
        if ns
            .checked_sub(start)
            .is_some_and(|into| into < self.span_ns)
        {
            // Masked to SLOT_BITS bits: lossless.
            #[allow(clippy::cast_possible_truncation)]
            let slot = (hint & ((1 << SLOT_BITS) - 1)) as usize;
            return Bucket { number, slot };
        }
        self.find(ns)
    }

    /// The bucket at `ns` by division, kept as the hint if it fits there.
    #[inline(never)]
    fn find(&self, ns: u64) -> Bucket {
        let number = ns / self.span_ns;
        // `number % len < len`, a `usize`: lossless.
        #[allow(clippy::cast_possible_truncation)]
        let slot = (number % self.len as u64) as usize;
        if number <= HINT_MAX && slot < 1 << SLOT_BITS {
            self.hint
                .store(number << SLOT_BITS | slot as u64, Ordering::Relaxed);
        }
        Bucket { number, slot }
    }

    /// Records one outcome in `bucket`; returns whether it rotated its slot's calls word: the
    /// first outcome of a new bucket (module docs, "Who evaluates").
    #[inline]
    pub(super) fn record(&self, bucket: Bucket, failed: bool, is_slow: bool) -> bool {
        let slot = bucket.slot;
        // Mod 2^32 on purpose (module docs).
        #[allow(clippy::cast_possible_truncation)]
        let stamp = bucket.number as u32;
        let rotated = self.word(0, slot).is_some_and(|word| bump(word, stamp));
        if failed {
            self.word(1, slot).map(|word| bump(word, stamp));
        }
        if is_slow {
            self.word(2, slot).map(|word| bump(word, stamp));
        }
        rotated
    }

    /// Whether an evaluation asked the next successes to evaluate too.
    pub(super) fn pending(&self) -> bool {
        self.pending.load(Ordering::Relaxed) != 0
    }

    /// The outcomes in the window at `bucket`.
    pub(super) fn counts(&self, bucket: Bucket) -> Counts {
        #[allow(clippy::cast_possible_truncation)]
        let now = bucket.number as u32;
        let len = self.len as u64;
        let sum = |words: &[AtomicU64]| -> u64 {
            words
                .iter()
                .map(|word| {
                    let (held, count) = unpack(word.load(Ordering::Relaxed));
                    if u64::from(now.wrapping_sub(held)) < len {
                        count
                    } else {
                        0
                    }
                })
                .sum()
        };
        Counts {
            calls: sum(self.array(0)),
            failed: sum(self.array(1)),
            slow: sum(self.array(2)),
        }
    }

    /// Evaluates the rule at `bucket`, just after an outcome was recorded there: whether the
    /// window opens the breaker. Sets `pending` when a rate is reached with fewer than
    /// `min_calls` outcomes, clears it otherwise.
    pub(super) fn trips(&self, bucket: Bucket, rates: Rates, min_calls: u32) -> bool {
        let counts = self.counts(bucket);
        let reached = counts.reaches(counts.failed, rates.failure)
            || (!self.array(2).is_empty() && counts.reaches(counts.slow, rates.slow));
        let enough = counts.calls >= u64::from(min_calls.max(1));
        let pending = u64::from(reached && !enough);
        if self.pending.load(Ordering::Relaxed) != pending {
            self.pending.store(pending, Ordering::Relaxed);
        }
        reached && enough
    }

    #[cfg(test)]
    pub(super) fn words_of(&self, slot: usize) -> [(u32, u64); 2] {
        [
            unpack(self.array(0)[slot].load(Ordering::Relaxed)),
            unpack(self.array(1)[slot].load(Ordering::Relaxed)),
        ]
    }
}

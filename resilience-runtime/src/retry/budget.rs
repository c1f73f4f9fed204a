//! The retry budget: retries may add at most a share of the calls an instance served over a
//! rolling window, plus a fixed reserve (Finagle's `RetryBudget`). `#[hedge]` uses the same
//! budget with no reserve: a call deposits, a hedge withdraws.
//!
//! # What it counts
//!
//! Every call that starts (a first attempt) *deposits* one call; every retry *withdraws* one.
//! A retry is granted while, over the last [`WINDOW_SECS`] seconds,
//!
//! ```text
//! retries < floor(budget * calls) + budget_min * WINDOW_SECS
//! ```
//!
//! so with the defaults (0.2 and 10) a dependency that fails every call receives at most
//! 1.2 times the calls plus 10 retries a second, however many retries each call may make,
//! instead of `max + 1` times the calls. Retries are not deposits: a retry storm cannot pay for
//! itself.
//!
//! # Implementation details
//!
//! The constraint is the happy path: a call that does not fail pays one `Relaxed`
//! `fetch_add` on [`Budget::deposits`] and nothing else — no clock read, no lock, no
//! allocation, no background task. Everything else happens when a retry is asked for.
//!
//! Deposits and withdrawals are two monotonic counters. To know what the last ten seconds
//! added, the failure path keeps one *mark* per second of the window: the two counters as the
//! first retry decision of that second read them. Seconds are counted from the instance's
//! epoch, taken at its first call ([`Budget::start`]); a ring of [`WINDOW_SECS`] marks indexed
//! by `second % WINDOW_SECS` holds the window. Each mark is two words, one per counter, each
//! holding `(second << 32) | (counter mod 2^32)`, so a word says by itself which second it
//! belongs to and a reader never needs two words to agree: a word of another second is
//! simply absent. The all-zero word is the mark of second 0 holding zero, exactly the state
//! at the epoch, so a `static` starts out right. Differences are taken modulo 2^32: a single
//! atomic counter cannot move four billion times in ten seconds.
//!
//! A decision at second `h` first writes the mark of `h` if it is missing, then looks for the
//! oldest mark of the window `[h - 9, h]`, second `r`:
//!
//! - withdrawals in the window are `withdrawals - W(r)` exactly: every retry writes the mark
//!   of its second before it withdraws, so no retry happened in a second without a mark;
//! - deposits are `deposits - D(r)`, plus, for the seconds `[h - 9, r)` in which nothing
//!   failed (so nothing was marked), an estimate at the instance's average rate since its
//!   epoch. After a quiet period the first failure thus finds a budget at once, as it would
//!   had every second been marked.
//!
//! The window is therefore between nine and ten seconds long, in whole-second steps: a
//! deposit or a retry never counts for more than ten seconds.
//!
//! The withdrawal itself is a compare-and-swap loop on `withdrawals` against the computed
//! allowance, so concurrent failures never take more retries than the budget holds.
//! Races only blur the marks (two threads writing the mark of one second write two readings
//! taken within that second; a thread descheduled for ten seconds may write an old mark,
//! which readers then see as absent), never the count of retries granted against one
//! reading of the allowance.
//!
//! # Memory ordering
//!
//! Deposits are `Relaxed`: they are counted, not synchronised with anything, and a deposit
//! seen a moment late only delays its share of the budget. A withdrawal is a successful
//! `AcqRel` compare-and-swap that follows the mark stores of the same thread; a decision
//! loads `withdrawals` with `Acquire` *before* it reads the marks. So a decision that sees a
//! retry also sees the mark that retry wrote, which is what makes "no mark, no retry in that
//! second" hold. Mark words are stored `Release` and loaded `Acquire` for the same reason.

use std::time::Duration;

use crate::clock::Clock;
use crate::sync::{const_fn, AtomicU64, Ordering};

/// The seconds of the rolling window, and the marks in the ring.
pub(crate) const WINDOW_SECS: u32 = resilience_config::retry::BUDGET_WINDOW_SECS;
const SLOTS: usize = WINDOW_SECS as usize;

/// The mark of one second: each counter as it stood then.
#[derive(Debug)]
struct Mark {
    deposits: AtomicU64,
    withdrawals: AtomicU64,
}

/// What a decision reads: the withdrawal counter, its value at the window's start (mod 2^32),
/// and the calls deposited in the window.
struct Reading {
    withdrawn: u64,
    withdrawn_at_start: u32,
    deposits: u64,
}

/// A budget of retries: deposits by calls, withdrawals by retries, over a rolling window.
#[derive(Debug)]
pub(crate) struct Budget {
    /// First attempts, ever.
    deposits: AtomicU64,
    /// Retries granted, ever.
    withdrawals: AtomicU64,
    marks: [Mark; SLOTS],
    clock: Clock,
    /// A `shared` budget's grant from the fleet (`crate::fleet::budget`).
    #[cfg(feature = "fleet")]
    share: crate::fleet::Share,
}

/// A counter and the second it was read in, as one word.
fn pack(second: u32, value: u64) -> u64 {
    (u64::from(second) << 32) | (value & u64::from(u32::MAX))
}

/// The counter's value (mod 2^32) if the word belongs to `second`.
fn unpack(word: u64, second: u32) -> Option<u32> {
    #[allow(clippy::cast_possible_truncation)] // the halves of a word, by construction
    let (tag, value) = ((word >> 32) as u32, word as u32);
    (tag == second).then_some(value)
}

/// `now - then` for counters kept mod 2^32; a `then` read after `now` (a race) counts zero.
fn since(now: u64, then: u32) -> u64 {
    #[allow(clippy::cast_possible_truncation)] // mod 2^32 on purpose
    let delta = (now as u32).wrapping_sub(then);
    // Over half the range means `then` is ahead of `now`: nothing happened in between.
    if delta > u32::MAX / 2 {
        0
    } else {
        u64::from(delta)
    }
}

impl Budget {
    const_fn! {
        pub(crate) fn new() -> Budget {
            Budget {
                deposits: AtomicU64::new(0),
                withdrawals: AtomicU64::new(0),
                #[cfg(not(loom))]
                marks: [const { Mark::new() }; SLOTS],
                #[cfg(loom)]
                marks: std::array::from_fn(|_| Mark::new()),
                clock: Clock::new(),
                #[cfg(feature = "fleet")]
                share: crate::fleet::Share::new(),
            }
        }
    }

    /// Starts the epoch, if no call started it yet: the instance's first call does, so the
    /// average rate since the epoch is the rate since the instance began serving.
    pub(crate) fn start(&self) {
        let _ = self.clock.elapsed();
    }

    /// The budget's clock, which the policy's `max_elapsed` deadlines are on too.
    pub(super) fn clock(&self) -> &Clock {
        &self.clock
    }

    /// A call started: one relaxed add, the only cost on the happy path.
    #[inline]
    pub(crate) fn deposit(&self) {
        self.deposits.fetch_add(1, Ordering::Relaxed);
    }

    /// Takes one retry from the budget, or returns `false` when it is spent: fewer than one
    /// retry left of `share` × the window's calls plus `reserve_per_sec` × [`WINDOW_SECS`].
    pub(crate) fn withdraw(&self, share: f64, reserve_per_sec: u32) -> bool {
        let Reading {
            mut withdrawn,
            withdrawn_at_start,
            deposits,
        } = self.read();
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        // `share` is in [0, 1] and the product non-negative; `as` saturates and floors.
        let allowance =
            (share * deposits as f64) as u64 + u64::from(reserve_per_sec) * u64::from(WINDOW_SECS);
        loop {
            if since(withdrawn, withdrawn_at_start) >= allowance {
                return false;
            }
            match self.withdrawals.compare_exchange_weak(
                withdrawn,
                withdrawn + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(current) => withdrawn = current,
            }
        }
    }

    /// Takes one retry from the fleet's grant (a linked `shared` budget): `None` before the
    /// link gave one, so the local budget decides. The second's mark is written first, as a
    /// local decision writes it, so the local window stays right for when the link is down.
    #[cfg(feature = "fleet")]
    pub(crate) fn withdraw_shared(&self) -> Option<bool> {
        let _ = self.read();
        let granted = self.share.take()?;
        if granted {
            // `AcqRel`, as a local withdrawal (module docs, "Memory ordering").
            self.withdrawals.fetch_add(1, Ordering::AcqRel);
        }
        Some(granted)
    }

    /// The fleet's side of the budget, and the counters ever: calls deposited and retries
    /// granted (what the link pushes the differences of).
    #[cfg(feature = "fleet")]
    pub(crate) fn shared(&self) -> (&crate::fleet::Share, u64, u64) {
        (
            &self.share,
            self.deposits.load(Ordering::Relaxed),
            self.withdrawals.load(Ordering::Relaxed),
        )
    }

    /// Retries granted in the window and calls deposited in it, as `withdraw` would count
    /// them now (for snapshots and tests; writes the current second's mark like a decision).
    pub(crate) fn usage(&self) -> (u64, u64) {
        let reading = self.read();
        (
            since(reading.withdrawn, reading.withdrawn_at_start),
            reading.deposits,
        )
    }

    /// The counters now, with the window they are judged over: marks the current second if
    /// it has no mark yet, then finds the window's oldest mark.
    fn read(&self) -> Reading {
        let now = self.clock.elapsed();
        let second = u32::try_from(now.as_secs()).unwrap_or(u32::MAX);
        // `Acquire` before the marks are read: see the module's memory ordering.
        let withdrawn = self.withdrawals.load(Ordering::Acquire);
        let deposited = self.deposits.load(Ordering::Relaxed);
        self.mark(second, deposited, withdrawn);
        let (deposits, withdrawn_at_start) = self.window(second, now, deposited, withdrawn);
        Reading {
            withdrawn,
            withdrawn_at_start,
            deposits,
        }
    }

    /// Writes the mark of `second`, unless that second already has one.
    fn mark(&self, second: u32, deposited: u64, withdrawn: u64) {
        let mark = &self.marks[second as usize % SLOTS];
        if unpack(mark.deposits.load(Ordering::Acquire), second).is_none()
            || unpack(mark.withdrawals.load(Ordering::Acquire), second).is_none()
        {
            mark.deposits
                .store(pack(second, deposited), Ordering::Release);
            mark.withdrawals
                .store(pack(second, withdrawn), Ordering::Release);
        }
    }

    /// The calls deposited in the window ending at `second`, and the withdrawal counter at its
    /// start (mod 2^32).
    fn window(&self, second: u32, now: Duration, deposited: u64, withdrawn: u64) -> (u64, u32) {
        #[allow(clippy::cast_possible_truncation)] // mod 2^32 on purpose
        let fallback = (second, deposited as u32, withdrawn as u32);
        let first = second.saturating_sub(WINDOW_SECS - 1);
        let (oldest, deposits_then, withdrawals_then) = (first..=second)
            .find_map(|s| {
                let mark = &self.marks[s as usize % SLOTS];
                let d = unpack(mark.deposits.load(Ordering::Acquire), s)?;
                let w = unpack(mark.withdrawals.load(Ordering::Acquire), s)?;
                Some((s, d, w))
            })
            // The current second's mark was just written; only a thread descheduled for a
            // whole window can have replaced it. Then the window starts now.
            .unwrap_or(fallback);
        let marked = since(deposited, deposits_then);
        (
            marked + unmarked(deposited, now, oldest - first),
            withdrawals_then,
        )
    }
}

/// Calls in `seconds` unmarked seconds, at the average rate since the epoch.
fn unmarked(deposited: u64, now: Duration, seconds: u32) -> u64 {
    if seconds == 0 {
        return 0;
    }
    let elapsed = now.as_millis().max(1);
    let estimate = u128::from(deposited) * u128::from(seconds) * 1_000 / elapsed;
    u64::try_from(estimate).unwrap_or(u64::MAX)
}

impl Mark {
    const_fn! {
        fn new() -> Mark {
            Mark {
                deposits: AtomicU64::new(0),
                withdrawals: AtomicU64::new(0),
            }
        }
    }
}

#[cfg(all(loom, test))]
impl Budget {
    /// Sets the time the budget's clock reads (for the loom models).
    pub(crate) fn set_now_ms(&self, ms: u64) {
        self.clock.set_now_ms(ms);
    }
}

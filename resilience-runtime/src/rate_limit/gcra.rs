//! The state word: GCRA's theoretical arrival time in one `AtomicU64`, and the three things
//! done to it (take a permit now, reserve a later one, undo a reservation).
//!
//! Times are nanoseconds since the limiter's origin (`clock.rs`); this file knows nothing of
//! tokio, so the loom models drive it with plain numbers.
//!
//! # The word
//!
//! `tat` is the *theoretical arrival time*: when the next permit would be due if the limiter
//! issued permits exactly every `interval` nanoseconds with no burst. A permit asked for at
//! `now` is due at `max(tat, now) - tolerance`, where `tolerance = (burst - 1) * interval`
//! lets `burst` permits be taken at once after a quiet period. Taking it moves `tat` to
//! `max(tat, now) + interval`. Every change is one compare-and-swap of the word, so callers
//! that race are ordered by the word and each sees the permits the others took.
//!
//! # Reservations, and undoing one
//!
//! A permit due later than `now` but within the caller's `max_wait` is *reserved*: the caller
//! advances `tat` as if it had taken the permit, then sleeps until it is due. Reservations are
//! made in the word's order, each due `interval` after the one before, so waiters are served
//! in the order they reserved (FIFO) with no queue. A caller whose permit would come later
//! than its `max_wait` changes nothing and is told when a permit would be due.
//!
//! Values of the word only grow, except when a reservation is undone, and a reservation's
//! value (`mine`, the word after it) is larger than every value before it. So the word equals
//! `mine` exactly when no reservation was made after it (or every one made after it was
//! undone): the reservations form a stack whose top is the word. Undoing is a
//! compare-and-swap from `mine` back to the value it replaced (`prev`): it succeeds only for
//! the top of the stack, and then the limiter is exactly as if the reservation had never been
//! made. A reservation below the top is not undone (see the module docs of `rate_limit`,
//! "Cancellation").

use crate::sync::{const_fn, AtomicU64, Ordering};

/// The schedule in nanoseconds: one permit every `interval`, `tolerance` of burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Schedule {
    /// `per / rate`, rounded up, at least 1.
    pub(super) interval: u64,
    /// `(burst - 1) * interval`, saturating.
    pub(super) tolerance: u64,
    /// `burst`, to cap [`Gcra::available`].
    pub(super) burst: u32,
}

impl Schedule {
    /// The schedule of `rate` permits per `per_nanos`, `burst` at once.
    pub(super) const fn new(rate: u32, per_nanos: u64, burst: u32) -> Self {
        // Rounded up: 3 per second is one every 333_333_334 ns, never a little more than 3.
        let interval = per_nanos.div_ceil(rate as u64);
        let interval = if interval == 0 { 1 } else { interval };
        Self {
            interval,
            tolerance: interval.saturating_mul(burst.saturating_sub(1) as u64),
            burst,
        }
    }
}

/// What a caller asking at `now` gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Decision {
    /// A permit, now.
    Now,
    /// A reserved permit, due at `at` (after `now`); `mine` and `prev` undo it.
    Later(Reserved),
    /// No permit within the wait allowed; one would be due in `retry_after` nanoseconds.
    Refused { retry_after: u64 },
}

/// A reservation: the word went from `prev` to `mine`, and the permit is due at `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Reserved {
    pub(super) at: u64,
    pub(super) mine: u64,
    pub(super) prev: u64,
}

/// The theoretical arrival time, in nanoseconds since the limiter's origin.
pub(super) struct Gcra {
    tat: AtomicU64,
}

impl Gcra {
    const_fn! {
        /// A limiter whose whole burst is free.
        pub(super) fn new() -> Self {
            Self {
                tat: AtomicU64::new(0),
            }
        }
    }

    /// Takes a permit due at `now`, or reserves one due within `max_wait` nanoseconds (`None`:
    /// any wait), or refuses without changing anything.
    ///
    /// The hot path: one load and one compare-and-swap when a permit is free now.
    #[inline]
    pub(super) fn acquire(&self, now: u64, schedule: Schedule, max_wait: Option<u64>) -> Decision {
        let mut tat = self.tat.load(Ordering::Relaxed);
        loop {
            let start = if tat > now { tat } else { now };
            let at = start.saturating_sub(schedule.tolerance);
            let wait = at.saturating_sub(now);
            if wait > 0 {
                if let Some(max_wait) = max_wait {
                    if wait > max_wait {
                        return Decision::Refused { retry_after: wait };
                    }
                }
            }
            let next = start.saturating_add(schedule.interval);
            // Relaxed: a permit hands no data from one caller to another (module docs of
            // `rate_limit`, "Memory ordering"); the count is exact because this is a
            // read-modify-write of the one word.
            match self
                .tat
                .compare_exchange_weak(tat, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) if wait == 0 => return Decision::Now,
                Ok(prev) => {
                    return Decision::Later(Reserved {
                        at,
                        mine: next,
                        prev,
                    })
                }
                Err(actual) => tat = actual,
            }
        }
    }

    /// Undoes `reserved` if no reservation was made after it; whether it did.
    pub(super) fn undo(&self, reserved: Reserved) -> bool {
        // A strong compare-and-swap: a spurious failure would lose a permit for nothing.
        self.tat
            .compare_exchange(
                reserved.mine,
                reserved.prev,
                Ordering::Relaxed,
                Ordering::Relaxed,
            )
            .is_ok()
    }

    /// Permits a caller could take at `now` without waiting, at most `burst`. A snapshot.
    pub(super) fn available(&self, now: u64, schedule: Schedule) -> u32 {
        let tat = self.tat.load(Ordering::Relaxed);
        let start = if tat > now { tat } else { now };
        let Some(slack) = now.saturating_add(schedule.tolerance).checked_sub(start) else {
            return 0;
        };
        let permits = slack / schedule.interval + 1;
        u32::try_from(permits).map_or(schedule.burst, |p| p.min(schedule.burst))
    }

    /// The word, for tests.
    #[cfg(test)]
    pub(super) fn tat(&self) -> u64 {
        self.tat.load(Ordering::Relaxed)
    }
}

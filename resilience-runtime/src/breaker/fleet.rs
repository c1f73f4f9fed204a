//! A `shared` breaker's side of the fleet (the `fleet` feature): what it tells the link, what
//! the link may do to it, and the half-open gate. The link itself is `crate::fleet`.
//!
//! # The hooks
//!
//! - **Telling**: a change of tag made by this replica's own calls ([`Core::announce`]) is
//!   handed to the link: an opening (from closed, or a failed trial) and a close after the
//!   trials are published to every replica; leaving half-open gives the lease back. That is
//!   an atomic store and a message on a channel, on a transition only: the call that made
//!   it never waits for Redis.
//! - **Hearing**: [`CircuitBreaker::fleet_open`] and [`CircuitBreaker::fleet_close`] apply
//!   another replica's change with a compare-and-swap on the same state word, starting a new
//!   generation like any transition (so permits admitted before it are stale), and report it
//!   to snapshots and events but not back to the fleet.
//! - **The half-open gate**: while the process is linked, an open breaker whose open period
//!   is over admits its first trial only if this replica holds the fleet's lease for the
//!   breaker ([`Core::may_trial`]); the link takes the lease in the background (`SET NX PX`).
//!   Unlinked, the breaker is what it would be without the fleet: its own trials, its own
//!   protection (it never fails open).
//! - **The fleet's window** (window modes): the link reads what a closed breaker's window
//!   holds ([`CircuitBreaker::fleet_window`]: the ring's recorded count and its rates, or the
//!   time window's counts, through the accessors the snapshots use, so the call's path is
//!   untouched) and, when the fleet's sums reach the rule, opens it
//!   ([`CircuitBreaker::fleet_window_trip`]) as a trip of its own: announced and published.
//!
//! The lease flag is a separate `AtomicBool` beside the state word, read only on that slow
//! path (open, period over) and written by the link and by the transition out of half-open.
//! `Relaxed` is enough: it publishes nothing, and a stale read at worst rejects one caller
//! (who is told `retry_after: None`, like any half-open rejection) or admits a trial in the
//! same moment as the lease is given back (bounded by `half_open` in this replica).

use std::sync::atomic::Ordering;

use super::clock::deadline_ms;
use super::machine::Core;
use super::state::{Tag, Word};
use super::{BreakerConfig, CircuitBreaker, TripPolicy};
use crate::fleet::{self, Outcomes};

impl Core {
    /// Whether the first trial of a half-open phase may be admitted here: unlinked, always
    /// (local protection); linked, only while this replica holds the fleet's lease.
    pub(super) fn may_trial(&self) -> bool {
        if !fleet::linked() || self.lease.load(Ordering::Relaxed) {
            return true;
        }
        // Refused: the link takes the lease for this replica at its next period.
        self.wanted.store(true, Ordering::Relaxed);
        false
    }

    /// Tells the fleet about a change this replica's calls made.
    pub(super) fn tell_fleet(&self, config: &BreakerConfig, (from, to): (Word, Word)) {
        self.end_phase(config, (from, to));
        let event = match (from.tag(), to.tag()) {
            (Tag::Closed | Tag::HalfOpen, Tag::Open) => {
                fleet::BreakerEvent::Open { level: to.level() }
            }
            (Tag::HalfOpen, Tag::Closed) => fleet::BreakerEvent::Close,
            _ => return,
        };
        fleet::breaker_event(config.name.get(), event);
    }

    /// A change out of half-open ends this replica's phase: its lease goes back (here at
    /// once, in Redis by the link). The manual controls call this alone: they change this
    /// replica only, and tell the fleet nothing else.
    pub(super) fn end_phase(&self, config: &BreakerConfig, (from, to): (Word, Word)) {
        if from.tag() == Tag::HalfOpen
            && to.tag() != Tag::HalfOpen
            && self.lease.swap(false, Ordering::Relaxed)
        {
            fleet::breaker_event(config.name.get(), fleet::BreakerEvent::Release);
        }
    }
}

impl CircuitBreaker {
    /// Another replica opened the breaker (tripped, or a failed trial at backoff `level`):
    /// this one opens too, for its own open period from now, unless it is forced or already
    /// open until at least as late. Returns whether it changed.
    pub(crate) fn fleet_open(&self, level: u32) -> bool {
        let now = self.clock.elapsed();
        let deadline = deadline_ms(now, self.config.open_period(level));
        let change = self.core.swap_with(|current| match current.tag() {
            Tag::ForcedOpen | Tag::ForcedClosed => None,
            Tag::Open if current.payload() >= deadline => None,
            _ => Some(current.next(Tag::Open, deadline).with_level(level)),
        });
        self.heard(change, now)
    }

    /// The fleet's trials succeeded in another replica: this one closes too, with fresh
    /// counts, unless it is closed or forced. Returns whether it changed.
    pub(crate) fn fleet_close(&self) -> bool {
        let now = self.clock.elapsed();
        // Cleared before the transition, as a reset does (`machine.rs`, "Memory ordering").
        if matches!(
            self.core.load(Ordering::Relaxed).tag(),
            Tag::Open | Tag::HalfOpen
        ) {
            self.core.clear_window(&self.config);
        }
        let change = self.core.swap_with(|current| match current.tag() {
            Tag::Open | Tag::HalfOpen => Some(current.next(Tag::Closed, 0).with_level(0)),
            _ => None,
        });
        self.heard(change, now)
    }

    fn heard(&self, change: Option<(Word, Word)>, now: std::time::Duration) -> bool {
        let Some((from, to)) = change else {
            return false;
        };
        if from.tag() == Tag::HalfOpen {
            // This replica's trials lost their phase; whatever lease it held goes back.
            if self.core.lease.swap(false, Ordering::Relaxed) {
                fleet::breaker_event(self.name(), fleet::BreakerEvent::Release);
            }
        }
        if from.tag() != to.tag() {
            self.core.note(&self.config, (from, to), now);
        }
        true
    }

    /// What the link should do about the lease now, once per `sync` period:
    ///
    /// - take it: open, its period over, not held, and a caller was refused for want of it
    ///   (a replica without callers never takes it from one with callers);
    /// - keep it: held, and half-open (its trials run), or still open with callers refused
    ///   since the last period;
    /// - give it back: held but open with no caller for a whole period (the callers that
    ///   wanted it went away), so a replica that has callers can take it;
    /// - nothing otherwise.
    pub(crate) fn fleet_lease(&self) -> fleet::LeaseWant {
        let word = self.core.load(Ordering::Relaxed);
        let held = self.core.lease.load(Ordering::Relaxed);
        let wanted = self.core.wanted.swap(false, Ordering::Relaxed);
        match word.tag() {
            Tag::Open if !held => {
                if wanted && super::clock::is_over(word.payload(), self.clock.elapsed()) {
                    fleet::LeaseWant::Take
                } else {
                    fleet::LeaseWant::Nothing
                }
            }
            Tag::HalfOpen if held => fleet::LeaseWant::Keep,
            Tag::Open if held && wanted => fleet::LeaseWant::Keep,
            Tag::Open if held => {
                self.core.lease.store(false, Ordering::Relaxed);
                fleet::LeaseWant::Release
            }
            _ => fleet::LeaseWant::Nothing,
        }
    }

    /// The link took (`true`) or lost (`false`) the lease.
    pub(crate) fn fleet_set_lease(&self, held: bool) {
        self.core.lease.store(held, Ordering::Relaxed);
    }

    /// How long a trial lease lasts: one open period (Polly's rule for a hung trial, fleet-wide).
    pub(crate) fn fleet_lease_ttl(&self) -> std::time::Duration {
        self.config.open_for()
    }
}

impl CircuitBreaker {
    /// What this replica's window holds now, for the fleet's: `None` for a `Consecutive`
    /// breaker, nothing while it is not closed (its window is not judged then). A few relaxed
    /// loads, on the link's task.
    pub(crate) fn fleet_window(&self) -> Option<Outcomes> {
        let closed = self.core.load(Ordering::Relaxed).tag() == Tag::Closed;
        match self.config.policy {
            TripPolicy::Consecutive { .. } => None,
            _ if !closed => Some(Outcomes::default()),
            TripPolicy::FailureRate { window, .. } => {
                let Some(ring) = self.core.ring_if_any(&self.config) else {
                    return Some(Outcomes::default());
                };
                let (calls, failed, slow) = ring.counts(window.max(1));
                Some(Outcomes {
                    calls: calls.into(),
                    failed: failed.into(),
                    slow: slow.into(),
                })
            }
            TripPolicy::TimeWindow { .. } => Some(self.window_counts().map_or(
                Outcomes::default(),
                |counts| Outcomes {
                    calls: counts.calls,
                    failed: counts.failed,
                    slow: counts.slow,
                },
            )),
        }
    }

    /// The fleet's windows, summed, reach the rule (at least `min_calls` calls, and the
    /// failed or the slow fraction at its rate): a closed breaker opens, as a trip of its
    /// own (announced, published to the fleet). Returns whether it opened.
    pub(crate) fn fleet_window_trip(&self, fleet: Outcomes) -> bool {
        let (failure_rate, min_calls) = match self.config.policy {
            TripPolicy::FailureRate {
                failure_rate,
                min_calls,
                ..
            }
            | TripPolicy::TimeWindow {
                failure_rate,
                min_calls,
                ..
            } => (failure_rate, min_calls),
            TripPolicy::Consecutive { .. } => return false,
        };
        #[allow(clippy::cast_precision_loss)] // counts of calls, far below 2^52
        let at_rate = |count: u64, rate: f64| count as f64 / fleet.calls as f64 >= rate;
        let reached = at_rate(fleet.failed, failure_rate)
            || (self.config.slow_call_ns != 0 && at_rate(fleet.slow, self.config.slow_call_rate));
        if fleet.calls < u64::from(min_calls.max(1)) || !reached {
            return false;
        }
        let now = self.clock.elapsed();
        let deadline = deadline_ms(now, self.config.open_for());
        let change = self.core.swap_with(|current| {
            (current.tag() == Tag::Closed).then(|| current.next(Tag::Open, deadline))
        });
        let Some(change) = change else {
            return false;
        };
        self.core.note(&self.config, change, now);
        self.core.tell_fleet(&self.config, change);
        true
    }
}

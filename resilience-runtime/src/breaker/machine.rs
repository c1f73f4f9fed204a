//! The state machine, free of tokio: admission, recording, half-open trials and the takeover
//! of hung trials, as compare-and-swap loops on the state word (`state.rs`). Time comes in as
//! the elapsed time since the epoch, asked for only when needed (`clock.rs`).
//!
//! # The hot path
//!
//! Closed with the `Consecutive` policy: [`CircuitBreaker::try_acquire`] is one relaxed load
//! and no write. [`BreakerPermit::success`] is one more relaxed load, at completion, and
//! writes only if that load finds a failure counted in the permit's phase: then a CAS resets
//! the count to zero. A success therefore resets the failures that completed before it, in
//! completion order, as users reason about them (failure, failure, a slow call admitted
//! before them that succeeds, failure: one failure counted, not three). It is linearised at
//! its completion load: failures whose CAS precedes the value that load reads (which
//! includes every failure that happens-before the completion, by read-write coherence) are
//! reset, and failures after it in the word's modification order keep counting. A success
//! that finds the count at zero writes nothing, so a healthy breaker's word is only read
//! and the line holding it stays shared between cores. A failure is a CAS that increments
//! the count or, at `threshold`, opens the breaker. No lock, no allocation, and the clock is
//! read only when opening or while open, or, with `slow_call` set, at a call's admission and
//! completion: a plain load of the configuration decides that, beside the one atomic load.
//! A slow call's verdict is decided before recording: a failure to this policy and to a
//! half-open trial, a slow bit to the failure-rate window (`window.rs`).
//!
//! Closed with the `FailureRate` policy (a count window), admission is the same load, and a
//! success the same relaxed load at completion: it returns if the word is still its phase
//! with the payload [`ABSORBING`], which says the ring holds a full window of successes
//! (`window.rs`, "The hot path"); otherwise it is written to the ring.
//!
//! What a success costs, in instructions (`benches/benches/instructions.rs` under callgrind): 28
//! over a plain call's 18 for `#[circuit_breaker]` alone (84 before this was tuned), 32 for a count
//! window. The breaker's own decisions are about 17 of them: finding the `static` instance (4),
//! admission (the load, a test of the tag for `Closed` alone, forced closed going the slow way, and
//! the `slow_call` check) and completion (the `slow_call` check, one comparison of the policy, the
//! load and the payload's test, inline in the permit's `settle`). The rest is the
//! `Result<T, Failure<E>>` around the body's outcome. The macro writes the admission and the
//! record into the function's own future, the permit one of its locals
//! ([`BreakerPermit::record`](super::BreakerPermit::record)); where a layer above runs the
//! breaker's future instead (a `#[timeout]`, `#[rate_limit]` or `#[hedge]` above it), and for a
//! keyed breaker and the `tower` layer, that future is a [`BreakerRun`](super::BreakerRun), which
//! keeps the permit where an unwinding panic finds it and costs about 24 more.
//!
//! # Hung trials
//!
//! A trial admitted at time `t` holds its place until `t + open_for` at most. The state word
//! has no room for a time beside its trial counts (its 40-bit payload is the two 20-bit
//! counts), so the time lives in a second atomic word, the *takeover deadline*: milliseconds
//! since the epoch, rounded up, at which the latest trial admitted will have run for
//! `open_for`. Every admission of a trial (the one that moves open to half-open, one into a
//! free place, a takeover) raises it with `fetch_max` *before* the compare-and-swap that
//! admits it, and it is never lowered. A caller that finds every place taken reads it and, if
//! it is over, moves the word to a new half-open generation with itself as the one trial
//! admitted: the old trials' permits are stale from then on (`state.rs`, "Generations"), so their
//! outcomes are ignored and their drops give nothing back. Otherwise it is rejected.
//!
//! The deadline read is never earlier than that of any trial counted in the word read (see
//! "Memory ordering"), so no trial loses its place before `open_for`: a takeover is never
//! early. It can be late: a deadline raised by an admission whose compare-and-swap then
//! failed, or by a takeover that lost to a trial's success in the same phase, holds the next
//! takeover back by up to one open period more. Each such delay needs a concurrent change of
//! the word, so a hung trial is always replaced eventually. With no trial hung, callers pay
//! one more relaxed load per rejection and one `fetch_max` per trial admitted.
//!
//! # Memory ordering
//!
//! The state word is self-contained: a thread that reads it needs no other memory written
//! before it, with two exceptions (the takeover deadline and the failure-rate ring, below).
//! All updates are read-modify-write operations on this one location, which are totally
//! ordered by its modification order whatever their `Ordering`; that is what makes the CAS
//! loops linearizable. Hence:
//!
//! - `Relaxed` for the admission load (the hot path) and [`CircuitBreaker::state`]'s load; for
//!   every CAS that does not move the breaker into the closed state or admit a trial
//!   (counting failures, resetting the count, opening, finishing trials); and for the failure
//!   ordering of those CASes (a failed CAS only retries with the value it read).
//! - `Release` on the CAS that admits a trial (open → half-open, a free place, a takeover),
//!   paired with `Acquire` on the slow path's load of the word and on its failed CASes: the
//!   admitting caller raised the takeover deadline *before* its CAS, so a caller that reads a
//!   word counting that trial (or any later value: every write of the word is a
//!   read-modify-write, which continues the release sequence) happens-after the raise and
//!   reads the deadline it wrote or a later one. The deadline itself is `Relaxed`: `fetch_max`
//!   keeps it monotonic, and it publishes nothing.
//! - `Release` on a CAS that moves the breaker into a new closed generation, paired with an
//!   `Acquire` load of the word before a `FailureRate` outcome is written to the ring: the
//!   ring was cleared *before* the transition, so an outcome whose generation check reads the
//!   new closed word (or any later value: every later write is a read-modify-write, which
//!   continues the release sequence) happens-after the clear and cannot be wiped by it.
//! - The manual controls ([`CircuitBreaker::force_open`], [`CircuitBreaker::force_closed`],
//!   [`CircuitBreaker::reset`]) are rare and use `SeqCst`, which for `reset` also provides the
//!   `Release` that publishes the ring's clear.
//!
//! The ring's own accesses are described in `window.rs`, the epoch's in `clock.rs`.
//!
//! [`CircuitBreaker::try_acquire`]: super::CircuitBreaker::try_acquire
//! [`BreakerPermit::success`]: super::BreakerPermit::success
//! [`CircuitBreaker::state`]: super::CircuitBreaker::state
//! [`CircuitBreaker::force_open`]: super::CircuitBreaker::force_open
//! [`CircuitBreaker::force_closed`]: super::CircuitBreaker::force_closed
//! [`CircuitBreaker::reset`]: super::CircuitBreaker::reset

use std::sync::OnceLock;
use std::time::Duration;

use super::clock::{deadline_ms, is_over, Now};
use super::state::{Tag, Word, ABSORBING, LEVEL_MAX};
use super::time_window::{self, Bucket, Buckets};
use super::window::{Rates, Ring};
use super::{BreakerConfig, BreakerState, TripPolicy};
use crate::events;
use crate::sync::{const_fn, AtomicU64, Ordering};

/// What a call is told when it may not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    /// Open: the open period ends after `retry_after`.
    Open { retry_after: Duration },
    /// Half-open with every place taken by a trial admitted less than an open period ago.
    Busy,
    /// Forced open.
    Forced,
}

/// The outcome a permit reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    Success,
    Failure,
    /// Ignored or cancelled: release without recording.
    Release,
}

/// The state word and the words only slow paths touch.
pub(super) struct Core {
    word: AtomicU64,
    /// `[takeover, position, bits...]`, allocated on first use: the half-open takeover
    /// deadline (module docs, "Hung trials"), then, under `FailureRate` only, the ring.
    extra: OnceLock<Box<[AtomicU64]>>,
    /// When the tag last changed, in milliseconds since the breaker's epoch; for snapshots
    /// only (written on transitions, never read by the state machine).
    changed_ms: AtomicU64,
    /// A keyed breaker's key, for its events (`keyed/`).
    pub(super) key: Option<crate::error::KeyText>,
    /// Whether this replica holds the fleet's half-open lease (`fleet.rs`); only a `shared`
    /// breaker of a linked process reads it.
    #[cfg(feature = "fleet")]
    pub(super) lease: std::sync::atomic::AtomicBool,
    /// Whether a caller was refused a trial for want of the lease since the link last
    /// looked: the link takes the lease only for a replica that has callers.
    #[cfg(feature = "fleet")]
    pub(super) wanted: std::sync::atomic::AtomicBool,
}

impl Core {
    const_fn! {
        pub(super) fn new() -> Self {
            Self {
                word: AtomicU64::new(Word::CLOSED.0),
                extra: OnceLock::new(),
                changed_ms: AtomicU64::new(0),
                key: None,
                #[cfg(feature = "fleet")]
                lease: std::sync::atomic::AtomicBool::new(false),
                #[cfg(feature = "fleet")]
                wanted: std::sync::atomic::AtomicBool::new(false),
            }
        }
    }

    #[inline]
    pub(super) fn load(&self, order: Ordering) -> Word {
        Word(self.word.load(order))
    }

    /// Notes a change of tag: its time for snapshots, and an event (a no-op by default).
    /// Relaxed: a snapshot may pair a new state with the previous change's time for a moment.
    /// A `shared` breaker also tells the fleet (`fleet.rs`).
    fn announce(&self, config: &BreakerConfig, (from, to): (Word, Word), now: Duration) {
        self.note(config, (from, to), now);
        #[cfg(feature = "fleet")]
        if config.fleet {
            self.tell_fleet(config, (from, to));
        }
    }

    /// Notes a change of tag for snapshots and events, and nothing more: a change the fleet
    /// itself caused is not sent back to it.
    pub(super) fn note(&self, config: &BreakerConfig, (from, to): (Word, Word), now: Duration) {
        let now_ms = u64::try_from(now.as_millis()).unwrap_or(u64::MAX);
        self.changed_ms.store(now_ms, Ordering::Relaxed);
        events::transition(
            config.name.get(),
            self.key.as_deref(),
            from.tag().state(),
            to.tag().state(),
        );
    }

    /// How long since the tag last changed (or since the epoch, if it never did).
    pub(super) fn in_state(&self, now: Duration) -> Duration {
        now.saturating_sub(Duration::from_millis(
            self.changed_ms.load(Ordering::Relaxed),
        ))
    }

    pub(super) fn state(&self, now: impl Fn() -> Duration) -> BreakerState {
        let word = self.load(Ordering::Relaxed);
        match word.tag() {
            Tag::Closed => BreakerState::Closed,
            Tag::Open if is_over(word.payload(), now()) => BreakerState::HalfOpen,
            Tag::Open => BreakerState::Open,
            Tag::HalfOpen => BreakerState::HalfOpen,
            Tag::ForcedOpen => BreakerState::ForcedOpen,
            Tag::ForcedClosed => BreakerState::ForcedClosed,
        }
    }

    /// The open period of the breaker's latest opening, backoff included (`open_for * 2^level`,
    /// capped); `open_for` while closed.
    pub(super) fn open_period(&self, config: &BreakerConfig) -> Duration {
        let word = self.load(Ordering::Relaxed);
        config.open_period(word.level())
    }

    /// Admits a call, returning the word it is admitted under.
    pub(super) fn acquire(
        &self,
        config: &BreakerConfig,
        now: impl Fn() -> Duration,
    ) -> Result<Word, Refusal> {
        let mut now = Now::new(now);
        // Acquire (here and on a failed CAS): a half-open word read here happens-after the
        // takeover deadlines written for the admissions it counts (module docs, "Memory
        // ordering").
        let mut current = self.load(Ordering::Acquire);
        loop {
            let next = match current.tag() {
                // The hot path: no write. A closed permit needs nothing reserved.
                Tag::Closed | Tag::ForcedClosed => return Ok(current),
                Tag::ForcedOpen => return Err(Refusal::Forced),
                Tag::Open => {
                    let deadline = current.payload();
                    let elapsed = now.get();
                    if !is_over(deadline, elapsed) {
                        let retry_after = Duration::from_millis(deadline).saturating_sub(elapsed);
                        return Err(Refusal::Open { retry_after });
                    }
                    // A linked fleet admits trials only in the replica holding its lease.
                    #[cfg(feature = "fleet")]
                    if config.fleet && !self.may_trial() {
                        return Err(Refusal::Busy);
                    }
                    // This caller is the first trial of a new half-open phase.
                    current.next(Tag::HalfOpen, Word::trials(1, 0))
                }
                Tag::HalfOpen => {
                    let admitted = current.admitted();
                    if admitted < config.trials() {
                        current.with_payload(Word::trials(admitted + 1, current.succeeded()))
                    } else if is_over(self.takeover(config).load(Ordering::Relaxed), now.get()) {
                        // Every place is held by a trial admitted at least an open period
                        // ago: they lose their places, and this caller is the first trial of
                        // a new half-open phase, whose generation makes theirs stale.
                        current.next(Tag::HalfOpen, Word::trials(1, 0))
                    } else {
                        return Err(Refusal::Busy);
                    }
                }
            };
            // Before the CAS that admits this trial, so whoever reads a word counting it reads
            // this deadline too (or a later one). Kept even if the CAS fails: a deadline too
            // late only delays a takeover.
            self.takeover(config)
                .fetch_max(deadline_ms(now.get(), config.open_for()), Ordering::Relaxed);
            // Strong: a spurious failure would meet the deadline just written and turn a
            // takeover into a rejection.
            match self.word.compare_exchange(
                current.0,
                next.0,
                Ordering::Release,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    if current.tag() != next.tag() {
                        self.announce(config, (current, next), now.get());
                    }
                    return Ok(next);
                }
                Err(actual) => current = Word(actual),
            }
        }
    }

    /// The count window's hot path, inline: whether a fast success admitted in the closed
    /// phase of `permit` is absorbed, the word still being that phase and absorbing
    /// (`window.rs`, "The hot path"). One relaxed load: the ring is not read.
    #[inline]
    pub(super) fn absorbs(&self, permit: Word) -> bool {
        permit.tag() == Tag::Closed
            && self.load(Ordering::Relaxed) == permit.with_payload(ABSORBING)
    }

    /// After a fast success was written to a ring that now holds a full window and no failure
    /// or slow bit: marks the phase absorbing, then reads the ring again and takes the mark
    /// back if an outcome's bit appeared meanwhile (`window.rs`, "Starting and stopping").
    fn start_absorbing(&self, permit: Word, ring: &Ring<'_>, window: u32) {
        let closed = permit.with_payload(0);
        // Acquire: pairs with the Release of `stop_absorbing`'s read-modify-write.
        if self
            .word
            .compare_exchange(
                closed.0,
                closed.with_payload(ABSORBING).0,
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .is_ok()
            && !ring.all_successes(window)
        {
            self.stop_absorbing();
        }
    }

    /// After a failure's or a slow call's bit was written: the ring no longer absorbs, in
    /// whatever closed phase the word is now (an outcome of the previous phase may have
    /// landed in this ring). A read-modify-write, never a plain load, so it reads the latest
    /// word and, Release, publishes the bit to whoever marks the phase absorbing next.
    fn stop_absorbing(&self) {
        let mut current = Word(self.word.fetch_add(0, Ordering::Release));
        while current.tag() == Tag::Closed && current.payload() == ABSORBING {
            match self.word.compare_exchange_weak(
                current.0,
                current.with_payload(0).0,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(actual) => current = Word(actual),
            }
        }
    }

    /// Records the outcome of a call admitted under `permit`; `slow`: it took longer than
    /// `slow_call`. A slow call is a failure, except to a failure-rate window, which counts
    /// slow calls apart from failures (an ignored or cancelled call is never slow).
    pub(super) fn record(
        &self,
        config: &BreakerConfig,
        permit: Word,
        verdict: Verdict,
        slow: bool,
        now: impl Fn() -> Duration,
    ) {
        let mut now = Now::new(now);
        let mut transition = None;
        let window = permit.tag() == Tag::Closed
            && matches!(
                config.policy,
                TripPolicy::FailureRate { .. } | TripPolicy::TimeWindow { .. }
            );
        let verdict = if slow && !window && verdict == Verdict::Success {
            Verdict::Failure
        } else {
            verdict
        };
        match (permit.tag(), config.policy) {
            (Tag::Closed, _) if verdict == Verdict::Release => {}
            (Tag::Closed, TripPolicy::Consecutive { threshold }) => {
                if verdict == Verdict::Success {
                    // Linearised at completion: resets whatever count of its phase it finds.
                    transition = self.update(permit, |current| {
                        (current.payload() != 0).then(|| current.with_payload(0))
                    });
                } else {
                    let threshold = u64::from(threshold.max(1));
                    transition = self.update(permit, |current| {
                        let failures = current.payload() + 1;
                        Some(if failures >= threshold {
                            // Closed has level 0: the first open period is `open_for`.
                            current.next(Tag::Open, deadline_ms(now.get(), config.open_for()))
                        } else {
                            current.with_payload(failures)
                        })
                    });
                }
            }
            (Tag::Closed, TripPolicy::FailureRate { .. }) => {
                let failed = verdict == Verdict::Failure;
                transition = self.record_in_ring(config, permit, (failed, slow), &mut now);
            }
            (Tag::Closed, TripPolicy::TimeWindow { .. }) => {
                let failed = verdict == Verdict::Failure;
                self.record_in_time(config, permit, (failed, slow), now.get());
            }
            (Tag::HalfOpen, _) => {
                transition = self.update(permit, |current| match verdict {
                    Verdict::Success => {
                        let succeeded = current.succeeded() + 1;
                        if succeeded >= config.trials() {
                            self.clear_ring(config);
                            // Closing resets the open-period backoff.
                            Some(current.next(Tag::Closed, 0).with_level(0))
                        } else {
                            Some(current.with_payload(Word::trials(current.admitted(), succeeded)))
                        }
                    }
                    Verdict::Failure => {
                        // Another failed trial: the open period doubles (up to the cap).
                        let level = (current.level() + 1).min(LEVEL_MAX);
                        let period = config.open_period(level);
                        Some(
                            current
                                .next(Tag::Open, deadline_ms(now.get(), period))
                                .with_level(level),
                        )
                    }
                    Verdict::Release => {
                        debug_assert!(current.admitted() > current.succeeded());
                        let admitted = current.admitted().saturating_sub(1);
                        Some(current.with_payload(Word::trials(admitted, current.succeeded())))
                    }
                });
            }
            // Forced closed records nothing; no other state issues permits.
            (Tag::ForcedClosed | Tag::Open | Tag::ForcedOpen, _) => {}
        }
        if let Some(change) = transition {
            self.announce(config, change, now.get());
        }
    }

    /// Records a closed permit's outcome in the count window's ring (`failed`, `slow`), and
    /// returns the transition to open if the window now says so.
    fn record_in_ring<F: Fn() -> Duration>(
        &self,
        config: &BreakerConfig,
        permit: Word,
        (failed, slow): (bool, bool),
        now: &mut Now<F>,
    ) -> Option<(Word, Word)> {
        let TripPolicy::FailureRate {
            failure_rate,
            window,
            min_calls,
        } = config.policy
        else {
            return None;
        };
        // Acquire: pairs with the Release of the transition into this generation, so the
        // ring's clear happens-before this outcome reads or writes it (module docs).
        let current = self.load(Ordering::Acquire);
        if current.phase() != permit.phase() {
            return None;
        }
        let window = window.max(1);
        // The hot path: a fast success absorbed by a window full of fast successes writes
        // nothing (`window.rs`, "The hot path").
        if !failed && !slow && current.payload() == ABSORBING {
            return None;
        }
        let ring = self.ring(config);
        let index = ring.push(window, failed, slow);
        if failed || slow {
            self.stop_absorbing();
        } else if ring.all_successes(window) {
            self.start_absorbing(permit, &ring, window);
        }
        // A failure (a slow call) can raise the failure (slow) rate. A fast success can only
        // lower both, except the one that brings the recorded count to `min_calls`: the rule
        // applies from then on, and a rate may already be reached (S F F S at 0.5 over 4
        // opens).
        let reaches_min_calls = index + 1 == u64::from(min_calls.clamp(1, window));
        let rates = Rates {
            failure: failure_rate,
            slow: config.slow_call_rate,
        };
        if (failed || slow || reaches_min_calls) && ring.trips(index, window, rates, min_calls) {
            self.update(permit, |current| {
                Some(current.next(Tag::Open, deadline_ms(now.get(), config.open_for())))
            })
        } else {
            None
        }
    }

    /// Records a closed permit's outcome in the time window (`failed`, `slow`) at `now`, and
    /// opens the breaker if the window now says so. A fast success that neither rotated its
    /// slot nor finds `pending` set returns after its one compare-and-swap: the time
    /// window's hot path (`time_window.rs`, "What a success costs").
    #[inline]
    pub(super) fn record_in_time(
        &self,
        config: &BreakerConfig,
        permit: Word,
        (failed, slow): (bool, bool),
        now: Duration,
    ) {
        // Acquire: as for the ring, the clear happens-before this outcome (module docs).
        if self.load(Ordering::Acquire).phase() != permit.phase() {
            return;
        }
        let buckets = self.buckets(config);
        let bucket = buckets.bucket(now);
        let rotated = buckets.record(bucket, failed, slow);
        // A fast success evaluates only after an expiry (it rotated its slot) or when an
        // evaluation asked for it (`time_window.rs`, "Who evaluates").
        if failed || slow || rotated || buckets.pending() {
            self.evaluate_time(config, permit, &buckets, bucket, now);
        }
    }

    /// Evaluates the time window at `bucket`, just after an outcome of `permit` was recorded
    /// there, and opens the breaker if it says so.
    #[inline(never)]
    fn evaluate_time(
        &self,
        config: &BreakerConfig,
        permit: Word,
        buckets: &Buckets<'_>,
        bucket: Bucket,
        now: Duration,
    ) {
        let TripPolicy::TimeWindow {
            failure_rate,
            min_calls,
            ..
        } = config.policy
        else {
            return;
        };
        let rates = Rates {
            failure: failure_rate,
            slow: config.slow_call_rate,
        };
        if buckets.trips(bucket, rates, min_calls) {
            let change = self.update(permit, |current| {
                Some(current.next(Tag::Open, deadline_ms(now, config.open_for())))
            });
            if let Some(change) = change {
                self.announce(config, change, now);
            }
        }
    }

    /// A CAS loop applying `f` while the word is still in `permit`'s phase; `f` returning
    /// `None` means there is nothing to write.
    /// Applies `f` while the word is still in the permit's phase; returns the change of tag
    /// it made, if any, for the caller to announce.
    fn update(
        &self,
        permit: Word,
        mut f: impl FnMut(Word) -> Option<Word>,
    ) -> Option<(Word, Word)> {
        let mut current = self.load(Ordering::Relaxed);
        loop {
            if current.phase() != permit.phase() {
                return None; // stale: a transition happened since the permit was admitted
            }
            let next = f(current)?;
            // Release when entering a new closed generation: publishes the ring's clear.
            let order = if next.tag() == Tag::Closed && next.phase() != current.phase() {
                Ordering::Release
            } else {
                Ordering::Relaxed
            };
            match self
                .word
                .compare_exchange_weak(current.0, next.0, order, Ordering::Relaxed)
            {
                Ok(_) => return (current.tag() != next.tag()).then_some((current, next)),
                Err(actual) => current = Word(actual),
            }
        }
    }

    /// Moves to `tag` in a new generation, whatever the current state.
    #[cfg(feature = "fleet")]
    pub(super) fn clear_window(&self, config: &BreakerConfig) {
        if !matches!(config.policy, TripPolicy::Consecutive { .. }) {
            self.clear_ring(config);
        }
    }

    /// A CAS loop for the fleet's changes (`fleet.rs`): applies `f` to the current word until
    /// it says there is nothing to do or its word is written; returns the change.
    #[cfg(feature = "fleet")]
    pub(super) fn swap_with(
        &self,
        mut f: impl FnMut(Word) -> Option<Word>,
    ) -> Option<(Word, Word)> {
        let mut current = self.load(Ordering::Acquire);
        loop {
            let next = f(current)?;
            match self
                .word
                .compare_exchange(current.0, next.0, Ordering::SeqCst, Ordering::Acquire)
            {
                Ok(_) => return Some((current, next)),
                Err(actual) => current = Word(actual),
            }
        }
    }
    pub(super) fn force(&self, config: &BreakerConfig, tag: Tag, now: impl Fn() -> Duration) {
        if tag == Tag::Closed && !matches!(config.policy, TripPolicy::Consecutive { .. }) {
            self.clear_ring(config);
        }
        let mut current = self.load(Ordering::SeqCst);
        loop {
            let next = current.next(tag, 0).with_level(0);
            match self.word.compare_exchange_weak(
                current.0,
                next.0,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => {
                    // A manual control changes this replica only (`fleet.rs`).
                    #[cfg(feature = "fleet")]
                    if config.fleet {
                        self.end_phase(config, (current, next));
                    }
                    if current.tag() != next.tag() {
                        self.note(config, (current, next), now());
                    }
                    return;
                }
                Err(actual) => current = Word(actual),
            }
        }
    }

    /// The slow-path words, allocated at the first call that needs one: `[takeover]`, or
    /// under `FailureRate` `[takeover, position, failure bits..., slow bits...]`, the slow
    /// bits only with `slow_call`, and under `TimeWindow` `[takeover, span, hint, pending,
    /// calls..., failures..., slow...]` (`time_window.rs`; a clear keeps the span and hint).
    pub(super) fn extra(&self, config: &BreakerConfig) -> &[AtomicU64] {
        self.extra.get_or_init(|| {
            let ring = match config.policy {
                TripPolicy::Consecutive { .. } => 0,
                TripPolicy::FailureRate { window, .. } => {
                    let words = window.max(1).div_ceil(64) as usize;
                    let arrays = if config.slow_call_ns == 0 { 1 } else { 2 };
                    1 + arrays * words
                }
                TripPolicy::TimeWindow { buckets, .. } => {
                    time_window::words(buckets, config.slow_call_ns != 0)
                }
            };
            let words: Box<[AtomicU64]> = (0..=ring).map(|_| AtomicU64::new(0)).collect();
            if let TripPolicy::TimeWindow {
                window, buckets, ..
            } = config.policy
            {
                time_window::init(&words[1..], window, buckets);
            }
            words
        })
    }

    /// The half-open takeover deadline: milliseconds since the epoch, rounded up, at which
    /// the latest trial admitted will have run for an open period. Only ever raised.
    fn takeover(&self, config: &BreakerConfig) -> &AtomicU64 {
        &self.extra(config)[0]
    }

    /// The failure-rate ring (`FailureRate` only).
    pub(super) fn ring(&self, config: &BreakerConfig) -> Ring<'_> {
        Ring::new(&self.extra(config)[1..], Self::window_words(config))
    }

    /// The ring, if it was allocated (`FailureRate` only): for snapshots, which allocate nothing.
    pub(super) fn ring_if_any(&self, config: &BreakerConfig) -> Option<Ring<'_>> {
        let extra = self.extra.get()?;
        Some(Ring::new(&extra[1..], Self::window_words(config)))
    }

    /// Words per bit array of the ring.
    fn window_words(config: &BreakerConfig) -> usize {
        match config.policy {
            TripPolicy::FailureRate { window, .. } => window.max(1).div_ceil(64) as usize,
            TripPolicy::Consecutive { .. } | TripPolicy::TimeWindow { .. } => 0,
        }
    }

    /// The time window's buckets (`TimeWindow` only).
    #[inline]
    pub(super) fn buckets(&self, config: &BreakerConfig) -> Buckets<'_> {
        Self::buckets_in(self.extra(config), config)
    }

    /// The buckets, if they were allocated (`TimeWindow` only): for snapshots.
    pub(super) fn buckets_if_any(&self, config: &BreakerConfig) -> Option<Buckets<'_>> {
        Some(Self::buckets_in(self.extra.get()?, config))
    }

    #[inline]
    fn buckets_in<'a>(extra: &'a [AtomicU64], config: &BreakerConfig) -> Buckets<'a> {
        let TripPolicy::TimeWindow { buckets, .. } = config.policy else {
            unreachable!("only a time-window breaker has buckets")
        };
        Buckets::new(&extra[1..], buckets)
    }

    /// Empties the failure-rate ring, if it exists. The takeover deadline stays: a trial
    /// admitted in a race with the transition that clears the ring must keep its place.
    fn clear_ring(&self, config: &BreakerConfig) {
        // The time window's span and hint are not outcomes: they stay.
        let kept = match config.policy {
            TripPolicy::TimeWindow { .. } => 1 + time_window::KEPT,
            TripPolicy::Consecutive { .. } | TripPolicy::FailureRate { .. } => 1,
        };
        if let Some(extra) = self.extra.get() {
            for slot in extra.get(kept..).unwrap_or_default() {
                // A swap, not a store: the same effect here, and loom (tokio-rs/loom#254) can
                // let a plain store land inside a concurrent read-modify-write, an execution
                // no hardware produces, which would fail the model of a clear racing the
                // position's step back.
                slot.swap(0, Ordering::Relaxed);
            }
        }
    }
}

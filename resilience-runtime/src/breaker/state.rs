//! The state word: its bit layout, packing and unpacking, and generations.
//!
//! # One state word
//!
//! The whole state machine lives in one `AtomicU64`, updated by compare-and-swap loops (beside
//! it, only a half-open takeover deadline, `machine.rs`, "Hung trials", and the failure-rate
//! ring, `window.rs`):
//!
//! ```text
//!  63                                   24 23        19 18                3 2      0
//! ┌──────────────────────────────────────┬────────────┬───────────────────┬────────┐
//! │            payload (40 bits)         │ level (5)  │ generation (16)   │ tag (3)│
//! └──────────────────────────────────────┴────────────┴───────────────────┴────────┘
//!
//! tag           payload
//! 0 Closed        consecutive failures (Consecutive policy); under FailureRate, 1 while the
//!                 ring absorbs successes (`window.rs`, "The hot path"), else 0
//! 1 Open          deadline: milliseconds since the breaker's epoch, rounded up
//! 2 HalfOpen      bits 0..20: trials admitted (and not given back)
//!                 bits 20..40: trials succeeded
//! 3 ForcedOpen    0
//! 4 ForcedClosed  0
//! ```
//!
//! The *level* is the open-period backoff (`timeout_max`): how many half-open phases in a row
//! ended with a failed trial, so the open period is `open_for * 2^level`, capped at
//! `open_for_max`. It is 0 while closed or forced, set by the transition from a failed trial
//! to open (one more than the half-open phase's), and carried unchanged from open to
//! half-open and through a takeover. Keeping it in the word rather than beside it means the
//! transition that opens the breaker and the period it opens for are one compare-and-swap,
//! so no interleaving can pair a phase with another phase's level. It saturates at 31
//! doublings (2^31 open periods: 24 days for a 1 ms `timeout`).
//!
//! The all-zero word is "closed, generation 0, level 0, no failures", so a breaker is a
//! `static` with no initialisation. Limits that follow from the layout: a deadline saturates
//! at 2^40 - 1 ms (34 years); `half_open` is capped at 2^20 - 1 trials (the macro accepts far
//! fewer).
//!
//! # Generations
//!
//! Every change of phase (any change of tag, a reset, a takeover) increments the generation.
//! A permit remembers the word it was admitted under, and its outcome is applied only if the
//! current word still has the same generation and tag. So a slow call admitted while closed
//! that finishes after the breaker opened and went half-open cannot decide the trial, a trial
//! admitted before a failed trial reopened the breaker cannot close it, and a hung trial
//! whose place was taken over (a new half-open generation) decides nothing. The generation
//! wraps after 2^16 phase changes (it gave 5 of its former 21 bits to the level); a permit
//! would have to stay in flight across exactly a multiple of 65 536 changes, with the
//! breaker back in the same state and level, to be mistaken for a current one, and then one
//! outcome would be counted in the wrong phase.

use std::fmt;

use super::BreakerState;

const TAG_BITS: u32 = 3;
const GEN_BITS: u32 = 16;
const GEN_SHIFT: u32 = TAG_BITS;
const LEVEL_BITS: u32 = 5;
const LEVEL_SHIFT: u32 = TAG_BITS + GEN_BITS;
/// The largest open-period level: 31 doublings.
pub(super) const LEVEL_MAX: u32 = (1 << LEVEL_BITS) - 1;
const PAYLOAD_SHIFT: u32 = TAG_BITS + GEN_BITS + LEVEL_BITS;
const TAG_MASK: u64 = (1 << TAG_BITS) - 1;
pub(super) const GEN_MASK: u64 = (1 << GEN_BITS) - 1;
/// The low bits of the word that identify a phase: tag, generation and level (the level is
/// constant within a phase).
const PHASE_MASK: u64 = (1 << PAYLOAD_SHIFT) - 1;
/// The largest payload: an open deadline saturates here.
pub(super) const PAYLOAD_MAX: u64 = (1 << (64 - PAYLOAD_SHIFT)) - 1;
const TRIAL_BITS: u32 = 20;
/// A closed `FailureRate` word's payload while its ring absorbs successes: the ring holds a
/// full window and no failure or slow bit (`window.rs`, "The hot path").
pub(super) const ABSORBING: u64 = 1;
/// The largest half-open trial count.
pub(super) const TRIALS_MAX: u64 = (1 << TRIAL_BITS) - 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tag {
    Closed = 0,
    Open = 1,
    HalfOpen = 2,
    ForcedOpen = 3,
    ForcedClosed = 4,
}

impl Tag {
    /// The state this tag stands for, as the word says it (an open breaker whose period is
    /// over is still `Open` here; [`CircuitBreaker::state`] reads the clock too).
    ///
    /// [`CircuitBreaker::state`]: super::CircuitBreaker::state
    pub(super) fn state(self) -> BreakerState {
        match self {
            Tag::Closed => BreakerState::Closed,
            Tag::Open => BreakerState::Open,
            Tag::HalfOpen => BreakerState::HalfOpen,
            Tag::ForcedOpen => BreakerState::ForcedOpen,
            Tag::ForcedClosed => BreakerState::ForcedClosed,
        }
    }
}

/// One value of the state word; see the module docs for the layout.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct Word(pub(super) u64);

impl Word {
    pub(super) const CLOSED: Self = Self(0);

    pub(super) fn new(tag: Tag, gen: u64, payload: u64) -> Self {
        debug_assert!(payload <= PAYLOAD_MAX);
        Self(tag as u64 | (gen & GEN_MASK) << GEN_SHIFT | payload << PAYLOAD_SHIFT)
    }

    pub(super) fn tag(self) -> Tag {
        match self.0 & TAG_MASK {
            0 => Tag::Closed,
            1 => Tag::Open,
            2 => Tag::HalfOpen,
            3 => Tag::ForcedOpen,
            _ => Tag::ForcedClosed,
        }
    }

    pub(super) fn gen(self) -> u32 {
        // Masked to GEN_BITS (21) bits, so the cast is lossless.
        #[allow(clippy::cast_possible_truncation)]
        let gen = ((self.0 >> GEN_SHIFT) & GEN_MASK) as u32;
        gen
    }

    /// The open-period level (module docs).
    pub(super) fn level(self) -> u32 {
        // Masked to LEVEL_BITS (5) bits, so the cast is lossless.
        #[allow(clippy::cast_possible_truncation)]
        let level = ((self.0 >> LEVEL_SHIFT) & u64::from(LEVEL_MAX)) as u32;
        level
    }

    /// This word with another level.
    pub(super) fn with_level(self, level: u32) -> Self {
        let level = u64::from(level.min(LEVEL_MAX));
        Self(self.0 & !(u64::from(LEVEL_MAX) << LEVEL_SHIFT) | level << LEVEL_SHIFT)
    }

    pub(super) fn phase(self) -> u64 {
        self.0 & PHASE_MASK
    }

    pub(super) fn payload(self) -> u64 {
        self.0 >> PAYLOAD_SHIFT
    }

    /// The first word of the next phase, at the same level.
    pub(super) fn next(self, tag: Tag, payload: u64) -> Self {
        Self::new(tag, u64::from(self.gen()) + 1, payload).with_level(self.level())
    }

    /// This phase with a new payload.
    pub(super) fn with_payload(self, payload: u64) -> Self {
        debug_assert!(payload <= PAYLOAD_MAX);
        Self(self.phase() | payload << PAYLOAD_SHIFT)
    }

    /// Half-open: trials admitted and not given back.
    pub(super) fn admitted(self) -> u64 {
        self.payload() & TRIALS_MAX
    }

    /// Half-open: trials that succeeded.
    pub(super) fn succeeded(self) -> u64 {
        self.payload() >> TRIAL_BITS
    }

    pub(super) fn trials(admitted: u64, succeeded: u64) -> u64 {
        debug_assert!(succeeded <= admitted && admitted <= TRIALS_MAX);
        admitted | succeeded << TRIAL_BITS
    }
}

impl fmt::Debug for Word {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?}#{}^{}({})",
            self.tag(),
            self.gen(),
            self.level(),
            self.payload()
        )
    }
}

//! Time: the breaker's epoch, deadlines in whole milliseconds, and the lazily read clock.
//!
//! The clock is [`tokio::time::Instant::now`] (so a paused test clock drives it), read only
//! when opening, when a call or [`CircuitBreaker::state`] meets an open breaker, and when a
//! call is admitted as a trial or finds every trial place taken. Deadlines are milliseconds
//! since a per-breaker epoch, taken the first time the clock is needed
//! (a `OnceLock`, so the zero-initialised `static` needs no clock). A deadline is `open_for`
//! after the moment of opening, rounded *up* to a whole millisecond, and the open period ends
//! when the elapsed time rounded *down* reaches it, so it is never shorter than `open_for`.
//! The state machine itself (`Core`) takes the elapsed time as a lazily called function and
//! knows nothing of tokio; the epoch and the clock are [`crate::clock::Clock`]'s, a settable
//! counter under `--cfg loom`.
//!
//! The epoch's memory ordering is [`crate::clock`]'s.
//!
//! # Slow calls
//!
//! With `slow_call` set, a call is timed: the clock is read when it is admitted (closed or as
//! a half-open trial) and when it is settled, and nowhere else for it; without `slow_call`
//! neither reading happens. The start rides in the permit's copy of the state word, in place
//! of the payload it was admitted under, which nothing reads after admission (outcomes are
//! applied by phase, `state.rs`, "Generations", and to the *current* payload), so a permit,
//! and the future of [`CircuitBreaker::run`], are no larger than without slow calls. The
//! payload's 40 bits hold the start in whole microseconds since the epoch, modulo 2^40 (12.7
//! days); the duration is the wrapping difference, exact for any call shorter than that.
//!
//! Both readings are rounded down to a microsecond, so a call of `d` measures between
//! `floor(d)` and `ceil(d)` microseconds, and it is slow when it measures more than
//! `slow_call` rounded up to a microsecond: a call is never slow at or under `slow_call`, and
//! always slow 2 µs over it (1 ms over, in the tests).
//!
//! [`CircuitBreaker::run`]: super::CircuitBreaker::run
//!
//! [`CircuitBreaker::state`]: super::CircuitBreaker::state

use std::time::Duration;

use super::state::PAYLOAD_MAX;

/// A deadline `open_for` after `elapsed`, in whole milliseconds rounded up.
pub(super) fn deadline_ms(elapsed: Duration, open_for: Duration) -> u64 {
    let end = elapsed
        .saturating_add(open_for)
        .as_nanos()
        .div_ceil(1_000_000);
    u64::try_from(end).map_or(PAYLOAD_MAX, |ms| ms.min(PAYLOAD_MAX))
}

/// Whether an open period ending at `deadline` (ms) is over at `elapsed`.
pub(super) fn is_over(deadline: u64, elapsed: Duration) -> bool {
    elapsed.as_millis() >= u128::from(deadline)
}
/// The start of a timed call at `elapsed`, as a permit's payload (module docs, "Slow calls").
pub(super) fn start_stamp(elapsed: Duration) -> u64 {
    // Truncated to 64 bits, then to the payload's 40: the stamp is modulo 2^40 anyway.
    #[allow(clippy::cast_possible_truncation)]
    let micros = elapsed.as_micros() as u64;
    micros & PAYLOAD_MAX
}

/// Whether a call stamped `start` and settled at `elapsed` took longer than `slow_call_ns`.
pub(super) fn is_slow(start: u64, elapsed: Duration, slow_call_ns: u64) -> bool {
    let taken = start_stamp(elapsed).wrapping_sub(start) & PAYLOAD_MAX;
    taken > slow_call_ns.div_ceil(1_000)
}

/// A lazily read clock: at most one reading per operation.
pub(super) struct Now<F> {
    read: F,
    cached: Option<Duration>,
}

impl<F: Fn() -> Duration> Now<F> {
    pub(super) fn new(read: F) -> Self {
        Self { read, cached: None }
    }

    pub(super) fn get(&mut self) -> Duration {
        *self.cached.get_or_insert_with(&self.read)
    }
}

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

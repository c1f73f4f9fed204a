//! Elapsed time since a per-instance epoch, on tokio's clock.
//!
//! The breaker and the retry budget measure time from an epoch of their own, taken the first
//! time the instance needs the clock (a `OnceLock`, so a zero-initialised `static` needs no
//! clock). Readings go through [`tokio::time::Instant::now`], so a paused test clock drives
//! them. Under `--cfg loom` the clock is a counter the models set, so executions are
//! deterministic.
//!
//! # Memory ordering
//!
//! The epoch is a `OnceLock`, which synchronises itself: whichever thread initialises it,
//! every reader gets the one value, so a time written relative to it means the same to every
//! thread whatever ordering the word holding it was read with.

#[cfg(not(loom))]
use std::sync::OnceLock;
use std::time::Duration;

/// Elapsed time since a per-instance epoch, taken on first need.
#[cfg(not(loom))]
#[derive(Debug)]
pub(crate) struct Clock {
    epoch: OnceLock<tokio::time::Instant>,
}

#[cfg(not(loom))]
impl Clock {
    pub(crate) const fn new() -> Self {
        Self {
            epoch: OnceLock::new(),
        }
    }

    pub(crate) fn elapsed(&self) -> Duration {
        self.elapsed_at(tokio::time::Instant::now())
    }

    /// The time since the epoch at `now`, a reading the caller already took.
    pub(crate) fn elapsed_at(&self, now: tokio::time::Instant) -> Duration {
        let epoch = *self.epoch.get_or_init(|| now);
        now.saturating_duration_since(epoch)
    }
}

/// Under loom: a counter the model sets, so executions are deterministic.
#[cfg(loom)]
#[derive(Debug)]
pub(crate) struct Clock {
    now_ms: std::sync::atomic::AtomicU64,
}

#[cfg(loom)]
impl Clock {
    pub(crate) fn new() -> Self {
        Self {
            now_ms: std::sync::atomic::AtomicU64::new(0),
        }
    }

    pub(crate) fn elapsed(&self) -> Duration {
        Duration::from_millis(self.now_ms.load(std::sync::atomic::Ordering::SeqCst))
    }

    /// The model's time: a reading taken elsewhere does not apply.
    pub(crate) fn elapsed_at(&self, _now: tokio::time::Instant) -> Duration {
        self.elapsed()
    }

    /// Sets the time: milliseconds since the instance's epoch (for the loom models).
    #[cfg(test)]
    pub(crate) fn set_now_ms(&self, ms: u64) {
        self.now_ms.store(ms, std::sync::atomic::Ordering::SeqCst);
    }
}

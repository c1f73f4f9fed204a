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

/// Whole nanoseconds in `d`, saturating at `u64::MAX` (about 584 years): exactly
/// `u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)`, in 64-bit arithmetic. `as_nanos`
/// multiplies in 128 bits, which costs several times more on the hot paths that read the
/// clock (the time window's bucket of every outcome).
#[inline]
pub(crate) fn nanos(d: Duration) -> u64 {
    d.as_secs()
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::from(d.subsec_nanos()))
}

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

#[cfg(test)]
mod tests {
    use super::nanos;
    use std::time::Duration;

    /// The 64-bit sum is the 128-bit product, saturated, at every edge of the range.
    #[test]
    fn nanos_is_as_nanos_saturated() {
        let max_secs = u64::MAX / 1_000_000_000;
        let cases = [
            Duration::ZERO,
            Duration::from_nanos(1),
            Duration::new(1, 999_999_999),
            Duration::from_nanos(u64::MAX),
            Duration::from_nanos(u64::MAX - 1),
            Duration::new(max_secs, 0),
            Duration::new(max_secs, 999_999_999),
            Duration::new(max_secs + 1, 0),
            Duration::new(u64::MAX, 999_999_999),
            Duration::MAX,
        ];
        for d in cases {
            let exact = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
            assert_eq!(nanos(d), exact, "{d:?}");
        }
        assert_eq!(nanos(Duration::from_nanos(u64::MAX)), u64::MAX);
        assert_eq!(nanos(Duration::new(max_secs + 1, 0)), u64::MAX);
    }
}

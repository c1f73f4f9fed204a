//! An entry's count of calls in flight, and the two marks that share its word: what decides
//! between a call entering a key's instance and an eviction removing it.
//!
//! A call enters with one increment. If the word carried `EVICTED`, an eviction got there
//! first: the call gives the increment back and looks the key up again under the site's lock
//! (the entry it saw is still readable: the map frees a removed entry only once no lookup's
//! guard can see it). Otherwise the call holds the entry until it gives its count back, its
//! last touch of the entry. An eviction swaps the word from exactly 0 to `EVICTED`, so it
//! fails while any call is in flight or the entry is `PINNED` (a `monitor` lookup handed the
//! instance out for good). The increments and the swap are read-modify-writes of one word,
//! so every call and the eviction are ordered: a call either entered first (the swap fails)
//! or sees the mark. The call's release and the swap's acquire order everything the call did
//! with the instance before its removal. `loom.rs` model-checks this.

use crate::sync::{AtomicU64, Ordering};

/// The entry is being evicted: enter through the lock.
const EVICTED: u64 = 1 << 63;
/// A `monitor` lookup handed the instance out as `&'static`: never evicted.
const PINNED: u64 = 1 << 62;

/// The count of calls in flight of one entry, or'ed with [`EVICTED`] and [`PINNED`].
pub(super) struct Uses(AtomicU64);

impl Uses {
    /// A count of `calls` in flight.
    pub(super) fn new(calls: u64) -> Self {
        Self(AtomicU64::new(calls))
    }

    /// Enters the entry for a call, unless it is being evicted.
    #[inline]
    pub(super) fn enter(&self) -> bool {
        if self.0.fetch_add(1, Ordering::Relaxed) & EVICTED != 0 {
            self.0.fetch_sub(1, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// Gives a call's count back: its last touch of the entry, which an eviction may free
    /// from now on.
    #[inline]
    pub(super) fn leave(&self) {
        self.0.fetch_sub(1, Ordering::Release);
    }

    /// Whether nothing holds the entry: no call in flight, not pinned.
    pub(super) fn is_unused(&self) -> bool {
        self.0.load(Ordering::Relaxed) == 0
    }

    /// Marks the entry evicted if nothing holds it; no call enters it after this.
    pub(super) fn try_evict(&self) -> bool {
        self.0
            .compare_exchange(0, EVICTED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// Takes an eviction's mark back: the eviction found the instance busy after all.
    pub(super) fn unevict(&self) {
        self.0.fetch_and(!EVICTED, Ordering::Relaxed);
    }

    /// Keeps the entry resident for good. Under the site's lock, where no entry is marked.
    pub(super) fn pin(&self) {
        self.0.fetch_or(PINNED, Ordering::Relaxed);
    }
}

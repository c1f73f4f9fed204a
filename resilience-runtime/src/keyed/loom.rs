//! Model checks of an entry's count of calls in flight (`uses.rs`): calls entering an
//! instance race its eviction, and whichever wins, no call uses an instance the eviction went
//! on to free, and no call backs out but for an eviction.
//!
//! Run with the runtime's other models (`breaker/loom.rs`):
//!
//! ```text
//! RUSTFLAGS="--cfg loom" cargo test -p resilience-runtime --release --lib
//! ```
//!
//! The map is not modelled: `papaya` is not built on loom's atomics. The instance stands in as
//! a plain cell the eviction overwrites where the map would free it, so loom reports any read
//! of it that the eviction does not happen after, or before.

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;

use super::uses::Uses;

/// An entry: its count, and its instance (1 while alive, 0 once freed).
struct Slot {
    uses: Uses,
    instance: UnsafeCell<u64>,
}

/// A call: enters, reads the instance, leaves. Whether it entered.
fn call(slot: &Slot) -> bool {
    if !slot.uses.enter() {
        return false;
    }
    // SAFETY: loom checks that no write of the cell races this read.
    let alive = slot.instance.with(|instance| unsafe { *instance });
    assert_eq!(alive, 1, "a call used a freed instance");
    slot.uses.leave();
    true
}

/// Runs `calls` calls on their own threads against one eviction on this one.
fn race(calls: usize) {
    loom::model(move || {
        let slot = Arc::new(Slot {
            uses: Uses::new(0),
            instance: UnsafeCell::new(1),
        });
        let threads: Vec<_> = (0..calls)
            .map(|_| {
                let slot = Arc::clone(&slot);
                thread::spawn(move || call(&slot))
            })
            .collect();
        let evicted = slot.uses.try_evict();
        if evicted {
            // SAFETY: loom checks that no read of the cell races this write.
            slot.instance.with_mut(|instance| unsafe { *instance = 0 });
        }
        for thread in threads {
            let entered = thread.join().expect("no call panics");
            assert!(entered || evicted, "a call backed out with no eviction");
        }
    });
}

#[test]
fn a_call_racing_an_eviction_never_uses_the_freed_instance() {
    race(1);
}

#[test]
fn two_calls_racing_an_eviction_never_use_the_freed_instance() {
    race(2);
}

#[test]
fn a_pinned_entry_is_never_evicted() {
    loom::model(|| {
        let uses = Uses::new(0);
        uses.pin();
        assert!(!uses.is_unused());
        assert!(!uses.try_evict());
    });
}

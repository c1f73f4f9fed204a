//! Model checks of the acquire path: callers racing for permits, and an undo racing a new
//! reservation.
//!
//! Run with:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" cargo test -p resilience-runtime --release --lib rate_limit
//! ```
//!
//! The models drive the state word with plain numbers for the time (`gcra.rs` knows nothing
//! of the clock), so every interleaving of the compare-and-swaps is explored with every
//! thread asking at the same moment, the hardest case. Each asserts what GCRA promises: no
//! more than `burst` permits due at once, every permit at its own time, `interval` apart, and
//! a state word that accounts for exactly the permits given.

use loom::sync::Arc;
use loom::thread;

use super::gcra::{Decision, Gcra, Reserved, Schedule};

/// One permit every 100 ns.
fn schedule(burst: u32) -> Schedule {
    Schedule::new(10, 1_000, burst)
}

/// When each decision's permit is due; `None` for a refusal.
fn due(decision: Decision) -> Option<u64> {
    match decision {
        Decision::Now => Some(0),
        Decision::Later(Reserved { at, .. }) => Some(at),
        Decision::Refused { .. } => None,
    }
}

/// Three callers at the same moment, burst 2, waiting allowed: two permits now, the third
/// reserved one interval later, and the word at three intervals.
#[test]
fn three_callers_burst_two() {
    loom::model(|| {
        let gcra = Arc::new(Gcra::new());
        let others: Vec<_> = (0..2)
            .map(|_| {
                let gcra = Arc::clone(&gcra);
                thread::spawn(move || gcra.acquire(0, schedule(2), None))
            })
            .collect();
        let mut times = vec![due(gcra.acquire(0, schedule(2), None))];
        times.extend(others.into_iter().map(|t| due(t.join().unwrap())));
        times.sort_unstable();
        assert_eq!(times, [Some(0), Some(0), Some(100)]);
        assert_eq!(gcra.tat(), 300);
    });
}

/// Two callers that may not wait, burst 1: exactly one gets the permit; the other is told to
/// come back in one interval and leaves the word as it was.
#[test]
fn two_callers_one_permit_no_waiting() {
    loom::model(|| {
        let gcra = Arc::new(Gcra::new());
        let other = {
            let gcra = Arc::clone(&gcra);
            thread::spawn(move || gcra.acquire(0, schedule(1), Some(0)))
        };
        let mine = gcra.acquire(0, schedule(1), Some(0));
        let theirs = other.join().unwrap();
        let mut decisions = [mine, theirs];
        decisions.sort_by_key(|d| matches!(d, Decision::Refused { .. }));
        assert_eq!(
            decisions,
            [Decision::Now, Decision::Refused { retry_after: 100 }]
        );
        assert_eq!(gcra.tat(), 100);
    });
}

/// A waiter gives up while another caller reserves. Either the undo lands first (the caller
/// gets the abandoned permit) or the reservation does (the undo fails and the abandoned permit
/// passes unused); never both, never neither.
#[test]
fn an_undo_races_a_new_reservation() {
    loom::model(|| {
        let gcra = Arc::new(Gcra::new());
        assert_eq!(gcra.acquire(0, schedule(1), None), Decision::Now);
        let Decision::Later(abandoned) = gcra.acquire(0, schedule(1), None) else {
            panic!("the second permit is reserved")
        };
        let undo = {
            let gcra = Arc::clone(&gcra);
            thread::spawn(move || gcra.undo(abandoned))
        };
        let Decision::Later(newcomer) = gcra.acquire(0, schedule(1), None) else {
            panic!("no permit is free at 0")
        };
        let undone = undo.join().unwrap();
        if undone {
            assert_eq!(
                newcomer.at, abandoned.at,
                "the newcomer got the abandoned permit"
            );
            assert_eq!(gcra.tat(), 200);
        } else {
            assert_eq!(
                newcomer.at,
                abandoned.at + 100,
                "queued behind the abandoned one"
            );
            assert_eq!(gcra.tat(), 300);
        }
    });
}

/// Two waiters give up at once, the older first in reservation order: only the newest can be
/// undone, unless the newest goes first, in which case both are.
#[test]
fn two_undos_race() {
    loom::model(|| {
        let gcra = Arc::new(Gcra::new());
        assert_eq!(gcra.acquire(0, schedule(1), None), Decision::Now);
        let (Decision::Later(older), Decision::Later(newer)) = (
            gcra.acquire(0, schedule(1), None),
            gcra.acquire(0, schedule(1), None),
        ) else {
            panic!("both reserved")
        };
        let other = {
            let gcra = Arc::clone(&gcra);
            thread::spawn(move || gcra.undo(older))
        };
        assert!(gcra.undo(newer), "nothing was reserved after the newest");
        let older_undone = other.join().unwrap();
        let expected = if older_undone { 100 } else { 200 };
        assert_eq!(gcra.tat(), expected);
    });
}

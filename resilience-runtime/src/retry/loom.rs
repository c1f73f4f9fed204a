//! Model checks of the retry budget: concurrent withdrawals, a deposit racing a withdrawal,
//! and two threads writing the mark of a new second.
//!
//! Run with:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" cargo test -p resilience-runtime --release --lib
//! ```
//!
//! Each model asserts the budget's promise: retries granted never exceed what the deposits
//! and the reserve allow over the window, however the atomics interleave.

use loom::sync::atomic::{AtomicU32, Ordering};
use loom::sync::Arc;
use loom::thread;

use super::budget::Budget;

/// Runs `withdraw` on two threads and returns how many were granted.
fn race(budget: &Arc<Budget>, share: f64, reserve: u32) -> u32 {
    let granted = Arc::new(AtomicU32::new(0));
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let budget = Arc::clone(budget);
            let granted = Arc::clone(&granted);
            thread::spawn(move || {
                if budget.withdraw(share, reserve) {
                    granted.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    granted.load(Ordering::SeqCst)
}

#[test]
fn two_failures_share_one_last_retry() {
    loom::model(|| {
        let budget = Arc::new(Budget::new());
        budget.deposit();
        budget.deposit();
        // 0.5 x 2 deposits: one retry for two threads.
        assert_eq!(race(&budget, 0.5, 0), 1);
    });
}

#[test]
fn a_new_second_marked_by_two_threads_still_grants_once() {
    loom::model(|| {
        let budget = Arc::new(Budget::new());
        for _ in 0..3 {
            budget.deposit();
        }
        assert!(budget.withdraw(1.0, 0));
        assert!(budget.withdraw(1.0, 0));
        // Second 1 has no mark yet: both threads may write it. The window still starts at
        // the epoch's mark, 3 deposits and 2 of them withdrawn: one retry left.
        budget.set_now_ms(1_500);
        assert_eq!(race(&budget, 1.0, 0), 1);
        assert!(!budget.withdraw(1.0, 0));
    });
}

#[test]
fn a_withdrawal_racing_a_deposit_never_overdraws() {
    loom::model(|| {
        let budget = Arc::new(Budget::new());
        let depositor = {
            let budget = Arc::clone(&budget);
            thread::spawn(move || budget.deposit())
        };
        // Granted only if the deposit is seen; never more retries than deposits.
        let granted = u64::from(budget.withdraw(1.0, 0));
        depositor.join().unwrap();
        let (withdrawn, deposited) = budget.usage();
        assert_eq!(withdrawn, granted);
        assert!(withdrawn <= deposited);
    });
}

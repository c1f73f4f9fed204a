//! The retry budget's window arithmetic, on a paused tokio clock, and its CAS under threads.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::advance;

use super::budget::Budget;

fn deposits(budget: &Budget, n: u32) {
    for _ in 0..n {
        budget.deposit();
    }
}

/// How many of `asked` withdrawals the budget grants.
fn grants(budget: &Budget, share: f64, reserve: u32, asked: u32) -> u32 {
    (0..asked)
        .map(|_| u32::from(budget.withdraw(share, reserve)))
        .sum()
}

#[tokio::test(start_paused = true)]
async fn the_reserve_alone_grants_ten_seconds_worth() {
    let budget = Budget::new();
    budget.start();
    assert_eq!(grants(&budget, 0.0, 2, 100), 20);
}

#[tokio::test(start_paused = true)]
async fn deposits_grant_their_share_floored() {
    let budget = Budget::new();
    budget.start();
    deposits(&budget, 19);
    assert_eq!(grants(&budget, 0.2, 0, 10), 3, "0.2 x 19 = 3.8");
    budget.deposit();
    assert_eq!(grants(&budget, 0.2, 0, 10), 1, "0.2 x 20 = 4");
    assert_eq!(budget.usage(), (4, 20));
}

#[tokio::test(start_paused = true)]
async fn withdrawals_expire_after_the_window() {
    let budget = Budget::new();
    budget.start();
    assert_eq!(grants(&budget, 0.0, 1, 100), 10);
    advance(Duration::from_secs(9)).await;
    assert_eq!(
        grants(&budget, 0.0, 1, 100),
        0,
        "9 s later: still in the window"
    );
    advance(Duration::from_secs(1)).await;
    assert_eq!(grants(&budget, 0.0, 1, 100), 10, "10 s later: out of it");
}

#[tokio::test(start_paused = true)]
async fn marked_seconds_slide_one_at_a_time() {
    let budget = Budget::new();
    budget.start();
    // One retry a second for ten seconds, each second marked by its decision.
    for _ in 0..10 {
        assert_eq!(grants(&budget, 0.0, 1, 1), 1);
        advance(Duration::from_secs(1)).await;
    }
    // At second 10 the window is seconds 1 to 10: second 0's retry has expired.
    assert_eq!(budget.usage().0, 9);
    assert_eq!(grants(&budget, 0.0, 1, 5), 1);
}

#[tokio::test(start_paused = true)]
async fn seconds_without_failures_count_at_the_average_rate() {
    let budget = Budget::new();
    budget.start();
    // 100 calls a second for 30 s, none failing: nothing marks a second.
    for _ in 0..30 {
        deposits(&budget, 100);
        advance(Duration::from_secs(1)).await;
    }
    // The first failure finds the last nine unmarked seconds estimated at 100 a second, and
    // its own second's mark taken now: 900 calls, 0.2 of which is 180 retries.
    let (withdrawn, deposited) = budget.usage();
    assert_eq!((withdrawn, deposited), (0, 900));
    assert_eq!(grants(&budget, 0.2, 0, 1_000), 180);
}

#[tokio::test(start_paused = true)]
async fn a_budget_never_started_counts_from_its_first_decision() {
    let budget = Budget::new();
    deposits(&budget, 50);
    // The epoch is now: the window holds every deposit so far.
    assert_eq!(grants(&budget, 0.1, 0, 10), 5);
}

#[test]
fn concurrent_failures_take_exactly_what_the_budget_holds() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    // The clock is paused inside the runtime, so every thread reads the same second.
    let _entered = runtime.enter();
    let budget = Arc::new(Budget::new());
    budget.start();
    deposits(&budget, 1_000);
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let budget = Arc::clone(&budget);
            let handle = runtime.handle().clone();
            std::thread::spawn(move || {
                let _entered = handle.enter();
                grants(&budget, 0.2, 5, 1_000)
            })
        })
        .collect();
    let granted: u32 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(granted, 200 + 50);
}

//! The fleet's local pieces, without Redis: a rate limit's pool and batch sizes, a retry
//! budget's grant, and what a `shared` limiter or budget decides while linked. The multi-process behaviour is the facade's
//! `tests/fleet` suite.

use std::time::Duration;

use super::budget::{grant, FleetCounts, Share};
use super::rate_limit::{Pool, Schedule, Take};
use super::test_set_linked;
use crate::{InstanceName, RateLimitConfig, RateLimiter, Rejected, RetryConfig, RetryPolicy};

fn config(rate: u32, per: Duration) -> RateLimitConfig {
    RateLimitConfig::new(InstanceName::given("quota"), rate)
        .with_per(per)
        .with_fleet()
}

#[test]
fn a_pool_gives_each_permit_once_then_asks_for_more() {
    let pool = Pool::new();
    assert!(
        matches!(pool.take(), Take::NeverLeased),
        "before the first lease"
    );
    pool.fill_for_test(2, 7_000);
    assert!(matches!(pool.take(), Take::Permit));
    assert!(matches!(pool.take(), Take::Permit));
    match pool.take() {
        Take::Empty { retry_after } => assert_eq!(retry_after, 7_000),
        _ => panic!("two permits leased, two taken"),
    }
    assert_eq!(
        pool.wanted_for_test(),
        1,
        "the refused caller is demand for the next batch"
    );
}

#[test]
fn a_batch_is_one_sync_period_of_the_rate_within_one_and_the_burst() {
    let sync = Duration::from_millis(100);
    // 50 a second: 5 per 100 ms; a lease lives a tenth of `per`, at least `sync`.
    let schedule = Schedule::new(&config(50, Duration::from_secs(1)), 20_000_000, sync);
    assert_eq!(schedule.max_batch_for_test(), 5);
    assert_eq!(schedule.max_age_for_test(), sync);
    // 5,000 an hour: less than one per period, so one at a time; a lease lives 6 minutes.
    let hourly = config(5000, Duration::from_secs(3600));
    let schedule = Schedule::new(&hourly, 720_000_000_000, sync);
    assert_eq!(schedule.max_batch_for_test(), 1);
    assert_eq!(schedule.max_age_for_test(), Duration::from_secs(360));
    // A million a second with a burst of 10: never more than the burst at once.
    let bursty = config(1_000_000, Duration::from_secs(1)).with_burst(10);
    assert_eq!(Schedule::new(&bursty, 1_000, sync).max_batch_for_test(), 10);
}

#[tokio::test(start_paused = true)]
async fn linked_a_shared_limiter_admits_only_with_leased_permits() {
    static LIMITER: RateLimiter = RateLimiter::new(
        RateLimitConfig::new(InstanceName::given("leased"), 1000)
            .with_max_wait(Duration::ZERO)
            .with_fleet(),
    );
    let _linked = test_set_linked();
    // Its first call, before any lease, is the local limiter's.
    assert!(LIMITER.try_acquire().is_ok());
    LIMITER.fleet_pool().fill_for_test(1, 3_000_000);
    let mut ran = 0;
    for _ in 0..3 {
        if LIMITER
            .run(async { Ok::<_, crate::Failure<()>>(()) })
            .await
            .is_ok()
        {
            ran += 1;
        }
    }
    assert_eq!(
        ran, 1,
        "one leased permit, one call, although the local burst is 1000"
    );
    match LIMITER.try_acquire() {
        Err(Rejected::RateLimited { retry_after, .. }) => {
            assert_eq!(retry_after, Duration::from_millis(3));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(LIMITER.fleet_pool().wanted_for_test(), 3);
}

fn counts(calls: u64, retries: u64, replicas: u64) -> FleetCounts {
    FleetCounts {
        calls,
        retries,
        replicas,
    }
}

#[test]
fn a_grant_is_a_part_of_what_the_fleet_has_left_with_one_reserve() {
    // 900 calls at 0.1 and one reserve of 10 a second: 190 over the window, 40 used.
    // An equal third of 900 calls: a third of the 150 left.
    assert_eq!(grant(counts(900, 40, 3), 300, 0.1, 10), 50);
    // The busiest replica gets its share of the calls...
    assert_eq!(grant(counts(900, 40, 3), 600, 0.1, 10), 100);
    // ...a quiet one at least `1 / n`, enough for its next failure.
    assert_eq!(grant(counts(900, 40, 3), 0, 0.1, 10), 50);
    // Rounded up, so a little left is never nothing for anyone.
    assert_eq!(grant(counts(0, 99, 3), 0, 0.1, 10), 1);
    // Spent (or overspent) is nothing.
    assert_eq!(grant(counts(900, 190, 3), 300, 0.1, 10), 0);
    assert_eq!(grant(counts(900, 250, 3), 300, 0.1, 10), 0);
}

#[test]
fn a_share_grants_each_retry_once_and_nothing_before_the_first_push() {
    let share = Share::new();
    assert_eq!(
        share.take(),
        None,
        "before the first push: the local budget decides"
    );
    share.set_grant_for_test(2);
    assert_eq!(share.take(), Some(true));
    assert_eq!(share.take(), Some(true));
    assert_eq!(share.take(), Some(false));
}

#[derive(Debug)]
struct Down;

impl From<Rejected> for Down {
    fn from(_: Rejected) -> Self {
        Down
    }
}

/// Retries `policy` grants to `n` failed calls (each asking for one retry).
fn retries_granted(policy: &RetryPolicy, n: usize) -> usize {
    let failed: Result<(), crate::Failure<Down>> = Err(crate::Failure::Error(Down));
    (0..n)
        .filter(|_| {
            let mut backoff = policy.backoff();
            policy
                .delay_after(&mut backoff, &failed, |_| true, |_| None)
                .is_some()
        })
        .count()
}

#[tokio::test(start_paused = true)]
async fn linked_a_shared_budget_retries_only_with_the_fleets_grant() {
    static SHARED: RetryPolicy =
        RetryPolicy::new(RetryConfig::new(InstanceName::given("fleet-budget")).with_fleet());
    let linked = test_set_linked();
    // Before the first push, the local budget (its reserve of 100) decides.
    assert_eq!(retries_granted(&SHARED, 5), 5);
    SHARED.fleet_budget().shared().0.set_grant_for_test(2);
    assert_eq!(
        retries_granted(&SHARED, 5),
        2,
        "two granted by the fleet, although the local reserve has 95 left"
    );
    drop(linked);
    // Unlinked, the local budget decides again: its own protection, unchanged.
    assert_eq!(retries_granted(&SHARED, 5), 5);
    assert_eq!(
        SHARED.budget_usage(),
        Some((12, 15)),
        "every retry counted locally"
    );
}

//! The fleet's local pieces, without Redis: a rate limit's pool and batch sizes, and what a
//! `shared` limiter decides while linked. The multi-process behaviour is the facade's
//! `tests/fleet` suite.

use std::time::Duration;

use super::rate_limit::{Pool, Schedule, Take};
use super::test_set_linked;
use crate::{InstanceName, RateLimitConfig, RateLimiter, Rejected};

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

use super::*;
use std::sync::{Arc, Mutex};
use tokio::time::Instant;

const MS: Duration = Duration::from_millis(1);

const fn limiter(rate: u32, burst: u32) -> RateLimitConfig {
    RateLimitConfig::new(InstanceName::given("test"), rate).with_burst(burst)
}

/// Milliseconds since `start`.
fn ms(start: Instant) -> u128 {
    start.elapsed().as_millis()
}

// ---------------------------------------------------------------------------------------------
// The word alone, with plain numbers.

const SCHEDULE: Schedule = Schedule::new(10, 1_000, 3); // one every 100 ns, 3 at once

#[test]
fn the_schedule_rounds_the_interval_up_and_never_to_zero() {
    assert_eq!(Schedule::new(3, 1_000_000_000, 1).interval, 333_333_334);
    assert_eq!(
        Schedule::new(1000, 10, 1).interval,
        1,
        "at least a nanosecond"
    );
    assert_eq!(SCHEDULE.tolerance, 200);
    assert_eq!(
        Schedule::new(1, u64::MAX, u32::MAX).tolerance,
        u64::MAX,
        "saturates"
    );
}

#[test]
fn a_burst_is_taken_at_once_then_permits_come_one_interval_apart() {
    let gcra = Gcra::new();
    for _ in 0..3 {
        assert_eq!(gcra.acquire(0, SCHEDULE, Some(0)), Decision::Now);
    }
    assert_eq!(
        gcra.acquire(0, SCHEDULE, Some(0)),
        Decision::Refused { retry_after: 100 }
    );
    assert_eq!(gcra.acquire(100, SCHEDULE, Some(0)), Decision::Now);
    assert_eq!(
        gcra.acquire(150, SCHEDULE, Some(0)),
        Decision::Refused { retry_after: 50 }
    );
    // A quiet period refills the burst, and no more.
    assert_eq!(gcra.available(10_000, SCHEDULE), 3);
}

#[test]
fn reservations_are_spaced_in_order_and_a_refusal_changes_nothing() {
    let gcra = Gcra::new();
    assert_eq!(
        gcra.acquire(0, Schedule::new(10, 1_000, 1), None),
        Decision::Now
    );
    let schedule = Schedule::new(10, 1_000, 1);
    let Decision::Later(first) = gcra.acquire(0, schedule, None) else {
        panic!("reserves")
    };
    let Decision::Later(second) = gcra.acquire(0, schedule, Some(200)) else {
        panic!("reserves")
    };
    assert_eq!((first.at, second.at), (100, 200));
    let before = gcra.tat();
    assert_eq!(
        gcra.acquire(0, schedule, Some(250)),
        Decision::Refused { retry_after: 300 }
    );
    assert_eq!(gcra.tat(), before, "refused: nothing taken");
}

#[test]
fn only_the_newest_reservation_is_undone() {
    let schedule = Schedule::new(10, 1_000, 1);
    let gcra = Gcra::new();
    assert_eq!(gcra.acquire(0, schedule, None), Decision::Now);
    let Decision::Later(a) = gcra.acquire(0, schedule, None) else {
        panic!()
    };
    let Decision::Later(b) = gcra.acquire(0, schedule, None) else {
        panic!()
    };
    assert!(!gcra.undo(a), "b was reserved after a");
    assert!(gcra.undo(b));
    // b's permit is free again: the next caller gets it.
    let Decision::Later(c) = gcra.acquire(0, schedule, None) else {
        panic!()
    };
    assert_eq!(c.at, b.at);
    // Undone newest first, every reservation goes.
    assert!(gcra.undo(c));
    assert!(gcra.undo(a));
    assert_eq!(
        gcra.acquire(0, schedule, Some(0)),
        Decision::Refused { retry_after: 100 }
    );
}

// ---------------------------------------------------------------------------------------------
// The limiter on tokio's paused clock.

#[tokio::test(start_paused = true)]
async fn permits_come_exactly_at_their_times() {
    static L: RateLimiter =
        RateLimiter::new(RateLimitConfig::new(InstanceName::given("times"), 10).with_burst(3));
    let start = Instant::now();
    let mut times = Vec::new();
    for _ in 0..6 {
        L.acquire().await.unwrap();
        times.push(ms(start));
    }
    assert_eq!(times, [0, 0, 0, 100, 200, 300]);
    assert_eq!(L.available(), 0);
    tokio::time::advance(250 * MS).await;
    assert_eq!(L.available(), 2, "one per 100 ms, the burst at most");
    tokio::time::advance(Duration::from_secs(5)).await;
    assert_eq!(L.available(), 3);
}

#[tokio::test(start_paused = true)]
async fn rate_per_and_burst_space_a_minute_quota() {
    // 6 per minute, 2 at once: 2 at once, then one every 10 s.
    static L: RateLimiter = RateLimiter::new(
        RateLimitConfig::new(InstanceName::given("minute"), 6)
            .with_per(Duration::from_secs(60))
            .with_burst(2),
    );
    let start = Instant::now();
    let mut times = Vec::new();
    for _ in 0..5 {
        L.acquire().await.unwrap();
        times.push(start.elapsed().as_secs());
    }
    assert_eq!(times, [0, 0, 10, 20, 30]);
}

#[tokio::test(start_paused = true)]
async fn a_permit_beyond_max_wait_is_refused_at_once_with_its_retry_after() {
    static L: RateLimiter =
        RateLimiter::new(limiter(10, 1).with_max_wait(Duration::from_millis(150)));
    let start = Instant::now();
    L.acquire().await.unwrap();
    let waiter = tokio::spawn(L.acquire());
    tokio::task::yield_now().await;
    assert_eq!(L.waiting(), 1);
    let refused = L.acquire().await.unwrap_err();
    assert_eq!(refused, Rejected::rate_limited("test", 200 * MS));
    assert_eq!(ms(start), 0, "refused without waiting");
    waiter.await.unwrap().unwrap();
    assert_eq!(ms(start), 100);
    assert_eq!(L.waiting(), 0);
}

#[tokio::test(start_paused = true)]
async fn max_wait_zero_never_waits() {
    static L: RateLimiter = RateLimiter::new(limiter(4, 2).with_max_wait(Duration::ZERO));
    let body_runs = Arc::new(Mutex::new(0));
    let call = || {
        let runs = Arc::clone(&body_runs);
        L.run(async move {
            *runs.lock().unwrap() += 1;
            Ok::<_, Failure<()>>(())
        })
    };
    let start = Instant::now();
    call().await.unwrap();
    call().await.unwrap();
    match call().await {
        Err(Failure::Rejected(Rejected::RateLimited { retry_after, .. })) => {
            assert_eq!(retry_after, 250 * MS);
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
    assert_eq!((ms(start), *body_runs.lock().unwrap()), (0, 2));
}

#[tokio::test(start_paused = true)]
async fn waiters_are_served_in_the_order_they_asked() {
    static L: RateLimiter = RateLimiter::new(limiter(100, 1));
    let order = Arc::new(Mutex::new(Vec::new()));
    let start = Instant::now();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let order = Arc::clone(&order);
            tokio::spawn(L.run(async move {
                order.lock().unwrap().push((i, ms(start)));
                Ok::<_, Failure<()>>(())
            }))
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let served = order.lock().unwrap().clone();
    let expected: Vec<_> = (0..8u32).map(|i| (i, u128::from(i) * 10)).collect();
    assert_eq!(served, expected);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_waiter_gives_its_permit_back() {
    static L: RateLimiter = RateLimiter::new(limiter(10, 1));
    let start = Instant::now();
    L.acquire().await.unwrap();
    // Waits for the permit due at 100 ms, and gives up at 30 ms.
    let gave_up = tokio::time::timeout(30 * MS, L.acquire()).await;
    assert!(gave_up.is_err());
    assert_eq!(L.waiting(), 0);
    // The next caller gets that very permit.
    L.acquire().await.unwrap();
    assert_eq!(ms(start), 100);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_waiter_with_others_behind_it_leaves_their_times_alone() {
    static L: RateLimiter = RateLimiter::new(limiter(10, 1));
    let start = Instant::now();
    L.acquire().await.unwrap();
    let mut first = Box::pin(L.acquire()); // due at 100 ms
    assert!(futures_poll(first.as_mut()).await.is_pending());
    let second = tokio::spawn(async move {
        L.acquire().await.unwrap(); // due at 200 ms
        ms(start)
    });
    tokio::task::yield_now().await;
    assert_eq!(L.waiting(), 2);
    drop(first);
    assert_eq!(L.waiting(), 1);
    // The first permit passes unused: the rate is never exceeded, and the second waiter
    // keeps its time; a new caller comes after it.
    L.acquire().await.unwrap();
    assert_eq!(ms(start), 300);
    assert_eq!(second.await.unwrap(), 200);
}

#[tokio::test(start_paused = true)]
async fn a_rejected_call_does_not_run_its_body_and_stats_count_it() {
    static L: RateLimiter = RateLimiter::new(limiter(1, 1).with_max_wait(Duration::ZERO));
    let runs = Arc::new(Mutex::new(0));
    for _ in 0..3 {
        let runs = Arc::clone(&runs);
        let _ = L
            .run(async move {
                *runs.lock().unwrap() += 1;
                Ok::<_, Failure<()>>(())
            })
            .await;
    }
    assert_eq!(*runs.lock().unwrap(), 1);
    if cfg!(feature = "stats") {
        let stats = L.stats();
        assert_eq!((stats.calls, stats.rejections), (3, 2));
    }
}

#[test]
fn the_config_defaults_are_the_shared_ones() {
    let config = RateLimitConfig::new(InstanceName::given("defaults"), 7);
    assert_eq!(
        config.per(),
        Duration::from_nanos(limits::DEFAULT_PER_NANOS)
    );
    assert_eq!(config.burst(), limits::default_burst(7));
    assert_eq!(
        config.max_wait(),
        limits::DEFAULT_MAX_WAIT_NANOS.map(Duration::from_nanos)
    );
}

/// Polls `fut` once.
async fn futures_poll<F: Future>(fut: std::pin::Pin<&mut F>) -> std::task::Poll<F::Output> {
    let mut fut = Some(fut);
    std::future::poll_fn(|cx| std::task::Poll::Ready(fut.take().unwrap().poll(cx))).await
}

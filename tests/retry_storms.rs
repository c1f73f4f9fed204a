//! `#[retry]` against retry storms: the retry budget, the server's hint (`retry_after`) and the
//! total time budget (`max_elapsed`), on a paused clock.
//!
//! Each function has its own retry instance, hence its own budget, and each test its own
//! functions; the budget's window is 10 s of tokio's clock.

mod common;

use std::time::Duration;

use common::{offsets_ms, Runs, ServiceError};
use resilience::monitor::snapshot;
use resilience::retry;
use tokio::time::{sleep, Instant};

/// An error that may carry the server's `Retry-After`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ApiError {
    Busy(Option<Duration>),
    Rejected(resilience::Rejected),
}

impl From<resilience::Rejected> for ApiError {
    fn from(rejected: resilience::Rejected) -> Self {
        ApiError::Rejected(rejected)
    }
}

fn retry_after(error: &ApiError) -> Option<Duration> {
    match error {
        ApiError::Busy(hint) => *hint,
        ApiError::Rejected(_) => None,
    }
}

/// The retry instance's counters, found in the snapshot by name.
fn budget_exhausted(name: &str) -> u64 {
    snapshot()
        .into_iter()
        .find(|instance| instance.name == name)
        .map(|instance| instance.stats.budget_exhausted)
        .expect("the instance served a call")
}

#[tokio::test(start_paused = true)]
async fn the_budget_caps_retries_during_a_sustained_outage() {
    static RUNS: Runs = Runs::new();
    // 20 % of the calls, plus a reserve of 1 retry a second: 10 over the window.
    #[retry(
        max = 3,
        base = "10ms",
        jitter = "none",
        budget = 0.2,
        budget_min = 1,
        name = "outage"
    )]
    async fn call() -> Result<(), ServiceError> {
        RUNS.hit();
        Err(ServiceError::Unavailable)
    }

    let begin = Instant::now();
    for _ in 0..100 {
        // The call's own error comes back, whether it was retried or not: no new rejection.
        assert_eq!(call().await, Err(ServiceError::Unavailable));
    }
    assert!(
        begin.elapsed() < Duration::from_secs(9),
        "all in one window"
    );
    // Without the budget: 400 runs. With it: 100 first attempts, 20 % of them (20) and the
    // reserve (10) as retries.
    assert_eq!(RUNS.get(), 130);
    // The first three calls took 3 retries each from the reserve; every later call found the
    // budget spent, at once or after the one retry its own deposit made room for.
    assert_eq!(budget_exhausted("outage"), 97);
}

#[tokio::test(start_paused = true)]
async fn the_budget_refills_once_the_window_has_passed() {
    static RUNS: Runs = Runs::new();
    // No share of calls: the reserve alone, 1 retry a second, 10 over the window.
    #[retry(max = 3, base = "10ms", jitter = "none", budget = 0, budget_min = 1)]
    async fn call() -> Result<(), ServiceError> {
        RUNS.hit();
        Err(ServiceError::Unavailable)
    }

    for _ in 0..4 {
        call().await.unwrap_err();
    }
    assert_eq!(
        RUNS.get(),
        4 + 10,
        "3 + 3 + 3 + 1 retries: the reserve is spent"
    );
    call().await.unwrap_err();
    assert_eq!(RUNS.get(), 15, "spent: a single attempt");

    // Retries older than the window no longer count.
    sleep(Duration::from_secs(10)).await;
    call().await.unwrap_err();
    assert_eq!(RUNS.get(), 15 + 4, "refilled: all 3 retries");
}

#[tokio::test(start_paused = true)]
async fn functions_sharing_a_name_share_one_budget() {
    static A: Runs = Runs::new();
    static B: Runs = Runs::new();
    #[retry(
        max = 3,
        base = "10ms",
        budget = 0,
        budget_min = 1,
        name = "shared-budget"
    )]
    async fn a() -> Result<(), ServiceError> {
        A.hit();
        Err(ServiceError::Unavailable)
    }
    #[retry(
        max = 3,
        base = "10ms",
        budget = 0,
        budget_min = 1,
        name = "shared-budget"
    )]
    async fn b() -> Result<(), ServiceError> {
        B.hit();
        Err(ServiceError::Unavailable)
    }

    for _ in 0..3 {
        a().await.unwrap_err();
    }
    assert_eq!(A.get(), 12, "9 of the 10 retries");
    b().await.unwrap_err();
    assert_eq!(B.get(), 2, "the last retry of the shared budget");
    a().await.unwrap_err();
    assert_eq!(A.get(), 13, "none left for either");
}

#[tokio::test(start_paused = true)]
async fn budget_none_turns_the_budget_off() {
    static RUNS: Runs = Runs::new();
    #[retry(max = 3, base = "10ms", budget = "none", budget_min = 0)]
    async fn call() -> Result<(), ServiceError> {
        RUNS.hit();
        Err(ServiceError::Unavailable)
    }

    for _ in 0..100 {
        call().await.unwrap_err();
    }
    assert_eq!(RUNS.get(), 400, "every call made all its attempts");
}

#[tokio::test(start_paused = true)]
async fn a_zero_budget_without_reserve_makes_no_retry() {
    static RUNS: Runs = Runs::new();
    #[retry(max = 3, base = "10ms", budget = 0, budget_min = 0)]
    async fn call() -> Result<(), ServiceError> {
        RUNS.hit();
        Err(ServiceError::Unavailable)
    }

    for _ in 0..10 {
        call().await.unwrap_err();
    }
    assert_eq!(RUNS.get(), 10);
}

#[tokio::test(start_paused = true)]
async fn successful_calls_earn_retries_for_later_failures() {
    static RUNS: Runs = Runs::new();
    // No reserve: only deposits pay for retries.
    #[retry(max = 3, base = "10ms", jitter = "none", budget = 0.5, budget_min = 0)]
    async fn call(fail: bool) -> Result<(), ServiceError> {
        RUNS.hit();
        common::answer(fail)
    }

    for _ in 0..8 {
        call(false).await.unwrap();
    }
    // 8 calls deposited, 0.5 each: 4 retries. The failing call deposits too: 4.5, floored.
    call(true).await.unwrap_err();
    assert_eq!(RUNS.get(), 8 + 1 + 3);
    call(true).await.unwrap_err();
    // 10 deposits: 5 retries in all, 3 taken: 2 left.
    assert_eq!(RUNS.get(), 12 + 1 + 2);
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_hint_replaces_the_backoff_delay() {
    static STARTS: std::sync::Mutex<Vec<Instant>> = std::sync::Mutex::new(Vec::new());
    static HINTS: [Option<Duration>; 3] = [
        Some(Duration::from_secs(3)),
        None,
        Some(Duration::from_millis(50)),
    ];
    #[retry(max = 3, base = "100ms", jitter = "none", retry_after = retry_after)]
    async fn call() -> Result<(), ApiError> {
        let mut starts = STARTS.lock().unwrap();
        starts.push(Instant::now());
        let hint = HINTS.get(starts.len() - 1).copied().flatten();
        Err(ApiError::Busy(hint))
    }

    let begin = Instant::now();
    call().await.unwrap_err();
    // 3 s as asked; then no hint: the backoff's 200 ms; then 50 ms as asked.
    assert_eq!(offsets_ms(&STARTS, begin), [0, 3_000, 3_200, 3_250]);
}

#[tokio::test(start_paused = true)]
async fn a_hint_is_capped_at_max_delay() {
    static STARTS: std::sync::Mutex<Vec<Instant>> = std::sync::Mutex::new(Vec::new());
    #[retry(max = 1, max_delay = "10s", retry_after = retry_after)]
    async fn call() -> Result<(), ApiError> {
        STARTS.lock().unwrap().push(Instant::now());
        Err(ApiError::Busy(Some(Duration::from_secs(3_600))))
    }

    let begin = Instant::now();
    call().await.unwrap_err();
    assert_eq!(offsets_ms(&STARTS, begin), [0, 10_000]);
}

#[tokio::test(start_paused = true)]
async fn max_elapsed_bounds_the_total_time() {
    static RUNS: Runs = Runs::new();
    #[retry(max = 10, base = "100ms", jitter = "none", max_elapsed = "1s")]
    async fn call() -> Result<(), ServiceError> {
        RUNS.hit();
        sleep(Duration::from_millis(100)).await;
        Err(ServiceError::Unavailable)
    }

    let begin = Instant::now();
    assert_eq!(call().await, Err(ServiceError::Unavailable));
    // Attempts at 0, 200, 500 and 1000 ms (each 100 ms, then 100, 200, 400 ms of backoff);
    // the next would wait 800 ms after 1100 ms: past 1 s, so the last error is returned.
    assert_eq!(RUNS.get(), 4);
    assert_eq!(begin.elapsed(), Duration::from_millis(1_100));
}

#[tokio::test(start_paused = true)]
async fn max_elapsed_also_bounds_a_hinted_delay() {
    static RUNS: Runs = Runs::new();
    #[retry(max = 5, max_delay = "1m", retry_after = retry_after, max_elapsed = "30s")]
    async fn call() -> Result<(), ApiError> {
        RUNS.hit();
        Err(ApiError::Busy(Some(Duration::from_secs(20))))
    }

    let begin = Instant::now();
    call().await.unwrap_err();
    assert_eq!(
        RUNS.get(),
        2,
        "a retry at 20 s; the next would start at 40 s"
    );
    assert_eq!(begin.elapsed(), Duration::from_secs(20));
}

#[tokio::test(start_paused = true)]
async fn an_inner_rate_limit_is_its_own_hint() {
    static RUNS: Runs = Runs::new();
    // One permit a second and no waiting: a retry 10 ms later is refused, with the time until
    // the next permit, and the retry waits that instead of the backoff's 20 ms.
    #[retry(max = 3, base = "10ms", jitter = "none")]
    #[resilience::rate_limit(rate = 1, max_wait = "0s")]
    async fn call() -> Result<u32, ServiceError> {
        match RUNS.hit() {
            1 => Err(ServiceError::Unavailable),
            n => Ok(u32::try_from(n).unwrap()),
        }
    }

    let begin = Instant::now();
    assert_eq!(call().await, Ok(2));
    assert_eq!(RUNS.get(), 2, "the refused attempt did not run the body");
    assert_eq!(begin.elapsed(), Duration::from_secs(1));
}

//! `#[hedge]` through the facade, on tokio's paused clock: when a second attempt is sent,
//! which answer wins, what the others become, and what the budget allows.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Runs, ServiceError};
use resilience::monitor::{snapshot, InstanceKind, Stats};
use resilience::{bulkhead, circuit_breaker, fallback, hedge, rate_limit, retry, CallId, Rejected};
use tokio::time::{sleep, Instant};

/// The counters of the hedge named `name`.
fn stats(name: &str) -> Stats {
    snapshot()
        .into_iter()
        .find(|i| i.kind == InstanceKind::Hedge && i.name == name)
        .map(|i| i.stats)
        .expect("the hedge has served a call")
}

/// Counts its drops: an attempt's future holds one, so a dropped attempt is seen.
struct DropGuard(&'static AtomicUsize);

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// An error that says which attempt (hedge number) produced it.
#[derive(Debug, PartialEq)]
enum Failed {
    Attempt(u32),
    Rejected(Rejected),
}

impl From<Rejected> for Failed {
    fn from(r: Rejected) -> Self {
        Failed::Rejected(r)
    }
}

#[tokio::test(start_paused = true)]
async fn a_slow_first_attempt_is_hedged_at_delay_and_dropped_when_the_hedge_answers() {
    static RUNS: Runs = Runs::new();
    static DROPPED: AtomicUsize = AtomicUsize::new(0);
    static FINISHED: AtomicUsize = AtomicUsize::new(0);
    #[hedge(delay = "50ms", budget = 1.0, context = attempt, name = "hedge-slow-first")]
    async fn call() -> Result<u32, ServiceError> {
        RUNS.hit();
        let _guard = DropGuard(&DROPPED);
        let latency = if attempt.is_hedge() { 10 } else { 1_000 };
        sleep(Duration::from_millis(latency)).await;
        FINISHED.fetch_add(1, Ordering::SeqCst);
        Ok(attempt.hedge())
    }

    let start = Instant::now();
    assert_eq!(call().await, Ok(1), "the hedge's answer");
    assert_eq!(start.elapsed(), Duration::from_millis(60));
    assert_eq!(RUNS.get(), 2);
    assert_eq!(
        DROPPED.load(Ordering::SeqCst),
        2,
        "both attempts gone when the call returns"
    );
    assert_eq!(
        FINISHED.load(Ordering::SeqCst),
        1,
        "the slow attempt never finished"
    );
    let stats = stats("hedge-slow-first");
    assert_eq!(
        (stats.calls, stats.hedges, stats.hedges_won, stats.successes),
        (1, 1, 1, 1)
    );
}

#[tokio::test(start_paused = true)]
async fn calls_faster_than_delay_are_never_hedged() {
    static RUNS: Runs = Runs::new();
    #[hedge(delay = "50ms", budget = 1.0, name = "hedge-fast")]
    async fn call(i: u32) -> Result<u32, ServiceError> {
        RUNS.hit();
        sleep(Duration::from_millis(49)).await;
        Ok(i)
    }

    let start = Instant::now();
    for i in 0..100 {
        assert_eq!(call(i).await, Ok(i));
    }
    assert_eq!(start.elapsed(), Duration::from_millis(4_900));
    assert_eq!(RUNS.get(), 100, "one attempt per call");
    assert_eq!(stats("hedge-fast").hedges, 0);
}

#[tokio::test(start_paused = true)]
async fn max_hedges_are_sent_delay_apart_and_no_more() {
    static STARTS: Mutex<Vec<(u32, Instant)>> = Mutex::new(Vec::new());
    #[hedge(delay = "50ms", max = 3, budget = 1.0, context = attempt)]
    async fn call(slow: bool) -> Result<(), ServiceError> {
        if slow {
            STARTS
                .lock()
                .unwrap()
                .push((attempt.hedge(), Instant::now()));
            sleep(Duration::from_secs(1)).await;
        }
        Ok(())
    }

    // The budget allows `budget` × the calls started: three quick calls make room for three
    // hedges of the fourth.
    for _ in 0..3 {
        call(false).await.unwrap();
    }
    let begin = Instant::now();
    assert_eq!(call(true).await, Ok(()));
    assert_eq!(
        begin.elapsed(),
        Duration::from_secs(1),
        "the first attempt answered"
    );
    let starts: Vec<(u32, u128)> = STARTS
        .lock()
        .unwrap()
        .iter()
        .map(|(hedge, at)| (*hedge, (*at - begin).as_millis()))
        .collect();
    assert_eq!(
        starts,
        [(0, 0), (1, 50), (2, 100), (3, 150)],
        "4 attempts: 1 + max"
    );
}

#[tokio::test(start_paused = true)]
async fn the_first_ok_wins_over_a_later_failure() {
    static RUNS: Runs = Runs::new();
    #[hedge(delay = "50ms", budget = 1.0, context = attempt)]
    async fn call() -> Result<u32, Failed> {
        RUNS.hit();
        if attempt.is_hedge() {
            sleep(Duration::from_millis(20)).await;
            Ok(attempt.hedge())
        } else {
            sleep(Duration::from_millis(200)).await;
            Err(Failed::Attempt(0))
        }
    }

    let start = Instant::now();
    assert_eq!(call().await, Ok(1));
    assert_eq!(start.elapsed(), Duration::from_millis(70));
    assert_eq!(RUNS.get(), 2);
}

#[tokio::test(start_paused = true)]
async fn an_early_error_waits_for_the_hedge_in_flight() {
    static RUNS: Runs = Runs::new();
    #[hedge(delay = "50ms", budget = 1.0, context = attempt)]
    async fn call() -> Result<u32, Failed> {
        RUNS.hit();
        if attempt.is_hedge() {
            sleep(Duration::from_millis(100)).await;
            Ok(attempt.hedge())
        } else {
            sleep(Duration::from_millis(80)).await;
            Err(Failed::Attempt(0))
        }
    }

    let start = Instant::now();
    assert_eq!(
        call().await,
        Ok(1),
        "the failure at 80 ms did not end the call"
    );
    assert_eq!(start.elapsed(), Duration::from_millis(150));
    assert_eq!(RUNS.get(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_failure_before_delay_ends_the_call_unhedged() {
    static RUNS: Runs = Runs::new();
    #[hedge(delay = "50ms", budget = 1.0)]
    async fn call() -> Result<u32, Failed> {
        RUNS.hit();
        sleep(Duration::from_millis(10)).await;
        Err(Failed::Attempt(0))
    }

    let start = Instant::now();
    assert_eq!(call().await, Err(Failed::Attempt(0)));
    assert_eq!(start.elapsed(), Duration::from_millis(10));
    assert_eq!(RUNS.get(), 1, "errors are not hedged");
}

#[tokio::test(start_paused = true)]
async fn when_all_fail_the_error_of_the_last_to_fail_is_returned() {
    static RUNS: Runs = Runs::new();
    #[hedge(delay = "50ms", max = 2, budget = 1.0, context = attempt)]
    async fn call(warm: bool) -> Result<u32, Failed> {
        if warm {
            return Ok(0);
        }
        RUNS.hit();
        // Attempt 0 fails at 300 ms, attempt 1 at 150 ms, attempt 2 at 120 ms.
        let latency = [300, 100, 20][attempt.hedge() as usize];
        sleep(Duration::from_millis(latency)).await;
        Err(Failed::Attempt(attempt.hedge()))
    }

    call(true).await.unwrap(); // room in the budget for two hedges
    let start = Instant::now();
    assert_eq!(
        call(false).await,
        Err(Failed::Attempt(0)),
        "the first attempt failed last"
    );
    assert_eq!(start.elapsed(), Duration::from_millis(300));
    assert_eq!(RUNS.get(), 3);
}

#[tokio::test(start_paused = true)]
async fn every_attempt_gets_fresh_owned_arguments() {
    static CLONES: AtomicUsize = AtomicUsize::new(0);
    static SEEN: Mutex<Vec<Vec<u32>>> = Mutex::new(Vec::new());
    struct Batch(Vec<u32>);
    impl Clone for Batch {
        fn clone(&self) -> Self {
            CLONES.fetch_add(1, Ordering::SeqCst);
            Batch(self.0.clone())
        }
    }
    #[hedge(delay = "50ms", budget = 1.0, context = attempt)]
    async fn call(mut batch: Batch, tag: &str) -> Result<usize, ServiceError> {
        SEEN.lock().unwrap().push(batch.0.clone());
        batch.0.push(99);
        assert_eq!(tag, "t");
        let latency = if attempt.is_hedge() { 10 } else { 1_000 };
        sleep(Duration::from_millis(latency)).await;
        Ok(batch.0.len())
    }

    assert_eq!(call(Batch(vec![1, 2]), "t").await, Ok(3));
    assert_eq!(
        *SEEN.lock().unwrap(),
        [vec![1, 2], vec![1, 2]],
        "neither saw the other's push"
    );
    assert_eq!(CLONES.load(Ordering::SeqCst), 2, "one clone per attempt");
}

#[tokio::test(start_paused = true)]
async fn a_percentile_delay_hedges_nothing_before_100_calls() {
    static RUNS: Runs = Runs::new();
    static SLOW: AtomicUsize = AtomicUsize::new(0);
    #[hedge(delay = "p95", name = "hedge-warm-up", context = attempt)]
    async fn call() -> Result<(), ServiceError> {
        RUNS.hit();
        let slow = SLOW.load(Ordering::SeqCst) == 1 && !attempt.is_hedge();
        sleep(Duration::from_millis(if slow { 1_000 } else { 10 })).await;
        Ok(())
    }

    for _ in 0..99 {
        call().await.unwrap();
    }
    SLOW.store(1, Ordering::SeqCst);
    // The 100th call: still warming up, so it takes its full second.
    let start = Instant::now();
    call().await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    assert_eq!(RUNS.get(), 100, "no hedge during the warm-up");
    // Warm: p95 of the 100 calls is the 10 ms bucket (its upper edge, 10.49 ms).
    let start = Instant::now();
    call().await.unwrap();
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(20) && elapsed <= Duration::from_millis(22),
        "hedged at p95, answered 10 ms later: {elapsed:?}"
    );
    assert_eq!(RUNS.get(), 102);
    assert_eq!(stats("hedge-warm-up").hedges_won, 1);
}

#[tokio::test(start_paused = true)]
async fn the_budget_bounds_hedges_under_sustained_slowness() {
    static RUNS: Runs = Runs::new();
    // Every attempt takes 50 ms: a hedge is due at 10 ms on every call.
    #[hedge(delay = "10ms", budget = 0.1, name = "hedge-budget")]
    async fn call() -> Result<(), ServiceError> {
        RUNS.hit();
        sleep(Duration::from_millis(50)).await;
        Ok(())
    }

    for _ in 0..100 {
        call().await.unwrap();
    }
    assert_eq!(RUNS.get(), 110, "10 % more attempts, not 100 %");
    let stats = stats("hedge-budget");
    assert_eq!(
        (stats.calls, stats.hedges, stats.budget_exhausted),
        (100, 10, 90)
    );
    assert_eq!(
        stats.hedges_won, 0,
        "the first attempt answered first every time"
    );
}

#[tokio::test(start_paused = true)]
async fn hedged_attempts_share_the_call_id() {
    static SEEN: Mutex<Vec<(CallId, u32, u32)>> = Mutex::new(Vec::new());
    #[hedge(delay = "10ms", max = 2, budget = 1.0, context = ctx)]
    async fn call(warm: bool) -> Result<(), ServiceError> {
        if warm {
            return Ok(());
        }
        SEEN.lock()
            .unwrap()
            .push((ctx.call_id(), ctx.number(), ctx.hedge()));
        sleep(Duration::from_millis(100)).await;
        Ok(())
    }

    // Two quick calls leave room in the budget for two hedges on each of the next two.
    call(true).await.unwrap();
    call(true).await.unwrap();
    call(false).await.unwrap();
    call(false).await.unwrap();
    let seen = SEEN.lock().unwrap().clone();
    assert_eq!(seen.len(), 6);
    for (call, attempts) in seen.chunks(3).enumerate() {
        assert!(
            attempts.iter().all(|a| a.0 == attempts[0].0),
            "call {call}: one id"
        );
        let numbers: Vec<(u32, u32)> = attempts.iter().map(|a| (a.1, a.2)).collect();
        assert_eq!(numbers, [(0, 0), (0, 1), (0, 2)]);
    }
    assert_ne!(seen[0].0, seen[3].0, "two calls, two ids");
}

#[tokio::test(start_paused = true)]
async fn under_a_retry_each_retrys_hedges_share_the_retrys_call_id() {
    static SEEN: Mutex<Vec<(CallId, CallId, u32, u32)>> = Mutex::new(Vec::new());
    #[retry(max = 1, base = "10ms", jitter = "none", context = outer)]
    #[hedge(delay = "20ms", budget = 1.0, context = inner)]
    async fn call() -> Result<u32, Failed> {
        SEEN.lock().unwrap().push((
            outer.call_id(),
            inner.call_id(),
            inner.number(),
            inner.hedge(),
        ));
        sleep(Duration::from_millis(30)).await;
        if inner.number() == 0 {
            Err(Failed::Attempt(inner.hedge()))
        } else {
            Ok(inner.hedge())
        }
    }

    assert_eq!(call().await, Ok(0));
    let seen = SEEN.lock().unwrap().clone();
    let numbers: Vec<(u32, u32)> = seen.iter().map(|s| (s.2, s.3)).collect();
    assert_eq!(
        numbers,
        [(0, 0), (0, 1), (1, 0), (1, 1)],
        "each retry attempt hedged"
    );
    assert!(
        seen.iter().all(|s| s.0 == seen[0].0 && s.1 == seen[0].0),
        "one call id"
    );
}

#[tokio::test(start_paused = true)]
async fn a_retry_without_context_still_gives_its_hedges_one_call_id() {
    static SEEN: Mutex<Vec<(CallId, u32)>> = Mutex::new(Vec::new());
    #[retry(max = 1, base = "10ms", jitter = "none")]
    #[hedge(delay = "1s", context = ctx)]
    async fn call() -> Result<(), ServiceError> {
        SEEN.lock().unwrap().push((ctx.call_id(), ctx.number()));
        Err(ServiceError::Unavailable)
    }

    assert_eq!(call().await, Err(ServiceError::Unavailable));
    let seen = SEEN.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].0, seen[1].0, "the retry's call id");
    assert_eq!(
        (seen[0].1, seen[1].1),
        (0, 1),
        "the retry's attempt numbers"
    );
}

#[tokio::test(start_paused = true)]
async fn an_inner_open_circuit_ends_the_call() {
    static RUNS: Runs = Runs::new();
    #[hedge(delay = "10ms", budget = 1.0)]
    #[circuit_breaker(threshold = 1, timeout = "1h")]
    async fn call() -> Result<(), ServiceError> {
        RUNS.hit();
        sleep(Duration::from_millis(30)).await;
        Err(ServiceError::Unavailable)
    }

    // The first attempt and its hedge both run; the first failure opens the breaker, and the
    // hedge's failure is the last one.
    assert_eq!(call().await, Err(ServiceError::Unavailable));
    assert_eq!(RUNS.get(), 2);
    let start = Instant::now();
    assert!(call().await.unwrap_err().is_circuit_open());
    assert_eq!(
        start.elapsed(),
        Duration::ZERO,
        "refused at once, not hedged"
    );
    assert_eq!(RUNS.get(), 2);
}

#[tokio::test(start_paused = true)]
async fn an_inner_bulkhead_sees_every_attempt() {
    static RUNS: Runs = Runs::new();
    #[hedge(delay = "10ms", budget = 1.0)]
    #[bulkhead(max = 1, max_wait = "0s")]
    async fn call() -> Result<(), ServiceError> {
        RUNS.hit();
        sleep(Duration::from_millis(30)).await;
        Ok(())
    }

    // The hedge finds the only slot taken: its BulkheadFull does not end the call while the
    // first attempt runs, and the first attempt answers.
    let start = Instant::now();
    assert_eq!(call().await, Ok(()));
    assert_eq!(start.elapsed(), Duration::from_millis(30));
    assert_eq!(RUNS.get(), 1);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_call_drops_every_attempt() {
    static DROPPED: AtomicUsize = AtomicUsize::new(0);
    #[hedge(delay = "10ms", budget = 1.0)]
    async fn call() -> Result<(), ServiceError> {
        let _guard = DropGuard(&DROPPED);
        sleep(Duration::from_secs(10)).await;
        Ok(())
    }

    let outcome = tokio::time::timeout(Duration::from_millis(50), call()).await;
    assert!(outcome.is_err(), "cut off by the caller");
    assert_eq!(
        DROPPED.load(Ordering::SeqCst),
        2,
        "the attempt and its hedge"
    );
}

struct Replica {
    answered: AtomicUsize,
}

impl Replica {
    #[hedge(delay = "10ms", budget = 1.0, context = attempt)]
    async fn get(&self, key: String) -> Result<String, ServiceError> {
        let latency = if attempt.is_hedge() { 5 } else { 100 };
        sleep(Duration::from_millis(latency)).await;
        self.answered.fetch_add(1, Ordering::SeqCst);
        Ok(format!("{key}@{}", attempt.hedge()))
    }

    #[hedge(delay = "10ms", budget = 1.0, context = attempt)]
    async fn owned(self: Arc<Self>, key: String) -> Result<String, ServiceError> {
        let latency = if attempt.is_hedge() { 5 } else { 100 };
        sleep(Duration::from_millis(latency)).await;
        self.answered.fetch_add(1, Ordering::SeqCst);
        Ok(format!("{key}@{}", attempt.hedge()))
    }
}

#[tokio::test(start_paused = true)]
async fn methods_are_hedged_with_shared_and_owned_receivers() {
    let replica = Arc::new(Replica {
        answered: AtomicUsize::new(0),
    });
    assert_eq!(replica.get("k".into()).await, Ok("k@1".to_string()));
    assert_eq!(
        replica.clone().owned("k".into()).await,
        Ok("k@1".to_string())
    );
    assert_eq!(
        replica.answered.load(Ordering::SeqCst),
        2,
        "one answer per call"
    );
    assert_eq!(
        Arc::strong_count(&replica),
        1,
        "the receiver's copies are gone"
    );
}

#[test]
fn the_future_is_send_with_a_send_but_not_sync_argument() {
    #[hedge(delay = "10ms")]
    async fn call(cell: std::cell::Cell<u32>) -> Result<u32, ServiceError> {
        Ok(cell.get())
    }
    fn assert_send<T: Send>(_: &T) {}
    assert_send(&call(std::cell::Cell::new(1)));
}

#[tokio::test(start_paused = true)]
async fn an_inner_rate_limit_gives_every_attempt_a_permit() {
    static RUNS: Runs = Runs::new();
    #[hedge(delay = "10ms", budget = 1.0, context = attempt)]
    #[rate_limit(rate = 1, per = "1s", burst = 1, max_wait = "0s")]
    async fn call() -> Result<u32, ServiceError> {
        RUNS.hit();
        sleep(Duration::from_millis(if attempt.is_hedge() {
            5
        } else {
            100
        }))
        .await;
        Ok(attempt.hedge())
    }

    // The hedge asks the limiter for a permit of its own: there is none left, so it is
    // refused at once and the first attempt answers.
    let start = Instant::now();
    assert_eq!(call().await, Ok(0));
    assert_eq!(start.elapsed(), Duration::from_millis(100));
    assert_eq!(RUNS.get(), 1, "the refused hedge never ran");
}

#[tokio::test(start_paused = true)]
async fn overrides_change_the_delay_max_and_budget() {
    static STARTS: Mutex<Vec<u128>> = Mutex::new(Vec::new());
    resilience::monitor::configure([
        ("hedge-overridden/hedge/delay", "20ms"),
        ("hedge-overridden/hedge/max", "2"),
        ("hedge-overridden/hedge/budget", "1"),
    ])
    .expect("valid overrides");
    let refused = resilience::monitor::configure([
        ("hedge-overridden/hedge/delay", "p100"),
        ("hedge-overridden/hedge/max", "0"),
    ])
    .unwrap_err();
    assert_eq!(refused.len(), 2, "a bad percentile and max = 0 are refused");
    #[hedge(delay = "1s", name = "hedge-overridden")]
    async fn call(begin: Instant, slow: bool) -> Result<(), ServiceError> {
        if slow {
            STARTS
                .lock()
                .unwrap()
                .push((Instant::now() - begin).as_millis());
            sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }

    let begin = Instant::now();
    call(begin, false).await.unwrap();
    call(begin, false).await.unwrap();
    call(begin, true).await.unwrap();
    assert_eq!(
        *STARTS.lock().unwrap(),
        [0, 20, 40],
        "every 20 ms, two hedges"
    );
}

struct Store {
    reads: AtomicUsize,
}

impl Store {
    async fn fallback_read(
        &self,
        key: String,
        _error: ServiceError,
    ) -> Result<String, ServiceError> {
        tokio::task::yield_now().await;
        Ok(format!("{key}:cached"))
    }

    /// A hedge outside a retry and a fallback: each hedged attempt is a whole retry loop.
    #[hedge(delay = "50ms", budget = 1.0)]
    #[fallback(Self::fallback_read)]
    #[retry(max = 1, base = "10ms", jitter = "none")]
    async fn read(&self, key: String) -> Result<String, ServiceError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        sleep(Duration::from_millis(5)).await;
        if key == "missing" {
            Err(ServiceError::Unavailable)
        } else {
            Ok(key)
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_hedge_above_a_retry_and_a_fallback_runs_them_per_attempt() {
    let store = Store {
        reads: AtomicUsize::new(0),
    };
    let start = Instant::now();
    assert_eq!(store.read("k".into()).await, Ok("k".to_string()));
    assert_eq!(store.reads.load(Ordering::SeqCst), 1);
    assert_eq!(
        store.read("missing".into()).await,
        Ok("missing:cached".to_string()),
        "the retry failed twice, then the fallback answered, within one attempt"
    );
    assert_eq!(store.reads.load(Ordering::SeqCst), 3);
    assert_eq!(start.elapsed(), Duration::from_millis(5 + 5 + 10 + 5));
}

/// Generics, a lifetime, an `impl Trait` argument and a destructured one: each attempt gets
/// its own copies, and the expansion adds no bound of its own.
#[hedge(delay = "10ms", budget = 1.0, context = attempt)]
async fn generic<'a, T: Clone + std::fmt::Display>(
    label: &'a str,
    value: T,
    (left, right): (u32, u32),
    suffix: impl std::fmt::Display + Clone,
) -> Result<String, ServiceError> {
    sleep(Duration::from_millis(if attempt.is_hedge() {
        1
    } else {
        100
    }))
    .await;
    Ok(format!("{label}{value}{}{suffix}", left + right))
}

#[tokio::test(start_paused = true)]
async fn generic_functions_with_lifetimes_are_hedged() {
    let label = String::from("n=");
    assert_eq!(
        generic(&label, 4, (1, 2), '!').await,
        Ok("n=43!".to_string())
    );
}

#[tokio::test(start_paused = true)]
async fn retries_inside_hedged_attempts_share_the_calls_id() {
    static SEEN: Mutex<Vec<(CallId, u32, u32)>> = Mutex::new(Vec::new());
    #[hedge(delay = "50ms", budget = 1.0)]
    #[retry(max = 1, base = "10ms", jitter = "none", context = attempt)]
    async fn call() -> Result<u32, Failed> {
        SEEN.lock()
            .unwrap()
            .push((attempt.call_id(), attempt.hedge(), attempt.number()));
        if attempt.hedge() == 0 {
            // The first hedged attempt: fails, then its retry hangs.
            if attempt.number() == 0 {
                return Err(Failed::Attempt(0));
            }
            sleep(Duration::from_secs(10)).await;
        }
        Ok(attempt.hedge())
    }

    assert_eq!(call().await, Ok(1));
    let seen = SEEN.lock().unwrap().clone();
    let numbers: Vec<(u32, u32)> = seen.iter().map(|s| (s.1, s.2)).collect();
    assert_eq!(
        numbers,
        [(0, 0), (0, 1), (1, 0)],
        "(hedge, retry) of each attempt"
    );
    assert!(
        seen.iter().all(|s| s.0 == seen[0].0),
        "one call id: {seen:?}"
    );
}

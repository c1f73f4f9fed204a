//! `#[retry]` through the facade, on tokio's paused clock.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use common::{offsets_ms, Runs, ServiceError};
use resilience::{circuit_breaker, retry};
use tokio::time::Instant;

#[tokio::test(start_paused = true)]
async fn succeeds_after_transient_failures_with_the_exact_number_of_runs() {
    static RUNS: Runs = Runs::new();
    #[retry(max = 3, base = "100ms", jitter = "none")]
    async fn call() -> Result<&'static str, ServiceError> {
        if RUNS.hit() < 3 {
            Err(ServiceError::Unavailable)
        } else {
            Ok("done")
        }
    }

    assert_eq!(call().await, Ok("done"));
    assert_eq!(RUNS.get(), 3);
}

#[tokio::test(start_paused = true)]
async fn gives_up_after_max_plus_one_attempts_with_the_last_error() {
    static RUNS: Runs = Runs::new();
    #[retry(max = 3, base = "10ms")]
    async fn call() -> Result<(), Attempt> {
        Err(Attempt(RUNS.hit()))
    }

    assert_eq!(call().await, Err(Attempt(4)), "the last attempt's error");
    assert_eq!(RUNS.get(), 4);
}

/// An error that says which attempt produced it.
#[derive(Debug, PartialEq)]
struct Attempt(usize);

impl From<resilience::Rejected> for Attempt {
    fn from(_: resilience::Rejected) -> Self {
        Attempt(0)
    }
}

#[tokio::test(start_paused = true)]
async fn delays_double_exactly_without_jitter() {
    static STARTS: std::sync::Mutex<Vec<Instant>> = std::sync::Mutex::new(Vec::new());
    #[retry(max = 3, base = "100ms", jitter = "none")]
    async fn call() -> Result<(), ServiceError> {
        STARTS.lock().unwrap().push(Instant::now());
        Err(ServiceError::Unavailable)
    }

    let begin = Instant::now();
    call().await.unwrap_err();
    let offsets = offsets_ms(&STARTS, begin);
    assert_eq!(offsets, [0, 100, 300, 700]);
    assert_eq!(
        begin.elapsed(),
        Duration::from_millis(700),
        "no sleep after the last attempt"
    );
}

#[tokio::test(start_paused = true)]
async fn delays_are_capped_at_max_delay() {
    static STARTS: std::sync::Mutex<Vec<Instant>> = std::sync::Mutex::new(Vec::new());
    #[retry(max = 5, base = "100ms", max_delay = "250ms", jitter = "none")]
    async fn call() -> Result<(), ServiceError> {
        STARTS.lock().unwrap().push(Instant::now());
        Err(ServiceError::Unavailable)
    }

    call().await.unwrap_err();
    let starts = STARTS.lock().unwrap();
    let gaps: Vec<u128> = starts
        .windows(2)
        .map(|w| (w[1] - w[0]).as_millis())
        .collect();
    assert_eq!(gaps, [100, 200, 250, 250, 250]);
}

/// Runs `call` (which fails once, then succeeds) many times and returns each call's delay.
async fn first_delays<F, Fut>(calls: usize, call: F) -> Vec<Duration>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), ServiceError>>,
{
    let mut delays = Vec::with_capacity(calls);
    for _ in 0..calls {
        let begin = Instant::now();
        call().await.unwrap();
        delays.push(begin.elapsed());
    }
    delays
}

/// A body that fails every other run: each call retries exactly once.
fn fail_on_odd(counter: &AtomicU32) -> Result<(), ServiceError> {
    if counter.fetch_add(1, Ordering::SeqCst) % 2 == 0 {
        Err(ServiceError::Unavailable)
    } else {
        Ok(())
    }
}

fn assert_varied_within(delays: &[Duration], low: Duration, high: Duration) {
    for delay in delays {
        assert!(
            (low..=high).contains(delay),
            "{delay:?} outside [{low:?}, {high:?}]"
        );
    }
    // tokio's timer has millisecond resolution, so the paused clock shows whole milliseconds.
    let distinct: HashSet<_> = delays.iter().collect();
    assert!(distinct.len() >= 20, "jitter varies: {distinct:?}");
}

#[tokio::test(start_paused = true)]
async fn full_jitter_stays_in_zero_to_delay_and_varies() {
    static COUNT: AtomicU32 = AtomicU32::new(0);
    // Every call retries once: far past the default budget, which this test is not about.
    #[retry(max = 1, base = "100ms", jitter = "full", budget = "none")]
    async fn call() -> Result<(), ServiceError> {
        fail_on_odd(&COUNT)
    }
    let delays = first_delays(200, call).await;
    assert_varied_within(&delays, Duration::ZERO, Duration::from_millis(100));
}

#[tokio::test(start_paused = true)]
async fn equal_jitter_stays_in_half_to_delay_and_varies() {
    static COUNT: AtomicU32 = AtomicU32::new(0);
    #[retry(max = 1, base = "100ms", jitter = "equal", budget = "none")]
    async fn call() -> Result<(), ServiceError> {
        fail_on_odd(&COUNT)
    }
    let delays = first_delays(200, call).await;
    assert_varied_within(
        &delays,
        Duration::from_millis(50),
        Duration::from_millis(100),
    );
}

#[tokio::test(start_paused = true)]
async fn decorrelated_jitter_stays_in_base_to_three_times_base_and_varies() {
    static COUNT: AtomicU32 = AtomicU32::new(0);
    #[retry(max = 1, base = "100ms", max_delay = "10s", jitter = "decorrelated")]
    async fn call() -> Result<(), ServiceError> {
        fail_on_odd(&COUNT)
    }
    let delays = first_delays(200, call).await;
    assert_varied_within(
        &delays,
        Duration::from_millis(100),
        Duration::from_millis(300),
    );
}

#[tokio::test(start_paused = true)]
async fn retry_if_returns_other_errors_at_once_without_sleeping() {
    static RUNS: Runs = Runs::new();
    fn transient(error: &ServiceError) -> bool {
        *error == ServiceError::Unavailable
    }
    #[retry(max = 5, base = "1s", retry_if = transient)]
    async fn call(error: ServiceError) -> Result<(), ServiceError> {
        RUNS.hit();
        Err(error)
    }

    let begin = Instant::now();
    assert_eq!(
        call(ServiceError::BadRequest).await,
        Err(ServiceError::BadRequest)
    );
    assert_eq!(RUNS.get(), 1);
    assert_eq!(begin.elapsed(), Duration::ZERO);
    call(ServiceError::Unavailable).await.unwrap_err();
    assert_eq!(RUNS.get(), 1 + 6);
}

#[tokio::test(start_paused = true)]
async fn first_attempt_success_costs_no_delay() {
    #[retry(max = 3, base = "1s")]
    async fn call() -> Result<u8, ServiceError> {
        Ok(1)
    }
    let begin = Instant::now();
    assert_eq!(call().await, Ok(1));
    assert_eq!(begin.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn owned_arguments_are_fresh_for_every_attempt() {
    static SEEN: std::sync::Mutex<Vec<(String, Vec<u8>)>> = std::sync::Mutex::new(Vec::new());
    #[retry(max = 2, base = "1ms")]
    async fn call(mut name: String, mut bytes: Vec<u8>) -> Result<(), ServiceError> {
        // The body consumes and mutates its arguments; the next attempt must not see that.
        name.push('!');
        bytes.push(0);
        let mut seen = SEEN.lock().unwrap();
        seen.push((name, bytes));
        if seen.len() < 3 {
            Err(ServiceError::Unavailable)
        } else {
            Ok(())
        }
    }

    call("pay".to_string(), vec![1, 2]).await.unwrap();
    let seen = SEEN.lock().unwrap();
    assert_eq!(seen.len(), 3);
    for (name, bytes) in seen.iter() {
        assert_eq!(name, "pay!");
        assert_eq!(bytes, &[1, 2, 0]);
    }
}

struct Client {
    attempts: u32,
    fail_until: u32,
}

impl Client {
    #[retry(max = 4, base = "10ms")]
    async fn by_ref(&self, counter: &AtomicU32) -> Result<u32, ServiceError> {
        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
        if n < self.fail_until {
            Err(ServiceError::Unavailable)
        } else {
            Ok(n)
        }
    }

    #[retry(max = 4, base = "10ms")]
    async fn by_mut(&mut self, label: String) -> Result<String, ServiceError> {
        self.attempts += 1;
        if self.attempts < self.fail_until {
            Err(ServiceError::Unavailable)
        } else {
            Ok(format!("{label}#{}", self.attempts))
        }
    }
}

#[tokio::test(start_paused = true)]
async fn methods_on_ref_and_mut_self_retry() {
    let counter = AtomicU32::new(0);
    let mut client = Client {
        attempts: 0,
        fail_until: 3,
    };
    assert_eq!(client.by_ref(&counter).await, Ok(3));
    assert_eq!(client.by_mut("charge".into()).await, Ok("charge#3".into()));
    assert_eq!(client.attempts, 3);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_future_during_backoff_stops_all_attempts() {
    static RUNS: Runs = Runs::new();
    #[retry(max = 10, base = "1s", jitter = "none")]
    async fn call() -> Result<(), ServiceError> {
        RUNS.hit();
        Err(ServiceError::Unavailable)
    }

    // Runs at 0 s and 1 s, then sleeps 2 s; give up at 1.5 s, in the middle of that backoff.
    let outcome = tokio::time::timeout(Duration::from_millis(1_500), call()).await;
    assert!(outcome.is_err());
    assert_eq!(RUNS.get(), 2);
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(RUNS.get(), 2, "no attempt after the future was dropped");
}

#[tokio::test(start_paused = true)]
async fn an_open_circuit_ends_the_retrying_at_once() {
    static RUNS: Runs = Runs::new();
    #[retry(max = 5, base = "100ms", jitter = "none")]
    #[circuit_breaker(threshold = 2, timeout = "1h")]
    async fn call() -> Result<(), ServiceError> {
        RUNS.hit();
        Err(ServiceError::Unavailable)
    }

    let begin = Instant::now();
    let error = call().await.unwrap_err();
    assert!(error.is_circuit_open(), "{error:?}");
    assert_eq!(
        RUNS.get(),
        2,
        "two failures opened it; the third attempt was rejected"
    );
    assert_eq!(
        begin.elapsed(),
        Duration::from_millis(100 + 200),
        "no sleep after the rejection"
    );
    // A later call is rejected on its first attempt and returns without sleeping.
    let begin = Instant::now();
    assert!(call().await.unwrap_err().is_circuit_open());
    assert_eq!(begin.elapsed(), Duration::ZERO);
    assert_eq!(RUNS.get(), 2);
}

/// The retry state a call keeps in its future is a few words: the backoff and the timer are
/// allocated at the first retry. Issue 20's target: at most 64 bytes over the plain function.
#[test]
fn a_call_future_is_at_most_64_bytes_larger_than_the_plain_functions() {
    #[allow(clippy::unused_async)] // the plain async fn, as the annotated one is written
    async fn plain(x: u64) -> Result<u64, ServiceError> {
        Ok(x)
    }
    #[retry]
    async fn retried(x: u64) -> Result<u64, ServiceError> {
        Ok(x)
    }
    #[retry(max_elapsed = "1s", context = attempt)]
    async fn with_deadline(x: u64) -> Result<u64, ServiceError> {
        Ok(x + u64::from(attempt.number()))
    }

    let plain = std::mem::size_of_val(&plain(1));
    let retried = std::mem::size_of_val(&retried(1));
    assert!(retried <= plain + 64, "{retried} bytes, plain {plain}");
    // `context` adds the attempt (its number and call id: 24 bytes), kept by the loop and
    // copied into the attempt's body, and nothing else.
    let with_deadline = std::mem::size_of_val(&with_deadline(1));
    assert!(
        with_deadline <= retried + 48,
        "{with_deadline} bytes, {retried} without"
    );
}

/// Retries after the first reuse the backoff and the timer allocated for it: the delays and
/// the `max_elapsed` deadline still hold across them.
#[tokio::test(start_paused = true)]
async fn later_retries_keep_the_backoff_and_the_deadline_of_the_first() {
    static RUNS: Runs = Runs::new();
    #[retry(max = 10, base = "100ms", jitter = "none", max_elapsed = "1s")]
    async fn call() -> Result<(), ServiceError> {
        RUNS.hit();
        Err(ServiceError::Unavailable)
    }

    let begin = Instant::now();
    assert_eq!(call().await, Err(ServiceError::Unavailable));
    // 100 + 200 + 400 = 700 ms; the next retry (800 ms) would start past 1 s.
    assert_eq!(RUNS.get(), 4);
    assert_eq!(begin.elapsed(), Duration::from_millis(700));
}

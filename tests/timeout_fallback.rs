//! `#[timeout]` and `#[fallback]` through the facade, on tokio's paused clock.

// Fallbacks are async fns by contract, even those that answer without awaiting.
#![allow(clippy::unused_async)]

mod common;

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use common::{offsets_ms, Runs, ServiceError};
use resilience::{circuit_breaker, fallback, retry, timeout, Rejected};
use tokio::time::{sleep, Instant};

#[tokio::test(start_paused = true)]
async fn a_slow_call_is_cut_off_at_exactly_the_limit_and_not_left_running() {
    static FINISHED: AtomicBool = AtomicBool::new(false);
    #[timeout("2s")]
    async fn call() -> Result<(), ServiceError> {
        sleep(Duration::from_secs(5)).await;
        FINISHED.store(true, Ordering::SeqCst);
        Ok(())
    }

    let begin = Instant::now();
    match call().await {
        Err(ServiceError::Rejected(Rejected::TimedOut { after, name, .. })) => {
            assert_eq!(after, Duration::from_secs(2));
            assert!(name.ends_with("call"), "{name}");
        }
        other => panic!("expected TimedOut, got {other:?}"),
    }
    assert_eq!(begin.elapsed(), Duration::from_secs(2));
    sleep(Duration::from_secs(10)).await;
    assert!(
        !FINISHED.load(Ordering::SeqCst),
        "the body was dropped, not left running"
    );
}

/// The limit's timer is polled outside tokio's cooperative budget: a body that spends the
/// task's whole budget on every poll still times out (with the timer under the budget, it
/// would find no budget left each time and never fire).
#[tokio::test(start_paused = true)]
async fn a_body_that_spends_the_task_budget_on_every_poll_still_times_out() {
    static ROUNDS: AtomicU32 = AtomicU32::new(0);
    #[timeout("50ms")]
    async fn busy() -> Result<(), ServiceError> {
        loop {
            ROUNDS.fetch_add(1, Ordering::SeqCst);
            tokio::task::coop::consume_budget().await;
        }
    }

    // The body never idles the runtime, so the paused clock would not advance by itself: this
    // task moves it whenever the body yields.
    let clock = tokio::spawn(async {
        loop {
            tokio::time::advance(Duration::from_millis(10)).await;
        }
    });
    let begin = Instant::now();
    let outcome = tokio::time::timeout(Duration::from_secs(60), busy())
        .await
        .expect("the #[timeout] fired before the test's own bound");
    clock.abort();
    assert!(
        matches!(
            outcome,
            Err(ServiceError::Rejected(Rejected::TimedOut { .. }))
        ),
        "{outcome:?}"
    );
    assert!(
        begin.elapsed() >= Duration::from_millis(50),
        "{:?}",
        begin.elapsed()
    );
    assert!(
        ROUNDS.load(Ordering::SeqCst) > 1,
        "the body ran until the limit"
    );
}

#[tokio::test(start_paused = true)]
async fn a_fast_call_is_untouched() {
    #[timeout(limit = "2s")]
    async fn call() -> Result<u8, ServiceError> {
        sleep(Duration::from_millis(1_999)).await;
        Ok(7)
    }
    assert_eq!(call().await, Ok(7));
}

#[tokio::test(start_paused = true)]
async fn timeouts_trip_an_outer_breaker() {
    static RUNS: Runs = Runs::new();
    #[circuit_breaker(threshold = 2, timeout = "1m")]
    #[timeout("100ms")]
    async fn call() -> Result<(), ServiceError> {
        RUNS.hit();
        sleep(Duration::from_secs(1)).await;
        Ok(())
    }

    assert!(call().await.unwrap_err().is_timed_out());
    assert!(call().await.unwrap_err().is_timed_out());
    assert!(call().await.unwrap_err().is_circuit_open());
    assert_eq!(RUNS.get(), 2);
}

#[tokio::test(start_paused = true)]
async fn retry_gives_every_attempt_the_full_limit() {
    static STARTS: std::sync::Mutex<Vec<Instant>> = std::sync::Mutex::new(Vec::new());
    #[retry(max = 2, base = "10ms", jitter = "none")]
    #[timeout("100ms")]
    async fn call() -> Result<(), ServiceError> {
        let attempt = {
            let mut starts = STARTS.lock().unwrap();
            starts.push(Instant::now());
            starts.len()
        };
        // The first two attempts take 150 ms (cut off at 100 ms); the third takes 90 ms.
        sleep(Duration::from_millis(if attempt < 3 { 150 } else { 90 })).await;
        Ok(())
    }

    let begin = Instant::now();
    call().await.unwrap();
    let offsets = offsets_ms(&STARTS, begin);
    assert_eq!(offsets, [0, 110, 230]);
    assert_eq!(begin.elapsed(), Duration::from_millis(320));
}

async fn cached_quote(
    sku: String,
    quantity: u32,
    error: ServiceError,
) -> Result<String, ServiceError> {
    let why = if error.is_circuit_open() {
        "open"
    } else {
        "failed"
    };
    Ok(format!("cached {quantity} x {sku} ({why})"))
}

#[tokio::test(start_paused = true)]
async fn fallback_answers_a_failure_and_an_open_circuit_with_the_original_arguments() {
    static RUNS: Runs = Runs::new();
    #[fallback(cached_quote)]
    #[circuit_breaker(threshold = 1, timeout = "1m")]
    async fn quote(sku: String, quantity: u32) -> Result<String, ServiceError> {
        RUNS.hit();
        let _ = (sku, quantity);
        Err(ServiceError::Unavailable)
    }

    assert_eq!(
        quote("book".into(), 2).await.unwrap(),
        "cached 2 x book (failed)"
    );
    assert_eq!(
        quote("pen".into(), 5).await.unwrap(),
        "cached 5 x pen (open)"
    );
    assert_eq!(RUNS.get(), 1);
}

#[tokio::test(start_paused = true)]
async fn fallback_is_not_called_on_success() {
    static FALLBACKS: Runs = Runs::new();
    async fn never(_error: ServiceError) -> Result<u8, ServiceError> {
        FALLBACKS.hit();
        Ok(0)
    }
    #[fallback(never)]
    async fn call() -> Result<u8, ServiceError> {
        Ok(1)
    }
    assert_eq!(call().await, Ok(1));
    assert_eq!(FALLBACKS.get(), 0);
}

#[tokio::test(start_paused = true)]
async fn fallback_if_limits_the_fallback_to_some_errors() {
    fn only_outages(error: &ServiceError) -> bool {
        *error == ServiceError::Unavailable
    }
    async fn zero(_asked: ServiceError, _error: ServiceError) -> Result<u8, ServiceError> {
        Ok(0)
    }
    #[fallback(zero, fallback_if = only_outages)]
    async fn call(error: ServiceError) -> Result<u8, ServiceError> {
        Err(error)
    }
    assert_eq!(call(ServiceError::Unavailable).await, Ok(0));
    assert_eq!(
        call(ServiceError::BadRequest).await,
        Err(ServiceError::BadRequest)
    );
}

/// While the fallback runs, the call's future holds the fallback's future and nothing of the
/// failed attempt: not the error, which the fallback's future already owns. With an error of
/// a kilobyte, keeping it beside the fallback would double the future.
#[tokio::test(start_paused = true)]
async fn a_fallback_future_does_not_keep_the_error_beside_the_fallback() {
    #[derive(Debug)]
    struct Large([u8; 1024]);
    impl From<Rejected> for Large {
        fn from(_: Rejected) -> Self {
            Large([0; 1024])
        }
    }
    async fn recover(error: Large) -> Result<u8, Large> {
        tokio::task::yield_now().await;
        Ok(error.0[0])
    }
    #[fallback(recover)]
    async fn call() -> Result<u8, Large> {
        Err(Large([1; 1024]))
    }

    let recovering = std::mem::size_of_val(&recover(Large([0; 1024])));
    let size = std::mem::size_of_val(&call());
    assert!(
        size < recovering + 64,
        "{size} bytes; the fallback's future alone is {recovering}"
    );
    assert_eq!(
        call().await.unwrap(),
        1,
        "the fallback answered with the error's byte"
    );
}

struct Catalog {
    cached: u64,
}

impl Catalog {
    async fn cached_price(&self, _sku: &str, _error: ServiceError) -> Result<u64, ServiceError> {
        Ok(self.cached)
    }

    #[fallback(Self::cached_price)]
    #[timeout("50ms")]
    async fn price(&self, sku: &str) -> Result<u64, ServiceError> {
        sleep(Duration::from_secs(1)).await;
        Ok(sku.len() as u64)
    }
}

#[tokio::test(start_paused = true)]
async fn fallback_method_on_self_answers_a_timeout() {
    let catalog = Catalog { cached: 99 };
    let begin = Instant::now();
    assert_eq!(catalog.price("book").await, Ok(99));
    assert_eq!(begin.elapsed(), Duration::from_millis(50));
}

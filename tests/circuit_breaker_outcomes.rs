//! `#[circuit_breaker]`: which outcomes count, and when (`ignore_if`), through the facade on
//! tokio's paused clock.

mod common;

use std::time::Duration;

use common::{Runs, ServiceError};
use resilience::circuit_breaker;
use tokio::time::advance;

fn is_bad_request(error: &ServiceError) -> bool {
    matches!(error, ServiceError::BadRequest)
}

fn is_unavailable(error: &ServiceError) -> bool {
    matches!(error, ServiceError::Unavailable)
}

#[tokio::test(start_paused = true)]
async fn ignore_if_records_an_error_as_neither_success_nor_failure() {
    static RUNS: Runs = Runs::new();
    #[circuit_breaker(threshold = 2, timeout = "10s", ignore_if = is_bad_request)]
    async fn call(error: Option<ServiceError>) -> Result<(), ServiceError> {
        RUNS.hit();
        error.map_or(Ok(()), Err)
    }

    call(Some(ServiceError::Unavailable)).await.unwrap_err();
    for _ in 0..4 {
        assert_eq!(
            call(Some(ServiceError::BadRequest)).await,
            Err(ServiceError::BadRequest)
        );
    }
    call(Some(ServiceError::Unavailable)).await.unwrap_err();
    assert!(
        call(None).await.unwrap_err().is_circuit_open(),
        "the bad requests did not reset the count of failures"
    );
    assert_eq!(RUNS.get(), 6);

    // Half-open: a bad request is the trial's outcome, but says nothing; the place is given
    // back, and the next caller's success closes the breaker.
    advance(Duration::from_secs(10)).await;
    assert_eq!(
        call(Some(ServiceError::BadRequest)).await,
        Err(ServiceError::BadRequest)
    );
    call(None).await.unwrap();
    call(Some(ServiceError::Unavailable)).await.unwrap_err();
    call(None).await.unwrap();
    assert_eq!(RUNS.get(), 10, "closed again: every call ran");
}

#[tokio::test(start_paused = true)]
async fn ignore_if_wins_over_failure_if() {
    static RUNS: Runs = Runs::new();
    // `failure_if` alone would count the bad request as a success (it is not `Unavailable`).
    #[circuit_breaker(threshold = 2, failure_if = is_unavailable, ignore_if = is_bad_request)]
    async fn call(error: ServiceError) -> Result<(), ServiceError> {
        RUNS.hit();
        Err(error)
    }

    call(ServiceError::Unavailable).await.unwrap_err();
    call(ServiceError::BadRequest).await.unwrap_err();
    call(ServiceError::Unavailable).await.unwrap_err();
    assert!(call(ServiceError::Unavailable)
        .await
        .unwrap_err()
        .is_circuit_open());
    assert_eq!(RUNS.get(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_slow_success_resets_failures_in_completion_order() {
    static RUNS: Runs = Runs::new();
    #[circuit_breaker(threshold = 3, timeout = "10s")]
    async fn call(fail: bool, takes: Duration) -> Result<(), ServiceError> {
        RUNS.hit();
        tokio::time::sleep(takes).await;
        if fail {
            Err(ServiceError::Unavailable)
        } else {
            Ok(())
        }
    }

    // The slow call is admitted first (`join!` polls it first), then two failures complete,
    // then it succeeds, then one more failure: three failures, never three in a row.
    let (slow, ()) = tokio::join!(call(false, Duration::from_secs(5)), async {
        call(true, Duration::ZERO).await.unwrap_err();
        call(true, Duration::ZERO).await.unwrap_err();
    });
    slow.unwrap();
    call(true, Duration::ZERO).await.unwrap_err();
    call(false, Duration::ZERO).await.unwrap();
    assert_eq!(RUNS.get(), 5, "never opened");
}

#[tokio::test(start_paused = true)]
async fn timeout_max_doubles_the_open_period_after_each_failed_trial() {
    static RUNS: Runs = Runs::new();
    #[circuit_breaker(threshold = 1, timeout = "10s", timeout_max = "25s", name = "backoff")]
    async fn call(fail: bool) -> Result<(), ServiceError> {
        RUNS.hit();
        common::answer(fail)
    }

    let retry_after = |error: ServiceError| match error {
        ServiceError::Rejected(resilience::Rejected::CircuitOpen { retry_after, .. }) => {
            retry_after
        }
        other => panic!("expected CircuitOpen, got {other:?}"),
    };
    call(true).await.unwrap_err();
    for period in [10, 20, 25, 25] {
        let period = Duration::from_secs(period);
        assert_eq!(retry_after(call(false).await.unwrap_err()), Some(period));
        let breaker = resilience::monitor::breaker("backoff").expect("registered");
        assert_eq!(breaker.open_period(), period);
        advance(period.saturating_sub(Duration::from_millis(1))).await;
        assert!(call(false).await.unwrap_err().is_circuit_open());
        advance(Duration::from_millis(1)).await;
        call(true).await.unwrap_err(); // the trial fails
    }
    advance(Duration::from_secs(25)).await;
    call(false).await.unwrap(); // the trial succeeds: closed, the period reset
    call(true).await.unwrap_err();
    assert_eq!(
        retry_after(call(false).await.unwrap_err()),
        Some(Duration::from_secs(10))
    );
    assert_eq!(RUNS.get(), 7);
}

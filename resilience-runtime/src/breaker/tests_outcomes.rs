//! How outcomes are recorded beyond a plain success or failure: errors classified as
//! [`ErrorClass::Ignored`] (the attribute's `ignore_if`), and successes that complete after
//! failures admitted later (completion order).

use std::sync::atomic::AtomicUsize;

use tokio::time::advance;

use super::tests::{consecutive, fail, rate, rejected, succeed, OPEN_FOR};
use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HttpError {
    BadRequest,
    NotFound,
    Unavailable,
}

/// 400 is ignored, 404 is an answer (a success), anything else a failure. By reference: the
/// signature `run` calls it with.
#[allow(clippy::trivially_copy_pass_by_ref)]
fn classify(error: &HttpError) -> ErrorClass {
    match error {
        HttpError::BadRequest => ErrorClass::Ignored,
        HttpError::NotFound => ErrorClass::Succeeded,
        HttpError::Unavailable => ErrorClass::Failed,
    }
}

/// Runs a body returning `error` through `breaker`, classified by [`classify`].
async fn erring(breaker: &CircuitBreaker, runs: &AtomicUsize, error: HttpError) {
    let result = breaker
        .run(
            async {
                runs.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(Failure::Error(error))
            },
            classify,
        )
        .await;
    assert!(
        matches!(result, Err(Failure::Error(e)) if e == error),
        "{result:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn ignored_errors_neither_reset_nor_extend_a_run_of_failures() {
    let breaker = CircuitBreaker::new(consecutive(3, 1));
    let runs = AtomicUsize::new(0);
    erring(&breaker, &runs, HttpError::Unavailable).await;
    for _ in 0..5 {
        erring(&breaker, &runs, HttpError::BadRequest).await;
    }
    erring(&breaker, &runs, HttpError::Unavailable).await;
    assert_eq!(
        breaker.state(),
        BreakerState::Closed,
        "two failures: the ignored errors did not count"
    );
    for _ in 0..5 {
        erring(&breaker, &runs, HttpError::BadRequest).await;
    }
    erring(&breaker, &runs, HttpError::Unavailable).await;
    assert_eq!(
        breaker.state(),
        BreakerState::Open,
        "the third failure: the ignored errors did not reset the count"
    );
    assert_eq!(runs.load(Ordering::SeqCst), 13);

    // A success (the 404) does reset it, as `false` from `failure_if` always did.
    let breaker = CircuitBreaker::new(consecutive(2, 1));
    erring(&breaker, &runs, HttpError::Unavailable).await;
    erring(&breaker, &runs, HttpError::NotFound).await;
    erring(&breaker, &runs, HttpError::Unavailable).await;
    assert_eq!(breaker.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn half_open_trial_ending_ignored_gives_its_place_back() {
    let breaker = CircuitBreaker::new(consecutive(1, 1));
    let runs = AtomicUsize::new(0);
    fail(&breaker);
    advance(OPEN_FOR).await;
    for _ in 0..3 {
        erring(&breaker, &runs, HttpError::BadRequest).await;
        assert_eq!(
            breaker.state(),
            BreakerState::HalfOpen,
            "an ignored trial neither closes nor reopens"
        );
    }
    assert_eq!(
        runs.load(Ordering::SeqCst),
        3,
        "each was admitted as the trial"
    );
    let trial = breaker.try_acquire().expect("the place was given back");
    assert_eq!(rejected(&breaker), None, "and is now held");
    trial.success();
    assert_eq!(breaker.state(), BreakerState::Closed);

    // And an ignored trial does not close a breaker whose other trial then fails.
    let breaker = CircuitBreaker::new(consecutive(1, 2));
    fail(&breaker);
    advance(OPEN_FOR).await;
    erring(&breaker, &runs, HttpError::BadRequest).await;
    erring(&breaker, &runs, HttpError::NotFound).await;
    assert_eq!(
        breaker.state(),
        BreakerState::HalfOpen,
        "one success of two"
    );
    erring(&breaker, &runs, HttpError::Unavailable).await;
    assert_eq!(rejected(&breaker), Some(OPEN_FOR));
}

#[tokio::test(start_paused = true)]
async fn ignored_errors_take_no_place_in_a_failure_rate_window() {
    let breaker = CircuitBreaker::new(rate(0.5, 4, 4));
    let runs = AtomicUsize::new(0);
    succeed(&breaker);
    succeed(&breaker);
    for _ in 0..10 {
        erring(&breaker, &runs, HttpError::BadRequest).await;
    }
    erring(&breaker, &runs, HttpError::Unavailable).await;
    assert_eq!(
        breaker.state(),
        BreakerState::Closed,
        "3 recorded < min_calls 4"
    );
    erring(&breaker, &runs, HttpError::Unavailable).await;
    assert_eq!(breaker.state(), BreakerState::Open, "S S F F: 2 of 4");
    assert_eq!(runs.load(Ordering::SeqCst), 12);
}

#[tokio::test(start_paused = true)]
async fn a_success_resets_the_failures_that_completed_before_it() {
    // Failure, failure, a slow call admitted before them that succeeds, failure: the slow
    // success resets the count when it completes, so threshold 3 is not reached.
    let breaker = CircuitBreaker::new(consecutive(3, 1));
    let slow = breaker
        .try_acquire()
        .expect("closed, no failure counted yet");
    fail(&breaker);
    fail(&breaker);
    slow.success();
    fail(&breaker);
    assert_eq!(breaker.state(), BreakerState::Closed);
    fail(&breaker);
    assert_eq!(breaker.state(), BreakerState::Closed, "two in a row");
    fail(&breaker);
    assert_eq!(breaker.state(), BreakerState::Open, "three in a row");

    // Through `run`, with the slow call held across the failures by the paused clock.
    let breaker = CircuitBreaker::new(consecutive(3, 1));
    let runs = AtomicUsize::new(0);
    let slow = breaker.run(
        async {
            runs.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(OPEN_FOR).await;
            Ok::<_, Failure<HttpError>>(7)
        },
        classify,
    );
    // `join!` polls the slow call first: it is admitted and sleeps while the failures run.
    let (slow, ()) = tokio::join!(slow, async {
        erring(&breaker, &runs, HttpError::Unavailable).await;
        erring(&breaker, &runs, HttpError::Unavailable).await;
        advance(OPEN_FOR).await;
    });
    assert_eq!(slow.expect("succeeded"), 7);
    erring(&breaker, &runs, HttpError::Unavailable).await;
    assert_eq!(breaker.state(), BreakerState::Closed);
    assert_eq!(runs.load(Ordering::SeqCst), 4);
}

#[tokio::test(start_paused = true)]
async fn a_success_from_an_earlier_phase_resets_nothing() {
    // The slow success completes after the breaker opened and closed again: it belongs to
    // the first closed phase and must not reset the second one's count.
    let breaker = CircuitBreaker::new(consecutive(2, 1));
    let slow = breaker.try_acquire().unwrap();
    fail(&breaker);
    fail(&breaker);
    advance(OPEN_FOR).await;
    succeed(&breaker); // the trial closes it: a new closed generation
    fail(&breaker);
    slow.success();
    fail(&breaker);
    assert_eq!(breaker.state(), BreakerState::Open);
}

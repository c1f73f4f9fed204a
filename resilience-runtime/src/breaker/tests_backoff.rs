//! The open-period backoff (`timeout_max`): doubling on each failed half-open phase, the cap,
//! and the reset on closing, with calls just before and after each deadline.

use tokio::time::advance;

use super::state::Word;
use super::tests::{consecutive, fail, rejected, OPEN_FOR};
use super::*;

const MS: Duration = Duration::from_millis(1);

/// Threshold 1, one trial, open for 10 s doubling up to 35 s.
fn backing_off() -> CircuitBreaker {
    CircuitBreaker::new(consecutive(1, 1).with_open_for_max(Duration::from_secs(35)))
}

/// Asserts the breaker rejects until exactly `period` after now, then admits a trial.
async fn open_for_exactly(breaker: &CircuitBreaker, period: Duration) -> BreakerPermit<'_> {
    assert_eq!(breaker.open_period(), period);
    assert_eq!(
        rejected(breaker),
        Some(period),
        "retry_after is the whole period"
    );
    advance(period.saturating_sub(MS)).await;
    assert_eq!(rejected(breaker), Some(MS), "1 ms before the deadline");
    advance(MS).await;
    breaker.try_acquire().expect("at the deadline: a trial")
}

#[tokio::test(start_paused = true)]
async fn each_failed_trial_doubles_the_open_period_up_to_the_cap() {
    let breaker = backing_off();
    fail(&breaker);
    open_for_exactly(&breaker, OPEN_FOR).await.failure();
    open_for_exactly(&breaker, 2 * OPEN_FOR).await.failure();
    // 40 s, capped at 35 s; and it stays there.
    open_for_exactly(&breaker, Duration::from_secs(35))
        .await
        .failure();
    let trial = open_for_exactly(&breaker, Duration::from_secs(35)).await;
    trial.success();
    assert_eq!(breaker.state(), BreakerState::Closed);
    assert_eq!(breaker.open_period(), OPEN_FOR, "closing resets the period");

    // The next opening starts again from `timeout`.
    fail(&breaker);
    open_for_exactly(&breaker, OPEN_FOR).await.failure();
    open_for_exactly(&breaker, 2 * OPEN_FOR).await.success();
    assert_eq!(breaker.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn trials_that_give_their_place_back_do_not_double_it() {
    let breaker = backing_off();
    fail(&breaker);
    let trial = open_for_exactly(&breaker, OPEN_FOR).await;
    trial.ignore();
    drop(breaker.try_acquire().expect("the place was given back")); // cancelled
    breaker.try_acquire().expect("and again").failure();
    open_for_exactly(&breaker, 2 * OPEN_FOR).await.failure();
    assert_eq!(
        breaker.open_period(),
        Duration::from_secs(35),
        "40 s, capped"
    );
}

#[tokio::test(start_paused = true)]
async fn a_taken_over_phase_keeps_the_backoff() {
    let breaker = backing_off();
    fail(&breaker);
    open_for_exactly(&breaker, OPEN_FOR).await.failure();
    let hung = open_for_exactly(&breaker, 2 * OPEN_FOR).await;
    // The takeover waits one `timeout` (not the backed-off period), and keeps the level.
    advance(OPEN_FOR).await;
    let trial = breaker.try_acquire().expect("taken over");
    hung.failure(); // stale
    assert_eq!(breaker.open_period(), 2 * OPEN_FOR);
    trial.failure();
    assert_eq!(rejected(&breaker), Some(Duration::from_secs(35)));
}

#[tokio::test(start_paused = true)]
async fn reset_and_forcing_reset_the_backoff() {
    for control in [
        CircuitBreaker::reset as fn(&CircuitBreaker),
        CircuitBreaker::force_open,
        CircuitBreaker::force_closed,
    ] {
        let breaker = backing_off();
        fail(&breaker);
        open_for_exactly(&breaker, OPEN_FOR).await.failure();
        assert_eq!(breaker.open_period(), 2 * OPEN_FOR);
        control(&breaker);
        assert_eq!(breaker.open_period(), OPEN_FOR);
        breaker.reset();
        fail(&breaker);
        assert_eq!(rejected(&breaker), Some(OPEN_FOR));
    }
}

#[tokio::test(start_paused = true)]
async fn without_timeout_max_the_period_never_grows() {
    let breaker = CircuitBreaker::new(consecutive(1, 1));
    fail(&breaker);
    for _ in 0..5 {
        open_for_exactly(&breaker, OPEN_FOR).await.failure();
    }
    open_for_exactly(&breaker, OPEN_FOR).await.success();
    assert_eq!(breaker.state(), BreakerState::Closed);
}

#[test]
fn the_doubling_saturates_instead_of_overflowing() {
    let config = consecutive(1, 1)
        .with_open_for(Duration::from_nanos(3))
        .with_open_for_max(Duration::MAX);
    assert_eq!(config.open_for_max(), Duration::from_nanos(u64::MAX));
    assert_eq!(config.open_period(0), Duration::from_nanos(3));
    assert_eq!(config.open_period(31), Duration::from_nanos(3 << 31));
    assert_eq!(config.open_period(63), Duration::from_nanos(u64::MAX));
    assert_eq!(config.open_period(64), Duration::from_nanos(u64::MAX));
    // The word keeps at most 31 doublings.
    let word = Word::CLOSED.with_level(40);
    assert_eq!(word.level(), 31);
    assert_eq!(word.with_level(0).level(), 0);
    // A cap below `open_for` is read as `open_for`.
    let config = consecutive(1, 1).with_open_for_max(Duration::from_secs(1));
    assert_eq!(config.open_period(3), OPEN_FOR);
}

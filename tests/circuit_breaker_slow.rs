//! `#[circuit_breaker(slow_call = "...", slow_call_rate = R)]`: slow calls, through the facade
//! on tokio's paused clock.

mod common;

use std::time::Duration;

use common::{Runs, ServiceError};
use resilience::circuit_breaker;
use resilience::monitor::{self, BreakerState, InstanceConfig};
use tokio::time::{advance, sleep};

const MS: Duration = Duration::from_millis(1);

#[tokio::test(start_paused = true)]
async fn slow_successes_open_a_consecutive_breaker_after_threshold() {
    static RUNS: Runs = Runs::new();
    #[circuit_breaker(threshold = 2, slow_call = "2s", name = "slow-consecutive")]
    async fn call(took: Duration) -> Result<u32, ServiceError> {
        RUNS.hit();
        sleep(took).await;
        Ok(7)
    }

    assert_eq!(call(Duration::from_secs(3)).await, Ok(7));
    assert_eq!(call(Duration::from_secs(1)).await, Ok(7), "fast: resets");
    assert_eq!(call(Duration::from_secs(3)).await, Ok(7));
    let breaker = monitor::breaker("slow-consecutive").unwrap();
    assert_eq!(
        breaker.state(),
        BreakerState::Closed,
        "one slow call of two"
    );
    assert_eq!(call(Duration::from_secs(3)).await, Ok(7));
    assert_eq!(breaker.state(), BreakerState::Open);
    assert!(call(MS).await.unwrap_err().is_circuit_open());
    assert_eq!(RUNS.get(), 4, "the open breaker ran nothing");
}

#[tokio::test(start_paused = true)]
async fn a_call_exactly_at_slow_call_is_not_slow_and_one_ms_over_is() {
    static RUNS: Runs = Runs::new();
    #[circuit_breaker(threshold = 1, slow_call = "1500ms", name = "slow-boundary")]
    async fn call(took: Duration) -> Result<(), ServiceError> {
        RUNS.hit();
        sleep(took).await;
        Ok(())
    }

    call(Duration::from_millis(1500)).await.unwrap();
    call(Duration::from_millis(1500)).await.unwrap();
    let breaker = monitor::breaker("slow-boundary").unwrap();
    assert_eq!(breaker.state(), BreakerState::Closed);
    call(Duration::from_millis(1501)).await.unwrap();
    assert_eq!(breaker.state(), BreakerState::Open);
    assert_eq!(RUNS.get(), 3);
}

#[tokio::test(start_paused = true)]
async fn the_slow_rate_opens_a_window_breaker_while_the_failure_rate_does_not() {
    static RUNS: Runs = Runs::new();
    #[circuit_breaker(
        failure_rate = 0.5,
        window = 4,
        slow_call = "1s",
        slow_call_rate = 0.75,
        name = "slow-window"
    )]
    async fn call(took: Duration, fail: bool) -> Result<(), ServiceError> {
        RUNS.hit();
        sleep(took).await;
        common::answer(fail)
    }

    let slow = Duration::from_secs(2);
    call(slow, false).await.unwrap();
    call(slow, true).await.unwrap_err(); // a slow failure: one of each
    call(slow, false).await.unwrap();
    let snapshot = monitor::snapshot()
        .into_iter()
        .find(|s| s.name == "slow-window")
        .unwrap();
    assert_eq!(
        snapshot.state,
        Some(BreakerState::Closed),
        "3 < min_calls 4"
    );
    assert_eq!(snapshot.slow_rate, Some(1.0));
    let InstanceConfig::CircuitBreaker(config) = snapshot.config else {
        panic!("a breaker's configuration")
    };
    assert_eq!(config.slow_call(), Some(Duration::from_secs(1)));
    assert!((config.slow_call_rate() - 0.75).abs() < f64::EPSILON);

    call(MS, false).await.unwrap();
    let breaker = monitor::breaker("slow-window").unwrap();
    assert_eq!(
        breaker.state(),
        BreakerState::Open,
        "3 slow of 4 (0.75) with 1 failure of 4 (0.25)"
    );
    assert!(call(MS, false).await.unwrap_err().is_circuit_open());
    assert_eq!(RUNS.get(), 4);
}

#[tokio::test(start_paused = true)]
async fn a_slow_half_open_trial_fails_the_trial() {
    static RUNS: Runs = Runs::new();
    #[circuit_breaker(threshold = 1, timeout = "10s", slow_call = "2s", name = "slow-trial")]
    async fn call(took: Duration, fail: bool) -> Result<(), ServiceError> {
        RUNS.hit();
        sleep(took).await;
        common::answer(fail)
    }

    call(MS, true).await.unwrap_err();
    advance(Duration::from_secs(10)).await;
    call(Duration::from_secs(3), false).await.unwrap();
    let breaker = monitor::breaker("slow-trial").unwrap();
    assert_eq!(breaker.state(), BreakerState::Open, "the slow trial failed");
    assert!(call(MS, false).await.unwrap_err().is_circuit_open());
    advance(Duration::from_secs(10)).await;
    call(MS, false).await.unwrap();
    assert_eq!(
        breaker.state(),
        BreakerState::Closed,
        "a fast trial closes it"
    );
    assert_eq!(RUNS.get(), 3);
}

#[tokio::test(start_paused = true)]
async fn overrides_switch_slow_calls_on_within_the_limits() {
    static RUNS: Runs = Runs::new();
    #[circuit_breaker(failure_rate = 1.0, window = 2, name = "slow-overridden")]
    async fn call(took: Duration) -> Result<(), ServiceError> {
        RUNS.hit();
        sleep(took).await;
        Ok(())
    }

    let refused = resilience::monitor::configure([
        ("slow-overridden/circuit_breaker/slow_call", "500ms"),
        ("slow-overridden/circuit_breaker/slow_call_rate", "0.5"),
        ("slow-overridden/circuit_breaker/slow_call_rate", "2"),
        ("slow-overridden/circuit_breaker/slow_call", "0s"),
    ])
    .unwrap_err();
    assert_eq!(refused.len(), 2, "{refused:?}");
    call(MS).await.unwrap();
    call(Duration::from_secs(1)).await.unwrap();
    let breaker = monitor::breaker("slow-overridden").unwrap();
    assert_eq!(
        breaker.config().slow_call(),
        Some(Duration::from_millis(500))
    );
    assert_eq!(breaker.state(), BreakerState::Open, "1 slow of 2 at 0.5");
    assert_eq!(RUNS.get(), 2);
}

//! `#[circuit_breaker(failure_rate = R, window = "30s", buckets = N)]`: the time window,
//! through the facade on tokio's paused clock.

mod common;

use std::time::Duration;

use common::{Runs, ServiceError};
use resilience::circuit_breaker;
use resilience::monitor::{self, BreakerState, InstanceConfig};
use resilience::runtime::TripPolicy;
use tokio::time::{advance, sleep};

const SECOND: Duration = Duration::from_secs(1);

#[tokio::test(start_paused = true)]
async fn min_calls_defaults_to_twenty_in_a_time_window() {
    static RUNS: Runs = Runs::new();
    #[circuit_breaker(failure_rate = 0.5, window = "30s", name = "tw-default")]
    async fn call() -> Result<(), ServiceError> {
        RUNS.hit();
        Err(ServiceError::Unavailable)
    }

    for _ in 0..19 {
        assert_eq!(call().await, Err(ServiceError::Unavailable));
    }
    let breaker = monitor::breaker("tw-default").unwrap();
    assert_eq!(breaker.state(), BreakerState::Closed, "19 < 20");
    assert_eq!(call().await, Err(ServiceError::Unavailable));
    assert_eq!(breaker.state(), BreakerState::Open, "20 of 20");
    assert!(call().await.unwrap_err().is_circuit_open());
    assert_eq!(RUNS.get(), 20, "the open breaker ran nothing");
    assert_eq!(
        breaker.config().policy(),
        TripPolicy::TimeWindow {
            failure_rate: 0.5,
            window: 30 * SECOND,
            buckets: 10,
            min_calls: 20,
        }
    );
}

#[tokio::test(start_paused = true)]
async fn failures_inside_the_window_open_it_and_spread_wider_do_not() {
    static RUNS: Runs = Runs::new();
    #[circuit_breaker(
        failure_rate = 0.5,
        window = "10s",
        buckets = 5,
        min_calls = 4,
        name = "tw-spread"
    )]
    async fn call(fail: bool) -> Result<u32, ServiceError> {
        RUNS.hit();
        if fail {
            Err(ServiceError::Unavailable)
        } else {
            Ok(1)
        }
    }

    // Four failures 4 s apart: the window (8 to 10 s) never holds more than three.
    for _ in 0..4 {
        assert_eq!(call(true).await, Err(ServiceError::Unavailable));
        advance(4 * SECOND).await;
    }
    let breaker = monitor::breaker("tw-spread").unwrap();
    assert_eq!(breaker.state(), BreakerState::Closed);
    // Two successes and two failures within 6 s: half of four.
    advance(20 * SECOND).await;
    assert_eq!(call(false).await, Ok(1));
    advance(2 * SECOND).await;
    assert_eq!(call(false).await, Ok(1));
    advance(2 * SECOND).await;
    assert_eq!(call(true).await, Err(ServiceError::Unavailable));
    assert_eq!(breaker.state(), BreakerState::Closed, "3 < min_calls");
    advance(2 * SECOND).await;
    assert_eq!(call(true).await, Err(ServiceError::Unavailable));
    assert_eq!(breaker.state(), BreakerState::Open);
    assert!(call(false).await.unwrap_err().is_circuit_open());
    assert_eq!(RUNS.get(), 8);
}

#[tokio::test(start_paused = true)]
async fn snapshots_show_the_time_windows_rates() {
    #[circuit_breaker(
        failure_rate = 0.9,
        window = "1m",
        slow_call = "2s",
        slow_call_rate = 0.9,
        name = "tw-snapshot"
    )]
    async fn call(fail: bool, took: Duration) -> Result<(), ServiceError> {
        sleep(took).await;
        if fail {
            Err(ServiceError::Unavailable)
        } else {
            Ok(())
        }
    }

    call(true, SECOND).await.unwrap_err();
    call(false, 3 * SECOND).await.unwrap();
    call(false, SECOND).await.unwrap();
    call(false, SECOND).await.unwrap();
    let snapshot = monitor::snapshot()
        .into_iter()
        .find(|s| s.name == "tw-snapshot")
        .unwrap();
    assert_eq!(snapshot.failure_rate, Some(0.25));
    assert_eq!(snapshot.slow_rate, Some(0.25));
    let InstanceConfig::CircuitBreaker(config) = snapshot.config else {
        panic!("a breaker's snapshot");
    };
    assert!(matches!(
        config.policy(),
        TripPolicy::TimeWindow {
            buckets: 10,
            min_calls: 20,
            ..
        }
    ));
    advance(61 * SECOND).await;
    let snapshot = monitor::snapshot()
        .into_iter()
        .find(|s| s.name == "tw-snapshot")
        .unwrap();
    assert_eq!(snapshot.failure_rate, None, "the window moved past them");
}

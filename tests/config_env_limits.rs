//! Environment overrides meet the attributes' limits: a value an attribute could not take is
//! refused at the instance's first call, and the compiled value stays. In a test binary of
//! its own: the process environment is shared, so nothing else runs here while it changes.

mod common;

use common::{Runs, ServiceError};
use resilience::runtime::TripPolicy;
use resilience::{bulkhead, circuit_breaker, monitor, retry};

static RETRIED: Runs = Runs::new();

#[retry(max = 3, base = "1ms")]
async fn switched_off() -> Result<(), ServiceError> {
    RETRIED.hit();
    Err(ServiceError::Unavailable)
}

#[tokio::test(start_paused = true)]
async fn out_of_range_environment_overrides_are_refused_and_max_zero_switches_retries_off() {
    #[circuit_breaker(failure_rate = 0.5, name = "env-window")]
    async fn windowed() -> Result<(), ServiceError> {
        Ok(())
    }
    #[bulkhead(max = 2, max_wait = "50ms", name = "env-wait")]
    async fn pooled() -> Result<(), ServiceError> {
        Ok(())
    }

    let window = monitor::env_key("env-window", "circuit_breaker", "window");
    let max_wait = monitor::env_key("env-wait", "bulkhead", "max_wait");
    let retries = monitor::env_key("config_env_limits::switched_off", "retry", "max");
    // Single-threaded here: no other thread reads the environment while it changes.
    std::env::set_var(&window, "4000000000");
    std::env::set_var(&max_wait, "0.5ns");
    std::env::set_var(&retries, "0");

    windowed().await.unwrap();
    pooled().await.unwrap();
    switched_off().await.unwrap_err();

    assert_eq!(RETRIED.get(), 1, "max = 0: a single attempt");
    assert_eq!(
        monitor::breaker("env-window").unwrap().config().policy(),
        TripPolicy::FailureRate {
            failure_rate: 0.5,
            window: 100,
            min_calls: 100
        },
        "the compiled window, not 4e9 bits allocated at the first call"
    );
    let pool = monitor::bulkhead("env-wait").unwrap().config();
    assert_eq!(pool.max_wait(), Some(std::time::Duration::from_millis(50)));

    let errors = monitor::override_errors();
    let reasons: Vec<_> = errors
        .iter()
        .map(|e| (e.key.as_str(), e.reason.as_str()))
        .collect();
    assert_eq!(
        reasons,
        [
            (window.as_str(), "`window` must be at most 16777216"),
            (
                max_wait.as_str(),
                "`0.5ns` is finer than a nanosecond; durations are whole nanoseconds"
            ),
        ]
    );
}

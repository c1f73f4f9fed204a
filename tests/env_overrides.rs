//! Environment-variable overrides, in a test binary of their own: the process environment is
//! shared, so nothing else runs here while it changes.

mod common;

use common::{Runs, ServiceError};
use resilience::{circuit_breaker, monitor};

#[tokio::test(start_paused = true)]
async fn environment_overrides_apply_at_first_use_and_bad_ones_are_reported() {
    static GOOD: Runs = Runs::new();
    #[circuit_breaker(threshold = 1, name = "env-good")]
    async fn good() -> Result<(), ServiceError> {
        GOOD.hit();
        Err(ServiceError::Unavailable)
    }
    static BAD: Runs = Runs::new();
    #[circuit_breaker(threshold = 2, name = "env-bad")]
    async fn bad() -> Result<(), ServiceError> {
        BAD.hit();
        Err(ServiceError::Unavailable)
    }

    let good_key = monitor::env_key("env-good", "circuit_breaker", "threshold");
    let bad_key = monitor::env_key("env-bad", "circuit_breaker", "threshold");
    assert_eq!(good_key, "RESILIENCE_ENV_GOOD_CIRCUIT_BREAKER_THRESHOLD");
    // Single-threaded here: no other thread reads the environment while it changes.
    std::env::set_var(&good_key, "4");
    std::env::set_var(&bad_key, "zero");

    for _ in 0..4 {
        good().await.unwrap_err();
    }
    assert!(good().await.unwrap_err().is_circuit_open());
    assert_eq!(
        GOOD.get(),
        4,
        "opened after the overriding 4 failures, not the compiled 1"
    );

    for _ in 0..2 {
        bad().await.unwrap_err();
    }
    assert!(bad().await.unwrap_err().is_circuit_open());
    assert_eq!(
        BAD.get(),
        2,
        "a bad override leaves the compiled threshold of 2"
    );
    let errors = monitor::override_errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].key, bad_key);
    assert_eq!(errors[0].value, "zero");
    assert!(errors[0].reason.contains("whole number"), "{}", errors[0]);
}

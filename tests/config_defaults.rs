//! One set of defaults: a bare attribute compiles to exactly the configuration the runtime's
//! `*Config::new` builds. Both take their values from `resilience_config`, so they cannot
//! drift apart; these tests pin that through the public surface.

mod common;

use common::ServiceError;
use resilience::monitor::InstanceConfig;
use resilience::runtime::{BreakerConfig, BulkheadConfig, InstanceName, RetryConfig, TripPolicy};
use resilience::{bulkhead, circuit_breaker, monitor, retry};

/// The registered name of the instance of `kind` guarding the function `function`.
fn name_of(kind: &str, function: &str) -> &'static str {
    monitor::snapshot()
        .into_iter()
        .find(|s| s.kind.as_str() == kind && s.name.ends_with(function))
        .unwrap_or_else(|| panic!("no {kind} for {function}"))
        .name
}

#[tokio::test]
async fn a_bare_circuit_breaker_has_the_runtime_default_configuration() {
    #[circuit_breaker]
    async fn bare_breaker() -> Result<(), ServiceError> {
        Ok(())
    }

    bare_breaker().await.unwrap();
    let name = name_of("circuit_breaker", "::bare_breaker");
    let config = monitor::breaker(name).unwrap().config();
    let default = BreakerConfig::new(InstanceName::given(name));
    assert_eq!(config.policy(), default.policy());
    assert_eq!(config.open_for(), default.open_for());
    assert_eq!(config.half_open(), default.half_open());
    assert_eq!(format!("{config:?}"), format!("{default:?}"), "every field");
}

#[tokio::test]
async fn a_failure_rate_breaker_defaults_its_window_and_min_calls() {
    #[circuit_breaker(failure_rate = 0.5)]
    async fn rate_breaker() -> Result<(), ServiceError> {
        Ok(())
    }

    rate_breaker().await.unwrap();
    let name = name_of("circuit_breaker", "::rate_breaker");
    let config = monitor::breaker(name).unwrap().config();
    assert_eq!(
        config.policy(),
        TripPolicy::FailureRate {
            failure_rate: 0.5,
            window: 100,
            min_calls: 100
        },
        "window 100, min_calls = window"
    );
}

#[tokio::test]
async fn a_bare_retry_has_the_runtime_default_configuration() {
    #[retry]
    async fn bare_retry() -> Result<(), ServiceError> {
        Ok(())
    }

    bare_retry().await.unwrap();
    let name = name_of("retry", "::bare_retry");
    let config = monitor::snapshot()
        .into_iter()
        .find_map(|instance| match instance.config {
            InstanceConfig::Retry(config) if instance.name == name => Some(config),
            _ => None,
        })
        .unwrap();
    let default = RetryConfig::new(InstanceName::given(name));
    assert_eq!(
        (
            config.max(),
            config.base(),
            config.max_delay(),
            config.jitter()
        ),
        (
            default.max(),
            default.base(),
            default.max_delay(),
            default.jitter()
        )
    );
    assert_eq!(format!("{config:?}"), format!("{default:?}"), "every field");
}

#[tokio::test]
async fn a_bulkhead_with_only_max_has_the_runtime_default_configuration() {
    #[bulkhead(max = 4)]
    async fn bare_bulkhead() -> Result<(), ServiceError> {
        Ok(())
    }

    bare_bulkhead().await.unwrap();
    let name = name_of("bulkhead", "::bare_bulkhead");
    let config = monitor::bulkhead(name).unwrap().config();
    let default = BulkheadConfig::new(InstanceName::given(name), 4);
    assert_eq!(
        (config.max(), config.max_wait(), config.queue()),
        (default.max(), default.max_wait(), default.queue())
    );
    assert_eq!(format!("{config:?}"), format!("{default:?}"), "every field");
}

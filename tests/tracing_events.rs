//! `tracing` events, in a test binary of their own: tracing caches each callsite's interest
//! process-wide, so events emitted by concurrently running tests with no subscriber could
//! race with this test's thread-local subscriber.

mod common;

use std::sync::{Arc, Mutex};

use common::events::{fields, OnEvent};
use common::ServiceError;
use resilience::{circuit_breaker, hedge, rate_limit, retry};

#[test]
fn transitions_rejections_and_retries_are_tracing_events() {
    #[retry(max = 1, base = "10ms", jitter = "none")]
    #[circuit_breaker(threshold = 2, timeout = "1s", name = "traced")]
    async fn call() -> Result<(), ServiceError> {
        Err(ServiceError::Unavailable)
    }
    // No budget for any retry: the first failure is returned, reported with cause `budget`.
    #[retry(max = 3, budget = 0, budget_min = 0, name = "penniless")]
    async fn penniless() -> Result<(), ServiceError> {
        Err(ServiceError::Unavailable)
    }
    #[rate_limit(rate = 1, max_wait = "0s", name = "traced-quota")]
    async fn quota() -> Result<(), ServiceError> {
        Ok(())
    }

    // Budget 0.5: the first call's hedge is refused, the second's is sent and wins.
    #[hedge(delay = "10ms", budget = 0.5, name = "traced-hedge", context = attempt)]
    async fn hedged() -> Result<(), ServiceError> {
        let latency = if attempt.is_hedge() { 5 } else { 100 };
        tokio::time::sleep(std::time::Duration::from_millis(latency)).await;
        Ok(())
    }

    let events = events_of(|| async {
        call().await.unwrap_err(); // fails, retries once, fails: the breaker opens
        call().await.unwrap_err(); // rejected: the retry stops at once
        penniless().await.unwrap_err();
        quota().await.unwrap();
        quota().await.unwrap_err(); // over the quota
        hedged().await.unwrap();
        hedged().await.unwrap();
    });
    let has = |needle: &str| events.iter().any(|e| e.contains(needle));
    assert!(
        has("message=retrying name=") && has("delay_ms=10 cause=\"error\""),
        "{events:#?}"
    );
    assert!(
        has(r#"message=circuit breaker state changed name="traced" from="closed" to="open""#),
        "{events:#?}"
    );
    assert!(
        has(r#"message=call rejected name="traced" reason="circuit_open""#),
        "{events:#?}"
    );
    assert!(
        has(r#"message=retries exhausted name="penniless" attempts=1 cause="budget""#),
        "{events:#?}"
    );
    assert!(
        has(r#"message=call rejected name="traced-quota" reason="rate_limited""#),
        "{events:#?}"
    );
    assert!(
        has(r#"message=hedge budget exhausted name="traced-hedge""#),
        "{events:#?}"
    );
    assert!(
        has(r#"message=hedging name="traced-hedge" attempt=1 delay_ms=10"#),
        "{events:#?}"
    );
    assert!(
        has(r#"message=hedge won name="traced-hedge""#),
        "{events:#?}"
    );
}

#[test]
fn a_keyed_instances_events_carry_its_key() {
    #[rate_limit(rate = 1, max_wait = "0s", key = tenant, name = "traced-keyed")]
    async fn quota(tenant: u32) -> Result<(), ServiceError> {
        let _ = tenant;
        Ok(())
    }

    let events = events_of(|| async {
        quota(41).await.unwrap();
        quota(41).await.unwrap_err();
        quota(42).await.unwrap();
    });
    assert_eq!(
        events,
        [r#" message=call rejected name="traced-keyed" key="41" reason="rate_limited""#],
        "one rejection, of tenant 41"
    );
}

/// The events `calls` emits (their fields, as `fields` renders them), run on a paused
/// current-thread runtime.
fn events_of<F: std::future::Future<Output = ()>>(calls: impl FnOnce() -> F) -> Vec<String> {
    let capture = Arc::new(Mutex::new(Vec::new()));
    let captured = Arc::clone(&capture);
    let _guard = tracing::subscriber::set_default(OnEvent(move |event: &tracing::Event<'_>| {
        captured.lock().unwrap().push(fields(event));
    }));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(calls());
    let events = capture.lock().unwrap().clone();
    events
}

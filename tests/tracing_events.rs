//! `tracing` events, in a test binary of their own: tracing caches each callsite's interest
//! process-wide, so events emitted by concurrently running tests with no subscriber could
//! race with this test's thread-local subscriber.

mod common;

use std::sync::{Arc, Mutex};

use common::ServiceError;
use resilience::{circuit_breaker, retry};

/// A `tracing` subscriber that keeps every event's message and fields.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<String>>>);

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Fields(String);
        impl tracing::field::Visit for Fields {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                use std::fmt::Write;
                let _ = write!(self.0, " {}={value:?}", field.name());
            }
        }
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        self.0.lock().unwrap().push(fields.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[test]
fn transitions_rejections_and_retries_are_tracing_events() {
    #[retry(max = 1, base = "10ms", jitter = "none")]
    #[circuit_breaker(threshold = 2, timeout = "1s", name = "traced")]
    async fn call() -> Result<(), ServiceError> {
        Err(ServiceError::Unavailable)
    }

    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async {
        call().await.unwrap_err(); // fails, retries once, fails: the breaker opens
        call().await.unwrap_err(); // rejected: the retry stops at once
    });
    let events = capture.0.lock().unwrap().clone();
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
}

//! A `tracing` subscriber may call annotated functions while it is told about a refused
//! override: no lock of the runtime is held while the warning is emitted. In a test binary of
//! its own: tracing caches each callsite's interest process-wide, and the environment
//! variable below is process-wide too.

mod common;

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};
use std::time::Duration;

use common::{Runs, ServiceError};
use resilience::{bulkhead, circuit_breaker, monitor, retry};

static TRIGGER: Runs = Runs::new();

#[circuit_breaker(threshold = 2, name = "reentrant-trigger")]
async fn trigger() -> Result<(), ServiceError> {
    TRIGGER.hit();
    Ok(())
}

static INNER: Runs = Runs::new();

/// Two instances of their own, first called from inside the subscriber.
#[retry(max = 1, base = "1ms")]
#[bulkhead(max = 1, name = "reentrant-inner")]
async fn inner() -> Result<(), ServiceError> {
    INNER.hit();
    Ok(())
}

/// Polls a future that needs no waking (every call here completes on its first poll).
fn poll_once<F: Future>(future: F) -> Option<F::Output> {
    fn raw() -> RawWaker {
        fn clone(_: *const ()) -> RawWaker {
            raw()
        }
        fn noop(_: *const ()) {}
        static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, noop, noop, noop);
        RawWaker::new(std::ptr::null(), &VTABLE)
    }
    // SAFETY: every function of the vtable ignores the data pointer.
    let waker = unsafe { Waker::from_raw(raw()) };
    match pin!(future).poll(&mut Context::from_waker(&waker)) {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

/// On the warning about a refused override, calls annotated functions: one not called yet
/// (its first call resolves and registers instances) and the one whose first call this is.
#[derive(Clone, Default)]
struct CallsBack(Arc<AtomicUsize>);

impl tracing::Subscriber for CallsBack {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let is_override = event
            .metadata()
            .fields()
            .iter()
            .any(|field| field.name() == "key");
        if is_override && self.0.fetch_add(1, Ordering::SeqCst) == 0 {
            assert_eq!(poll_once(inner()), Some(Ok(())));
            assert_eq!(poll_once(trigger()), Some(Ok(())));
            assert!(!monitor::snapshot().is_empty());
            assert!(!monitor::override_errors().is_empty());
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test]
async fn a_subscriber_may_call_annotated_functions_from_an_override_warning() {
    let key = monitor::env_key("reentrant-trigger", "circuit_breaker", "threshold");
    // The only test of this binary: no other thread reads the environment while it changes.
    std::env::set_var(&key, "zero");

    let subscriber = CallsBack::default();
    let calls = subscriber.0.clone();
    let (done, finished) = tokio::sync::oneshot::channel();
    // On a thread of its own, so a deadlock there fails the timeout below instead of hanging
    // the test.
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let outcome = tracing::subscriber::with_default(subscriber, || rt.block_on(trigger()));
        let _ = done.send(outcome);
    });
    let outcome = tokio::time::timeout(Duration::from_secs(10), finished)
        .await
        .expect("deadlocked: the override warning ran under a lock")
        .expect("the calling thread panicked");
    assert_eq!(outcome, Ok(()));

    assert_eq!(calls.load(Ordering::SeqCst), 1, "one refused override");
    assert_eq!((TRIGGER.get(), INNER.get()), (2, 1));
    let errors = monitor::override_errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(
        (errors[0].key.as_str(), errors[0].value.as_str()),
        (key.as_str(), "zero")
    );
    assert!(
        monitor::bulkhead("reentrant-inner").is_some(),
        "registered from inside the subscriber"
    );
}

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

use common::events::OnEvent;
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
/// Counts the warnings in `calls`.
fn calls_back(calls: Arc<AtomicUsize>) -> impl Fn(&tracing::Event<'_>) + Send + Sync + 'static {
    move |event| {
        let is_override = event
            .metadata()
            .fields()
            .iter()
            .any(|field| field.name() == "key");
        if is_override && calls.fetch_add(1, Ordering::SeqCst) == 0 {
            assert_eq!(poll_once(inner()), Some(Ok(())));
            assert_eq!(poll_once(trigger()), Some(Ok(())));
            assert!(!monitor::snapshot().is_empty());
            assert!(!monitor::override_errors().is_empty());
        }
    }
}

#[tokio::test]
async fn a_subscriber_may_call_annotated_functions_from_an_override_warning() {
    let key = monitor::env_key("reentrant-trigger", "circuit_breaker", "threshold");
    // The only test of this binary: no other thread reads the environment while it changes.
    std::env::set_var(&key, "zero");

    let calls = Arc::new(AtomicUsize::new(0));
    let subscriber = OnEvent(calls_back(Arc::clone(&calls)));
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

//! The `tower` layers behave as the attributes of the same name do, and share their state:
//! open rejects without calling the service, a half-open trial, the bulkhead's bound with a
//! `poll_ready` that never blocks, rate spacing, retries of a cloned request, timeouts.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use resilience::monitor::{self, BreakerState};
use resilience::runtime::{
    BreakerConfig, BulkheadConfig, InstanceName, RateLimitConfig, TripPolicy,
};
use resilience::tower::{
    BoxError, BulkheadLayer, CircuitBreakerLayer, RateLimitLayer, RetryLayer, TimeoutLayer,
};
use resilience::{circuit_breaker, Rejected};
use tokio::time::Instant;
use tower::{service_fn, Service, ServiceBuilder, ServiceExt};

/// A service that counts its calls and fails its first `fail_first` calls.
fn counted(
    calls: &Arc<AtomicUsize>,
    fail_first: usize,
) -> impl Service<
    u32,
    Response = u32,
    Error = BoxError,
    Future = impl Send + std::future::Future<Output = Result<u32, BoxError>>,
> + Clone {
    let calls = Arc::clone(calls);
    service_fn(move |request: u32| {
        let call = calls.fetch_add(1, Ordering::SeqCst);
        async move {
            if call < fail_first {
                Err::<u32, BoxError>("unavailable".into())
            } else {
                Ok(request)
            }
        }
    })
}

fn rejected(error: &BoxError) -> Option<&Rejected> {
    error.downcast_ref::<Rejected>()
}

fn breaker(name: &'static str, threshold: u32, open_for: Duration) -> CircuitBreakerLayer {
    CircuitBreakerLayer::new(
        BreakerConfig::new(InstanceName::given(name))
            .with_policy(TripPolicy::Consecutive { threshold })
            .with_open_for(open_for),
    )
}

#[tokio::test(start_paused = true)]
async fn open_breaker_rejects_without_calling_the_service() {
    let calls = Arc::new(AtomicUsize::new(0));
    let mut service = ServiceBuilder::new()
        .layer(breaker("tower-open", 2, Duration::from_secs(10)))
        .service(counted(&calls, usize::MAX));
    for _ in 0..2 {
        let error = service.ready().await.unwrap().call(1).await.unwrap_err();
        assert_eq!(error.to_string(), "unavailable");
    }
    for _ in 0..3 {
        let error = service.ready().await.unwrap().call(1).await.unwrap_err();
        match rejected(&error) {
            Some(Rejected::CircuitOpen {
                name, retry_after, ..
            }) => {
                assert_eq!(*name, "tower-open");
                assert_eq!(*retry_after, Some(Duration::from_secs(10)));
            }
            other => panic!("expected CircuitOpen, got {other:?}"),
        }
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "the open breaker never called the service"
    );
    assert_eq!(
        monitor::breaker("tower-open").unwrap().state(),
        BreakerState::Open
    );
}

#[tokio::test(start_paused = true)]
async fn half_open_admits_one_trial_and_its_success_closes() {
    let calls = Arc::new(AtomicUsize::new(0));
    let layer = breaker("tower-half-open", 1, Duration::from_secs(5));
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let trial_calls = Arc::clone(&calls);
    let trial_gate = Arc::clone(&gate);
    let service = ServiceBuilder::new()
        .layer(layer)
        .service(service_fn(move |fail: bool| {
            trial_calls.fetch_add(1, Ordering::SeqCst);
            let gate = Arc::clone(&trial_gate);
            async move {
                if fail {
                    return Err::<(), BoxError>("down".into());
                }
                drop(gate.acquire().await.unwrap());
                Ok(())
            }
        }));
    assert!(service.clone().oneshot(true).await.is_err());
    assert_eq!(layer.breaker().state(), BreakerState::Open);
    tokio::time::advance(Duration::from_secs(5)).await;

    // The trial is admitted and holds its place while it runs; the next caller is refused.
    let trial = tokio::spawn(service.clone().oneshot(false));
    tokio::task::yield_now().await;
    let refused = service.clone().oneshot(false).await.unwrap_err();
    assert!(matches!(
        rejected(&refused),
        Some(Rejected::CircuitOpen {
            retry_after: None,
            ..
        })
    ));
    assert_eq!(calls.load(Ordering::SeqCst), 2, "one failure, one trial");
    gate.add_permits(1);
    trial.await.unwrap().unwrap();
    assert_eq!(layer.breaker().state(), BreakerState::Closed);
    gate.add_permits(1);
    service.oneshot(false).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[circuit_breaker(name = "tower-shared", threshold = 2, timeout = "1m")]
async fn shared_breaker_function(runs: &AtomicUsize) -> Result<(), Rejected> {
    runs.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn layer_named_like_an_attribute_shares_its_breaker() {
    let runs = AtomicUsize::new(0);
    shared_breaker_function(&runs).await.unwrap();
    // Registered by the function first: its configuration (threshold 2) decides, not the
    // layer's defaults (threshold 3).
    let layer = CircuitBreakerLayer::named("tower-shared");
    assert!(std::ptr::eq(
        layer.breaker(),
        monitor::breaker("tower-shared").unwrap()
    ));
    let calls = Arc::new(AtomicUsize::new(0));
    let mut service = ServiceBuilder::new()
        .layer(layer)
        .service(counted(&calls, usize::MAX));
    for _ in 0..2 {
        assert!(rejected(&service.ready().await.unwrap().call(1).await.unwrap_err()).is_none());
    }
    // Two failures through the layer opened the function's breaker.
    assert!(matches!(
        shared_breaker_function(&runs).await,
        Err(Rejected::CircuitOpen {
            name: "tower-shared",
            ..
        })
    ));
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "the open breaker did not run the body"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[circuit_breaker(name = "tower-first", threshold = 5)]
async fn joins_the_layers_breaker(runs: &AtomicUsize) -> Result<(), Rejected> {
    runs.fetch_add(1, Ordering::SeqCst);
    Err(Rejected::timed_out("inner", Duration::from_secs(1)))
}

#[tokio::test(start_paused = true)]
async fn a_layer_built_first_registers_the_name_and_the_function_joins_it() {
    let layer = breaker("tower-first", 1, Duration::from_secs(30));
    let runs = AtomicUsize::new(0);
    // The function's own threshold (5) goes unused: one failure opens the layer's breaker.
    assert!(matches!(
        joins_the_layers_breaker(&runs).await,
        Err(Rejected::TimedOut { .. })
    ));
    assert_eq!(layer.breaker().state(), BreakerState::Open);
    assert!(matches!(
        joins_the_layers_breaker(&runs).await,
        Err(Rejected::CircuitOpen { .. })
    ));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert!(std::ptr::eq(
        CircuitBreakerLayer::named("tower-first").breaker(),
        layer.breaker()
    ));
}

#[tokio::test(start_paused = true)]
async fn bulkhead_bounds_requests_in_the_service_and_poll_ready_never_blocks() {
    let inside = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let calls = Arc::new(AtomicUsize::new(0));
    let (inside_c, most_c, calls_c) = (inside.clone(), most.clone(), calls.clone());
    let mut service = ServiceBuilder::new()
        .layer(BulkheadLayer::named("tower-bulkhead", 2))
        .service(service_fn(move |n: u32| {
            let (inside, most) = (inside_c.clone(), most_c.clone());
            calls_c.fetch_add(1, Ordering::SeqCst);
            async move {
                let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(100)).await;
                inside.fetch_sub(1, Ordering::SeqCst);
                Ok::<_, BoxError>(n)
            }
        }));
    let start = Instant::now();
    let mut calls_in_flight = Vec::new();
    for n in 0..5 {
        // Ready at once even with both slots taken: the wait is in the call's future.
        let ready = tokio::time::timeout(Duration::ZERO, service.ready()).await;
        assert!(ready.is_ok(), "poll_ready blocked on a full bulkhead");
        calls_in_flight.push(tokio::spawn(service.call(n)));
    }
    for (n, call) in (0..5).zip(calls_in_flight) {
        assert_eq!(call.await.unwrap().unwrap(), n);
    }
    assert_eq!(
        most.load(Ordering::SeqCst),
        2,
        "never more than max inside the service"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 5);
    assert_eq!(
        start.elapsed(),
        Duration::from_millis(300),
        "served two at a time, in order"
    );
}

#[tokio::test(start_paused = true)]
async fn full_bulkhead_rejects_after_max_wait_without_calling_the_service() {
    let calls = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let (calls_c, gate_c) = (calls.clone(), gate.clone());
    let layer = BulkheadLayer::new(
        BulkheadConfig::new(InstanceName::given("tower-bulkhead-wait"), 1)
            .with_max_wait(Duration::from_millis(50)),
    );
    let service = ServiceBuilder::new()
        .layer(layer)
        .service(service_fn(move |()| {
            calls_c.fetch_add(1, Ordering::SeqCst);
            let gate = gate_c.clone();
            async move {
                drop(gate.acquire().await.unwrap());
                Ok::<_, BoxError>(())
            }
        }));
    let holder = tokio::spawn(service.clone().oneshot(()));
    tokio::task::yield_now().await;
    let start = Instant::now();
    let error = service.clone().oneshot(()).await.unwrap_err();
    assert!(matches!(
        rejected(&error),
        Some(Rejected::BulkheadFull { max: 1, .. })
    ));
    assert_eq!(start.elapsed(), Duration::from_millis(50));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the rejected request never reached the service"
    );
    gate.add_permits(1);
    holder.await.unwrap().unwrap();
    assert_eq!(layer.bulkhead().available(), 1, "the slot came back");
}

#[tokio::test(start_paused = true)]
async fn rate_limit_spaces_calls_of_the_service() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen_c = seen.clone();
    let start = Instant::now();
    let mut service = ServiceBuilder::new()
        .layer(RateLimitLayer::new(
            RateLimitConfig::new(InstanceName::given("tower-rate"), 5).with_burst(1),
        ))
        .service(service_fn(move |()| {
            seen_c.lock().unwrap().push(start.elapsed());
            async { Ok::<_, BoxError>(()) }
        }));
    for _ in 0..4 {
        service.ready().await.unwrap().call(()).await.unwrap();
    }
    let millis: Vec<u128> = seen
        .lock()
        .unwrap()
        .iter()
        .map(Duration::as_millis)
        .collect();
    assert_eq!(
        millis,
        [0, 200, 400, 600],
        "one call every 200 ms, each called once"
    );
}

#[tokio::test(start_paused = true)]
async fn rate_limit_rejects_a_permit_past_max_wait() {
    let calls = Arc::new(AtomicUsize::new(0));
    let mut service = ServiceBuilder::new()
        .layer(RateLimitLayer::new(
            RateLimitConfig::new(InstanceName::given("tower-rate-wait"), 1)
                .with_max_wait(Duration::ZERO),
        ))
        .service(counted(&calls, 0));
    assert_eq!(service.ready().await.unwrap().call(7).await.unwrap(), 7);
    let error = service.ready().await.unwrap().call(8).await.unwrap_err();
    assert!(matches!(
        rejected(&error),
        Some(Rejected::RateLimited { retry_after, .. }) if *retry_after == Duration::from_secs(1)
    ));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn retry_sends_a_clone_of_the_request_each_attempt() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen_c = seen.clone();
    let service = ServiceBuilder::new()
        .layer(RetryLayer::named("tower-retry"))
        .service(service_fn(move |request: String| {
            let mut seen = seen_c.lock().unwrap();
            seen.push(request.clone());
            let attempt = seen.len();
            async move {
                if attempt < 3 {
                    Err::<usize, BoxError>(format!("attempt {attempt} failed").into())
                } else {
                    Ok(request.len())
                }
            }
        }));
    assert_eq!(service.oneshot("charge 42".to_string()).await.unwrap(), 9);
    assert_eq!(
        *seen.lock().unwrap(),
        ["charge 42"; 3],
        "three attempts, the same request"
    );
}

#[tokio::test(start_paused = true)]
async fn retry_returns_the_last_error_when_attempts_run_out() {
    let calls = Arc::new(AtomicUsize::new(0));
    let service = ServiceBuilder::new()
        .layer(RetryLayer::named("tower-retry-exhausted"))
        .service(counted(&calls, usize::MAX));
    assert_eq!(
        service.oneshot(1).await.unwrap_err().to_string(),
        "unavailable"
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        4,
        "the first attempt and 3 retries"
    );
}

#[tokio::test(start_paused = true)]
async fn retry_if_declines_an_error_and_retry_stops_at_an_inner_open_circuit() {
    let calls = Arc::new(AtomicUsize::new(0));
    let declined = ServiceBuilder::new()
        .layer(
            RetryLayer::named("tower-retry-if")
                .retry_if(|error| error.to_string() != "unavailable"),
        )
        .service(counted(&calls, usize::MAX));
    assert!(declined.oneshot(1).await.is_err());
    assert_eq!(calls.load(Ordering::SeqCst), 1, "not retried");

    let calls = Arc::new(AtomicUsize::new(0));
    let stacked = ServiceBuilder::new()
        .layer(RetryLayer::named("tower-retry-breaker"))
        .layer(breaker("tower-retry-breaker", 2, Duration::from_secs(60)))
        .service(counted(&calls, usize::MAX));
    let error = stacked.oneshot(1).await.unwrap_err();
    assert!(matches!(
        rejected(&error),
        Some(Rejected::CircuitOpen { .. })
    ));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "two failures opened it; the third attempt was refused"
    );
}

#[tokio::test(start_paused = true)]
async fn timeout_drops_a_slow_call_and_an_outer_breaker_counts_it() {
    struct Dropped(Arc<AtomicUsize>);
    impl Drop for Dropped {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let dropped = Arc::new(AtomicUsize::new(0));
    let calls = Arc::new(AtomicUsize::new(0));
    let (dropped_c, calls_c) = (dropped.clone(), calls.clone());
    let layer = breaker("tower-timeout-breaker", 1, Duration::from_secs(60));
    let service = ServiceBuilder::new()
        .layer(layer)
        .layer(TimeoutLayer::named(
            "tower-timeout",
            Duration::from_millis(300),
        ))
        .service(service_fn(move |()| {
            calls_c.fetch_add(1, Ordering::SeqCst);
            let guard = Dropped(dropped_c.clone());
            async move {
                tokio::time::sleep(Duration::from_secs(5)).await;
                drop(guard);
                Ok::<_, BoxError>(())
            }
        }));
    let start = Instant::now();
    let error = service.clone().oneshot(()).await.unwrap_err();
    assert!(matches!(
        rejected(&error),
        Some(Rejected::TimedOut {
            name: "tower-timeout",
            ..
        })
    ));
    assert_eq!(start.elapsed(), Duration::from_millis(300));
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        1,
        "the slow call was dropped"
    );
    assert_eq!(
        layer.breaker().state(),
        BreakerState::Open,
        "a timeout is a failure"
    );
    assert!(matches!(
        rejected(&service.oneshot(()).await.unwrap_err()),
        Some(Rejected::CircuitOpen { .. })
    ));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn an_inner_full_bulkhead_does_not_count_against_the_outer_breaker() {
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let gate_c = gate.clone();
    let layer = breaker("tower-bulkhead-breaker", 1, Duration::from_secs(60));
    let service = ServiceBuilder::new()
        .layer(layer)
        .layer(BulkheadLayer::new(
            BulkheadConfig::new(InstanceName::given("tower-inner-bulkhead"), 1)
                .with_max_wait(Duration::ZERO),
        ))
        .service(service_fn(move |()| {
            let gate = gate_c.clone();
            async move {
                drop(gate.acquire().await.unwrap());
                Ok::<_, BoxError>(())
            }
        }));
    let holder = tokio::spawn(service.clone().oneshot(()));
    tokio::task::yield_now().await;
    let error = service.clone().oneshot(()).await.unwrap_err();
    assert!(matches!(
        rejected(&error),
        Some(Rejected::BulkheadFull { .. })
    ));
    assert_eq!(
        layer.breaker().state(),
        BreakerState::Closed,
        "local back-pressure is ignored"
    );
    gate.add_permits(1);
    holder.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn cancelled_requests_give_their_bulkhead_slot_and_place_in_the_queue_back() {
    let layer = BulkheadLayer::named("tower-cancel", 1);
    let calls = Arc::new(AtomicUsize::new(0));
    let calls_c = calls.clone();
    let service = ServiceBuilder::new()
        .layer(layer)
        .service(service_fn(move |()| {
            calls_c.fetch_add(1, Ordering::SeqCst);
            async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                Ok::<_, BoxError>(())
            }
        }));
    let running = service.clone().oneshot(());
    let queued = service.clone().oneshot(());
    let both = async { tokio::join!(running, queued) };
    assert!(
        tokio::time::timeout(Duration::from_millis(10), both)
            .await
            .is_err(),
        "cut off"
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the queued request never ran"
    );
    assert_eq!(layer.bulkhead().available(), 1);
    assert_eq!(layer.bulkhead().waiting(), 0);
}

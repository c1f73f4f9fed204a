//! No heap allocation per call on the happy path, for every attribute and for a stack of them,
//! and for a stack of the `tower` layers; for a rate limit, also when every call waits for its
//! permit.
//!
//! This test binary installs a counting global allocator: a thin wrapper around
//! [`System`] that, while counting is switched on *for the current thread*, adds one per
//! allocation (`alloc`, `alloc_zeroed`, `realloc`) to a per-thread count. The other tests of
//! this binary run on other threads and cannot add to a test's count.
//!
//! Each test builds a current-thread runtime (before counting), warms the function up, and
//! then counts [`CALLS`] more calls, all run to completion on the test's own thread inside one
//! `block_on`. Counting starts and stops inside the `block_on`, so only the calls are counted,
//! not the runtime's entry. The warm-up absorbs what a function allocates once, on its first
//! call: each layer's instance registers itself in the runtime's registry (a push onto a
//! shared `Vec`, which allocates when the `Vec` grows), and a failure-rate breaker allocates
//! its ring of outcome bits on its first recorded outcome. Without the warm-up those show up
//! as one or two allocations in total, never as one per call.
//!
//! tokio's timer does not allocate: a `tokio::time::timeout` keeps its timer entry inside
//! the future, and the timer wheel links entries intrusively, so neither creating one nor
//! arming it (the body waits once) allocates, on the first call or any later one (tokio 1.54).

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::hint::black_box;

use common::ServiceError;
use resilience::{bulkhead, circuit_breaker, fallback, hedge, rate_limit, retry, timeout};

// ---------------------------------------------------------------------------------------------
// The counting allocator.

struct CountingAllocator;

thread_local! {
    /// Whether this thread's allocations are being counted.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    /// This thread's allocations while counting was on.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

/// Counts one allocation if this thread is counting. Both thread-locals are `const`-initialised
/// `Cell`s without destructors, so reaching them never allocates (no recursion into the
/// allocator); `try_with` only fails while the thread is being torn down, when no test counts.
fn note_allocation() {
    let _ = COUNTING.try_with(|counting| {
        if counting.get() {
            ALLOCATIONS.with(|n| n.set(n.get() + 1));
        }
    });
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract holds exactly as it does for `System`; the counting itself touches
// only thread-local `Cell`s and never allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: forwarded unchanged; the caller upholds `alloc_zeroed`'s contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        // SAFETY: forwarded unchanged; the caller upholds `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged; the caller upholds `dealloc`'s contract.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Counting on this thread, from [`Counting::start`] until [`Counting::stop`].
struct Counting {
    before: usize,
}

impl Counting {
    fn start() -> Self {
        let before = ALLOCATIONS.with(Cell::get);
        COUNTING.with(|counting| counting.set(true));
        Counting { before }
    }

    /// The allocations this thread made since `start`.
    fn stop(self) -> usize {
        COUNTING.with(|counting| counting.set(false));
        ALLOCATIONS.with(Cell::get) - self.before
    }
}

// ---------------------------------------------------------------------------------------------
// The measurement.

/// Calls made before counting: enough to fill a 100-call window more than once.
const WARM_UP: u64 = 250;
/// Calls counted.
const CALLS: u64 = 1_000;

/// The allocations made by [`CALLS`] successful calls of `call`, after [`WARM_UP`] calls.
/// Every call must return `Ok(argument)`: a rejection is not the happy path.
fn allocations_in_calls<F, Fut>(call: F) -> usize
where
    F: Fn(u64) -> Fut,
    Fut: Future<Output = Result<u64, ServiceError>>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime");
    runtime.block_on(async {
        for i in 0..WARM_UP {
            assert_eq!(call(i).await, Ok(i), "warm-up call {i}");
        }
        let counting = Counting::start();
        let mut failed = None;
        for i in 0..CALLS {
            let outcome = call(black_box(i)).await;
            if outcome != Ok(i) && failed.is_none() {
                // Formatting allocates: keep the outcome and report it after counting.
                failed = Some((i, outcome));
            }
        }
        let allocations = counting.stop();
        assert_eq!(failed, None, "every counted call succeeds");
        allocations
    })
}

/// The function every test annotates, without attributes.
async fn plain(x: u64) -> Result<u64, ServiceError> {
    Ok(black_box(x))
}

/// The fallback of the `#[fallback]` tests: answers with the plain call.
async fn recover(x: u64, _error: ServiceError) -> Result<u64, ServiceError> {
    plain(x).await
}

// ---------------------------------------------------------------------------------------------
// The counter counts.

#[test]
fn the_counter_sees_one_allocation_per_call_of_a_function_that_boxes() {
    async fn boxes(x: u64) -> Result<u64, ServiceError> {
        Ok(*black_box(Box::new(x)))
    }
    assert_eq!(allocations_in_calls(boxes), usize::try_from(CALLS).unwrap());
}

#[test]
fn the_plain_function_does_not_allocate() {
    assert_eq!(allocations_in_calls(plain), 0);
}

#[test]
fn a_plain_function_that_yields_once_does_not_allocate() {
    async fn yields(x: u64) -> Result<u64, ServiceError> {
        tokio::task::yield_now().await;
        Ok(black_box(x))
    }
    assert_eq!(allocations_in_calls(yields), 0);
}

// ---------------------------------------------------------------------------------------------
// Each attribute on its happy path.

#[test]
fn a_closed_consecutive_breaker_does_not_allocate_per_call() {
    #[circuit_breaker]
    async fn call(x: u64) -> Result<u64, ServiceError> {
        Ok(black_box(x))
    }
    assert_eq!(allocations_in_calls(call), 0);
}

#[test]
fn a_closed_failure_rate_breaker_does_not_allocate_per_call_after_its_first() {
    #[circuit_breaker(failure_rate = 0.5, window = 100)]
    async fn call(x: u64) -> Result<u64, ServiceError> {
        Ok(black_box(x))
    }
    assert_eq!(allocations_in_calls(call), 0);
}

#[test]
fn a_keyed_breaker_does_not_allocate_per_call_for_a_key_already_seen() {
    const TENANTS: [&str; 3] = ["tenant-a", "tenant-b", "tenant-c"];
    // A borrowed `&str` key, compared with the stored text on every call.
    #[circuit_breaker(key = TENANTS[usize::try_from(x % 3).unwrap_or_default()])]
    async fn call(x: u64) -> Result<u64, ServiceError> {
        Ok(black_box(x))
    }
    assert_eq!(allocations_in_calls(call), 0);
}

#[test]
fn keyed_bulkheads_and_rate_limits_do_not_allocate_per_call_for_a_key_already_seen() {
    #[bulkhead(max = 16, key = x % 4)]
    #[rate_limit(rate = 1_000_000_000, key = x % 4)]
    async fn call(x: u64) -> Result<u64, ServiceError> {
        Ok(black_box(x))
    }
    assert_eq!(allocations_in_calls(call), 0);
}

#[test]
fn a_retry_with_a_copy_argument_does_not_allocate_per_call() {
    #[retry]
    async fn call(x: u64) -> Result<u64, ServiceError> {
        Ok(black_box(x))
    }
    assert_eq!(allocations_in_calls(call), 0);
}

#[test]
fn an_uncontended_bulkhead_does_not_allocate_per_call() {
    #[bulkhead(max = 16)]
    async fn call(x: u64) -> Result<u64, ServiceError> {
        Ok(black_box(x))
    }
    assert_eq!(allocations_in_calls(call), 0);
}

#[test]
fn a_timeout_that_does_not_fire_does_not_allocate_per_call() {
    #[timeout("1s")]
    async fn call(x: u64) -> Result<u64, ServiceError> {
        Ok(black_box(x))
    }
    assert_eq!(allocations_in_calls(call), 0);
}

/// The body waits once, so the time limit's timer is armed — registered with tokio's timer
/// wheel — and then cancelled when the body finishes. The entry lives inside the call's future
/// (tokio's wheel links entries intrusively), so arming it does not allocate either.
#[test]
fn a_timeout_armed_while_the_body_waits_does_not_allocate_per_call() {
    #[timeout("1s")]
    async fn call(x: u64) -> Result<u64, ServiceError> {
        tokio::task::yield_now().await;
        Ok(black_box(x))
    }
    assert_eq!(allocations_in_calls(call), 0);
}

#[test]
fn a_hedge_whose_first_attempt_answers_at_once_does_not_allocate_per_call() {
    #[hedge(delay = "50ms")]
    async fn call(x: u64) -> Result<u64, ServiceError> {
        Ok(black_box(x))
    }
    assert_eq!(allocations_in_calls(call), 0);
}

/// The first attempt waits once, so the hedge's timer is armed (inside the call's future, like
/// a timeout's) and dropped when the attempt answers, before `delay`: no hedge, no box.
#[test]
fn a_hedge_armed_while_the_first_attempt_waits_does_not_allocate_per_call() {
    #[hedge(delay = "50ms", max = 2)]
    async fn call(x: u64) -> Result<u64, ServiceError> {
        tokio::task::yield_now().await;
        Ok(black_box(x))
    }
    assert_eq!(allocations_in_calls(call), 0);
}

/// A percentile delay records every call's latency and reads the estimate when the first
/// attempt waits: atomics in the instance, nothing on the heap.
#[test]
fn a_percentile_hedge_does_not_allocate_per_call() {
    #[hedge(delay = "p99", budget = 0.0)]
    async fn call(x: u64) -> Result<u64, ServiceError> {
        tokio::task::yield_now().await;
        Ok(black_box(x))
    }
    assert_eq!(allocations_in_calls(call), 0);
}

#[test]
fn a_rate_limit_with_permits_to_spare_does_not_allocate_per_call() {
    #[rate_limit(rate = 1_000_000_000)]
    async fn call(x: u64) -> Result<u64, ServiceError> {
        Ok(black_box(x))
    }
    assert_eq!(allocations_in_calls(call), 0);
}

/// One permit per millisecond and no burst: every call after the first waits for its
/// permit, on a tokio sleep kept inside the call's future. About 1.3 s of real time.
#[test]
fn a_rate_limit_that_makes_every_call_wait_does_not_allocate_per_call() {
    #[rate_limit(rate = 1000, burst = 1)]
    async fn call(x: u64) -> Result<u64, ServiceError> {
        Ok(black_box(x))
    }
    let start = std::time::Instant::now();
    assert_eq!(allocations_in_calls(call), 0);
    let calls = u32::try_from(WARM_UP + CALLS).unwrap();
    assert!(
        start.elapsed() >= std::time::Duration::from_millis(1) * (calls - 1),
        "the calls waited for their permits, one per millisecond"
    );
}

#[test]
fn a_fallback_that_is_not_needed_does_not_allocate_per_call() {
    #[fallback(recover)]
    async fn call(x: u64) -> Result<u64, ServiceError> {
        Ok(black_box(x))
    }
    assert_eq!(allocations_in_calls(call), 0);
}

#[test]
fn named_instances_do_not_allocate_per_call_after_their_first() {
    #[circuit_breaker(name = "alloc-test-breaker")]
    #[bulkhead(max = 4, name = "alloc-test-bulkhead")]
    async fn call(x: u64) -> Result<u64, ServiceError> {
        Ok(black_box(x))
    }
    assert_eq!(allocations_in_calls(call), 0);
}

// ---------------------------------------------------------------------------------------------
// Stacked.

#[test]
fn retry_breaker_and_bulkhead_stacked_do_not_allocate_per_call() {
    #[retry]
    #[circuit_breaker]
    #[bulkhead(max = 16)]
    async fn call(x: u64) -> Result<u64, ServiceError> {
        Ok(black_box(x))
    }
    assert_eq!(allocations_in_calls(call), 0);
}

#[test]
fn every_attribute_stacked_does_not_allocate_per_call() {
    #[fallback(recover)]
    #[retry(max = 2, base = "10ms")]
    #[circuit_breaker(failure_rate = 0.5, window = 100)]
    #[rate_limit(rate = 1_000_000_000, max_wait = "1s")]
    #[hedge(delay = "p95")]
    #[bulkhead(max = 16, max_wait = "50ms")]
    #[timeout("1s")]
    async fn call(x: u64) -> Result<u64, ServiceError> {
        Ok(black_box(x))
    }
    assert_eq!(allocations_in_calls(call), 0);
}

// ---------------------------------------------------------------------------------------------
// tower layers (feature `tower`).

#[test]
fn tower_layers_stacked_do_not_allocate_per_call() {
    use resilience::tower::{
        BoxError, BulkheadLayer, CircuitBreakerLayer, RateLimitLayer, RetryLayer, TimeoutLayer,
    };
    use tower::{service_fn, ServiceBuilder, ServiceExt};

    let service = ServiceBuilder::new()
        .layer(RetryLayer::named("alloc-tower"))
        .layer(CircuitBreakerLayer::named("alloc-tower"))
        .layer(RateLimitLayer::named("alloc-tower", 1_000_000_000))
        .layer(BulkheadLayer::named("alloc-tower", 16))
        .layer(TimeoutLayer::named(
            "alloc-tower",
            std::time::Duration::from_secs(1),
        ))
        .service(service_fn(|x: u64| async move {
            Ok::<_, BoxError>(black_box(x))
        }));
    let call = |x| {
        let service = service.clone();
        async move {
            // Formatting the error would allocate; only a success is counted anyway.
            service
                .oneshot(x)
                .await
                .map_err(|_| ServiceError::Unavailable)
        }
    };
    assert_eq!(allocations_in_calls(call), 0);
}

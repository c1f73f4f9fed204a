//! Stacked attributes on client methods: written order is nesting order, outermost first.

// Fallbacks are async fns by contract, even those that answer without awaiting.
#![allow(clippy::unused_async)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{answer, Runs, ServiceError};
use resilience::{bulkhead, circuit_breaker, fallback, retry, timeout};
use tokio::time::{sleep, Instant};

/// A payment service client, the way the contract's example writes it.
struct PaymentClient {
    in_flight: AtomicUsize,
    peak: AtomicUsize,
    runs: AtomicUsize,
}

impl PaymentClient {
    fn new() -> Self {
        PaymentClient {
            in_flight: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            runs: AtomicUsize::new(0),
        }
    }

    /// Odd amounts fail on their first attempt: a transient failure that a retry clears.
    #[retry(max = 3, base = "1ms")]
    #[circuit_breaker(threshold = 20, timeout = "10s")]
    #[bulkhead(max = 2)]
    async fn charge(&self, amount: u64, attempts: Arc<AtomicUsize>) -> Result<u64, ServiceError> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(2)).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        let attempt = attempts.fetch_add(1, Ordering::SeqCst);
        if amount % 2 == 1 && attempt == 0 {
            Err(ServiceError::Unavailable)
        } else {
            Ok(amount * 100)
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payment_client_with_all_three_serves_twenty_tasks_within_the_bulkhead() {
    let client = Arc::new(PaymentClient::new());
    let tasks: Vec<_> = (0..20u64)
        .map(|amount| {
            let client = client.clone();
            tokio::spawn(async move { client.charge(amount, Arc::new(AtomicUsize::new(0))).await })
        })
        .collect();
    for (amount, task) in (0..20u64).zip(tasks) {
        assert_eq!(task.await.unwrap(), Ok(amount * 100), "amount {amount}");
    }
    assert_eq!(
        client.runs.load(Ordering::SeqCst),
        20 + 10,
        "each odd amount retried once"
    );
    assert!(client.peak.load(Ordering::SeqCst) <= 2, "the bulkhead held");
}

#[tokio::test(start_paused = true)]
async fn retry_outside_breaker_counts_every_attempt() {
    static RUNS: Runs = Runs::new();
    #[retry(max = 5, base = "1ms")]
    #[circuit_breaker(threshold = 3, timeout = "1h")]
    async fn call() -> Result<(), ServiceError> {
        RUNS.hit();
        Err(ServiceError::Unavailable)
    }
    assert!(call().await.unwrap_err().is_circuit_open());
    assert_eq!(
        RUNS.get(),
        3,
        "three attempts opened the breaker; the fourth was rejected"
    );
}

#[tokio::test(start_paused = true)]
async fn breaker_outside_retry_counts_one_failure_per_call() {
    static RUNS: Runs = Runs::new();
    #[circuit_breaker(threshold = 2, timeout = "1h")]
    #[retry(max = 2, base = "1ms")]
    async fn call() -> Result<(), ServiceError> {
        RUNS.hit();
        Err(ServiceError::Unavailable)
    }
    assert_eq!(call().await, Err(ServiceError::Unavailable));
    assert_eq!(call().await, Err(ServiceError::Unavailable));
    assert_eq!(RUNS.get(), 6, "two calls of three attempts each");
    assert!(call().await.unwrap_err().is_circuit_open());
    assert_eq!(RUNS.get(), 6);
}

#[tokio::test(start_paused = true)]
async fn bulkhead_outside_retry_holds_the_slot_through_the_backoff() {
    static RUNS: Runs = Runs::new();
    #[bulkhead(max = 1, max_wait = "0s")]
    #[retry(max = 1, base = "100ms", jitter = "none")]
    async fn call(fail_first: bool) -> Result<(), ServiceError> {
        if RUNS.hit() == 1 && fail_first {
            return Err(ServiceError::Unavailable);
        }
        Ok(())
    }
    let first = tokio::spawn(call(true));
    sleep(Duration::from_millis(50)).await; // the first call is in its backoff now
    assert!(call(false).await.unwrap_err().is_bulkhead_full());
    first.await.unwrap().unwrap();
    assert_eq!(RUNS.get(), 2);
}

#[tokio::test(start_paused = true)]
async fn retry_outside_bulkhead_frees_the_slot_between_attempts() {
    static RUNS: Runs = Runs::new();
    #[retry(max = 1, base = "100ms", jitter = "none")]
    #[bulkhead(max = 1, max_wait = "0s")]
    async fn call(fail_first: bool) -> Result<(), ServiceError> {
        if RUNS.hit() == 1 && fail_first {
            return Err(ServiceError::Unavailable);
        }
        Ok(())
    }
    let first = tokio::spawn(call(true));
    sleep(Duration::from_millis(50)).await; // the first call is in its backoff, slot free
    call(false).await.unwrap();
    first.await.unwrap().unwrap();
    assert_eq!(RUNS.get(), 3);
}

#[tokio::test(start_paused = true)]
async fn breaker_outside_bulkhead_ignores_a_full_bulkhead() {
    static RUNS: Runs = Runs::new();
    #[circuit_breaker(threshold = 1, timeout = "1h")]
    #[bulkhead(max = 1, max_wait = "0s")]
    async fn call() -> Result<(), ServiceError> {
        RUNS.hit();
        sleep(Duration::from_millis(100)).await;
        Ok(())
    }
    let holder = tokio::spawn(call());
    tokio::task::yield_now().await;
    for _ in 0..5 {
        assert!(call().await.unwrap_err().is_bulkhead_full());
    }
    holder.await.unwrap().unwrap();
    call()
        .await
        .expect("load is no failure: the breaker stayed closed");
    assert_eq!(RUNS.get(), 2);
}

#[tokio::test(start_paused = true)]
async fn bulkhead_outside_breaker_takes_a_slot_even_for_a_rejected_call() {
    static RUNS: Runs = Runs::new();
    #[bulkhead(max = 1, max_wait = "0s")]
    #[circuit_breaker(threshold = 1, timeout = "1h")]
    async fn call(fail: bool) -> Result<(), ServiceError> {
        RUNS.hit();
        answer(fail)
    }
    call(true).await.unwrap_err();
    // The breaker is open; the bulkhead admits, the breaker rejects, the slot comes back.
    for _ in 0..3 {
        assert!(call(false).await.unwrap_err().is_circuit_open());
    }
    assert_eq!(RUNS.get(), 1);
}

#[tokio::test(start_paused = true)]
async fn fallback_outside_retry_answers_only_after_the_retries() {
    static RUNS: Runs = Runs::new();
    async fn zero(_error: ServiceError) -> Result<u32, ServiceError> {
        Ok(0)
    }
    #[fallback(zero)]
    #[retry(max = 2, base = "1ms")]
    async fn call() -> Result<u32, ServiceError> {
        RUNS.hit();
        Err(ServiceError::Unavailable)
    }
    assert_eq!(call().await, Ok(0));
    assert_eq!(RUNS.get(), 3);
}

#[tokio::test(start_paused = true)]
async fn retry_outside_fallback_never_sees_an_error() {
    static RUNS: Runs = Runs::new();
    async fn zero(_error: ServiceError) -> Result<u32, ServiceError> {
        Ok(0)
    }
    #[retry(max = 2, base = "1ms")]
    #[fallback(zero)]
    async fn call() -> Result<u32, ServiceError> {
        RUNS.hit();
        Err(ServiceError::Unavailable)
    }
    assert_eq!(call().await, Ok(0));
    assert_eq!(RUNS.get(), 1);
}

/// Every order of the three, and of each pair, compiles; each serves a healthy call.
#[tokio::test(start_paused = true)]
async fn every_order_of_the_three_compiles_and_serves() {
    macro_rules! orders {
        ($($name:ident: [$($attr:meta),+];)+) => {
            $(
                $(#[$attr])+
                async fn $name(x: u32) -> Result<u32, ServiceError> {
                    Ok(x + 1)
                }
                assert_eq!($name(1).await, Ok(2), stringify!($name));
            )+
        };
    }
    orders! {
        rcb: [retry(max = 1), circuit_breaker(threshold = 2), bulkhead(max = 2)];
        rbc: [retry(max = 1), bulkhead(max = 2), circuit_breaker(threshold = 2)];
        crb: [circuit_breaker(threshold = 2), retry(max = 1), bulkhead(max = 2)];
        cbr: [circuit_breaker(threshold = 2), bulkhead(max = 2), retry(max = 1)];
        brc: [bulkhead(max = 2), retry(max = 1), circuit_breaker(threshold = 2)];
        bcr: [bulkhead(max = 2), circuit_breaker(threshold = 2), retry(max = 1)];
        rc: [retry(max = 1), circuit_breaker(threshold = 2)];
        cr: [circuit_breaker(threshold = 2), retry(max = 1)];
        rb: [retry(max = 1), bulkhead(max = 2)];
        br: [bulkhead(max = 2), retry(max = 1)];
        cb: [circuit_breaker(threshold = 2), bulkhead(max = 2)];
        bc: [bulkhead(max = 2), circuit_breaker(threshold = 2)];
        all_five: [fallback(plus_zero), retry(max = 1), circuit_breaker(threshold = 2), bulkhead(max = 2), timeout("1s")];
        timeout_first: [timeout("1s"), retry(max = 1), circuit_breaker(threshold = 2)];
    }
    async fn plus_zero(_x: u32, error: ServiceError) -> Result<u32, ServiceError> {
        Err(error)
    }
}

/// Methods of every receiver kind, generic and `impl Trait` arguments, under a full stack.
struct Inventory<T> {
    items: Vec<T>,
}

impl<T: Clone + Send + Sync + std::fmt::Debug> Inventory<T> {
    #[retry(max = 2, base = "1ms")]
    #[circuit_breaker]
    #[bulkhead(max = 4)]
    async fn add(&mut self, item: T) -> Result<usize, ServiceError> {
        self.items.push(item);
        Ok(self.items.len())
    }

    #[retry(max = 2, base = "1ms")]
    #[circuit_breaker]
    #[bulkhead(max = 4)]
    async fn describe(
        &self,
        prefix: impl AsRef<str> + Clone + Send,
    ) -> Result<String, ServiceError> {
        Ok(format!("{}{:?}", prefix.as_ref(), self.items))
    }

    #[retry(max = 2, base = "1ms")]
    #[circuit_breaker]
    #[bulkhead(max = 4)]
    async fn count(self: Arc<Self>) -> Result<usize, ServiceError> {
        Ok(self.items.len())
    }

    #[retry(max = 2, base = "1ms")]
    #[circuit_breaker]
    async fn find<F>(&self, predicate: F) -> Result<Option<T>, ServiceError>
    where
        F: Fn(&T) -> bool + Clone + Send,
    {
        Ok(self.items.iter().find(|item| predicate(item)).cloned())
    }
}

#[tokio::test(start_paused = true)]
async fn methods_generics_and_impl_trait_under_a_full_stack() {
    let mut inventory = Inventory { items: Vec::new() };
    assert_eq!(inventory.add("apple").await, Ok(1));
    assert_eq!(inventory.add("pear").await, Ok(2));
    assert_eq!(
        inventory.describe("stock: ").await,
        Ok(r#"stock: ["apple", "pear"]"#.to_string())
    );
    assert_eq!(
        inventory.find(|i| i.starts_with('p')).await,
        Ok(Some("pear"))
    );
    assert_eq!(Arc::new(inventory).count().await, Ok(2));
}

/// Recursion through `Box::pin` works: the attribute keeps the signature.
#[retry(max = 1, base = "1ms")]
#[circuit_breaker(threshold = 100)]
async fn countdown(n: u32) -> Result<u32, ServiceError> {
    if n == 0 {
        return Ok(0);
    }
    let rest = Box::pin(countdown(n - 1)).await?;
    Ok(rest + 1)
}

#[tokio::test(start_paused = true)]
async fn recursion_through_box_pin() {
    assert_eq!(countdown(10).await, Ok(10));
}

/// The annotated futures are `Send` whenever the body's is: checked at compile time.
const _: () = {
    fn assert_send<T: Send>(_: &T) {}
    #[allow(dead_code)]
    fn annotated_futures_are_send(client: &PaymentClient, inventory: &mut Inventory<String>) {
        assert_send(&client.charge(1, Arc::new(AtomicUsize::new(0))));
        assert_send(&inventory.add(String::new()));
        assert_send(&countdown(1));
    }
};

#[tokio::test(start_paused = true)]
async fn a_slow_attempt_inside_retry_and_breaker_times_out_then_succeeds() {
    static RUNS: Runs = Runs::new();
    #[retry(max = 2, base = "10ms", jitter = "none")]
    #[circuit_breaker(threshold = 5)]
    #[timeout("100ms")]
    async fn call() -> Result<u32, ServiceError> {
        let run = RUNS.hit();
        if run == 1 {
            sleep(Duration::from_secs(1)).await;
        }
        Ok(u32::try_from(run).unwrap())
    }
    let begin = Instant::now();
    assert_eq!(call().await, Ok(2));
    assert_eq!(begin.elapsed(), Duration::from_millis(110));
}

/// Under a timeout a breaker is not written in place: the timeout runs it as a future and
/// drops it at the deadline, a cancellation the breaker does not count.
#[tokio::test(start_paused = true)]
async fn a_timeout_above_a_breaker_cancels_without_counting_a_failure() {
    static RUNS: Runs = Runs::new();
    #[timeout("1s")]
    #[circuit_breaker(threshold = 1, timeout = "1h")]
    async fn call(hang: bool, fail: bool) -> Result<(), ServiceError> {
        RUNS.hit();
        if hang {
            sleep(Duration::from_secs(3600)).await;
        }
        answer(fail)
    }

    assert!(call(true, false).await.unwrap_err().is_timed_out());
    assert_eq!(
        call(false, false).await,
        Ok(()),
        "the cancelled call counted nothing"
    );
    assert_eq!(call(false, true).await, Err(ServiceError::Unavailable));
    assert!(call(false, false).await.unwrap_err().is_circuit_open());
    assert_eq!(RUNS.get(), 3);
}

/// Under a timeout a retry's loop is a future of its own, dropped at the deadline in the
/// middle of a backoff: attempts at 0, 10 and 30 ms, the next one due at 70 ms.
#[tokio::test(start_paused = true)]
async fn a_timeout_above_a_retry_cuts_its_backoff_short() {
    static RUNS: Runs = Runs::new();
    #[timeout("50ms")]
    #[retry(max = 5, base = "10ms", jitter = "none")]
    async fn call() -> Result<(), ServiceError> {
        RUNS.hit();
        answer(true)
    }

    let begin = Instant::now();
    assert!(call().await.unwrap_err().is_timed_out());
    assert_eq!(begin.elapsed(), Duration::from_millis(50));
    assert_eq!(RUNS.get(), 3);
}

/// Other attributes pass through, on either side of the stack: `#[tracing::instrument]`
/// above it instruments the whole pipeline, `#[inline]` and `#[allow]` below it stay on the
/// function.
#[tracing::instrument(level = "debug")]
#[retry(max = 1, base = "1ms")]
#[circuit_breaker(threshold = 5)]
#[inline]
#[allow(clippy::unnecessary_wraps)]
async fn instrumented(x: u32) -> Result<u32, ServiceError> {
    Ok(x * 2)
}

#[tokio::test(start_paused = true)]
async fn other_attributes_pass_through() {
    assert_eq!(instrumented(21).await, Ok(42));
}

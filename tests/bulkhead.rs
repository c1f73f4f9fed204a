//! `#[bulkhead]` through the facade, on tokio's paused clock.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use common::{Runs, ServiceError};
use resilience::bulkhead;
use tokio::time::{sleep, Instant};

/// Tracks bodies running at once and the highest count seen.
struct Gauge {
    now: AtomicUsize,
    peak: AtomicUsize,
}

impl Gauge {
    const fn new() -> Self {
        Gauge {
            now: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        }
    }

    async fn hold(&self, busy: Duration) {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        sleep(busy).await;
        self.now.fetch_sub(1, Ordering::SeqCst);
    }

    fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }
}

#[tokio::test(start_paused = true)]
async fn ten_calls_of_100ms_through_two_slots_take_500ms() {
    static GAUGE: Gauge = Gauge::new();
    #[bulkhead(max = 2)]
    async fn call(i: usize) -> Result<usize, ServiceError> {
        GAUGE.hold(Duration::from_millis(100)).await;
        Ok(i)
    }

    let begin = Instant::now();
    let tasks: Vec<_> = (0..10).map(|i| tokio::spawn(call(i))).collect();
    for (i, task) in tasks.into_iter().enumerate() {
        assert_eq!(task.await.unwrap(), Ok(i));
    }
    assert_eq!(begin.elapsed(), Duration::from_millis(500));
    assert_eq!(GAUGE.peak(), 2);
}

#[tokio::test(start_paused = true)]
async fn max_wait_zero_rejects_at_once_without_running_the_body() {
    static RUNS: Runs = Runs::new();
    #[bulkhead(max = 1, max_wait = "0s")]
    async fn call() -> Result<(), ServiceError> {
        RUNS.hit();
        sleep(Duration::from_secs(1)).await;
        Ok(())
    }

    let first = tokio::spawn(call());
    tokio::task::yield_now().await;
    let begin = Instant::now();
    let error = call().await.unwrap_err();
    assert!(error.is_bulkhead_full(), "{error:?}");
    assert_eq!(begin.elapsed(), Duration::ZERO);
    assert_eq!(RUNS.get(), 1);
    first.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn max_wait_rejects_after_the_wait_and_admits_a_slot_freed_in_time() {
    static RUNS: Runs = Runs::new();
    #[bulkhead(max = 1, max_wait = "50ms")]
    async fn call(busy: Duration) -> Result<(), ServiceError> {
        RUNS.hit();
        sleep(busy).await;
        Ok(())
    }

    // The slot stays busy for 200 ms: a waiter gives up after 50 ms.
    let holder = tokio::spawn(call(Duration::from_millis(200)));
    tokio::task::yield_now().await;
    let begin = Instant::now();
    assert!(call(Duration::ZERO).await.unwrap_err().is_bulkhead_full());
    assert_eq!(begin.elapsed(), Duration::from_millis(50));
    holder.await.unwrap().unwrap();
    assert_eq!(RUNS.get(), 1);

    // The slot frees after 30 ms: the waiter gets it.
    let holder = tokio::spawn(call(Duration::from_millis(30)));
    tokio::task::yield_now().await;
    let begin = Instant::now();
    call(Duration::ZERO).await.unwrap();
    assert_eq!(begin.elapsed(), Duration::from_millis(30));
    holder.await.unwrap().unwrap();
    assert_eq!(RUNS.get(), 3);
}

#[tokio::test(start_paused = true)]
async fn queue_bounds_the_waiting_callers() {
    static RUNS: Runs = Runs::new();
    #[bulkhead(max = 1, queue = 2)]
    async fn call() -> Result<(), ServiceError> {
        RUNS.hit();
        sleep(Duration::from_millis(100)).await;
        Ok(())
    }

    let tasks: Vec<_> = (0..6).map(|_| tokio::spawn(call())).collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    let ok = outcomes.iter().filter(|o| o.is_ok()).count();
    let full = outcomes
        .iter()
        .filter(|o| matches!(o, Err(e) if e.is_bulkhead_full()))
        .count();
    assert_eq!(
        (ok, full),
        (3, 3),
        "one running, two waiting, three turned away"
    );
    assert_eq!(RUNS.get(), 3);
}

#[tokio::test(start_paused = true)]
async fn cancelling_a_running_call_returns_its_slot() {
    static RUNS: Runs = Runs::new();
    #[bulkhead(max = 1, max_wait = "0s")]
    async fn call(busy: Duration) -> Result<(), ServiceError> {
        RUNS.hit();
        sleep(busy).await;
        Ok(())
    }

    let cancelled =
        tokio::time::timeout(Duration::from_millis(10), call(Duration::from_secs(60))).await;
    assert!(cancelled.is_err());
    call(Duration::ZERO).await.unwrap();
    assert_eq!(RUNS.get(), 2);
}

/// The body (and everything it owns) is dropped before its slot is returned, so `max` bounds
/// bodies being torn down too: as a semaphore permit held across the call would.
#[tokio::test(start_paused = true)]
async fn a_body_is_torn_down_before_its_slot_is_returned() {
    static RUNS: Runs = Runs::new();
    /// The slots free and the callers waiting, seen as each connection closed.
    static SEEN: Mutex<Vec<(u32, u32)>> = Mutex::new(Vec::new());
    struct Connection;
    impl Drop for Connection {
        fn drop(&mut self) {
            let bulkhead = resilience::monitor::bulkhead("teardown-db").expect("registered");
            SEEN.lock()
                .unwrap()
                .push((bulkhead.available(), bulkhead.waiting()));
        }
    }
    #[bulkhead(max = 1, name = "teardown-db")]
    async fn call(busy: Duration) -> Result<(), ServiceError> {
        RUNS.hit();
        let _connection = Connection;
        sleep(busy).await;
        Ok(())
    }

    // Finished.
    call(Duration::from_millis(10)).await.unwrap();
    assert_eq!(SEEN.lock().unwrap().split_off(0), [(0, 0)]);

    // Cancelled mid-body, by a timeout, while another caller waits for the slot: the
    // connection closes before the slot is handed over.
    let (cancelled, waited) = tokio::join!(
        tokio::time::timeout(Duration::from_millis(10), call(Duration::from_secs(60))),
        call(Duration::ZERO),
    );
    assert!(cancelled.is_err());
    waited.unwrap();
    assert_eq!(SEEN.lock().unwrap().split_off(0), [(0, 1), (0, 0)]);
    assert_eq!(RUNS.get(), 3);
    let bulkhead = resilience::monitor::bulkhead("teardown-db").expect("registered");
    assert_eq!((bulkhead.available(), bulkhead.waiting()), (1, 0));
}

/// A stack of bulkheads only is written around the function's own block, with no future of its
/// own for the body: an owned argument and a temporary of the block's last expression are
/// still dropped before the slot goes back, finished or cancelled, as the body's locals are.
#[tokio::test(start_paused = true)]
async fn an_argument_and_the_last_temporaries_are_dropped_before_the_slot_goes_back() {
    static RUNS: Runs = Runs::new();
    /// The slots free as each connection closed.
    static SEEN: Mutex<Vec<u32>> = Mutex::new(Vec::new());
    struct Connection(u32);
    impl Connection {
        fn id(&self) -> u32 {
            self.0
        }
    }
    impl Drop for Connection {
        fn drop(&mut self) {
            let bulkhead = resilience::monitor::bulkhead("argument-db").expect("registered");
            SEEN.lock().unwrap().push(bulkhead.available());
        }
    }
    #[bulkhead(max = 1, name = "argument-db")]
    async fn call(connection: Connection, busy: Duration) -> Result<u32, ServiceError> {
        RUNS.hit();
        sleep(busy).await;
        Ok(connection.id() + Connection(1).id())
    }

    // Finished: the temporary `Connection(1)`, then the argument, both with the slot held.
    assert_eq!(call(Connection(2), Duration::ZERO).await.unwrap(), 3);
    assert_eq!(SEEN.lock().unwrap().split_off(0), [0, 0]);

    // Cancelled mid-body: the argument closes with the slot still held.
    let cancelled = tokio::time::timeout(
        Duration::from_millis(10),
        call(Connection(2), Duration::from_secs(60)),
    )
    .await;
    assert!(cancelled.is_err());
    assert_eq!(SEEN.lock().unwrap().split_off(0), [0]);
    assert_eq!(RUNS.get(), 2);
    let bulkhead = resilience::monitor::bulkhead("argument-db").expect("registered");
    assert_eq!(bulkhead.available(), 1);
}

#[tokio::test(start_paused = true)]
async fn cancelling_a_waiting_caller_leaves_the_queue() {
    static RUNS: Runs = Runs::new();
    #[bulkhead(max = 1, queue = 1)]
    async fn call(busy: Duration) -> Result<(), ServiceError> {
        RUNS.hit();
        sleep(busy).await;
        Ok(())
    }

    let holder = tokio::spawn(call(Duration::from_millis(100)));
    tokio::task::yield_now().await;
    // Waits in the only queue place, then gives up.
    let gave_up = tokio::time::timeout(Duration::from_millis(10), call(Duration::ZERO)).await;
    assert!(gave_up.is_err());
    // Its queue place is free again: this caller may wait, and runs when the holder is done.
    let begin = Instant::now();
    call(Duration::ZERO).await.unwrap();
    assert_eq!(begin.elapsed(), Duration::from_millis(90));
    holder.await.unwrap().unwrap();
    assert_eq!(RUNS.get(), 2, "the cancelled waiter never ran");
}

#[tokio::test(start_paused = true)]
async fn a_panicking_body_returns_its_slot() {
    static RUNS: Runs = Runs::new();
    #[bulkhead(max = 1, max_wait = "0s")]
    async fn call(explode: bool) -> Result<(), ServiceError> {
        RUNS.hit();
        assert!(!explode, "boom");
        Ok(())
    }

    assert!(tokio::spawn(call(true)).await.unwrap_err().is_panic());
    call(false).await.unwrap();
    assert_eq!(RUNS.get(), 2);
}

#[tokio::test(start_paused = true)]
async fn functions_are_isolated_and_a_name_shares_a_compartment() {
    #[bulkhead(max = 1, max_wait = "0s")]
    async fn slow_report() -> Result<(), ServiceError> {
        sleep(Duration::from_secs(1)).await;
        Ok(())
    }
    #[bulkhead(max = 1, max_wait = "0s")]
    async fn quick_lookup() -> Result<(), ServiceError> {
        Ok(())
    }
    #[bulkhead(max = 1, max_wait = "0s", name = "shared-db")]
    async fn write() -> Result<(), ServiceError> {
        sleep(Duration::from_secs(1)).await;
        Ok(())
    }
    #[bulkhead(max = 1, max_wait = "0s", name = "shared-db")]
    async fn read() -> Result<(), ServiceError> {
        Ok(())
    }

    let report = tokio::spawn(slow_report());
    let writer = tokio::spawn(write());
    tokio::task::yield_now().await;
    quick_lookup()
        .await
        .expect("a slow report does not take the lookup's slot");
    let error = read().await.unwrap_err();
    assert!(error.is_bulkhead_full(), "read shares write's compartment");
    report.await.unwrap().unwrap();
    writer.await.unwrap().unwrap();
    read().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_thousand_tasks_never_exceed_the_bound_and_all_complete() {
    static NOW: AtomicUsize = AtomicUsize::new(0);
    static PEAK: AtomicUsize = AtomicUsize::new(0);
    static RUNS: Runs = Runs::new();
    #[bulkhead(max = 8)]
    async fn call(i: usize) -> Result<usize, ServiceError> {
        RUNS.hit();
        let now = NOW.fetch_add(1, Ordering::SeqCst) + 1;
        PEAK.fetch_max(now, Ordering::SeqCst);
        tokio::task::yield_now().await;
        NOW.fetch_sub(1, Ordering::SeqCst);
        Ok(i)
    }

    let tasks: Vec<_> = (0..20_000).map(|i| tokio::spawn(call(i))).collect();
    let mut sum = 0;
    for task in tasks {
        sum += task.await.unwrap().unwrap();
    }
    assert_eq!(sum, (0..20_000).sum::<usize>());
    assert_eq!(RUNS.get(), 20_000);
    let peak = PEAK.load(Ordering::SeqCst);
    assert!((1..=8).contains(&peak), "peak {peak} exceeds max = 8");
}

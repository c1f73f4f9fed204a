use super::*;
use std::future::poll_fn;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use tokio::time::Instant;

const MS: Duration = Duration::from_millis(1);

fn config(max: u32) -> BulkheadConfig {
    BulkheadConfig::new(InstanceName::given("test"), max)
}

/// Counts bodies running at once and remembers the most seen.
#[derive(Default)]
struct Gauge {
    now: AtomicUsize,
    high: AtomicUsize,
}

impl Gauge {
    fn enter(&self) {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.high.fetch_max(now, Ordering::SeqCst);
    }
    fn exit(&self) {
        self.now.fetch_sub(1, Ordering::SeqCst);
    }
    fn high(&self) -> usize {
        self.high.load(Ordering::SeqCst)
    }
}

/// Polls `fut` once, returning whether it completed.
async fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    poll_fn(|cx| Poll::Ready(Pin::new(&mut *fut).poll(cx))).await
}

/// Awaits `fut`, failing (instead of hanging) if it never completes: a lost slot or wakeup.
async fn within<F: Future>(fut: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(3600), fut)
        .await
        .expect("never completed: a slot or a wakeup was lost")
}

/// Lets spawned tasks run until `bulkhead` has `n` waiters.
async fn until_waiting(bulkhead: &Bulkhead, n: u32) {
    while bulkhead.waiting() != n {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn at_most_max_bodies_run_at_once_and_all_complete() {
    static BH: Bulkhead = Bulkhead::new(BulkheadConfig::new(InstanceName::given("two"), 2));
    let gauge = Arc::new(Gauge::default());
    let start = Instant::now();
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let gauge = Arc::clone(&gauge);
            tokio::spawn(BH.run(async move {
                gauge.enter();
                tokio::time::sleep(100 * MS).await;
                gauge.exit();
                Ok::<_, Failure<()>>(i)
            }))
        })
        .collect();
    let mut done = Vec::new();
    for task in tasks {
        done.push(within(task).await.unwrap().unwrap());
    }
    assert_eq!(done, (0..10).collect::<Vec<_>>());
    assert_eq!(start.elapsed(), 500 * MS);
    assert_eq!(gauge.high(), 2);
    assert_eq!(BH.available(), 2);
    assert_eq!(BH.waiting(), 0);
}

#[tokio::test(start_paused = true)]
async fn max_wait_zero_rejects_at_once() {
    let bh = Bulkhead::new(BulkheadConfig {
        max_wait: Some(Duration::ZERO),
        ..config(1)
    });
    let _held = bh.acquire().await.unwrap();
    let start = Instant::now();
    let mut runs = 0;
    let result = bh
        .run(async {
            runs += 1;
            Ok::<_, Failure<()>>(())
        })
        .await;
    match result {
        Err(Failure::Rejected(Rejected::BulkheadFull { name, max, .. })) => {
            assert_eq!((name, max), ("test", 1));
        }
        other => panic!("expected BulkheadFull, got {other:?}"),
    }
    assert_eq!(runs, 0);
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(bh.waiting(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_refused_wait_answers_none_and_the_refusal_is_what_acquire_returns() {
    let bh = Bulkhead::new(BulkheadConfig {
        max_wait: Some(10 * MS),
        ..config(1)
    });
    let held = bh.acquire().await.unwrap();
    let start = Instant::now();
    assert!(
        bh.wait().await.is_none(),
        "no slot came free within max_wait"
    );
    assert_eq!(start.elapsed(), 10 * MS);
    let refused = bh.acquire().await.unwrap_err();
    assert_eq!(bh.refusal(), refused);
    assert!(matches!(
        refused,
        Rejected::BulkheadFull {
            name: "test",
            max: 1,
            ..
        }
    ));
    assert_eq!(bh.waiting(), 0);
    drop(held);
    assert!(
        bh.wait().await.is_some(),
        "a free slot is taken by the wait itself"
    );
}

#[tokio::test(start_paused = true)]
async fn max_wait_rejects_after_wait_and_admits_when_slot_frees_in_time() {
    static BH: Bulkhead = Bulkhead::new(BulkheadConfig {
        max_wait: Some(Duration::from_millis(50)),
        ..BulkheadConfig::new(InstanceName::given("wait"), 1)
    });

    // Nobody releases: rejected after exactly max_wait, leaving no trace in the queue.
    let held = BH.acquire().await.unwrap();
    let start = Instant::now();
    let rejected = BH.acquire().await.unwrap_err();
    assert_eq!(rejected, Rejected::bulkhead_full("wait", 1));
    assert_eq!(start.elapsed(), 50 * MS);
    assert_eq!(BH.waiting(), 0);

    // The holder releases after 30 ms: admitted then.
    let start = Instant::now();
    let releaser = tokio::spawn(async move {
        tokio::time::sleep(30 * MS).await;
        drop(held);
    });
    let permit = within(BH.acquire()).await.unwrap();
    assert_eq!(start.elapsed(), 30 * MS);
    releaser.await.unwrap();
    assert_eq!(BH.available(), 0);
    drop(permit);
    assert_eq!(BH.available(), 1);
}

#[tokio::test(start_paused = true)]
async fn queue_bounds_waiters() {
    static BH: Bulkhead = Bulkhead::new(BulkheadConfig {
        queue: Some(2),
        ..BulkheadConfig::new(InstanceName::given("queue"), 1)
    });
    let held = BH.acquire().await.unwrap();
    let waiters: Vec<_> = (0..2)
        .map(|_| tokio::spawn(BH.run(async { Ok::<_, Failure<()>>(()) })))
        .collect();
    until_waiting(&BH, 2).await;

    let start = Instant::now();
    let third = BH.acquire().await.unwrap_err();
    assert_eq!(third, Rejected::bulkhead_full("queue", 1));
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(BH.waiting(), 2);

    drop(held);
    for waiter in waiters {
        within(waiter).await.unwrap().unwrap();
    }
    assert_eq!((BH.available(), BH.waiting()), (1, 0));

    // queue = 0: nobody waits.
    let none = Bulkhead::new(BulkheadConfig {
        queue: Some(0),
        ..config(1)
    });
    let _held = none.acquire().await.unwrap();
    assert!(none.acquire().await.is_err());
    assert_eq!(none.waiting(), 0);
}

#[tokio::test(start_paused = true)]
async fn waiters_served_in_arrival_order() {
    static BH: Bulkhead = Bulkhead::new(BulkheadConfig::new(InstanceName::given("fifo"), 1));
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let held = BH.acquire().await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..5 {
        let order = Arc::clone(&order);
        tasks.push(tokio::spawn(BH.run(async move {
            order.lock().unwrap().push(i);
            tokio::time::sleep(10 * MS).await;
            Ok::<_, Failure<()>>(())
        })));
        until_waiting(&BH, i + 1).await;
    }

    drop(held);
    // The slot went to the first waiter: a newcomer does not barge in.
    assert_eq!(BH.available(), 0);
    assert!(BH.try_acquire().is_none());
    let late = tokio::spawn({
        let order = Arc::clone(&order);
        BH.run(async move {
            order.lock().unwrap().push(99);
            Ok::<_, Failure<()>>(())
        })
    });
    for task in tasks {
        within(task).await.unwrap().unwrap();
    }
    within(late).await.unwrap().unwrap();
    assert_eq!(*order.lock().unwrap(), [0, 1, 2, 3, 4, 99]);
    assert_eq!(BH.available(), 1);
}

#[tokio::test(start_paused = true)]
async fn cancelled_running_caller_returns_slot() {
    static BH: Bulkhead = Bulkhead::new(BulkheadConfig::new(InstanceName::given("cancel"), 1));
    let mut runs = 0;
    let forever = BH.run(async {
        runs += 1;
        std::future::pending::<Result<(), Failure<()>>>().await
    });
    // Dropped by a timeout while the body runs.
    assert!(tokio::time::timeout(10 * MS, forever).await.is_err());
    assert_eq!(runs, 1);
    assert_eq!(BH.available(), 1);

    // Dropped by aborting its task.
    let task =
        tokio::spawn(BH.run(async { std::future::pending::<Result<(), Failure<()>>>().await }));
    while BH.available() == 1 {
        tokio::task::yield_now().await;
    }
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    assert_eq!(BH.available(), 1);
}

#[tokio::test(start_paused = true)]
async fn cancelled_waiter_leaves_queue() {
    static BH: Bulkhead = Bulkhead::new(BulkheadConfig::new(InstanceName::given("leave"), 1));
    let held = BH.acquire().await.unwrap();

    // Three waiters; the middle one gives up.
    let first = tokio::spawn(BH.run(async { Ok::<_, Failure<()>>(1) }));
    until_waiting(&BH, 1).await;
    let mut middle = Box::pin(BH.acquire());
    assert!(poll_once(&mut middle).await.is_pending());
    let last = tokio::spawn(BH.run(async { Ok::<_, Failure<()>>(3) }));
    until_waiting(&BH, 3).await;

    drop(middle);
    assert_eq!(BH.waiting(), 2);
    // Timing out of the queue leaves it too.
    assert!(tokio::time::timeout(10 * MS, BH.acquire()).await.is_err());
    assert_eq!(BH.waiting(), 2);

    drop(held);
    assert_eq!(within(first).await.unwrap().unwrap(), 1);
    assert_eq!(within(last).await.unwrap().unwrap(), 3);
    assert_eq!((BH.available(), BH.waiting()), (1, 0));
}

#[tokio::test(start_paused = true)]
async fn granted_then_cancelled_waiter_passes_slot_on() {
    static BH: Bulkhead = Bulkhead::new(BulkheadConfig::new(InstanceName::given("pass"), 1));

    // Handed a slot, dropped before seeing it, with another caller waiting behind it.
    let held = BH.acquire().await.unwrap();
    let mut granted = Box::pin(BH.acquire());
    assert!(poll_once(&mut granted).await.is_pending());
    let next = tokio::spawn(BH.run(async { Ok::<_, Failure<()>>("next") }));
    until_waiting(&BH, 2).await;
    drop(held);
    assert_eq!((BH.available(), BH.waiting()), (0, 1));
    drop(granted);
    assert_eq!(within(next).await.unwrap().unwrap(), "next");
    assert_eq!((BH.available(), BH.waiting()), (1, 0));

    // Handed a slot, dropped before seeing it, nobody behind it: back to the pool.
    let held = BH.acquire().await.unwrap();
    let mut granted = Box::pin(BH.acquire());
    assert!(poll_once(&mut granted).await.is_pending());
    drop(held);
    assert_eq!((BH.available(), BH.waiting()), (0, 0));
    drop(granted);
    assert_eq!((BH.available(), BH.waiting()), (1, 0));

    // Handed a slot as its max_wait elapses: whichever wins, the slot is not lost.
    let timed = Bulkhead::new(BulkheadConfig {
        max_wait: Some(10 * MS),
        ..config(1)
    });
    let held = timed.acquire().await.unwrap();
    let (outcome, ()) = tokio::join!(timed.acquire(), async {
        tokio::time::sleep(10 * MS).await;
        drop(held);
    });
    drop(outcome);
    assert_eq!((timed.available(), timed.waiting()), (1, 0));
}

/// Notes, when dropped, how many slots were free and how many callers waited for one.
struct Teardown<'a> {
    bulkhead: &'a Bulkhead,
    seen: &'a std::sync::Mutex<Option<(u32, u32)>>,
}

impl Drop for Teardown<'_> {
    fn drop(&mut self) {
        let seen = (self.bulkhead.available(), self.bulkhead.waiting());
        *self.seen.lock().unwrap() = Some(seen);
    }
}

#[tokio::test(start_paused = true)]
async fn body_is_dropped_before_its_slot_is_returned() {
    let bh = Bulkhead::new(config(1));
    let runs = &AtomicUsize::new(0);
    let seen = &std::sync::Mutex::new(None);
    let teardown = || Teardown {
        bulkhead: &bh,
        seen,
    };
    // A body that owns its teardown until the body itself is dropped (an `async` block
    // drops its locals inside its last poll) and finishes at its `polls`-th poll.
    let body = |polls: usize| {
        let owned = teardown();
        let mut polled = 0;
        std::future::poll_fn(move |cx| {
            let _owned = &owned;
            polled += 1;
            if polled == 1 {
                runs.fetch_add(1, Ordering::SeqCst);
            }
            if polled < polls {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            Poll::Ready(Ok::<_, Failure<()>>(polled))
        })
    };
    let quick = || async {
        runs.fetch_add(1, Ordering::SeqCst);
        Ok::<_, Failure<()>>(0)
    };

    // Finished, nobody waiting: the slot is still taken while the body is torn down.
    assert_eq!(bh.run(body(1)).await.unwrap(), 1);
    assert_eq!(seen.lock().unwrap().take(), Some((0, 0)));
    assert_eq!((bh.available(), runs.load(Ordering::SeqCst)), (1, 1));

    // Finished, a caller waiting: the slot is handed over only after the teardown.
    // `join!` polls in order: the body takes the slot, the other caller queues.
    let (a, b) = tokio::join!(within(bh.run(body(2))), within(bh.run(quick())));
    assert_eq!((a.unwrap(), b.unwrap()), (2, 0));
    assert_eq!(seen.lock().unwrap().take(), Some((0, 1)), "still queued");
    assert_eq!((bh.available(), runs.load(Ordering::SeqCst)), (1, 3));

    // Cancelled: the call's future is dropped while the body runs.
    let mut cancelled = Box::pin(bh.run(body(usize::MAX)));
    assert!(poll_once(&mut cancelled).await.is_pending());
    drop(cancelled);
    assert_eq!(seen.lock().unwrap().take(), Some((0, 0)));
    assert_eq!((bh.available(), runs.load(Ordering::SeqCst)), (1, 4));

    // Cancelled by a timeout, a caller waiting.
    let owned = teardown();
    let slow = bh.run(async move {
        let _owned = owned;
        runs.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(3600)).await;
        Ok::<_, Failure<()>>(9)
    });
    let (timed_out, waited) =
        tokio::join!(tokio::time::timeout(10 * MS, slow), within(bh.run(quick())));
    assert!(timed_out.is_err());
    assert_eq!(waited.unwrap(), 0);
    assert_eq!(seen.lock().unwrap().take(), Some((0, 1)), "still queued");
    assert_eq!((bh.available(), bh.waiting()), (1, 0));
    assert_eq!(runs.load(Ordering::SeqCst), 6);
}

#[tokio::test(start_paused = true)]
async fn panic_returns_slot() {
    static BH: Bulkhead = Bulkhead::new(BulkheadConfig::new(InstanceName::given("panic"), 1));
    let task = tokio::spawn(BH.run(async {
        tokio::time::sleep(MS).await;
        panic!("body panics");
        #[allow(unreachable_code)]
        Ok::<(), Failure<()>>(())
    }));
    assert!(task.await.unwrap_err().is_panic());
    assert_eq!(BH.available(), 1);
    let after = BH.run(async { Ok::<_, Failure<()>>(7) }).await;
    assert_eq!(after.unwrap(), 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_thousand_tasks_on_two_workers_never_exceed_max() {
    static BH: Bulkhead = Bulkhead::new(BulkheadConfig::new(InstanceName::given("many"), 3));
    const TASKS: usize = 20_000;
    let gauge = Arc::new(Gauge::default());
    let finished = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let gauge = Arc::clone(&gauge);
            let finished = Arc::clone(&finished);
            tokio::spawn(async move {
                let out = BH
                    .run(async {
                        gauge.enter();
                        for _ in 0..(i % 3) {
                            tokio::task::yield_now().await;
                        }
                        gauge.exit();
                        Ok::<_, Failure<()>>(())
                    })
                    .await;
                finished.fetch_add(1, Ordering::SeqCst);
                out
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(finished.load(Ordering::SeqCst), TASKS);
    assert!(gauge.high() <= 3, "high-water mark {}", gauge.high());
    assert!(gauge.high() >= 1);
    assert_eq!((BH.available(), BH.waiting()), (3, 0));
}

#[test]
fn try_acquire_is_bounded_and_debug_shows_the_counters() {
    let bh = Bulkhead::new(config(2));
    let a = bh.try_acquire().unwrap();
    let b = bh.try_acquire().unwrap();
    assert!(bh.try_acquire().is_none());
    assert_eq!(
        format!("{bh:?}"),
        "Bulkhead { name: \"test\", max: 2, available: 0, waiting: 0, .. }"
    );
    assert_eq!(format!("{a:?}"), "BulkheadPermit { bulkhead: \"test\" }");
    drop((a, b));
    assert_eq!(bh.available(), 2);
}

#[test]
#[cfg(target_pointer_width = "64")]
fn run_future_is_the_guarded_future_plus_32_bytes() {
    let bh = Bulkhead::new(config(1));
    let x = std::hint::black_box(1_u64);
    let body = async move { Ok::<_, Failure<()>>(x) };
    let body_size = std::mem::size_of_val(&body);
    // The phase: the bulkhead, the permit, or the wait (its ticket and boxed timer).
    assert_eq!(std::mem::size_of::<Phase<'_>>(), 32);
    assert_eq!(
        std::mem::size_of_val(&bh.run(body)),
        32 + body_size.next_multiple_of(8)
    );
}

#[test]
#[should_panic(expected = "at least one slot")]
fn zero_slots_is_refused() {
    let _ = Bulkhead::new(config(0));
}

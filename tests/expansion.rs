//! What the expansion must not change: bounds, moves, coercions, and what `retry_if` sees.
//! The compile-only shapes are in `tests/ui/pass/shapes.rs`; these run them.

// Fallbacks are async fns by contract, even those that answer without awaiting.
#![allow(clippy::unused_async)]

mod common;

use std::cell::Cell;
use std::fmt::Display;
use std::sync::Arc;
use std::time::Duration;

use common::{Runs, ServiceError};
use resilience::{bulkhead, fallback, retry, timeout};
use tokio::time::sleep;

/// Not idempotent: a timeout may have charged the card, so it must not be retried.
fn not_a_timeout(error: &ServiceError) -> bool {
    !error.is_timed_out()
}

#[tokio::test(start_paused = true)]
async fn retry_if_refuses_an_inner_timeout_after_one_run() {
    static RUNS: Runs = Runs::new();
    #[retry(max = 3, base = "10ms", retry_if = not_a_timeout)]
    #[timeout("100ms")]
    async fn charge() -> Result<(), ServiceError> {
        RUNS.hit();
        sleep(Duration::from_secs(1)).await;
        Ok(())
    }

    let error = charge().await.unwrap_err();
    assert!(error.is_timed_out(), "{error:?}");
    assert_eq!(RUNS.get(), 1, "the timeout was not retried");
}

#[tokio::test(start_paused = true)]
async fn retry_if_still_retries_the_rejections_it_accepts() {
    static RUNS: Runs = Runs::new();
    #[retry(max = 2, base = "10ms", jitter = "none", retry_if = not_a_timeout)]
    #[bulkhead(max = 1, max_wait = "0s")]
    async fn call(hold: Duration) -> Result<u32, ServiceError> {
        let run = RUNS.hit();
        sleep(hold).await;
        Ok(u32::try_from(run).unwrap())
    }

    // The first call holds the only slot for 15 ms: the second is refused once (bulkhead
    // full), waits 10 ms, is refused again, waits 20 ms and runs.
    let (first, second) = tokio::join!(call(Duration::from_millis(15)), async {
        tokio::task::yield_now().await;
        call(Duration::ZERO).await
    });
    assert_eq!(first, Ok(1));
    assert_eq!(second, Ok(2));
    assert_eq!(RUNS.get(), 2, "refused attempts never ran the body");
}

/// `Send`, not `Sync`: a future that held `&Tally` across an await would not be `Send`.
#[derive(Clone, Default)]
struct Tally {
    seen: Cell<u32>,
}

#[retry(max = 2, base = "1ms")]
async fn count_owned(tally: Tally, fail_until: u32) -> Result<u32, ServiceError> {
    tally.seen.set(tally.seen.get() + 1);
    tokio::task::yield_now().await;
    if tally.seen.get() < fail_until {
        return Err(ServiceError::Unavailable);
    }
    Ok(tally.seen.get())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_but_not_sync_argument_keeps_the_future_send() {
    // Every attempt gets a fresh clone: with `fail_until = 2`, each attempt sees 1 and fails.
    let spawned = tokio::spawn(count_owned(Tally::default(), 2));
    assert_eq!(
        spawned.await.unwrap(),
        Err(ServiceError::Unavailable),
        "each attempt started from the caller's copy"
    );
    assert_eq!(
        tokio::spawn(count_owned(Tally::default(), 1))
            .await
            .unwrap(),
        Ok(1)
    );
}

struct Meter {
    tally: Tally,
    runs: u32,
}

impl Meter {
    #[retry(max = 2, base = "1ms")]
    async fn bump(&mut self) -> Result<u32, ServiceError> {
        self.runs += 1;
        self.tally.seen.set(self.runs);
        tokio::task::yield_now().await;
        if self.runs < 3 {
            return Err(ServiceError::Unavailable);
        }
        Ok(self.tally.seen.get())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mut_self_of_a_send_but_not_sync_type_keeps_the_future_send() {
    let task = tokio::spawn(async {
        let mut meter = Meter {
            tally: Tally::default(),
            runs: 0,
        };
        let result = meter.bump().await;
        (result, meter.runs)
    });
    assert_eq!(
        task.await.unwrap(),
        (Ok(3), 3),
        "three attempts, one `self`"
    );
}

struct Service {
    name: String,
    runs: Runs,
}

impl Service {
    /// The body moves `self` into a task: every attempt needs a receiver of its own.
    #[retry(max = 2, base = "1ms")]
    async fn spawn_self(self: Arc<Self>) -> Result<usize, ServiceError> {
        let run = self.runs.hit();
        let task = tokio::spawn(async move { self.name.len() });
        let len = task.await.map_err(|_| ServiceError::Unavailable)?;
        if run < 2 {
            return Err(ServiceError::Unavailable);
        }
        Ok(len)
    }

    #[fallback(Self::by_name)]
    async fn spawn_or_name(self: Arc<Self>) -> Result<usize, ServiceError> {
        self.runs.hit();
        tokio::spawn(async move { drop(self) }).await.unwrap();
        Err(ServiceError::Unavailable)
    }

    async fn by_name(self: Arc<Self>, _error: ServiceError) -> Result<usize, ServiceError> {
        Ok(self.name.len() * 10)
    }
}

#[tokio::test(start_paused = true)]
async fn an_arc_receiver_is_cloned_for_every_attempt() {
    let service = Arc::new(Service {
        name: "payments".into(),
        runs: Runs::new(),
    });
    assert_eq!(service.clone().spawn_self().await, Ok(8));
    assert_eq!(service.runs.get(), 2);
    assert_eq!(service.clone().spawn_or_name().await, Ok(80));
    assert_eq!(service.runs.get(), 3);
    assert_eq!(Arc::strong_count(&service), 1, "every clone was dropped");
}

trait Backend: Send + Sync {
    fn id(&self) -> u32;
}

struct Memory(u32);

impl Backend for Memory {
    fn id(&self) -> u32 {
        self.0
    }
}

#[retry(max = 1, base = "1ms")]
async fn backend(id: u32) -> Result<Arc<dyn Backend>, ServiceError> {
    if id == 0 {
        return Ok(Arc::new(Memory(100)));
    }
    Ok(Arc::new(Memory(id)))
}

#[timeout("1s")]
async fn shown(early: bool) -> Result<Box<dyn Display + Send>, ServiceError> {
    if early {
        return Ok(Box::new(1_u8));
    }
    Ok(Box::new("two"))
}

#[tokio::test(start_paused = true)]
async fn unsizing_coercions_work_in_return_and_tail() {
    assert_eq!(backend(0).await.unwrap().id(), 100);
    assert_eq!(backend(7).await.unwrap().id(), 7);
    assert_eq!(shown(true).await.unwrap().to_string(), "1");
    assert_eq!(shown(false).await.unwrap().to_string(), "two");
}

#[retry(max = 1, base = "1ms")]
async fn append(buffer: &mut Vec<u8>, byte: u8) -> Result<u8, ServiceError> {
    #![allow(clippy::cast_possible_truncation)]
    buffer.push(byte);
    if buffer.len() < 2 {
        return Err(ServiceError::Unavailable);
    }
    Ok(buffer.len() as u8)
}

#[tokio::test(start_paused = true)]
async fn a_mut_argument_is_reborrowed_per_attempt_and_inner_attributes_apply() {
    let mut buffer = Vec::new();
    assert_eq!(append(&mut buffer, 7).await, Ok(2));
    assert_eq!(buffer, [7, 7], "both attempts wrote to the caller's buffer");
}

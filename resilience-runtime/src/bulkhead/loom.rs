//! Model checks of the bulkhead's acquire, release, hand-over and cancellation races.
//!
//! Run with:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" cargo test -p resilience-runtime --release --lib
//! ```
//!
//! loom runs every interleaving of the atomics and the queue lock; the two three-thread models
//! that wait on every thread bound preemptions at 3 to stay within seconds (bound 4 also
//! passes, in about half a minute); the others are explored without a bound.
//! Each model asserts that no more than `max` callers ever hold a slot, and that when every
//! thread has finished all slots are free again and nobody is queued: no slot was lost or
//! duplicated, and no waiter was left asleep (loom reports a deadlock if a `block_on` is never
//! woken). The last three race callers against a release between its `fetch_add` and its
//! hand-over: a caller queueing then, a waiter cancelled then, and two releases for one waiter.

use std::future::Future;
use std::pin::{pin, Pin};
use std::task::{Context, Poll, Wake, Waker};

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;

use super::{Bulkhead, BulkheadConfig, BulkheadPermit};
use crate::{InstanceName, Rejected};

fn bulkhead(max: u32) -> Arc<Bulkhead> {
    Arc::new(Bulkhead::new(BulkheadConfig::new(
        InstanceName::given("loom"),
        max,
    )))
}

/// Counts slot holders; panics past `max`.
struct Holders {
    now: AtomicUsize,
    max: usize,
}

impl Holders {
    fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            now: AtomicUsize::new(0),
            max,
        })
    }

    fn hold(&self, permit: BulkheadPermit<'_>) {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        assert!(
            now <= self.max,
            "{now} callers hold a slot; max is {}",
            self.max
        );
        self.now.fetch_sub(1, Ordering::SeqCst);
        drop(permit);
    }
}

/// Waits for a slot (parking the loom thread until woken) and holds it briefly.
fn wait_and_hold(bulkhead: &Bulkhead, holders: &Holders) {
    let permit = loom::future::block_on(bulkhead.acquire()).expect("no max_wait, no queue bound");
    holders.hold(permit);
}

struct NoopWaker;

impl Wake for NoopWaker {
    fn wake(self: std::sync::Arc<Self>) {}
}

/// Polls a fresh `acquire()` once and drops it: a caller cancelled at its first await point
/// (or holding a slot briefly, if one was free).
fn poll_once_and_cancel(bulkhead: &Bulkhead, holders: &Holders) {
    let waker = Waker::from(std::sync::Arc::new(NoopWaker));
    let mut cx = Context::from_waker(&waker);
    let mut wait = pin!(bulkhead.acquire());
    if let Poll::Ready(result) = wait.as_mut().poll(&mut cx) {
        holders.hold(result.expect("no max_wait, no queue bound"));
    }
}

fn assert_all_free(bulkhead: &Bulkhead, max: u32) {
    assert_eq!(bulkhead.available(), max, "a slot was lost or duplicated");
    assert_eq!(bulkhead.waiting(), 0, "a waiter was left in the queue");
}

#[test]
fn two_callers_one_slot() {
    loom::model(|| {
        let bh = bulkhead(1);
        let holders = Holders::new(1);
        let other = {
            let (bh, holders) = (Arc::clone(&bh), Arc::clone(&holders));
            thread::spawn(move || wait_and_hold(&bh, &holders))
        };
        wait_and_hold(&bh, &holders);
        other.join().unwrap();
        assert_all_free(&bh, 1);
    });
}

#[test]
fn three_callers_two_slots() {
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(3);
    model.check(|| {
        let bh = bulkhead(2);
        let holders = Holders::new(2);
        let others: Vec<_> = (0..2)
            .map(|_| {
                let (bh, holders) = (Arc::clone(&bh), Arc::clone(&holders));
                thread::spawn(move || wait_and_hold(&bh, &holders))
            })
            .collect();
        wait_and_hold(&bh, &holders);
        for other in others {
            other.join().unwrap();
        }
        assert_all_free(&bh, 2);
    });
}

#[test]
fn try_acquire_races_a_waiter_and_a_release() {
    loom::model(|| {
        let bh = bulkhead(1);
        let holders = Holders::new(1);
        let held = bh.try_acquire().unwrap();
        let waiter = {
            let (bh, holders) = (Arc::clone(&bh), Arc::clone(&holders));
            thread::spawn(move || wait_and_hold(&bh, &holders))
        };
        drop(held);
        if let Some(permit) = bh.try_acquire() {
            holders.hold(permit);
        }
        waiter.join().unwrap();
        assert_all_free(&bh, 1);
    });
}

#[test]
fn waiter_cancelled_while_the_slot_is_released() {
    loom::model(|| {
        let bh = bulkhead(1);
        let holders = Holders::new(1);
        let held = bh.try_acquire().unwrap();
        let canceller = {
            let (bh, holders) = (Arc::clone(&bh), Arc::clone(&holders));
            thread::spawn(move || poll_once_and_cancel(&bh, &holders))
        };
        drop(held);
        canceller.join().unwrap();
        assert_all_free(&bh, 1);
    });
}

#[test]
fn granted_waiter_cancelled_passes_the_slot_to_the_next() {
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(3);
    model.check(|| {
        let bh = bulkhead(1);
        let holders = Holders::new(1);
        let held = bh.try_acquire().unwrap();
        let canceller = {
            let (bh, holders) = (Arc::clone(&bh), Arc::clone(&holders));
            thread::spawn(move || poll_once_and_cancel(&bh, &holders))
        };
        let waiter = {
            let (bh, holders) = (Arc::clone(&bh), Arc::clone(&holders));
            thread::spawn(move || wait_and_hold(&bh, &holders))
        };
        drop(held);
        canceller.join().unwrap();
        waiter.join().unwrap();
        assert_all_free(&bh, 1);
    });
}

// ---------------------------------------------------------------------------------------------
// The release's `fetch_add` and its hand-over are two steps: while a releaser is between them
// its slot is counted in `free` although somebody waits. These models race callers against
// that moment. The bulkhead is leaked so that permits (which borrow it) can move to threads.

fn leaked(max: u32) -> &'static Bulkhead {
    Box::leak(Box::new(Bulkhead::new(BulkheadConfig::new(
        InstanceName::given("loom"),
        max,
    ))))
}

/// A caller's `acquire()`, polled once on this thread: queued (the bulkhead must be full).
fn queued(bulkhead: &'static Bulkhead) -> Pin<Box<impl Future<Output = AcquireResult>>> {
    let waker = Waker::from(std::sync::Arc::new(NoopWaker));
    let mut wait = Box::pin(bulkhead.acquire());
    assert!(
        wait.as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending(),
        "the bulkhead is full: the caller queues"
    );
    wait
}

type AcquireResult = Result<BulkheadPermit<'static>, Rejected>;

/// One slot, one queued waiter; the holder releases while a second caller arrives. The
/// newcomer may see the released slot in `free` with `waiting > 0`: it must queue behind,
/// and the slot must go to the first waiter. Both are served, in arrival order.
#[test]
fn release_racing_a_caller_that_queues_behind_a_waiter() {
    loom::model(|| {
        let bh = leaked(1);
        let holders = Holders::new(1);
        let turn = Arc::new(AtomicUsize::new(0));
        let held = bh.try_acquire().unwrap();
        let first = queued(bh);
        let second = {
            let (holders, turn) = (Arc::clone(&holders), Arc::clone(&turn));
            thread::spawn(move || {
                let permit = loom::future::block_on(bh.acquire()).unwrap();
                let my_turn = turn.fetch_add(1, Ordering::SeqCst);
                holders.hold(permit);
                my_turn
            })
        };
        drop(held);
        let permit = loom::future::block_on(first).unwrap();
        assert_eq!(
            turn.fetch_add(1, Ordering::SeqCst),
            0,
            "the first waiter is served first"
        );
        holders.hold(permit);
        assert_eq!(second.join().unwrap(), 1);
        assert_all_free(bh, 1);
    });
}

/// One slot, one queued waiter that gives up while the holder releases on another thread,
/// with a second caller arriving: the release may find the waiter gone before its
/// `fetch_add`, between it and the hand-over, or after handing it the slot (which it then
/// passes on). In every case the second caller gets the slot and it ends up free.
#[test]
fn release_racing_the_cancel_of_the_only_waiter() {
    loom::model(|| {
        let bh = leaked(1);
        let holders = Holders::new(1);
        let held = bh.try_acquire().unwrap();
        let first = queued(bh);
        let releaser = thread::spawn(move || drop(held));
        let second = {
            let holders = Arc::clone(&holders);
            thread::spawn(move || wait_and_hold(bh, &holders))
        };
        drop(first);
        releaser.join().unwrap();
        second.join().unwrap();
        assert_all_free(bh, 1);
    });
}

/// Two slots, both held, one queued waiter; both holders release at once. Both releases see
/// the waiter and both become pending, but only one slot may be handed over: the other
/// release finds `waiting == 0` under the lock and leaves its slot in `free`.
#[test]
fn two_releases_racing_for_one_waiter() {
    loom::model(|| {
        let bh = leaked(2);
        let holders = Holders::new(2);
        let (a, b) = (bh.try_acquire().unwrap(), bh.try_acquire().unwrap());
        let waiter = queued(bh);
        let releasers = [
            thread::spawn(move || drop(a)),
            thread::spawn(move || drop(b)),
        ];
        let permit = loom::future::block_on(waiter).unwrap();
        assert!(bh.available() <= 1, "the waiter holds a slot");
        holders.hold(permit);
        for releaser in releasers {
            releaser.join().unwrap();
        }
        assert_all_free(bh, 2);
    });
}

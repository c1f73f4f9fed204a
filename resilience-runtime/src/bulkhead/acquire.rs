//! The wait in the queue: a caller past the fast path registers its waker and, once queued,
//! waits for a releaser to hand it a slot (module docs of `bulkhead`, "Why hand slots
//! over"). Dropping it leaves the queue, or passes on a slot it was handed.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::{Bulkhead, BulkheadPermit, Registration};
use crate::Rejected;

/// The wait for a slot, past the fast path.
pub(super) struct Acquire<'a> {
    pub(super) bulkhead: &'a Bulkhead,
    state: AcquireState,
}

#[derive(Clone, Copy)]
enum AcquireState {
    Start,
    Queued(u64),
    Done,
}

impl<'a> Acquire<'a> {
    pub(super) fn new(bulkhead: &'a Bulkhead) -> Self {
        Self {
            bulkhead,
            state: AcquireState::Start,
        }
    }
}

impl<'a> Future for Acquire<'a> {
    type Output = Result<BulkheadPermit<'a>, Rejected>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let bulkhead = self.bulkhead;
        match self.state {
            AcquireState::Start => match bulkhead.register(cx.waker()) {
                Registration::Acquired => {
                    self.state = AcquireState::Done;
                    Poll::Ready(Ok(bulkhead.permit()))
                }
                Registration::Full => {
                    self.state = AcquireState::Done;
                    Poll::Ready(Err(bulkhead.rejected()))
                }
                Registration::Queued(ticket) => {
                    self.state = AcquireState::Queued(ticket);
                    Poll::Pending
                }
            },
            AcquireState::Queued(ticket) => {
                let mut queue = bulkhead.lock();
                if let Ok(index) = queue.find(ticket) {
                    let waker = &mut queue.waiters[index].waker;
                    if !waker.will_wake(cx.waker()) {
                        waker.clone_from(cx.waker());
                    }
                    return Poll::Pending;
                }
                // A hand-over removed the entry and gave this caller its slot.
                drop(queue);
                self.state = AcquireState::Done;
                Poll::Ready(Ok(bulkhead.permit()))
            }
            AcquireState::Done => panic!("bulkhead wait polled after completion"),
        }
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        if let AcquireState::Queued(ticket) = self.state {
            self.bulkhead.cancel(ticket);
        }
    }
}

//! The future of [`RateLimiter::run`], and the reservation a waiting caller holds.
//!
//! A [`Reservation`] is the RAII guard of a reserved permit: granted when its sleep ends,
//! undone when it is dropped before (module docs, "Cancellation"). It lives inside
//! [`Waiting`], the sleep until the permit is due, which lives inside the call's future; so
//! whatever drops the call while it waits — a `#[timeout]`, a `select!`, an aborted task —
//! gives the permit back.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

use super::gcra::{Decision, Reserved};
use super::RateLimiter;
use crate::sync::Ordering;
use crate::Failure;

/// A reserved permit; undone on drop unless granted.
struct Reservation<'a> {
    limiter: &'a RateLimiter,
    reserved: Reserved,
    granted: bool,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if !self.granted {
            // Fails (and the permit passes unused) when somebody reserved after this one.
            self.limiter.gcra.undo(self.reserved);
        }
        self.limiter.waiting.fetch_sub(1, Ordering::Relaxed);
    }
}

pin_project! {
    /// Sleeps until a reserved permit is due, then grants it.
    pub(super) struct Waiting<'a> {
        #[pin]
        sleep: Sleep,
        reservation: Reservation<'a>,
    }
}

impl<'a> Waiting<'a> {
    /// The wait for `reserved`, due at `deadline`. The limiter has counted it as waiting.
    pub(super) fn new(limiter: &'a RateLimiter, reserved: Reserved, deadline: Instant) -> Self {
        Self {
            sleep: tokio::time::sleep_until(deadline),
            reservation: Reservation {
                limiter,
                reserved,
                granted: false,
            },
        }
    }
}

impl Future for Waiting<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        std::task::ready!(this.sleep.poll(cx));
        this.reservation.granted = true;
        Poll::Ready(())
    }
}

/// Where a [`RateLimitRun`] is: a tag beside the optional wait, so the path of a permit due
/// now changes one byte and drops nothing.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Not polled yet.
    Start,
    /// Holding a reservation, sleeping until it is due (`wait` is `Some`).
    Waiting,
    /// Admitted: the body runs.
    Running,
    /// Refused; the call is over.
    Done,
}

pin_project! {
    /// The future of [`RateLimiter::run`].
    ///
    /// Hand-written rather than an `async fn`, so the guarded future is stored once and the
    /// path of a permit due now (a clock read and one compare-and-swap) is inlined into the
    /// caller. The wait, when there is one, is kept inline too: waiting does not allocate.
    #[must_use = "futures do nothing unless polled"]
    pub struct RateLimitRun<'a, F> {
        limiter: &'a RateLimiter,
        phase: Phase,
        #[pin]
        wait: Option<Waiting<'a>>,
        #[pin]
        fut: F,
    }
}

impl<'a, F> RateLimitRun<'a, F> {
    pub(super) fn new(limiter: &'a RateLimiter, fut: F) -> Self {
        Self {
            limiter,
            phase: Phase::Start,
            wait: None,
            fut,
        }
    }
}

impl<T, E, F> Future for RateLimitRun<'_, F>
where
    F: Future<Output = Result<T, Failure<E>>>,
{
    type Output = Result<T, Failure<E>>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if *this.phase != Phase::Running {
            let limiter: &RateLimiter = this.limiter;
            if *this.phase == Phase::Start {
                match limiter.decide() {
                    Decision::Now => {
                        limiter.admitted();
                        *this.phase = Phase::Running;
                    }
                    Decision::Refused { retry_after } => {
                        *this.phase = Phase::Done;
                        let rejected = limiter.refused(retry_after);
                        return Poll::Ready(Err(Failure::Rejected(rejected)));
                    }
                    Decision::Later(reserved) => {
                        this.wait.set(Some(limiter.wait(reserved)));
                        *this.phase = Phase::Waiting;
                    }
                }
            }
            if *this.phase == Phase::Waiting {
                if let Some(wait) = this.wait.as_mut().as_pin_mut() {
                    std::task::ready!(wait.poll(cx));
                }
                // Dropping the granted wait only counts it out of the waiters.
                this.wait.set(None);
                limiter.admitted();
                *this.phase = Phase::Running;
            }
            assert!(
                *this.phase == Phase::Running,
                "`RateLimitRun` polled after completion"
            );
        }
        this.fut.poll(cx)
    }
}

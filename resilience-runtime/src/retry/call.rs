//! One call's retry state, as `#[retry]` keeps it inside the call's future.
//!
//! # Why it is boxed
//!
//! The future of a call holds everything the retry loop keeps across an `.await`. Inline, that
//! would be the [`Backoff`] (48 bytes) and tokio's [`Sleep`] (about 100 more), in every call's
//! future, though most calls never fail: a large future costs every call a larger copy when it
//! is moved, and a larger allocation when it is spawned. So a call keeps only what its first
//! attempt needs — the deadline of `max_elapsed` (none without it) and one pointer — and the backoff and the timer are allocated together at the call's first retry,
//! then reused by its later retries. One allocation per call that retries, none for a call
//! that does not; a retry waits at least milliseconds, next to which the allocation is
//! nothing.
//!
//! The loop `#[retry]` generates, written out:
//!
//! ```
//! use resilience_runtime::{Failure, InstanceName, Jitter, Rejected, RetryConfig, RetryPolicy};
//! use std::time::Duration;
//!
//! static POLICY: RetryPolicy =
//!     RetryPolicy::new(RetryConfig::new(InstanceName::given("fetch")).with_jitter(Jitter::None));
//!
//! #[derive(Debug)]
//! enum Error { Flaky, Rejected(Rejected) }
//! impl From<Rejected> for Error {
//!     fn from(r: Rejected) -> Self { Error::Rejected(r) }
//! }
//!
//! async fn attempt(n: u32) -> Result<&'static str, Failure<Error>> {
//!     if n < 2 { Err(Failure::Error(Error::Flaky)) } else { Ok("done") }
//! }
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let start = tokio::time::Instant::now();
//! let mut call = POLICY.call();
//! let mut n = 0;
//! let outcome = loop {
//!     let outcome = attempt(n).await;
//!     match call.after(&POLICY, &outcome, |_| true, |_| None) {
//!         Some(delay) => {
//!             drop(outcome);
//!             call.pause(delay).await;
//!         }
//!         None => break outcome,
//!     }
//!     n += 1;
//! };
//! assert_eq!(outcome.ok(), Some("done"));
//! // Two retries: 100 ms, then 200 ms.
//! assert_eq!(start.elapsed(), Duration::from_millis(300));
//! # }
//! ```

use std::future::Future;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

use super::backoff::Deadline;
use super::{retried, Backoff, RetryPolicy};
use crate::registry::Site;
use crate::{Failure, Rejected};

mod sealed {
    /// Only a policy and its site are sources.
    pub trait Sealed {}
    impl Sealed for &crate::RetryPolicy {}
    impl Sealed for &'static crate::Site<crate::RetryPolicy> {}
}

/// Where [`RetryCall::after`] finds the policy: the policy itself, or the `static` site of
/// `#[retry]`, whose read the success path then skips. Sealed.
#[doc(hidden)]
pub trait PolicySource<'a>: sealed::Sealed + Copy {
    /// The policy.
    fn policy(self) -> &'a RetryPolicy;
}

impl<'a> PolicySource<'a> for &'a RetryPolicy {
    #[inline]
    fn policy(self) -> &'a RetryPolicy {
        self
    }
}

impl PolicySource<'static> for &'static Site<RetryPolicy> {
    #[inline]
    fn policy(self) -> &'static RetryPolicy {
        self.get()
    }
}

/// The retry state of one call (module docs): made by [`RetryPolicy::call`], asked
/// [`after`](Self::after) each attempt whether to retry, and [`pause`](Self::pause)d for the
/// delay it gave. 16 bytes: the deadline and a pointer.
#[derive(Debug)]
pub struct RetryCall<'a> {
    /// When no retry may end any more (`max_elapsed` after the call began).
    deadline: Deadline,
    /// The backoff and the timer, from the first retry on. Dropped by hand (`Drop` below), so
    /// a call's drop glue is one test of this pointer inline, the rest out of line.
    retries: ManuallyDrop<Option<Pin<Box<Retries<'a>>>>>,
}

impl Drop for RetryCall<'_> {
    #[inline]
    fn drop(&mut self) {
        if self.retries.is_some() {
            self.drop_retries();
        }
    }
}

pin_project! {
    /// What only a call that retries needs.
    #[derive(Debug)]
    struct Retries<'a> {
        backoff: Backoff<'a>,
        // Created at the first pause, reset at the later ones.
        #[pin]
        timer: Option<Sleep>,
    }
}

impl<'a> RetryCall<'a> {
    #[inline]
    pub(super) fn new(deadline: Deadline) -> Self {
        Self {
            deadline,
            retries: ManuallyDrop::new(None),
        }
    }

    #[cold]
    #[inline(never)]
    fn drop_retries(&mut self) {
        drop(self.retries.take());
    }

    /// The delay before the next attempt after `outcome`, or `None` when it is final: what
    /// [`RetryPolicy::delay_after`] decides, with this call's backoff. `policy` is the one
    /// that made this call (the call does not keep a reference to it, to stay small), or
    /// the `static` site it was found at, read only if the outcome is one to retry (or, with
    /// the `stats` feature, to count): a success reads nothing more.
    #[inline]
    pub fn after<T, E: From<Rejected>>(
        &mut self,
        policy: impl PolicySource<'a>,
        outcome: &Result<T, Failure<E>>,
        retry_if: impl FnOnce(&E) -> bool,
        retry_after: impl FnOnce(&E) -> Option<Duration>,
    ) -> Option<Duration> {
        let Some((cause, hint)) = retried(outcome, retry_if, retry_after) else {
            if cfg!(feature = "stats") {
                policy.policy().count_final(outcome.is_ok());
            }
            return None;
        };
        self.retry(policy.policy(), cause, hint)
    }

    #[cold]
    #[inline(never)]
    fn retry(
        &mut self,
        policy: &'a RetryPolicy,
        cause: &'static str,
        hint: Option<Duration>,
    ) -> Option<Duration> {
        let deadline = self.deadline;
        let retries = self.retries.get_or_insert_with(|| {
            Box::pin(Retries {
                backoff: Backoff::until(&policy.config, policy.budget.clock(), deadline),
                timer: None,
            })
        });
        policy.retry(retries.as_mut().project().backoff, cause, hint)
    }

    /// Waits `delay` on tokio's clock (a paused test clock drives it); a zero delay does not
    /// yield.
    ///
    /// # Panics
    ///
    /// If `delay` is not zero and [`after`](Self::after) never granted a retry.
    pub fn pause(&mut self, delay: Duration) -> Pause<'_> {
        if delay.is_zero() {
            return Pause { timer: None };
        }
        let retries = self
            .retries
            .as_mut()
            .expect("a pause follows a retry granted by `after`");
        let mut timer = retries.as_mut().project().timer;
        match timer.as_mut().as_pin_mut() {
            Some(sleep) => sleep.reset(deadline_in(delay)),
            None => timer.set(Some(tokio::time::sleep(delay))),
        }
        Pause {
            timer: timer.as_pin_mut(),
        }
    }

    /// How many retries were granted so far.
    pub fn retries(&self) -> u32 {
        self.retries.as_ref().map_or(0, |r| r.backoff.retries())
    }
}

/// `delay` from now, or as far as tokio's timer reaches (`tokio::time::sleep` does the same).
fn deadline_in(delay: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(delay)
        .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365 * 30))
}

/// The future of [`RetryCall::pause`].
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct Pause<'p> {
    timer: Option<Pin<&'p mut Sleep>>,
}

impl Future for Pause<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.timer {
            None => Poll::Ready(()),
            Some(timer) => timer.as_mut().poll(cx),
        }
    }
}

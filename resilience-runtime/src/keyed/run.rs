//! A call through a keyed instance as one future: the instance's own run future beside the
//! hold on its entry.
//!
//! Generated code writes `{ let entry = SITE.get(key); entry.run(body) }` (the key in a
//! statement of its own, so that its temporaries end before the call), the shape of an
//! unkeyed site's `SITE.get().run(body)`. An `async` block holding the [`KeyedRef`] and
//! awaiting the instance's run would do the same, but rustc keeps an async block's captures
//! beside the future it awaits: the keyed call's future was 136 bytes where the unkeyed one
//! is 64, and past 128 bytes every move of it is a `memcpy` call.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use super::KeyedRef;
use crate::{
    BreakerRun, Bulkhead, BulkheadRun, CircuitBreaker, ErrorClass, Failure, RateLimitRun,
    RateLimiter,
};

pin_project! {
    /// A call through a keyed instance, for generated code: [`KeyedRef::run`].
    #[doc(hidden)]
    #[must_use = "futures do nothing unless polled"]
    pub struct KeyedRun<T: 'static, F> {
        // Declared first, so dropped first: it borrows the instance `held` keeps alive.
        #[pin]
        run: F,
        held: KeyedRef<T>,
    }
}

impl<T, F: Future> Future for KeyedRun<T, F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.project().run.poll(cx)
    }
}

impl<T> KeyedRef<T> {
    /// The instance, for a run future that this hold outlives.
    #[inline]
    fn run_on<F>(self, run: impl FnOnce(&'static T) -> F) -> KeyedRun<T, F> {
        // SAFETY: the reference goes only into the run future of the `KeyedRun` built here
        // (each caller below passes it straight to the instance's `run`), which is dropped
        // before `held`, whose count keeps the entry alive (`KeyedRef::entry`).
        let instance: &'static T = unsafe { &*std::ptr::from_ref(&*self) };
        KeyedRun {
            run: run(instance),
            held: self,
        }
    }
}

impl KeyedRef<CircuitBreaker> {
    /// [`CircuitBreaker::run`] on this key's breaker, held for the call.
    #[inline]
    pub fn run<T, E, F, P, C>(
        self,
        fut: F,
        is_failure: P,
    ) -> KeyedRun<CircuitBreaker, BreakerRun<'static, F, P>>
    where
        F: Future<Output = Result<T, Failure<E>>>,
        P: FnOnce(&E) -> C,
        C: Into<ErrorClass>,
    {
        self.run_on(|breaker| breaker.run(fut, is_failure))
    }
}

impl KeyedRef<Bulkhead> {
    /// [`Bulkhead::run`] on this key's bulkhead, held for the call.
    #[inline]
    pub fn run<T, E, F>(self, fut: F) -> KeyedRun<Bulkhead, BulkheadRun<'static, F>>
    where
        F: Future<Output = Result<T, Failure<E>>>,
    {
        self.run_on(|bulkhead| bulkhead.run(fut))
    }
}

impl KeyedRef<RateLimiter> {
    /// [`RateLimiter::run`] on this key's limiter, held for the call.
    #[inline]
    pub fn run<T, E, F>(self, fut: F) -> KeyedRun<RateLimiter, RateLimitRun<'static, F>>
    where
        F: Future<Output = Result<T, Failure<E>>>,
    {
        self.run_on(|limiter| limiter.run(fut))
    }
}

//! The futures of the `tower` services, and the adapters between a service's `BoxError` and
//! the [`Failure`] the runtime's state machines classify.
//!
//! Every service here runs its inner service's future inside the same `*Run` future a
//! generated function uses (`BreakerRun`, `BulkheadRun`, `RateLimitRun`, `TimeoutRun`), so a
//! layer and an attribute of the same name behave alike by construction. Between them:
//!
//! - [`Lifted`] turns the inner service's error into a [`Failure`]: a [`Rejected`] from an
//!   inner layer (downcast from the `BoxError`) stays a rejection, so an outer breaker
//!   ignores an inner `BulkheadFull` and an outer retry stops at an inner `CircuitOpen`,
//!   as they do between stacked attributes; anything else is the service's own error;
//! - [`Deferred`] calls the inner service only when it is first polled, which a bulkhead or
//!   a rate limit does once it has a slot or a permit;
//! - [`ResponseFuture`] turns the [`Failure`] back into a `BoxError` at the service's
//!   boundary.
//!
//! Nothing here allocates on the success path; a failure allocates its `BoxError` as the
//! inner service did (a rejection is boxed when it leaves the service).

use core::future::Future;
use core::pin::Pin;
use core::task::{ready, Context, Poll};

use pin_project_lite::pin_project;
use resilience_runtime::{Failure, Rejected};
use tower_service::Service;

use super::BoxError;

/// An error that left a service, as the runtime classifies it: an inner layer's rejection,
/// or the service's own error.
pub(super) fn lift(error: impl Into<BoxError>) -> Failure<BoxError> {
    match error.into().downcast::<Rejected>() {
        Ok(rejected) => Failure::Rejected(*rejected),
        Err(error) => Failure::Error(error),
    }
}

pin_project! {
    /// The inner service's future, its error lifted into a [`Failure`].
    #[must_use = "futures do nothing unless polled"]
    pub struct Lifted<F> {
        #[pin]
        fut: F,
    }
}

impl<F> Lifted<F> {
    pub(super) fn new(fut: F) -> Self {
        Self { fut }
    }
}

impl<F, T, E> Future for Lifted<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    type Output = Result<T, Failure<BoxError>>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Ready(ready!(self.project().fut.poll(cx)).map_err(lift))
    }
}

pin_project! {
    /// A call of the inner service made at the first poll, by the service instance that was
    /// polled ready: what a bulkhead or a rate limit runs once it has admitted the call.
    #[must_use = "futures do nothing unless polled"]
    pub struct Deferred<S, Req, F> {
        call: Option<(S, Req)>,
        #[pin]
        fut: Option<Lifted<F>>,
    }
}

impl<S, Req, F> Deferred<S, Req, F> {
    pub(super) fn new(service: S, request: Req) -> Self {
        Self {
            call: Some((service, request)),
            fut: None,
        }
    }
}

impl<S, Req> Future for Deferred<S, Req, S::Future>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
{
    type Output = Result<S::Response, Failure<BoxError>>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Some((mut service, request)) = this.call.take() {
            this.fut.set(Some(Lifted::new(service.call(request))));
        }
        match this.fut.as_pin_mut() {
            Some(fut) => fut.poll(cx),
            None => panic!("`Deferred` polled after completion"),
        }
    }
}

pin_project! {
    /// A call the layer either runs or has already refused.
    #[must_use = "futures do nothing unless polled"]
    pub struct Refusable<F> {
        // `Some` when admitted.
        #[pin]
        fut: Option<F>,
        // `Some` when refused, until reported.
        rejected: Option<Rejected>,
    }
}

impl<F> Refusable<F> {
    pub(super) fn run(fut: F) -> Self {
        Self {
            fut: Some(fut),
            rejected: None,
        }
    }

    pub(super) fn refused(rejected: Rejected) -> Self {
        Self {
            fut: None,
            rejected: Some(rejected),
        }
    }
}

impl<F, T> Future for Refusable<F>
where
    F: Future<Output = Result<T, Failure<BoxError>>>,
{
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Some(fut) = this.fut.as_pin_mut() {
            return fut.poll(cx);
        }
        match this.rejected.take() {
            Some(rejected) => Poll::Ready(Err(Failure::Rejected(rejected))),
            None => panic!("`Refusable` polled after completion"),
        }
    }
}

pin_project! {
    /// The future a service of [`resilience::tower`](super) returns: its layer's run, with a
    /// rejection or the inner service's error as a `BoxError`. A rejection downcasts to
    /// [`Rejected`].
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F> {
        #[pin]
        run: F,
    }
}

impl<F> ResponseFuture<F> {
    pub(super) fn new(run: F) -> Self {
        Self { run }
    }
}

impl<F, T> Future for ResponseFuture<F>
where
    F: Future<Output = Result<T, Failure<BoxError>>>,
{
    type Output = Result<T, BoxError>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Ready(ready!(self.project().run.poll(cx)).map_err(Failure::into_error))
    }
}

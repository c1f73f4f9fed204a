//! [`RetryLayer`]: retries of a `tower` service's failed requests, with the named retry
//! policy's backoff, jitter and budget.
//!
//! Each attempt sends a clone of the request (so `Req: Clone`), the first through the
//! service instance that was polled ready, each retry through a clone of the service that
//! is polled ready again after the delay. What is retried is what `#[retry]` retries: every
//! error of the inner service (or those [`RetryLayer::retry_if`] accepts), an inner
//! layer's `BulkheadFull`, `TimedOut` or `RateLimited` (whose `retry_after` is the next
//! delay) but never an inner `CircuitOpen`. Dropping the future stops the retries.

use core::future::Future;
use core::pin::Pin;
use core::task::{ready, Context, Poll};

use pin_project_lite::pin_project;
use resilience_runtime::{adopt, Backoff, Failure, InstanceName, RetryConfig, RetryPolicy};
use tower_layer::Layer;
use tower_service::Service;

use super::future::Lifted;
use super::BoxError;
use crate::__private::no_hint;

/// Wraps a service in the retry policy of a name, shared with every `#[retry(name = "...")]`
/// and every layer of that name (one budget).
///
/// ```
/// use resilience::tower::RetryLayer;
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::sync::Arc;
/// use tower::{service_fn, ServiceBuilder, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let calls = Arc::new(AtomicU32::new(0));
/// let counted = calls.clone();
/// let service = ServiceBuilder::new()
///     .layer(RetryLayer::named("doc-flaky"))
///     .service(service_fn(move |request: String| {
///         let attempt = counted.fetch_add(1, Ordering::Relaxed);
///         async move { if attempt < 2 { Err("flaky") } else { Ok(request.len()) } }
///     }));
/// assert_eq!(service.oneshot("hello".to_string()).await.unwrap(), 5);
/// assert_eq!(calls.load(Ordering::Relaxed), 3, "two retries");
/// # }
/// ```
#[derive(Clone, Copy, Debug)]
pub struct RetryLayer {
    policy: &'static RetryPolicy,
    retry_if: fn(&BoxError) -> bool,
}

impl RetryLayer {
    /// The retry policy named `name`: the one already registered under it, else a new one
    /// with the attribute's defaults (3 retries from 100 ms, full jitter, a budget of 20 %;
    /// overrides for the name applied), registered now.
    pub fn named(name: &'static str) -> Self {
        Self::new(RetryConfig::new(InstanceName::given(name)))
    }

    /// The retry policy named by `config`'s name, registered with this configuration
    /// (overrides applied) unless that name is registered already: then the registered one
    /// serves, unchanged.
    pub fn new(config: RetryConfig) -> Self {
        Self {
            policy: adopt(RetryPolicy::new(config)),
            retry_if: crate::__private::every_error,
        }
    }

    /// Which errors to retry (by default every one), as `#[retry(retry_if = ...)]`: inner
    /// rejections are judged too, as the `BoxError` they become.
    #[must_use]
    pub fn retry_if(mut self, retry_if: fn(&BoxError) -> bool) -> Self {
        self.retry_if = retry_if;
        self
    }

    /// The retry policy.
    pub fn policy(&self) -> &'static RetryPolicy {
        self.policy
    }
}

impl<S> Layer<S> for RetryLayer {
    type Service = RetryService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RetryService {
            inner,
            layer: *self,
        }
    }
}

/// A service behind a [`RetryLayer`].
#[derive(Clone, Debug)]
pub struct RetryService<S> {
    inner: S,
    layer: RetryLayer,
}

impl<S, Req> Service<Req> for RetryService<S>
where
    S: Service<Req> + Clone,
    S::Error: Into<BoxError>,
    Req: Clone,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = RetryFuture<S, Req, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let first = Lifted::new(self.inner.call(request.clone()));
        RetryFuture {
            backoff: self.layer.policy.backoff(),
            layer: self.layer,
            service: self.inner.clone(),
            request,
            state: State::Calling { fut: first },
        }
    }
}

pin_project! {
    /// The future of a [`RetryService`]: the attempts and the delays between them.
    #[must_use = "futures do nothing unless polled"]
    pub struct RetryFuture<S, Req, F> {
        layer: RetryLayer,
        backoff: Backoff<'static>,
        service: S,
        request: Req,
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Calling {
            #[pin]
            fut: Lifted<F>,
        },
        Sleeping {
            #[pin]
            sleep: tokio::time::Sleep,
        },
        // The delay is over: the service is polled ready for the next attempt.
        Readying,
    }
}

impl<S, Req> Future for RetryFuture<S, Req, S::Future>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    Req: Clone,
{
    type Output = Result<S::Response, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Calling { fut } => {
                    let outcome = ready!(fut.poll(cx));
                    let policy = this.layer.policy;
                    match policy.delay_after(this.backoff, &outcome, this.layer.retry_if, no_hint) {
                        None => return Poll::Ready(outcome.map_err(Failure::into_error)),
                        Some(delay) => this.state.set(State::Sleeping {
                            sleep: tokio::time::sleep(delay),
                        }),
                    }
                }
                StateProj::Sleeping { sleep } => {
                    ready!(sleep.poll(cx));
                    this.state.set(State::Readying);
                }
                StateProj::Readying => {
                    if let Err(error) = ready!(this.service.poll_ready(cx)) {
                        // The service failed: nothing to send the retry through.
                        return Poll::Ready(Err(error.into()));
                    }
                    let fut = Lifted::new(this.service.call(this.request.clone()));
                    this.state.set(State::Calling { fut });
                }
            }
        }
    }
}

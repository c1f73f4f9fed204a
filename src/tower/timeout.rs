//! [`TimeoutLayer`]: a named time limit around a `tower` service.
//!
//! The limit starts when the service is called, as `#[timeout]`'s starts when the function
//! is; the inner future is dropped when it runs out and the caller gets
//! [`Rejected::TimedOut`](crate::Rejected::TimedOut). `poll_ready` is the inner service's:
//! the limit covers the call, not the wait for readiness (put the layer behind a
//! `Buffer`, or a bulkhead with `max_wait`, to bound that).

use core::task::{Context, Poll};
use core::time::Duration;

use resilience_runtime::{adopt, InstanceName, Timeout, TimeoutRun};
use tower_layer::Layer;
use tower_service::Service;

use super::future::{Lifted, ResponseFuture};
use super::BoxError;

/// Wraps a service in the time limit of a name, shared by every layer of that name. A
/// `#[timeout]` takes no name (its instance is its function's), so no attribute shares it;
/// the name is what snapshots, events and overrides (`<name>/timeout/limit`) call it.
///
/// ```
/// use resilience::tower::TimeoutLayer;
/// use resilience::Rejected;
/// use std::time::Duration;
/// use tower::{service_fn, Layer, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let service = TimeoutLayer::named("doc-search", Duration::from_secs(2)).layer(service_fn(|_: ()| async {
///     tokio::time::sleep(Duration::from_secs(5)).await;
///     Ok::<_, std::io::Error>("late")
/// }));
/// let error = service.oneshot(()).await.unwrap_err();
/// assert!(matches!(error.downcast_ref(), Some(Rejected::TimedOut { .. })));
/// # }
/// ```
#[derive(Clone, Copy, Debug)]
pub struct TimeoutLayer {
    timeout: &'static Timeout,
}

impl TimeoutLayer {
    /// The time limit named `name`: the one already registered under it, else a new one of
    /// `limit` (the override `<name>/timeout/limit` applied), registered now.
    pub fn named(name: &'static str, limit: Duration) -> Self {
        Self {
            timeout: adopt(Timeout::new(InstanceName::given(name), limit)),
        }
    }

    /// The time limit.
    pub fn timeout(&self) -> &'static Timeout {
        self.timeout
    }
}

impl<S> Layer<S> for TimeoutLayer {
    type Service = TimeoutService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TimeoutService {
            inner,
            layer: *self,
        }
    }
}

/// A service behind a [`TimeoutLayer`].
#[derive(Clone, Debug)]
pub struct TimeoutService<S> {
    inner: S,
    layer: TimeoutLayer,
}

impl<S, Req> Service<Req> for TimeoutService<S>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<TimeoutRun<'static, Lifted<S::Future>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        ResponseFuture::new(
            self.layer
                .timeout
                .run(Lifted::new(self.inner.call(request))),
        )
    }
}

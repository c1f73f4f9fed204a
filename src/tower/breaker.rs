//! [`CircuitBreakerLayer`]: a named circuit breaker around a `tower` service.
//!
//! The breaker decides in `call`, before the inner service is called: a refused request never
//! reaches it (its future is ready at once with [`Rejected::CircuitOpen`]), and an admitted
//! one runs inside the breaker's own `BreakerRun`, which records its outcome, a panic or a
//! cancellation exactly as for `#[circuit_breaker]`. `poll_ready` is the inner service's:
//! an open breaker does not make the service "not ready" (a pending `poll_ready` would make
//! a `Buffer` or a balancer queue callers behind an open circuit instead of failing them
//! fast, and the breaker has no waker for the end of its open period).

use core::task::{Context, Poll};

use resilience_runtime::{adopt, BreakerConfig, BreakerRun, CircuitBreaker, InstanceName};
use tower_layer::Layer;
use tower_service::Service;

use super::future::{Lifted, Refusable, ResponseFuture};
use super::BoxError;

/// Wraps a service in the circuit breaker of a name, shared with every
/// `#[circuit_breaker(name = "...")]` and every layer of that name.
///
/// ```
/// use resilience::tower::CircuitBreakerLayer;
/// use resilience::Rejected;
/// use tower::{service_fn, Service, ServiceBuilder, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let breaker = CircuitBreakerLayer::named("doc-inventory");
/// let mut service = ServiceBuilder::new()
///     .layer(breaker)
///     .service(service_fn(|_: ()| async { Err::<(), _>("down") }));
/// for _ in 0..3 {
///     assert!(service.ready().await.unwrap().call(()).await.is_err());
/// }
/// // Three failures in a row (the default threshold): open, the service is not called.
/// let error = service.ready().await.unwrap().call(()).await.unwrap_err();
/// assert!(matches!(error.downcast_ref(), Some(Rejected::CircuitOpen { .. })));
/// assert_eq!(breaker.breaker().state(), resilience::monitor::BreakerState::Open);
/// # }
/// ```
#[derive(Clone, Copy, Debug)]
pub struct CircuitBreakerLayer {
    breaker: &'static CircuitBreaker,
    failure_if: fn(&BoxError) -> bool,
}

impl CircuitBreakerLayer {
    /// The breaker named `name`: the one already registered under it (by an annotated
    /// function that ran, or another layer), else a new one with the attribute's defaults
    /// and the overrides set for the name ([`configure`](crate::monitor::configure),
    /// environment variables), registered now.
    pub fn named(name: &'static str) -> Self {
        Self::new(BreakerConfig::new(InstanceName::given(name)))
    }

    /// The breaker named by `config`'s name, registered with this configuration (overrides
    /// applied) unless that name is registered already: then the registered breaker serves,
    /// its configuration unchanged, as between functions that share a name.
    pub fn new(config: BreakerConfig) -> Self {
        Self {
            breaker: adopt(CircuitBreaker::new(config)),
            failure_if: crate::__private::every_error,
        }
    }

    /// Which errors of the inner service count as failures (by default every one; `false`
    /// records a success: the service answered). An inner layer's rejection is classified
    /// as between attributes: a timeout fails, a full bulkhead or a rate limit is ignored.
    #[must_use]
    pub fn failure_if(mut self, failure_if: fn(&BoxError) -> bool) -> Self {
        self.failure_if = failure_if;
        self
    }

    /// The breaker, to watch or force by hand (as [`monitor::breaker`](crate::monitor::breaker)
    /// finds it by name).
    pub fn breaker(&self) -> &'static CircuitBreaker {
        self.breaker
    }
}

impl<S> Layer<S> for CircuitBreakerLayer {
    type Service = CircuitBreakerService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CircuitBreakerService {
            inner,
            layer: *self,
        }
    }
}

/// A service behind a [`CircuitBreakerLayer`].
#[derive(Clone, Debug)]
pub struct CircuitBreakerService<S> {
    inner: S,
    layer: CircuitBreakerLayer,
}

impl<S, Req> Service<Req> for CircuitBreakerService<S>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future =
        ResponseFuture<Refusable<BreakerRun<'static, Lifted<S::Future>, fn(&BoxError) -> bool>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        ResponseFuture::new(match self.layer.breaker.admit() {
            Ok(permit) => Refusable::run(
                permit.run(Lifted::new(self.inner.call(request)), self.layer.failure_if),
            ),
            Err(rejected) => Refusable::refused(rejected),
        })
    }
}

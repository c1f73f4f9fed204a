//! [`BulkheadLayer`] and [`RateLimitLayer`]: layers that may make a request wait before the
//! inner service is called.
//!
//! # Waiting in `call`, not in `poll_ready`
//!
//! tower's `ConcurrencyLimit` and `RateLimit` wait in `poll_ready`: a service at its limit
//! stays "not ready", with no bound on how long (tower issue #793), and a caller that
//! polled it ready but never calls holds the slot. These layers wait in the future that
//! `call` returns instead, under the instance's own rules, exactly as the attributes do: a
//! bulkhead serves waiters in arrival order for at most `max_wait`, with at most `queue` of
//! them, and a rate limit rejects at once a caller whose permit would come later than
//! `max_wait`. A rejection is the call's error ([`Rejected::BulkheadFull`],
//! [`Rejected::RateLimited`]); dropping the future leaves the queue or gives the permit
//! back, and a slot is held from admission until the inner future is finished and dropped.
//!
//! `poll_ready` is the inner service's own. The inner service is called only once the
//! request is admitted, so the future must own a service to call: `call` moves the
//! instance that was polled ready into it and keeps a clone (tower's "ready clone"
//! pattern), which is why these layers need `S: Clone`, as tower's `Retry` does.
//!
//! [`Rejected::BulkheadFull`]: crate::Rejected::BulkheadFull
//! [`Rejected::RateLimited`]: crate::Rejected::RateLimited

use core::task::{Context, Poll};

use resilience_runtime::{
    adopt, Bulkhead, BulkheadConfig, BulkheadRun, InstanceName, RateLimitConfig, RateLimitRun,
    RateLimiter,
};
use tower_layer::Layer;
use tower_service::Service;

use super::future::{Deferred, ResponseFuture};
use super::BoxError;

/// A layer over one registered instance whose `run` admits a call before polling it, and its
/// service: the two differ only in the instance and the `run` future's type.
macro_rules! admission_layer {
    (
        $(#[$layer_doc:meta])*
        layer $layer:ident($field:ident: $instance:ident) -> $service:ident,
        run $run:ident,
    ) => {
        $(#[$layer_doc])*
        #[derive(Clone, Copy, Debug)]
        pub struct $layer {
            $field: &'static $instance,
        }

        impl $layer {
            /// The instance, to watch (as `monitor` finds it by name).
            pub fn $field(&self) -> &'static $instance {
                self.$field
            }
        }

        impl<S> Layer<S> for $layer {
            type Service = $service<S>;

            fn layer(&self, inner: S) -> Self::Service {
                $service {
                    inner,
                    $field: self.$field,
                }
            }
        }

        #[doc = concat!("A service behind a [`", stringify!($layer), "`].")]
        #[derive(Clone, Debug)]
        pub struct $service<S> {
            inner: S,
            $field: &'static $instance,
        }

        impl<S, Req> Service<Req> for $service<S>
        where
            S: Service<Req> + Clone,
            S::Error: Into<BoxError>,
        {
            type Response = S::Response;
            type Error = BoxError;
            type Future = ResponseFuture<$run<'static, Deferred<S, Req, S::Future>>>;

            fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
                self.inner.poll_ready(cx).map_err(Into::into)
            }

            fn call(&mut self, request: Req) -> Self::Future {
                // The instance polled ready makes the call; the clone waits for the next.
                let clone = self.inner.clone();
                let ready = core::mem::replace(&mut self.inner, clone);
                ResponseFuture::new(self.$field.run(Deferred::new(ready, request)))
            }
        }
    };
}

admission_layer! {
    /// Wraps a service in the bulkhead of a name, shared with every
    /// `#[bulkhead(name = "...")]` and every layer of that name: at most `max` requests in
    /// the inner service at once, the others waiting in the call's future (module docs).
    ///
    /// ```
    /// use resilience::tower::BulkheadLayer;
    /// use std::time::Duration;
    /// use tower::{service_fn, ServiceBuilder, ServiceExt};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let service = ServiceBuilder::new()
    ///     .layer(BulkheadLayer::named("doc-db", 1))
    ///     .service(service_fn(|n: u32| async move {
    ///         tokio::time::sleep(Duration::from_millis(10)).await;
    ///         Ok::<_, std::io::Error>(n)
    ///     }));
    /// let start = tokio::time::Instant::now();
    /// // One slot: the second request waits for the first, and `poll_ready` never blocks.
    /// let (a, b) = tokio::join!(service.clone().oneshot(1), service.oneshot(2));
    /// assert_eq!((a.unwrap(), b.unwrap()), (1, 2));
    /// assert_eq!(start.elapsed(), Duration::from_millis(20));
    /// # }
    /// ```
    layer BulkheadLayer(bulkhead: Bulkhead) -> BulkheadService,
    run BulkheadRun,
}

impl BulkheadLayer {
    /// The bulkhead named `name`: the one already registered under it, else a new one of
    /// `max` slots (waiting forever, no queue bound, overrides for the name applied),
    /// registered now.
    pub fn named(name: &'static str, max: u32) -> Self {
        Self::new(BulkheadConfig::new(InstanceName::given(name), max))
    }

    /// The bulkhead named by `config`'s name, registered with this configuration (overrides
    /// applied) unless that name is registered already: then the registered one serves,
    /// unchanged.
    pub fn new(config: BulkheadConfig) -> Self {
        Self {
            bulkhead: adopt(Bulkhead::new(config)),
        }
    }
}

admission_layer! {
    /// Wraps a service in the rate limiter of a name, shared with every
    /// `#[rate_limit(name = "...")]` and every layer of that name: a request waits in the
    /// call's future for its permit (module docs).
    ///
    /// ```
    /// use resilience::tower::RateLimitLayer;
    /// use std::time::Duration;
    /// use tower::{service_fn, Service, ServiceBuilder, ServiceExt};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let mut service = ServiceBuilder::new()
    ///     .layer(RateLimitLayer::named("doc-github", 10)) // 10 a second, a burst of 10
    ///     .service(service_fn(|_: ()| async { Ok::<_, std::io::Error>(()) }));
    /// let start = tokio::time::Instant::now();
    /// for _ in 0..12 {
    ///     service.ready().await.unwrap().call(()).await.unwrap();
    /// }
    /// // The burst is free; the next two come 100 ms apart.
    /// assert_eq!(start.elapsed(), Duration::from_millis(200));
    /// # }
    /// ```
    layer RateLimitLayer(limiter: RateLimiter) -> RateLimitService,
    run RateLimitRun,
}

impl RateLimitLayer {
    /// The rate limiter named `name`: the one already registered under it, else a new one
    /// of `rate` permits a second (a burst of `rate`, waiting as long as it takes, overrides
    /// for the name applied), registered now.
    pub fn named(name: &'static str, rate: u32) -> Self {
        Self::new(RateLimitConfig::new(InstanceName::given(name), rate))
    }

    /// The rate limiter named by `config`'s name, registered with this configuration
    /// (overrides applied) unless that name is registered already: then the registered one
    /// serves, unchanged.
    pub fn new(config: RateLimitConfig) -> Self {
        Self {
            limiter: adopt(RateLimiter::new(config)),
        }
    }
}

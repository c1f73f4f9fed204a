//! The `tower` layers around real HTTP over loopback: a hyper server, a reqwest client (a
//! `tower::Service`), `ServiceBuilder` stacks on either side. Rejections are checked by
//! type and the requests the server saw are counted.
//!
//! The clock is tokio's, paused: the runtime moves it only when every task waits, and by
//! `advance`; the client keeps no idle-connection timer, so nothing but the layers sets one.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use resilience::monitor::BreakerState;
use resilience::runtime::{
    BreakerConfig, BulkheadConfig, InstanceName, RateLimitConfig, TripPolicy,
};
use resilience::tower::{
    BoxError, BulkheadLayer, CircuitBreakerLayer, RateLimitLayer, RetryLayer, TimeoutLayer,
};
use resilience::Rejected;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tower::{service_fn, Service, ServiceBuilder, ServiceExt};

type Body = Full<Bytes>;

/// What the server's handler does, and what it saw.
struct Backend {
    healthy: AtomicBool,
    failures_left: AtomicUsize,
    gate: Semaphore,
    hits: Mutex<HashMap<String, Vec<Duration>>>,
    epoch: Instant,
}

impl Backend {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            healthy: AtomicBool::new(true),
            failures_left: AtomicUsize::new(0),
            gate: Semaphore::new(0),
            hits: Mutex::default(),
            epoch: Instant::now(),
        })
    }

    fn hits(&self, path: &str) -> Vec<Duration> {
        self.hits
            .lock()
            .unwrap()
            .get(path)
            .cloned()
            .unwrap_or_default()
    }

    async fn handle(
        self: Arc<Self>,
        request: Request<Incoming>,
    ) -> Result<Response<Body>, BoxError> {
        let path = request.uri().path().to_string();
        let at = self.epoch.elapsed();
        self.hits
            .lock()
            .unwrap()
            .entry(path.clone())
            .or_default()
            .push(at);
        let status = match path.as_str() {
            "/down" if !self.healthy.load(Ordering::SeqCst) => StatusCode::SERVICE_UNAVAILABLE,
            "/flaky" => {
                let failing = self
                    .failures_left
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                if failing {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::OK
                }
            }
            "/slow" => {
                tokio::time::sleep(Duration::from_secs(5)).await;
                StatusCode::OK
            }
            "/gated" => {
                drop(self.gate.acquire().await?);
                StatusCode::OK
            }
            _ => StatusCode::OK,
        };
        let mut response = Response::new(Body::from("done"));
        *response.status_mut() = status;
        Ok(response)
    }
}

/// The server's own answer to a rejection by one of its layers: 503, with the reason.
/// (`map_result` wants the service's error type back, although this never fails.)
#[allow(clippy::unnecessary_wraps)]
fn answer(result: Result<Response<Body>, BoxError>) -> Result<Response<Body>, BoxError> {
    Ok(result.unwrap_or_else(|error| {
        let reason = error
            .downcast_ref::<Rejected>()
            .map_or("error", Rejected::reason);
        let mut response = Response::new(Body::from(reason));
        *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        response
    }))
}

/// Serves `service` on a free loopback port, one task per connection, until the test ends.
async fn serve<S>(service: S) -> SocketAddr
where
    S: Service<Request<Incoming>, Response = Response<Body>, Error = BoxError>,
    S: Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                // A connection the client drops ends here; that is not the test's concern.
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    address
}

/// A server with no layers of its own.
async fn plain_server(backend: &Arc<Backend>) -> SocketAddr {
    let backend = Arc::clone(backend);
    let handler = service_fn(move |request| Arc::clone(&backend).handle(request));
    serve(ServiceBuilder::new().map_result(answer).service(handler)).await
}

/// reqwest without an idle-connection timer (a timer the paused clock would run to).
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_idle_timeout(None)
        .build()
        .unwrap()
}

fn get(address: SocketAddr, path: &str) -> reqwest::Request {
    reqwest::Request::new(
        reqwest::Method::GET,
        format!("http://{address}{path}").parse().unwrap(),
    )
}

/// A 5xx answer as an error, so the layers above count it as a failure.
fn server_errors_fail(
    result: Result<reqwest::Response, reqwest::Error>,
) -> Result<StatusCode, BoxError> {
    let status = result?.status();
    if status.is_server_error() {
        Err(format!("HTTP {status}").into())
    } else {
        Ok(status)
    }
}

#[tokio::test(start_paused = true)]
async fn client_breaker_opens_on_503s_rejects_unsent_and_closes_after_a_trial() {
    let backend = Backend::new();
    let address = plain_server(&backend).await;
    let layer = CircuitBreakerLayer::new(
        BreakerConfig::new(InstanceName::given("http-down"))
            .with_policy(TripPolicy::Consecutive { threshold: 2 })
            .with_open_for(Duration::from_secs(5)),
    );
    let mut service = ServiceBuilder::new()
        .layer(layer)
        .map_result(server_errors_fail)
        .service(client());
    backend.healthy.store(false, Ordering::SeqCst);
    for _ in 0..2 {
        let error = service
            .ready()
            .await
            .unwrap()
            .call(get(address, "/down"))
            .await
            .unwrap_err();
        assert_eq!(error.to_string(), "HTTP 503 Service Unavailable");
    }
    for _ in 0..3 {
        let error = service
            .ready()
            .await
            .unwrap()
            .call(get(address, "/down"))
            .await
            .unwrap_err();
        assert!(matches!(
            error.downcast_ref::<Rejected>(),
            Some(Rejected::CircuitOpen {
                name: "http-down",
                ..
            })
        ));
    }
    assert_eq!(
        backend.hits("/down").len(),
        2,
        "the open breaker sent nothing"
    );

    backend.healthy.store(true, Ordering::SeqCst);
    tokio::time::advance(Duration::from_secs(5)).await;
    assert_eq!(layer.breaker().state(), BreakerState::HalfOpen);
    let trial = service
        .ready()
        .await
        .unwrap()
        .call(get(address, "/down"))
        .await;
    assert_eq!(trial.unwrap(), StatusCode::OK);
    assert_eq!(layer.breaker().state(), BreakerState::Closed);
    assert_eq!(backend.hits("/down").len(), 3, "one trial request");
}

#[tokio::test(start_paused = true)]
async fn client_retry_resends_a_cloneable_request_until_the_server_recovers() {
    let backend = Backend::new();
    backend.failures_left.store(2, Ordering::SeqCst);
    let address = plain_server(&backend).await;
    let http = client();
    // The request is a path (`Clone`); each attempt builds its own HTTP request from it.
    let service = ServiceBuilder::new()
        .layer(RetryLayer::named("http-retry"))
        .service(service_fn(move |path: String| {
            let send = http.execute(get(address, &path));
            async move { server_errors_fail(send.await) }
        }));
    assert_eq!(
        service.oneshot("/flaky".to_string()).await.unwrap(),
        StatusCode::OK
    );
    assert_eq!(backend.hits("/flaky").len(), 3, "two 503s, then the answer");
}

#[tokio::test(start_paused = true)]
async fn client_timeout_gives_up_on_a_slow_server() {
    let backend = Backend::new();
    let address = plain_server(&backend).await;
    let service = ServiceBuilder::new()
        .layer(TimeoutLayer::named("http-timeout", Duration::from_secs(1)))
        .service(client());
    let start = Instant::now();
    let error = service.oneshot(get(address, "/slow")).await.unwrap_err();
    assert!(matches!(
        error.downcast_ref::<Rejected>(),
        Some(Rejected::TimedOut {
            name: "http-timeout",
            ..
        })
    ));
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    assert_eq!(backend.hits("/slow").len(), 1);
}

#[tokio::test]
async fn server_bulkhead_admits_max_requests_and_turns_the_rest_away() {
    let backend = Backend::new();
    let handler_backend = Arc::clone(&backend);
    let handler = service_fn(move |request| Arc::clone(&handler_backend).handle(request));
    let address = serve(
        ServiceBuilder::new()
            .map_result(answer)
            .layer(BulkheadLayer::new(
                BulkheadConfig::new(InstanceName::given("http-bulkhead"), 2)
                    .with_max_wait(Duration::ZERO),
            ))
            .service(handler),
    )
    .await;
    let http = client();
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..5 {
        let send = http.execute(get(address, "/gated"));
        requests.spawn(async move {
            let response = send.await.unwrap();
            (response.status(), response.text().await.unwrap())
        });
    }
    // Two requests hold the slots until the gate opens: the other three are answered first.
    for _ in 0..3 {
        let (status, reason) = requests.join_next().await.unwrap().unwrap();
        assert_eq!(
            (status, reason.as_str()),
            (StatusCode::SERVICE_UNAVAILABLE, "bulkhead_full")
        );
    }
    assert_eq!(
        backend.hits("/gated").len(),
        2,
        "never more than max in the handler"
    );
    backend.gate.add_permits(2);
    while let Some(answered) = requests.join_next().await {
        assert_eq!(answered.unwrap(), (StatusCode::OK, "done".to_string()));
    }
    assert_eq!(backend.hits("/gated").len(), 2);
}

#[tokio::test(start_paused = true)]
async fn server_rate_limit_spaces_the_requests_it_serves() {
    let backend = Backend::new();
    let handler_backend = Arc::clone(&backend);
    let handler = service_fn(move |request| Arc::clone(&handler_backend).handle(request));
    let address = serve(
        ServiceBuilder::new()
            .map_result(answer)
            .layer(RateLimitLayer::new(
                RateLimitConfig::new(InstanceName::given("http-rate"), 10).with_burst(1),
            ))
            .service(handler),
    )
    .await;
    let mut http = client();
    for _ in 0..4 {
        let response = http
            .ready()
            .await
            .unwrap()
            .call(get(address, "/spaced"))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    let millis: Vec<u128> = backend
        .hits("/spaced")
        .iter()
        .map(Duration::as_millis)
        .collect();
    assert_eq!(millis, [0, 100, 200, 300], "one request every 100 ms");
}

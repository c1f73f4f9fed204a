//! What a dashboard sees: Prometheus metrics and a JSON snapshot of every instance, served
//! over HTTP while a client's circuit breaker opens and closes under load.
//!
//! ```text
//! cargo run --example observability --features _observability
//! ```
//!
//! (`_observability` turns on `tower`, `serde`, `metrics` and `stats`, and the Prometheus
//! exporter this example alone uses, which the default build never compiles.)
//!
//! Everything runs in this process, on `127.0.0.1`, on ports the system picks:
//!
//! - a **backend** (hyper) answering `GET /quote`, which `main` breaks (503) and repairs;
//! - an **admin server** (hyper) exposing `GET /metrics` (the Prometheus text format,
//!   rendered by `metrics-exporter-prometheus`) and `GET /resilience` (`monitor::snapshot()`
//!   as JSON, feature `serde`);
//! - a **client**: `reqwest` under `tower` layers — a retry, the circuit breaker named
//!   `backend`, a time limit — and a health probe, an `async fn` carrying
//!   `#[circuit_breaker(name = "backend")]`: the layer and the attribute share one breaker.
//!
//! The example scrapes both admin endpoints itself before the outage, during it and after
//! the recovery, prints what changed between scrapes, and checks that the breaker's state
//! and rejections show in both (it exits with an error otherwise). `docs/grafana-dashboard.json`
//! graphs the same metrics.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use resilience::runtime::{BreakerConfig, InstanceName, RetryConfig, TripPolicy};
use resilience::tower::{BoxError, CircuitBreakerLayer, RetryLayer, TimeoutLayer};
use resilience::{circuit_breaker, monitor};
use serde_json::Value;
use tokio::net::TcpListener;
use tower::{Service, ServiceBuilder, ServiceExt};

type Body = Full<Bytes>;

/// Consecutive failures that open the breaker, and how long it stays open.
const THRESHOLD: u32 = 5;
const OPEN_FOR: Duration = Duration::from_millis(500);

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let prometheus = PrometheusBuilder::new().install_recorder()?;
    let backend = Backend::start().await?;
    let admin = serve(move |request| Ok(admin(&prometheus, &request))).await?;
    let backend_address = backend.address;
    println!("backend on http://{backend_address}, admin on http://{admin}");

    // The client. The breaker is built here, first, so its configuration decides; the probe
    // below declares the same name and joins it.
    let breaker = CircuitBreakerLayer::new(
        BreakerConfig::new(InstanceName::given("backend"))
            .with_policy(TripPolicy::Consecutive {
                threshold: THRESHOLD,
            })
            .with_open_for(OPEN_FOR),
    );
    let client = ServiceBuilder::new()
        .layer(RetryLayer::new(
            RetryConfig::new(InstanceName::given("backend"))
                .with_max(1)
                .with_base(Duration::from_millis(5)),
        ))
        .layer(breaker)
        .layer(TimeoutLayer::named("backend", Duration::from_secs(2)))
        // The request is a path (`Clone`, as a retry needs); each attempt builds its own.
        .map_request(move |path: String| get(backend_address, &path))
        .map_result(server_errors_fail)
        .service(reqwest::Client::new());
    let http = reqwest::Client::new();

    let healthy = Scrape::take(&http, admin).await?;
    let (ok, failed) = load(&client, 20).await;
    probe(&http, backend.address).await?;
    println!("\n1. healthy: {ok} requests answered, {failed} failed");
    let warm = Scrape::take(&http, admin).await?;
    warm.print_changes_since(&healthy);

    backend.broken.store(true, Ordering::SeqCst);
    let sent_before = backend.hits.load(Ordering::SeqCst);
    let (ok, failed) = load(&client, 20).await;
    let sent = backend.hits.load(Ordering::SeqCst) - sent_before;
    let probed = probe(&http, backend.address).await;
    println!(
        "\n2. outage: {ok} answered, {failed} failed, only {sent} reached the backend; \
         the probe got: {}",
        probed.map_or_else(|error| error.to_string(), |status| status.to_string())
    );
    let outage = Scrape::take(&http, admin).await?;
    outage.print_changes_since(&warm);
    check(&outage, "open", 1)?;
    let rejections =
        outage.series(r#"resilience_rejections_total{name="backend",reason="circuit_open"}"#);
    if rejections.and_then(|n| n.parse::<u64>().ok()) < Some(1) {
        return Err("no circuit_open rejections in /metrics".into());
    }
    if outage.instance("backend")["stats"]["rejections"].as_u64() < Some(1) {
        return Err("no rejections in /resilience".into());
    }

    backend.broken.store(false, Ordering::SeqCst);
    tokio::time::sleep(OPEN_FOR).await;
    let (ok, failed) = load(&client, 20).await;
    println!("\n3. repaired, after the open period: {ok} answered, {failed} failed");
    let recovered = Scrape::take(&http, admin).await?;
    recovered.print_changes_since(&outage);
    check(&recovered, "closed", 0)?;
    println!("\nthe breaker's state and rejections showed in /metrics and /resilience");
    Ok(())
}

/// Sends `n` requests, 4 at a time; returns how many were answered and how many failed.
async fn load<S>(client: &S, n: usize) -> (usize, usize)
where
    S: Service<String, Response = StatusCode, Error = BoxError> + Clone + Send + 'static,
    S::Future: Send,
{
    let mut ok = 0;
    for _ in 0..n / 4 {
        let mut batch = tokio::task::JoinSet::new();
        for _ in 0..4 {
            batch.spawn(client.clone().oneshot("/quote".to_string()));
        }
        while let Some(result) = batch.join_next().await {
            ok += usize::from(matches!(result, Ok(Ok(_))));
        }
    }
    (ok, n - ok)
}

/// A health probe written as a plain `async fn`: the attribute names the layer's breaker.
#[circuit_breaker(name = "backend")]
async fn probe(http: &reqwest::Client, backend: SocketAddr) -> Result<StatusCode, BoxError> {
    server_errors_fail(http.execute(get(backend, "/quote")).await)
}

fn get(address: SocketAddr, path: &str) -> reqwest::Request {
    reqwest::Request::new(
        reqwest::Method::GET,
        format!("http://{address}{path}").parse().unwrap(),
    )
}

/// A 5xx answer as an error, below the breaker, so that it counts as a failure.
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

/// The breaker `backend` must read `state` in the JSON and `gauge` in the metrics.
fn check(scrape: &Scrape, state: &str, gauge: u8) -> Result<(), BoxError> {
    let json = &scrape.instance("backend")["state"];
    let metric = scrape.series(r#"resilience_breaker_state{name="backend"}"#);
    if json != state || metric != Some(gauge.to_string().as_str()) {
        return Err(format!(
            "expected {state} ({gauge}); /resilience says {json}, /metrics {metric:?}"
        )
        .into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The admin endpoints and their scrapes.
// ---------------------------------------------------------------------------------------------

/// `/metrics` and `/resilience`.
fn admin(prometheus: &PrometheusHandle, request: &Request<Incoming>) -> Response<Body> {
    let (content_type, body) = match request.uri().path() {
        "/metrics" => ("text/plain; version=0.0.4", prometheus.render()),
        "/resilience" => (
            "application/json",
            serde_json::to_string_pretty(&monitor::snapshot()).expect("a snapshot serializes"),
        ),
        _ => return status(StatusCode::NOT_FOUND),
    };
    let mut response = Response::new(Body::from(body));
    response
        .headers_mut()
        .insert("content-type", content_type.parse().unwrap());
    response
}

/// Both endpoints, read once, flattened to `key = value` lines for comparison.
struct Scrape {
    metrics: BTreeMap<String, String>,
    instances: Vec<Value>,
}

impl Scrape {
    async fn take(http: &reqwest::Client, admin: SocketAddr) -> Result<Self, BoxError> {
        let text = http.execute(get(admin, "/metrics")).await?.text().await?;
        let metrics = text
            .lines()
            .filter(|line| line.starts_with("resilience_"))
            .filter_map(|line| {
                let (series, value) = line.rsplit_once(' ')?;
                Some((series.to_string(), value.to_string()))
            })
            .collect();
        let json: Value = serde_json::from_str(
            &http
                .execute(get(admin, "/resilience"))
                .await?
                .text()
                .await?,
        )?;
        let instances = json
            .as_array()
            .cloned()
            .ok_or("/resilience is not an array")?;
        Ok(Self { metrics, instances })
    }

    /// A series' value as exported, if it is.
    fn series(&self, series: &str) -> Option<&str> {
        self.metrics.get(series).map(String::as_str)
    }

    fn instance(&self, name: &str) -> Value {
        let found = self
            .instances
            .iter()
            .find(|i| i["name"] == name && i["kind"] == "circuit_breaker");
        found.cloned().unwrap_or(Value::Null)
    }

    fn flat(&self) -> BTreeMap<String, String> {
        let mut flat = BTreeMap::new();
        for instance in &self.instances {
            let prefix = format!(
                "{}[{}]",
                instance["kind"].as_str().unwrap_or("?"),
                instance["name"].as_str().unwrap_or("?")
            );
            flatten(&prefix, instance, &mut flat);
        }
        flat
    }

    fn print_changes_since(&self, before: &Self) {
        println!("   /metrics changed:");
        for (series, value) in &self.metrics {
            match before.metrics.get(series) {
                Some(old) if old == value => {}
                Some(old) => println!("     {series}: {old} -> {value}"),
                None => println!("     {series}: (new) {value}"),
            }
        }
        println!("   /resilience changed:");
        let (old, new) = (before.flat(), self.flat());
        for (key, value) in &new {
            // Time in state moves on every scrape; the state itself is what matters.
            if key.ends_with(".in_state") {
                continue;
            }
            match old.get(key) {
                Some(previous) if previous == value => {}
                Some(previous) => println!("     {key}: {previous} -> {value}"),
                None => println!("     {key}: (new) {value}"),
            }
        }
    }
}

fn flatten(prefix: &str, value: &Value, into: &mut BTreeMap<String, String>) {
    match value {
        Value::Object(fields) => {
            for (key, field) in fields {
                if key != "name" && key != "kind" {
                    flatten(&format!("{prefix}.{key}"), field, into);
                }
            }
        }
        other => {
            into.insert(prefix.to_string(), other.to_string());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The backend and a small HTTP server for both.
// ---------------------------------------------------------------------------------------------

struct Backend {
    address: SocketAddr,
    broken: Arc<AtomicBool>,
    hits: Arc<AtomicU32>,
}

impl Backend {
    async fn start() -> Result<Self, BoxError> {
        let broken = Arc::new(AtomicBool::new(false));
        let hits = Arc::new(AtomicU32::new(0));
        let (is_broken, counted) = (Arc::clone(&broken), Arc::clone(&hits));
        let address = serve(move |_request| {
            counted.fetch_add(1, Ordering::SeqCst);
            Ok(if is_broken.load(Ordering::SeqCst) {
                status(StatusCode::SERVICE_UNAVAILABLE)
            } else {
                Response::new(Body::from("42"))
            })
        })
        .await?;
        Ok(Self {
            address,
            broken,
            hits,
        })
    }
}

fn status(code: StatusCode) -> Response<Body> {
    let mut response = Response::new(Body::from(code.to_string()));
    *response.status_mut() = code;
    response
}

/// Serves `handle` over HTTP/1 on a free loopback port, until the process ends.
async fn serve<H>(handle: H) -> Result<SocketAddr, BoxError>
where
    H: Fn(Request<Incoming>) -> Result<Response<Body>, BoxError> + Clone + Send + Sync + 'static,
{
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let handle = handle.clone();
            let service = hyper::service::service_fn(move |request| {
                let response = handle(request);
                async move { response }
            });
            tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
        }
    });
    Ok(address)
}

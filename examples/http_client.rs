//! A real HTTP client, over a real socket, kept working while its server misbehaves.
//!
//! ```text
//! cargo run --example http_client
//! ```
//!
//! The example starts its own HTTP server (hyper) on `127.0.0.1`, on a port the operating
//! system picks, and stops it at the end; nothing else is contacted. The server has a pool of
//! 4 workers shared by three endpoints, each of which `main` can break at run time:
//!
//! | endpoint | healthy | broken |
//! |---|---|---|
//! | `POST /pay` | answers at once | fails the next few requests, or every request (503) |
//! | `GET /slow` | answers at once | takes 500ms |
//! | `GET /health` | answers at once | never broken: it only suffers when no worker is free |
//!
//! An `ApiClient` wraps a `reqwest::Client` (plain HTTP, no TLS: the example builds reqwest
//! without its default features), and its `&self` methods carry the attributes.
//! The timeline shows, one line per call and per `/pay` request the server saw:
//!
//! 1. retries with full jitter clearing a few failed requests, the retries spread out in time;
//! 2. the circuit breaker opening during an outage, turning calls away without sending them,
//!    and closing again after one trial call once the server is back;
//! 3. a burst of slow `/slow` calls taking every worker, so that `/health` times out; then the
//!    same burst through a `#[bulkhead]`, which lets 2 run, queues 2 and turns the rest away,
//!    so `/health` stays fast.
//!
//! The run takes about three and a half seconds. Times are real, so they differ a little
//! between runs, and the retry delays are random: that is the point of jitter.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use resilience::{bulkhead, circuit_breaker, retry, timeout, Rejected};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Semaphore};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{sleep, Instant};

// ---------------------------------------------------------------------------------------------
// The client: this is the part to copy.
// ---------------------------------------------------------------------------------------------

/// Everything a call to the API can end with.
#[derive(Debug, thiserror::Error)]
enum ApiError {
    /// The server answered, with an error status.
    #[error("HTTP {}", .0.as_u16())]
    Status(reqwest::StatusCode),
    /// No answer: the connection failed or broke.
    #[error("request failed: {0}")]
    Transport(#[from] reqwest::Error),
    /// A resilience layer refused the call or cut it off.
    #[error(transparent)]
    Rejected(#[from] Rejected),
}

impl ApiError {
    /// The server is in trouble: a 5xx, or no answer at all. Worth retrying, and counted by
    /// the breaker. A 4xx is the server working fine and saying no.
    fn is_outage(&self) -> bool {
        match self {
            Self::Status(status) => status.is_server_error(),
            Self::Transport(_) => true,
            Self::Rejected(_) => false,
        }
    }
}

struct ApiClient {
    http: reqwest::Client,
    base: String,
    /// Attempts per payment id: how often each call's body ran.
    attempts: Mutex<HashMap<u32, u32>>,
}

impl ApiClient {
    fn new(server: SocketAddr) -> Result<Self, reqwest::Error> {
        Ok(Self {
            // `no_proxy`: talk to 127.0.0.1 directly even if the environment names a proxy.
            http: reqwest::Client::builder().no_proxy().build()?,
            base: format!("http://{server}"),
            attempts: Mutex::new(HashMap::new()),
        })
    }

    /// Pays `cents`; `id` is the payment's idempotency key, which is what makes a retry safe.
    ///
    /// Outermost first: up to 3 retries of outages, each after a random wait of up to 100ms,
    /// 200ms, 400ms (full jitter); around a breaker that opens after 5 outages in a row and
    /// stays open for 1s.
    #[retry(max = 3, base = "100ms", jitter = "full", retry_if = ApiError::is_outage)]
    #[circuit_breaker(threshold = 5, timeout = "1s", failure_if = ApiError::is_outage)]
    async fn pay(&self, id: u32, cents: u64) -> Result<String, ApiError> {
        *self.attempts.lock().unwrap().entry(id).or_default() += 1;
        let url = format!("{}/pay?id={id}&cents={cents}", self.base);
        answer(self.http.post(url).send().await?).await
    }

    /// Fetches the slow report with nothing but a time limit: a burst of these can take every
    /// worker the server has.
    #[timeout("2s")]
    async fn report_unguarded(&self) -> Result<String, ApiError> {
        answer(self.http.get(format!("{}/slow", self.base)).send().await?).await
    }

    /// The same request in a compartment: 2 at a time, 2 more may wait up to 1s for a slot,
    /// the rest are turned away at once without being sent.
    #[bulkhead(max = 2, queue = 2, max_wait = "1s")]
    #[timeout("2s")]
    async fn report(&self) -> Result<String, ApiError> {
        answer(self.http.get(format!("{}/slow", self.base)).send().await?).await
    }

    /// The health check: it must answer within 200ms to count.
    #[timeout("200ms")]
    async fn health(&self) -> Result<String, ApiError> {
        answer(
            self.http
                .get(format!("{}/health", self.base))
                .send()
                .await?,
        )
        .await
    }

    fn attempts(&self, id: u32) -> u32 {
        self.attempts.lock().unwrap().get(&id).copied().unwrap_or(0)
    }
}

/// The body of a 2xx answer; any other status is an error.
async fn answer(response: reqwest::Response) -> Result<String, ApiError> {
    let status = response.status();
    if !status.is_success() {
        return Err(ApiError::Status(status));
    }
    Ok(response.text().await?)
}

// ---------------------------------------------------------------------------------------------
// The story.
// ---------------------------------------------------------------------------------------------

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let timeline = Arc::new(Timeline::new());
    let server = Server::start(Arc::clone(&timeline)).await?;
    let dials = Arc::clone(&server.dials);
    let client = Arc::new(ApiClient::new(server.addr)?);
    timeline.event(&format!("server listening on http://{}", server.addr));
    header();

    section("1. healthy");
    timeline.pay(&client, 12_00).await;
    timeline.health(&client).await;

    section("2. a few failed requests: retries with jitter clear them");
    dials.fail_next_payments(3);
    timeline.event("the server will fail the next 3 /pay requests (503)");
    tokio::join!(
        timeline.pay(&client, 30_00),
        timeline.pay(&client, 31_00),
        timeline.pay(&client, 32_00),
    );
    note("all 3 failed at once; each retried after its own random wait, so the");
    note("retries reached the server spread out instead of in one burst");

    section("3. an outage: the breaker opens");
    dials.set_payments_down(true);
    timeline.event("/pay now fails every request (503)");
    timeline.pay(&client, 45_00).await;
    note("4 attempts, 4 outages in a row: one more and the breaker opens");
    timeline.pay(&client, 45_00).await;
    note("the 5th outage opened it, and the retry stopped at the open circuit");
    timeline.pay(&client, 45_00).await;

    section("4. recovery: the breaker closes after one good trial");
    dials.set_payments_down(false);
    timeline.event("/pay works again, but the breaker cannot know that yet");
    if let Some(ApiError::Rejected(Rejected::CircuitOpen {
        retry_after: Some(wait),
        ..
    })) = timeline.pay(&client, 45_00).await
    {
        // Wait exactly as long as the open breaker says, instead of guessing.
        note(&format!(
            "waiting the {}ms the breaker asked for",
            wait.as_millis()
        ));
        sleep(wait).await;
    }
    timeline.pay(&client, 45_00).await;
    note("that was the half-open trial; it succeeded, so the breaker is closed again");
    timeline.pay(&client, 19_00).await;

    section("5. a burst of slow calls, no bulkhead: /health starves");
    dials.set_slow_latency(Duration::from_millis(500));
    dials.take_most_busy();
    timeline.event("/slow now takes 500ms; the server has 4 workers");
    tokio::join!(
        burst(&timeline, &client, 8, Report::Unguarded),
        timeline.health_after(50, &client),
    );
    note(&format!(
        "8 reports took all 4 workers twice over, /health queued behind them: {} of 4 busy",
        dials.take_most_busy()
    ));

    section("6. the same burst through #[bulkhead(max = 2, queue = 2)]");
    tokio::join!(
        burst(&timeline, &client, 8, Report::Bulkheaded),
        timeline.health_after(50, &client),
    );
    note(&format!(
        "2 ran, 2 waited for them, 4 were turned away unsent: at most {} of 4 workers busy",
        dials.take_most_busy()
    ));

    server.stop().await;
    timeline.event("server stopped");
    timeline.summary(&dials);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The server: hyper on 127.0.0.1, port 0.
// ---------------------------------------------------------------------------------------------

/// What `main` can break in the server, and what the server counts.
struct Dials {
    payments_down: AtomicBool,
    fail_next_payments: AtomicU32,
    slow_latency_ms: AtomicU64,
    /// The server's worker pool: every request holds a worker while it is handled.
    workers: Semaphore,
    requests: AtomicU32,
    payments: AtomicU32,
    receipts: AtomicU32,
    most_busy: AtomicU32,
}

impl Dials {
    const WORKERS: u32 = 4;

    fn new() -> Self {
        Self {
            payments_down: AtomicBool::new(false),
            fail_next_payments: AtomicU32::new(0),
            slow_latency_ms: AtomicU64::new(0),
            workers: Semaphore::new(Self::WORKERS as usize),
            requests: AtomicU32::new(0),
            payments: AtomicU32::new(0),
            receipts: AtomicU32::new(1000),
            most_busy: AtomicU32::new(0),
        }
    }

    fn set_payments_down(&self, down: bool) {
        self.payments_down.store(down, Ordering::Relaxed);
    }

    fn fail_next_payments(&self, requests: u32) {
        self.fail_next_payments.store(requests, Ordering::Relaxed);
    }

    fn set_slow_latency(&self, latency: Duration) {
        let ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
        self.slow_latency_ms.store(ms, Ordering::Relaxed);
    }

    /// The most workers busy at once since the last call.
    fn take_most_busy(&self) -> u32 {
        self.most_busy.swap(0, Ordering::Relaxed)
    }

    /// Whether this `/pay` request fails: always while down, otherwise while failures are owed.
    fn payment_fails(&self) -> bool {
        self.payments_down.load(Ordering::Relaxed)
            || self
                .fail_next_payments
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok()
    }
}

struct Server {
    addr: SocketAddr,
    dials: Arc<Dials>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Server {
    async fn start(timeline: Arc<Timeline>) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let dials = Arc::new(Dials::new());
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(accept(listener, Arc::clone(&dials), timeline, stopped));
        Ok(Self {
            addr,
            dials,
            stop,
            task,
        })
    }

    /// Stops accepting, closes every open connection and waits until that is done.
    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// Accepts connections until told to stop, serving each on a task of its own.
async fn accept(
    listener: TcpListener,
    dials: Arc<Dials>,
    timeline: Arc<Timeline>,
    mut stopped: oneshot::Receiver<()>,
) {
    let mut connections = JoinSet::new();
    loop {
        let stream = tokio::select! {
            _ = &mut stopped => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
        };
        let (dials, timeline) = (Arc::clone(&dials), Arc::clone(&timeline));
        let service =
            service_fn(move |request| handle(request, Arc::clone(&dials), Arc::clone(&timeline)));
        connections.spawn(async move {
            // A connection the client drops mid-request ends with an error; nothing to do.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
    // Dropping the set aborts the connections still open (reqwest keeps idle ones around).
    connections.shutdown().await;
}

async fn handle(
    request: Request<Incoming>,
    dials: Arc<Dials>,
    timeline: Arc<Timeline>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let Ok(_worker) = dials.workers.acquire().await else {
        return Ok(reply(StatusCode::SERVICE_UNAVAILABLE, "shutting down"));
    };
    let busy = Dials::WORKERS - u32::try_from(dials.workers.available_permits()).unwrap_or(0);
    dials.most_busy.fetch_max(busy, Ordering::Relaxed);
    dials.requests.fetch_add(1, Ordering::Relaxed);

    Ok(match (request.method(), request.uri().path()) {
        (&Method::GET, "/health") => reply(StatusCode::OK, "ok"),
        (&Method::GET, "/slow") => {
            let latency = dials.slow_latency_ms.load(Ordering::Relaxed);
            sleep(Duration::from_millis(latency)).await;
            reply(StatusCode::OK, "report")
        }
        (&Method::POST, "/pay") => {
            dials.payments.fetch_add(1, Ordering::Relaxed);
            let query = request.uri().query().unwrap_or_default();
            let id = query
                .split('&')
                .find_map(|pair| pair.strip_prefix("id="))
                .unwrap_or("?");
            if dials.payment_fails() {
                timeline.server(&format!("POST /pay id={id:<3} -> 503"));
                reply(StatusCode::SERVICE_UNAVAILABLE, "unavailable")
            } else {
                timeline.server(&format!("POST /pay id={id:<3} -> 200"));
                let receipt = dials.receipts.fetch_add(1, Ordering::Relaxed) + 1;
                reply(StatusCode::OK, &format!("receipt {receipt}"))
            }
        }
        _ => reply(StatusCode::NOT_FOUND, "not found"),
    })
}

/// `calls` reports at once, started 5ms apart so that they are numbered in the order they start.
async fn burst(timeline: &Arc<Timeline>, client: &Arc<ApiClient>, calls: u64, report: Report) {
    let mut tasks = JoinSet::new();
    for i in 0..calls {
        let call = timeline.next_call();
        let (timeline, client) = (Arc::clone(timeline), Arc::clone(client));
        tasks.spawn(async move {
            sleep(Duration::from_millis(5 * i)).await;
            timeline.report(call, &client, report).await;
        });
    }
    tasks.join_all().await;
}

fn reply(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response
}

// ---------------------------------------------------------------------------------------------
// The timeline: one line per call, one per /pay request the server saw.
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy)]
enum Report {
    Unguarded,
    Bulkheaded,
}

#[derive(Default)]
struct Tally {
    calls: u32,
    ok: u32,
    errors: u32,
    circuit_open: u32,
    bulkhead_full: u32,
    timed_out: u32,
}

fn header() {
    println!(
        "\n{:>7}  {:<4} {:<15} {:<13} {:>6}  what happened",
        "time", "call", "request", "outcome", "took"
    );
}

fn section(title: &str) {
    println!("\n{title}");
}

fn note(text: &str) {
    println!("{:>7}  ({text})", "");
}

struct Timeline {
    start: Instant,
    next_call: AtomicU32,
    tally: Mutex<Tally>,
}

impl Timeline {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            next_call: AtomicU32::new(1),
            tally: Mutex::new(Tally::default()),
        }
    }

    /// Time since the start, to the millisecond: ` 1.234s`.
    fn now(&self) -> String {
        format!("{:>6.3}s", self.start.elapsed().as_secs_f64())
    }

    fn event(&self, text: &str) {
        println!("{}  >> {text}", self.now());
    }

    fn server(&self, text: &str) {
        println!("{}       server: {text}", self.now());
    }

    fn next_call(&self) -> u32 {
        self.next_call.fetch_add(1, Ordering::Relaxed)
    }

    /// Prints one finished call and counts its outcome.
    fn line<T>(
        &self,
        call: u32,
        request: &str,
        result: &Result<T, ApiError>,
        took: Duration,
        detail: &str,
    ) {
        let outcome = match result {
            Ok(_) => "ok",
            Err(ApiError::Rejected(Rejected::CircuitOpen { .. })) => "circuit open",
            Err(ApiError::Rejected(Rejected::BulkheadFull { .. })) => "bulkhead full",
            Err(ApiError::Rejected(Rejected::TimedOut { .. })) => "timed out",
            Err(_) => "error",
        };
        println!(
            "{}  #{call:<3} {request:<15} {outcome:<13} {:>4}ms  {detail}",
            self.now(),
            took.as_millis()
        );
        let mut tally = self.tally.lock().unwrap();
        tally.calls += 1;
        match outcome {
            "ok" => tally.ok += 1,
            "circuit open" => tally.circuit_open += 1,
            "bulkhead full" => tally.bulkhead_full += 1,
            "timed out" => tally.timed_out += 1,
            _ => tally.errors += 1,
        }
    }

    /// Pays, prints how that went, and hands back the error if any.
    async fn pay(&self, client: &ApiClient, cents: u64) -> Option<ApiError> {
        let id = self.next_call();
        let started = Instant::now();
        let result = client.pay(id, cents).await;
        let took = started.elapsed();
        let sent = match client.attempts(id) {
            0 => "not sent".to_string(),
            1 => "sent once".to_string(),
            n => format!("sent {n} times"),
        };
        let detail = match &result {
            Ok(receipt) => format!("{receipt}, {sent}"),
            Err(ApiError::Rejected(Rejected::CircuitOpen {
                retry_after: Some(wait),
                ..
            })) => format!("{sent}; breaker open, next trial in {}ms", wait.as_millis()),
            Err(error) => format!("{error}, {sent}"),
        };
        let request = format!("pay ${}.{:02}", cents / 100, cents % 100);
        self.line(id, &request, &result, took, &detail);
        result.err()
    }

    async fn health(&self, client: &ApiClient) {
        let call = self.next_call();
        let started = Instant::now();
        let result = client.health().await;
        let took = started.elapsed();
        let detail = match &result {
            Ok(body) => format!("\"{body}\""),
            Err(error) => error.to_string(),
        };
        self.line(call, "GET /health", &result, took, &detail);
    }

    async fn health_after(&self, ms: u64, client: &ApiClient) {
        sleep(Duration::from_millis(ms)).await;
        self.health(client).await;
    }

    /// Fetches the slow report one way or the other, and prints how that went.
    async fn report(&self, call: u32, client: &ApiClient, report: Report) {
        let started = Instant::now();
        let result = match report {
            Report::Unguarded => client.report_unguarded().await,
            Report::Bulkheaded => client.report().await,
        };
        let took = started.elapsed();
        let detail = match &result {
            Ok(body) => format!("\"{body}\""),
            Err(ApiError::Rejected(Rejected::BulkheadFull { .. })) => {
                "not sent: 2 running, 2 waiting already".to_string()
            }
            Err(error) => error.to_string(),
        };
        self.line(call, "GET /slow", &result, took, &detail);
    }

    fn summary(&self, dials: &Dials) {
        let tally = self.tally.lock().unwrap();
        println!("\nsummary");
        println!(
            "  {} calls in {:.1}s: {} ok, {} failed, {} circuit open, {} bulkhead full, {} timed out",
            tally.calls,
            self.start.elapsed().as_secs_f64(),
            tally.ok,
            tally.errors,
            tally.circuit_open,
            tally.bulkhead_full,
            tally.timed_out,
        );
        println!(
            "  the server handled {} requests, {} of them /pay",
            dials.requests.load(Ordering::Relaxed),
            dials.payments.load(Ordering::Relaxed),
        );
    }
}

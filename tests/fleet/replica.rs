//! The replica: this same test binary, started with `RESILIENCE_FLEET_REPLICA=<redis url>`.
//! It links to the fleet, then answers one line per command read from stdin:
//!
//! | command | answer |
//! |---|---|
//! | `call NAME ok` / `call NAME fail` | `ran` or `rejected` (the body ran or not) |
//! | `state NAME` | the breaker's state (`Closed`, `Open`, ...), `none` before its first call |
//! | `storm NAME MS HOLD_MS` | calls every 5 ms for `MS`, each body holding `HOLD_MS` and succeeding; the bodies started meanwhile |
//! | `hammer MS` | a call of the shared rate limit (`quota`: 50 per second, burst 10, no waiting) every millisecond for `MS`: how many it admitted |
//! | `outage MS` | a call of the shared retry budget (`budget`: a body that always fails, up to 3 retries 1 ms apart, budget 0.1 with a reserve of 10 a second) every 10 ms for `MS`, then waits for the calls to end: the calls started |
//! | `busy NAME MS` | a successful call of `NAME` (`budget` or a breaker) every millisecond for `MS`: the calls made |
//! | `linked` | `true` or `false` |
//! | `calls NAME` | how many bodies of `NAME` ran so far |

use std::io::BufRead;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use resilience::{circuit_breaker, fleet, monitor, rate_limit, retry, Rejected};

#[derive(Debug)]
pub(crate) enum Error {
    Down,
    Rejected(#[allow(dead_code)] Rejected),
}

impl From<Rejected> for Error {
    fn from(r: Rejected) -> Self {
        Error::Rejected(r)
    }
}

static PAYMENT: AtomicU64 = AtomicU64::new(0);
static INVENTORY: AtomicU64 = AtomicU64::new(0);
static QUOTA: AtomicU64 = AtomicU64::new(0);
static BUDGET: AtomicU64 = AtomicU64::new(0);
static SEARCH: AtomicU64 = AtomicU64::new(0);

#[circuit_breaker(name = "payment", shared, threshold = 3, timeout = "2s", half_open = 2)]
async fn payment(fail: bool, hold: Duration) -> Result<(), Error> {
    PAYMENT.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(hold).await;
    if fail {
        Err(Error::Down)
    } else {
        Ok(())
    }
}

#[circuit_breaker(name = "inventory", shared, threshold = 3, timeout = "30s")]
async fn inventory(fail: bool, hold: Duration) -> Result<(), Error> {
    INVENTORY.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(hold).await;
    if fail {
        Err(Error::Down)
    } else {
        Ok(())
    }
}

#[circuit_breaker(
    name = "search",
    shared,
    failure_rate = 0.62,
    window = 10,
    min_calls = 10,
    timeout = "30s"
)]
async fn search(fail: bool, hold: Duration) -> Result<(), Error> {
    SEARCH.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(hold).await;
    if fail {
        Err(Error::Down)
    } else {
        Ok(())
    }
}

#[rate_limit(
    name = "quota",
    shared,
    rate = 50,
    per = "1s",
    burst = 10,
    max_wait = "0s"
)]
async fn quota() -> Result<(), Error> {
    QUOTA.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

#[retry(
    name = "budget",
    shared,
    max = 3,
    base = "1ms",
    jitter = "none",
    budget = 0.1,
    budget_min = 10
)]
async fn budget(fail: bool) -> Result<(), Error> {
    BUDGET.fetch_add(1, Ordering::SeqCst);
    if fail {
        Err(Error::Down)
    } else {
        Ok(())
    }
}

async fn call(name: &str, fail: bool, hold: Duration) -> Result<(), Error> {
    match name {
        "payment" => payment(fail, hold).await,
        "inventory" => inventory(fail, hold).await,
        "search" => search(fail, hold).await,
        _ => panic!("unknown breaker {name}"),
    }
}

fn static_name(name: &str) -> &'static str {
    match name {
        "payment" => "payment",
        "inventory" => "inventory",
        "search" => "search",
        _ => panic!("unknown breaker {name}"),
    }
}

fn counter(name: &str) -> &'static AtomicU64 {
    match name {
        "payment" => &PAYMENT,
        "inventory" => &INVENTORY,
        "search" => &SEARCH,
        "quota" => &QUOTA,
        "budget" => &BUDGET,
        _ => panic!("unknown instance {name}"),
    }
}

pub(crate) fn main(url: &str) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(serve(url));
}

async fn serve(url: &str) {
    let mut options = fleet::FleetOptions::default();
    options.connect_timeout = Duration::from_millis(500);
    fleet::connect(url, options).await.expect("connect");
    let (lines, mut commands) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    println!("ready");
    while let Some(line) = commands.recv().await {
        let words: Vec<&str> = line.split_whitespace().collect();
        let answer = match words.as_slice() {
            ["call", "budget", outcome] => match budget(*outcome == "fail").await {
                Ok(()) => "ran".to_owned(),
                Err(_) => "failed".to_owned(),
            },
            ["call", name, outcome] => match call(name, *outcome == "fail", Duration::ZERO).await {
                Err(Error::Rejected(_)) => "rejected".to_owned(),
                _ => "ran".to_owned(),
            },
            ["state", name] => {
                monitor::breaker(name).map_or("none".to_owned(), |b| format!("{:?}", b.state()))
            }
            ["storm", name, ms, hold] => storm(
                static_name(name),
                ms.parse().unwrap(),
                hold.parse().unwrap(),
            )
            .await
            .to_string(),
            ["outage", ms] => outage(ms.parse().unwrap()).await.to_string(),
            ["busy", name, ms] => busy(name, ms.parse().unwrap()).await.to_string(),
            ["hammer", ms] => hammer(ms.parse().unwrap()).await.to_string(),
            ["linked"] => fleet::status().linked.to_string(),
            ["calls", name] => counter(name).load(Ordering::SeqCst).to_string(),
            _ => format!("unknown command {line}"),
        };
        println!("{answer}");
    }
}

/// Calls `name` every 5 ms for `ms`, each body holding `hold` ms; the bodies started.
async fn storm(name: &'static str, ms: u64, hold: u64) -> u64 {
    let before = counter(name).load(Ordering::SeqCst);
    let end = tokio::time::Instant::now() + Duration::from_millis(ms);
    while tokio::time::Instant::now() < end {
        tokio::spawn(call(name, false, Duration::from_millis(hold)));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    counter(name).load(Ordering::SeqCst) - before
}

/// Calls `budget`, failing, every 10 ms for `ms`, and waits for every call to end; the
/// calls started.
async fn outage(ms: u64) -> u64 {
    let mut calls = tokio::task::JoinSet::new();
    let end = tokio::time::Instant::now() + Duration::from_millis(ms);
    while tokio::time::Instant::now() < end {
        calls.spawn(budget(true));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let started = calls.len() as u64;
    while calls.join_next().await.is_some() {}
    started
}

/// Calls `name`, succeeding, every millisecond for `ms` (a thousand a second, on a clock
/// that catches up); the calls made.
async fn busy(name: &str, ms: u64) -> u64 {
    let mut calls = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    let end = tokio::time::Instant::now() + Duration::from_millis(ms);
    while tick.tick().await < end {
        let _ = match name {
            "budget" => budget(false).await,
            _ => call(name, false, Duration::ZERO).await,
        };
        calls += 1;
    }
    calls
}

/// Calls `quota` every millisecond for `ms`; the calls it admitted.
async fn hammer(ms: u64) -> u64 {
    let mut admitted = 0;
    let end = tokio::time::Instant::now() + Duration::from_millis(ms);
    while tokio::time::Instant::now() < end {
        if quota().await.is_ok() {
            admitted += 1;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    admitted
}

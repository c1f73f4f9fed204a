//! The fleet's cost (the `fleet` feature): a `shared` breaker's and retry's success path with
//! the process linked to Redis, beside the same attributes local, and the Redis commands the
//! fleet sends per 1,000 calls at steady state (breaker, rate limit, retry budget, and a
//! window-mode breaker).
//!
//! ```text
//! cargo bench -p resilience-benches --features fleet --bench fleet
//! ```
//!
//! Needs `redis-server` (it starts its own on a free loopback port). The link lives on a
//! runtime of its own (one worker thread), as an application's would; the calls are timed on
//! a current-thread runtime, as in `overhead`. Commands are counted with `INFO commandstats`
//! around a steady run of calls paced well within the rate limit.

// The fleet suite's server: started on a free port, waited for, counted, stopped on drop.
#[allow(dead_code)] // the suite's kill and restart
#[path = "../../tests/fleet/redis.rs"]
mod redis_server;
mod settings;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use resilience::{circuit_breaker, fleet, rate_limit, retry};

use redis_server::Redis;

/// The error type of the benchmarked functions (`common.rs`'s, without its other helpers).
#[derive(Debug)]
struct BenchError;

impl From<resilience::Rejected> for BenchError {
    fn from(_: resilience::Rejected) -> Self {
        BenchError
    }
}

/// A rejection would be measured as a success: it is a broken benchmark.
fn check<T>(outcome: Result<T, BenchError>) {
    black_box(outcome.expect("the success path"));
}

#[circuit_breaker(name = "bench_local")]
async fn breaker_local(x: u64) -> Result<u64, BenchError> {
    Ok(black_box(x))
}

#[circuit_breaker(name = "bench_shared", shared)]
async fn breaker_shared(x: u64) -> Result<u64, BenchError> {
    Ok(black_box(x))
}

#[rate_limit(name = "bench_rate_local", rate = 100_000, per = "1s")]
async fn limited_local(x: u64) -> Result<u64, BenchError> {
    Ok(black_box(x))
}

#[rate_limit(name = "bench_rate_shared", rate = 100_000, per = "1s", shared)]
async fn limited_shared(x: u64) -> Result<u64, BenchError> {
    Ok(black_box(x))
}

#[circuit_breaker(name = "bench_window", shared, failure_rate = 0.5, window = 100)]
async fn window_shared(x: u64) -> Result<u64, BenchError> {
    Ok(black_box(x))
}

#[retry(name = "bench_retry_local")]
async fn retry_local(x: u64) -> Result<u64, BenchError> {
    Ok(black_box(x))
}

#[retry(name = "bench_retry_shared", shared)]
async fn retry_shared(x: u64) -> Result<u64, BenchError> {
    Ok(black_box(x))
}

/// Round trips the server served: every command but `INFO` itself and those the fleet's Lua
/// scripts run inside one (`TIME`, `GET`, `SET`, `PEXPIRE`, `DEL`, and the hash commands of
/// the budget's and the window's; the breakers stay closed
/// here, so no `SET NX` lease is taken outside a script).
fn commands(redis: &Redis) -> u64 {
    const INSIDE_SCRIPTS: [&str; 10] = [
        "info", "time", "get", "set", "pexpire", "del", "hincrby", "hset", "hgetall", "hdel",
    ];
    redis
        .commands()
        .into_iter()
        .filter(|(name, _)| !INSIDE_SCRIPTS.contains(&name.as_str()))
        .map(|(_, calls)| calls)
        .sum()
}

/// Times `call` on the `calls` runtime, as `name` in `group`.
fn timed<F: std::future::Future<Output = Result<u64, BenchError>>>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    calls: &tokio::runtime::Runtime,
    call: impl Fn(u64) -> F,
) {
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            calls.block_on(async {
                let start = Instant::now();
                for i in 0..iters {
                    check(call(black_box(i)).await);
                }
                start.elapsed()
            })
        });
    });
}

fn fleet_bench(c: &mut Criterion) {
    if !redis_server::installed() {
        eprintln!("the fleet bench needs `redis-server` (apt-get install redis-server)");
        return;
    }
    let redis = Redis::start();
    let link = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    link.block_on(fleet::connect(&redis.url(), fleet::FleetOptions::default()))
        .unwrap();
    let calls = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    calls.block_on(async {
        check(breaker_shared(0).await);
        check(limited_shared(0).await);
        check(retry_shared(0).await);
        check(window_shared(0).await);
    });
    // Let the link lease the limiter's first batch.
    std::thread::sleep(Duration::from_millis(300));
    assert!(fleet::status().linked);

    let mut group = c.benchmark_group("fleet success path");
    timed(&mut group, "breaker local", &calls, breaker_local);
    timed(&mut group, "breaker shared, linked", &calls, breaker_shared);
    timed(&mut group, "retry local", &calls, retry_local);
    timed(&mut group, "retry shared, linked", &calls, retry_shared);
    group.finish();

    // Round trips per 1,000 calls at steady state: 20,000 calls of each at about 10,000 a
    // second (the breaker alone, the rate limits, the retry budget, the window breaker).
    for what in ["breaker", "rate limit", "retry budget", "window breaker"] {
        let before = commands(&redis);
        let start = Instant::now();
        calls.block_on(async {
            for i in 0..20_000u64 {
                match what {
                    "breaker" => check(breaker_shared(i).await),
                    "rate limit" => {
                        let _ = black_box(limited_shared(i).await.is_ok());
                        let _ = black_box(limited_local(i).await.is_ok());
                    }
                    "retry budget" => check(retry_shared(i).await),
                    _ => check(window_shared(i).await),
                }
                if i % 100 == 99 {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        });
        let elapsed = start.elapsed();
        let sent = f64::from(u32::try_from(commands(&redis) - before).unwrap_or(u32::MAX));
        println!(
            "fleet {what}, shared: {sent} round trips to Redis for 20000 calls in {:.1} s: \
             {:.2} per 1000 calls, {:.1} a second",
            elapsed.as_secs_f64(),
            sent / 20.0,
            sent / elapsed.as_secs_f64()
        );
    }
}

criterion_group! {
    name = benches;
    config = settings::criterion();
    targets = fleet_bench
}
criterion_main!(benches);

//! A fixed number of calls of one entry, for counting instructions per call with
//! callgrind, which is deterministic where timings on a shared machine are not:
//!
//! ```text
//! cargo bench -p resilience-benches --bench instructions --no-run
//! for n in 100000 200000; do
//!   valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/deps/instructions-* ours $n
//! done
//! ```
//!
//! Instructions per call are the difference between the two totals divided by the difference
//! in calls, which cancels the program's setup. Entries: `plain`, `floor` (a clock read and
//! the plain call), `ours` (the rate limit), `governor-check`, `governor-until-ready`, and our
//! other attributes: `retry`, `breaker`, `breaker-window`, `breaker-time-window`; and the
//! `tower` layers around `plain` as a `service_fn`, each call a `ready()` and a `call`:
//! `tower-plain` (no layer), `tower-breaker` (our `CircuitBreakerLayer`), `tower-bulkhead`
//! (our `BulkheadLayer`) and tower's own `tower-concurrency-limit` (`ConcurrencyLimitLayer`).

#[allow(dead_code)] // the helpers the other benches use
mod common;
mod ours;

use std::hint::black_box;

use tokio::runtime::Builder;
use tower::{Layer, Service, ServiceExt};

use common::{check, governor_limiter, plain, runtime};
use ours::{breaker_consecutive, breaker_time_window, breaker_window, rate_limited, retried};

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let (Some(entry), Some(calls)) = (args.next(), args.next()) else {
        // `cargo bench` runs every bench binary without arguments: nothing to count then.
        eprintln!(
            "usage: instructions <plain|floor|ours|governor-check|governor-until-ready|retry|breaker|breaker-window|breaker-time-window|tower-plain|tower-breaker|tower-bulkhead|tower-concurrency-limit> <calls>"
        );
        return;
    };
    let calls: u64 = calls.parse().expect("a number of calls");
    let rt = runtime(Builder::new_current_thread());
    let governor = governor_limiter();
    let service = tower::service_fn(plain);
    let mut tower_plain = service;
    let mut tower_breaker =
        resilience::tower::CircuitBreakerLayer::named("instructions-tower").layer(service);
    let mut tower_bulkhead =
        resilience::tower::BulkheadLayer::named("instructions-tower", 1024).layer(service);
    let mut concurrency_limit = tower::limit::ConcurrencyLimitLayer::new(1024).layer(service);
    rt.block_on(async {
        for i in 0..calls {
            let i = black_box(i);
            match entry.as_str() {
                "plain" => check(plain(i).await),
                "floor" => {
                    black_box(tokio::time::Instant::now());
                    check(plain(i).await);
                }
                "ours" => check(rate_limited(i).await),
                "retry" => check(retried(i).await),
                "breaker" => check(breaker_consecutive(i).await),
                "breaker-window" => check(breaker_window(i).await),
                "breaker-time-window" => check(breaker_time_window(i).await),
                "governor-check" => {
                    governor.check().expect("a permit every nanosecond");
                    check(plain(i).await);
                }
                "tower-plain" => check(tower_plain.ready().await.unwrap().call(i).await),
                "tower-breaker" => check(tower_breaker.ready().await.unwrap().call(i).await),
                "tower-bulkhead" => check(tower_bulkhead.ready().await.unwrap().call(i).await),
                "tower-concurrency-limit" => {
                    check(concurrency_limit.ready().await.unwrap().call(i).await);
                }
                "governor-until-ready" => {
                    governor.until_ready().await;
                    check(plain(i).await);
                }
                other => panic!("unknown entry {other}"),
            }
        }
    });
}

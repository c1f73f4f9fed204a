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
//! other attributes: `retry`, `breaker`, `breaker-window`, `breaker-time-window`, `timeout`,
//! `tokio-timeout` (`tokio::time::timeout` around the plain call), `hedge` (a fixed delay) and
//! `hedge-p95` (a percentile delay), and tower's `Hedge` at p95, `tower-hedge`; keyed, over
//! 1 000 keys seen before counting: `breaker-keyed`, `bulkhead-keyed`, `rate-limit-keyed`, and
//! governor's keyed limiter, `governor-check-key`; and the `tower` layers around `plain` as a
//! `service_fn`, each call a `ready()` and a `call`: `tower-plain` (no layer), `tower-breaker`
//! (our `CircuitBreakerLayer`), `tower-bulkhead` (our `BulkheadLayer`) and tower's own
//! `tower-concurrency-limit` (`ConcurrencyLimitLayer`).

#[allow(dead_code)] // the helpers the other benches use
mod common;
mod ours;

use std::hint::black_box;
use std::time::Duration;

use tokio::runtime::Builder;
use tower::{Layer as _, Service as _, ServiceExt as _};

use common::{check, governor_limiter, plain, runtime, tower_hedge};
use ours::{
    breaker_consecutive, breaker_keyed, breaker_time_window, breaker_window, bulkhead_keyed,
    hedged, hedged_p95, host, rate_limit_keyed, rate_limited, retried, timed, HOSTS,
};

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let (Some(entry), Some(calls)) = (args.next(), args.next()) else {
        // `cargo bench` runs every bench binary without arguments: nothing to count then.
        eprintln!(
            "usage: instructions <plain|floor|ours|governor-check|governor-until-ready|retry|breaker|breaker-window|breaker-time-window|timeout|tokio-timeout|hedge|hedge-p95|tower-hedge|breaker-keyed|bulkhead-keyed|rate-limit-keyed|governor-check-key|tower-plain|tower-breaker|tower-bulkhead|tower-concurrency-limit> <calls>"
        );
        return;
    };
    let calls: u64 = calls.parse().expect("a number of calls");
    let rt = runtime(Builder::new_current_thread());
    let governor = governor_limiter();
    let mut tower_hedge = rt.block_on(async { tower_hedge() });
    let per_second = std::num::NonZeroU32::new(1_000_000_000).expect("non-zero");
    let keyed: governor::DefaultKeyedRateLimiter<&'static str> =
        governor::RateLimiter::keyed(governor::Quota::per_second(per_second));
    let service = tower::service_fn(plain);
    let mut tower_plain = service;
    let mut tower_breaker =
        resilience::tower::CircuitBreakerLayer::named("instructions-tower").layer(service);
    let mut tower_bulkhead =
        resilience::tower::BulkheadLayer::named("instructions-tower", 1024).layer(service);
    let mut concurrency_limit = tower::limit::ConcurrencyLimitLayer::new(1024).layer(service);
    rt.block_on(async {
        // Every key seen before the counted calls, in every entry alike.
        for i in 0..HOSTS as u64 {
            match entry.as_str() {
                "breaker-keyed" => check(breaker_keyed(i, host(i)).await),
                "bulkhead-keyed" => check(bulkhead_keyed(i, host(i)).await),
                "rate-limit-keyed" => check(rate_limit_keyed(i, host(i)).await),
                "governor-check-key" => keyed.check_key(&host(i)).expect("a permit"),
                _ => {
                    black_box(host(i));
                }
            }
        }
    });
    // One loop per entry, chosen before it starts: the loop of each entry runs nothing but
    // that entry's call, so entries differ only by what their calls cost.
    macro_rules! count {
        (|$i:ident| $call:expr) => {
            rt.block_on(async {
                for $i in 0..calls {
                    let $i = black_box($i);
                    $call;
                }
            })
        };
    }
    match entry.as_str() {
        "plain" => count!(|i| check(plain(i).await)),
        "floor" => count!(|i| {
            black_box(tokio::time::Instant::now());
            check(plain(i).await);
        }),
        "ours" => count!(|i| check(rate_limited(i).await)),
        "retry" => count!(|i| check(retried(i).await)),
        "breaker" => count!(|i| check(breaker_consecutive(i).await)),
        "breaker-window" => count!(|i| check(breaker_window(i).await)),
        "breaker-time-window" => count!(|i| check(breaker_time_window(i).await)),
        "timeout" => count!(|i| check(timed(i).await)),
        "tokio-timeout" => count!(|i| {
            let limited = tokio::time::timeout(Duration::from_secs(1), plain(i)).await;
            check(limited.expect("a plain call finishes at once"));
        }),
        "hedge" => count!(|i| check(hedged(i).await)),
        "hedge-p95" => count!(|i| check(hedged_p95(i).await)),
        "tower-hedge" => count!(|i| {
            let service = tower_hedge.ready().await.expect("ready");
            check(service.call(i).await);
        }),
        "breaker-keyed" => count!(|i| check(breaker_keyed(i, host(i)).await)),
        "bulkhead-keyed" => count!(|i| check(bulkhead_keyed(i, host(i)).await)),
        "rate-limit-keyed" => count!(|i| check(rate_limit_keyed(i, host(i)).await)),
        "governor-check-key" => count!(|i| {
            keyed
                .check_key(&host(i))
                .expect("a permit every nanosecond");
            check(plain(i).await);
        }),
        "tower-plain" => count!(|i| check(tower_plain.ready().await.unwrap().call(i).await)),
        "tower-breaker" => count!(|i| check(tower_breaker.ready().await.unwrap().call(i).await)),
        "tower-bulkhead" => count!(|i| check(tower_bulkhead.ready().await.unwrap().call(i).await)),
        "tower-concurrency-limit" => count!(|i| {
            check(concurrency_limit.ready().await.unwrap().call(i).await);
        }),
        "governor-check" => count!(|i| {
            governor.check().expect("a permit every nanosecond");
            check(plain(i).await);
        }),
        "governor-until-ready" => count!(|i| {
            governor.until_ready().await;
            check(plain(i).await);
        }),
        other => panic!("unknown entry {other}"),
    }
}

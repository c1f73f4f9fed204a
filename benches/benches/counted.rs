//! The entries of `instructions` and `instructions_noinline`: a fixed number of calls of one
//! entry, chosen by name (see `instructions.rs`).

use std::hint::black_box;

use backon::ExponentialBuilder;
use tokio::runtime::Builder;
use tokio::sync::Semaphore;
use tower::Layer as _;

use crate::awaiting;
use crate::common::{check, governor_limiter, plain, runtime, tower_hedge, with_permit};
use crate::ours::{
    breaker_consecutive, breaker_keyed, breaker_time_window, breaker_window, bulkhead_keyed,
    bulkheaded, floor_breaker, floor_breaker_nested, floor_breaker_outcome, floor_bulkhead,
    floor_clock, floor_retry, floor_retry_nested, hedged, hedged_p95, host, rate_limit_keyed,
    rate_limited, retried, stacked, stacked_all, timed, HOSTS,
};
use crate::peers::{
    failsafe_consecutive, governor_keyed, recloser_window, via_backon, via_failsafe, via_five,
    via_governor_check, via_governor_check_key, via_governor_until_ready, via_recloser, via_three,
    via_tokio_timeout, via_tower,
};

/// Every entry, in the order `benches/instructions.sh` reports them.
const ENTRIES: &[&str] = &[
    "plain",
    "floor-breaker",
    "floor-breaker-outcome",
    "floor-breaker-nested",
    "breaker",
    "breaker-window",
    "breaker-time-window",
    "failsafe",
    "recloser",
    "floor-retry",
    "floor-retry-nested",
    "retry",
    "backon",
    "floor-bulkhead",
    "bulkhead",
    "semaphore",
    "tower-concurrency-limit",
    "floor-clock",
    "timeout",
    "tokio-timeout",
    "rate-limit",
    "governor-check",
    "governor-until-ready",
    "stacked",
    "backon-failsafe-semaphore",
    "stacked-all",
    "five-peers",
    "hedge",
    "hedge-p95",
    "tower-hedge",
    "breaker-keyed",
    "bulkhead-keyed",
    "rate-limit-keyed",
    "governor-check-key",
    "tower-plain",
    "tower-breaker",
    "tower-bulkhead",
    "awaiting-plain",
    "awaiting-floor-breaker",
    "awaiting-breaker",
    "awaiting-floor-retry",
    "awaiting-retry",
    "awaiting-floor-bulkhead",
    "awaiting-bulkhead",
    "awaiting-floor-stacked",
    "awaiting-stacked",
];

/// `<entry> <calls>` runs `calls` calls of `entry`; `--list` prints the entries.
pub(crate) fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let first = args.next();
    if first.as_deref() == Some("--list") {
        println!("{}", ENTRIES.join("\n"));
        return;
    }
    let (Some(entry), Some(calls)) = (first, args.next()) else {
        // `cargo bench` runs every bench binary without arguments: nothing to count then.
        eprintln!("usage: instructions --list | instructions <entry> <calls>");
        return;
    };
    let calls: u64 = calls.parse().expect("a number of calls");
    let rt = runtime(Builder::new_current_thread());
    let governor = governor_limiter();
    let failsafe = failsafe_consecutive();
    let recloser = recloser_window();
    let backoff = ExponentialBuilder::default();
    let semaphore = Semaphore::new(16);
    let mut tower_hedge = rt.block_on(async { tower_hedge() });
    let keyed = governor_keyed();
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
                "governor-check-key" => check(via_governor_check_key(&keyed, i, host(i)).await),
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
                    check($call);
                }
            })
        };
    }
    match entry.as_str() {
        "plain" => count!(|i| plain(i).await),
        "floor-breaker" => count!(|i| floor_breaker(i).await),
        "floor-breaker-outcome" => count!(|i| floor_breaker_outcome(i).await),
        "floor-breaker-nested" => count!(|i| floor_breaker_nested(i).await),
        "breaker" => count!(|i| breaker_consecutive(i).await),
        "breaker-window" => count!(|i| breaker_window(i).await),
        "breaker-time-window" => count!(|i| breaker_time_window(i).await),
        "failsafe" => count!(|i| via_failsafe(&failsafe, i).await),
        "recloser" => count!(|i| via_recloser(&recloser, i).await),
        "retry" => count!(|i| retried(i).await),
        "backon" => count!(|i| via_backon(backoff, i).await),
        "floor-retry" => count!(|i| floor_retry(i).await),
        "floor-retry-nested" => count!(|i| floor_retry_nested(i).await),
        "floor-bulkhead" => count!(|i| floor_bulkhead(i).await),
        "bulkhead" => count!(|i| bulkheaded(i).await),
        "semaphore" => count!(|i| with_permit(&semaphore, i).await),
        "tower-concurrency-limit" => count!(|i| via_tower(&mut concurrency_limit, i).await),
        "floor-clock" => count!(|i| floor_clock(i).await),
        "timeout" => count!(|i| timed(i).await),
        "tokio-timeout" => count!(|i| via_tokio_timeout(i).await),
        "rate-limit" => count!(|i| rate_limited(i).await),
        "governor-check" => count!(|i| via_governor_check(&governor, i).await),
        "governor-until-ready" => count!(|i| via_governor_until_ready(&governor, i).await),
        "stacked" => count!(|i| stacked(i).await),
        "backon-failsafe-semaphore" => {
            count!(|i| via_three(backoff, &failsafe, &semaphore, i).await);
        }
        "stacked-all" => count!(|i| stacked_all(i).await),
        "five-peers" => count!(|i| via_five(backoff, &failsafe, &semaphore, i).await),
        "hedge" => count!(|i| hedged(i).await),
        "hedge-p95" => count!(|i| hedged_p95(i).await),
        "tower-hedge" => count!(|i| via_tower(&mut tower_hedge, i).await),
        "breaker-keyed" => count!(|i| breaker_keyed(i, host(i)).await),
        "bulkhead-keyed" => count!(|i| bulkhead_keyed(i, host(i)).await),
        "rate-limit-keyed" => count!(|i| rate_limit_keyed(i, host(i)).await),
        "governor-check-key" => count!(|i| via_governor_check_key(&keyed, i, host(i)).await),
        "tower-plain" => count!(|i| via_tower(&mut tower_plain, i).await),
        "tower-breaker" => count!(|i| via_tower(&mut tower_breaker, i).await),
        "tower-bulkhead" => count!(|i| via_tower(&mut tower_bulkhead, i).await),
        "awaiting-plain" => count!(|i| awaiting::plain(i).await),
        "awaiting-floor-breaker" => count!(|i| awaiting::floor_breaker(i).await),
        "awaiting-breaker" => count!(|i| awaiting::breaker(i).await),
        "awaiting-floor-retry" => count!(|i| awaiting::floor_retry(i).await),
        "awaiting-retry" => count!(|i| awaiting::retried(i).await),
        "awaiting-floor-bulkhead" => count!(|i| awaiting::floor_bulkhead(i).await),
        "awaiting-bulkhead" => count!(|i| awaiting::bulkheaded(i).await),
        "awaiting-floor-stacked" => count!(|i| awaiting::floor_stacked(i).await),
        "awaiting-stacked" => count!(|i| awaiting::stacked(i).await),
        other => panic!("unknown entry {other} (see --list)"),
    }
}

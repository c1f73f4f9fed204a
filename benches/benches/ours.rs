//! Our annotated functions, shared by the bench binaries (each uses some of them). Every one
//! has its own `static` state, as every annotated function does.

#![allow(dead_code)]

use std::hint::black_box;
use std::sync::OnceLock;

use resilience::{bulkhead, circuit_breaker, fallback, hedge, rate_limit, retry, timeout};

use crate::common::{plain, BenchError};

#[circuit_breaker]
pub(crate) async fn breaker_consecutive(x: u64) -> Result<u64, BenchError> {
    Ok(black_box(x))
}

#[circuit_breaker(failure_rate = 0.5, window = 100)]
pub(crate) async fn breaker_window(x: u64) -> Result<u64, BenchError> {
    Ok(black_box(x))
}

#[circuit_breaker(failure_rate = 0.5, window = "10s")]
pub(crate) async fn breaker_time_window(x: u64) -> Result<u64, BenchError> {
    Ok(black_box(x))
}

#[retry]
pub(crate) async fn retried(x: u64) -> Result<u64, BenchError> {
    Ok(black_box(x))
}

#[bulkhead(max = 16)]
pub(crate) async fn bulkheaded(x: u64) -> Result<u64, BenchError> {
    Ok(black_box(x))
}

/// A permit every nanosecond: never runs out at the rate a bench calls it.
#[rate_limit(rate = 1_000_000_000)]
pub(crate) async fn rate_limited(x: u64) -> Result<u64, BenchError> {
    Ok(black_box(x))
}

#[hedge(delay = "50ms")]
pub(crate) async fn hedged(x: u64) -> Result<u64, BenchError> {
    Ok(black_box(x))
}

/// A percentile delay: every call records its latency (a clock read at its start and end).
#[hedge(delay = "p95")]
pub(crate) async fn hedged_p95(x: u64) -> Result<u64, BenchError> {
    Ok(black_box(x))
}

#[timeout("1s")]
pub(crate) async fn timed(x: u64) -> Result<u64, BenchError> {
    Ok(black_box(x))
}

/// The fallback: answers with the plain call.
pub(crate) async fn recover(x: u64, _error: BenchError) -> Result<u64, BenchError> {
    plain(x).await
}

#[fallback(recover)]
pub(crate) async fn with_fallback(x: u64) -> Result<u64, BenchError> {
    Ok(black_box(x))
}

#[retry]
#[circuit_breaker]
#[bulkhead(max = 16)]
pub(crate) async fn stacked(x: u64) -> Result<u64, BenchError> {
    Ok(black_box(x))
}

#[fallback(recover)]
#[retry]
#[circuit_breaker]
#[bulkhead(max = 16)]
#[timeout("1s")]
pub(crate) async fn stacked_all(x: u64) -> Result<u64, BenchError> {
    Ok(black_box(x))
}

// Keyed instances (`keyed`, `instructions`): calls rotate over `HOSTS` host names.

/// Distinct keys the calls rotate over.
pub(crate) const HOSTS: usize = 1_000;

/// `HOSTS` host names, made once.
pub(crate) fn hosts() -> &'static [&'static str] {
    static HOSTS_: OnceLock<Vec<&'static str>> = OnceLock::new();
    HOSTS_.get_or_init(|| {
        (0..HOSTS)
            .map(|i| &*Box::leak(format!("host-{i}.example").into_boxed_str()))
            .collect()
    })
}

pub(crate) fn host(i: u64) -> &'static str {
    let hosts = hosts();
    hosts[usize::try_from(i).unwrap_or_default() % hosts.len()]
}

#[circuit_breaker(key = host)]
pub(crate) async fn breaker_keyed(x: u64, host: &str) -> Result<u64, BenchError> {
    Ok(black_box(x))
}

#[bulkhead(max = 16, key = host)]
pub(crate) async fn bulkhead_keyed(x: u64, host: &str) -> Result<u64, BenchError> {
    Ok(black_box(x))
}

/// A permit every nanosecond per key: never runs out at the rate a bench calls it.
#[rate_limit(rate = 1_000_000_000, key = host)]
pub(crate) async fn rate_limit_keyed(x: u64, host: &str) -> Result<u64, BenchError> {
    Ok(black_box(x))
}

#[circuit_breaker]
pub(crate) async fn breaker_unkeyed(x: u64) -> Result<u64, BenchError> {
    Ok(black_box(x))
}

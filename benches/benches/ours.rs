//! Our annotated functions, shared by the bench binaries (each uses some of them). Every one
//! has its own `static` state, as every annotated function does.

#![allow(dead_code)]

use std::hint::black_box;

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

//! The per-call groups, compiled by two bench binaries: `overhead` (bodies as written) and
//! `overhead_noinline` (every body and function `#[inline(never)]`, groups named
//! `<group>/noinline`); see `overhead.rs` for what they measure.
//!
//! Each peer is called through a function of `peers.rs`, `out_of_line!` like our annotated
//! functions, as a user calls a peer: through a function of theirs that wraps the call.

use backon::ExponentialBuilder;
use criterion::{criterion_group, BenchmarkId, Criterion};
use tokio::runtime::{Builder, Runtime};
use tokio::sync::Semaphore;
use tower::limit::ConcurrencyLimit;
use tower::service_fn;
use tower_resilience_circuitbreaker::CircuitBreakerLayer;

use crate::awaiting;
use crate::common::{governor_limiter, per_call, plain, runtime, tower_hedge, with_permit};
use crate::ours::{
    breaker_consecutive, breaker_time_window, breaker_window, bulkheaded, floor_breaker,
    floor_breaker_nested, floor_breaker_outcome, floor_bulkhead, floor_clock, floor_retry,
    floor_retry_nested, hedged, hedged_p95, rate_limited, retried, stacked, stacked_all, timed,
};
use crate::peers::{
    failsafe_consecutive, recloser_window, via_backon, via_failsafe, via_five, via_governor_check,
    via_governor_until_ready, via_recloser, via_three, via_tokio_timeout, via_tower, OPEN_FOR,
};
use crate::variant::group;

fn current_thread() -> Runtime {
    runtime(Builder::new_current_thread())
}

// ---------------------------------------------------------------------------------------------
// Groups.

fn breaker(c: &mut Criterion) {
    let rt = current_thread();
    let failsafe = failsafe_consecutive();
    let recloser = recloser_window();
    let mut tower_resilience = CircuitBreakerLayer::builder()
        .failure_rate_threshold(0.5)
        .sliding_window_size(100)
        .wait_duration_in_open(OPEN_FOR)
        .build()
        .expect("a valid tower-resilience configuration")
        .layer_fn(service_fn(plain));

    let mut group = c.benchmark_group(group("breaker"));
    group.bench_function("plain", |b| per_call!(b, rt, |i| plain(i).await));
    group.bench_function("floor: relaxed load + branch", |b| {
        per_call!(b, rt, |i| floor_breaker(i).await);
    });
    group.bench_function("floor: a load before + a load after", |b| {
        per_call!(b, rt, |i| floor_breaker_outcome(i).await);
    });
    group.bench_function(
        "floor: a load before + a load after, body as a future",
        |b| {
            per_call!(b, rt, |i| floor_breaker_nested(i).await);
        },
    );
    group.bench_function("ours consecutive", |b| {
        per_call!(b, rt, |i| breaker_consecutive(i).await);
    });
    group.bench_function("ours window", |b| {
        per_call!(b, rt, |i| breaker_window(i).await);
    });
    group.bench_function("failsafe consecutive", |b| {
        per_call!(b, rt, |i| via_failsafe(&failsafe, i).await);
    });
    group.bench_function("ours time window", |b| {
        per_call!(b, rt, |i| breaker_time_window(i).await);
    });
    group.bench_function("recloser window", |b| {
        per_call!(b, rt, |i| via_recloser(&recloser, i).await);
    });
    group.bench_function("tower-resilience window", |b| {
        per_call!(b, rt, |i| via_tower(&mut tower_resilience, i).await);
    });
    group.finish();
}

fn retry(c: &mut Criterion) {
    let rt = current_thread();
    let backoff = ExponentialBuilder::default();
    let mut group = c.benchmark_group(group("retry"));
    group.bench_function("plain", |b| per_call!(b, rt, |i| plain(i).await));
    group.bench_function("floor: relaxed fetch_add (the budget's deposit)", |b| {
        per_call!(b, rt, |i| floor_retry(i).await);
    });
    group.bench_function("floor: relaxed fetch_add, body as a future", |b| {
        per_call!(b, rt, |i| floor_retry_nested(i).await);
    });
    group.bench_function("ours", |b| per_call!(b, rt, |i| retried(i).await));
    group.bench_function("backon", |b| {
        per_call!(b, rt, |i| via_backon(backoff, i).await);
    });
    group.finish();
}

fn bulkhead(c: &mut Criterion) {
    let rt = current_thread();
    let semaphore = Semaphore::new(16);
    let mut limit = ConcurrencyLimit::new(service_fn(plain), 16);

    let mut group = c.benchmark_group(group("bulkhead"));
    group.bench_function("plain", |b| per_call!(b, rt, |i| plain(i).await));
    group.bench_function("floor: fetch_add + fetch_sub", |b| {
        per_call!(b, rt, |i| floor_bulkhead(i).await);
    });
    group.bench_function("ours", |b| per_call!(b, rt, |i| bulkheaded(i).await));
    group.bench_function("tower ConcurrencyLimit", |b| {
        per_call!(b, rt, |i| via_tower(&mut limit, i).await);
    });
    group.bench_function("tokio Semaphore", |b| {
        per_call!(b, rt, |i| with_permit(&semaphore, i).await);
    });
    group.finish();
}

/// A permit due at every call: ours, governor's `check` and `until_ready`, and a floor row,
/// the plain call after one read of tokio's clock (which our happy path also pays).
fn rate_limit(c: &mut Criterion) {
    let rt = current_thread();
    let governor = governor_limiter();

    let mut group = c.benchmark_group(group("rate_limit"));
    group.bench_function("plain", |b| per_call!(b, rt, |i| plain(i).await));
    group.bench_function("floor: clock read + plain", |b| {
        per_call!(b, rt, |i| floor_clock(i).await);
    });
    group.bench_function("ours", |b| per_call!(b, rt, |i| rate_limited(i).await));
    group.bench_function("governor check", |b| {
        per_call!(b, rt, |i| via_governor_check(&governor, i).await);
    });
    group.bench_function("governor until_ready", |b| {
        per_call!(b, rt, |i| via_governor_until_ready(&governor, i).await);
    });
    group.finish();
}

fn stack(c: &mut Criterion) {
    let rt = current_thread();
    let backoff = ExponentialBuilder::default();
    let failsafe = failsafe_consecutive();
    let semaphore = Semaphore::new(16);

    let mut group = c.benchmark_group(group("stacked"));
    group.bench_function("plain", |b| per_call!(b, rt, |i| plain(i).await));
    group.bench_function("ours retry+breaker+bulkhead", |b| {
        per_call!(b, rt, |i| stacked(i).await);
    });
    group.bench_function("backon+failsafe+Semaphore", |b| {
        per_call!(b, rt, |i| via_three(backoff, &failsafe, &semaphore, i)
            .await);
    });
    group.bench_function("ours fallback+retry+breaker+bulkhead+timeout", |b| {
        per_call!(b, rt, |i| stacked_all(i).await);
    });
    group.bench_function("fallback+backon+failsafe+Semaphore+timeout", |b| {
        per_call!(b, rt, |i| via_five(backoff, &failsafe, &semaphore, i).await);
    });
    group.finish();
}

fn hedge(c: &mut Criterion) {
    let rt = current_thread();
    let mut tower_hedge = rt.block_on(async { tower_hedge() });
    let mut group = c.benchmark_group(group("hedge"));
    group.bench_function("plain", |b| per_call!(b, rt, |i| plain(i).await));
    group.bench_function("ours 50ms", |b| per_call!(b, rt, |i| hedged(i).await));
    group.bench_function("ours p95", |b| per_call!(b, rt, |i| hedged_p95(i).await));
    group.bench_function("tower Hedge p95", |b| {
        per_call!(b, rt, |i| via_tower(&mut tower_hedge, i).await);
    });
    group.finish();
}

fn time_limit(c: &mut Criterion) {
    let rt = current_thread();
    let mut group = c.benchmark_group(group("timeout"));
    group.bench_function("plain", |b| per_call!(b, rt, |i| plain(i).await));
    group.bench_function("floor: clock read + plain", |b| {
        per_call!(b, rt, |i| floor_clock(i).await);
    });
    group.bench_function("ours", |b| per_call!(b, rt, |i| timed(i).await));
    group.bench_function("tokio timeout", |b| {
        per_call!(b, rt, |i| via_tokio_timeout(i).await);
    });
    group.finish();
}

/// Bodies that await their I/O (`awaiting.rs`): each of ours beside its floor, the value of
/// its criterion id naming the pair.
fn awaiting(c: &mut Criterion) {
    let rt = current_thread();
    let mut group = c.benchmark_group(group("awaiting"));
    group.bench_function("plain", |b| per_call!(b, rt, |i| awaiting::plain(i).await));
    let breaker = "breaker";
    group.bench_function(
        BenchmarkId::new("floor: relaxed load + branch", breaker),
        |b| {
            per_call!(b, rt, |i| awaiting::floor_breaker(i).await);
        },
    );
    group.bench_function(BenchmarkId::new("ours", breaker), |b| {
        per_call!(b, rt, |i| awaiting::breaker(i).await);
    });
    let retry = "retry";
    group.bench_function(BenchmarkId::new("floor: relaxed fetch_add", retry), |b| {
        per_call!(b, rt, |i| awaiting::floor_retry(i).await);
    });
    group.bench_function(BenchmarkId::new("ours", retry), |b| {
        per_call!(b, rt, |i| awaiting::retried(i).await);
    });
    let bulkhead = "bulkhead";
    group.bench_function(
        BenchmarkId::new("floor: fetch_add + fetch_sub", bulkhead),
        |b| {
            per_call!(b, rt, |i| awaiting::floor_bulkhead(i).await);
        },
    );
    group.bench_function(BenchmarkId::new("ours", bulkhead), |b| {
        per_call!(b, rt, |i| awaiting::bulkheaded(i).await);
    });
    let stacked = "retry+breaker+bulkhead";
    group.bench_function(BenchmarkId::new("floor: the three floors", stacked), |b| {
        per_call!(b, rt, |i| awaiting::floor_stacked(i).await);
    });
    group.bench_function(BenchmarkId::new("ours", stacked), |b| {
        per_call!(b, rt, |i| awaiting::stacked(i).await);
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = crate::settings::criterion();
    targets = breaker, retry, bulkhead, rate_limit, stack, time_limit, hedge, awaiting
}

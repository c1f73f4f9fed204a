//! The cost of one call on the happy path, ours and the peers' side by side.
//!
//! Each entry is one call of an `async fn` that returns `Ok(black_box(x))` at once: the plain
//! function (the baseline), the same body under one of our attributes, or the plain function
//! wrapped by a peer. Entries of one group run in the same process, one after the other, so
//! their ratios come from one run.
//!
//! Every entry runs the same loop — `iters` sequential calls awaited inside one `block_on` of
//! a current-thread runtime, timed from inside (see [`per_call!`]) — so the runtime's own cost
//! is the same for all of them, and `plain`'s time is what to subtract to get an overhead.
//!
//! ```text
//! cargo bench -p resilience-benches --bench overhead
//! ```

mod common;
mod ours;
mod settings;

use std::hint::black_box;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use criterion::{criterion_group, criterion_main, Criterion};
use failsafe::futures::CircuitBreaker as _;
use recloser::{AsyncRecloser, Recloser};
use tokio::runtime::{Builder, Runtime};
use tokio::sync::Semaphore;
use tower::limit::ConcurrencyLimit;
use tower::{service_fn, Service as _, ServiceExt as _};
use tower_resilience_circuitbreaker::CircuitBreakerLayer;

use common::{governor_limiter, per_call, plain, runtime, tower_hedge, with_permit};
use ours::{
    breaker_consecutive, breaker_time_window, breaker_window, bulkheaded, hedged, hedged_p95,
    rate_limited, retried, stacked, timed,
};

/// How long a peer's breaker stays open; never reached here, only configured alike.
const OPEN_FOR: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// Our functions: each has its own `static` state, as every annotated function does.

// ---------------------------------------------------------------------------------------------
// Peers.

/// failsafe with its consecutive-failures policy: 3 failures in a row open it.
fn failsafe_consecutive() -> impl failsafe::futures::CircuitBreaker {
    let backoff = failsafe::backoff::constant(OPEN_FOR);
    failsafe::Config::new()
        .failure_policy(failsafe::failure_policy::consecutive_failures(3, backoff))
        .build()
}

/// recloser: a failure rate of 0.5 over the last 100 calls, as our window mode.
fn recloser_window() -> AsyncRecloser {
    AsyncRecloser::from(
        Recloser::custom()
            .error_rate(0.5)
            .closed_len(100)
            .open_wait(OPEN_FOR)
            .build(),
    )
}

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

    let mut group = c.benchmark_group("breaker");
    group.bench_function("plain", |b| per_call!(b, rt, |i| plain(i).await));
    group.bench_function("ours consecutive", |b| {
        per_call!(b, rt, |i| breaker_consecutive(i).await);
    });
    group.bench_function("ours window", |b| {
        per_call!(b, rt, |i| breaker_window(i).await);
    });
    group.bench_function("failsafe consecutive", |b| {
        per_call!(b, rt, |i| failsafe.call(plain(i)).await);
    });
    group.bench_function("ours time window", |b| {
        per_call!(b, rt, |i| breaker_time_window(i).await);
    });
    group.bench_function("recloser window", |b| {
        per_call!(b, rt, |i| recloser.call(plain(i)).await);
    });
    group.bench_function("tower-resilience window", |b| {
        per_call!(b, rt, |i| {
            let service = tower_resilience.ready().await.expect("closed");
            service.call(i).await
        });
    });
    group.finish();
}

fn retry(c: &mut Criterion) {
    let rt = current_thread();
    let mut group = c.benchmark_group("retry");
    group.bench_function("plain", |b| per_call!(b, rt, |i| plain(i).await));
    group.bench_function("ours", |b| per_call!(b, rt, |i| retried(i).await));
    group.bench_function("backon", |b| {
        per_call!(b, rt, |i| {
            (move || plain(i))
                .retry(ExponentialBuilder::default())
                .await
        });
    });
    group.finish();
}

fn bulkhead(c: &mut Criterion) {
    let rt = current_thread();
    let semaphore = Semaphore::new(16);
    let mut limit = ConcurrencyLimit::new(service_fn(plain), 16);

    let mut group = c.benchmark_group("bulkhead");
    group.bench_function("plain", |b| per_call!(b, rt, |i| plain(i).await));
    group.bench_function("ours", |b| per_call!(b, rt, |i| bulkheaded(i).await));
    group.bench_function("tower ConcurrencyLimit", |b| {
        per_call!(b, rt, |i| {
            let service = limit.ready().await.expect("a ready service");
            service.call(i).await
        });
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

    let mut group = c.benchmark_group("rate_limit");
    group.bench_function("plain", |b| per_call!(b, rt, |i| plain(i).await));
    group.bench_function("floor: clock read + plain", |b| {
        per_call!(b, rt, |i| {
            black_box(tokio::time::Instant::now());
            plain(i).await
        });
    });
    group.bench_function("ours", |b| per_call!(b, rt, |i| rate_limited(i).await));
    group.bench_function("governor check", |b| {
        per_call!(b, rt, |i| {
            governor.check().expect("a permit every nanosecond");
            plain(i).await
        });
    });
    group.bench_function("governor until_ready", |b| {
        per_call!(b, rt, |i| {
            governor.until_ready().await;
            plain(i).await
        });
    });
    group.finish();
}

fn stack(c: &mut Criterion) {
    let rt = current_thread();
    let failsafe = failsafe_consecutive();
    let semaphore = Semaphore::new(16);

    let mut group = c.benchmark_group("stacked");
    group.bench_function("plain", |b| per_call!(b, rt, |i| plain(i).await));
    group.bench_function("ours retry+breaker+bulkhead", |b| {
        per_call!(b, rt, |i| stacked(i).await);
    });
    group.bench_function("backon+failsafe+Semaphore", |b| {
        per_call!(b, rt, |i| {
            (|| failsafe.call(with_permit(&semaphore, i)))
                .retry(ExponentialBuilder::default())
                .await
        });
    });
    group.finish();
}

fn hedge(c: &mut Criterion) {
    let rt = current_thread();
    let mut tower_hedge = rt.block_on(async { tower_hedge() });
    let mut group = c.benchmark_group("hedge");
    group.bench_function("plain", |b| per_call!(b, rt, |i| plain(i).await));
    group.bench_function("ours 50ms", |b| per_call!(b, rt, |i| hedged(i).await));
    group.bench_function("ours p95", |b| per_call!(b, rt, |i| hedged_p95(i).await));
    group.bench_function("tower Hedge p95", |b| {
        per_call!(b, rt, |i| {
            let service = tower_hedge.ready().await.expect("ready");
            service.call(i).await
        });
    });
    group.finish();
}

fn time_limit(c: &mut Criterion) {
    let rt = current_thread();
    let mut group = c.benchmark_group("timeout");
    group.bench_function("plain", |b| per_call!(b, rt, |i| plain(i).await));
    group.bench_function("ours", |b| per_call!(b, rt, |i| timed(i).await));
    group.bench_function("tokio timeout", |b| {
        per_call!(b, rt, |i| {
            tokio::time::timeout(Duration::from_secs(1), plain(i))
                .await
                .expect("within the limit")
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = settings::criterion();
    targets = breaker, retry, bulkhead, rate_limit, stack, time_limit, hedge
}
criterion_main!(benches);

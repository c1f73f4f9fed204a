//! Throughput under contention: one shared breaker, one shared bulkhead, and one shared rate
//! limiter (with permits to spare), hammered by many tasks on a two-worker runtime. Ours and the peers' side by side, in calls per second.
//!
//! One iteration spawns [`TASKS`] tasks that each make [`CALLS_PER_TASK`] sequential calls
//! of an `async fn` that succeeds at once, and waits for all of them; criterion reports
//! [`CALLS`] elements per iteration. The calls finish without yielding, so both workers are
//! inside a call most of the time and every call contends for the same state. `plain` is the
//! same loop without any state: its time per call is the floor (spawning, joining, the loop).
//!
//! ```text
//! cargo bench -p resilience-benches --bench contended
//! ```

mod common;
mod settings;

use std::future::Future;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use failsafe::futures::CircuitBreaker as _;
use recloser::{AsyncRecloser, Recloser};
use resilience::{bulkhead, circuit_breaker, rate_limit};
use tokio::runtime::{Builder, Runtime};
use tokio::sync::Semaphore;
use tower::limit::ConcurrencyLimit;
use tower::{service_fn, Service as _, ServiceExt as _};

use common::{check, governor_limiter, plain, runtime, with_permit, BenchError};

/// Worker threads of the runtime (the machine the README's numbers come from has 2 cores).
const WORKERS: usize = 2;
/// Tasks spawned per iteration.
const TASKS: usize = 64;
/// Sequential calls each task makes.
const CALLS_PER_TASK: u64 = 256;
/// Calls per iteration: criterion's element count.
const CALLS: u64 = TASKS as u64 * CALLS_PER_TASK;

/// How long a peer's breaker stays open; never reached here, only configured alike.
const OPEN_FOR: Duration = Duration::from_secs(10);

/// The body of one task: [`CALLS_PER_TASK`] calls of `$call` (which awaits one call, with
/// `$i` as its argument), each outcome through [`check`].
macro_rules! calls {
    (|$i:ident| $call:expr) => {
        for $i in 0..CALLS_PER_TASK {
            let $i = black_box($i);
            check($call);
        }
    };
}

/// Times `iters` rounds of [`TASKS`] tasks made by `task`, spawned on `rt` and joined.
fn rounds<T, F>(rt: &Runtime, iters: u64, task: T) -> Duration
where
    T: Fn() -> F,
    F: Future<Output = ()> + Send + 'static,
{
    rt.block_on(async {
        let mut handles = Vec::with_capacity(TASKS);
        let start = Instant::now();
        for _ in 0..iters {
            handles.extend((0..TASKS).map(|_| tokio::spawn(task())));
            for handle in handles.drain(..) {
                handle.await.expect("a benchmark task panicked");
            }
        }
        start.elapsed()
    })
}

// One instance each, shared by every task: the `static` inside each function.

#[circuit_breaker]
async fn shared_breaker(x: u64) -> Result<u64, BenchError> {
    Ok(black_box(x))
}

#[bulkhead(max = 16)]
async fn shared_bulkhead(x: u64) -> Result<u64, BenchError> {
    Ok(black_box(x))
}

/// A permit every nanosecond: the limiter's word changes at every call, and never runs out.
#[rate_limit(rate = 1_000_000_000)]
async fn shared_rate_limit(x: u64) -> Result<u64, BenchError> {
    Ok(black_box(x))
}

fn contended(c: &mut Criterion) {
    let rt = runtime({
        let mut builder = Builder::new_multi_thread();
        builder.worker_threads(WORKERS);
        builder
    });
    let failsafe = failsafe::Config::new()
        .failure_policy(failsafe::failure_policy::consecutive_failures(
            3,
            failsafe::backoff::constant(OPEN_FOR),
        ))
        .build();
    let recloser = AsyncRecloser::from(
        Recloser::custom()
            .error_rate(0.5)
            .closed_len(100)
            .open_wait(OPEN_FOR)
            .build(),
    );
    let semaphore = Arc::new(Semaphore::new(16));
    let limit = ConcurrencyLimit::new(service_fn(plain), 16);

    let mut group = c.benchmark_group("contended");
    group.throughput(Throughput::Elements(CALLS));
    // An iteration takes up to milliseconds: the same number of iterations in every sample
    // keeps the run within its measurement time.
    group.sampling_mode(SamplingMode::Flat);

    group.bench_function("plain", |b| {
        b.iter_custom(|iters| rounds(&rt, iters, || async { calls!(|i| plain(i).await) }));
    });

    group.bench_function(BenchmarkId::new("ours", "breaker"), |b| {
        b.iter_custom(|iters| rounds(&rt, iters, || async { calls!(|i| shared_breaker(i).await) }));
    });
    group.bench_function(BenchmarkId::new("failsafe", "breaker"), |b| {
        b.iter_custom(|iters| {
            rounds(&rt, iters, || {
                let breaker = failsafe.clone();
                async move { calls!(|i| breaker.call(plain(i)).await) }
            })
        });
    });
    group.bench_function(BenchmarkId::new("recloser", "breaker"), |b| {
        b.iter_custom(|iters| {
            rounds(&rt, iters, || {
                let breaker = recloser.clone();
                async move { calls!(|i| breaker.call(plain(i)).await) }
            })
        });
    });

    group.bench_function(BenchmarkId::new("ours", "bulkhead"), |b| {
        b.iter_custom(|iters| {
            rounds(&rt, iters, || async {
                calls!(|i| shared_bulkhead(i).await)
            })
        });
    });
    group.bench_function(BenchmarkId::new("tokio Semaphore", "bulkhead"), |b| {
        b.iter_custom(|iters| {
            rounds(&rt, iters, || {
                let semaphore = Arc::clone(&semaphore);
                async move { calls!(|i| with_permit(&semaphore, i).await) }
            })
        });
    });
    group.bench_function(
        BenchmarkId::new("tower ConcurrencyLimit", "bulkhead"),
        |b| {
            b.iter_custom(|iters| {
                rounds(&rt, iters, || {
                    // Clones share the one semaphore; each holds its own readiness permit.
                    let mut limit = limit.clone();
                    async move {
                        calls!(|i| {
                            let service = limit.ready().await.expect("a ready service");
                            service.call(i).await
                        });
                    }
                })
            });
        },
    );

    let governor = Arc::new(governor_limiter());
    group.bench_function(BenchmarkId::new("ours", "rate_limit"), |b| {
        b.iter_custom(|iters| {
            rounds(&rt, iters, || async {
                calls!(|i| shared_rate_limit(i).await)
            })
        });
    });
    group.bench_function(BenchmarkId::new("governor check", "rate_limit"), |b| {
        b.iter_custom(|iters| {
            rounds(&rt, iters, || {
                let governor = Arc::clone(&governor);
                async move {
                    calls!(|i| {
                        governor.check().expect("a permit every nanosecond");
                        plain(i).await
                    });
                }
            })
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = settings::criterion();
    targets = contended
}
criterion_main!(benches);

//! The contended groups, compiled by `contended` (bodies as written) and `contended_noinline`
//! (every body and function `#[inline(never)]`, group `contended/noinline`); see
//! `contended.rs` for what they measure.

use std::future::Future;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, BenchmarkId, Criterion, SamplingMode, Throughput};
use resilience::{bulkhead, circuit_breaker, rate_limit};
use tokio::runtime::{Builder, Runtime};
use tokio::sync::Semaphore;
use tower::limit::ConcurrencyLimit;
use tower::service_fn;

use crate::common::{check, governor_limiter, plain, runtime, with_permit, work, BenchError};
use crate::peers::{
    failsafe_consecutive, recloser_window, via_failsafe, via_governor_check, via_recloser,
    via_tower,
};
use crate::variant::group;

/// Worker threads of the runtime (the machine the README's numbers come from has 2 cores).
const WORKERS: usize = 2;
/// Tasks spawned per iteration.
const TASKS: usize = 64;
/// Sequential calls each task makes.
const CALLS_PER_TASK: u64 = 256;
/// Calls per iteration: criterion's element count.
const CALLS: u64 = TASKS as u64 * CALLS_PER_TASK;

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
out_of_line! {
    #[circuit_breaker]
    async fn shared_breaker(x: u64) -> Result<u64, BenchError> {
        Ok(work(x))
    }

    #[bulkhead(max = 16)]
    async fn shared_bulkhead(x: u64) -> Result<u64, BenchError> {
        Ok(work(x))
    }

    /// A permit every nanosecond: the limiter's word changes at every call, and never runs out.
    #[rate_limit(rate = 1_000_000_000)]
    async fn shared_rate_limit(x: u64) -> Result<u64, BenchError> {
        Ok(work(x))
    }
}

fn contended(c: &mut Criterion) {
    let rt = runtime({
        let mut builder = Builder::new_multi_thread();
        builder.worker_threads(WORKERS);
        builder
    });
    let failsafe = failsafe_consecutive();
    let recloser = recloser_window();
    let semaphore = Arc::new(Semaphore::new(16));
    let limit = ConcurrencyLimit::new(service_fn(plain), 16);

    let mut group = c.benchmark_group(group("contended"));
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
                async move { calls!(|i| via_failsafe(&breaker, i).await) }
            })
        });
    });
    group.bench_function(BenchmarkId::new("recloser", "breaker"), |b| {
        b.iter_custom(|iters| {
            rounds(&rt, iters, || {
                let breaker = recloser.clone();
                async move { calls!(|i| via_recloser(&breaker, i).await) }
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
                        calls!(|i| via_tower(&mut limit, i).await);
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
                    calls!(|i| via_governor_check(&governor, i).await);
                }
            })
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = crate::settings::criterion();
    targets = contended
}

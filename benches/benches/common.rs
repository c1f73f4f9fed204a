//! Shared by every bench binary: the error type, the plain call every entry wraps, the tokio
//! semaphore peer, the check that keeps a rejection from being measured as a success, and the
//! `per_call!` timing loop.

use std::fmt;
use std::hint::black_box;

use resilience::Rejected;

/// The error type of every benchmarked function: what a user writes (`From<Rejected>`).
#[derive(Debug)]
pub(crate) struct BenchError(Rejected);

impl From<Rejected> for BenchError {
    fn from(rejected: Rejected) -> Self {
        BenchError(rejected)
    }
}

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rejected: {}", self.0)
    }
}

impl std::error::Error for BenchError {}

out_of_line! {
    /// Every benchmarked body's work: the value a real body's I/O would produce. Out of line
    /// in the `noinline` variant, as a call into I/O is.
    pub(crate) fn work(x: u64) -> u64 {
        black_box(x)
    }

    /// The baseline: an `async fn` that succeeds at once. Every peer wraps exactly this.
    pub(crate) async fn plain(x: u64) -> Result<u64, BenchError> {
        Ok(work(x))
    }

    /// The plain call holding a tokio semaphore permit: acquire, call, release.
    pub(crate) async fn with_permit(
        semaphore: &tokio::sync::Semaphore,
        x: u64,
    ) -> Result<u64, BenchError> {
        let _permit = semaphore
            .acquire()
            .await
            .expect("the semaphore is never closed");
        plain(x).await
    }
}

/// Consumes one call's outcome. A failed call is a broken benchmark (a rejection would be
/// measured as if it were the happy path), so it panics; the branch is the same, and always
/// predicted, for every entry.
#[inline]
pub(crate) fn check<T, E: fmt::Debug>(outcome: Result<T, E>) {
    match outcome {
        Ok(value) => {
            black_box(value);
        }
        Err(error) => panic!("a benchmarked call failed: {error:?}"),
    }
}

/// governor's direct limiter, configured as our bench function: a permit every nanosecond,
/// a burst of a second's worth, so it never runs out at the rate a bench calls it.
pub(crate) fn governor_limiter() -> governor::DefaultDirectRateLimiter {
    let rate = std::num::NonZeroU32::new(1_000_000_000).expect("non-zero");
    governor::RateLimiter::direct(governor::Quota::per_second(rate))
}

/// A runtime from `builder`, with tokio's timer on (the attributes read tokio's clock).
pub(crate) fn runtime(mut builder: tokio::runtime::Builder) -> tokio::runtime::Runtime {
    builder.enable_time().build().expect("a tokio runtime")
}

/// tower's `Hedge` asks its policy whether a request may be hedged and cloned; this one
/// always says yes, as `#[hedge]` with an unspent budget would.
#[allow(dead_code)] // the overhead and instructions benches use it
#[derive(Clone)]
pub(crate) struct AlwaysHedge;

impl tower::hedge::Policy<u64> for AlwaysHedge {
    fn clone_request(&self, request: &u64) -> Option<u64> {
        Some(*request)
    }

    fn can_retry(&self, _: &u64) -> bool {
        true
    }
}

/// The plain call under tower's `Hedge` at p95 of a 10 s rotating histogram after 100 data
/// points, like `#[hedge(delay = "p95")]`. Built inside a runtime (it reads tokio's clock).
#[allow(dead_code)] // the overhead and instructions benches use it
pub(crate) fn tower_hedge() -> impl tower::Service<u64, Response = u64, Error = tower::BoxError> {
    tower::hedge::Hedge::new::<u64>(
        tower::service_fn(plain),
        AlwaysHedge,
        100,
        0.95,
        std::time::Duration::from_secs(10),
    )
}

/// Times `iters` sequential calls inside one `block_on` on `$runtime`. `$call` is an
/// expression that makes and awaits one call, with `$i` (the loop index, through
/// `black_box`) as its argument; its `Result` goes through [`check`].
#[allow(unused_macros)] // not every bench binary times calls
macro_rules! per_call {
    ($bencher:expr, $runtime:expr, |$i:ident| $call:expr) => {
        $bencher.iter_custom(|iters| {
            $runtime.block_on(async {
                let start = ::std::time::Instant::now();
                for $i in 0..iters {
                    let $i = ::std::hint::black_box($i);
                    $crate::common::check($call);
                }
                start.elapsed()
            })
        })
    };
}
#[allow(unused_imports)]
pub(crate) use per_call;

//! Sizes, printed as markdown tables: each state type of the runtime (one instance per
//! annotated function, in a `static`), and the future of each annotated function against the
//! future of the same function without attributes.
//!
//! ```text
//! cargo bench -p resilience-benches --bench sizes
//! ```

mod common;
mod ours;

use std::future::Future;
use std::mem::{align_of, size_of, size_of_val};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use failsafe::futures::CircuitBreaker as _;
use recloser::{AsyncRecloser, Recloser};

use resilience_runtime::{
    Backoff, BreakerConfig, Bulkhead, BulkheadConfig, CircuitBreaker, RateLimitConfig, RateLimiter,
    RetryConfig, RetryPolicy, Timeout,
};
use tokio::runtime::{Builder, Runtime};
use tokio::sync::Semaphore;

use common::{check, plain, runtime, with_permit};
use ours::{
    breaker_consecutive, breaker_window, bulkheaded, rate_limited, retried, stacked, stacked_all,
    timed, with_fallback,
};

const CACHE_LINE: usize = 64;

/// One row of the state-type table; `label` is markdown.
fn state_row<T>(label: &str) {
    let size = size_of::<T>();
    println!(
        "| {label} | {size} | {} | {} |",
        align_of::<T>(),
        size.div_ceil(CACHE_LINE)
    );
}

/// One row of the future table: the size of `future` (created, not yet polled) and its excess
/// over the plain function's; then the future is run, so a broken function shows here too.
fn future_row<F, T, E>(rt: &Runtime, name: &str, plain_size: usize, future: F)
where
    F: Future<Output = Result<T, E>>,
    E: std::fmt::Debug,
{
    let size = size_of_val(&future);
    let over = i128::try_from(size).expect("small") - i128::try_from(plain_size).expect("small");
    println!("| {name} | {size} | {over:+} |");
    check(rt.block_on(future));
}

fn main() {
    println!("State per instance (64-bit target; one instance per annotated function):\n");
    println!("| type | bytes | align | cache lines (64 B), at least |");
    println!("|---|---:|---:|---:|");
    state_row::<CircuitBreaker>("`CircuitBreaker`");
    state_row::<BreakerConfig>("&nbsp;&nbsp;of which `BreakerConfig`");
    state_row::<Bulkhead>("`Bulkhead`");
    state_row::<BulkheadConfig>("&nbsp;&nbsp;of which `BulkheadConfig`");
    state_row::<RetryPolicy>("`RetryPolicy`");
    state_row::<RetryConfig>("&nbsp;&nbsp;of which `RetryConfig`");
    state_row::<Backoff<'static>>("`Backoff` (per call, inside the future)");
    state_row::<Timeout>("`Timeout`");
    state_row::<RateLimiter>("`RateLimiter`");
    state_row::<RateLimitConfig>("&nbsp;&nbsp;of which `RateLimitConfig`");

    let rt = runtime(Builder::new_current_thread());
    let plain_size = size_of_val(&plain(1));
    println!("\nFuture of one call, created and not yet polled:\n");
    println!("| function | bytes | over plain |");
    println!("|---|---:|---:|");
    future_row(&rt, "plain `async fn`", plain_size, plain(1));
    future_row(
        &rt,
        "`#[circuit_breaker]`",
        plain_size,
        breaker_consecutive(1),
    );
    future_row(
        &rt,
        "`#[circuit_breaker(failure_rate = 0.5, window = 100)]`",
        plain_size,
        breaker_window(1),
    );
    future_row(&rt, "`#[retry]`", plain_size, retried(1));
    future_row(&rt, "`#[bulkhead(max = 16)]`", plain_size, bulkheaded(1));
    future_row(&rt, "`#[timeout(\"1s\")]`", plain_size, timed(1));
    future_row(
        &rt,
        "`#[rate_limit(rate = 1_000_000_000)]`",
        plain_size,
        rate_limited(1),
    );
    future_row(&rt, "`#[fallback(recover)]`", plain_size, with_fallback(1));
    future_row(
        &rt,
        "`#[retry] #[circuit_breaker] #[bulkhead(max = 16)]`",
        plain_size,
        stacked(1),
    );
    future_row(
        &rt,
        "`#[fallback] #[retry] #[circuit_breaker] #[bulkhead] #[timeout]`",
        plain_size,
        stacked_all(1),
    );

    // The same for the peers, configured as in the `overhead` bench.
    let failsafe = failsafe::Config::new()
        .failure_policy(failsafe::failure_policy::consecutive_failures(
            3,
            failsafe::backoff::constant(Duration::from_secs(10)),
        ))
        .build();
    let recloser = AsyncRecloser::from(Recloser::custom().error_rate(0.5).closed_len(100).build());
    let semaphore = Semaphore::new(16);
    println!("\nThe same for the peers' wrappers of the plain call:\n");
    println!("| wrapper | bytes | over plain |");
    println!("|---|---:|---:|");
    future_row(&rt, "failsafe `call`", plain_size, failsafe.call(plain(1)));
    future_row(&rt, "recloser `call`", plain_size, recloser.call(plain(1)));
    future_row(
        &rt,
        "backon `retry`",
        plain_size,
        (|| plain(1)).retry(ExponentialBuilder::default()),
    );
    future_row(
        &rt,
        "tokio `Semaphore::acquire` + call",
        plain_size,
        with_permit(&semaphore, 1),
    );
    let governor = common::governor_limiter();
    future_row(&rt, "governor `until_ready` + call", plain_size, async {
        governor.until_ready().await;
        plain(1).await
    });
    // `tokio::time::timeout` reads the clock when called: it needs the runtime's context.
    let _context = rt.enter();
    future_row(
        &rt,
        "`tokio::time::timeout`",
        plain_size,
        tokio::time::timeout(Duration::from_secs(1), plain(1)),
    );
}

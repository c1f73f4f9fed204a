//! Sizes, printed as markdown tables: each state type of the runtime (one instance per
//! annotated function, in a `static`), the memory a keyed instance takes per resident key
//! (heap bytes live after 10 000 distinct keys, map included, counted by this binary's
//! allocator), and the future of each annotated function against the future of the same
//! function without attributes.
//!
//! ```text
//! cargo bench -p resilience-benches --bench sizes
//! ```

#[macro_use]
#[path = "variant/inline.rs"]
mod variant;

mod common;
mod ours;

use std::alloc::{GlobalAlloc, Layout, System};
use std::future::Future;
use std::mem::{align_of, size_of, size_of_val};
use std::sync::atomic::{AtomicIsize, Ordering};
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
    breaker_consecutive, breaker_keyed, breaker_window, bulkhead_keyed, bulkheaded, host,
    rate_limit_keyed, rate_limited, retried, stacked, stacked_all, timed, with_fallback,
};

/// Heap bytes live: allocated minus freed, by every thread.
static LIVE: AtomicIsize = AtomicIsize::new(0);

/// The system allocator, counting live bytes for the keyed rows.
struct Counting;

fn signed(bytes: usize) -> isize {
    isize::try_from(bytes).expect("an allocation fits in isize")
}

// SAFETY: every call is forwarded to `System` unchanged; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(signed(layout.size()), Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(signed(layout.size()), Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(signed(new_size) - signed(layout.size()), Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Distinct keys for the keyed rows: host names like the benches', 17 to 18 bytes.
const KEYS: usize = 10_000;

/// One row of the keyed table: heap bytes per key after `call` saw `KEYS` distinct keys.
fn keyed_row<F: std::future::Future>(
    rt: &Runtime,
    label: &str,
    call: impl Fn(u64, &'static str) -> F,
) {
    let keys: Vec<&'static str> = (0..KEYS)
        .map(|i| &*Box::leak(format!("host-{i}.example").into_boxed_str()))
        .collect();
    // The first call allocates the site; the key's own bytes are not the instance's.
    rt.block_on(call(0, "warm-up"));
    let before = LIVE.load(Ordering::Relaxed);
    rt.block_on(async {
        for (i, key) in (0..).zip(&keys) {
            call(i, key).await;
        }
    });
    let per_key = (LIVE.load(Ordering::Relaxed) - before) / signed(KEYS);
    println!("| {label} | {per_key} |");
}

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
    states();
    let rt = runtime(Builder::new_current_thread());
    keyed(&rt);
    futures(&rt);
}

/// The state of each instance, per type.
fn states() {
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
}

/// Heap bytes per key of each keyed attribute.
fn keyed(rt: &Runtime) {
    println!("\nKeyed instances (`key = host`, 10 000 distinct 17-byte host names resident): heap bytes per key, the map's share included:\n");
    println!("| attribute | bytes per key |");
    println!("|---|---:|");
    keyed_row(rt, "`#[circuit_breaker(key = host)]`", breaker_keyed);
    keyed_row(rt, "`#[bulkhead(max = 16, key = host)]`", bulkhead_keyed);
    keyed_row(
        rt,
        "`#[rate_limit(rate = 1_000_000_000, key = host)]`",
        rate_limit_keyed,
    );
}

/// The future of one call of each annotated function, then of each peer's wrapper.
fn futures(rt: &Runtime) {
    let plain_size = size_of_val(&plain(1));
    println!("\nFuture of one call, created and not yet polled:\n");
    println!("| function | bytes | over plain |");
    println!("|---|---:|---:|");
    future_row(rt, "plain `async fn`", plain_size, plain(1));
    future_row(
        rt,
        "`#[circuit_breaker]`",
        plain_size,
        breaker_consecutive(1),
    );
    future_row(
        rt,
        "`#[circuit_breaker(failure_rate = 0.5, window = 100)]`",
        plain_size,
        breaker_window(1),
    );
    future_row(rt, "`#[retry]`", plain_size, retried(1));
    future_row(rt, "`#[bulkhead(max = 16)]`", plain_size, bulkheaded(1));
    future_row(rt, "`#[timeout(\"1s\")]`", plain_size, timed(1));
    future_row(
        rt,
        "`#[rate_limit(rate = 1_000_000_000)]`",
        plain_size,
        rate_limited(1),
    );
    future_row(rt, "`#[fallback(recover)]`", plain_size, with_fallback(1));
    future_row(
        rt,
        "`#[circuit_breaker(key = host)]`",
        plain_size,
        breaker_keyed(1, host(1)),
    );
    future_row(
        rt,
        "`#[bulkhead(max = 16, key = host)]`",
        plain_size,
        bulkhead_keyed(1, host(1)),
    );
    future_row(
        rt,
        "`#[retry] #[circuit_breaker] #[bulkhead(max = 16)]`",
        plain_size,
        stacked(1),
    );
    future_row(
        rt,
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
    future_row(rt, "failsafe `call`", plain_size, failsafe.call(plain(1)));
    future_row(rt, "recloser `call`", plain_size, recloser.call(plain(1)));
    future_row(
        rt,
        "backon `retry`",
        plain_size,
        (|| plain(1)).retry(ExponentialBuilder::default()),
    );
    future_row(
        rt,
        "tokio `Semaphore::acquire` + call",
        plain_size,
        with_permit(&semaphore, 1),
    );
    let governor = common::governor_limiter();
    future_row(rt, "governor `until_ready` + call", plain_size, async {
        governor.until_ready().await;
        plain(1).await
    });
    // `tokio::time::timeout` reads the clock when called: it needs the runtime's context.
    let _context = rt.enter();
    future_row(
        rt,
        "`tokio::time::timeout`",
        plain_size,
        tokio::time::timeout(Duration::from_secs(1), plain(1)),
    );
}

//! Our annotated functions, shared by the bench binaries (each uses some of them), and the
//! `floor` functions that stand for the least a happy path can cost. Each annotated function
//! has its own `static` state, as in a user's crate. Each body returns
//! `Ok(work(x))`, as [`plain`] does; in the `noinline` variant (`variant/noinline.rs`) `work`
//! and every function here are out of line.

#![allow(dead_code)]

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;

use resilience::{
    bulkhead, circuit_breaker, fallback, hedge, rate_limit, retry, timeout, Rejected,
};

use crate::common::{plain, work, BenchError};

// Floors: the plain body after the least each attribute's happy path must do.

/// Never set: a closed breaker's state word, read by [`floor_breaker`].
static OPEN: AtomicBool = AtomicBool::new(false);
/// Never set: the count of consecutive failures a success would reset, read by
/// [`floor_breaker_outcome`].
static FAILURES: AtomicU64 = AtomicU64::new(0);
/// Calls in flight, counted by [`floor_bulkhead`].
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
/// Calls started, counted by [`floor_retry`].
static DEPOSITS: AtomicU64 = AtomicU64::new(0);

out_of_line! {
    #[circuit_breaker]
    pub(crate) async fn breaker_consecutive(x: u64) -> Result<u64, BenchError> {
        Ok(work(x))
    }

    #[circuit_breaker(failure_rate = 0.5, window = 100)]
    pub(crate) async fn breaker_window(x: u64) -> Result<u64, BenchError> {
        Ok(work(x))
    }

    #[circuit_breaker(failure_rate = 0.5, window = "10s")]
    pub(crate) async fn breaker_time_window(x: u64) -> Result<u64, BenchError> {
        Ok(work(x))
    }

    #[retry]
    pub(crate) async fn retried(x: u64) -> Result<u64, BenchError> {
        Ok(work(x))
    }

    #[bulkhead(max = 16)]
    pub(crate) async fn bulkheaded(x: u64) -> Result<u64, BenchError> {
        Ok(work(x))
    }

    /// A permit every nanosecond: never runs out at the rate a bench calls it.
    #[rate_limit(rate = 1_000_000_000)]
    pub(crate) async fn rate_limited(x: u64) -> Result<u64, BenchError> {
        Ok(work(x))
    }

    #[hedge(delay = "50ms")]
    pub(crate) async fn hedged(x: u64) -> Result<u64, BenchError> {
        Ok(work(x))
    }

    /// A percentile delay: every call records its latency (a clock read at its start and end).
    #[hedge(delay = "p95")]
    pub(crate) async fn hedged_p95(x: u64) -> Result<u64, BenchError> {
        Ok(work(x))
    }

    #[timeout("1s")]
    pub(crate) async fn timed(x: u64) -> Result<u64, BenchError> {
        Ok(work(x))
    }

    /// The fallback: answers with the plain call.
    pub(crate) async fn recover(x: u64, _error: BenchError) -> Result<u64, BenchError> {
        plain(x).await
    }

    #[fallback(recover)]
    pub(crate) async fn with_fallback(x: u64) -> Result<u64, BenchError> {
        Ok(work(x))
    }

    #[retry]
    #[circuit_breaker]
    #[bulkhead(max = 16)]
    pub(crate) async fn stacked(x: u64) -> Result<u64, BenchError> {
        Ok(work(x))
    }

    #[fallback(recover)]
    #[retry]
    #[circuit_breaker]
    #[bulkhead(max = 16)]
    #[timeout("1s")]
    pub(crate) async fn stacked_all(x: u64) -> Result<u64, BenchError> {
        Ok(work(x))
    }

    /// A closed breaker's floor: one relaxed load of a state word and a branch, then the body.
    /// (`black_box` on the address keeps the never-written static from being folded.)
    #[allow(clippy::unused_async)] // an `async fn` as the annotated ones are
    pub(crate) async fn floor_breaker(x: u64) -> Result<u64, BenchError> {
        if black_box(&OPEN).load(Ordering::Relaxed) {
            return Err(Rejected::circuit_open("floor", None).into());
        }
        Ok(work(x))
    }

    /// A consecutive breaker's least with its completion: [`floor_breaker`]'s load and branch,
    /// then, after a success, one more relaxed load of the failures a success would reset (a
    /// breaker that skipped it would let a success leave earlier failures counted).
    #[allow(clippy::unused_async)] // an `async fn` as the annotated ones are
    pub(crate) async fn floor_breaker_outcome(x: u64) -> Result<u64, BenchError> {
        if black_box(&OPEN).load(Ordering::Relaxed) {
            return Err(Rejected::circuit_open("floor", None).into());
        }
        let outcome: Result<u64, BenchError> = Ok(work(x));
        if outcome.is_ok() && black_box(&FAILURES).load(Ordering::Relaxed) != 0 {
            FAILURES.store(0, Ordering::Relaxed);
        }
        outcome
    }

    /// [`floor_breaker_outcome`] with the body run as a future of its own, as an attribute
    /// that sees the body's outcome must run it: an `async` block is what keeps a `return` or
    /// `?` in the body from leaving the function past the breaker. A body that never awaits
    /// costs nothing as part of the function's own future, but something nested, which the
    /// other floors leave out: the least a consecutive breaker written as an attribute does.
    #[allow(clippy::unused_async)] // an `async fn` as the annotated ones are
    pub(crate) async fn floor_breaker_nested(x: u64) -> Result<u64, BenchError> {
        if black_box(&OPEN).load(Ordering::Relaxed) {
            return Err(Rejected::circuit_open("floor", None).into());
        }
        let outcome: Result<u64, BenchError> = async move { Ok(work(x)) }.await;
        if outcome.is_ok() && black_box(&FAILURES).load(Ordering::Relaxed) != 0 {
            FAILURES.store(0, Ordering::Relaxed);
        }
        outcome
    }

    /// A retry's floor under a retry budget (`budget`, on by default): one relaxed
    /// `fetch_add`, the call's deposit (Finagle's `RetryBudget` deposits per request too),
    /// then the body.
    #[allow(clippy::unused_async)] // an `async fn` as the annotated ones are
    pub(crate) async fn floor_retry(x: u64) -> Result<u64, BenchError> {
        black_box(&DEPOSITS).fetch_add(1, Ordering::Relaxed);
        Ok(work(x))
    }

    /// [`floor_retry`] with the body run as a future of its own, as a retry must run it: a
    /// new future per attempt, whose `return` or `?` ends the attempt, not the function.
    #[allow(clippy::unused_async)] // an `async fn` as the annotated ones are
    pub(crate) async fn floor_retry_nested(x: u64) -> Result<u64, BenchError> {
        black_box(&DEPOSITS).fetch_add(1, Ordering::Relaxed);
        async move { Ok(work(x)) }.await
    }

    /// A bulkhead's floor: two uncontended read-modify-writes, a slot taken and given back
    /// around the body.
    #[allow(clippy::unused_async)] // an `async fn` as the annotated ones are
    pub(crate) async fn floor_bulkhead(x: u64) -> Result<u64, BenchError> {
        let in_flight = black_box(&IN_FLIGHT);
        in_flight.fetch_add(1, Ordering::Acquire);
        let value = work(x);
        in_flight.fetch_sub(1, Ordering::Release);
        Ok(value)
    }

    /// The timeout's and the rate limit's floor: one read of tokio's clock, then the body.
    #[allow(clippy::unused_async)] // an `async fn` as the annotated ones are
    pub(crate) async fn floor_clock(x: u64) -> Result<u64, BenchError> {
        black_box(tokio::time::Instant::now());
        Ok(work(x))
    }
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

out_of_line! {
    #[circuit_breaker(key = host)]
    pub(crate) async fn breaker_keyed(x: u64, host: &str) -> Result<u64, BenchError> {
        Ok(work(x))
    }

    #[bulkhead(max = 16, key = host)]
    pub(crate) async fn bulkhead_keyed(x: u64, host: &str) -> Result<u64, BenchError> {
        Ok(work(x))
    }

    /// A permit every nanosecond per key: never runs out at the rate a bench calls it.
    #[rate_limit(rate = 1_000_000_000, key = host)]
    pub(crate) async fn rate_limit_keyed(x: u64, host: &str) -> Result<u64, BenchError> {
        Ok(work(x))
    }

    #[circuit_breaker]
    pub(crate) async fn breaker_unkeyed(x: u64) -> Result<u64, BenchError> {
        Ok(work(x))
    }
}

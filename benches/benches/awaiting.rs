//! The `awaiting` group's functions: bodies that await an out-of-line future, as a body doing
//! I/O does, where every other group's body returns `Ok(work(x))` without awaiting.
//!
//! The difference matters to the floors. A floor whose body never awaits keeps nothing in its
//! future: its `fetch_add` and `fetch_sub` run back to back. A bulkhead's slot, a breaker's permit
//! and a retry's state must live across the body's awaits, so our futures keep them, and
//! `floor: fetch_add + fetch_sub` in the `bulkhead` group does not measure that. Here the
//! plain call, each floor and each annotated function await the same [`io`], so the floors
//! too keep what they must across the await, and every entry pays the same future for the
//! body.
//!
//! [`io`] is `#[inline(never)]` in both variants: it stands for the call into I/O, which is
//! never inlined. In the `noinline` variant the functions here are out of line too.

#![allow(dead_code)]

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use resilience::{bulkhead, circuit_breaker, retry, Rejected};

use crate::common::{work, BenchError};

/// Never set: a closed breaker's state word.
static OPEN: AtomicBool = AtomicBool::new(false);
/// Calls in flight, counted by the bulkhead's floor.
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
/// Calls started, counted by the retry's floor.
static DEPOSITS: AtomicU64 = AtomicU64::new(0);

/// The I/O every body here awaits: an `async fn` that answers at once, never inlined.
#[inline(never)]
#[allow(clippy::unused_async)] // an `async fn`, as a call into I/O is
pub(crate) async fn io(x: u64) -> Result<u64, BenchError> {
    Ok(work(x))
}

/// The relaxed load and branch of a closed breaker.
#[inline]
fn admitted() -> Result<(), BenchError> {
    if black_box(&OPEN).load(Ordering::Relaxed) {
        return Err(Rejected::circuit_open("floor", None).into());
    }
    Ok(())
}

out_of_line! {
    /// The baseline of the group: the plain call, awaiting its I/O.
    pub(crate) async fn plain(x: u64) -> Result<u64, BenchError> {
        io(x).await
    }

    #[circuit_breaker]
    pub(crate) async fn breaker(x: u64) -> Result<u64, BenchError> {
        io(x).await
    }

    #[retry]
    pub(crate) async fn retried(x: u64) -> Result<u64, BenchError> {
        io(x).await
    }

    #[bulkhead(max = 16)]
    pub(crate) async fn bulkheaded(x: u64) -> Result<u64, BenchError> {
        io(x).await
    }

    #[retry]
    #[circuit_breaker]
    #[bulkhead(max = 16)]
    pub(crate) async fn stacked(x: u64) -> Result<u64, BenchError> {
        io(x).await
    }

    /// A closed breaker's floor: one relaxed load and a branch, then the I/O.
    pub(crate) async fn floor_breaker(x: u64) -> Result<u64, BenchError> {
        admitted()?;
        io(x).await
    }

    /// A retry's floor: the budget's deposit, then the I/O.
    pub(crate) async fn floor_retry(x: u64) -> Result<u64, BenchError> {
        black_box(&DEPOSITS).fetch_add(1, Ordering::Relaxed);
        io(x).await
    }

    /// A bulkhead's floor: a slot taken before the I/O and given back after it, so the
    /// counter's address lives across the await.
    pub(crate) async fn floor_bulkhead(x: u64) -> Result<u64, BenchError> {
        let in_flight = black_box(&IN_FLIGHT);
        in_flight.fetch_add(1, Ordering::Acquire);
        let outcome = io(x).await;
        in_flight.fetch_sub(1, Ordering::Release);
        outcome
    }

    /// The three floors of `stacked` in one function: the deposit, the load and branch, and
    /// the slot around the I/O.
    pub(crate) async fn floor_stacked(x: u64) -> Result<u64, BenchError> {
        black_box(&DEPOSITS).fetch_add(1, Ordering::Relaxed);
        admitted()?;
        let in_flight = black_box(&IN_FLIGHT);
        in_flight.fetch_add(1, Ordering::Acquire);
        let outcome = io(x).await;
        in_flight.fetch_sub(1, Ordering::Release);
        outcome
    }
}

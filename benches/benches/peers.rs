//! The peers, each built once and reused by every call, as their users do, and called through
//! a function of ours that wraps the plain call as a user's function would: `out_of_line!`
//! like our annotated functions, so that in the `noinline` variant both sides pay the same
//! calls. Used by the timed groups (`groups.rs`) and by `instructions`.

#![allow(dead_code)] // each binary uses some of them

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use failsafe::futures::CircuitBreaker;
use recloser::{AsyncRecloser, Recloser};
use resilience::Rejected;
use tokio::sync::Semaphore;
use tower::{Service, ServiceExt as _};

use crate::common::{plain, with_permit, BenchError};

/// How long a peer's breaker stays open; never reached here, only configured alike.
pub(crate) const OPEN_FOR: Duration = Duration::from_secs(10);
/// The time limit of every timeout here, ours and tokio's: never reached.
pub(crate) const LIMIT: Duration = Duration::from_secs(1);

/// governor's keyed limiter over host names, at the same rate: a permit every nanosecond.
pub(crate) fn governor_keyed() -> governor::DefaultKeyedRateLimiter<&'static str> {
    let rate = std::num::NonZeroU32::new(1_000_000_000).expect("non-zero");
    governor::RateLimiter::keyed(governor::Quota::per_second(rate))
}

/// failsafe with its consecutive-failures policy: 3 failures in a row open it.
pub(crate) fn failsafe_consecutive() -> impl CircuitBreaker + Clone {
    let backoff = failsafe::backoff::constant(OPEN_FOR);
    failsafe::Config::new()
        .failure_policy(failsafe::failure_policy::consecutive_failures(3, backoff))
        .build()
}

/// recloser: a failure rate of 0.5 over the last 100 calls, as our window mode.
pub(crate) fn recloser_window() -> AsyncRecloser {
    AsyncRecloser::from(
        Recloser::custom()
            .error_rate(0.5)
            .closed_len(100)
            .open_wait(OPEN_FOR)
            .build(),
    )
}

// The peers' calls, each wrapping the plain call as its users write it.
out_of_line! {
    pub(crate) async fn via_failsafe(
        breaker: &impl CircuitBreaker,
        x: u64,
    ) -> Result<u64, failsafe::Error<BenchError>> {
        breaker.call(plain(x)).await
    }

    pub(crate) async fn via_recloser(
        breaker: &AsyncRecloser,
        x: u64,
    ) -> Result<u64, recloser::Error<BenchError>> {
        breaker.call(plain(x)).await
    }

    /// A tower service: `ready()`, then `call`.
    pub(crate) async fn via_tower<S: Service<u64>>(service: &mut S, x: u64) -> Result<S::Response, S::Error> {
        service.ready().await?.call(x).await
    }

    /// backon with a builder made once (it is `Copy`).
    pub(crate) async fn via_backon(backoff: ExponentialBuilder, x: u64) -> Result<u64, BenchError> {
        (move || plain(x)).retry(backoff).await
    }

    pub(crate) async fn via_governor_check(
        limiter: &governor::DefaultDirectRateLimiter,
        x: u64,
    ) -> Result<u64, BenchError> {
        limiter.check().expect("a permit every nanosecond");
        plain(x).await
    }

    pub(crate) async fn via_governor_check_key(
        limiter: &governor::DefaultKeyedRateLimiter<&'static str>,
        x: u64,
        key: &'static str,
    ) -> Result<u64, BenchError> {
        limiter.check_key(&key).expect("a permit every nanosecond");
        plain(x).await
    }

    pub(crate) async fn via_governor_until_ready(
        limiter: &governor::DefaultDirectRateLimiter,
        x: u64,
    ) -> Result<u64, BenchError> {
        limiter.until_ready().await;
        plain(x).await
    }

    pub(crate) async fn via_tokio_timeout(x: u64) -> Result<u64, BenchError> {
        tokio::time::timeout(LIMIT, plain(x))
            .await
            .expect("within the limit")
    }

    /// Three stacked: backon around failsafe around a semaphore permit.
    pub(crate) async fn via_three(
        backoff: ExponentialBuilder,
        breaker: &impl CircuitBreaker,
        semaphore: &Semaphore,
        x: u64,
    ) -> Result<u64, failsafe::Error<BenchError>> {
        (|| breaker.call(with_permit(semaphore, x))).retry(backoff).await
    }

    /// Five stacked, in our attributes' order: a fallback to the plain call around backon
    /// around failsafe around a semaphore permit around tokio's timeout.
    pub(crate) async fn via_five(
        backoff: ExponentialBuilder,
        breaker: &impl CircuitBreaker,
        semaphore: &Semaphore,
        x: u64,
    ) -> Result<u64, BenchError> {
        let limited = || async {
            let _permit = semaphore.acquire().await.expect("never closed");
            match tokio::time::timeout(LIMIT, plain(x)).await {
                Ok(outcome) => outcome,
                Err(_) => Err(Rejected::timed_out("peer", LIMIT).into()),
            }
        };
        match (|| breaker.call(limited())).retry(backoff).await {
            Ok(value) => Ok(value),
            Err(_) => plain(x).await,
        }
    }
}

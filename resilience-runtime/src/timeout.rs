//! `#[timeout]`: a time limit on one call.
//!
//! The limit is a [`tokio::time::timeout`] around the inner future, so a paused test clock
//! drives it and the inner future is *dropped* when the limit elapses: the body does not keep
//! running in the background, and every guard it holds (a bulkhead slot, a breaker trial) is
//! released at that moment. Stacked inside `#[retry]`, each attempt gets the full limit; inside
//! a breaker, the resulting [`Rejected::TimedOut`] counts as a failure.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;

use crate::stats::{Count, Counters, Stats};
use crate::{events, Failure, InstanceName, Rejected};

/// A time limit for calls of one function.
///
/// ```
/// use resilience_runtime::{Failure, InstanceName, Rejected, Timeout};
/// use std::time::Duration;
///
/// static LIMIT: Timeout = Timeout::new(InstanceName::given("slow"), Duration::from_millis(50));
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let slow = async {
///     tokio::time::sleep(Duration::from_secs(1)).await;
///     Ok::<_, Failure<std::io::Error>>(())
/// };
/// match LIMIT.run(slow).await {
///     Err(Failure::Rejected(Rejected::TimedOut { after, .. })) => {
///         assert_eq!(after, Duration::from_millis(50));
///     }
///     other => panic!("expected a timeout, got {other:?}"),
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct Timeout {
    name: InstanceName,
    limit: Duration,
    counters: Counters,
}

impl Timeout {
    /// A time limit of `limit` per call.
    pub const fn new(name: InstanceName, limit: Duration) -> Self {
        Self {
            name,
            limit,
            counters: Counters::new(),
        }
    }

    /// The limit.
    pub fn limit(&self) -> Duration {
        self.limit
    }

    /// The instance name.
    pub fn name(&self) -> &'static str {
        self.name.get()
    }

    /// What this time limit counted (all zeros without the `stats` feature): `calls` that
    /// finished or timed out, and `rejections` (timeouts).
    pub fn stats(&self) -> Stats {
        self.counters.read()
    }

    /// The instance name, as configured.
    pub fn instance_name(&self) -> InstanceName {
        self.name
    }

    /// Runs `fut`, dropping it and returning [`Rejected::TimedOut`] if it has not finished
    /// within the limit.
    ///
    /// # Errors
    ///
    /// The inner future's error, or [`Rejected::TimedOut`].
    pub fn run<T, E, F>(&self, fut: F) -> TimeoutRun<'_, F>
    where
        F: Future<Output = Result<T, Failure<E>>>,
    {
        TimeoutRun {
            timeout: self,
            inner: tokio::time::timeout(self.limit, fut),
        }
    }
}

pin_project! {
    /// The future of [`Timeout::run`]: tokio's timeout, with the elapsed case turned into
    /// [`Rejected::TimedOut`].
    #[must_use = "futures do nothing unless polled"]
    pub struct TimeoutRun<'a, F> {
        timeout: &'a Timeout,
        #[pin]
        inner: tokio::time::Timeout<F>,
    }
}

impl<T, E, F> Future for TimeoutRun<'_, F>
where
    F: Future<Output = Result<T, Failure<E>>>,
{
    type Output = Result<T, Failure<E>>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        Poll::Ready(match std::task::ready!(this.inner.poll(cx)) {
            Ok(outcome) => {
                this.timeout.counters.add(&[Count::Call]);
                outcome
            }
            Err(_elapsed) => {
                let rejected = Rejected::timed_out(this.timeout.name.get(), this.timeout.limit);
                events::rejected(&rejected);
                this.timeout.counters.add(&[Count::Call, Count::Rejection]);
                Err(Failure::Rejected(rejected))
            }
        })
    }
}

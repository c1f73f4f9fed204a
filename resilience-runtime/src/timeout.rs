//! `#[timeout]`: a time limit on one call.
//!
//! The limit is a [`tokio::time::Sleep`] raced against the inner future, so a paused test
//! clock drives it and the inner future is *dropped* when the limit elapses: the body does not
//! keep running in the background, and every guard it holds (a bulkhead slot, a breaker trial)
//! is released at that moment. Stacked inside `#[retry]`, each attempt gets the full limit;
//! inside a breaker, the resulting [`Rejected::TimedOut`] counts as a failure.
//!
//! # The timer starts when the body first waits
//!
//! Most calls that a time limit guards finish quickly, many without ever waiting (a cache
//! hit, a pooled answer). [`tokio::time::timeout`] reads the clock and creates its timer
//! (which clones the runtime's handle) before it polls the body; here the body is polled
//! first, and only a body that returns `Pending` gets a timer, due `limit` after that moment.
//! A body that finishes in its first poll reads no clock and creates no timer. The price is
//! that the limit counts from the body's first wait rather than from its first poll: the
//! synchronous work before that wait, which no timer could interrupt anyway, is not counted.
//!
//! The timer is polled outside tokio's cooperative budget (`task::coop::unconstrained`), as
//! `tokio::time::timeout` does when the body spent it: a body that always has work (and
//! spends the task's budget on every poll) still times out.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::task::coop::{unconstrained, Unconstrained};
use tokio::time::Sleep;

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
            inner: fut,
            timer: None,
        }
    }
}

pin_project! {
    /// The future of [`Timeout::run`]: the inner future, and a timer created the first time
    /// it is pending (module docs).
    #[must_use = "futures do nothing unless polled"]
    pub struct TimeoutRun<'a, F> {
        timeout: &'a Timeout,
        #[pin]
        inner: F,
        #[pin]
        timer: Option<Unconstrained<Sleep>>,
    }
}

impl<T, E, F> Future for TimeoutRun<'_, F>
where
    F: Future<Output = Result<T, Failure<E>>>,
{
    type Output = Result<T, Failure<E>>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Poll::Ready(outcome) = this.inner.poll(cx) {
            this.timeout.counters.add(&[Count::Call]);
            return Poll::Ready(outcome);
        }
        if this.timer.is_none() {
            this.timer
                .set(Some(unconstrained(tokio::time::sleep(this.timeout.limit))));
        }
        let Some(timer) = this.timer.as_pin_mut() else {
            unreachable!("the timer was set above");
        };
        std::task::ready!(timer.poll(cx));
        let rejected = Rejected::timed_out(this.timeout.name.get(), this.timeout.limit);
        events::rejected(&rejected);
        this.timeout.counters.add(&[Count::Call, Count::Rejection]);
        Poll::Ready(Err(Failure::Rejected(rejected)))
    }
}

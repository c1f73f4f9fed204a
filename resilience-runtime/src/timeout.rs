//! `#[timeout]`: a time limit on one call.
//!
//! The limit is a [`tokio::time::timeout`] around the inner future, so a paused test clock
//! drives it and the inner future is *dropped* when the limit elapses: the body does not keep
//! running in the background, and every guard it holds (a bulkhead slot, a breaker trial) is
//! released at that moment. Stacked inside `#[retry]`, each attempt gets the full limit; inside
//! a breaker, the resulting [`Rejected::TimedOut`] counts as a failure.

use std::future::Future;
use std::time::Duration;

use crate::{Failure, InstanceName, Rejected};

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
}

impl Timeout {
    /// A time limit of `limit` per call.
    pub const fn new(name: InstanceName, limit: Duration) -> Self {
        Self { name, limit }
    }

    /// The limit.
    pub fn limit(&self) -> Duration {
        self.limit
    }

    /// The instance name.
    pub fn name(&self) -> &'static str {
        self.name.get()
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
    pub async fn run<T, E, F>(&self, fut: F) -> Result<T, Failure<E>>
    where
        F: Future<Output = Result<T, Failure<E>>>,
    {
        match tokio::time::timeout(self.limit, fut).await {
            Ok(outcome) => outcome,
            Err(_elapsed) => Err(Failure::Rejected(Rejected::timed_out(
                self.name.get(),
                self.limit,
            ))),
        }
    }
}

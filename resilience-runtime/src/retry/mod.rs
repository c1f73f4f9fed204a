//! `#[retry]`: exponential backoff with jitter between attempts.
//!
//! A [`RetryPolicy`] is the immutable configuration of one annotated function, kept in a
//! `static`. Each call asks it for a fresh [`Backoff`], a few words on the caller's stack that
//! hand out the delay before each retry until `max` retries were handed out. The attempt loop
//! itself (re-cloning arguments, deciding which errors to retry, sleeping) is generated inline by
//! the macro; this module only computes delays.
//!
mod backoff;
mod budget;
#[cfg(all(test, not(loom)))]
mod budget_tests;
mod call;
mod config;
#[cfg(all(test, loom))]
mod loom;
#[cfg(all(test, not(loom)))]
mod tests;

use std::time::Duration;

use crate::stats::{Count, Counters, Stats};
use crate::sync::const_fn;
use crate::{events, Failure, Rejected};

pub(crate) use self::backoff::random_u128;
use self::backoff::Deadline;
pub use self::backoff::{Backoff, Jitter};
pub(crate) use self::budget::Budget;
pub use self::call::{Pause, PolicySource, RetryCall};
pub use self::config::RetryConfig;

/// Why retrying stopped early, as reported: the budget was spent.
pub(crate) const BUDGET: &str = "budget";
/// Why retrying stopped early, as reported: the next delay would end past `max_elapsed`.
pub(crate) const MAX_ELAPSED: &str = "max_elapsed";

/// The retry policy of one annotated function: its configuration, from which each call takes a
/// fresh [`Backoff`].
///
/// The attempt loop below is what `#[retry]` generates, written out by hand:
///
/// ```
/// use resilience_runtime::{InstanceName, Jitter, RetryConfig, RetryPolicy};
/// use std::time::Duration;
///
/// static POLICY: RetryPolicy =
///     RetryPolicy::new(RetryConfig::new(InstanceName::given("fetch")).with_jitter(Jitter::None));
///
/// async fn flaky(attempt: u32) -> Result<&'static str, String> {
///     if attempt < 3 { Err(format!("attempt {attempt} failed")) } else { Ok("done") }
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let start = tokio::time::Instant::now();
/// let mut backoff = POLICY.backoff();
/// let mut attempt = 1;
/// let result = loop {
///     match flaky(attempt).await {
///         Ok(value) => break Ok(value),
///         Err(err) => match backoff.next_delay() {
///             Some(delay) => tokio::time::sleep(delay).await,
///             None => break Err(err),
///         },
///     }
///     attempt += 1;
/// };
/// assert_eq!(result, Ok("done"));
/// // Two retries: 100 ms, then 200 ms.
/// assert_eq!(start.elapsed(), Duration::from_millis(300));
/// # }
/// ```
#[derive(Debug)]
pub struct RetryPolicy {
    config: RetryConfig,
    budget: Budget,
    counters: Counters,
}

/// Whether `outcome` is one to retry, with why (for events) and the server's hint.
#[inline]
fn retried<T, E: From<Rejected>>(
    outcome: &Result<T, Failure<E>>,
    retry_if: impl FnOnce(&E) -> bool,
    retry_after: impl FnOnce(&E) -> Option<Duration>,
) -> Option<(&'static str, Option<Duration>)> {
    match outcome {
        // A success is final, and an open circuit would only refuse the retry again.
        Ok(_) | Err(Failure::Rejected(Rejected::CircuitOpen { .. })) => None,
        Err(Failure::Error(error)) => retry_if(error).then(|| ("error", retry_after(error))),
        // Judged as the error the caller would get, so `retry_if` can refuse to retry a
        // timeout of a call that is not idempotent. Cloning a rejection is a few words, and
        // this is the failure path only.
        // A rejection that says when to come back (an inner rate limit's next permit) is its
        // own hint.
        Err(Failure::Rejected(rejected)) => retry_if(&E::from(rejected.clone()))
            .then(|| (rejected.reason(), rejected.retry_after())),
    }
}

impl RetryPolicy {
    const_fn! {
        /// A policy with this configuration.
        pub fn new(config: RetryConfig) -> RetryPolicy {
            RetryPolicy {
                config,
                budget: Budget::new(),
                counters: Counters::new(),
            }
        }
    }

    /// What this policy counted (all zeros without the `stats` feature): `calls`, final
    /// `successes` and `failures`, `retries` made, and failed calls not retried because the
    /// budget was spent (`budget_exhausted`).
    pub fn stats(&self) -> Stats {
        self.counters.read()
    }

    /// The configuration.
    pub fn config(&self) -> &RetryConfig {
        &self.config
    }

    /// The instance name.
    pub fn name(&self) -> &'static str {
        self.config.name.get()
    }

    /// The retries granted and the calls deposited over the budget's rolling window, as the
    /// next retry would count them; `None` without a budget.
    ///
    /// ```
    /// use resilience_runtime::{InstanceName, RetryConfig, RetryPolicy};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let policy = RetryPolicy::new(RetryConfig::new(InstanceName::given("fetch")));
    /// for _ in 0..5 {
    ///     let _ = policy.backoff();
    /// }
    /// assert_eq!(policy.budget_usage(), Some((0, 5)));
    /// # }
    /// ```
    pub fn budget_usage(&self) -> Option<(u64, u64)> {
        self.config.budget.map(|_| self.budget.usage())
    }

    /// Starts the budget's clock: the registry calls this at the instance's first call.
    pub(crate) fn start(&self) {
        if self.config.budget.is_some() {
            self.budget.start();
        }
    }

    /// The delay before the next attempt after `outcome`, or `None` when the outcome is final:
    /// a success, an open circuit (an inner breaker refused the call: retrying it would only
    /// be refused again), an error `retry_if` declines, no retries left, no time left before
    /// `max_elapsed`, or a spent budget. Other inner rejections — a full bulkhead, a
    /// timeout — are transient: `retry_if` judges them as the error `E::from(rejected)` the
    /// caller would get, so a call that is not idempotent can refuse to retry a timeout.
    ///
    /// `retry_after` is the server's hint: when it returns `Some(d)` for an error, the next
    /// delay is `d`, capped at `max_delay`, instead of the backoff's. An inner
    /// [`Rejected::RateLimited`] is its own hint: the next delay is its `retry_after`, capped
    /// the same way.
    ///
    /// ```
    /// use resilience_runtime::{Failure, InstanceName, Jitter, Rejected, RetryConfig, RetryPolicy};
    /// use std::time::Duration;
    ///
    /// static POLICY: RetryPolicy =
    ///     RetryPolicy::new(RetryConfig::new(InstanceName::given("lookup")).with_jitter(Jitter::None));
    /// #[derive(Debug)]
    /// enum Error { Flaky, Busy(Duration), Rejected(Rejected) }
    /// impl From<Rejected> for Error {
    ///     fn from(r: Rejected) -> Self { Error::Rejected(r) }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let no_hint = |_: &Error| None;
    /// let mut backoff = POLICY.backoff();
    /// let failed: Result<(), Failure<Error>> = Err(Failure::Error(Error::Flaky));
    /// assert_eq!(POLICY.delay_after(&mut backoff, &failed, |_| true, no_hint), Some(Duration::from_millis(100)));
    /// assert_eq!(POLICY.delay_after(&mut backoff, &failed, |e| !matches!(e, Error::Flaky), no_hint), None);
    ///
    /// // The server asked for 3 s: the hint replaces the backoff's 200 ms.
    /// let busy: Result<(), Failure<Error>> = Err(Failure::Error(Error::Busy(Duration::from_secs(3))));
    /// let hint = |e: &Error| match e { Error::Busy(wait) => Some(*wait), _ => None };
    /// assert_eq!(POLICY.delay_after(&mut backoff, &busy, |_| true, hint), Some(Duration::from_secs(3)));
    ///
    /// // An inner timeout is judged as the error the caller would get: here, not retried.
    /// let not_idempotent = |e: &Error| !matches!(e, Error::Rejected(Rejected::TimedOut { .. }));
    /// let timed_out: Result<(), Failure<Error>> =
    ///     Err(Failure::Rejected(Rejected::timed_out("lookup", Duration::from_secs(1))));
    /// assert_eq!(POLICY.delay_after(&mut backoff, &timed_out, not_idempotent, no_hint), None);
    /// # }
    /// ```
    #[inline]
    pub fn delay_after<T, E: From<Rejected>>(
        &self,
        backoff: &mut Backoff<'_>,
        outcome: &Result<T, Failure<E>>,
        retry_if: impl FnOnce(&E) -> bool,
        retry_after: impl FnOnce(&E) -> Option<Duration>,
    ) -> Option<Duration> {
        let (cause, hint) = self.judge(outcome, retry_if, retry_after)?;
        self.retry(backoff, cause, hint)
    }

    /// Whether `outcome` is one to retry, with why (for events) and the server's hint; a final
    /// outcome is counted here.
    #[inline]
    fn judge<T, E: From<Rejected>>(
        &self,
        outcome: &Result<T, Failure<E>>,
        retry_if: impl FnOnce(&E) -> bool,
        retry_after: impl FnOnce(&E) -> Option<Duration>,
    ) -> Option<(&'static str, Option<Duration>)> {
        let retried = retried(outcome, retry_if, retry_after);
        if retried.is_none() {
            self.count_final(outcome.is_ok());
        }
        retried
    }

    /// Counts a final outcome (with the `stats` feature; nothing without it).
    #[inline]
    fn count_final(&self, succeeded: bool) {
        self.counters.add(&[if succeeded {
            Count::Success
        } else {
            Count::Failure
        }]);
    }

    /// The delay before the retry of a failure this policy retries, or `None` when no retry
    /// is left: by `max`, by `max_elapsed`, or by the budget.
    #[cold]
    fn retry(
        &self,
        backoff: &mut Backoff<'_>,
        cause: &'static str,
        hint: Option<Duration>,
    ) -> Option<Duration> {
        let attempts = backoff.retries() + 1;
        let delay = backoff
            .next_delay()
            .map(|delay| hint.map_or(delay, |hint| hint.min(self.config.max_delay)));
        let stop = match delay {
            None => Some(cause),
            Some(delay) if !backoff.fits(delay) => Some(MAX_ELAPSED),
            Some(_) => match self.config.budget {
                Some(share) if !self.withdraw(share) => Some(BUDGET),
                _ => None,
            },
        };
        match (stop, delay) {
            (None, Some(delay)) => {
                events::retrying(self.name(), backoff.retries(), delay, cause);
                self.counters.add(&[Count::Retry]);
                Some(delay)
            }
            (stop, _) => {
                let stop = stop.unwrap_or(cause);
                events::retries_exhausted(self.name(), attempts, stop);
                if stop == BUDGET {
                    self.counters.add(&[Count::Failure, Count::BudgetExhausted]);
                } else {
                    self.counters.add(&[Count::Failure]);
                }
                None
            }
        }
    }

    /// Takes one retry from the budget: the fleet's grant for a linked `shared` budget (once
    /// the link gave one), the local budget otherwise.
    fn withdraw(&self, share: f64) -> bool {
        #[cfg(feature = "fleet")]
        if self.config.fleet && crate::fleet::linked() {
            if let Some(granted) = self.budget.withdraw_shared() {
                return granted;
            }
        }
        self.budget.withdraw(share, self.config.budget_min)
    }

    /// The budget, for the fleet's link (`crate::fleet::budget`).
    #[cfg(feature = "fleet")]
    pub(crate) fn fleet_budget(&self) -> &Budget {
        &self.budget
    }

    /// The delays for one call, starting before its first retry.
    ///
    /// Cheap: a reference to the configuration and, with a budget, one relaxed atomic add (the
    /// call's deposit); the clock is read only with `max_elapsed`. No allocation, no random
    /// number.
    #[inline]
    pub fn backoff(&self) -> Backoff<'_> {
        Backoff::until(&self.config, self.budget.clock(), self.begin())
    }

    /// The state of one call as `#[retry]` keeps it: [`backoff`](Self::backoff)'s, in fewer
    /// bytes of the call's future (`call.rs`).
    #[inline]
    pub fn call(&self) -> RetryCall<'_> {
        RetryCall::new(self.begin())
    }

    /// A call begins: counted, deposited in the budget; its deadline, with `max_elapsed` (the
    /// only case that reads the clock).
    #[inline]
    fn begin(&self) -> Deadline {
        self.counters.add(&[Count::Call]);
        if self.config.budget.is_some() {
            self.budget.deposit();
        }
        match self.config.max_elapsed {
            None => Deadline::NONE,
            Some(limit) => Deadline::after(self.budget.clock(), limit),
        }
    }
}

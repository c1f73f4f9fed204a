//! [`RetryConfig`]: the parameters of `#[retry]`, with `const` builders.

use std::time::Duration;

use resilience_config::retry;

use super::Jitter;
use crate::InstanceName;

/// The parameters of `#[retry]`: the defaults from [`new`](Self::new), changed by `const`
/// builder methods, so generated code sets only what the user wrote.
///
/// ```
/// use resilience_runtime::{InstanceName, Jitter, RetryConfig};
/// use std::time::Duration;
///
/// const CONFIG: RetryConfig = RetryConfig::new(InstanceName::given("fetch"))
///     .with_max(5)
///     .with_jitter(Jitter::Equal);
/// assert_eq!(CONFIG.max(), 5);
/// assert_eq!(CONFIG.base(), Duration::from_millis(100));
/// assert_eq!(CONFIG.max_delay(), Duration::from_secs(10));
/// ```
// `PartialEq` only: the budget's share is an `f64`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryConfig {
    pub(crate) name: InstanceName,
    pub(crate) max: u32,
    pub(crate) base: Duration,
    pub(crate) max_delay: Duration,
    pub(crate) jitter: Jitter,
    /// The budget's share of calls; `None`: no budget.
    pub(crate) budget: Option<f64>,
    pub(crate) budget_min: u32,
    pub(crate) max_elapsed: Option<Duration>,
    /// `shared`: the budget is marked fleet-wide (the `fleet` feature); in the padding.
    pub(crate) fleet: bool,
}

impl RetryConfig {
    /// The defaults: `max` 3, `base` 100 ms, `max_delay` 10 s, [`Jitter::Full`], a budget of
    /// 0.2 with a reserve of 10 retries a second, no `max_elapsed` (the values of
    /// [`resilience_config::retry`], which the macros check against too).
    pub const fn new(name: InstanceName) -> Self {
        Self {
            name,
            max: retry::DEFAULT_MAX,
            base: Duration::from_nanos(retry::DEFAULT_BASE_NANOS),
            max_delay: Duration::from_nanos(retry::DEFAULT_MAX_DELAY_NANOS),
            jitter: Jitter::Full,
            budget: Some(retry::DEFAULT_BUDGET),
            budget_min: retry::DEFAULT_BUDGET_MIN,
            max_elapsed: None,
            fleet: false,
        }
    }

    /// Makes the budget fleet-wide (the attribute's `shared`, which needs an explicit name):
    /// with the `fleet` feature and a linked process, retries are granted from the fleet's
    /// calls and retries over the window, with one reserve for the whole fleet (`fleet`
    /// module docs). Otherwise the budget is local.
    ///
    /// ```
    /// use resilience_runtime::{InstanceName, RetryConfig};
    ///
    /// const PAYMENTS: RetryConfig = RetryConfig::new(InstanceName::given("payments")).with_fleet();
    /// assert!(PAYMENTS.fleet());
    /// ```
    #[must_use]
    pub const fn with_fleet(mut self) -> Self {
        self.fleet = true;
        self
    }

    /// Whether the budget is fleet-wide ([`with_fleet`](Self::with_fleet)).
    pub const fn fleet(&self) -> bool {
        self.fleet
    }

    /// Retries after the first attempt: at most `max + 1` attempts in all; 0 is one attempt.
    #[must_use]
    pub const fn with_max(mut self, max: u32) -> Self {
        self.max = max;
        self
    }

    /// The delay before the first retry, doubled for each one after it.
    #[must_use]
    pub const fn with_base(mut self, base: Duration) -> Self {
        self.base = base;
        self
    }

    /// The cap on any one delay.
    #[must_use]
    pub const fn with_max_delay(mut self, max_delay: Duration) -> Self {
        self.max_delay = max_delay;
        self
    }

    /// How each delay is randomised.
    #[must_use]
    pub const fn with_jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// The retry budget: over a rolling 10 s, retries may add at most `share` (from 0 to 1)
    /// of the calls this instance served, plus the reserve of
    /// [`with_budget_min`](Self::with_budget_min). The default is 0.2. See
    /// [the module's "Retry storms"](crate::RetryPolicy#retry-storms).
    #[must_use]
    pub const fn with_budget(mut self, share: f64) -> Self {
        self.budget = Some(share);
        self
    }

    /// No retry budget: every failed call may retry `max` times, whatever the others do
    /// (`budget = "none"`).
    #[must_use]
    pub const fn without_budget(mut self) -> Self {
        self.budget = None;
        self
    }

    /// The budget's reserve: retries per second that are always there, whatever the share of
    /// calls allows (10 by default; 0: none).
    #[must_use]
    pub const fn with_budget_min(mut self, per_second: u32) -> Self {
        self.budget_min = per_second;
        self
    }

    /// The total time budget of a call: no retry starts whose delay would end later than this
    /// after the first attempt began.
    #[must_use]
    pub const fn with_max_elapsed(mut self, max_elapsed: Duration) -> Self {
        self.max_elapsed = Some(max_elapsed);
        self
    }

    /// The instance name.
    pub const fn name(&self) -> InstanceName {
        self.name
    }

    /// Retries after the first attempt.
    pub const fn max(&self) -> u32 {
        self.max
    }

    /// The delay before the first retry.
    pub const fn base(&self) -> Duration {
        self.base
    }

    /// The cap on any one delay.
    pub const fn max_delay(&self) -> Duration {
        self.max_delay
    }

    /// How each delay is randomised.
    pub const fn jitter(&self) -> Jitter {
        self.jitter
    }

    /// The budget's share of calls, or `None` without a budget.
    pub const fn budget(&self) -> Option<f64> {
        self.budget
    }

    /// The budget's reserve, in retries per second.
    pub const fn budget_min(&self) -> u32 {
        self.budget_min
    }

    /// The total time budget of a call, if any.
    pub const fn max_elapsed(&self) -> Option<Duration> {
        self.max_elapsed
    }
}

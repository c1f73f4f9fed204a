//! `#[hedge]`: when a call is slow, send another attempt and take the first answer.
//!
//! A [`Hedge`] is the state of one annotated function, kept in a `static`: its configuration,
//! a budget, and (for `delay = "p95"`) an estimate of its recent latencies. Each call runs its
//! attempts through [`Hedge::run`], which takes a closure making attempt `k` (0 for the
//! first): the generated code clones the owned arguments inside that closure, so every
//! attempt owns its own.
//!
//! # Semantics
//!
//! - The first attempt starts at once. When no attempt has answered after `delay`, another
//!   is sent, if the budget allows, and so on every `delay` until `max` hedges are in
//!   flight.
//! - The first `Ok` wins: the call returns it and every other attempt is dropped before it
//!   does (cancellation at their next await).
//! - An attempt's `Err` does not end the call while another attempt is in flight; when none
//!   is left, the call returns the error of the attempt that failed last. Errors never send
//!   a hedge: an attempt failing before `delay` with no other in flight ends the call
//!   (hedging is for slowness, failures are `#[retry]`'s).
//! - An inner breaker's [`Rejected::CircuitOpen`] ends the call at once: another attempt
//!   would be refused too.
//! - `delay` is fixed, or a percentile of the latencies of this function's recent calls
//!   (`latency.rs`): no hedging before 100 calls completed within the estimate's window.
//!   The latency recorded is the *call's*, first attempt's start to answer, so hedging does
//!   not pull the estimate down: a call slower than `delay` stays slower than `delay`.
//! - The budget ([`Budget`], shared with `#[retry]`) bounds hedges to `budget` times the
//!   calls started in the last ten seconds, with no reserve: a function's first calls are
//!   never hedged, and a dependency that turns slow for every call gets at most `1 + budget`
//!   times its load. A hedge the budget refuses is not sent, and the call goes on with the
//!   attempts it has.
//!
//! # Implementation details
//!
//! The attempts run inside the caller's future (no task is spawned, so nothing needs `Send`
//! or `'static`). The first attempt lives inline in [`HedgeRun`]; the timer is created only
//! when the first attempt is still pending after its first poll, so a call that answers at
//! once costs no timer, and a call that answers before `delay` costs one tokio timer entry,
//! what a `#[timeout]` costs. Hedges are boxed when sent (one allocation each, on the slow
//! path only) and polled in turn; `max` is at most 4, so the scan is short.
//!
//! A `Hedge` is about 4.5 KB, all of it in its function's `static` (the latency histogram's
//! two generations are 4.2 KB of it): nothing is allocated for it, ever.

mod latency;
mod run;
#[cfg(all(test, not(loom)))]
mod tests;

use std::time::Duration;

use resilience_config::hedge as limits;

use crate::retry::Budget;
use crate::stats::{Count, Counters, Stats};
use crate::sync::const_fn;
use crate::{Failure, InstanceName};

use self::latency::Latencies;
pub use self::run::HedgeRun;

/// When a hedge sends another attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HedgeDelay {
    /// After a fixed time.
    After(Duration),
    /// After a percentile of this function's recent latencies, in tenths of a percent (950
    /// for p95), from 500 to 999.
    Percentile(u16),
}

/// The configuration of one [`Hedge`].
///
/// ```
/// use resilience_runtime::{HedgeConfig, HedgeDelay, InstanceName};
///
/// let config = HedgeConfig::new(InstanceName::given("search"), HedgeDelay::Percentile(950))
///     .with_max(2)
///     .with_budget(0.05);
/// assert_eq!((config.max(), config.budget()), (2, 0.05));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HedgeConfig {
    pub(crate) name: InstanceName,
    pub(crate) delay: HedgeDelay,
    pub(crate) max: u32,
    pub(crate) budget: f64,
}

impl HedgeConfig {
    /// Hedging after `delay`, one hedge at most, a budget of 10 %.
    pub const fn new(name: InstanceName, delay: HedgeDelay) -> Self {
        Self {
            name,
            delay,
            max: limits::DEFAULT_MAX,
            budget: limits::DEFAULT_BUDGET,
        }
    }

    /// Hedges at most (1 to 4); 1 without it.
    #[must_use]
    pub const fn with_max(mut self, max: u32) -> Self {
        self.max = max;
        self
    }

    /// The share of the calls started that hedges may add over ten seconds (0 to 1); 0.1
    /// without it.
    #[must_use]
    pub const fn with_budget(mut self, budget: f64) -> Self {
        self.budget = budget;
        self
    }

    /// When another attempt is sent.
    pub const fn delay(&self) -> HedgeDelay {
        self.delay
    }

    /// Hedges at most.
    pub const fn max(&self) -> u32 {
        self.max
    }

    /// The budget's share.
    pub const fn budget(&self) -> f64 {
        self.budget
    }
}

/// The hedging state of one annotated function.
///
/// What `#[hedge(delay = "50ms")]` generates, written out by hand: a slow first attempt is
/// hedged after 50 ms, and the hedge's answer wins.
///
/// ```
/// use resilience_runtime::{Failure, Hedge, HedgeConfig, HedgeDelay, InstanceName};
/// use std::time::Duration;
///
/// static HEDGE: Hedge = Hedge::new(
///     HedgeConfig::new(InstanceName::given("search"), HedgeDelay::After(Duration::from_millis(50)))
///         .with_budget(1.0),
/// );
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let start = tokio::time::Instant::now();
/// let answer = HEDGE
///     .run(|attempt: u32| async move {
///         let latency = if attempt == 0 { 1_000 } else { 10 };
///         tokio::time::sleep(Duration::from_millis(latency)).await;
///         Ok::<_, Failure<String>>(attempt)
///     })
///     .await;
/// assert_eq!(answer.unwrap(), 1, "the hedge answered first");
/// assert_eq!(start.elapsed(), Duration::from_millis(60));
/// # }
/// ```
#[derive(Debug)]
pub struct Hedge {
    config: HedgeConfig,
    budget: Budget,
    latencies: Latencies,
    counters: Counters,
}

impl Hedge {
    const_fn! {
        /// A hedge with this configuration.
        pub fn new(config: HedgeConfig) -> Hedge {
            Hedge {
                config,
                budget: Budget::new(),
                latencies: Latencies::new(),
                counters: Counters::new(),
            }
        }
    }

    /// The configuration.
    pub fn config(&self) -> &HedgeConfig {
        &self.config
    }

    /// The instance name.
    pub fn name(&self) -> &'static str {
        self.config.name.get()
    }

    /// What this hedge counted (all zeros without the `stats` feature): `calls`, their final
    /// `successes` and `failures`, `hedges` sent, `hedges_won` (calls a hedge answered), and
    /// hedges the budget refused (`budget_exhausted`).
    pub fn stats(&self) -> Stats {
        self.counters.read()
    }

    /// The delay a call starting now would hedge after: the fixed one, or the percentile of
    /// the recent latencies; `None` while the percentile warms up.
    ///
    /// ```
    /// use resilience_runtime::{Hedge, HedgeConfig, HedgeDelay, InstanceName};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let hedge = Hedge::new(HedgeConfig::new(InstanceName::given("p95"), HedgeDelay::Percentile(950)));
    /// assert_eq!(hedge.current_delay(), None, "no calls seen yet");
    /// # }
    /// ```
    pub fn current_delay(&self) -> Option<Duration> {
        match self.config.delay {
            HedgeDelay::After(delay) => Some(delay),
            HedgeDelay::Percentile(permille) => self.latencies.percentile(permille),
        }
    }

    /// Hedges sent and calls started over the budget's rolling window.
    pub fn budget_usage(&self) -> (u64, u64) {
        self.budget.usage()
    }

    /// Starts the budget's clock: the registry calls this at the instance's first call.
    pub(crate) fn start(&self) {
        self.budget.start();
    }

    /// Whether latencies are recorded (a percentile delay).
    fn measures(&self) -> bool {
        matches!(self.config.delay, HedgeDelay::Percentile(_))
    }

    /// Takes one hedge from the budget.
    fn grant(&self) -> bool {
        self.budget.withdraw(self.config.budget, 0)
    }

    /// Counts a finished call, and records its latency if it reached the dependency.
    fn finished<T, E>(
        &self,
        outcome: &Result<T, Failure<E>>,
        started: Option<tokio::time::Instant>,
    ) {
        let reached = !matches!(outcome, Err(Failure::Rejected(_)));
        if let (Some(started), true) = (started, reached) {
            self.latencies.record(started, tokio::time::Instant::now());
        }
        self.counters.add(&[if outcome.is_ok() {
            Count::Success
        } else {
            Count::Failure
        }]);
    }
}

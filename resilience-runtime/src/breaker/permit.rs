//! The permit of one call and the future of [`CircuitBreaker::run`]: how outcomes, panics and
//! cancellations reach the state machine.
//!
//! A permit is settled by [`BreakerPermit::success`], [`BreakerPermit::failure`] or
//! [`BreakerPermit::ignore`]; dropped unsettled it is a cancellation (nothing recorded, a
//! half-open trial's admission given back).
//!
//! A panic in the body unwinds through [`BreakerRun`]'s `poll`, where a drop guard around the
//! body's poll records it as a failure at that moment, so the verdict does not depend on when (or
//! whether) the future is dropped afterwards. A permit's own `Drop` is the second line:
//! dropped while [`std::thread::panicking`] (a panic in `is_failure`, or in code holding a
//! permit from [`CircuitBreaker::try_acquire`]) it records a failure; dropped otherwise it is
//! a cancellation.

use std::fmt;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use super::machine::Verdict;
use super::state::{Tag, Word};
use super::{CircuitBreaker, ErrorClass, TripPolicy};
use crate::stats::Count;
use crate::sync::Ordering;
use crate::{Failure, Rejected};

/// Permission to make one call through a [`CircuitBreaker`]; tell it the call's outcome.
///
/// Dropping a permit without settling it is a cancellation: nothing is recorded and a
/// half-open trial's admission is given back. If it is dropped while the thread is panicking,
/// it records a failure.
///
/// ```
/// use resilience_runtime::{BreakerConfig, CircuitBreaker, InstanceName};
///
/// static B: CircuitBreaker = CircuitBreaker::new(BreakerConfig::new(InstanceName::given("search")));
///
/// let permit = B.try_acquire().unwrap();
/// let answer: Result<u32, std::io::Error> = Ok(7);
/// match answer {
///     Ok(_) => permit.success(),
///     Err(_) => permit.failure(),
/// }
/// ```
#[must_use = "a dropped permit records nothing; settle it with success(), failure() or ignore()"]
pub struct BreakerPermit<'a> {
    pub(super) breaker: &'a CircuitBreaker,
    /// The state word this permit was admitted under.
    pub(super) word: Word,
}

impl BreakerPermit<'_> {
    /// The call succeeded.
    pub fn success(self) {
        self.settle(Verdict::Success);
    }

    /// The call failed.
    pub fn failure(self) {
        self.settle(Verdict::Failure);
    }

    /// Releases the permit without recording anything: the outcome says nothing about the
    /// dependency's health (for example, an inner bulkhead rejected the call).
    pub fn ignore(self) {
        self.settle(Verdict::Release);
    }

    #[inline]
    fn settle(self, verdict: Verdict) {
        let this = ManuallyDrop::new(self);
        // A timed permit (`slow_call` set) reads the clock to judge its duration.
        if this.breaker.config.slow_call_ns != 0 && verdict != Verdict::Release {
            this.breaker.record_timed(this.word, verdict);
            return;
        }
        // The hot path, inline: a success admitted while closed that finds no failure counted
        // when it completes has nothing to reset (one relaxed load; `machine.rs`, "The hot
        // path"). A non-zero payload is a count to reset, or another phase's word (an open
        // deadline, trial counts), which `record` finds stale.
        if verdict == Verdict::Success
            && this.word.tag() == Tag::Closed
            && matches!(this.breaker.config.policy, TripPolicy::Consecutive { .. })
            && this.breaker.core.load(Ordering::Relaxed).payload() == 0
        {
            return;
        }
        this.breaker.record(this.word, verdict);
    }
}

impl Drop for BreakerPermit<'_> {
    fn drop(&mut self) {
        let verdict = if std::thread::panicking() {
            Verdict::Failure
        } else {
            Verdict::Release
        };
        self.breaker.record(self.word, verdict);
    }
}

impl fmt::Debug for BreakerPermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreakerPermit")
            .field("breaker", &self.breaker.name())
            .field("word", &self.word)
            .finish()
    }
}

pin_project! {
    /// The future of [`CircuitBreaker::run`].
    ///
    /// A hand-written future rather than an `async fn`: it stores the guarded future once (an
    /// `async fn` keeps its argument and the moved copy in separate slots of its state), and
    /// its first poll is the whole admission check, inlined into the caller.
    #[must_use = "futures do nothing unless polled"]
    pub struct BreakerRun<'a, F, P> {
        breaker: &'a CircuitBreaker,
        permit: Option<BreakerPermit<'a>>,
        // `None` once the outcome is settled.
        is_failure: Option<P>,
        #[pin]
        fut: F,
    }
}

impl CircuitBreaker {
    /// [`try_acquire`](Self::try_acquire), with a refusal counted in the
    /// [`stats`](Self::stats) as [`run`](Self::run) counts it: for callers that must know
    /// the verdict before they start the call (a `tower` service, which must not call its
    /// inner service when the breaker refuses), and then hand the permit to
    /// [`BreakerPermit::run`].
    ///
    /// # Errors
    ///
    /// [`Rejected::CircuitOpen`], as [`try_acquire`](Self::try_acquire) returns it.
    #[inline]
    pub fn admit(&self) -> Result<BreakerPermit<'_>, Rejected> {
        self.try_acquire().inspect_err(|_| {
            self.counters.add(&[Count::Call, Count::Rejection]);
        })
    }
}

impl<'a> BreakerPermit<'a> {
    /// Runs `fut` under this permit and records its outcome, as
    /// [`CircuitBreaker::run`] does once it has admitted a call.
    ///
    /// ```
    /// use resilience_runtime::{BreakerConfig, CircuitBreaker, Failure, InstanceName};
    ///
    /// static B: CircuitBreaker = CircuitBreaker::new(BreakerConfig::new(InstanceName::given("ledger")));
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let permit = B.admit().expect("closed");
    /// let call = permit.run(async { Ok::<u32, Failure<String>>(7) }, |_: &String| true);
    /// assert_eq!(call.await.unwrap(), 7);
    /// # }
    /// ```
    pub fn run<F, P>(self, fut: F, is_failure: P) -> BreakerRun<'a, F, P> {
        BreakerRun {
            breaker: self.breaker,
            permit: Some(self),
            is_failure: Some(is_failure),
            fut,
        }
    }
}

impl<'a, F, P> BreakerRun<'a, F, P> {
    /// A call of `fut` through `breaker`, not yet admitted.
    pub(super) fn new(breaker: &'a CircuitBreaker, fut: F, is_failure: P) -> Self {
        Self {
            breaker,
            permit: None,
            is_failure: Some(is_failure),
            fut,
        }
    }
}

impl<T, E, F, P, C> Future for BreakerRun<'_, F, P>
where
    F: Future<Output = Result<T, Failure<E>>>,
    P: FnOnce(&E) -> C,
    C: Into<ErrorClass>,
{
    type Output = Result<T, Failure<E>>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        assert!(
            this.is_failure.is_some(),
            "`BreakerRun` polled after completion"
        );
        if this.permit.is_none() {
            match this.breaker.admit() {
                Ok(permit) => *this.permit = Some(permit),
                Err(rejected) => {
                    *this.is_failure = None;
                    return Poll::Ready(Err(Failure::Rejected(rejected)));
                }
            }
        }
        // A panic in the body unwinds through this frame: the guard records it as a failure
        // right there, whoever catches the panic and whenever this future is dropped.
        let polled = {
            let _guard = FailOnUnwind(this.permit);
            this.fut.poll(cx)
        };
        let output = match polled {
            Poll::Ready(output) => output,
            Poll::Pending => return Poll::Pending,
        };
        let (Some(permit), Some(is_failure)) = (this.permit.take(), this.is_failure.take()) else {
            unreachable!("admitted above and not yet settled");
        };
        let counters = &this.breaker.counters;
        match &output {
            Ok(_) => {
                permit.success();
                counters.add(&[Count::Call, Count::Success]);
            }
            Err(Failure::Error(error)) => match is_failure(error).into() {
                ErrorClass::Failed => {
                    permit.failure();
                    counters.add(&[Count::Call, Count::Failure]);
                }
                ErrorClass::Succeeded => {
                    permit.success();
                    counters.add(&[Count::Call, Count::Success]);
                }
                ErrorClass::Ignored => {
                    permit.ignore();
                    counters.add(&[Count::Call]);
                }
            },
            Err(Failure::Rejected(Rejected::TimedOut { .. })) => {
                permit.failure();
                counters.add(&[Count::Call, Count::Failure]);
            }
            Err(Failure::Rejected(_)) => {
                permit.ignore();
                counters.add(&[Count::Call]);
            }
        }
        Poll::Ready(output)
    }
}

/// Settles the permit as a failure if it is dropped during a panic; on the normal path its
/// drop is one relaxed load of the process's panic count.
struct FailOnUnwind<'p, 'a>(&'p mut Option<BreakerPermit<'a>>);

impl Drop for FailOnUnwind<'_, '_> {
    #[inline]
    fn drop(&mut self) {
        if std::thread::panicking() {
            if let Some(permit) = self.0.take() {
                permit.failure();
            }
        }
    }
}

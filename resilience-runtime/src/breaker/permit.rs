//! The permit of one call and the future of [`CircuitBreaker::run`]: how outcomes, panics and
//! cancellations reach the state machine.
//!
//! A permit is settled by [`BreakerPermit::success`], [`BreakerPermit::failure`] or
//! [`BreakerPermit::ignore`]; dropped unsettled it is a cancellation (nothing recorded, a
//! half-open trial's admission given back).
//!
//! `#[circuit_breaker]` admits the call, awaits it with the permit held as a local of the
//! function's own future, and settles it with [`BreakerPermit::record`]; a panic in the body
//! unwinds through that future, which drops the permit while the thread is panicking: a
//! failure, recorded at that moment.
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

use super::clock::{is_slow, start_stamp};
use super::machine::{Refusal, Verdict};
use super::state::{Tag, Word};
use super::{CircuitBreaker, ErrorClass, TripPolicy};
use crate::events;
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
    #[inline]
    pub fn success(self) {
        self.settle(Verdict::Success);
    }

    /// The call failed.
    #[inline]
    pub fn failure(self) {
        self.settle(Verdict::Failure);
    }

    /// Releases the permit without recording anything: the outcome says nothing about the
    /// dependency's health (for example, an inner bulkhead rejected the call).
    #[inline]
    pub fn ignore(self) {
        self.settle(Verdict::Release);
    }

    /// Inline: the check for the hot path only; everything else is out of line.
    #[inline]
    fn settle(self, verdict: Verdict) {
        let this = ManuallyDrop::new(self);
        let breaker = this.breaker;
        if verdict == Verdict::Success && breaker.config.slow_call_ns == 0 {
            // Consecutive first, tested alone: one comparison of the policy's niche.
            if matches!(breaker.config.policy, TripPolicy::Consecutive { .. }) {
                // A success with no slow-call timing that finds no failure counted when it
                // completes has nothing to reset (one relaxed load; `machine.rs`, "The hot
                // path"). A non-zero payload is a count to reset, or another phase's word
                // (an open deadline, trial counts), which `record` finds stale. The permit's
                // own tag needs no check: a zero payload is never the phase of a half-open
                // trial still running (it counts that trial), so `record` would find any
                // permit stale, or closed with nothing to reset, or forced closed.
                if breaker.core.load(Ordering::Relaxed).payload() == 0 {
                    return;
                }
            } else if this.word.tag() == Tag::Closed {
                // The count window: one relaxed load, the word still this closed phase and its
                // ring absorbing (`window.rs`, "The hot path"). Only a count window's word is
                // ever absorbing, so the policy needs no second test first.
                if breaker.core.absorbs(this.word) {
                    return;
                }
                if !matches!(breaker.config.policy, TripPolicy::FailureRate { .. }) {
                    return breaker.success_in_time(this.word);
                }
            }
        }
        breaker.settle(this.word, verdict);
    }
}

impl CircuitBreaker {
    /// Records the outcome of the permit admitted under `word`.
    pub(super) fn record(&self, word: Word, verdict: Verdict) {
        self.core
            .record(&self.config, word, verdict, false, || self.clock.elapsed());
    }

    /// Records a success admitted closed in the time window, out of line: straight to its
    /// bucket (`time_window.rs`, "What a success costs").
    #[inline(never)]
    fn success_in_time(&self, word: Word) {
        let now = self.clock.elapsed();
        self.core
            .record_in_time(&self.config, word, (false, false), now);
    }

    /// Records the outcome of a timed permit (`slow_call` set): reads the clock once, for
    /// the call's duration and for an open deadline alike.
    #[inline(never)]
    fn record_timed(&self, word: Word, verdict: Verdict) {
        let now = self.clock.elapsed();
        let slow = is_slow(word.payload(), now, self.config.slow_call_ns);
        if !slow
            && verdict == Verdict::Success
            && word.tag() == Tag::Closed
            && matches!(self.config.policy, TripPolicy::Consecutive { .. })
            && self.core.load(Ordering::Relaxed).payload() == 0
        {
            // A fast success with no failure counted: nothing to write (`permit.rs`).
            return;
        }
        self.core.record(&self.config, word, verdict, slow, || now);
    }

    /// Records a permit's verdict (the window modes' healthy success stays cheap inline; a
    /// timed permit's record is out of line).
    #[inline]
    fn settle(&self, word: Word, verdict: Verdict) {
        // A timed permit (`slow_call` set) reads the clock to judge its duration.
        if self.config.slow_call_ns != 0 && verdict != Verdict::Release {
            self.record_timed(word, verdict);
        } else {
            self.record(word, verdict);
        }
    }
}

/// A permit's drop is never the way a call ends well (settling consumes the permit), so it is
/// a call out of line: a future that holds a permit across an await keeps a drop glue small
/// enough to be inlined where it is dropped (most often after it finished).
impl Drop for BreakerPermit<'_> {
    #[inline]
    fn drop(&mut self) {
        self.abandon();
    }
}

impl BreakerPermit<'_> {
    /// Dropped unsettled: a failure if the thread is panicking, else a cancellation.
    #[cold]
    #[inline(never)]
    fn abandon(&self) {
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
        // The permit is held here, in the guard, while the body is polled, and goes back into
        // the future only if the body is pending: a body that finishes at its first poll never
        // stores it.
        let permit = match this.permit.take() {
            Some(permit) => permit,
            None => {
                assert!(
                    this.is_failure.is_some(),
                    "`BreakerRun` polled after completion"
                );
                match this.breaker.admit() {
                    Ok(permit) => permit,
                    Err(rejected) => {
                        *this.is_failure = None;
                        return Poll::Ready(Err(Failure::Rejected(rejected)));
                    }
                }
            }
        };
        // A panic in the body unwinds through this frame: the guard records it as a failure
        // right there, whoever catches the panic and whenever this future is dropped.
        let guard = FailOnUnwind(Some(permit));
        let polled = this.fut.poll(cx);
        // The body returned: no unwinding to watch for (and none to mistake for the body's
        // if this poll runs inside another panic's unwinding).
        let permit = guard.disarm();
        let output = match polled {
            Poll::Ready(output) => output,
            Poll::Pending => {
                *this.permit = permit;
                return Poll::Pending;
            }
        };
        let Some(permit) = permit else {
            unreachable!("admitted above and not yet settled");
        };
        // A success is taken apart and rebuilt, so its value stays in registers rather than
        // the whole output (errors included) being stored to be borrowed by `settle`; it
        // needs no `is_failure`, only to mark the future finished.
        let error = match output {
            Ok(value) => {
                *this.is_failure = None;
                permit.success();
                this.breaker.counters.add(&[Count::Call, Count::Success]);
                return Poll::Ready(Ok(value));
            }
            Err(error) => error,
        };
        let Some(is_failure) = this.is_failure.take() else {
            unreachable!("not yet settled");
        };
        permit.record_error(&error, is_failure);
        Poll::Ready(Err(error))
    }
}

impl BreakerPermit<'_> {
    /// Records the outcome of the call this permit admitted, and counts it: a success, or an
    /// error as `is_failure` classes it (the user's error; an inner layer's timeout is a
    /// failure, any other inner rejection is ignored). This is what generated code does after
    /// awaiting the call in the function's own future, the permit held across that await: a
    /// cancellation drops the permit unsettled, and a panic in the body drops it while the
    /// thread unwinds, which records a failure.
    ///
    /// ```
    /// use resilience_runtime::{BreakerConfig, CircuitBreaker, Failure, InstanceName, TripPolicy};
    ///
    /// static B: CircuitBreaker = CircuitBreaker::new(
    ///     BreakerConfig::new(InstanceName::given("quotes")).with_policy(TripPolicy::Consecutive { threshold: 1 }),
    /// );
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let is_failure = |error: &String| error != "not found";
    /// let outcome: Result<u32, Failure<String>> = Err(Failure::Error("not found".into()));
    /// B.admit().expect("closed").record(&outcome, is_failure);
    /// let outcome: Result<u32, Failure<String>> = Err(Failure::Error("refused".into()));
    /// B.admit().expect("still closed").record(&outcome, is_failure);
    /// assert!(B.admit().is_err(), "one failure opened it");
    /// # }
    /// ```
    #[inline]
    pub fn record<T, E, C: Into<ErrorClass>>(
        self,
        outcome: &Result<T, Failure<E>>,
        is_failure: impl FnOnce(&E) -> C,
    ) {
        match outcome {
            Ok(_) => {
                let counters = &self.breaker.counters;
                self.success();
                counters.add(&[Count::Call, Count::Success]);
            }
            Err(error) => self.record_error(error, is_failure),
        }
    }

    /// Tells this permit the verdict on `error`, and counts it.
    #[inline]
    fn record_error<E, C: Into<ErrorClass>>(
        self,
        error: &Failure<E>,
        is_failure: impl FnOnce(&E) -> C,
    ) {
        let counters = &self.breaker.counters;
        match error {
            Failure::Error(error) => match is_failure(error).into() {
                ErrorClass::Failed => {
                    self.failure();
                    counters.add(&[Count::Call, Count::Failure]);
                }
                ErrorClass::Succeeded => {
                    self.success();
                    counters.add(&[Count::Call, Count::Success]);
                }
                ErrorClass::Ignored => {
                    self.ignore();
                    counters.add(&[Count::Call]);
                }
            },
            Failure::Rejected(Rejected::TimedOut { .. }) => {
                self.failure();
                counters.add(&[Count::Call, Count::Failure]);
            }
            Failure::Rejected(_) => {
                self.ignore();
                counters.add(&[Count::Call]);
            }
        }
    }
}

/// Settles the permit as a failure if it is dropped during a panic: the body's poll unwound.
/// When the poll returns, [`disarm`](Self::disarm) takes the permit back without a drop.
struct FailOnUnwind<'a>(Option<BreakerPermit<'a>>);

impl<'a> FailOnUnwind<'a> {
    /// The permit back, once the body's poll returned normally.
    #[inline]
    fn disarm(self) -> Option<BreakerPermit<'a>> {
        let mut this = ManuallyDrop::new(self);
        this.0.take()
    }
}

impl Drop for FailOnUnwind<'_> {
    #[inline]
    fn drop(&mut self) {
        if std::thread::panicking() {
            if let Some(permit) = self.0.take() {
                permit.failure();
            }
        }
    }
}

/// How a permit is made when the inline check of [`CircuitBreaker::try_acquire`] does not
/// admit the call, and how a refusal becomes a [`Rejected`].
impl CircuitBreaker {
    /// The rejection for `refusal`, built inline from its few words.
    ///
    /// The out-of-line slow path returns a [`Refusal`] (two words, in registers) rather than
    /// the `Rejected`: a `Rejected` returned from a call that is not inlined is written
    /// through a pointer the caller passes, and LLVM passes the address of the call's whole
    /// output (`Result<T, Failure<E>>`, where the rejection ends up), which then has escaped,
    /// on every path: a success would be stored, copied and reloaded rather than kept in
    /// registers (75 instructions per call against 51, `benches/benches/instructions.rs`).
    #[inline]
    pub(super) fn rejection(&self, refusal: Refusal) -> Rejected {
        let (retry_after, forced) = match refusal {
            Refusal::Open { retry_after } => (Some(retry_after), false),
            Refusal::Busy => (None, false),
            Refusal::Forced => (None, true),
        };
        Rejected::CircuitOpen {
            name: self.name(),
            retry_after,
            key: self.core.key.clone(),
            forced,
        }
    }

    /// A permit for a call admitted under `word`, stamped with its start if its outcome will
    /// be recorded (closed or a half-open trial): `slow_call` is set (`clock.rs`, "Slow calls").
    #[inline(never)]
    pub(super) fn timed(&self, word: Word) -> BreakerPermit<'_> {
        let word = if matches!(word.tag(), Tag::Closed | Tag::HalfOpen) {
            word.with_payload(start_stamp(self.clock.elapsed()))
        } else {
            word
        };
        BreakerPermit {
            breaker: self,
            word,
        }
    }

    /// Admission when the breaker is not closed (or is timed), out of line; a refusal is
    /// reported here and turned into a `Rejected` by [`rejection`](Self::rejection), inline.
    #[inline(never)]
    pub(super) fn try_acquire_slow(&self) -> Result<BreakerPermit<'_>, Refusal> {
        match self.core.acquire(&self.config, || self.clock.elapsed()) {
            Ok(word) if self.config.slow_call_ns != 0 => Ok(self.timed(word)),
            Ok(word) => Ok(BreakerPermit {
                breaker: self,
                word,
            }),
            Err(refusal) => {
                events::refused(self.name(), self.key(), "circuit_open");
                Err(refusal)
            }
        }
    }
}

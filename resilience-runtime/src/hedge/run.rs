//! The future of [`Hedge::run`]: the attempts of one call, polled in turn inside the caller's
//! task, and the timer that sends the next one.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

use super::Hedge;
use crate::stats::Count;
use crate::{events, Failure, Rejected};

/// Where the call is with its timer.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Stage {
    /// The first attempt has not been found pending yet: no timer.
    Unarmed,
    /// The timer runs until the next hedge, `delay` apart.
    Armed(Duration),
    /// No more hedges: `max` sent, no estimate yet, or the budget said no.
    Done,
}

impl Hedge {
    /// Runs a call: `make(0)` at once, and `make(k)` for the k-th hedge, one `delay` after
    /// the previous attempt while none has answered, `max` at most, each taken from the
    /// budget. The first `Ok` (or an inner [`Rejected::CircuitOpen`]) is the answer, and the
    /// other attempts are dropped before it is returned; errors wait for the attempts still
    /// in flight.
    ///
    /// # Errors
    ///
    /// The error of the attempt that failed last, when every attempt failed; an inner
    /// [`Rejected::CircuitOpen`] at once.
    pub fn run<T, E, F, Fut>(&self, mut make: F) -> HedgeRun<'_, F, Fut, E>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, Failure<E>>>,
    {
        self.counters.add(&[Count::Call]);
        self.budget.deposit();
        let first = make(0);
        HedgeRun {
            hedge: self,
            make,
            first: Some(first),
            hedges: Vec::new(),
            timer: None,
            started: self.measures().then(Instant::now),
            sent: 0,
            stage: Stage::Unarmed,
            failed: None,
        }
    }
}

pin_project! {
    /// The future of [`Hedge::run`].
    #[must_use = "futures do nothing unless polled"]
    pub struct HedgeRun<'a, F, Fut, E> {
        hedge: &'a Hedge,
        make: F,
        #[pin]
        first: Option<Fut>,
        hedges: Vec<Pin<Box<Fut>>>,
        #[pin]
        timer: Option<Sleep>,
        started: Option<Instant>,
        sent: u32,
        stage: Stage,
        failed: Option<Failure<E>>,
    }
}

impl<T, E, F, Fut> Future for HedgeRun<'_, F, Fut, E>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, Failure<E>>>,
{
    type Output = Result<T, Failure<E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let hedge = *this.hedge;
        loop {
            // The attempts in flight, the first one first.
            let mut answer = None;
            if let Some(first) = this.first.as_mut().as_pin_mut() {
                if let Poll::Ready(outcome) = first.poll(cx) {
                    this.first.set(None);
                    answer = settle(outcome, this.failed).map(|o| (o, false));
                }
            }
            let mut i = 0;
            while answer.is_none() && i < this.hedges.len() {
                if let Poll::Ready(outcome) = this.hedges[i].as_mut().poll(cx) {
                    drop(this.hedges.swap_remove(i));
                    answer = settle(outcome, this.failed).map(|o| (o, true));
                } else {
                    i += 1;
                }
            }
            if let Some((outcome, by_hedge)) = answer {
                // The others are dropped before the call returns.
                this.first.set(None);
                this.hedges.clear();
                this.timer.set(None);
                if by_hedge && outcome.is_ok() {
                    hedge.counters.add(&[Count::HedgeWon]);
                    events::hedge_won(hedge.name());
                }
                hedge.finished(&outcome, *this.started);
                return Poll::Ready(outcome);
            }
            if this.first.is_none() && this.hedges.is_empty() {
                if let Some(failure) = this.failed.take() {
                    this.timer.set(None);
                    let outcome = Err(failure);
                    hedge.finished(&outcome, *this.started);
                    return Poll::Ready(outcome);
                }
            }

            // The timer: armed when the first attempt is found pending.
            if *this.stage == Stage::Unarmed {
                *this.stage = match hedge.current_delay() {
                    Some(delay) => {
                        this.timer.set(Some(tokio::time::sleep(delay)));
                        Stage::Armed(delay)
                    }
                    None => Stage::Done,
                };
            }
            let Stage::Armed(delay) = *this.stage else {
                return Poll::Pending;
            };
            let Some(mut timer) = this.timer.as_mut().as_pin_mut() else {
                return Poll::Pending;
            };
            if timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            if !hedge.grant() {
                hedge.counters.add(&[Count::BudgetExhausted]);
                events::hedge_refused(hedge.name());
                *this.stage = Stage::Done;
                this.timer.set(None);
                return Poll::Pending;
            }
            *this.sent += 1;
            hedge.counters.add(&[Count::Hedge]);
            events::hedging(hedge.name(), *this.sent, delay);
            this.hedges.push(Box::pin((this.make)(*this.sent)));
            if *this.sent < hedge.config.max {
                timer.reset(Instant::now() + delay);
            } else {
                *this.stage = Stage::Done;
                this.timer.set(None);
            }
            // Around again: the new attempt gets its first poll now.
        }
    }
}

/// An attempt's outcome: the call's answer (a success, or an open circuit), or `None` after
/// keeping its error as the latest failure.
fn settle<T, E>(
    outcome: Result<T, Failure<E>>,
    failed: &mut Option<Failure<E>>,
) -> Option<Result<T, Failure<E>>> {
    match outcome {
        Err(Failure::Rejected(Rejected::CircuitOpen { .. })) | Ok(_) => Some(outcome),
        Err(failure) => {
            *failed = Some(failure);
            None
        }
    }
}

//! Model checks of the circuit breaker's transitions: concurrent half-open admission,
//! concurrent failures tripping the breaker, successes racing failures (and a slow success
//! resetting the count at its completion), and the takeover of a
//! hung trial's place (racing the hung trial's outcome, and racing another taker); and of the
//! failure-rate window: an absorbed success racing a failure, failures racing across the
//! position's step back, that step racing a clear, and an absorbed success racing a slow
//! one (the slow bits, `slow_call`); and of the time window's buckets: two outcomes racing
//! to rotate one slot, and a rotation racing a clear.
//!
//! Run with (under `--cfg loom` the crate's unit tests are these models and the bulkhead's):
//!
//! ```text
//! RUSTFLAGS="--cfg loom" cargo test -p resilience-runtime --release --lib
//! ```
//!
//! loom runs every interleaving (and every value a relaxed load may legally return) of the
//! breaker's one state word. Under `--cfg loom` the breaker's clock is a counter the model
//! sets (`loom_set_now_ms`), so every execution sees the same time, and `loom_snapshot` reads
//! the state word's generation and payload. With the default configuration the breaker opens
//! for 10 s, so a breaker opened at time 0 admits trials from 10 000 ms on.

use loom::sync::Arc;
use loom::thread;

use super::{BreakerConfig, BreakerPermit, BreakerState, CircuitBreaker, TripPolicy};
use crate::sync::Ordering;
use crate::{InstanceName, Rejected};

/// What the models read and set of a breaker, beyond its API.
impl CircuitBreaker {
    /// Sets the stand-in clock: milliseconds since the breaker's epoch.
    fn loom_set_now_ms(&self, ms: u64) {
        self.clock.set_now_ms(ms);
    }

    /// The state word's generation and payload.
    fn loom_snapshot(&self) -> (u32, u64) {
        let word = self.core.load(Ordering::SeqCst);
        (word.gen(), word.payload())
    }

    /// The failure-rate ring's position and number of failure bits (a `FailureRate` breaker
    /// only: under loom its ring is allocated in `new`).
    fn loom_ring(&self) -> (u64, u32) {
        let ring = self.core.ring(&self.config);
        let failures = ring
            .bits()
            .iter()
            .map(|word| word.load(Ordering::SeqCst).count_ones())
            .sum();
        (ring.position().load(Ordering::SeqCst), failures)
    }

    /// The number of slow bits in the failure-rate ring (with `slow_call`).
    fn loom_slow_bits(&self) -> u32 {
        let ring = self.core.ring(&self.config);
        ring.slow_bits()
            .iter()
            .map(|word| word.load(Ordering::SeqCst).count_ones())
            .sum()
    }
}

/// Milliseconds after opening at time 0 when the open period is over.
const OPEN_PERIOD_OVER: u64 = 10_000;

fn breaker(threshold: u32, half_open: u32) -> Arc<CircuitBreaker> {
    Arc::new(CircuitBreaker::new(
        BreakerConfig::new(InstanceName::given("loom"))
            .with_policy(TripPolicy::Consecutive { threshold })
            .with_half_open(half_open),
    ))
}

/// Runs `f` under loom, exploring interleavings with up to `PREEMPTIONS` preemptions (tokio's
/// models use the same kind of bound; the full space of three threads is needlessly large for
/// these few operations). `LOOM_MAX_PREEMPTIONS` overrides it.
fn model(f: impl Fn() + Send + Sync + 'static) {
    const PREEMPTIONS: usize = 4;
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(PREEMPTIONS);
    }
    builder.check(f);
}

/// Opens `breaker` (threshold 1) at time 0 and moves the clock past the open period.
fn open_then_expire(breaker: &CircuitBreaker) {
    breaker.try_acquire().expect("closed").failure();
    assert_eq!(breaker.state(), BreakerState::Open);
    breaker.loom_set_now_ms(OPEN_PERIOD_OVER);
}

/// Takes a trial and keeps it running (never settled): returns whether it was admitted.
fn take_and_keep(breaker: &CircuitBreaker) -> bool {
    match breaker.try_acquire() {
        Ok(permit) => {
            std::mem::forget(permit);
            true
        }
        Err(Rejected::CircuitOpen { retry_after, .. }) => {
            assert_eq!(
                retry_after, None,
                "half-open rejections carry no retry-after"
            );
            false
        }
        Err(other) => panic!("unexpected {other:?}"),
    }
}

/// Three callers race for two half-open trials, one of them also performing the
/// open → half-open transition: exactly two are admitted, and the transition happens once.
#[test]
fn half_open_admits_exactly_n_trials_concurrently() {
    model(|| {
        let breaker = breaker(1, 2);
        open_then_expire(&breaker);
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let breaker = breaker.clone();
                thread::spawn(move || take_and_keep(&breaker))
            })
            .collect();
        let admitted = threads
            .into_iter()
            .map(|t| t.join().unwrap())
            .filter(|&admitted| admitted)
            .count();
        assert_eq!(admitted, 2);
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        let (generation, payload) = breaker.loom_snapshot();
        // closed #0 -> open #1 -> half-open #2; payload: 2 admitted, 0 succeeded.
        assert_eq!((generation, payload), (2, 2));
    });
}

/// A trial cancelled (dropped) while another caller asks to be a trial: the breaker is never
/// wedged, and the admission count matches the trials still running.
#[test]
fn cancelled_trial_gives_its_admission_back() {
    model(|| {
        let breaker = breaker(1, 1);
        open_then_expire(&breaker);
        let canceller = {
            let breaker = breaker.clone();
            thread::spawn(move || {
                if let Ok(permit) = breaker.try_acquire() {
                    drop(permit); // cancelled: released unrecorded
                }
            })
        };
        let keeper = {
            let breaker = breaker.clone();
            thread::spawn(move || take_and_keep(&breaker))
        };
        canceller.join().unwrap();
        let kept = keeper.join().unwrap();
        let (generation, admitted) = breaker.loom_snapshot();
        assert_eq!(generation, 2);
        assert_eq!(
            admitted,
            u64::from(kept),
            "only the kept trial holds an admission"
        );
        if !kept {
            assert!(
                breaker.try_acquire().is_ok(),
                "the cancelled trial wedged the breaker"
            );
        }
    });
}

/// Three callers fail at once against a threshold of 2: the breaker opens exactly once.
#[test]
fn concurrent_failures_trip_exactly_once() {
    model(|| {
        let breaker = breaker(2, 1);
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let breaker = breaker.clone();
                thread::spawn(move || breaker.try_acquire().map(BreakerPermit::failure).is_ok())
            })
            .collect();
        let failed = threads
            .into_iter()
            .map(|t| t.join().unwrap())
            .filter(|&failed| failed)
            .count();
        assert!(failed >= 2, "closed until the second failure");
        assert_eq!(breaker.state(), BreakerState::Open);
        let (generation, deadline) = breaker.loom_snapshot();
        assert_eq!(generation, 1, "exactly one transition");
        assert_eq!(deadline, OPEN_PERIOD_OVER);
    });
}

/// With one failure counted (threshold 2), a success and a failure race. Either the success
/// comes first (count reset, then 1) or the failure trips the breaker and the success, from the
/// old generation, is ignored. Never a lost or double transition.
#[test]
fn success_racing_failure_while_closed() {
    model(|| {
        let breaker = breaker(2, 1);
        breaker.try_acquire().unwrap().failure();
        let success = {
            let breaker = breaker.clone();
            thread::spawn(move || breaker.try_acquire().map(BreakerPermit::success).is_ok())
        };
        let failure = {
            let breaker = breaker.clone();
            thread::spawn(move || breaker.try_acquire().map(BreakerPermit::failure).is_ok())
        };
        let succeeded = success.join().unwrap();
        assert!(
            failure.join().unwrap(),
            "closed: the failing call was admitted"
        );
        match breaker.loom_snapshot() {
            (0, 1) => assert_eq!(breaker.state(), BreakerState::Closed),
            (1, deadline) => {
                assert_eq!(breaker.state(), BreakerState::Open);
                assert_eq!(deadline, OPEN_PERIOD_OVER);
            }
            other => panic!("impossible state {other:?} (success admitted: {succeeded})"),
        }
    });
}

/// A success admitted before any failure completes while another failure is recorded, with
/// one failure already counted (threshold 3). The success resets the count it finds when it
/// completes (completion order): either it lands first (reset, then one failure) or after
/// the racing failure (two failures, then reset). Never three failures: linearised at its
/// admission, as before the completion-order rule, it would reset nothing.
#[test]
fn slow_success_resets_at_completion_racing_a_failure() {
    model(|| {
        // Leaked so the slow permit, taken here, can move to a thread (`'static`).
        let breaker: &'static CircuitBreaker = Box::leak(Box::new(CircuitBreaker::new(
            BreakerConfig::new(InstanceName::given("loom"))
                .with_policy(TripPolicy::Consecutive { threshold: 3 }),
        )));
        let slow = breaker.try_acquire().expect("closed, no failure counted");
        breaker.try_acquire().expect("closed").failure();
        let success = thread::spawn(move || slow.success());
        let failure = thread::spawn(move || breaker.try_acquire().map(BreakerPermit::failure));
        success.join().unwrap();
        failure
            .join()
            .unwrap()
            .expect("closed: the failing call was admitted");
        let (generation, failures) = breaker.loom_snapshot();
        assert_eq!(generation, 0, "never opened");
        assert!(failures <= 1, "{failures} failures counted after the reset");
        assert_eq!(breaker.state(), BreakerState::Closed);
    });
}

/// Two half-open trials, one succeeding and one failing, in any order: the breaker ends open,
/// because any trial failure reopens it and a success from the old phase is ignored.
#[test]
fn trial_success_racing_trial_failure() {
    model(|| {
        let breaker = breaker(1, 2);
        open_then_expire(&breaker);
        let success = {
            let breaker = breaker.clone();
            thread::spawn(move || {
                if let Ok(permit) = breaker.try_acquire() {
                    permit.success();
                }
            })
        };
        let failure = {
            let breaker = breaker.clone();
            thread::spawn(move || {
                if let Ok(permit) = breaker.try_acquire() {
                    permit.failure();
                }
            })
        };
        success.join().unwrap();
        failure.join().unwrap();
        // Closed #0 -> open #1 -> half-open #2 (whichever thread came first) -> open #3. The
        // failing thread is always admitted (two trials, none given back); the succeeding one
        // is turned away only if the failure reopened the breaker first.
        match breaker.loom_snapshot() {
            (3, deadline) => {
                assert_eq!(breaker.state(), BreakerState::Open);
                assert_eq!(deadline, OPEN_PERIOD_OVER + 10_000);
            }
            other => panic!("impossible state {other:?}"),
        }
    });
}

/// With backoff (open for 10 s, up to 40 s), two trials of the second half-open phase in a
/// row fail at once: whichever lands first reopens the breaker for exactly one more doubling
/// (level 1 to 2: 40 s), and the other is stale. The period and the transition are one word,
/// so no interleaving doubles twice or pairs the new phase with the old period.
#[test]
fn concurrent_failed_trials_double_the_open_period_once() {
    model(|| {
        let breaker = Arc::new(CircuitBreaker::new(
            BreakerConfig::new(InstanceName::given("loom"))
                .with_policy(TripPolicy::Consecutive { threshold: 1 })
                .with_half_open(2)
                .with_open_for_max(std::time::Duration::from_secs(40)),
        ));
        open_then_expire(&breaker); // open #1 until 10 000 ms, level 0
        breaker.try_acquire().expect("trial").failure(); // open #3 for 20 s, level 1
        breaker.loom_set_now_ms(OPEN_PERIOD_OVER + 20_000);
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let breaker = breaker.clone();
                thread::spawn(move || {
                    if let Ok(permit) = breaker.try_acquire() {
                        permit.failure();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        // open #3 -> half-open #4 -> open #5, for 40 s from 30 000 ms.
        assert_eq!(breaker.loom_snapshot(), (5, 30_000 + 40_000));
        assert_eq!(breaker.open_period(), std::time::Duration::from_secs(40));
    });
}

/// A call admitted while closed finishes (fails) while another thread drives the breaker
/// through a whole cycle: open, half-open, a successful trial, closed again. Whenever the slow
/// failure lands, it must not count in the new closed phase: only the generation tells the two
/// closed phases apart.
#[test]
fn stale_closed_permit_ignored_after_a_full_cycle() {
    model(|| {
        // Leaked so the slow permit, taken here, can move to a thread (`'static`).
        let breaker: &'static CircuitBreaker = Box::leak(Box::new(CircuitBreaker::new(
            BreakerConfig::new(InstanceName::given("loom"))
                .with_policy(TripPolicy::Consecutive { threshold: 2 }),
        )));
        let slow = breaker.try_acquire().expect("closed");
        let slow = thread::spawn(move || slow.failure());
        let cycler = thread::spawn(move || {
            for _ in 0..2 {
                if let Ok(permit) = breaker.try_acquire() {
                    permit.failure();
                }
            }
            breaker.loom_set_now_ms(OPEN_PERIOD_OVER);
            breaker.try_acquire().expect("the trial").success();
        });
        slow.join().unwrap();
        cycler.join().unwrap();
        assert_eq!(breaker.state(), BreakerState::Closed);
        // closed #0 -> open #1 -> half-open #2 -> closed #3, with no failure counted.
        assert_eq!(breaker.loom_snapshot(), (3, 0));
    });
}

/// A leaked breaker with threshold 1 and one trial place, opened at time 0 and with a trial
/// admitted at 10 000 ms that is still running (its permit returned) at 20 000 ms: one open
/// period later, so its place may be taken over.
fn with_hung_trial() -> (&'static CircuitBreaker, BreakerPermit<'static>) {
    // Leaked so the hung permit can move to a thread (`'static`).
    let breaker: &'static CircuitBreaker = Box::leak(Box::new(CircuitBreaker::new(
        BreakerConfig::new(InstanceName::given("loom"))
            .with_policy(TripPolicy::Consecutive { threshold: 1 }),
    )));
    open_then_expire(breaker);
    let hung = breaker.try_acquire().expect("the first trial");
    assert_eq!(breaker.loom_snapshot(), (2, 1));
    breaker.loom_set_now_ms(OPEN_PERIOD_OVER + 10_000);
    (breaker, hung)
}

/// A hung trial's place is taken over while the hung trial finishes (fails). Either the
/// failure lands first and reopens the breaker (the taker is then rejected with the new open
/// period), or the taker starts a new half-open phase and the late failure is ignored: the
/// taker's success closes the breaker.
#[test]
fn takeover_racing_the_hung_trials_outcome() {
    model(|| {
        let (breaker, hung) = with_hung_trial();
        let late = thread::spawn(move || hung.failure());
        let taker = thread::spawn(move || match breaker.try_acquire() {
            Ok(permit) => {
                permit.success();
                true
            }
            Err(Rejected::CircuitOpen { retry_after, .. }) => {
                assert_eq!(retry_after, Some(std::time::Duration::from_secs(10)));
                false
            }
            Err(other) => panic!("unexpected {other:?}"),
        });
        late.join().unwrap();
        let took_over = taker.join().unwrap();
        match breaker.loom_snapshot() {
            // half-open #2 -> half-open #3 (taken over) -> closed #4
            (4, 0) if took_over => assert_eq!(breaker.state(), BreakerState::Closed),
            // half-open #2 -> open #3, until 30 000 ms
            (3, deadline) if !took_over => {
                assert_eq!(breaker.state(), BreakerState::Open);
                assert_eq!(deadline, OPEN_PERIOD_OVER + 20_000);
            }
            other => panic!("impossible state {other:?} (took over: {took_over})"),
        }
    });
}

/// Two callers find the hung trial's place due for a takeover at once: exactly one of them
/// takes it, and the other, whether it reads the word before or after the takeover, does not
/// take the new trial's place in turn (the takeover deadline is written before the word that
/// counts the new trial, and read after it).
#[test]
fn two_callers_race_to_take_over_a_hung_trial() {
    model(|| {
        let (breaker, hung) = with_hung_trial();
        std::mem::forget(hung); // never finishes
        let threads: Vec<_> = (0..2)
            .map(|_| thread::spawn(move || take_and_keep(breaker)))
            .collect();
        let admitted = threads
            .into_iter()
            .map(|t| t.join().unwrap())
            .filter(|&admitted| admitted)
            .count();
        assert_eq!(admitted, 1);
        // half-open #2 -> half-open #3: one trial admitted, none succeeded.
        assert_eq!(breaker.loom_snapshot(), (3, 1));
        assert!(
            breaker.try_acquire().is_err(),
            "the new trial holds its place for an open period"
        );
        breaker.loom_set_now_ms(OPEN_PERIOD_OVER + 20_000);
        assert!(breaker.try_acquire().is_ok(), "and then no longer");
    });
}

// ---------------------------------------------------------------------------------------------
// The failure-rate window. Windows of 2 fit one ring word, so a failure's count of the bits
// sees every failure recorded before it (the bits are one location, updated by
// read-modify-writes); wider windows accept the races described in the module docs.

/// A failure-rate breaker over the last `window` calls that opens only when all of them
/// failed (and at least `window` are recorded).
fn rate_breaker(window: u32) -> Arc<CircuitBreaker> {
    Arc::new(CircuitBreaker::new(
        BreakerConfig::new(InstanceName::given("loom")).with_policy(TripPolicy::FailureRate {
            failure_rate: 1.0,
            window,
            min_calls: window,
        }),
    ))
}

/// Records `outcomes` in order on this thread (`true` = failure).
fn record(breaker: &CircuitBreaker, outcomes: &[bool]) {
    for &failed in outcomes {
        let permit = breaker.try_acquire().expect("closed");
        if failed {
            permit.failure();
        } else {
            permit.success();
        }
    }
}

/// Records a success and a failure on two threads at once, and waits for both.
fn race_a_success_and_a_failure(breaker: &Arc<CircuitBreaker>) {
    let success = {
        let breaker = breaker.clone();
        thread::spawn(move || record(&breaker, &[false]))
    };
    let failure = {
        let breaker = breaker.clone();
        thread::spawn(move || record(&breaker, &[true]))
    };
    success.join().unwrap();
    failure.join().unwrap();
}

/// A success racing a failure while the window is full of successes: the success may be
/// absorbed (nothing written) or recorded, on loads that may or may not see the failure; in
/// every interleaving the failure is counted exactly once and the breaker stays closed.
#[test]
fn absorbed_success_racing_a_failure_keeps_the_count_exact() {
    model(|| {
        let breaker = rate_breaker(2);
        record(&breaker, &[false, false]);
        assert_eq!(breaker.loom_ring(), (2, 0));
        race_a_success_and_a_failure(&breaker);
        let (position, failures) = breaker.loom_ring();
        assert_eq!(failures, 1, "the failure is in the last two outcomes");
        assert!(
            (2..4).contains(&position),
            "position {position} out of [window, 2 * window)"
        );
        assert_eq!(breaker.state(), BreakerState::Closed);
    });
}

/// A success that clears the window's last failure bit, and so marks the word absorbing,
/// racing a new failure: whichever writes the state word first, the mark is never left set
/// over the failure's bit (`window.rs`, "Starting and stopping"). Were it left set, the
/// successes after it would be absorbed over a failure that never leaves the window.
#[test]
fn success_starting_to_absorb_racing_a_failure_never_leaves_the_mark() {
    model(|| {
        // A window of 3, so no evaluation can find every outcome failed (at most two bits).
        let breaker = rate_breaker(3);
        // F S S: position 3, the failure in slot 0; the next outcome takes index 3, slot 0.
        record(&breaker, &[true, false, false]);
        assert_eq!(breaker.loom_ring(), (3, 1));
        race_a_success_and_a_failure(&breaker);
        let (_, failures) = breaker.loom_ring();
        assert_eq!(failures, 1, "one failure in the last three outcomes");
        let (_, payload) = breaker.loom_snapshot();
        assert_eq!(payload, 0, "not absorbing over a failure");
        assert_eq!(breaker.state(), BreakerState::Closed);
    });
}

/// Two failures racing across the position's step back (the first takes index
/// `2 * window - 1`): both land in distinct slots, the second of them opens the breaker
/// exactly once, and the position ends one window back.
#[test]
fn failures_across_the_position_step_trip_exactly_once() {
    model(|| {
        let breaker = rate_breaker(2);
        // S F S: position 3, the failure in slot 1.
        record(&breaker, &[false, true, false]);
        assert_eq!(breaker.loom_ring(), (3, 1));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let breaker = breaker.clone();
                thread::spawn(move || record(&breaker, &[true]))
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(breaker.state(), BreakerState::Open);
        let (generation, deadline) = breaker.loom_snapshot();
        assert_eq!(generation, 1, "exactly one transition");
        assert_eq!(deadline, OPEN_PERIOD_OVER);
        // Indices 3 and 4 (or 3 and 2, after the step): 5 - 2.
        assert_eq!(breaker.loom_ring(), (3, 2));
    });
}

/// A success whose index is `2 * window - 1` (so it steps the position back) racing a
/// `reset`, which clears the ring: the step finds the cleared position below `2 * window`
/// and leaves it alone, so the position never underflows; the success lands in the old ring,
/// or in the fresh one (it passed its generation check just before the reset), or nowhere.
#[test]
fn position_step_racing_a_clear_never_underflows() {
    model(|| {
        let breaker = rate_breaker(2);
        // S F S: position 3; the next outcome takes index 3 and clears the failure's bit.
        record(&breaker, &[false, true, false]);
        let success = {
            let breaker = breaker.clone();
            thread::spawn(move || record(&breaker, &[false]))
        };
        breaker.reset();
        success.join().unwrap();
        let (position, failures) = breaker.loom_ring();
        assert!(
            position <= 1,
            "position {position} after a clear: underflow?"
        );
        assert_eq!(failures, 0);
        assert_eq!(breaker.state(), BreakerState::Closed);
        // The fresh window works: two failures open it.
        record(&breaker, &[true, true]);
        assert_eq!(breaker.state(), BreakerState::Open);
    });
}

/// A fast success racing a slow one while the window (2) is full of fast successes, with a
/// slow rate of 0.5: the fast one may be absorbed (nothing written) or recorded, on loads
/// that may or may not see the slow bit, but never absorbs the slow one or clears its bit
/// (the two take distinct slots). The slow success sees its own bit: it opens the breaker,
/// exactly once (the fast call, if it comes after, is rejected), and its bit is counted
/// exactly once.
#[test]
fn absorbed_success_racing_a_slow_success_keeps_the_slow_count_exact() {
    model(|| {
        // Leaked so the held permit can move to a thread (`'static`).
        let breaker: &'static CircuitBreaker = Box::leak(Box::new(CircuitBreaker::new(
            BreakerConfig::new(InstanceName::given("loom"))
                .with_policy(TripPolicy::FailureRate {
                    failure_rate: 1.0,
                    window: 2,
                    min_calls: 2,
                })
                .with_slow_call(std::time::Duration::from_millis(1))
                .with_slow_call_rate(0.5),
        )));
        record(breaker, &[false, false]);
        assert_eq!(breaker.loom_ring(), (2, 0));
        let slow = breaker.try_acquire().expect("closed");
        breaker.loom_set_now_ms(5); // the held call has run 5 ms, over `slow_call`
        let slow = thread::spawn(move || slow.success());
        // Rejected if the slow success has already opened the breaker.
        let fast = thread::spawn(move || {
            if let Ok(permit) = breaker.try_acquire() {
                permit.success();
            }
        });
        slow.join().unwrap();
        fast.join().unwrap();
        assert_eq!(breaker.loom_slow_bits(), 1, "the slow success, once");
        assert_eq!(breaker.state(), BreakerState::Open);
        let (generation, _) = breaker.loom_snapshot();
        assert_eq!(generation, 1, "exactly one transition");
    });
}

// ---------------------------------------------------------------------------------------------
// The time window: 2 buckets of 1 s. Slot 0 holds buckets 0, 2, 4...; the clock is set once
// per phase (every thread of an execution reads the same time).

/// A time-window breaker over the last 2 s in 2 buckets that opens only when every call in
/// it failed (and at least 2 are recorded).
fn time_breaker() -> Arc<CircuitBreaker> {
    Arc::new(CircuitBreaker::new(
        BreakerConfig::new(InstanceName::given("loom")).with_policy(TripPolicy::TimeWindow {
            failure_rate: 1.0,
            window: std::time::Duration::from_secs(2),
            buckets: 2,
            min_calls: 2,
        }),
    ))
}

/// Two failures racing to rotate slot 0 from bucket 0 (a success) to bucket 2: exactly one
/// rotates, the other adds to the rotated word, so the slot ends holding both failures and
/// not the old success, in every interleaving; the breaker opens at most once (an evaluation
/// may miss the other thread's call: the race the module docs accept), and the next failure
/// opens it if neither did.
#[test]
fn failures_racing_to_rotate_a_bucket_count_exactly_once() {
    model(|| {
        let breaker = time_breaker();
        record(&breaker, &[false]);
        assert_eq!(
            breaker.core.buckets(&breaker.config).words_of(0),
            [(0, 1), (0, 0)]
        );
        breaker.loom_set_now_ms(2_000);
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let breaker = breaker.clone();
                thread::spawn(move || record(&breaker, &[true]))
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(
            breaker.core.buckets(&breaker.config).words_of(0),
            [(2, 2), (2, 2)],
            "both failures in bucket 2, the success rotated out"
        );
        let (generation, _) = breaker.loom_snapshot();
        assert!(generation <= 1, "at most one transition");
        if breaker.state() == BreakerState::Closed {
            record(&breaker, &[true]);
        }
        assert_eq!(breaker.state(), BreakerState::Open);
    });
}

/// A failure rotating slot 0 racing a `reset`, which clears the buckets: each of the slot's
/// words ends empty or holding just that failure (it passed its generation check just before
/// the reset), never the old bucket's counts or a sum of old and new; the breaker stays
/// closed, and once slot 0 rotates again two failures open it.
#[test]
fn rotation_racing_a_clear_leaves_a_consistent_slot() {
    model(|| {
        let breaker = time_breaker();
        record(&breaker, &[true, false]);
        breaker.loom_set_now_ms(2_000);
        let failure = {
            let breaker = breaker.clone();
            thread::spawn(move || record(&breaker, &[true]))
        };
        breaker.reset();
        failure.join().unwrap();
        let [calls, failures] = breaker.core.buckets(&breaker.config).words_of(0);
        assert!(
            matches!(calls, (0, 0) | (2, 1)) && matches!(failures, (0, 0) | (2, 1)),
            "calls {calls:?}, failures {failures:?}"
        );
        assert_eq!(breaker.state(), BreakerState::Closed);
        // A failure whose calls word landed after the clear and failures word before it
        // leaves a call without its failure in bucket 2 (the race the module docs accept);
        // the next bucket of slot 0 rotates it out, and two failures there open the breaker.
        breaker.loom_set_now_ms(4_000);
        record(&breaker, &[true]);
        assert_eq!(breaker.state(), BreakerState::Closed, "one failure of one");
        record(&breaker, &[true]);
        assert_eq!(breaker.state(), BreakerState::Open);
    });
}

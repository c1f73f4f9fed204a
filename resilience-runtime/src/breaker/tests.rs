use std::panic::AssertUnwindSafe;
use std::pin::{pin, Pin};
use std::sync::atomic::AtomicUsize;
use std::task::Poll;

use tokio::time::advance;

use super::clock::deadline_ms;
use super::state::{Word, GEN_MASK, PAYLOAD_MAX};
use super::*;

pub(super) const SECOND: Duration = Duration::from_secs(1);
pub(super) const OPEN_FOR: Duration = Duration::from_secs(10);

pub(super) fn consecutive(threshold: u32, half_open: u32) -> BreakerConfig {
    BreakerConfig {
        policy: TripPolicy::Consecutive { threshold },
        half_open,
        ..BreakerConfig::new(InstanceName::given("test")).with_open_for(OPEN_FOR)
    }
}

pub(super) fn rate(failure_rate: f64, window: u32, min_calls: u32) -> BreakerConfig {
    BreakerConfig {
        policy: TripPolicy::FailureRate {
            failure_rate,
            window,
            min_calls,
        },
        ..consecutive(1, 1)
    }
}

/// The `retry_after` of a rejection; panics if the call is admitted.
pub(super) fn rejected(breaker: &CircuitBreaker) -> Option<Duration> {
    match breaker.try_acquire() {
        Err(Rejected::CircuitOpen {
            retry_after,
            name,
            forced,
            ..
        }) => {
            assert_eq!(name, "test");
            assert!(!forced, "not forced open");
            retry_after
        }
        Err(other) => panic!("unexpected rejection {other:?}"),
        Ok(permit) => panic!("admitted under {:?}", permit.word),
    }
}

/// Loads `entries` for `name` and applies them to `compiled`: the configuration in force and
/// the reasons of the overrides refused.
pub(super) fn overridden(
    name: &str,
    compiled: &BreakerConfig,
    entries: &[(&str, &str)],
) -> (BreakerConfig, Vec<String>) {
    let (config, refused) = crate::overrides::overridden(name, compiled, entries);
    (config, refused.into_iter().map(|e| e.reason).collect())
}

pub(super) fn fail(breaker: &CircuitBreaker) {
    breaker.try_acquire().expect("admitted").failure();
}

pub(super) fn succeed(breaker: &CircuitBreaker) {
    breaker.try_acquire().expect("admitted").success();
}

/// Runs a body through `breaker.run`, counting body runs in `runs`.
pub(super) async fn call(
    breaker: &CircuitBreaker,
    runs: &AtomicUsize,
    outcome: Result<u32, Failure<&'static str>>,
) -> Result<u32, Failure<&'static str>> {
    breaker
        .run(
            async {
                runs.fetch_add(1, Ordering::SeqCst);
                outcome
            },
            |_| true,
        )
        .await
}

#[test]
fn size_of_circuit_breaker() {
    let size = std::mem::size_of::<CircuitBreaker>();
    println!("size_of::<CircuitBreaker>() = {size}");
    println!(
        "size_of::<BreakerConfig>() = {}",
        std::mem::size_of::<BreakerConfig>()
    );
    println!(
        "size_of::<BreakerPermit>() = {}",
        std::mem::size_of::<BreakerPermit<'_>>()
    );
    let counters = if cfg!(feature = "stats") { 64 } else { 0 }; // 8 counters of 8 bytes
                                                                 // The `fleet` feature's lease and demand flags (`fleet.rs`), padded.
    let fleet = if cfg!(feature = "fleet") { 8 } else { 0 };
    assert!(
        size <= 168 + counters + fleet,
        "CircuitBreaker grew to {size} bytes"
    );
}

#[test]
fn word_layout_round_trips() {
    let word = Word::new(Tag::HalfOpen, 5, Word::trials(3, 2));
    assert_eq!(word.tag(), Tag::HalfOpen);
    assert_eq!(word.gen(), 5);
    assert_eq!((word.admitted(), word.succeeded()), (3, 2));
    let open = word.next(Tag::Open, PAYLOAD_MAX);
    assert_eq!(
        (open.tag(), open.gen(), open.payload()),
        (Tag::Open, 6, PAYLOAD_MAX)
    );
    let wrapped = Word::new(Tag::Closed, GEN_MASK, 7).next(Tag::Open, 1);
    assert_eq!(
        (wrapped.tag(), wrapped.gen(), wrapped.payload()),
        (Tag::Open, 0, 1)
    );
    assert_eq!(deadline_ms(Duration::from_micros(300), SECOND), 1001);
    assert_eq!(deadline_ms(Duration::MAX, SECOND), PAYLOAD_MAX);
}

#[tokio::test(start_paused = true)]
async fn opens_after_threshold_consecutive_failures() {
    let breaker = CircuitBreaker::new(consecutive(3, 1));
    let runs = AtomicUsize::new(0);
    for _ in 0..2 {
        assert!(matches!(
            call(&breaker, &runs, Err(Failure::Error("down"))).await,
            Err(Failure::Error("down"))
        ));
        assert_eq!(breaker.state(), BreakerState::Closed);
    }
    assert!(call(&breaker, &runs, Err(Failure::Error("down")))
        .await
        .is_err());
    assert_eq!(breaker.state(), BreakerState::Open);
    assert_eq!(runs.load(Ordering::SeqCst), 3);

    let result = call(&breaker, &runs, Ok(1)).await;
    assert!(matches!(
        result,
        Err(Failure::Rejected(Rejected::CircuitOpen {
            retry_after: Some(_),
            ..
        }))
    ));
    assert_eq!(
        runs.load(Ordering::SeqCst),
        3,
        "an open breaker does not run the body"
    );
}

#[tokio::test(start_paused = true)]
async fn open_rejects_with_retry_after() {
    let breaker = CircuitBreaker::new(consecutive(1, 1));
    fail(&breaker);
    assert_eq!(rejected(&breaker), Some(OPEN_FOR));
    advance(3 * SECOND).await;
    assert_eq!(rejected(&breaker), Some(7 * SECOND));
    advance(Duration::from_millis(6_500)).await;
    assert_eq!(rejected(&breaker), Some(Duration::from_millis(500)));
    assert_eq!(breaker.state(), BreakerState::Open);
    advance(Duration::from_millis(500)).await;
    assert_eq!(breaker.state(), BreakerState::HalfOpen);
    assert!(breaker.try_acquire().is_ok());
}

#[tokio::test(start_paused = true)]
async fn open_period_is_never_shorter_than_open_for() {
    let breaker = CircuitBreaker::new(consecutive(1, 1));
    fail(&breaker); // sets the epoch
    advance(OPEN_FOR + Duration::from_micros(300)).await;
    // The trial fails 0.3 ms past a whole millisecond: the deadline rounds up.
    fail(&breaker);
    advance(Duration::from_micros(9_999_999)).await;
    let left = rejected(&breaker).expect("open");
    assert!(
        left > Duration::ZERO && left <= Duration::from_millis(1),
        "{left:?}"
    );
    advance(Duration::from_millis(1)).await;
    assert!(breaker.try_acquire().is_ok());
}

#[tokio::test(start_paused = true)]
async fn success_resets_consecutive_count() {
    let breaker = CircuitBreaker::new(consecutive(3, 1));
    fail(&breaker);
    fail(&breaker);
    succeed(&breaker);
    fail(&breaker);
    fail(&breaker);
    assert_eq!(breaker.state(), BreakerState::Closed);
    fail(&breaker);
    assert_eq!(breaker.state(), BreakerState::Open);
}

#[tokio::test(start_paused = true)]
async fn errors_excluded_by_is_failure_count_as_success() {
    let breaker = CircuitBreaker::new(consecutive(2, 1));
    fail(&breaker);
    let result = breaker
        .run(async { Err::<(), _>(Failure::Error(404)) }, |code| {
            *code >= 500
        })
        .await;
    assert!(matches!(result, Err(Failure::Error(404))));
    fail(&breaker);
    assert_eq!(
        breaker.state(),
        BreakerState::Closed,
        "the 404 reset the count"
    );
}

#[tokio::test(start_paused = true)]
async fn half_open_after_open_for_and_closes_on_success() {
    let breaker = CircuitBreaker::new(consecutive(1, 1));
    let runs = AtomicUsize::new(0);
    assert!(call(&breaker, &runs, Err(Failure::Error("down")))
        .await
        .is_err());
    advance(OPEN_FOR).await;
    assert_eq!(breaker.state(), BreakerState::HalfOpen);
    assert_eq!(call(&breaker, &runs, Ok(7)).await.unwrap(), 7);
    assert_eq!(breaker.state(), BreakerState::Closed);
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    // Fresh counts: the next failure trips again (threshold 1), a success does not.
    assert_eq!(call(&breaker, &runs, Ok(8)).await.unwrap(), 8);
    assert_eq!(breaker.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn failed_trial_reopens_for_full_open_for() {
    let breaker = CircuitBreaker::new(consecutive(1, 1));
    let runs = AtomicUsize::new(0);
    fail(&breaker);
    advance(OPEN_FOR + 2 * SECOND).await; // a late trial
    assert!(call(&breaker, &runs, Err(Failure::Error("still down")))
        .await
        .is_err());
    assert_eq!(breaker.state(), BreakerState::Open);
    assert_eq!(
        rejected(&breaker),
        Some(OPEN_FOR),
        "a full open period again"
    );
    advance(Duration::from_millis(9_999)).await;
    assert_eq!(rejected(&breaker), Some(Duration::from_millis(1)));
    advance(Duration::from_millis(1)).await;
    assert_eq!(call(&breaker, &runs, Ok(1)).await.unwrap(), 1);
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    assert_eq!(breaker.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn half_open_admits_exactly_n_trials() {
    for n in [1_u32, 3] {
        let breaker = CircuitBreaker::new(consecutive(1, n));
        fail(&breaker);
        advance(OPEN_FOR).await;
        let mut trials: Vec<_> = (0..n)
            .map(|_| breaker.try_acquire().expect("a trial"))
            .collect();
        assert_eq!(
            rejected(&breaker),
            None,
            "n = {n}: trial {} is one too many",
            n + 1
        );
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        let last = trials.pop().unwrap();
        for trial in trials {
            trial.success();
            assert_eq!(breaker.state(), BreakerState::HalfOpen);
            assert_eq!(
                rejected(&breaker),
                None,
                "a successful trial keeps its admission"
            );
        }
        last.success();
        assert_eq!(breaker.state(), BreakerState::Closed, "n = {n}");
    }
}

#[tokio::test(start_paused = true)]
async fn trial_failure_reopens_while_other_trials_run() {
    let breaker = CircuitBreaker::new(consecutive(1, 2));
    fail(&breaker);
    advance(OPEN_FOR).await;
    let first = breaker.try_acquire().unwrap();
    let second = breaker.try_acquire().unwrap();
    first.failure();
    assert_eq!(breaker.state(), BreakerState::Open);
    second.success(); // stale: cannot close the reopened breaker
    assert_eq!(rejected(&breaker), Some(OPEN_FOR));
}

#[tokio::test(start_paused = true)]
async fn cancelled_trial_does_not_wedge() {
    let breaker = CircuitBreaker::new(consecutive(1, 1));
    let runs = AtomicUsize::new(0);
    fail(&breaker);
    advance(OPEN_FOR).await;
    // The trial's future is dropped mid-body by an outer timeout.
    let slow = breaker.run(
        async {
            runs.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok::<_, Failure<()>>(())
        },
        |()| true,
    );
    assert!(tokio::time::timeout(SECOND, slow).await.is_err());
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(breaker.state(), BreakerState::HalfOpen);
    // The admission was given back at once: the next caller is the trial.
    let trial = breaker.try_acquire().expect("not wedged");
    drop(trial); // a dropped permit is a cancellation too
    breaker.try_acquire().expect("still not wedged").success();
    assert_eq!(breaker.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn hung_trial_loses_its_place_after_open_for() {
    let breaker = CircuitBreaker::new(consecutive(1, 1));
    fail(&breaker);
    advance(OPEN_FOR).await;
    let hung = breaker.try_acquire().expect("the first trial");
    advance(Duration::from_millis(9_999)).await;
    assert_eq!(rejected(&breaker), None, "the trial still holds its place");
    advance(Duration::from_millis(1)).await;
    let trial = breaker
        .try_acquire()
        .expect("an open period later: taken over");
    assert_eq!(rejected(&breaker), None, "the new trial holds the place");
    assert_eq!(
        breaker.core.load(Ordering::SeqCst).gen(),
        3,
        "closed #0, open #1, half-open #2, half-open #3"
    );

    // The late trial decides nothing and gives nothing back.
    hung.failure();
    assert_eq!(breaker.state(), BreakerState::HalfOpen);
    assert_eq!(rejected(&breaker), None);
    trial.success();
    assert_eq!(breaker.state(), BreakerState::Closed);

    // Nor does a late trial that is dropped, or that succeeds.
    fail(&breaker);
    advance(OPEN_FOR).await;
    let dropped = breaker.try_acquire().unwrap();
    let succeeding = {
        advance(OPEN_FOR).await;
        breaker.try_acquire().expect("took over `dropped`")
    };
    advance(OPEN_FOR).await;
    let trial = breaker.try_acquire().expect("took over `succeeding`");
    drop(dropped);
    succeeding.success();
    assert_eq!(breaker.state(), BreakerState::HalfOpen);
    assert_eq!(rejected(&breaker), None, "no place was given back");
    trial.failure();
    assert_eq!(rejected(&breaker), Some(OPEN_FOR));
}

#[tokio::test(start_paused = true)]
async fn takeover_waits_an_open_period_after_the_latest_admission() {
    let breaker = CircuitBreaker::new(consecutive(1, 2));
    fail(&breaker);
    advance(OPEN_FOR).await;
    let hung = breaker.try_acquire().unwrap();
    let cancelled = breaker.try_acquire().unwrap();
    advance(5 * SECOND).await;
    drop(cancelled); // gives its place back
    let recent = breaker.try_acquire().expect("the place given back");
    advance(5 * SECOND).await;
    // `hung` has run for an open period, but `recent` only for half of one.
    assert_eq!(rejected(&breaker), None);
    advance(5 * SECOND).await;
    let first = breaker
        .try_acquire()
        .expect("both ran an open period: taken over");
    let second = breaker.try_acquire().expect("the new phase's second place");
    assert_eq!(rejected(&breaker), None);
    // The old phase's trials decide nothing: the new phase needs its own two successes.
    recent.success();
    hung.success();
    first.success();
    assert_eq!(breaker.state(), BreakerState::HalfOpen);
    second.success();
    assert_eq!(breaker.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn stale_permit_ignored_after_transition() {
    let breaker = CircuitBreaker::new(consecutive(2, 1));
    let slow = breaker.try_acquire().unwrap(); // admitted while closed, generation 0
    fail(&breaker);
    fail(&breaker);
    advance(OPEN_FOR).await;
    let trial = breaker.try_acquire().unwrap();
    slow.failure(); // finishes during the half-open phase: ignored
    assert_eq!(breaker.state(), BreakerState::HalfOpen);
    assert_eq!(rejected(&breaker), None);

    trial.success();
    assert_eq!(breaker.state(), BreakerState::Closed);

    // A closed-phase success from before a reset cannot clear the new count.
    fail(&breaker); // count 1
    let stale_success = breaker.try_acquire().unwrap(); // sees count 1
    breaker.reset(); // a new generation
    fail(&breaker); // count 1 in the new generation
    stale_success.success(); // stale: must not reset the new count
    fail(&breaker);
    assert_eq!(breaker.state(), BreakerState::Open);
}

fn explode() -> Result<(), Failure<()>> {
    panic!("the body panicked")
}

#[tokio::test(start_paused = true)]
async fn panic_in_run_counts_as_failure() {
    static BREAKER: CircuitBreaker = CircuitBreaker::new(BreakerConfig {
        policy: TripPolicy::Consecutive { threshold: 1 },
        ..BreakerConfig::new(InstanceName::given("test"))
    });
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let task = tokio::spawn(BREAKER.run(
        async {
            RUNS.fetch_add(1, Ordering::SeqCst);
            tokio::task::yield_now().await;
            explode()
        },
        |()| true,
    ));
    let err = task.await.expect_err("the panic propagates");
    assert!(err.is_panic());
    assert_eq!(
        err.into_panic().downcast_ref::<&str>(),
        Some(&"the body panicked")
    );
    assert_eq!(RUNS.load(Ordering::SeqCst), 1);
    assert_eq!(
        BREAKER.state(),
        BreakerState::Open,
        "the panic was a failure"
    );
}

#[test]
fn panic_while_holding_permit_counts_as_failure() {
    let breaker = CircuitBreaker::new(consecutive(1, 1));
    let caught = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let _permit = breaker.try_acquire().unwrap();
        panic!("unwinding drops the permit");
    }));
    assert!(caught.is_err());
    assert_eq!(breaker.core.load(Ordering::SeqCst).tag(), Tag::Open);
}

#[tokio::test(start_paused = true)]
async fn failure_rate_window_respects_min_calls() {
    let breaker = CircuitBreaker::new(rate(0.5, 10, 5));
    for _ in 0..4 {
        fail(&breaker);
    }
    assert_eq!(
        breaker.state(),
        BreakerState::Closed,
        "4 calls < min_calls 5"
    );
    fail(&breaker);
    assert_eq!(breaker.state(), BreakerState::Open);

    let breaker = CircuitBreaker::new(rate(0.5, 10, 5));
    for _ in 0..4 {
        succeed(&breaker);
    }
    fail(&breaker);
    assert_eq!(breaker.state(), BreakerState::Closed, "1 of 5 failed");
}

#[tokio::test(start_paused = true)]
async fn failure_rate_opens_at_rate() {
    let breaker = CircuitBreaker::new(rate(0.75, 4, 4));
    // F F S S S F: the window slides; the last 4 are S S S F.
    for failed in [true, true, false, false, false, true] {
        if failed {
            fail(&breaker);
        } else {
            succeed(&breaker);
        }
    }
    assert_eq!(
        breaker.state(),
        BreakerState::Closed,
        "1 of the last 4 failed"
    );
    fail(&breaker); // S S F F
    assert_eq!(breaker.state(), BreakerState::Closed, "2 of 4 < 0.75");
    fail(&breaker); // S F F F
    assert_eq!(breaker.state(), BreakerState::Open, "3 of 4 >= 0.75");

    // Ignored and cancelled calls are not recorded.
    advance(OPEN_FOR).await;
    succeed(&breaker); // the trial closes the breaker and clears the window
    assert_eq!(breaker.state(), BreakerState::Closed);
    for _ in 0..3 {
        fail(&breaker);
        breaker.try_acquire().unwrap().ignore();
        drop(breaker.try_acquire().unwrap());
    }
    assert_eq!(
        breaker.state(),
        BreakerState::Closed,
        "3 recorded < min_calls 4"
    );
    fail(&breaker);
    assert_eq!(breaker.state(), BreakerState::Open);
}

#[tokio::test(start_paused = true)]
async fn failure_rate_success_reaching_min_calls_opens_at_rate() {
    // MicroProfile's testRollingWindowCircuitOpen, resilience4j's
    // shouldOpenAfterFailureRateThresholdExceeded: S F F S at 0.5 over 4.
    let breaker = CircuitBreaker::new(rate(0.5, 4, 4));
    let runs = AtomicUsize::new(0);
    for outcome in [
        Ok(1),
        Err(Failure::Error("down")),
        Err(Failure::Error("down")),
    ] {
        let _ = call(&breaker, &runs, outcome).await;
        assert_eq!(
            breaker.state(),
            BreakerState::Closed,
            "fewer than min_calls"
        );
    }
    assert_eq!(call(&breaker, &runs, Ok(4)).await.unwrap(), 4);
    assert_eq!(breaker.state(), BreakerState::Open, "2 of 4 >= 0.5");
    assert!(matches!(
        call(&breaker, &runs, Ok(5)).await,
        Err(Failure::Rejected(Rejected::CircuitOpen {
            retry_after: Some(OPEN_FOR),
            ..
        }))
    ));
    assert_eq!(
        runs.load(Ordering::SeqCst),
        4,
        "the rejected body did not run"
    );

    // min_calls below the window: the success bringing the count to min_calls decides.
    let breaker = CircuitBreaker::new(rate(0.5, 10, 4));
    fail(&breaker);
    fail(&breaker);
    succeed(&breaker);
    assert_eq!(breaker.state(), BreakerState::Closed);
    succeed(&breaker);
    assert_eq!(breaker.state(), BreakerState::Open, "2 of 4 >= 0.5");

    // Below the rate, it does not; nor do the successes after it.
    let breaker = CircuitBreaker::new(rate(0.5, 4, 4));
    for _ in 0..3 {
        succeed(&breaker);
    }
    fail(&breaker);
    for _ in 0..10 {
        succeed(&breaker);
    }
    assert_eq!(breaker.state(), BreakerState::Closed);
}

/// The ring against a plain list of the last `window` outcomes, for sequences that cross
/// the position's step back many times and alternate long runs of successes (absorbed
/// without a write) with bursts of failures.
#[test]
fn failure_rate_ring_counts_the_last_window_outcomes_exactly() {
    for window in [1_u32, 2, 3, 63, 64, 65, 100, 200] {
        let core = Core::new();
        let config = rate(0.5, window, window);
        let ring = core.ring(&config);
        let mut last = std::collections::VecDeque::new();
        let mut absorbed = 0;
        let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
        for n in 0..(20 * window + 2000) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let failed = (n / (3 * window + 50)) % 2 == 1 && seed % 3 == 0;
            // What `Core::record` does with a closed permit of the current generation.
            if !failed && ring.all_successes(window) {
                absorbed += 1;
            } else {
                let index = ring.push(window, failed, false);
                assert!(
                    index < 2 * u64::from(window),
                    "window {window}: index {index}"
                );
            }
            last.push_back(failed);
            if last.len() > window as usize {
                last.pop_front();
            }
            let position = ring.position().load(Ordering::Relaxed);
            let failures: u32 = ring
                .bits()
                .iter()
                .map(|word| word.load(Ordering::Relaxed).count_ones())
                .sum();
            let expected = last.iter().filter(|&&failed| failed).count();
            assert_eq!(failures as usize, expected, "window {window}, outcome {n}");
            assert_eq!(
                position.min(u64::from(window)),
                last.len() as u64,
                "window {window}, outcome {n}: recorded"
            );
            assert!(position < 2 * u64::from(window));
        }
        assert!(absorbed > 0, "window {window}: the absorbing path ran");
    }
}

/// The state word says when the ring absorbs successes: from the success that leaves a full
/// window with no failure in it until the next failure. An absorbed success writes nothing
/// (the position stays); any other is written.
#[test]
fn failure_rate_word_absorbs_exactly_while_the_window_holds_only_successes() {
    let breaker = CircuitBreaker::new(rate(0.5, 4, 4));
    let observe = || {
        let ring = breaker.core.ring(&breaker.config);
        let failures: u32 = ring
            .bits()
            .iter()
            .map(|word| word.load(Ordering::Relaxed).count_ones())
            .sum();
        let absorbing = breaker.core.load(Ordering::Relaxed).payload() == 1;
        (ring.position().load(Ordering::Relaxed), failures, absorbing)
    };
    for n in 1..=3 {
        succeed(&breaker);
        assert_eq!(observe(), (n, 0, false), "the window is not full yet");
    }
    succeed(&breaker);
    assert_eq!(observe(), (4, 0, true), "full of successes: absorbing");
    succeed(&breaker);
    assert_eq!(observe(), (4, 0, true), "absorbed: nothing written");
    fail(&breaker);
    assert_eq!(observe(), (5, 1, false), "the failure stops it");
    // The third steps the position back a window (index 7 = 2 * window - 1).
    for position in [6, 7, 4] {
        succeed(&breaker);
        assert_eq!(
            observe(),
            (position, 1, false),
            "the failure is in the window"
        );
    }
    succeed(&breaker);
    assert_eq!(
        observe(),
        (5, 0, true),
        "the success over the failure's slot (index 4 again) starts it again"
    );
    succeed(&breaker);
    assert_eq!(observe(), (5, 0, true));
    assert_eq!(breaker.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn failure_rate_window_larger_than_one_word() {
    let breaker = CircuitBreaker::new(rate(0.5, 200, 200));
    for _ in 0..100 {
        succeed(&breaker);
    }
    for _ in 0..99 {
        fail(&breaker);
    }
    assert_eq!(breaker.state(), BreakerState::Closed, "199 < min_calls");
    fail(&breaker);
    assert_eq!(breaker.state(), BreakerState::Open, "100 of 200");
}

#[tokio::test(start_paused = true)]
async fn timed_out_counts_as_failure_and_bulkhead_full_is_ignored() {
    let breaker = CircuitBreaker::new(consecutive(2, 1));
    let runs = AtomicUsize::new(0);
    for _ in 0..10 {
        let limited = Failure::Rejected(Rejected::rate_limited("api", SECOND));
        assert!(matches!(
            call(&breaker, &runs, Err(limited)).await,
            Err(Failure::Rejected(Rejected::RateLimited { .. }))
        ));
        let full = Failure::Rejected(Rejected::bulkhead_full("db", 4));
        assert!(matches!(
            call(&breaker, &runs, Err(full)).await,
            Err(Failure::Rejected(Rejected::BulkheadFull { .. }))
        ));
        let inner_open = Failure::Rejected(Rejected::circuit_open("inner", None));
        assert!(call(&breaker, &runs, Err(inner_open)).await.is_err());
    }
    assert_eq!(breaker.state(), BreakerState::Closed);
    for _ in 0..2 {
        let timed_out = Failure::Rejected(Rejected::timed_out("slow", SECOND));
        assert!(matches!(
            call(&breaker, &runs, Err(timed_out)).await,
            Err(Failure::Rejected(Rejected::TimedOut { .. }))
        ));
    }
    assert_eq!(breaker.state(), BreakerState::Open);
    assert_eq!(runs.load(Ordering::SeqCst), 32);

    // A half-open trial turned away by an inner bulkhead gives its admission back.
    advance(OPEN_FOR).await;
    let full = Failure::Rejected(Rejected::bulkhead_full("db", 4));
    assert!(call(&breaker, &runs, Err(full)).await.is_err());
    assert_eq!(breaker.state(), BreakerState::HalfOpen);
    assert_eq!(call(&breaker, &runs, Ok(5)).await.unwrap(), 5);
    assert_eq!(breaker.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn force_open_and_force_closed() {
    let breaker = CircuitBreaker::new(consecutive(1, 1));
    let runs = AtomicUsize::new(0);
    let running = breaker.try_acquire().unwrap();
    breaker.force_open();
    assert_eq!(breaker.state(), BreakerState::ForcedOpen);
    running.failure(); // stale
    assert_eq!(
        breaker.try_acquire().unwrap_err(),
        Rejected::circuit_forced_open("test")
    );
    advance(OPEN_FOR * 100).await;
    assert!(call(&breaker, &runs, Ok(1)).await.is_err());
    assert_eq!(runs.load(Ordering::SeqCst), 0);

    breaker.force_closed();
    assert_eq!(breaker.state(), BreakerState::ForcedClosed);
    for _ in 0..10 {
        assert!(call(&breaker, &runs, Err(Failure::Error("down")))
            .await
            .is_err());
    }
    assert_eq!(
        breaker.state(),
        BreakerState::ForcedClosed,
        "forced closed never trips"
    );
    assert_eq!(runs.load(Ordering::SeqCst), 10);

    breaker.reset();
    assert_eq!(breaker.state(), BreakerState::Closed);
    fail(&breaker);
    assert_eq!(breaker.state(), BreakerState::Open);
    breaker.reset();
    assert_eq!(breaker.state(), BreakerState::Closed);
    succeed(&breaker);
    breaker.force_open();
    breaker.force_closed();
    assert!(breaker.try_acquire().is_ok());
}

#[test]
fn run_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    static BREAKER: CircuitBreaker =
        CircuitBreaker::new(BreakerConfig::new(InstanceName::given("send")));
    let fut = BREAKER.run(async { Ok::<_, Failure<String>>(1) }, |_| true);
    assert_send(&fut);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Settled {
    Succeeded,
    Failed,
    Rejected,
    Cancelled,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_thousand_concurrent_calls_are_all_accounted_for() {
    const TOTAL: usize = 20_000;
    static BREAKER: CircuitBreaker = CircuitBreaker::new(BreakerConfig {
        policy: TripPolicy::Consecutive { threshold: 4 },
        half_open: 2,
        ..BreakerConfig::new(InstanceName::given("test")).with_open_for(Duration::from_millis(1))
    });
    static STARTED: AtomicUsize = AtomicUsize::new(0);

    let tasks: Vec<_> = (0..TOTAL)
        .map(|i| {
            tokio::spawn(async move {
                let body = async move {
                    STARTED.fetch_add(1, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                    if i % 5 == 0 {
                        Err(Failure::Error(i))
                    } else {
                        Ok(i)
                    }
                };
                let mut run: Pin<&mut _> = pin!(BREAKER.run(body, |_| true));
                let result = if i % 11 == 0 {
                    // Poll once, then drop the call mid-body.
                    match std::future::poll_fn(|cx| Poll::Ready(run.as_mut().poll(cx))).await {
                        Poll::Pending => return Settled::Cancelled,
                        Poll::Ready(result) => result,
                    }
                } else {
                    run.await
                };
                match result {
                    Ok(_) => Settled::Succeeded,
                    Err(Failure::Error(_)) => Settled::Failed,
                    Err(Failure::Rejected(Rejected::CircuitOpen { .. })) => Settled::Rejected,
                    Err(Failure::Rejected(other)) => panic!("unexpected {other:?}"),
                }
            })
        })
        .collect();

    let mut counts = [0_usize; 4];
    let all = async {
        for task in tasks {
            counts[task.await.expect("no panic") as usize] += 1;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), all)
        .await
        .expect("no deadlock");
    let [succeeded, failed, rejected, cancelled] = counts;
    let started = STARTED.load(Ordering::SeqCst);
    println!(
        "{TOTAL} calls: {succeeded} succeeded, {failed} failed, {rejected} rejected, \
         {cancelled} cancelled; final {:?}",
        BREAKER.core.load(Ordering::SeqCst)
    );
    assert_eq!(succeeded + failed + rejected + cancelled, TOTAL);
    assert_eq!(
        started,
        succeeded + failed + cancelled,
        "admitted calls ran once each"
    );
    assert_eq!(started + rejected, TOTAL);
    assert!(succeeded > 0 && failed > 0);

    // Nothing leaked: no trial is still counted as running.
    let word = BREAKER.core.load(Ordering::SeqCst);
    match word.tag() {
        Tag::HalfOpen => {
            assert_eq!(
                word.admitted(),
                word.succeeded(),
                "leaked trial in {word:?}"
            );
            BREAKER
                .try_acquire()
                .expect("a trial is admitted")
                .success();
        }
        Tag::Open => {
            let retry_after = rejected_any(&BREAKER).expect("open");
            assert!(retry_after <= Duration::from_millis(1));
        }
        Tag::Closed => {}
        other => panic!("unexpected state {other:?}"),
    }
}

fn rejected_any(breaker: &CircuitBreaker) -> Option<Duration> {
    match breaker.try_acquire() {
        Err(Rejected::CircuitOpen { retry_after, .. }) => retry_after,
        _ => Some(Duration::ZERO), // the open period ended meanwhile
    }
}

//! Slow calls (`slow_call`, `slow_call_rate`): a slow call is a failure to a consecutive
//! breaker and to a half-open trial, and a failure-rate window also opens on its slow
//! fraction; the boundary, `min_calls`, the sizes, the ring against a reference, overrides.

use std::sync::atomic::AtomicUsize;

use tokio::time::{advance, sleep};

use super::clock::{is_slow, start_stamp};
use super::state::PAYLOAD_MAX;
use super::tests::{consecutive, fail, overridden, rate, rejected, succeed, OPEN_FOR, SECOND};
use super::*;
use crate::overrides::configure;

const MS: Duration = Duration::from_millis(1);
const SLOW: Duration = Duration::from_secs(2);

/// Runs a body that takes `took` and returns `outcome`, counting body runs in `runs`.
async fn taking(
    breaker: &CircuitBreaker,
    runs: &AtomicUsize,
    took: Duration,
    outcome: Result<u32, Failure<&'static str>>,
) -> Result<u32, Failure<&'static str>> {
    breaker
        .run(
            async {
                runs.fetch_add(1, Ordering::SeqCst);
                sleep(took).await;
                outcome
            },
            |_| true,
        )
        .await
}

/// A permit held for `took` of (paused) time, then settled as a success.
async fn succeed_after(breaker: &CircuitBreaker, took: Duration) {
    let permit = breaker.try_acquire().expect("admitted");
    advance(took).await;
    permit.success();
}

#[tokio::test(start_paused = true)]
async fn slow_successes_open_a_consecutive_breaker_after_threshold() {
    let breaker = CircuitBreaker::new(consecutive(3, 1).with_slow_call(SLOW));
    let runs = AtomicUsize::new(0);
    for _ in 0..2 {
        assert!(matches!(
            taking(&breaker, &runs, 3 * SECOND, Ok(7)).await,
            Ok(7)
        ));
    }
    assert_eq!(
        breaker.state(),
        BreakerState::Closed,
        "two slow calls of three"
    );
    assert!(matches!(
        taking(&breaker, &runs, 3 * SECOND, Ok(7)).await,
        Ok(7)
    ));
    assert_eq!(breaker.state(), BreakerState::Open);
    let rejection = taking(&breaker, &runs, MS, Ok(7)).await;
    assert!(matches!(
        rejection,
        Err(Failure::Rejected(Rejected::CircuitOpen { .. }))
    ));
    assert_eq!(
        runs.load(Ordering::SeqCst),
        3,
        "the open breaker ran nothing"
    );
}

#[tokio::test(start_paused = true)]
async fn a_fast_success_still_resets_and_a_slow_failure_counts_once() {
    let breaker = CircuitBreaker::new(consecutive(2, 1).with_slow_call(SLOW));
    let runs = AtomicUsize::new(0);
    assert!(
        taking(&breaker, &runs, 3 * SECOND, Err(Failure::Error("down")))
            .await
            .is_err()
    );
    assert_eq!(
        breaker.state(),
        BreakerState::Closed,
        "one failure, not two"
    );
    assert!(matches!(
        taking(&breaker, &runs, SECOND, Ok(1)).await,
        Ok(1)
    ));
    assert!(taking(&breaker, &runs, SECOND, Err(Failure::Error("down")))
        .await
        .is_err());
    assert_eq!(
        breaker.state(),
        BreakerState::Closed,
        "the fast success reset it"
    );
    assert!(matches!(
        taking(&breaker, &runs, 3 * SECOND, Ok(1)).await,
        Ok(1)
    ));
    assert_eq!(
        breaker.state(),
        BreakerState::Open,
        "F, then a slow success"
    );
    assert_eq!(runs.load(Ordering::SeqCst), 4);
}

#[tokio::test(start_paused = true)]
async fn a_call_exactly_at_slow_call_is_not_slow_and_one_ms_over_is() {
    let breaker = CircuitBreaker::new(consecutive(1, 1).with_slow_call(SLOW));
    let runs = AtomicUsize::new(0);
    assert!(matches!(taking(&breaker, &runs, SLOW, Ok(1)).await, Ok(1)));
    succeed_after(&breaker, SLOW).await;
    assert_eq!(breaker.state(), BreakerState::Closed, "exactly slow_call");
    assert!(matches!(
        taking(&breaker, &runs, SLOW + MS, Ok(1)).await,
        Ok(1)
    ));
    assert_eq!(breaker.state(), BreakerState::Open, "1 ms over");
    assert_eq!(runs.load(Ordering::SeqCst), 2);

    // The same boundary through a permit, after the clock has run for a while.
    let breaker = CircuitBreaker::new(consecutive(1, 1).with_slow_call(SLOW));
    advance(Duration::from_millis(12_345)).await;
    succeed_after(&breaker, SLOW).await;
    assert_eq!(breaker.state(), BreakerState::Closed);
    succeed_after(&breaker, SLOW + MS).await;
    assert_eq!(breaker.state(), BreakerState::Open);
}

#[test]
fn durations_are_measured_across_the_stamps_wrap() {
    let slow_ns = 2_000_000_000;
    // Started 1 µs before the stamp wraps (2^40 µs after the epoch), ended 2 s later.
    let start = PAYLOAD_MAX;
    let before_wrap = Duration::from_micros(PAYLOAD_MAX);
    assert_eq!(start_stamp(before_wrap), start);
    assert!(!is_slow(start, before_wrap + SLOW, slow_ns));
    assert!(is_slow(start, before_wrap + SLOW + MS, slow_ns));
    // Sub-microsecond readings: never slow at `slow_call`, always 2 µs over it.
    let start = start_stamp(Duration::from_nanos(999));
    assert!(!is_slow(start, Duration::from_nanos(999) + SLOW, slow_ns));
    let two_us = Duration::from_micros(2);
    assert!(is_slow(
        start,
        Duration::from_nanos(999) + SLOW + two_us,
        slow_ns
    ));
}

#[tokio::test(start_paused = true)]
async fn the_slow_rate_opens_a_window_breaker_the_failure_rate_would_not() {
    let config = rate(0.5, 4, 4)
        .with_slow_call(SLOW)
        .with_slow_call_rate(0.5);
    let breaker = CircuitBreaker::new(config);
    let runs = AtomicUsize::new(0);
    for took in [3 * SECOND, 3 * SECOND, SECOND] {
        assert!(matches!(taking(&breaker, &runs, took, Ok(1)).await, Ok(1)));
    }
    assert_eq!(
        breaker.state(),
        BreakerState::Closed,
        "3 recorded < min_calls 4"
    );
    assert_eq!(breaker.slow_rate(), Some(2.0 / 3.0));
    assert!(matches!(
        taking(&breaker, &runs, SECOND, Ok(1)).await,
        Ok(1)
    ));
    assert_eq!(
        breaker.state(),
        BreakerState::Open,
        "2 slow of 4, no failure"
    );
    assert_eq!(runs.load(Ordering::SeqCst), 4);

    // The same calls without `slow_call`: no failure, so it stays closed.
    let breaker = CircuitBreaker::new(rate(0.5, 4, 4));
    for took in [3 * SECOND, 3 * SECOND, SECOND, SECOND] {
        assert!(matches!(taking(&breaker, &runs, took, Ok(1)).await, Ok(1)));
    }
    assert_eq!(breaker.state(), BreakerState::Closed);
    assert_eq!(breaker.slow_rate(), None, "no slow_call, no slow rate");
}

#[tokio::test(start_paused = true)]
async fn the_slow_rate_respects_min_calls_and_its_default_is_every_call() {
    // Default slow_call_rate 1.0; failure rate out of reach.
    let breaker = CircuitBreaker::new(rate(1.0, 10, 5).with_slow_call(SLOW));
    for _ in 0..4 {
        succeed_after(&breaker, 3 * SECOND).await;
    }
    assert_eq!(
        breaker.state(),
        BreakerState::Closed,
        "4 recorded < min_calls 5"
    );
    assert_eq!(breaker.slow_rate(), Some(1.0));
    succeed_after(&breaker, 3 * SECOND).await;
    assert_eq!(breaker.state(), BreakerState::Open, "5 slow of 5");

    // One fast call in the window keeps a rate of 1.0 from being reached.
    let breaker = CircuitBreaker::new(rate(1.0, 10, 5).with_slow_call(SLOW));
    succeed(&breaker);
    for _ in 0..9 {
        succeed_after(&breaker, 3 * SECOND).await;
    }
    assert_eq!(breaker.state(), BreakerState::Closed, "9 slow of 10");
    succeed_after(&breaker, 3 * SECOND).await;
    assert_eq!(
        breaker.state(),
        BreakerState::Open,
        "the fast one left the window"
    );
}

#[tokio::test(start_paused = true)]
async fn a_success_reaching_min_calls_opens_on_the_slow_rate_reached_before() {
    let breaker = CircuitBreaker::new(
        rate(0.5, 4, 4)
            .with_slow_call(SLOW)
            .with_slow_call_rate(0.5),
    );
    succeed(&breaker);
    succeed_after(&breaker, 3 * SECOND).await;
    succeed_after(&breaker, 3 * SECOND).await;
    assert_eq!(breaker.state(), BreakerState::Closed);
    succeed(&breaker); // fast, the fourth
    assert_eq!(breaker.state(), BreakerState::Open);
}

#[tokio::test(start_paused = true)]
async fn a_slow_half_open_trial_fails_the_trial() {
    for config in [consecutive(1, 1), rate(0.5, 4, 1)] {
        let breaker = CircuitBreaker::new(config.with_slow_call(SLOW));
        fail(&breaker);
        advance(OPEN_FOR).await;
        succeed_after(&breaker, 3 * SECOND).await;
        assert_eq!(
            rejected(&breaker),
            Some(OPEN_FOR),
            "reopened by a slow success"
        );
        advance(OPEN_FOR).await;
        succeed_after(&breaker, SECOND).await;
        assert_eq!(
            breaker.state(),
            BreakerState::Closed,
            "a fast trial closes it"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn slow_ignored_and_cancelled_calls_record_nothing() {
    let breaker = CircuitBreaker::new(consecutive(1, 1).with_slow_call(SLOW));
    let permit = breaker.try_acquire().unwrap();
    advance(3 * SECOND).await;
    permit.ignore();
    let permit = breaker.try_acquire().unwrap();
    advance(3 * SECOND).await;
    drop(permit);
    assert_eq!(breaker.state(), BreakerState::Closed);
    fail(&breaker);
    assert_eq!(
        breaker.state(),
        BreakerState::Open,
        "and failures still count"
    );
}

#[test]
fn slow_calls_leave_the_permit_and_the_future_their_size() {
    static PLAIN: CircuitBreaker =
        CircuitBreaker::new(BreakerConfig::new(InstanceName::given("plain")));
    static TIMED: CircuitBreaker =
        CircuitBreaker::new(BreakerConfig::new(InstanceName::given("timed")).with_slow_call(SLOW));
    // Measured before slow calls: a permit of 16 bytes, a run of a 1-byte future 32.
    assert_eq!(std::mem::size_of::<BreakerPermit<'_>>(), 16);
    for breaker in [&PLAIN, &TIMED] {
        let run = breaker.run(async { Ok::<u32, Failure<()>>(1) }, |(): &()| true);
        assert_eq!(std::mem::size_of_val(&run), 32);
    }
}

/// The ring's two bit arrays against a plain list of the last `window` outcomes.
#[test]
fn slow_bits_count_the_last_window_outcomes_exactly() {
    for window in [1_u32, 3, 64, 65, 130] {
        let core = Core::new();
        let config = rate(0.5, window, window).with_slow_call(SLOW);
        let ring = core.ring(&config);
        let mut last = std::collections::VecDeque::new();
        let mut seed = 0x2545_F491_4F6C_DD1D_u64;
        for n in 0..(10 * window + 500) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let burst = (n / (2 * window + 30)) % 2 == 1;
            let (failed, slow) = (burst && seed % 3 == 0, burst && seed % 5 < 2);
            // What `Core::record` does with a closed permit of the current generation.
            if failed || slow || !ring.all_successes(window) {
                ring.push(window, failed, slow);
            }
            last.push_back((failed, slow));
            if last.len() > window as usize {
                last.pop_front();
            }
            let count = |bits: &[crate::sync::AtomicU64]| -> usize {
                bits.iter()
                    .map(|w| w.load(Ordering::Relaxed).count_ones() as usize)
                    .sum()
            };
            let failures = last.iter().filter(|(f, _)| *f).count();
            let slows = last.iter().filter(|(_, s)| *s).count();
            assert_eq!(count(ring.bits()), failures, "window {window}, outcome {n}");
            assert_eq!(
                count(ring.slow_bits()),
                slows,
                "window {window}, outcome {n}"
            );
            #[allow(clippy::cast_precision_loss)]
            let expected = slows as f64 / last.len() as f64;
            assert_eq!(ring.slow_rate(window), Some(expected));
        }
    }
}

#[test]
fn overrides_set_slow_calls_within_the_attributes_limits() {
    let window = rate(0.5, 100, 100);
    let (config, refused) = overridden(
        "slow-window",
        &window,
        &[("slow_call", "1.5s"), ("slow_call_rate", "0.25")],
    );
    assert!(refused.is_empty(), "{refused:?}");
    assert_eq!(config.slow_call(), Some(Duration::from_millis(1500)));
    assert!((config.slow_call_rate() - 0.25).abs() < f64::EPSILON);

    let refused = configure([
        ("slow-limits/circuit_breaker/slow_call", "0s"),
        ("slow-limits/circuit_breaker/slow_call_rate", "0"),
        ("slow-limits/circuit_breaker/slow_call_rate", "1.5"),
    ])
    .unwrap_err();
    let reasons: Vec<_> = refused.iter().map(|e| e.reason.as_str()).collect();
    assert_eq!(
        reasons,
        [
            "`slow_call` must be longer than zero: every call would be slow",
            "`slow_call_rate` must be greater than 0 and at most 1, like `0.5`",
            "`slow_call_rate` must be greater than 0 and at most 1, like `0.5`",
        ]
    );

    // A rate without `slow_call`, compiled or overridden, is refused at the first call.
    let (config, refused) = overridden("slow-no-call", &window, &[("slow_call_rate", "0.5")]);
    assert_eq!(config, window);
    assert_eq!(
        refused,
        [resilience_config::Error::NeedsSlowCall.to_string()]
    );
    // So is a rate for a consecutive breaker, which counts a slow call as a failure.
    let compiled = consecutive(3, 1).with_slow_call(SLOW);
    let (config, refused) = overridden("slow-consecutive", &compiled, &[("slow_call_rate", "0.5")]);
    assert_eq!(config, compiled);
    assert_eq!(
        refused,
        ["`slow_call_rate` applies to a failure-rate breaker; set `failure_rate` too"]
    );
    // `slow_call` alone suits either mode.
    let (config, refused) = overridden("slow-on", &consecutive(3, 1), &[("slow_call", "250ms")]);
    assert!(refused.is_empty(), "{refused:?}");
    assert_eq!(config.slow_call(), Some(Duration::from_millis(250)));
}

//! The time window (`TripPolicy::TimeWindow`): a rate reached inside the window opens it,
//! the same outcomes spread wider do not, expiry after idle, `min_calls`, slow calls, the
//! window against a reference of timed outcomes, the bucket hint, overrides.

use std::collections::VecDeque;
use std::sync::atomic::AtomicUsize;

use tokio::time::{advance, Instant};

use super::tests::{call, consecutive, fail, overridden, rate, rejected, succeed, SECOND};
use super::*;
use crate::overrides::configure;

const MS: Duration = Duration::from_millis(1);
const SLOW: Duration = Duration::from_secs(2);

fn timed(failure_rate: f64, window: Duration, buckets: u32, min_calls: u32) -> BreakerConfig {
    BreakerConfig {
        policy: TripPolicy::TimeWindow {
            failure_rate,
            window,
            buckets,
            min_calls,
        },
        ..consecutive(1, 1)
    }
}

/// A permit held for `took` of (paused) time, then settled.
async fn settle_after(breaker: &CircuitBreaker, took: Duration, failed: bool) {
    let permit = breaker.try_acquire().expect("admitted");
    advance(took).await;
    if failed {
        permit.failure();
    } else {
        permit.success();
    }
}

#[tokio::test(start_paused = true)]
async fn a_failure_rate_reached_inside_the_window_opens_it() {
    let breaker = CircuitBreaker::new(timed(0.5, 10 * SECOND, 10, 5));
    let runs = AtomicUsize::new(0);
    for _ in 0..4 {
        assert!(call(&breaker, &runs, Err(Failure::Error("down")))
            .await
            .is_err());
        advance(2 * SECOND).await;
    }
    assert_eq!(breaker.state(), BreakerState::Closed, "4 < min_calls");
    // The fifth failure, 8 s after the first: five of five in the window.
    assert!(call(&breaker, &runs, Err(Failure::Error("down")))
        .await
        .is_err());
    assert_eq!(breaker.state(), BreakerState::Open);
    assert!(matches!(
        call(&breaker, &runs, Ok(1)).await,
        Err(Failure::Rejected(Rejected::CircuitOpen { .. }))
    ));
    assert_eq!(
        runs.load(Ordering::SeqCst),
        5,
        "the rejected body did not run"
    );
}

#[tokio::test(start_paused = true)]
async fn the_same_failures_spread_over_more_than_the_window_do_not_open_it() {
    let breaker = CircuitBreaker::new(timed(0.5, 10 * SECOND, 10, 5));
    let runs = AtomicUsize::new(0);
    // Ten failures 3 s apart: the window never holds more than four of them.
    for _ in 0..10 {
        assert!(matches!(
            call(&breaker, &runs, Err(Failure::Error("down"))).await,
            Err(Failure::Error("down"))
        ));
        assert_eq!(breaker.state(), BreakerState::Closed);
        advance(3 * SECOND).await;
    }
    assert_eq!(runs.load(Ordering::SeqCst), 10);
    assert_eq!(breaker.failure_rate(), Some(1.0));
}

#[tokio::test(start_paused = true)]
async fn a_success_that_reaches_min_calls_opens_when_the_rate_is_reached() {
    // S F F S at 0.5 over 4: the last success brings the count to `min_calls`.
    let breaker = CircuitBreaker::new(timed(0.5, 10 * SECOND, 10, 4));
    succeed(&breaker);
    fail(&breaker);
    fail(&breaker);
    assert_eq!(breaker.state(), BreakerState::Closed, "3 < min_calls");
    succeed(&breaker);
    assert_eq!(breaker.state(), BreakerState::Open, "2 of 4");
}

#[tokio::test(start_paused = true)]
async fn a_success_after_older_successes_expire_opens_when_the_rate_is_reached() {
    let breaker = CircuitBreaker::new(timed(0.6, 10 * SECOND, 10, 4));
    for _ in 0..3 {
        succeed(&breaker);
    }
    advance(5 * SECOND).await;
    for _ in 0..3 {
        fail(&breaker);
    }
    assert_eq!(breaker.state(), BreakerState::Closed, "3 of 6 < 0.6");
    // Bucket 10: bucket 0, with the three successes, has left the window.
    advance(5 * SECOND + 500 * MS).await;
    succeed(&breaker);
    assert_eq!(breaker.state(), BreakerState::Open, "3 of 4 >= 0.6");
}

#[tokio::test(start_paused = true)]
async fn buckets_rotate_after_an_idle_longer_than_the_window() {
    let breaker = CircuitBreaker::new(timed(0.5, 10 * SECOND, 10, 4));
    for _ in 0..3 {
        fail(&breaker);
    }
    assert_eq!(breaker.failure_rate(), Some(1.0));
    // Exactly ten windows later: the same slot, a bucket 100 later.
    advance(100 * SECOND).await;
    assert_eq!(breaker.failure_rate(), None, "every bucket expired");
    fail(&breaker);
    assert_eq!(
        breaker.state(),
        BreakerState::Closed,
        "one failure in the window, not four"
    );
    let buckets = breaker.core.buckets(&breaker.config);
    assert_eq!(
        buckets.words_of(0),
        [(100, 1), (100, 1)],
        "rotated, not added"
    );
    // An hour later, in another slot.
    advance(3600 * SECOND + 3 * SECOND).await;
    for _ in 0..3 {
        succeed(&breaker);
    }
    fail(&breaker);
    assert_eq!(breaker.state(), BreakerState::Closed, "1 of 4 < 0.5");
    assert_eq!(breaker.failure_rate(), Some(0.25));
}

#[tokio::test(start_paused = true)]
async fn slow_calls_in_a_time_window_open_it_at_slow_call_rate() {
    let config = timed(1.0, 10 * SECOND, 10, 4)
        .with_slow_call(SLOW)
        .with_slow_call_rate(0.5);
    let breaker = CircuitBreaker::new(config);
    settle_after(&breaker, 3 * SECOND, false).await;
    settle_after(&breaker, 3 * SECOND, false).await;
    succeed(&breaker);
    assert_eq!(breaker.state(), BreakerState::Closed, "3 < min_calls");
    assert_eq!(breaker.slow_rate(), Some(2.0 / 3.0));
    // A fast success brings the count to `min_calls`: 2 slow of 4.
    succeed(&breaker);
    assert_eq!(breaker.state(), BreakerState::Open);
    assert!(rejected(&breaker).is_some());
}

#[tokio::test(start_paused = true)]
async fn slow_calls_spread_over_more_than_the_window_do_not_open_it() {
    let config = timed(1.0, 10 * SECOND, 10, 4)
        .with_slow_call(SLOW)
        .with_slow_call_rate(0.5);
    let breaker = CircuitBreaker::new(config);
    for _ in 0..6 {
        // Each slow success completes 3 s and 4 s after the previous one; the window holds
        // at most three of them, all slow, and a fast success at the start of each bucket.
        settle_after(&breaker, 3 * SECOND, false).await;
        assert_eq!(breaker.state(), BreakerState::Closed);
        advance(1100 * MS).await;
    }
    assert_eq!(breaker.slow_rate(), Some(1.0));
}

#[tokio::test(start_paused = true)]
async fn reset_empties_the_time_window() {
    let breaker = CircuitBreaker::new(timed(0.5, 10 * SECOND, 10, 2));
    fail(&breaker);
    breaker.reset();
    assert_eq!(breaker.failure_rate(), None);
    fail(&breaker);
    assert_eq!(breaker.state(), BreakerState::Closed, "1 < min_calls");
}

/// One step of the model: advance `dt`, then settle an outcome (a slow one is held for
/// `SLOW + 1 ms` first).
#[derive(Clone, Copy, Debug)]
enum Outcome {
    Success,
    Failure,
    SlowSuccess,
    SlowFailure,
}

#[tokio::test(start_paused = true)]
async fn time_window_matches_a_reference_of_timed_outcomes() {
    let cases = [
        // (window, buckets, min_calls, failure_rate, slow_call)
        (10 * SECOND, 10, 5, 0.5, false),
        (10 * SECOND, 1, 3, 0.4, false),
        (3 * SECOND, 7, 8, 0.3, true),
        (100 * MS, 100, 2, 0.75, true),
    ];
    let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for (window, buckets, min_calls, failure_rate, slow_call) in cases {
        let mut config = timed(failure_rate, window, buckets, min_calls);
        if slow_call {
            config = config.with_slow_call(SLOW).with_slow_call_rate(0.5);
        }
        let breaker = CircuitBreaker::new(config);
        let _ = breaker.time_in_state(); // starts the epoch now
        let epoch = Instant::now();
        let span = time_window::span_ns(window, buckets);
        let len = u64::from(buckets);
        let mut model: VecDeque<(u64, bool, bool)> = VecDeque::new();
        let (mut opened, mut expired_opens) = (0, 0);
        for n in 0..3000 {
            let r = next();
            // Mostly small steps, sometimes a bucket or a whole window, rarely a long idle.
            let dt = match r % 100 {
                0..=59 => Duration::from_nanos(r % (span / 4 + 1)),
                60..=89 => Duration::from_nanos(span),
                90..=97 => window / 2,
                _ => window * 3,
            };
            // Failures come in phases, so the rate crosses the threshold both ways.
            let failing = (n / 150) % 2 == 1;
            let outcome = match (r >> 20) % 10 {
                0..=5 if failing => Outcome::Failure,
                6 if slow_call => Outcome::SlowSuccess,
                7 if slow_call && failing => Outcome::SlowFailure,
                0 => Outcome::Failure,
                _ => Outcome::Success,
            };
            advance(dt).await;
            let (failed, slow) = match outcome {
                Outcome::Success => (false, false),
                Outcome::Failure => (true, false),
                Outcome::SlowSuccess => (false, true),
                Outcome::SlowFailure => (true, true),
            };
            if slow {
                settle_after(&breaker, SLOW + MS, failed).await;
            } else if failed {
                fail(&breaker);
            } else {
                succeed(&breaker);
            }
            let elapsed = u64::try_from(epoch.elapsed().as_nanos()).unwrap();
            let bucket = elapsed / span;
            // The reference: outcomes of the last `buckets` buckets.
            while model.front().is_some_and(|&(b, _, _)| b + len <= bucket) {
                model.pop_front();
            }
            model.push_back((bucket, failed, slow));
            let calls = model.len() as u64;
            let failures = model.iter().filter(|&&(_, f, _)| f).count() as u64;
            let slows = model.iter().filter(|&&(_, _, s)| s).count() as u64;
            #[allow(clippy::cast_precision_loss)]
            let (failed_rate, slow_rate) =
                (failures as f64 / calls as f64, slows as f64 / calls as f64);
            let trips = calls >= u64::from(min_calls)
                && (failed_rate >= failure_rate || (slow_call && slow_rate >= 0.5));
            let state = breaker.state();
            assert_eq!(
                state == BreakerState::Open,
                trips,
                "case {window:?}/{buckets}, outcome {n} ({outcome:?}): {calls} calls, \
                 {failures} failed, {slows} slow"
            );
            if trips {
                opened += 1;
                if !failed && !slow {
                    expired_opens += 1;
                }
                breaker.reset();
                model.clear();
            } else {
                assert_eq!(breaker.failure_rate(), Some(failed_rate), "outcome {n}");
                if slow_call {
                    assert_eq!(breaker.slow_rate(), Some(slow_rate), "outcome {n}");
                }
            }
        }
        assert!(
            opened > 10,
            "case {window:?}/{buckets}: opened {opened} times"
        );
        assert!(
            expired_opens > 0,
            "case {window:?}/{buckets}: no fast success opened it"
        );
    }
}

#[test]
fn overrides_set_a_time_window_within_the_attributes_limits() {
    let compiled = timed(0.5, 30 * SECOND, 10, 20);
    let (config, refused) = overridden(
        "tw-set",
        &compiled,
        &[("window", "1m"), ("buckets", "6"), ("min_calls", "50")],
    );
    assert!(refused.is_empty(), "{refused:?}");
    assert_eq!(config.policy(), timed(0.5, 60 * SECOND, 6, 50).policy());

    let refused = configure([
        ("tw-limits/circuit_breaker/window", "0s"),
        ("tw-limits/circuit_breaker/buckets", "0"),
        ("tw-limits/circuit_breaker/buckets", "4097"),
    ])
    .unwrap_err();
    let reasons: Vec<_> = refused.iter().map(|e| e.reason.as_str()).collect();
    assert_eq!(
        reasons,
        [
            "`window` must be longer than zero: a time window of no time holds no call",
            "`buckets` must be at least 1",
            "`buckets` must be at most 4096",
        ]
    );

    // Buckets shorter than 1 ms: refused together, at the first call.
    let (config, refused) = overridden("tw-short", &compiled, &[("window", "5ms")]);
    assert_eq!(config, compiled);
    assert_eq!(
        refused,
        ["10 buckets cut `window` into buckets shorter than 1 ms; use fewer buckets or a longer window"]
    );
    let (config, refused) = overridden("tw-few", &compiled, &[("window", "5ms"), ("buckets", "5")]);
    assert!(refused.is_empty(), "{refused:?}");
    assert_eq!(config.policy(), timed(0.5, 5 * MS, 5, 20).policy());

    // A window of the other kind, and buckets without a time window.
    let (config, refused) = overridden("tw-count", &compiled, &[("window", "100")]);
    assert_eq!(config, compiled);
    assert_eq!(
        refused,
        ["this breaker's window is a duration; write `window` like `30s`"]
    );
    let counted = rate(0.5, 100, 100);
    let (config, refused) = overridden(
        "tw-counted",
        &counted,
        &[("window", "30s"), ("buckets", "5")],
    );
    assert_eq!(config, counted);
    assert_eq!(
        refused,
        [
            "this breaker's window is a count of calls; write `window` as a whole number, like `100`",
            "`buckets` applies to a time window; write `window` as a duration, like `window = \"30s\"`",
        ]
    );
}

/// The hint finds a bucket without dividing (`time_window.rs`, "What a success costs"):
/// whatever the hint holds (the bucket before, a later one, one far away), the bucket and
/// slot found are those of the division, at and around bucket boundaries; and a bucket too
/// large to be hinted (a 1 ns span through the runtime API) is found by division every time.
#[test]
fn the_bucket_hint_always_agrees_with_division() {
    let check = |window: Duration, count: u32, times: &[u64]| {
        let breaker = CircuitBreaker::new(timed(0.5, window, count, 4));
        let buckets = breaker.core.buckets(&breaker.config);
        let span = time_window::span_ns(window, count);
        for &ns in times {
            let found = buckets.bucket(Duration::from_nanos(ns));
            let number = ns / span;
            let slot = usize::try_from(number % u64::from(count)).expect("a slot");
            assert_eq!((found.number, found.slot), (number, slot), "at {ns} ns");
        }
    };
    let span = 1_000_000_000; // 10 s in 10 buckets
    check(
        10 * SECOND,
        10,
        &[
            0,
            span - 1,
            span,
            span + 1,
            span - 1, // back into the bucket before the hint's
            0,
            7 * span + 3,
            7 * span + 3,
            8 * span - 1,
            8 * span,
            100 * span,
            3 * span,
            u64::MAX,
            0,
        ],
    );
    // 1 ns buckets: past 2^44 ns the bucket number does not fit in the hint.
    let far = 1 << 50;
    check(
        Duration::from_nanos(3),
        3,
        &[0, 1, 2, far, far + 1, far + 1, far - 1, 5, u64::MAX, 4],
    );
}

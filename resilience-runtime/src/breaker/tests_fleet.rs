//! A `shared` breaker's hooks, without Redis: what the link does to it (`fleet.rs`). The
//! multi-process behaviour is the facade's `tests/fleet` suite.

use tokio::time::advance;

use super::tests::{consecutive, rejected, OPEN_FOR, SECOND};
use super::*;
use crate::fleet::{test_set_linked, LeaseWant};

fn shared(threshold: u32, half_open: u32) -> CircuitBreaker {
    CircuitBreaker::new(consecutive(threshold, half_open).with_fleet())
}

#[tokio::test(start_paused = true)]
async fn a_trip_heard_from_the_fleet_opens_a_closed_breaker_for_its_own_open_period() {
    let breaker = shared(3, 1);
    assert!(breaker.fleet_open(0));
    assert_eq!(breaker.state(), BreakerState::Open);
    assert_eq!(
        rejected(&breaker),
        Some(OPEN_FOR),
        "the whole open period, from now"
    );
    assert!(
        !breaker.fleet_open(0),
        "the same trip again changes nothing"
    );
}

#[tokio::test(start_paused = true)]
async fn a_trip_heard_while_open_restarts_the_open_period_only_if_it_ends_later() {
    let breaker = CircuitBreaker::new(
        consecutive(1, 1)
            .with_open_for_max(OPEN_FOR * 4)
            .with_fleet(),
    );
    breaker.try_acquire().unwrap().failure();
    advance(SECOND).await;
    assert!(breaker.fleet_open(0), "a later trip ends later");
    assert_eq!(rejected(&breaker), Some(OPEN_FOR));
    assert!(
        !breaker.fleet_open(0),
        "one ending at the same time changes nothing"
    );
    assert!(
        breaker.fleet_open(1),
        "a failed trial's backoff level is carried"
    );
    assert_eq!(breaker.open_period(), OPEN_FOR * 2);
    assert_eq!(rejected(&breaker), Some(OPEN_FOR * 2));
}

#[tokio::test(start_paused = true)]
async fn a_close_heard_from_the_fleet_closes_an_open_breaker_and_forced_states_stay() {
    let breaker = shared(1, 1);
    breaker.try_acquire().unwrap().failure();
    assert!(breaker.fleet_close());
    assert_eq!(breaker.state(), BreakerState::Closed);
    assert!(breaker.try_acquire().is_ok());
    breaker.force_open();
    assert!(!breaker.fleet_close(), "a forced state is a manual control");
    assert!(!breaker.fleet_open(0));
    assert_eq!(breaker.state(), BreakerState::ForcedOpen);
}

#[tokio::test(start_paused = true)]
async fn linked_a_replica_admits_trials_only_while_it_holds_the_lease() {
    let _linked = test_set_linked();
    let breaker = shared(1, 1);
    breaker.try_acquire().unwrap().failure();
    advance(OPEN_FOR).await;
    assert_eq!(
        rejected(&breaker),
        None,
        "no lease: rejected like a busy half-open"
    );
    assert_eq!(
        breaker.fleet_lease(),
        LeaseWant::Take,
        "a caller wanted a trial"
    );
    assert_eq!(
        breaker.fleet_lease(),
        LeaseWant::Nothing,
        "nobody asked since"
    );
    breaker.fleet_set_lease(true);
    let trial = breaker
        .try_acquire()
        .expect("the lease holder admits the trial");
    assert_eq!(breaker.fleet_lease(), LeaseWant::Keep, "half-open: renewed");
    trial.success();
    assert_eq!(breaker.state(), BreakerState::Closed);
    assert_eq!(
        breaker.fleet_lease(),
        LeaseWant::Nothing,
        "closing gave it back"
    );
}

#[tokio::test(start_paused = true)]
async fn a_lease_taken_for_callers_who_went_away_is_given_back() {
    let _linked = test_set_linked();
    let breaker = shared(1, 1);
    breaker.try_acquire().unwrap().failure();
    advance(OPEN_FOR).await;
    breaker.fleet_set_lease(true);
    assert_eq!(
        breaker.fleet_lease(),
        LeaseWant::Release,
        "open, no caller for a period"
    );
    assert_eq!(rejected(&breaker), None, "given back: no trial here");
}

#[tokio::test(start_paused = true)]
async fn a_reset_in_half_open_gives_the_lease_back() {
    let _linked = test_set_linked();
    let breaker = shared(1, 1);
    breaker.try_acquire().unwrap().failure();
    advance(OPEN_FOR).await;
    breaker.fleet_set_lease(true);
    let trial = breaker.try_acquire().expect("the holder's trial");
    breaker.reset();
    drop(trial);
    assert_eq!(breaker.state(), BreakerState::Closed);
    breaker.try_acquire().unwrap().failure();
    advance(OPEN_FOR).await;
    assert_eq!(
        rejected(&breaker),
        None,
        "the next phase needs a lease again"
    );
}

fn rate_breaker(policy: TripPolicy) -> CircuitBreaker {
    CircuitBreaker::new(
        BreakerConfig::new(InstanceName::given("test"))
            .with_policy(policy)
            .with_fleet(),
    )
}

fn outcomes(calls: u64, failed: u64) -> crate::fleet::Outcomes {
    crate::fleet::Outcomes {
        calls,
        failed,
        slow: 0,
    }
}

#[tokio::test(start_paused = true)]
async fn the_fleet_reads_what_a_closed_window_holds_and_nothing_once_it_opened() {
    let count = rate_breaker(TripPolicy::FailureRate {
        failure_rate: 0.5,
        window: 10,
        min_calls: 10,
    });
    assert_eq!(count.fleet_window(), Some(outcomes(0, 0)), "no ring yet");
    for failed in [true, true, true, false, false, false] {
        let permit = count.try_acquire().unwrap();
        if failed {
            permit.failure();
        } else {
            permit.success();
        }
    }
    assert_eq!(count.fleet_window(), Some(outcomes(6, 3)));
    let time = rate_breaker(TripPolicy::TimeWindow {
        failure_rate: 0.5,
        window: 10 * SECOND,
        buckets: 10,
        min_calls: 20,
    });
    time.try_acquire().unwrap().failure();
    time.try_acquire().unwrap().success();
    assert_eq!(time.fleet_window(), Some(outcomes(2, 1)));
    time.force_open();
    assert_eq!(
        time.fleet_window(),
        Some(outcomes(0, 0)),
        "not closed: nothing to judge"
    );
    assert_eq!(
        shared(3, 1).fleet_window(),
        None,
        "consecutive counts stay local"
    );
}

#[tokio::test(start_paused = true)]
async fn the_fleets_window_at_the_rule_opens_a_closed_breaker() {
    let breaker = rate_breaker(TripPolicy::FailureRate {
        failure_rate: 0.5,
        window: 10,
        min_calls: 10,
    });
    // 4 of 6 failed here: the rate, but fewer than `min_calls`; the breaker stays closed.
    for failed in [true, true, true, true, false, false] {
        let permit = breaker.try_acquire().unwrap();
        if failed {
            permit.failure();
        } else {
            permit.success();
        }
    }
    assert_eq!(breaker.state(), BreakerState::Closed);
    assert!(
        !breaker.fleet_window_trip(outcomes(9, 9)),
        "fewer than min_calls in the fleet too"
    );
    assert!(
        !breaker.fleet_window_trip(outcomes(18, 8)),
        "under the rate fleet-wide"
    );
    assert_eq!(breaker.state(), BreakerState::Closed);
    assert!(breaker.fleet_window_trip(outcomes(18, 12)));
    assert_eq!(breaker.state(), BreakerState::Open);
    assert_eq!(rejected(&breaker), Some(OPEN_FOR));
    assert!(
        !breaker.fleet_window_trip(outcomes(18, 12)),
        "only a closed breaker trips"
    );
}

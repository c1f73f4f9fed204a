//! Monitoring and control: snapshots, manual overrides, configuration tables, events and
//! metrics. The tests build the runtime with the `tracing`, `metrics` and `stats` features;
//! `tracing` events are checked in `tests/tracing_events.rs`, a binary of their own.

mod common;

use std::time::Duration;

use common::metrics::Recorded;
use common::{answer, Runs, ServiceError};
use resilience::monitor::{self, BreakerState, InstanceConfig, InstanceKind};
use resilience::runtime::TripPolicy;
use resilience::{bulkhead, circuit_breaker, hedge, rate_limit, retry};

#[tokio::test(start_paused = true)]
async fn snapshot_reflects_state_after_a_scripted_sequence() {
    #[circuit_breaker(threshold = 2, timeout = "10s", name = "snapshot-payment")]
    async fn charge(fail: bool) -> Result<(), ServiceError> {
        answer(fail)
    }
    #[bulkhead(max = 3, name = "snapshot-db")]
    async fn query() -> Result<(), ServiceError> {
        Ok(())
    }

    let find = |name: &str| {
        monitor::snapshot()
            .into_iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("{name} not registered"))
    };
    charge(false).await.unwrap();
    query().await.unwrap();
    let payment = find("snapshot-payment");
    assert_eq!(payment.kind, InstanceKind::CircuitBreaker);
    assert_eq!(payment.state, Some(BreakerState::Closed));
    let InstanceConfig::CircuitBreaker(config) = payment.config else {
        panic!("a breaker's snapshot carries a breaker's configuration")
    };
    assert_eq!(config.policy(), TripPolicy::Consecutive { threshold: 2 });
    let db = find("snapshot-db");
    assert_eq!(
        (db.kind, db.available, db.waiting),
        (InstanceKind::Bulkhead, Some(3), Some(0))
    );

    tokio::time::advance(Duration::from_secs(5)).await;
    assert_eq!(
        find("snapshot-payment").in_state,
        Some(Duration::from_secs(5))
    );
    charge(true).await.unwrap_err();
    charge(true).await.unwrap_err();
    assert_eq!(find("snapshot-payment").state, Some(BreakerState::Open));
    assert_eq!(find("snapshot-payment").in_state, Some(Duration::ZERO));
    tokio::time::advance(Duration::from_secs(4)).await;
    assert_eq!(
        find("snapshot-payment").in_state,
        Some(Duration::from_secs(4))
    );
    tokio::time::advance(Duration::from_secs(6)).await;
    assert_eq!(find("snapshot-payment").state, Some(BreakerState::HalfOpen));
    charge(false).await.unwrap();
    let closed = find("snapshot-payment");
    assert_eq!(closed.state, Some(BreakerState::Closed));
    assert_eq!(closed.in_state, Some(Duration::ZERO));
    assert_eq!(db.in_state, None, "bulkheads have no state");
}

#[tokio::test(start_paused = true)]
async fn snapshot_counts_calls_outcomes_rejections_and_retries() {
    #[retry(max = 1, base = "10ms", jitter = "none")]
    #[circuit_breaker(threshold = 3, timeout = "1h", name = "counted")]
    #[bulkhead(max = 2, name = "counted-pool")]
    async fn call(fail: bool) -> Result<(), ServiceError> {
        answer(fail)
    }

    call(false).await.unwrap(); // one attempt, succeeds
    call(true).await.unwrap_err(); // two attempts, both fail
    call(true).await.unwrap_err(); // fails (third in a row: opens), retry is rejected
                                   // The retry is unnamed: it is known by its function's path.
    let stats = |kind: &str, name: &str| {
        monitor::snapshot()
            .into_iter()
            .find(|s| s.kind.as_str() == kind && s.name.contains(name))
            .unwrap_or_else(|| panic!("no {kind} {name}"))
            .stats
    };
    let retry = stats(
        "retry",
        "snapshot_counts_calls_outcomes_rejections_and_retries",
    );
    assert_eq!(
        (retry.calls, retry.successes, retry.failures, retry.retries),
        (3, 1, 2, 2)
    );
    let breaker = stats("circuit_breaker", "counted");
    assert_eq!(
        (
            breaker.calls,
            breaker.successes,
            breaker.failures,
            breaker.rejections
        ),
        (5, 1, 3, 1)
    );
    let pool = stats("bulkhead", "counted-pool");
    assert_eq!(
        (pool.calls, pool.rejections),
        (4, 0),
        "the rejected attempt never got here"
    );
}

#[tokio::test(start_paused = true)]
async fn force_open_rejects_and_force_closed_admits() {
    static RUNS: Runs = Runs::new();
    #[circuit_breaker(threshold = 1, name = "forced")]
    async fn call(fail: bool) -> Result<(), ServiceError> {
        RUNS.hit();
        answer(fail)
    }

    assert!(
        monitor::breaker("forced").is_none(),
        "registered only at its first call"
    );
    call(false).await.unwrap();
    let handle = monitor::breaker("forced").unwrap();

    handle.force_open();
    assert!(call(false).await.unwrap_err().is_circuit_open());
    assert_eq!(RUNS.get(), 1, "forced open: the body does not run");

    handle.force_closed();
    let failures_before = handle.stats().failures;
    for _ in 0..5 {
        assert_eq!(call(true).await, Err(ServiceError::Unavailable));
    }
    assert_eq!(
        RUNS.get(),
        6,
        "forced closed: every call runs and it never trips"
    );
    assert_eq!(
        handle.stats().failures - failures_before,
        5,
        "metrics only: the counters keep counting"
    );
    assert_eq!(handle.state(), BreakerState::ForcedClosed);

    handle.reset();
    call(true).await.unwrap_err();
    assert!(
        call(false).await.unwrap_err().is_circuit_open(),
        "counting again after reset"
    );
}

#[tokio::test(start_paused = true)]
async fn a_configuration_table_overrides_a_threshold_at_first_use() {
    static RUNS: Runs = Runs::new();
    #[circuit_breaker(threshold = 1, name = "configured")]
    async fn call() -> Result<(), ServiceError> {
        RUNS.hit();
        Err(ServiceError::Unavailable)
    }

    monitor::configure([("configured/circuit_breaker/threshold", "3")]).unwrap();
    for _ in 0..3 {
        assert_eq!(call().await, Err(ServiceError::Unavailable));
    }
    assert!(call().await.unwrap_err().is_circuit_open());
    assert_eq!(
        RUNS.get(),
        3,
        "the table's threshold of 3, not the compiled 1"
    );
}

#[tokio::test(start_paused = true)]
async fn an_operator_can_turn_the_retry_budget_off() {
    static RUNS: Runs = Runs::new();
    #[retry(
        max = 2,
        base = "10ms",
        budget = 0,
        budget_min = 0,
        name = "unbudgeted"
    )]
    async fn call() -> Result<(), ServiceError> {
        RUNS.hit();
        Err(ServiceError::Unavailable)
    }

    monitor::configure([("unbudgeted/retry/budget", "none")]).unwrap();
    call().await.unwrap_err();
    assert_eq!(
        RUNS.get(),
        3,
        "the compiled budget allows no retry; the override none"
    );
}

#[test]
fn a_bad_configuration_entry_is_refused_with_the_reason() {
    let errors = monitor::configure([
        ("table-bad/circuit_breaker/threshold", "0"),
        ("table-bad/circuit_breaker/treshold", "3"),
        ("table-bad/bulkhead/max_wait", "soon"),
        ("no-slashes", "1"),
    ])
    .unwrap_err();
    let reasons: Vec<_> = errors
        .iter()
        .map(|e| (e.key.as_str(), e.reason.as_str()))
        .collect();
    assert_eq!(errors.len(), 4, "{reasons:?}");
    assert!(reasons[0].1.contains("at least 1"), "{reasons:?}");
    assert!(
        reasons[1].1.contains("unknown parameter `treshold`"),
        "{reasons:?}"
    );
    assert!(reasons[2].1.contains("duration"), "{reasons:?}");
    assert!(
        reasons[3].1.contains("<name>/<attribute>/<parameter>"),
        "{reasons:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_window_configured_at_startup_applies_to_a_failure_rate_breaker() {
    #[circuit_breaker(failure_rate = 0.5, name = "startup-window")]
    async fn call() -> Result<(), ServiceError> {
        Ok(())
    }

    // Before the breaker exists: checked alone now, against its compiled policy at first call.
    monitor::configure([("startup-window/circuit_breaker/window", "20")]).unwrap();
    call().await.unwrap();
    assert_eq!(
        monitor::breaker("startup-window")
            .unwrap()
            .config()
            .policy(),
        TripPolicy::FailureRate {
            failure_rate: 0.5,
            window: 20,
            min_calls: 20
        },
        "the default min_calls follows the window"
    );
}

#[tokio::test(start_paused = true)]
async fn an_override_breaking_a_rule_between_parameters_is_refused_at_first_call() {
    #[circuit_breaker(failure_rate = 0.5, window = 20, name = "rule-broken")]
    async fn call() -> Result<(), ServiceError> {
        Ok(())
    }

    monitor::configure([
        ("rule-broken/circuit_breaker/min_calls", "50"),
        ("rule-broken/circuit_breaker/timeout", "1m"),
    ])
    .unwrap();
    call().await.unwrap();
    let config = monitor::breaker("rule-broken").unwrap().config();
    assert_eq!(
        config.policy(),
        TripPolicy::FailureRate {
            failure_rate: 0.5,
            window: 20,
            min_calls: 20
        },
        "the compiled min_calls stays"
    );
    assert_eq!(
        config.open_for(),
        Duration::from_secs(60),
        "the valid override applies"
    );
    let refused: Vec<_> = monitor::override_errors()
        .into_iter()
        .filter(|e| e.key.starts_with("rule-broken/"))
        .collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].key, "rule-broken/circuit_breaker/min_calls");
    assert_eq!(
        refused[0].reason,
        "`min_calls` cannot exceed `window` (20): the window never holds more calls"
    );
}

#[test]
fn out_of_range_configuration_entries_are_refused_with_the_attributes_limits() {
    let errors = monitor::configure([
        ("limits/circuit_breaker/window", "4000000000"),
        ("limits/circuit_breaker/threshold", "1048577"),
        ("limits/bulkhead/max", "2147483648"),
        ("limits/bulkhead/max_wait", "0.5ns"),
        ("limits/retry/max", "0"),
        ("limits/retry/budget", "1.5"),
        ("limits/retry/budget", "-1"),
        ("limits/retry/budget", "none"),
        ("limits/retry/max_elapsed", "0s"),
        ("limits/retry/budget_min", "1048577"),
        ("/retry/max", "1"),
    ])
    .unwrap_err();
    let reasons: Vec<_> = errors.iter().map(|e| e.reason.as_str()).collect();
    assert_eq!(
        reasons,
        [
            "`window` must be at most 16777216",
            "`threshold` must be at most 1048576",
            "`max` must be at most 2147483647",
            "`0.5ns` is finer than a nanosecond; durations are whole nanoseconds",
            "`budget` must be from 0 to 1, like `0.2`, or \"none\"",
            "`budget` must be from 0 to 1, like `0.2`, or \"none\"",
            "`max_elapsed` must be longer than zero: no retry could ever start",
            "`budget_min` must be at most 1048576",
            "`name` must not be empty: it names the instance in errors, monitoring and overrides",
        ],
        "`max = 0` and `budget = none` are valid: retries or the budget switched off"
    );
}

/// What `calls` records as metrics, run on a paused current-thread runtime.
fn recorded<F: std::future::Future<Output = ()>>(calls: impl FnOnce() -> F) -> Recorded {
    let recorded = Recorded::default();
    metrics::with_local_recorder(&recorded, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(calls());
    });
    recorded
}

#[test]
fn transitions_rejections_and_retries_are_metrics() {
    #[retry(max = 1, base = "10ms", jitter = "none")]
    #[circuit_breaker(threshold = 2, timeout = "1s", name = "metered")]
    async fn call() -> Result<(), ServiceError> {
        Err(ServiceError::Unavailable)
    }
    #[retry(max = 3, budget = 0, budget_min = 0, name = "penniless")]
    async fn penniless() -> Result<(), ServiceError> {
        Err(ServiceError::Unavailable)
    }

    let recorded = recorded(|| async {
        call().await.unwrap_err();
        call().await.unwrap_err();
        call().await.unwrap_err();
        penniless().await.unwrap_err();
        penniless().await.unwrap_err();
    });
    assert_eq!(
        recorded.get("resilience_breaker_transitions_total{name=metered,from=closed,to=open}"),
        Some(1.0)
    );
    assert_eq!(
        recorded.get("resilience_breaker_state{name=metered}"),
        Some(1.0)
    );
    assert_eq!(
        recorded.get("resilience_rejections_total{name=metered,reason=circuit_open}"),
        Some(2.0)
    );
    assert_eq!(
        recorded.get("resilience_retry_budget_exhausted_total{name=penniless}"),
        Some(2.0)
    );
    assert_eq!(
        recorded.get("resilience_retries_exhausted_total{name=penniless}"),
        Some(2.0)
    );
    assert!(
        recorded
            .0
            .lock()
            .unwrap()
            .iter()
            .any(|(k, v)| k.starts_with("resilience_retries_total{")
                && (*v - 1.0).abs() < f64::EPSILON),
        "{:?}",
        recorded.0.lock().unwrap()
    );
}

#[test]
fn rate_limit_rejections_are_metrics() {
    #[rate_limit(rate = 1, max_wait = "0s", name = "metered-quota")]
    async fn call() -> Result<(), ServiceError> {
        Ok(())
    }

    let recorded = recorded(|| async {
        call().await.unwrap();
        call().await.unwrap_err();
        call().await.unwrap_err();
    });
    assert_eq!(
        recorded.get("resilience_rejections_total{name=metered-quota,reason=rate_limited}"),
        Some(2.0)
    );
}

#[test]
fn hedges_sent_won_and_refused_are_metrics_and_stats() {
    // The first attempt of a call takes 100 ms; a hedge answers in 5 ms.
    #[hedge(delay = "10ms", budget = 0.5, name = "metered-hedge", context = attempt)]
    async fn call() -> Result<(), ServiceError> {
        let latency = if attempt.is_hedge() { 5 } else { 100 };
        tokio::time::sleep(std::time::Duration::from_millis(latency)).await;
        Ok(())
    }

    let recorded = Recorded::default();
    metrics::with_local_recorder(&recorded, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            // Budget 0.5: the 2nd and 4th calls may hedge, the 1st and 3rd may not.
            for _ in 0..4 {
                call().await.unwrap();
            }
        });
    });
    assert_eq!(
        recorded.get("resilience_hedges_total{name=metered-hedge}"),
        Some(2.0)
    );
    assert_eq!(
        recorded.get("resilience_hedges_won_total{name=metered-hedge}"),
        Some(2.0)
    );
    assert_eq!(
        recorded.get("resilience_hedge_budget_exhausted_total{name=metered-hedge}"),
        Some(2.0)
    );
    let hedge = resilience::monitor::snapshot()
        .into_iter()
        .find(|i| i.name == "metered-hedge")
        .expect("registered");
    assert_eq!(hedge.kind, resilience::monitor::InstanceKind::Hedge);
    let stats = hedge.stats;
    assert_eq!(
        (
            stats.calls,
            stats.successes,
            stats.hedges,
            stats.hedges_won,
            stats.budget_exhausted
        ),
        (4, 4, 2, 2, 2)
    );
    assert!(matches!(
        hedge.config,
        resilience::monitor::InstanceConfig::Hedge(config) if config.max() == 1
    ));
}

#[test]
fn a_keyed_breakers_metrics_carry_its_key() {
    static RUNS: Runs = Runs::new();
    #[circuit_breaker(threshold = 1, key = host, name = "metered-keyed")]
    async fn call(host: &str) -> Result<(), ServiceError> {
        RUNS.hit();
        Err(ServiceError::Unavailable)
    }

    let recorded = recorded(|| async {
        call("a").await.unwrap_err();
        call("a").await.unwrap_err();
    });
    assert_eq!(RUNS.get(), 1, "the second call was rejected unrun");
    assert_eq!(
        recorded.get(
            "resilience_breaker_transitions_total{name=metered-keyed,key=a,from=closed,to=open}"
        ),
        Some(1.0)
    );
    assert_eq!(
        recorded.get("resilience_breaker_state{name=metered-keyed,key=a}"),
        Some(1.0)
    );
    assert_eq!(
        recorded.get("resilience_rejections_total{name=metered-keyed,key=a,reason=circuit_open}"),
        Some(1.0)
    );
}

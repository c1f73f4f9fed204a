//! The JSON shape of `monitor::snapshot()` (feature `serde`), pinned field by field: the
//! shape the `monitor` docs show, for every kind of instance.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use resilience::{bulkhead, circuit_breaker, hedge, monitor, rate_limit, retry, timeout, Rejected};
use serde_json::{json, Value};

static RUNS: AtomicUsize = AtomicUsize::new(0);

#[retry(name = "json-retry", max = 1, base = "250ms", jitter = "none")]
#[circuit_breaker(
    name = "json-breaker",
    threshold = 2,
    timeout = "30s",
    slow_call = "2s"
)]
#[bulkhead(name = "json-bulkhead", max = 4, max_wait = "50ms")]
#[rate_limit(name = "json-rate", rate = 10, per = "1s", burst = 5)]
#[timeout("1500ms")]
async fn call(fail: bool) -> Result<(), Rejected> {
    RUNS.fetch_add(1, Ordering::SeqCst);
    if fail {
        Err(Rejected::timed_out("upstream", Duration::ZERO))
    } else {
        Ok(())
    }
}

#[circuit_breaker(name = "json-window", failure_rate = 0.5, window = "30s", buckets = 10)]
async fn windowed() -> Result<(), Rejected> {
    Ok(())
}

#[hedge(name = "json-hedge", delay = "p99.9", max = 2, budget = 0.05)]
async fn hedged() -> Result<(), Rejected> {
    Ok(())
}

#[hedge(name = "json-hedge-fixed", delay = "50ms")]
async fn hedged_fixed() -> Result<(), Rejected> {
    Ok(())
}

#[circuit_breaker(name = "json-keyed", key = host)]
async fn keyed(host: &str) -> Result<(), Rejected> {
    let _ = host;
    Ok(())
}

fn instance(snapshot: &Value, name: &str) -> Value {
    snapshot
        .as_array()
        .unwrap()
        .iter()
        .find(|instance| instance["name"] == name)
        .unwrap_or_else(|| panic!("{name} is not in {snapshot:#}"))
        .clone()
}

#[tokio::test(start_paused = true)]
async fn snapshot_serializes_every_kind_in_the_documented_shape() {
    // One failure retried once: two failed attempts open the threshold-2 breaker.
    assert!(matches!(call(true).await, Err(Rejected::TimedOut { .. })));
    assert_eq!(RUNS.load(Ordering::SeqCst), 2);
    windowed().await.unwrap();
    tokio::time::advance(Duration::from_secs(3)).await;

    let snapshot = serde_json::to_value(monitor::snapshot()).unwrap();
    assert_eq!(
        instance(&snapshot, "json-breaker"),
        json!({
            "name": "json-breaker",
            "kind": "circuit_breaker",
            "state": "open",
            "in_state": 3.0,
            "open_period": 30.0,
            "failure_rate": null,
            "slow_rate": null,
            "config": {
                "policy": { "kind": "consecutive", "threshold": 2 },
                "timeout": 30.0,
                "timeout_max": 30.0,
                "half_open": 1,
                "slow_call": 2.0,
                "slow_call_rate": 1.0
            },
            "stats": {
                "calls": 2, "successes": 0, "failures": 2,
                "rejections": 0, "retries": 0, "budget_exhausted": 0, "hedges": 0, "hedges_won": 0
            }
        })
    );
    assert_eq!(
        instance(&snapshot, "json-window")["config"]["policy"],
        json!({ "kind": "time_window", "failure_rate": 0.5, "window": 30.0, "buckets": 10, "min_calls": 20 })
    );
    assert_eq!(
        instance(&snapshot, "json-window")["failure_rate"],
        json!(0.0)
    );
    assert_eq!(
        instance(&snapshot, "json-bulkhead"),
        json!({
            "name": "json-bulkhead",
            "kind": "bulkhead",
            "available": 4,
            "waiting": 0,
            "config": { "max": 4, "max_wait": 0.05, "queue": null },
            "stats": {
                "calls": 2, "successes": 0, "failures": 0,
                "rejections": 0, "retries": 0, "budget_exhausted": 0, "hedges": 0, "hedges_won": 0
            }
        })
    );
    assert_eq!(
        instance(&snapshot, "json-rate"),
        json!({
            "name": "json-rate",
            "kind": "rate_limit",
            "available": 5,
            "waiting": 0,
            "config": { "rate": 10, "per": 1.0, "burst": 5, "max_wait": null },
            "stats": {
                "calls": 2, "successes": 0, "failures": 0,
                "rejections": 0, "retries": 0, "budget_exhausted": 0, "hedges": 0, "hedges_won": 0
            }
        })
    );
    assert_eq!(
        instance(&snapshot, "json-retry"),
        json!({
            "name": "json-retry",
            "kind": "retry",
            "config": {
                "max": 1, "base": 0.25, "max_delay": 10.0, "jitter": "none",
                "budget": 0.2, "budget_min": 10, "max_elapsed": null
            },
            "stats": {
                "calls": 1, "successes": 0, "failures": 1,
                "rejections": 0, "retries": 1, "budget_exhausted": 0, "hedges": 0, "hedges_won": 0
            }
        })
    );
    let timeout = snapshot
        .as_array()
        .unwrap()
        .iter()
        .find(|instance| {
            instance["kind"] == "timeout" && instance["name"].as_str().unwrap().ends_with("::call")
        })
        .unwrap();
    assert_eq!(timeout["config"], json!({ "limit": 1.5 }));
    assert_eq!(timeout["stats"]["calls"], json!(2));
}

#[tokio::test(start_paused = true)]
async fn a_hedge_and_a_keyed_instance_serialize_in_the_documented_shape() {
    hedged().await.unwrap();
    hedged_fixed().await.unwrap();
    keyed("db-1").await.unwrap();
    let snapshot = serde_json::to_value(monitor::snapshot()).unwrap();
    assert_eq!(
        instance(&snapshot, "json-hedge"),
        json!({
            "name": "json-hedge",
            "kind": "hedge",
            "config": { "delay": "p99.9", "max": 2, "budget": 0.05 },
            "stats": {
                "calls": 1, "successes": 1, "failures": 0,
                "rejections": 0, "retries": 0, "budget_exhausted": 0, "hedges": 0, "hedges_won": 0
            }
        })
    );
    assert_eq!(
        instance(&snapshot, "json-hedge-fixed")["config"],
        json!({ "delay": 0.05, "max": 1, "budget": 0.1 })
    );
    // A keyed instance: the base name, and its key beside it.
    let keyed = instance(&snapshot, "json-keyed");
    assert_eq!(
        (&keyed["key"], &keyed["kind"], &keyed["state"]),
        (&json!("db-1"), &json!("circuit_breaker"), &json!("closed"))
    );
}

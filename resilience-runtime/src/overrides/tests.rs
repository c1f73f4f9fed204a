use std::time::Duration;

use resilience_config::{breaker, bulkhead, retry};

use super::configs::jitter;
use super::*;
use crate::{InstanceName, TripPolicy};

fn rate_breaker(window: u32, min_calls: u32) -> BreakerConfig {
    BreakerConfig {
        policy: TripPolicy::FailureRate {
            failure_rate: 0.5,
            window,
            min_calls,
        },
        ..BreakerConfig::new(InstanceName::given("test"))
    }
}

#[test]
fn the_runtime_defaults_are_the_shared_ones() {
    let name = InstanceName::given("defaults");
    let breaker = BreakerConfig::new(name);
    assert_eq!(
        breaker.policy,
        TripPolicy::Consecutive {
            threshold: breaker::DEFAULT_THRESHOLD
        }
    );
    assert_eq!(
        breaker.open_for(),
        Duration::from_nanos(breaker::DEFAULT_TIMEOUT_NANOS)
    );
    assert_eq!(breaker.half_open, breaker::DEFAULT_HALF_OPEN);
    let retry = RetryConfig::new(name);
    assert_eq!(retry.max, retry::DEFAULT_MAX);
    assert_eq!(retry.base, Duration::from_nanos(retry::DEFAULT_BASE_NANOS));
    assert_eq!(
        retry.max_delay,
        Duration::from_nanos(retry::DEFAULT_MAX_DELAY_NANOS)
    );
    assert_eq!(retry.jitter, jitter(retry::DEFAULT_JITTER));
    let bulkhead = BulkheadConfig::new(name, 4);
    assert_eq!(
        bulkhead.max_wait,
        bulkhead::DEFAULT_MAX_WAIT_NANOS.map(Duration::from_nanos)
    );
    assert_eq!(bulkhead.queue, bulkhead::DEFAULT_QUEUE);
}

#[test]
fn values_are_checked_alone_up_front() {
    let errors = configure([
        ("alone/circuit_breaker/window", "20"),
        ("alone/circuit_breaker/window", "4000000000"),
        ("alone/circuit_breaker/half_open", "4097"),
        ("alone/bulkhead/max", "2147483648"),
        ("alone/bulkhead/max_wait", "0.5ns"),
        ("alone/retry/max", "0"),
        ("alone/retry/jitter", "random"),
        ("alone/timeout/limit", "0s"),
        ("/circuit_breaker/threshold", "5"),
    ])
    .unwrap_err();
    let reasons: Vec<_> = errors.iter().map(|e| e.reason.as_str()).collect();
    assert_eq!(
        reasons,
        [
            "`window` must be at most 16777216",
            "`half_open` must be at most 4096",
            "`max` must be at most 2147483647",
            "`0.5ns` is finer than a nanosecond; durations are whole nanoseconds",
            r#"unknown jitter `random`; expected one of: "none", "full", "equal", "decorrelated""#,
            "the time limit must be longer than zero: every call would time out",
            "`name` must not be empty: it names the instance in errors, monitoring and overrides",
        ]
    );
}

#[test]
fn an_unknown_parameter_lists_the_known_ones() {
    let errors = configure([("unknown/retry/tries", "2")]).unwrap_err();
    assert_eq!(
        errors[0].reason,
        "unknown parameter `tries` for retry; expected one of: max, base, max_delay, jitter, budget, budget_min, max_elapsed"
    );
}

#[test]
fn timeout_max_obeys_the_attributes_rule_against_timeout() {
    let compiled = BreakerConfig::new(InstanceName::given("backoff"));
    let (config, refused) = overridden("backoff", &compiled, &[("timeout_max", "5m")]);
    assert!(refused.is_empty(), "{refused:?}");
    assert_eq!(config.open_for_max(), Duration::from_secs(300));

    let (config, refused) = overridden("backoff-below", &compiled, &[("timeout_max", "5s")]);
    assert_eq!(config, compiled, "refused: below the compiled 10 s timeout");
    assert_eq!(refused.len(), 1);
    assert_eq!(
        refused[0].reason,
        Error::TimeoutMaxBelowTimeout.to_string(),
        "the attribute's message"
    );

    // Raising `timeout` past a compiled cap refuses the override, not the compiled value.
    let capped = compiled.with_open_for_max(Duration::from_secs(60));
    let (config, refused) = overridden("backoff-raised", &capped, &[("timeout", "2m")]);
    assert_eq!(config, capped);
    assert_eq!(refused[0].key, "backoff-raised/circuit_breaker/timeout");
    assert!(configure([("x/circuit_breaker/timeout_max", "0s")]).is_err());
}

#[test]
fn a_window_follows_a_failure_rate_breaker_and_its_default_min_calls() {
    let (config, refused) = overridden("follows", &rate_breaker(100, 100), &[("window", "20")]);
    assert!(refused.is_empty(), "{refused:?}");
    assert_eq!(config.policy, rate_breaker(20, 20).policy);
}

#[test]
fn a_window_below_an_explicit_min_calls_is_refused_at_first_call() {
    let (config, refused) = overridden(
        "below-min-calls",
        &rate_breaker(100, 50),
        &[("window", "20"), ("timeout", "30s")],
    );
    assert_eq!(
        config.policy,
        rate_breaker(100, 50).policy,
        "compiled window"
    );
    assert_eq!(
        config.open_for(),
        Duration::from_secs(30),
        "the timeout still applies"
    );
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].key, "below-min-calls/circuit_breaker/window");
    assert_eq!(
        refused[0].reason,
        "`min_calls` cannot exceed `window` (20): the window never holds more calls"
    );
}

#[test]
fn a_window_needs_a_failure_rate() {
    let compiled = BreakerConfig::new(InstanceName::given("consecutive"));
    let (config, refused) = overridden("consecutive", &compiled, &[("window", "20")]);
    assert_eq!(config.policy, compiled.policy);
    assert_eq!(
        refused[0].reason,
        "`window` applies to a failure-rate breaker; set `failure_rate` too"
    );
    let (config, refused) = overridden(
        "switched",
        &compiled,
        &[("failure_rate", "0.25"), ("window", "20")],
    );
    assert!(refused.is_empty(), "{refused:?}");
    assert_eq!(
        config.policy,
        TripPolicy::FailureRate {
            failure_rate: 0.25,
            window: 20,
            min_calls: 20
        }
    );
}

#[test]
fn threshold_and_failure_rate_together_are_both_refused() {
    let compiled = BreakerConfig::new(InstanceName::given("both"));
    let (config, refused) = overridden(
        "both",
        &compiled,
        &[
            ("threshold", "5"),
            ("failure_rate", "0.5"),
            ("half_open", "2"),
        ],
    );
    assert_eq!(config.policy, compiled.policy);
    assert_eq!(config.half_open, 2);
    let keys: Vec<_> = refused.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "both/circuit_breaker/threshold",
            "both/circuit_breaker/failure_rate"
        ]
    );
}

#[test]
fn rules_between_parameters_do_not_depend_on_the_order_of_application() {
    let compiled = RetryConfig::new(InstanceName::given("order"));
    let (config, refused) = overridden(
        "order",
        &compiled,
        &[("base", "20s"), ("max_delay", "30s"), ("max", "0")],
    );
    assert!(refused.is_empty(), "{refused:?}");
    assert_eq!(
        (config.base, config.max_delay, config.max),
        (Duration::from_secs(20), Duration::from_secs(30), 0)
    );
    let (config, refused) = overridden("order-bad", &compiled, &[("base", "20s")]);
    assert_eq!(config.base, compiled.base);
    assert_eq!(
        refused[0].reason,
        "`base` is longer than `max_delay`: every delay would be capped to `max_delay`"
    );
}

#[test]
fn rate_limit_overrides_use_the_attributes_limits() {
    let errors = configure([
        ("limits-rate/rate_limit/rate", "0"),
        ("limits-rate/rate_limit/burst", "0"),
        ("limits-rate/rate_limit/per", "0s"),
        ("limits-rate/rate_limit/max_wait", "soon"),
        ("limits-rate/rate_limit/window", "2"),
    ])
    .unwrap_err();
    let reasons: Vec<_> = errors.iter().map(|e| e.reason.as_str()).collect();
    assert_eq!(
        reasons,
        [
            "`rate` must be at least 1",
            "`burst` must be at least 1",
            "`per` must be longer than zero: a rate per no time at all is no limit",
            "cannot parse `soon` as a duration; write a number and a unit, like 250ms, 10s, 1.5s, 2m or 1h (units: ns, us, ms, s, m, h)",
            "unknown parameter `window` for rate_limit; expected one of: rate, per, burst, max_wait",
        ]
    );
}

#[test]
fn a_default_burst_follows_an_overridden_rate() {
    let compiled = RateLimitConfig::new(InstanceName::given("follows-rate"), 10);
    let (config, refused) = overridden(
        "follows-rate",
        &compiled,
        &[("rate", "50"), ("per", "1m"), ("max_wait", "0s")],
    );
    assert!(refused.is_empty(), "{refused:?}");
    assert_eq!(
        (
            config.rate(),
            config.burst(),
            config.per(),
            config.max_wait()
        ),
        (50, 50, Duration::from_secs(60), Some(Duration::ZERO))
    );
    let explicit = compiled.with_burst(2).with_max_wait(Duration::from_secs(1));
    let (config, refused) = overridden(
        "explicit-burst",
        &explicit,
        &[("rate", "50"), ("max_wait", "none")],
    );
    assert!(refused.is_empty(), "{refused:?}");
    assert_eq!((config.burst(), config.max_wait()), (2, None));
}

#[test]
fn bulkhead_none_means_unbounded() {
    let compiled = BulkheadConfig {
        max_wait: Some(Duration::from_millis(50)),
        queue: Some(10),
        ..BulkheadConfig::new(InstanceName::given("none"), 2)
    };
    let (config, refused) = overridden(
        "none",
        &compiled,
        &[("max_wait", "none"), ("queue", "NONE"), ("max", "3")],
    );
    assert!(refused.is_empty(), "{refused:?}");
    assert_eq!((config.max, config.max_wait, config.queue), (3, None, None));
}

use std::time::Duration;

use super::backoff::exponential;
use super::*;
use crate::InstanceName;

const MS: Duration = Duration::from_millis(1);

fn policy(max: u32, base: Duration, max_delay: Duration, jitter: Jitter) -> RetryPolicy {
    RetryPolicy::new(RetryConfig {
        max,
        base,
        max_delay,
        jitter,
        ..RetryConfig::new(InstanceName::given("test"))
    })
}

#[test]
fn defaults_match_the_contract() {
    let config = RetryConfig::new(InstanceName::given("x"));
    assert_eq!(config.max, 3);
    assert_eq!(config.base, 100 * MS);
    assert_eq!(config.max_delay, Duration::from_secs(10));
    assert_eq!(config.jitter, Jitter::Full);
    assert_eq!(RetryPolicy::new(config).name(), "x");
}

#[test]
fn no_jitter_doubles_exactly() {
    let p = policy(3, 100 * MS, Duration::from_secs(10), Jitter::None);
    let delays: Vec<_> = p.backoff().collect();
    assert_eq!(delays, [100 * MS, 200 * MS, 400 * MS]);
}

#[test]
fn delays_are_capped_at_max_delay() {
    let p = policy(
        6,
        Duration::from_secs(1),
        Duration::from_secs(5),
        Jitter::None,
    );
    let secs: Vec<_> = p.backoff().map(|d| d.as_secs()).collect();
    assert_eq!(secs, [1, 2, 4, 5, 5, 5]);
}

#[test]
fn huge_retry_numbers_do_not_overflow() {
    let cap = Duration::from_secs(10);
    for k in [31, 32, 33, 63, 64, 65, 1_000, u32::MAX - 1, u32::MAX] {
        assert_eq!(exponential(100 * MS, k, cap), cap, "k = {k}");
        assert_eq!(exponential(Duration::MAX, k, Duration::MAX), Duration::MAX);
        assert_eq!(exponential(Duration::ZERO, k, cap), Duration::ZERO);
    }
    assert_eq!(exponential(Duration::MAX, 0, Duration::MAX), Duration::MAX);

    // Driving a real Backoff far along, with every jitter kind and an unbounded cap.
    for jitter in [
        Jitter::None,
        Jitter::Full,
        Jitter::Equal,
        Jitter::Decorrelated,
    ] {
        let p = policy(u32::MAX, 100 * MS, Duration::MAX, jitter);
        let mut backoff = p.backoff();
        for _ in 0..200 {
            assert!(backoff.next_delay().is_some());
        }
        // Set the counter close to the end: the last retries are still computed.
        backoff.retries = u32::MAX - 2;
        assert!(backoff.next_delay().is_some());
        assert!(backoff.next_delay().is_some());
        assert_eq!(backoff.next_delay(), None);
    }
}

#[test]
fn next_delay_returns_none_after_max_retries() {
    let p = policy(5, 10 * MS, Duration::from_secs(1), Jitter::Full);
    let mut backoff = p.backoff();
    assert_eq!(backoff.size_hint(), (5, Some(5)));
    for i in 1..=5 {
        assert!(backoff.next_delay().is_some());
        assert_eq!(backoff.retries(), i);
    }
    assert_eq!(backoff.next_delay(), None);
    assert_eq!(backoff.next(), None);
    assert_eq!(backoff.retries(), 5);
    assert_eq!(backoff.size_hint(), (0, Some(0)));
}

#[test]
fn max_zero_gives_no_delay() {
    let p = policy(0, 100 * MS, Duration::from_secs(10), Jitter::None);
    let mut backoff = p.backoff();
    assert_eq!(backoff.next_delay(), None);
    assert_eq!(backoff.retries(), 0);
}

/// Collects `rounds` full backoff sequences, grouped by retry number.
fn samples(p: &RetryPolicy, rounds: usize) -> Vec<Vec<Duration>> {
    let mut by_k = vec![Vec::with_capacity(rounds); p.config().max as usize];
    for _ in 0..rounds {
        for (k, d) in p.backoff().enumerate() {
            by_k[k].push(d);
        }
    }
    by_k
}

fn varies(values: &[Duration]) -> bool {
    values.iter().any(|v| *v != values[0])
}

#[test]
fn full_jitter_stays_within_zero_and_d_and_varies() {
    let p = policy(6, 100 * MS, 2_000 * MS, Jitter::Full);
    for (k, values) in samples(&p, 2_000).iter().enumerate() {
        let d = exponential(100 * MS, u32::try_from(k).unwrap(), 2_000 * MS);
        assert!(values.iter().all(|v| *v <= d), "k = {k}");
        assert!(varies(values), "k = {k}");
        // Both halves of the range are reached.
        assert!(values.iter().any(|v| *v < d / 4), "k = {k}");
        assert!(values.iter().any(|v| *v > d * 3 / 4), "k = {k}");
    }
}

#[test]
fn equal_jitter_stays_within_half_d_and_d_and_varies() {
    let p = policy(6, 100 * MS, 2_000 * MS, Jitter::Equal);
    for (k, values) in samples(&p, 2_000).iter().enumerate() {
        let d = exponential(100 * MS, u32::try_from(k).unwrap(), 2_000 * MS);
        assert!(values.iter().all(|v| *v >= d / 2 && *v <= d), "k = {k}");
        assert!(varies(values), "k = {k}");
    }
}

#[test]
fn decorrelated_jitter_stays_within_base_and_three_times_previous() {
    let base = 100 * MS;
    let cap = 3_000 * MS;
    let p = policy(12, base, cap, Jitter::Decorrelated);
    let mut firsts = Vec::new();
    let mut reached_cap = false;
    for _ in 0..2_000 {
        let mut previous = base;
        for d in p.backoff() {
            assert!(d >= base, "{d:?} below base");
            assert!(d <= cap, "{d:?} above the cap");
            assert!(d <= previous * 3, "{d:?} above 3 x {previous:?}");
            reached_cap |= d == cap;
            previous = d;
        }
        firsts.push(p.backoff().next_delay().unwrap());
    }
    assert!(varies(&firsts));
    assert!(firsts.iter().all(|d| *d <= base * 3));
    assert!(reached_cap, "twelve retries should reach a 3 s cap");
}

#[test]
fn decorrelated_jitter_with_cap_below_base_returns_the_cap() {
    let p = policy(3, 100 * MS, 10 * MS, Jitter::Decorrelated);
    assert!(p.backoff().all(|d| d == 10 * MS));
}

#[test]
fn zero_base_gives_zero_delays() {
    for jitter in [
        Jitter::None,
        Jitter::Full,
        Jitter::Equal,
        Jitter::Decorrelated,
    ] {
        let p = policy(40, Duration::ZERO, Duration::from_secs(1), jitter);
        assert!(p.backoff().all(|d| d.is_zero()), "{jitter:?}");
    }
}

//! Unit tests of the latency buckets and the percentile estimate.

use std::time::Duration;

use tokio::time::Instant;

use super::latency::{bucket, upper_edge, Latencies, BUCKETS, PERIOD_SECS};

/// Records one call of `latency` that completed now.
fn record(latencies: &Latencies, latency: Duration) {
    let now = Instant::now();
    latencies.record(now - latency, now);
}

#[test]
fn buckets_are_monotonic_and_within_a_sixteenth() {
    let mut last = 0;
    for micros in (1..5_000_000u64).step_by(997) {
        let latency = Duration::from_micros(micros);
        let b = bucket(latency);
        assert!(b >= last, "bucket order at {micros} µs");
        assert!(b < BUCKETS);
        last = b;
        let edge = Duration::from_nanos(upper_edge(b) << 10);
        assert!(edge >= latency, "{micros} µs under its upper edge {edge:?}");
        assert!(
            edge.as_secs_f64() <= latency.as_secs_f64() * 1.07 + 2e-6,
            "{micros} µs: edge {edge:?} within 7 %"
        );
    }
    assert_eq!(
        bucket(Duration::from_secs(1_000_000)),
        BUCKETS - 1,
        "capped"
    );
}

#[tokio::test(start_paused = true)]
async fn no_estimate_before_the_warm_up() {
    let latencies = Latencies::new();
    for _ in 0..99 {
        record(&latencies, Duration::from_millis(10));
    }
    assert_eq!(latencies.percentile(950), None, "99 calls");
    record(&latencies, Duration::from_millis(10));
    let p95 = latencies.percentile(950).unwrap();
    assert!(
        p95 >= Duration::from_millis(10) && p95 < Duration::from_millis(11),
        "{p95:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn percentiles_split_the_distribution() {
    let latencies = Latencies::new();
    // 90 fast calls at 10 ms, 10 slow ones at 1 s.
    for i in 0..1_000 {
        let ms = if i % 10 == 0 { 1_000 } else { 10 };
        record(&latencies, Duration::from_millis(ms));
    }
    let p50 = latencies.percentile(500).unwrap();
    let p95 = latencies.percentile(950).unwrap();
    assert!(p50 < Duration::from_millis(11), "{p50:?}");
    assert!(
        p95 >= Duration::from_secs(1) && p95 < Duration::from_millis(1_070),
        "{p95:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn old_latencies_decay_after_two_periods() {
    let latencies = Latencies::new();
    for _ in 0..200 {
        record(&latencies, Duration::from_millis(500));
    }
    assert!(latencies.percentile(500).unwrap() >= Duration::from_millis(500));
    tokio::time::advance(Duration::from_secs(PERIOD_SECS)).await;
    for _ in 0..200 {
        record(&latencies, Duration::from_millis(5));
    }
    let mixed = latencies.percentile(900).unwrap();
    assert!(
        mixed >= Duration::from_millis(500),
        "both periods read: {mixed:?}"
    );
    tokio::time::advance(Duration::from_secs(PERIOD_SECS)).await;
    let recent = latencies.percentile(900).unwrap();
    assert!(
        recent < Duration::from_millis(6),
        "the 500 ms period is gone: {recent:?}"
    );
}

#[test]
fn a_hedge_fits_in_a_few_kilobytes_of_its_static() {
    let size = std::mem::size_of::<super::Hedge>();
    println!("size_of::<Hedge>() = {size}");
    // Two generations of 528 four-byte buckets, the budget's ten marks, the configuration.
    let counters = if cfg!(feature = "stats") { 64 } else { 0 };
    assert!(size <= 4_600 + counters, "Hedge grew to {size} bytes");
}

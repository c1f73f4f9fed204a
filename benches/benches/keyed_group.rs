//! The `keyed` group, in both variants (`keyed.rs`, `keyed_noinline.rs`): one call for a key
//! already seen, ours beside governor's keyed rate limiter (`RateLimiter::keyed`, `check_key`,
//! on its default store, `dashmap`), called through a function of ours as in `peers.rs`.
//!
//! Calls rotate over `HOSTS` keys, every one seen before timing starts, so each entry measures
//! the lookup of a resident key and the instance's happy path; the plain call is the baseline
//! to subtract, as in `overhead`.

use criterion::Criterion;
use tokio::runtime::Builder;

use crate::common::{check, per_call, plain, runtime};
use crate::ours::{breaker_keyed, breaker_unkeyed, bulkhead_keyed, host, rate_limit_keyed, HOSTS};
use crate::peers::{governor_keyed, via_governor_check_key};
use crate::variant;

pub(crate) fn keyed(c: &mut Criterion) {
    let rt = runtime(Builder::new_current_thread());
    let governor = governor_keyed();
    rt.block_on(async {
        for i in 0..HOSTS as u64 {
            check(breaker_keyed(i, host(i)).await);
            check(bulkhead_keyed(i, host(i)).await);
            check(rate_limit_keyed(i, host(i)).await);
            check(via_governor_check_key(&governor, i, host(i)).await);
        }
    });

    let mut group = c.benchmark_group(variant::group("keyed"));
    group.bench_function("plain", |b| per_call!(b, rt, |i| plain(i).await));
    group.bench_function("ours breaker, unkeyed", |b| {
        per_call!(b, rt, |i| breaker_unkeyed(i).await);
    });
    group.bench_function("ours breaker, seen key", |b| {
        per_call!(b, rt, |i| breaker_keyed(i, host(i)).await);
    });
    group.bench_function("ours bulkhead, seen key", |b| {
        per_call!(b, rt, |i| bulkhead_keyed(i, host(i)).await);
    });
    group.bench_function("ours rate limit, seen key", |b| {
        per_call!(b, rt, |i| rate_limit_keyed(i, host(i)).await);
    });
    group.bench_function("governor check_key, seen key", |b| {
        per_call!(b, rt, |i| via_governor_check_key(&governor, i, host(i))
            .await);
    });
    group.finish();
}

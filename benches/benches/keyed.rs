//! Keyed instances (`key = host`): one call for a key already seen, ours beside governor's
//! keyed rate limiter (`RateLimiter::keyed`, `check_key`, on its default store, `dashmap`), and
//! the concurrent maps a keyed site could be built on, looking up a borrowed key.
//!
//! Calls rotate over `HOSTS` keys, every one seen before timing starts, so each entry measures
//! the lookup of a resident key and the instance's happy path; the plain call is the baseline
//! to subtract, as in `overhead`.
//!
//! ```text
//! cargo bench -p resilience-benches --bench keyed
//! ```

#[macro_use]
#[path = "variant/inline.rs"]
mod variant;

#[allow(dead_code)] // the helpers the other benches use
mod common;
mod ours;
mod settings;

use std::hint::black_box;
use std::num::NonZeroU32;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};
use governor::{DefaultKeyedRateLimiter, Quota};
use tokio::runtime::Builder;

use common::{check, per_call, plain, runtime};
use ours::{breaker_keyed, breaker_unkeyed, bulkhead_keyed, host, hosts, rate_limit_keyed, HOSTS};

/// Times `iters` lookups of rotating keys.
macro_rules! per_lookup {
    ($bencher:expr, |$key:ident| $lookup:expr) => {
        $bencher.iter_custom(|iters| {
            let start = Instant::now();
            for i in 0..iters {
                let $key = black_box(host(i));
                black_box($lookup);
            }
            start.elapsed()
        })
    };
}

fn keyed(c: &mut Criterion) {
    let rt = runtime(Builder::new_current_thread());
    let per_second = NonZeroU32::new(1_000_000_000).expect("non-zero");
    let governor: DefaultKeyedRateLimiter<&'static str> =
        governor::RateLimiter::keyed(Quota::per_second(per_second));
    rt.block_on(async {
        for i in 0..HOSTS as u64 {
            check(breaker_keyed(i, host(i)).await);
            check(bulkhead_keyed(i, host(i)).await);
            check(rate_limit_keyed(i, host(i)).await);
            governor.check_key(&host(i)).expect("a permit");
        }
    });

    let mut group = c.benchmark_group("keyed");
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
        per_call!(b, rt, |i| {
            governor
                .check_key(&host(i))
                .expect("a permit every nanosecond");
            plain(i).await
        });
    });
    group.finish();
}

/// A borrowed `&str` looking up a `String` key in each candidate map, 1 000 keys resident.
/// `papaya` resizes in its blocking mode, as the runtime's keyed map does (`keyed` module
/// docs: the default incremental mode can leave a resize half done for good).
fn keyed_map(c: &mut Criterion) {
    let papaya: papaya::HashMap<String, u64> = papaya::HashMap::builder()
        .resize_mode(papaya::ResizeMode::Blocking)
        .build();
    let dashmap: dashmap::DashMap<String, u64> = dashmap::DashMap::new();
    let scc_index: scc::HashIndex<String, u64> = scc::HashIndex::new();
    let scc_map: scc::HashMap<String, u64> = scc::HashMap::new();
    for (i, key) in (0..).zip(hosts()) {
        papaya.pin().insert((*key).to_owned(), i);
        dashmap.insert((*key).to_owned(), i);
        scc_index.insert((*key).to_owned(), i).expect("new");
        scc_map.insert((*key).to_owned(), i).expect("new");
    }

    let mut group = c.benchmark_group("keyed_map");
    group.bench_function("papaya get", |b| {
        per_lookup!(b, |key| papaya.pin().get(key).copied());
    });
    group.bench_function("dashmap get", |b| {
        per_lookup!(b, |key| dashmap.get(key).map(|v| *v));
    });
    group.bench_function("scc HashIndex peek_with", |b| {
        per_lookup!(b, |key| scc_index.peek_with(key, |_, v| *v));
    });
    group.bench_function("scc HashMap read", |b| {
        per_lookup!(b, |key| scc_map.read(key, |_, v| *v));
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = settings::criterion();
    targets = keyed, keyed_map
}
criterion_main!(benches);

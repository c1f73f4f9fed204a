//! Keyed instances (`key = host`): the `keyed` group (`keyed_group.rs`: one call for a key
//! already seen, ours beside governor's keyed rate limiter), and the concurrent maps a keyed
//! site could be built on, looking up a borrowed key. `keyed_noinline` is the `keyed` group
//! with every body and function `#[inline(never)]`.
//!
//! ```text
//! cargo bench -p resilience-benches --bench keyed --bench keyed_noinline
//! ```

#[macro_use]
#[path = "variant/inline.rs"]
mod variant;

#[allow(dead_code)] // the helpers the other benches use
mod common;
mod keyed_group;
mod ours;
mod peers;
mod settings;

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};

use ours::{host, hosts};

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
    targets = keyed_group::keyed, keyed_map
}
criterion_main!(benches);

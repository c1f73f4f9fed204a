//! The `keyed` group (`keyed_group.rs`) with every body and function `#[inline(never)]`
//! (`variant/noinline.rs`), as `overhead_noinline` is to `overhead`.
//!
//! ```text
//! cargo bench -p resilience-benches --bench keyed_noinline
//! ```

#[macro_use]
#[path = "variant/noinline.rs"]
mod variant;

#[allow(dead_code)] // the helpers the other benches use
mod common;
mod keyed_group;
mod ours;
mod peers;
mod settings;

criterion::criterion_group! {
    name = benches;
    config = settings::criterion();
    targets = keyed_group::keyed
}
criterion::criterion_main!(benches);

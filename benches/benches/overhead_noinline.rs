//! `overhead`'s groups with every body and every function `#[inline(never)]`, as real bodies
//! (which do I/O) are: see `overhead.rs` and `variant/noinline.rs`.
//!
//! ```text
//! cargo bench -p resilience-benches --bench overhead_noinline
//! ```

#[macro_use]
#[path = "variant/noinline.rs"]
mod variant;

mod awaiting;
mod common;
mod groups;
mod ours;
mod peers;
mod settings;

criterion::criterion_main!(groups::benches);

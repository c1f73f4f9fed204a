//! `contended`'s groups with every body and function `#[inline(never)]`, as real bodies (which
//! do I/O) are: see `contended.rs` and `variant/noinline.rs`.
//!
//! ```text
//! cargo bench -p resilience-benches --bench contended_noinline
//! ```

#[macro_use]
#[path = "variant/noinline.rs"]
mod variant;

mod common;
mod contention;
mod peers;
mod settings;

criterion::criterion_main!(contention::benches);

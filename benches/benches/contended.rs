//! Throughput under contention: one shared breaker, one shared bulkhead, and one shared rate
//! limiter (with permits to spare), hammered by many tasks on a two-worker runtime. Ours and the peers' side by side, in calls per second.
//!
//! One iteration spawns [`TASKS`] tasks that each make [`CALLS_PER_TASK`] sequential calls
//! of an `async fn` that succeeds at once, and waits for all of them; criterion reports
//! [`CALLS`] elements per iteration. The calls finish without yielding, so both workers are
//! inside a call most of the time and every call contends for the same state. `plain` is the
//! same loop without any state: its time per call is the floor (spawning, joining, the loop).
//!
//! The same with every body and function `#[inline(never)]` is `contended_noinline`, group
//! `contended/noinline` (`variant/noinline.rs`); the peers are `peers.rs`'s, built once and
//! shared by every task (each task holds a clone of the one breaker or service, as the peers'
//! users do across tasks).
//!
//! ```text
//! cargo bench -p resilience-benches --bench contended --bench contended_noinline
//! ```

#[macro_use]
#[path = "variant/inline.rs"]
mod variant;

mod common;
mod contention;
mod peers;
mod settings;

criterion::criterion_main!(contention::benches);

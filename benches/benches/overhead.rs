//! The cost of one call on the happy path, ours and the peers' side by side.
//!
//! Each entry is one call of an `async fn` that returns `Ok(work(x))` at once: the plain
//! function (the baseline), the same body under one of our attributes, a `floor` (the plain
//! body after the least that attribute's happy path must do: one relaxed load and a branch for
//! a closed breaker, two uncontended read-modify-writes for a bulkhead, one clock read for a
//! timeout or a rate limit, one relaxed `fetch_add` for a retry's budget), or the plain
//! function wrapped by a peer. Entries of one group run in the same process, one after the
//! other, so their ratios come from one run.
//!
//! The breaker and the retry have one floor more, "body as a future": an attribute that sees
//! the body's outcome (a breaker records it, a retry judges it) must run the body as a future
//! of its own, so that a `return` or `?` in it ends the body and not the function. The other
//! floors run the body inline in the function's own future, which costs a body that never
//! awaits nothing; nested, it costs its own state, which this row measures.
//!
//! Every entry runs the same loop — `iters` sequential calls awaited inside one `block_on` of
//! a current-thread runtime, timed from inside (see `common::per_call!`) — so the runtime's own
//! cost is the same for all of them, and `plain`'s time is what to subtract to get an overhead.
//!
//! One group, `awaiting` (`awaiting.rs`), gives every body an await of an out-of-line
//! `async fn`, as a body doing I/O has, so that the floors, like ours, keep their state across
//! it; every other group's body answers without awaiting.
//!
//! # Two variants
//!
//! This binary compiles the groups (`groups.rs`) with bodies and functions as written, so the
//! compiler inlines what it likes into the loop; `overhead_noinline` compiles the same source
//! with every body and every function, ours, the floors' and the peers' wrappers,
//! `#[inline(never)]`, as real bodies doing I/O are (`variant/`). Its groups are named
//! `<group>/noinline`.
//!
//! # The peers are called as their users call them
//!
//! Every peer instance is built once, before its entry, and reused by every call: one
//! failsafe breaker, one recloser, one tower-resilience service, one tower `ConcurrencyLimit`,
//! one tokio `Semaphore`, one governor limiter, one tower `Hedge`; backon's
//! `ExponentialBuilder` is made once and copied into each call's `retry` (it is `Copy`, and
//! `retry` takes it by value). Each peer wraps the same plain function, through a function of
//! ours (`groups.rs`) that is out of line in the `noinline` variant, as our annotated functions
//! are.
//!
//! ```text
//! cargo bench -p resilience-benches --bench overhead --bench overhead_noinline
//! benches/run.sh --rounds 5      # every round of both, medians and ranges, targets held
//! ```

#[macro_use]
#[path = "variant/inline.rs"]
mod variant;

mod awaiting;
mod common;
mod groups;
mod ours;
mod peers;
mod settings;

criterion::criterion_main!(groups::benches);

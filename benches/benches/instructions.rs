//! A fixed number of calls of one entry, for counting instructions per call with
//! callgrind, which is deterministic where timings on a shared machine are not.
//! `instructions_noinline` is the same with every body and function `#[inline(never)]`
//! (`variant/noinline.rs`). `benches/instructions.sh` counts every entry of both:
//!
//! ```text
//! benches/instructions.sh                 # every entry, both variants, a markdown table
//! benches/instructions.sh breaker retry   # some entries
//! ```
//!
//! By hand: `instructions --list` prints the entries; `instructions <entry> <calls>` makes that
//! many calls. Instructions per call are the difference between the callgrind totals at
//! 200 000 and 100 000 calls divided by 100 000, which cancels the program's setup:
//!
//! ```text
//! cargo bench -p resilience-benches --bench instructions --no-run
//! for n in 100000 200000; do
//!   valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/deps/instructions-* breaker $n
//! done
//! ```
//!
//! The entries (`counted.rs`): `plain`; the floors `floor-breaker` (a relaxed load and a
//! branch), `floor-breaker-outcome` (the same, and a second load after a success),
//! `floor-breaker-nested` (that, with the body a future of its own, as an attribute that sees
//! the outcome must run it), `floor-retry` (a relaxed `fetch_add`, the budget's deposit),
//! `floor-retry-nested` (that, with the body a future of its own), `floor-bulkhead` (two
//! read-modify-writes) and `floor-clock` (a read of tokio's clock), each before the plain
//! body; our attributes and the peers of the timed groups
//! (`peers.rs`), each peer through a function that wraps the plain call; `stacked` (three) and
//! `stacked-all` (five) beside the same stacks of peers; keyed, over 1 000 keys seen before
//! counting: `breaker-keyed`, `bulkhead-keyed`, `rate-limit-keyed`, and governor's keyed
//! limiter, `governor-check-key`; and the `tower` layers around `plain` as a `service_fn`, each
//! call a `ready()` and a `call`: `tower-plain` (no layer), `tower-breaker` (our
//! `CircuitBreakerLayer`), `tower-bulkhead` (our `BulkheadLayer`) and tower's own
//! `tower-concurrency-limit` (`ConcurrencyLimitLayer`); and the timed `awaiting` group's
//! entries (`awaiting.rs`), bodies that await an out-of-line `async fn`: `awaiting-plain`, and
//! `awaiting-floor-<x>` beside `awaiting-<x>` for the breaker, retry, bulkhead and stack.

#[macro_use]
#[path = "variant/inline.rs"]
mod variant;

mod awaiting;
mod common;
mod counted;
mod ours;
mod peers;

fn main() {
    counted::main();
}

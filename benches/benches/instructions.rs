//! A fixed number of calls of one entry, for counting instructions per call with
//! callgrind, which is deterministic where timings on a shared machine are not:
//!
//! ```text
//! cargo bench -p resilience-benches --bench instructions --no-run
//! for n in 100000 200000; do
//!   valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/deps/instructions-* ours $n
//! done
//! ```
//!
//! Instructions per call are the difference between the two totals divided by the difference
//! in calls, which cancels the program's setup. Entries: `plain`, `floor` (a clock read and
//! the plain call), `ours` (the rate limit), `governor-check`, `governor-until-ready`, and our
//! other attributes: `retry`, `breaker`, `breaker-window`, `breaker-time-window`, `timeout`, and
//! `tokio-timeout` (`tokio::time::timeout` around the plain call).

#[allow(dead_code)] // the helpers the other benches use
mod common;
mod ours;

use std::hint::black_box;
use std::time::Duration;

use tokio::runtime::Builder;

use common::{check, governor_limiter, plain, runtime};
use ours::{
    breaker_consecutive, breaker_time_window, breaker_window, rate_limited, retried, timed,
};

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let (Some(entry), Some(calls)) = (args.next(), args.next()) else {
        // `cargo bench` runs every bench binary without arguments: nothing to count then.
        eprintln!(
            "usage: instructions <plain|floor|ours|governor-check|governor-until-ready|retry|breaker|breaker-window|breaker-time-window|timeout|tokio-timeout> <calls>"
        );
        return;
    };
    let calls: u64 = calls.parse().expect("a number of calls");
    let rt = runtime(Builder::new_current_thread());
    let governor = governor_limiter();
    // One loop per entry, chosen before it starts: the loop of each entry runs nothing but
    // that entry's call, so entries differ only by what their calls cost.
    macro_rules! count {
        (|$i:ident| $call:expr) => {
            rt.block_on(async {
                for $i in 0..calls {
                    let $i = black_box($i);
                    $call;
                }
            })
        };
    }
    match entry.as_str() {
        "plain" => count!(|i| check(plain(i).await)),
        "floor" => count!(|i| {
            black_box(tokio::time::Instant::now());
            check(plain(i).await);
        }),
        "ours" => count!(|i| check(rate_limited(i).await)),
        "retry" => count!(|i| check(retried(i).await)),
        "breaker" => count!(|i| check(breaker_consecutive(i).await)),
        "breaker-window" => count!(|i| check(breaker_window(i).await)),
        "breaker-time-window" => count!(|i| check(breaker_time_window(i).await)),
        "timeout" => count!(|i| check(timed(i).await)),
        "tokio-timeout" => count!(|i| {
            let limited = tokio::time::timeout(Duration::from_secs(1), plain(i)).await;
            check(limited.expect("a plain call finishes at once"));
        }),
        "governor-check" => count!(|i| {
            governor.check().expect("a permit every nanosecond");
            check(plain(i).await);
        }),
        "governor-until-ready" => count!(|i| {
            governor.until_ready().await;
            check(plain(i).await);
        }),
        other => panic!("unknown entry {other}"),
    }
}

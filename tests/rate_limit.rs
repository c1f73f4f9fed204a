//! `#[rate_limit]` through the facade, on tokio's paused clock (the stress test alone runs on
//! the real clock).

// Fallbacks are async fns by contract, even those that answer without awaiting.
#![allow(clippy::unused_async)]

mod common;

use std::sync::Mutex;
use std::time::Duration;

use common::{offsets_ms, Runs, ServiceError};
use resilience::monitor::{self, InstanceConfig, InstanceKind};
use resilience::{bulkhead, circuit_breaker, fallback, rate_limit, retry, timeout, Rejected};
use tokio::time::Instant;

const MS: Duration = Duration::from_millis(1);

impl ServiceError {
    fn retry_after(&self) -> Option<Duration> {
        match self {
            ServiceError::Rejected(rejected @ Rejected::RateLimited { .. }) => {
                rejected.retry_after()
            }
            _ => None,
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_burst_at_once_then_one_permit_per_interval() {
    static STARTS: Mutex<Vec<Instant>> = Mutex::new(Vec::new());
    #[rate_limit(rate = 10, burst = 3)]
    async fn call(i: u32) -> Result<u32, ServiceError> {
        STARTS.lock().unwrap().push(Instant::now());
        Ok(i)
    }

    let begin = Instant::now();
    for i in 0..7 {
        assert_eq!(call(i).await, Ok(i));
    }
    assert_eq!(offsets_ms(&STARTS, begin), [0, 0, 0, 100, 200, 300, 400]);
}

#[tokio::test(start_paused = true)]
async fn per_sets_the_period_and_the_burst_defaults_to_the_rate() {
    static STARTS: Mutex<Vec<Instant>> = Mutex::new(Vec::new());
    #[rate_limit(rate = 4, per = "2s")]
    async fn call() -> Result<(), ServiceError> {
        STARTS.lock().unwrap().push(Instant::now());
        Ok(())
    }

    let begin = Instant::now();
    for _ in 0..6 {
        call().await.unwrap();
    }
    // A whole period's permits at once, then one every 500 ms.
    assert_eq!(offsets_ms(&STARTS, begin), [0, 0, 0, 0, 500, 1000]);
    // A quiet period refills the burst, and no more.
    tokio::time::advance(Duration::from_secs(10)).await;
    let quiet = Instant::now();
    for _ in 0..5 {
        call().await.unwrap();
    }
    assert_eq!(quiet.elapsed(), 500 * MS);
}

#[tokio::test(start_paused = true)]
async fn a_permit_beyond_max_wait_is_refused_at_once_with_its_retry_after() {
    static RUNS: Runs = Runs::new();
    #[rate_limit(rate = 1, per = "1s", max_wait = "0s")]
    async fn call() -> Result<(), ServiceError> {
        RUNS.hit();
        Ok(())
    }

    let begin = Instant::now();
    call().await.unwrap();
    let refused = call().await.unwrap_err();
    assert_eq!(refused.retry_after(), Some(Duration::from_secs(1)));
    assert_eq!(begin.elapsed(), Duration::ZERO, "refused without waiting");
    tokio::time::advance(400 * MS).await;
    assert_eq!(
        call().await.unwrap_err(),
        ServiceError::Rejected(Rejected::rate_limited(refused_name(&refused), 600 * MS))
    );
    assert_eq!(RUNS.get(), 1, "a refused call does not run its body");
    tokio::time::advance(600 * MS).await;
    call().await.unwrap();
    assert_eq!(RUNS.get(), 2);
}

fn refused_name(error: &ServiceError) -> &'static str {
    match error {
        ServiceError::Rejected(rejected) => rejected.name(),
        other => panic!("not a rejection: {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_caller_waits_up_to_max_wait_and_no_longer() {
    static RUNS: Runs = Runs::new();
    #[rate_limit(rate = 10, burst = 1, max_wait = "250ms")]
    async fn call() -> Result<(), ServiceError> {
        RUNS.hit();
        Ok(())
    }

    let begin = Instant::now();
    let (a, b, c, d) = tokio::join!(call(), call(), call(), call());
    // Due at 0, 100 and 200 ms: within 250 ms. The fourth would be due at 300 ms.
    assert_eq!((a, b, c), (Ok(()), Ok(()), Ok(())));
    assert_eq!(d.unwrap_err().retry_after(), Some(300 * MS));
    assert_eq!(begin.elapsed(), 200 * MS);
    assert_eq!(RUNS.get(), 3);
}

#[tokio::test(start_paused = true)]
async fn waiters_are_served_in_arrival_order() {
    static SERVED: Mutex<Vec<u32>> = Mutex::new(Vec::new());
    #[rate_limit(rate = 20, burst = 1)]
    async fn call(i: u32) -> Result<(), ServiceError> {
        SERVED.lock().unwrap().push(i);
        Ok(())
    }

    let begin = Instant::now();
    let tasks: Vec<_> = (0..6u32)
        .map(|i| {
            tokio::spawn(async move {
                call(i).await.unwrap();
                (i, begin.elapsed().as_millis())
            })
        })
        .collect();
    let mut finished = Vec::new();
    for task in tasks {
        finished.push(task.await.unwrap());
    }
    assert_eq!(
        *SERVED.lock().unwrap(),
        [0, 1, 2, 3, 4, 5],
        "bodies ran in arrival order"
    );
    assert_eq!(
        finished,
        [(0, 0), (1, 50), (2, 100), (3, 150), (4, 200), (5, 250)]
    );
}

#[tokio::test(start_paused = true)]
async fn a_dropped_waiter_gives_its_permit_back() {
    static STARTS: Mutex<Vec<Instant>> = Mutex::new(Vec::new());
    #[rate_limit(rate = 10, burst = 1, name = "dropped-waiter")]
    async fn call() -> Result<(), ServiceError> {
        STARTS.lock().unwrap().push(Instant::now());
        Ok(())
    }

    let begin = Instant::now();
    call().await.unwrap();
    // Waits for the permit due at 100 ms, and is dropped at 40 ms.
    assert!(tokio::time::timeout(40 * MS, call()).await.is_err());
    assert_eq!(
        monitor::rate_limiter("dropped-waiter").unwrap().waiting(),
        0
    );
    // The next caller gets that permit, at 100 ms, not the one after it.
    call().await.unwrap();
    assert_eq!(offsets_ms(&STARTS, begin), [0, 100]);
}

#[tokio::test(start_paused = true)]
async fn functions_are_isolated_and_a_name_shares_a_quota() {
    #[rate_limit(rate = 1, max_wait = "0s", name = "shared-quota")]
    async fn list_repos() -> Result<(), ServiceError> {
        Ok(())
    }
    #[rate_limit(rate = 1, max_wait = "0s", name = "shared-quota")]
    async fn get_repo() -> Result<(), ServiceError> {
        Ok(())
    }
    #[rate_limit(rate = 1, max_wait = "0s")]
    async fn own_quota() -> Result<(), ServiceError> {
        Ok(())
    }

    list_repos().await.unwrap();
    let error = get_repo().await.unwrap_err();
    assert_eq!(
        error.retry_after(),
        Some(Duration::from_secs(1)),
        "one quota"
    );
    own_quota()
        .await
        .expect("a function without a name has its own");
}

#[tokio::test(start_paused = true)]
async fn the_snapshot_shows_permits_waiters_and_configuration() {
    #[rate_limit(rate = 5, per = "1s", burst = 2, name = "snapshot-api")]
    async fn call() -> Result<(), ServiceError> {
        Ok(())
    }

    let find = || {
        monitor::snapshot()
            .into_iter()
            .find(|s| s.name == "snapshot-api")
            .expect("registered at its first call")
    };
    call().await.unwrap();
    let snapshot = find();
    assert_eq!(
        (snapshot.kind, snapshot.available, snapshot.waiting),
        (InstanceKind::RateLimit, Some(1), Some(0))
    );
    let InstanceConfig::RateLimit(config) = snapshot.config else {
        panic!("a rate limiter's snapshot carries its configuration")
    };
    assert_eq!(
        (
            config.rate(),
            config.per(),
            config.burst(),
            config.max_wait()
        ),
        (5, Duration::from_secs(1), 2, None)
    );
    call().await.unwrap();
    let waiter = tokio::spawn(call());
    tokio::task::yield_now().await;
    assert_eq!((find().available, find().waiting), (Some(0), Some(1)));
    waiter.await.unwrap().unwrap();
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!((find().available, find().waiting), (Some(2), Some(0)));
    let stats = find().stats;
    assert_eq!((stats.calls, stats.rejections), (3, 0));
}

#[tokio::test(start_paused = true)]
async fn overrides_apply_and_out_of_range_ones_are_refused() {
    #[rate_limit(rate = 1, max_wait = "0s", name = "overridden-api")]
    async fn call() -> Result<(), ServiceError> {
        Ok(())
    }

    let refused = monitor::configure([
        ("overridden-api/rate_limit/rate", "3"),
        ("overridden-api/rate_limit/burst", "0"),
        ("overridden-api/rate_limit/per", "0s"),
        ("overridden-api/rate_limit/max_wait", "soon"),
    ])
    .unwrap_err();
    let reasons: Vec<_> = refused.iter().map(|e| e.reason.as_str()).collect();
    assert_eq!(
        reasons,
        [
            "`burst` must be at least 1",
            "`per` must be longer than zero: a rate per no time at all is no limit",
            "cannot parse `soon` as a duration; write a number and a unit, like 250ms, 10s, 1.5s, 2m or 1h (units: ns, us, ms, s, m, h)",
        ]
    );
    for _ in 0..3 {
        call().await.expect("rate 3: and the burst follows it");
    }
    assert!(call().await.is_err());
    let config = monitor::rate_limiter("overridden-api").unwrap().config();
    assert_eq!((config.rate(), config.burst()), (3, 3));
    assert_eq!(
        monitor::configure([("x/rate_limit/rate", "0")]).unwrap_err()[0].reason,
        "`rate` must be at least 1"
    );
}

// ---------------------------------------------------------------------------------------------
// Stacking.

#[tokio::test(start_paused = true)]
async fn an_outer_breaker_ignores_rate_limited() {
    static RUNS: Runs = Runs::new();
    #[circuit_breaker(threshold = 1, timeout = "1h", name = "breaker-over-quota")]
    #[rate_limit(rate = 1, max_wait = "0s")]
    async fn call() -> Result<(), ServiceError> {
        RUNS.hit();
        Ok(())
    }

    call().await.unwrap();
    for _ in 0..20 {
        assert!(call().await.unwrap_err().retry_after().is_some());
    }
    let breaker = monitor::breaker("breaker-over-quota").unwrap();
    assert_eq!(breaker.state(), monitor::BreakerState::Closed);
    tokio::time::advance(Duration::from_secs(1)).await;
    call()
        .await
        .expect("a spent quota is no failure: the breaker stayed closed");
    assert_eq!(RUNS.get(), 2);
}

#[tokio::test(start_paused = true)]
async fn inside_retry_every_attempt_takes_a_permit() {
    static STARTS: Mutex<Vec<Instant>> = Mutex::new(Vec::new());
    #[retry(max = 2, base = "10ms", jitter = "none")]
    #[rate_limit(rate = 10, burst = 1, name = "per-attempt")]
    async fn call() -> Result<(), ServiceError> {
        STARTS.lock().unwrap().push(Instant::now());
        Err(ServiceError::Unavailable)
    }

    let begin = Instant::now();
    assert_eq!(call().await, Err(ServiceError::Unavailable));
    // Each retry waits its backoff, then for its own permit, 100 ms after the last.
    assert_eq!(offsets_ms(&STARTS, begin), [0, 100, 200]);
    let stats = monitor::rate_limiter("per-attempt").unwrap().stats();
    assert_eq!(stats.calls, 3, "three permits");
}

#[tokio::test(start_paused = true)]
async fn above_retry_the_whole_call_takes_one_permit() {
    static STARTS: Mutex<Vec<Instant>> = Mutex::new(Vec::new());
    #[rate_limit(rate = 10, burst = 1, name = "per-call")]
    #[retry(max = 2, base = "10ms", jitter = "none")]
    async fn call() -> Result<(), ServiceError> {
        STARTS.lock().unwrap().push(Instant::now());
        Err(ServiceError::Unavailable)
    }

    let begin = Instant::now();
    assert_eq!(call().await, Err(ServiceError::Unavailable));
    // The retries wait their backoff only: 10 ms, then 20 ms.
    assert_eq!(offsets_ms(&STARTS, begin), [0, 10, 30]);
    // The next call waits for the second permit, due 100 ms after the first.
    assert_eq!(call().await, Err(ServiceError::Unavailable));
    assert_eq!(offsets_ms(&STARTS, begin)[3], 100);
    let stats = monitor::rate_limiter("per-call").unwrap().stats();
    assert_eq!(stats.calls, 2, "one permit per call");
}

/// `#[rate_limit]` with every other attribute, in both orders, on a method too.
#[tokio::test(start_paused = true)]
async fn every_order_with_the_others_compiles_and_serves() {
    macro_rules! orders {
        ($($name:ident: [$($attr:meta),+];)+) => {
            $(
                $(#[$attr])+
                async fn $name(x: u32) -> Result<u32, ServiceError> {
                    Ok(x + 1)
                }
                assert_eq!($name(1).await, Ok(2), stringify!($name));
            )+
        };
    }
    async fn plus_zero(_x: u32, error: ServiceError) -> Result<u32, ServiceError> {
        Err(error)
    }
    orders! {
        lr: [rate_limit(rate = 5), retry(max = 1)];
        rl: [retry(max = 1), rate_limit(rate = 5)];
        lc: [rate_limit(rate = 5), circuit_breaker(threshold = 2)];
        cl: [circuit_breaker(threshold = 2), rate_limit(rate = 5)];
        lb: [rate_limit(rate = 5), bulkhead(max = 2)];
        bl: [bulkhead(max = 2), rate_limit(rate = 5)];
        lt: [rate_limit(rate = 5), timeout("1s")];
        tl: [timeout("1s"), rate_limit(rate = 5)];
        lf: [rate_limit(rate = 5), fallback(plus_zero)];
        fl: [fallback(plus_zero), rate_limit(rate = 5)];
        all_six: [fallback(plus_zero), retry(max = 1), circuit_breaker(threshold = 2), rate_limit(rate = 5, burst = 2), bulkhead(max = 2), timeout("1s")];
    }
}

struct Client {
    calls: u32,
}

impl Client {
    #[retry(max = 1, base = "1ms")]
    #[rate_limit(rate = 100, per = "1s", max_wait = "1s")]
    async fn by_mut(&mut self, n: u32) -> Result<u32, ServiceError> {
        self.calls += n;
        Ok(self.calls)
    }

    #[rate_limit(rate = 100)]
    async fn by_ref(&self) -> Result<u32, ServiceError> {
        Ok(self.calls)
    }
}

#[tokio::test(start_paused = true)]
async fn methods_take_a_rate_limit() {
    let mut client = Client { calls: 0 };
    assert_eq!(client.by_mut(2).await, Ok(2));
    assert_eq!(client.by_ref().await, Ok(2));
}

/// The annotated futures are `Send` whenever the body's is: checked at compile time.
const _: () = {
    fn assert_send<T: Send>(_: &T) {}
    #[allow(dead_code)]
    fn rate_limited_futures_are_send(client: &mut Client) {
        assert_send(&client.by_mut(1));
    }
};

// ---------------------------------------------------------------------------------------------
// Many threads, the real clock.

/// Two workers and eight tasks hammer one limiter for a bounded time. GCRA promises at most
/// `burst + rate × elapsed / per` permits over any `elapsed`; `elapsed` is measured from
/// before the first call (so it covers the limiter's whole life) to after the last.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_threads_never_exceed_burst_plus_rate_times_elapsed() {
    static ADMITTED: Runs = Runs::new();
    // One permit every 50 µs, 20 at once; callers wait for at most two.
    #[rate_limit(rate = 20_000, per = "1s", burst = 20, max_wait = "100us")]
    async fn call() -> Result<(), ServiceError> {
        ADMITTED.hit();
        Ok(())
    }

    let begin = std::time::Instant::now();
    let run_for = Duration::from_millis(300);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            tokio::spawn(async move {
                let mut refused = 0u64;
                while begin.elapsed() < run_for {
                    if call().await.is_err() {
                        refused += 1;
                    }
                    tokio::task::yield_now().await;
                }
                refused
            })
        })
        .collect();
    let mut refused = 0;
    for task in tasks {
        refused += task.await.unwrap();
    }
    let elapsed = begin.elapsed();
    let admitted = ADMITTED.get() as u128;
    // burst + rate × elapsed / per, rounded up.
    let bound = 20 + (20_000 * elapsed.as_nanos()).div_ceil(1_000_000_000);
    assert!(
        admitted <= bound,
        "{admitted} admitted in {elapsed:?}: more than {bound}"
    );
    assert!(refused > 0, "the test pushed the limiter past its rate");
    assert!(admitted >= 20, "at least the burst went through");
}

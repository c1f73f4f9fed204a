//! Keyed instances (`key = expr`): one breaker, bulkhead or rate limiter per distinct key,
//! bounded by `max_keys`, listed and found as `name[key]`, on tokio's paused clock (the stress
//! test alone runs on the real clock, on several threads).

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{answer, Runs, ServiceError};
use resilience::monitor::{self, BreakerState};
use resilience::{bulkhead, circuit_breaker, rate_limit, Rejected};
use tokio::sync::Notify;

/// The resident keys of the keyed instances named `name`, sorted.
fn resident(name: &str) -> Vec<String> {
    let mut keys: Vec<String> = monitor::snapshot()
        .into_iter()
        .filter(|s| s.name == name)
        .filter_map(|s| s.key.map(|k| k.to_string()))
        .collect();
    keys.sort();
    keys
}

#[tokio::test(start_paused = true)]
async fn each_host_has_its_own_breaker() {
    static RUNS: Runs = Runs::new();
    #[circuit_breaker(threshold = 2, key = host, name = "keyed-hosts")]
    async fn get(host: &str, fail: bool) -> Result<(), ServiceError> {
        RUNS.hit();
        answer(fail)
    }

    for _ in 0..2 {
        assert_eq!(get("a.example", true).await, Err(ServiceError::Unavailable));
    }
    let rejected = get("a.example", false).await.unwrap_err();
    assert!(rejected.is_circuit_open(), "{rejected:?}");
    assert_eq!(RUNS.get(), 2, "the open breaker did not run the body");
    let ServiceError::Rejected(rejected) = rejected else {
        unreachable!()
    };
    assert_eq!(rejected.name(), "keyed-hosts");
    assert_eq!(rejected.key(), Some("a.example"));
    assert!(
        rejected
            .to_string()
            .starts_with("circuit breaker `keyed-hosts[a.example]` is open"),
        "{rejected}"
    );
    assert_eq!(
        get("b.example", false).await,
        Ok(()),
        "another host is unaffected"
    );
    assert_eq!(RUNS.get(), 3);
    assert_eq!(
        monitor::breaker("keyed-hosts[a.example]").unwrap().state(),
        BreakerState::Open
    );
    assert_eq!(
        monitor::breaker("keyed-hosts[b.example]").unwrap().state(),
        BreakerState::Closed
    );
}

#[tokio::test(start_paused = true)]
async fn each_tenant_has_its_own_bulkhead() {
    static RUNS: Runs = Runs::new();
    #[bulkhead(max = 1, max_wait = "0s", key = tenant)]
    async fn work(tenant: String, gate: Arc<Notify>) -> Result<(), ServiceError> {
        RUNS.hit();
        gate.notified().await;
        Ok(())
    }

    let gate = Arc::new(Notify::new());
    let held = tokio::spawn(work("a".to_owned(), Arc::clone(&gate)));
    tokio::task::yield_now().await;
    assert_eq!(RUNS.get(), 1);
    let full = work("a".to_owned(), Arc::clone(&gate)).await.unwrap_err();
    assert!(full.is_bulkhead_full(), "{full:?}");
    assert_eq!(RUNS.get(), 1, "the full tenant's second call did not run");
    let other = tokio::spawn(work("b".to_owned(), Arc::clone(&gate)));
    tokio::task::yield_now().await;
    assert_eq!(RUNS.get(), 2, "another tenant has a slot of its own");
    gate.notify_waiters();
    held.await.unwrap().unwrap();
    other.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn each_user_has_its_own_rate_limit() {
    static RUNS: Runs = Runs::new();
    #[rate_limit(rate = 1, per = "1s", max_wait = "0s", key = user, name = "keyed-users")]
    async fn call(user: u64) -> Result<(), ServiceError> {
        RUNS.hit();
        Ok(())
    }

    assert_eq!(call(7).await, Ok(()));
    let limited = call(7).await.unwrap_err();
    match &limited {
        ServiceError::Rejected(r @ Rejected::RateLimited { retry_after, .. }) => {
            assert_eq!(*retry_after, Duration::from_secs(1));
            assert_eq!(r.key(), Some("7"));
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
    assert_eq!(
        call(8).await,
        Ok(()),
        "another user has a permit of its own"
    );
    assert_eq!(RUNS.get(), 2);
    assert_eq!(resident("keyed-users"), ["7", "8"]);
}

struct Request {
    tenant_id: u32,
}

struct Client {
    region: &'static str,
}

impl Client {
    #[circuit_breaker(threshold = 1, key = self.region)]
    async fn get(&self, fail: bool) -> Result<(), ServiceError> {
        answer(fail)
    }
}

#[tokio::test(start_paused = true)]
async fn keys_of_every_kind_are_used_borrowed() {
    static RUNS: Runs = Runs::new();
    #[circuit_breaker(threshold = 1, key = name)]
    async fn by_str(name: &str, fail: bool) -> Result<(), ServiceError> {
        RUNS.hit();
        answer(fail)
    }
    #[circuit_breaker(threshold = 1, key = name)]
    async fn by_string(name: String, fail: bool) -> Result<(), ServiceError> {
        RUNS.hit();
        answer(fail)
    }
    #[circuit_breaker(threshold = 1, key = id)]
    async fn by_int(id: i64, fail: bool) -> Result<(), ServiceError> {
        RUNS.hit();
        answer(fail)
    }
    #[circuit_breaker(threshold = 1, key = req.tenant_id)]
    async fn by_field(req: &Request, fail: bool) -> Result<(), ServiceError> {
        RUNS.hit();
        answer(fail)
    }

    // Each opens for the key that failed, and only for it.
    by_str("x", true).await.unwrap_err();
    assert!(by_str("x", false).await.unwrap_err().is_circuit_open());
    assert_eq!(by_str("y", false).await, Ok(()));
    by_string("x".to_owned(), true).await.unwrap_err();
    assert!(by_string("x".to_owned(), false)
        .await
        .unwrap_err()
        .is_circuit_open());
    assert_eq!(by_string("y".to_owned(), false).await, Ok(()));
    by_int(-1, true).await.unwrap_err();
    assert!(by_int(-1, false).await.unwrap_err().is_circuit_open());
    assert_eq!(by_int(1, false).await, Ok(()));
    by_field(&Request { tenant_id: 3 }, true).await.unwrap_err();
    assert!(by_field(&Request { tenant_id: 3 }, false)
        .await
        .unwrap_err()
        .is_circuit_open());
    assert_eq!(by_field(&Request { tenant_id: 4 }, false).await, Ok(()));
    assert_eq!(
        RUNS.get(),
        8,
        "two runs per function: the failure and the other key"
    );

    let eu = Client { region: "eu" };
    let us = Client { region: "us" };
    eu.get(true).await.unwrap_err();
    assert!(eu.get(false).await.unwrap_err().is_circuit_open());
    assert_eq!(us.get(false).await, Ok(()), "a field of self keys too");
}

#[tokio::test(start_paused = true)]
async fn an_open_breaker_survives_eviction_and_keeps_rejecting() {
    static RUNS: Runs = Runs::new();
    #[circuit_breaker(threshold = 1, key = host, max_keys = 3, name = "keyed-evict")]
    async fn get(host: u32, fail: bool) -> Result<(), ServiceError> {
        RUNS.hit();
        answer(fail)
    }

    get(0, true).await.unwrap_err();
    for host in 1..100 {
        assert_eq!(get(host, false).await, Ok(()));
    }
    assert_eq!(RUNS.get(), 100);
    let keys = resident("keyed-evict");
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert!(
        keys.contains(&"0".to_owned()),
        "the open breaker stayed: {keys:?}"
    );
    assert!(get(0, false).await.unwrap_err().is_circuit_open());
    assert_eq!(RUNS.get(), 100, "and still rejects unrun");
}

#[tokio::test(start_paused = true)]
async fn an_instance_with_a_call_in_flight_is_not_evicted() {
    static RUNS: Runs = Runs::new();
    #[bulkhead(max = 1, max_wait = "0s", key = tenant, max_keys = 1, name = "keyed-busy")]
    async fn work(tenant: &'static str, gate: Arc<Notify>) -> Result<(), ServiceError> {
        RUNS.hit();
        gate.notified().await;
        Ok(())
    }

    let gate = Arc::new(Notify::new());
    let held = tokio::spawn(work("a", Arc::clone(&gate)));
    tokio::task::yield_now().await;
    // "b" comes while "a" is busy: nothing is idle, so the map grows past max_keys.
    let b = tokio::spawn(work("b", Arc::clone(&gate)));
    tokio::task::yield_now().await;
    assert_eq!(resident("keyed-busy"), ["a", "b"]);
    let full = work("a", Arc::clone(&gate)).await.unwrap_err();
    assert!(
        full.is_bulkhead_full(),
        "still a's bulkhead, its slot taken: {full:?}"
    );
    assert_eq!(RUNS.get(), 2);
    gate.notify_waiters();
    held.await.unwrap().unwrap();
    b.await.unwrap().unwrap();
    // Idle again: the next new key brings the map back to max_keys.
    gate.notify_one();
    work("c", Arc::clone(&gate)).await.unwrap();
    assert_eq!(resident("keyed-busy"), ["c"]);
    assert_eq!(RUNS.get(), 3);
}

/// A client whose shard is read through a lock.
struct Sharded {
    shard: Mutex<u32>,
}

impl Sharded {
    #[rate_limit(rate = 100, key = *self.shard.lock().unwrap(), name = "keyed-locked")]
    async fn read(&self) -> Result<bool, ServiceError> {
        tokio::task::yield_now().await;
        // The key's guard was a temporary of the key alone: the lock is free during the call.
        Ok(self.shard.try_lock().is_ok())
    }
}

#[tokio::test(start_paused = true)]
async fn a_key_read_through_a_lock_does_not_hold_it_during_the_call() {
    let client = Arc::new(Sharded {
        shard: Mutex::new(7),
    });
    // `spawn` needs the call's future to be `Send`: a `MutexGuard` held across its awaits
    // would not be.
    let call = tokio::spawn({
        let client = Arc::clone(&client);
        async move { client.read().await }
    });
    assert_eq!(
        call.await.unwrap(),
        Ok(true),
        "the lock was free in the body"
    );
    assert_eq!(resident("keyed-locked"), ["7"]);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_or_panicking_call_gives_its_key_back() {
    static RUNS: Runs = Runs::new();
    #[bulkhead(max = 1, max_wait = "0s", key = tenant, max_keys = 1, name = "keyed-dropped")]
    async fn work(
        tenant: &'static str,
        gate: Arc<Notify>,
        panics: bool,
    ) -> Result<(), ServiceError> {
        RUNS.hit();
        assert!(!panics, "the body panics");
        gate.notified().await;
        Ok(())
    }

    let gate = Arc::new(Notify::new());
    // Cancelled while it waits in its body, holding "a"'s slot.
    let cancelled = work("a", Arc::clone(&gate), false);
    let cancelled = tokio::time::timeout(Duration::from_secs(1), cancelled).await;
    assert!(cancelled.is_err(), "timed out, and dropped");
    assert_eq!(resident("keyed-dropped"), ["a"]);
    // "a" gave its count and its slot back: it is idle, so "b" evicts it.
    let panicked = tokio::spawn(work("b", Arc::clone(&gate), true)).await;
    assert!(panicked.unwrap_err().is_panic(), "the body panicked");
    assert_eq!(resident("keyed-dropped"), ["b"]);
    // So did "b", unwinding: "c" evicts it.
    gate.notify_one();
    work("c", Arc::clone(&gate), false).await.unwrap();
    assert_eq!(resident("keyed-dropped"), ["c"]);
    assert_eq!(RUNS.get(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_hundred_thousand_keys_over_ten_thousand_stay_at_ten_thousand() {
    static RUNS: Runs = Runs::new();
    #[circuit_breaker(key = id, max_keys = 10_000, name = "keyed-many")]
    async fn call(id: u32) -> Result<(), ServiceError> {
        RUNS.hit();
        Ok(())
    }

    for id in 0..100_000 {
        call(id).await.unwrap();
    }
    assert_eq!(RUNS.get(), 100_000);
    let keys = resident("keyed-many");
    assert_eq!(keys.len(), 10_000);
    // The most recently used keys are the ones kept.
    assert!(keys.contains(&"99999".to_owned()));
    assert!(!keys.contains(&"0".to_owned()));
}

#[tokio::test(start_paused = true)]
async fn monitor_lists_and_finds_keyed_instances_by_name_and_key() {
    static RUNS: Runs = Runs::new();
    #[circuit_breaker(key = shard, name = "keyed-shards")]
    async fn read(shard: &str) -> Result<(), ServiceError> {
        RUNS.hit();
        Ok(())
    }

    read("s1").await.unwrap();
    read("s2").await.unwrap();
    let names: Vec<String> = monitor::snapshot()
        .iter()
        .filter(|s| s.name == "keyed-shards")
        .map(|s| s.full_name().into_owned())
        .collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"keyed-shards[s1]".to_owned()), "{names:?}");
    assert!(
        monitor::breaker("keyed-shards").is_none(),
        "only keys are instances"
    );
    assert!(
        monitor::breaker("keyed-shards[s3]").is_none(),
        "never called"
    );
    let s1 = monitor::breaker("keyed-shards[s1]").unwrap();
    assert_eq!(s1.key(), Some("s1"));
    s1.force_open();
    assert!(read("s1").await.unwrap_err().is_circuit_open());
    assert_eq!(read("s2").await, Ok(()));
    assert_eq!(RUNS.get(), 3);
    s1.reset();
    assert_eq!(read("s1").await, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn overrides_for_the_name_apply_to_every_key() {
    static RUNS: Runs = Runs::new();
    #[circuit_breaker(threshold = 5, key = host, name = "keyed-overridden")]
    async fn get(host: &str, fail: bool) -> Result<(), ServiceError> {
        RUNS.hit();
        answer(fail)
    }

    monitor::configure([("keyed-overridden/circuit_breaker/threshold", "1")]).unwrap();
    get("a", true).await.unwrap_err();
    assert!(get("a", false).await.unwrap_err().is_circuit_open());
    // A key first seen later gets the overridden threshold too.
    get("b", true).await.unwrap_err();
    assert!(get("b", false).await.unwrap_err().is_circuit_open());
    assert_eq!(RUNS.get(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_threads_and_keys_lose_no_call_and_never_share_a_key() {
    const TASKS: usize = 8;
    const CALLS: usize = 2_000;
    static RUNS: Runs = Runs::new();
    static RUNNING: Mutex<Option<HashMap<usize, usize>>> = Mutex::new(None);
    static OVERLAPS: AtomicUsize = AtomicUsize::new(0);
    // One slot per key, few resident keys: eviction churns while calls run. Were a key's
    // instance evicted with a call in flight, a second instance would admit a second call.
    #[bulkhead(max = 1, key = key, max_keys = 8)]
    async fn call(key: usize) -> Result<(), ServiceError> {
        RUNS.hit();
        let overlap = {
            let mut running = RUNNING.lock().unwrap();
            let count = running
                .get_or_insert_with(HashMap::new)
                .entry(key)
                .or_default();
            *count += 1;
            *count > 1
        };
        if overlap {
            OVERLAPS.fetch_add(1, Ordering::SeqCst);
        }
        tokio::task::yield_now().await;
        *RUNNING
            .lock()
            .unwrap()
            .as_mut()
            .unwrap()
            .get_mut(&key)
            .unwrap() -= 1;
        Ok(())
    }

    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            tokio::spawn(async move {
                let mut ok = 0;
                for i in 0..CALLS {
                    call((task * 7 + i * 13) % 64).await.unwrap();
                    ok += 1;
                }
                ok
            })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        ok += tokio::time::timeout(Duration::from_secs(60), task)
            .await
            .expect("no call hangs")
            .unwrap();
    }
    assert_eq!(ok, TASKS * CALLS, "every call returned Ok");
    assert_eq!(RUNS.get(), TASKS * CALLS, "every call ran its body once");
    assert_eq!(
        OVERLAPS.load(Ordering::SeqCst),
        0,
        "never two bodies of one key at once"
    );
}

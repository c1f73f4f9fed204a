//! Unit tests of keyed sites: key identity, borrowed lookups, eviction order and rules.

use super::key::hashes_as;
use super::{Keyed, KeyedRef};
use crate::{
    BreakerConfig, Bulkhead, BulkheadConfig, CircuitBreaker, InstanceName, RateLimitConfig,
    RateLimiter, TripPolicy,
};

const fn breaker(name: &'static str) -> CircuitBreaker {
    CircuitBreaker::new(
        BreakerConfig::new(InstanceName::given(name))
            .with_policy(TripPolicy::Consecutive { threshold: 1 }),
    )
}

/// The bytes `value`'s `Hash` writes.
fn stream<K: std::hash::Hash + ?Sized>(value: &K) -> Vec<u8> {
    struct Record(Vec<u8>);
    impl std::hash::Hasher for Record {
        fn finish(&self) -> u64 {
            0
        }
        fn write(&mut self, bytes: &[u8]) {
            self.0.extend_from_slice(bytes);
        }
    }
    let mut record = Record(Vec::new());
    value.hash(&mut record);
    record.0
}

#[test]
fn keys_are_compared_by_the_stream_their_hash_writes() {
    assert!(hashes_as("tenant-a", &stream("tenant-a")));
    assert!(hashes_as(&String::from("tenant-a"), &stream("tenant-a")));
    assert!(
        !hashes_as("tenant-a", &stream("tenant-ab")),
        "a prefix is not equal"
    );
    assert!(
        !hashes_as("tenant-ab", &stream("tenant-a")),
        "nor is a longer key"
    );
    assert!(hashes_as(&-42_i64, &stream(&-42_i64)));
    assert!(!hashes_as(&42_i64, &stream(&43_i64)));
    assert!(
        !hashes_as(&("ab", "c"), &stream(&("a", "bc"))),
        "str's terminator keeps fields apart"
    );
}

#[test]
fn keys_of_every_length_differ_at_every_byte() {
    // The comparison takes short keys by overlapping words: every length it treats apart,
    // and a difference at each position of each, must tell the keys apart.
    for len in 0..=40 {
        let key: String = ('a'..='z').cycle().take(len).collect();
        assert!(
            hashes_as(key.as_str(), &stream(key.as_str())),
            "length {len}"
        );
        for at in 0..len {
            let mut other = key.clone().into_bytes();
            other[at] = b'Z';
            let other = String::from_utf8(other).unwrap();
            assert!(
                !hashes_as(key.as_str(), &stream(other.as_str())),
                "length {len}, differing at {at}"
            );
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_borrowed_str_and_an_owned_string_find_the_same_instance() {
    static SITE: Keyed<CircuitBreaker> = Keyed::new(
        CircuitBreaker::new(BreakerConfig::new(InstanceName::given("unit-same"))),
        16,
    );
    let a: KeyedRef<CircuitBreaker> = SITE.get("a");
    let owned = String::from("a");
    let again = SITE.get(&owned);
    // `str` and `String` hash alike and display alike: one instance.
    assert!(std::ptr::eq(&*a, &*again));
    assert_eq!(again.key(), "a");
    assert!(!std::ptr::eq(&*a, &*SITE.get("b")));
    drop((a, again));
    assert_eq!(SITE.resident(), 2);
}

#[tokio::test(start_paused = true)]
async fn the_least_recently_used_idle_key_goes_first() {
    static SITE: Keyed<CircuitBreaker> = Keyed::new(breaker("unit-lru"), 3);
    for key in ["a", "b", "c"] {
        drop(SITE.get(key));
    }
    drop(SITE.get("a")); // "b" is now the least recently used
    drop(SITE.get("d"));
    let state = SITE.state.get().unwrap();
    let keys: Vec<String> = state.map.pin().keys().map(|k| k.text.to_string()).collect();
    assert_eq!(keys.len(), 3);
    assert!(!keys.contains(&"b".to_owned()), "{keys:?}");
}

#[tokio::test(start_paused = true)]
async fn open_breakers_held_calls_and_spent_limiters_are_not_idle() {
    static BREAKERS: Keyed<CircuitBreaker> = Keyed::new(breaker("unit-idle-b"), 1);
    static BULKHEADS: Keyed<Bulkhead> = Keyed::new(
        Bulkhead::new(BulkheadConfig::new(InstanceName::given("unit-idle-h"), 1)),
        1,
    );
    static LIMITERS: Keyed<RateLimiter> = Keyed::new(
        RateLimiter::new(RateLimitConfig::new(InstanceName::given("unit-idle-r"), 1)),
        1,
    );

    BREAKERS.get("open").try_acquire().unwrap().failure();
    drop(BREAKERS.get("other"));
    assert_eq!(BREAKERS.resident(), 2, "the open breaker was not evicted");
    drop(BREAKERS.get("third"));
    assert_eq!(BREAKERS.resident(), 2, "the idle one was, for the next key");

    let held = BULKHEADS.get("busy");
    drop(BULKHEADS.get("other"));
    assert_eq!(BULKHEADS.resident(), 2, "a held instance is not evicted");
    drop(held);

    LIMITERS.get("spent").try_acquire().unwrap();
    drop(LIMITERS.get("other"));
    assert_eq!(
        LIMITERS.resident(),
        2,
        "a limiter short of its burst is not evicted"
    );
    tokio::time::advance(std::time::Duration::from_secs(1)).await;
    drop(LIMITERS.get("third"));
    assert_eq!(
        LIMITERS.resident(),
        1,
        "refilled, both are idle again: evicted back to the bound"
    );
}

#[test]
fn a_key_of_a_type_of_its_own_is_named_by_its_display_text() {
    static SITE: Keyed<CircuitBreaker> = Keyed::new(breaker("unit-display"), 4);
    #[derive(Hash)]
    struct Tenant(u32);
    impl std::fmt::Display for Tenant {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "tenant-{}", self.0)
        }
    }
    let a = SITE.get(&Tenant(1));
    assert_eq!(a.key(), "tenant-1");
    assert!(std::ptr::eq(&*a, &*SITE.get(&Tenant(1))));
    assert!(!std::ptr::eq(&*a, &*SITE.get(&Tenant(2))));
    assert_eq!(a.key(), "tenant-1", "the instance keeps its key");
    assert_eq!(SITE.get(&Tenant(1)).key(), a.key());
}

#[test]
fn short_and_long_keys_find_their_own_instance_again() {
    static SITE: Keyed<CircuitBreaker> = Keyed::new(breaker("unit-lengths"), 64);
    // Around the 30 bytes a stored key keeps inline (a `str` writes a terminator too).
    let keys: Vec<String> = (25..40).map(|len| "k".repeat(len)).collect();
    let first: Vec<_> = keys.iter().map(|key| SITE.get(key.as_str())).collect();
    for (key, held) in keys.iter().zip(&first) {
        let again = SITE.get(key.as_str());
        assert!(std::ptr::eq(&**held, &*again), "length {}", key.len());
        assert_eq!(again.key(), key);
    }
    assert_eq!(SITE.resident(), keys.len());
}

#[test]
fn an_instance_monitor_handed_out_is_never_evicted() {
    static SITE: Keyed<CircuitBreaker> = Keyed::new(breaker("unit-pinned"), 1);
    drop(SITE.get("watched"));
    let watched = crate::breaker("unit-pinned[watched]").expect("resident");
    for key in ["b", "c", "d"] {
        drop(SITE.get(key));
    }
    assert_eq!(SITE.resident(), 2, "the other keys evict each other");
    let served = SITE.get("watched");
    assert!(
        std::ptr::eq(watched, &*served),
        "the calls of its key still go to the instance handed out"
    );
    watched.force_open();
    assert!(served.try_acquire().is_err());
}

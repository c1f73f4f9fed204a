//! Keyed instances (`key = host`): one breaker, bulkhead or rate limiter per distinct key,
//! created on a key's first call, bounded by `max_keys`.
//!
//! Generated code declares one `static Keyed<T>` per keyed layer, holding the compiled
//! instance as a template. Its first call resolves the site like [`Site`](crate::Site) does
//! — overrides for the attribute's name are read once and apply to every key, created now or
//! later; functions sharing an explicit `name` share one map — and registers it, so
//! [`snapshot`](crate::snapshot) lists each resident key as `name[key]` and
//! [`breaker`](crate::breaker) finds `"name[key]"`. What makes two keys the same — the bytes
//! their `Hash` writes; their `Display` text names them — is in `key.rs` ("Identity").
//!
//! # A call
//!
//! [`Keyed::get`] hashes the borrowed key, looks it up in a concurrent map and enters the
//! instance: one increment of the entry's count of calls in flight and a relaxed load (a
//! store only when it changed) to mark it recently used. The returned [`KeyedRef`] derefs to
//! the instance and gives the count back when dropped, so cancellation and panics leave
//! nothing behind; its `run` holds it for the call (`run.rs`). A key already seen allocates
//! nothing and takes no lock; a new key takes the site's lock, allocates its text and its
//! instance, and may evict one.
//!
//! # Eviction
//!
//! Past `max_keys` resident instances, adding a key first evicts the least recently used
//! *idle* one: not handed out by a `monitor` lookup (below), no call in flight (waiters of a
//! bulkhead or rate limiter are calls in flight), a breaker closed (an open, half-open or
//! forced breaker keeps protecting: evicting it would let traffic through to a dependency it
//! knows is down, or forget an operator's switch), a rate limiter at rest with its whole burst
//! free (evicting one mid-period would hand its key a fresh burst). "Recently" is counted in
//! insertions: the site's tick advances with every new key, and a call stamps its entry with
//! the tick (a store only when it changed, so a hot key's line stays shared). The victims are
//! found by a scan that keeps the oldest eighth of the idle entries, so a scan serves many
//! insertions; a victim used since the scan is skipped. Eviction is a compare-and-swap of the
//! count of calls in flight from 0 to an `EVICTED` mark, so a call that looked the entry up at
//! the same moment either entered first (the eviction gives up) or sees the mark and retries
//! through the lock (`uses.rs`, model-checked in `loom.rs`). When no instance is
//! idle the map grows past `max_keys` rather than refuse the call, by at most the keys with
//! calls in flight, the breakers that are not closed and the instances `monitor` handed out.
//!
//! # Choosing the map
//!
//! The workload is a lookup of a seen key by a borrowed probe on every call, from many
//! threads at once, and an insertion rarely. `papaya` was chosen over `dashmap` and `scc`
//! (numbers in the README, bench group `keyed_map`):
//!
//! - `dashmap` takes its shard's read lock for a lookup, a compare-and-swap on a word every
//!   thread reading that shard writes, so threads hitting one hot key take turns on a cache
//!   line; and it looks up only through `Borrow`, which the probe here (a precomputed hash and
//!   a borrowed key compared through its `Hash` stream) cannot offer.
//! - `scc`'s `HashIndex` reads without locks and takes `Equivalent` probes too; it is a close
//!   second. `papaya` is the one built for read-mostly workloads (its reads write nothing
//!   shared, its writes never block readers), is maintained by the author of `seize`, on which
//!   its memory reclamation rests, and keeps the code small: a guard per lookup, no per-entry
//!   handles.
//!
//! The map resizes in `papaya`'s blocking mode: the insertion that fills the table moves every
//! entry to the new one before it returns. Insertions are rare here (a key's first call, under
//! the site's lock), and the default incremental mode can leave a resize half done when they
//! stop, for good: every lookup then probes both tables. Measured on 1 000 resident keys
//! (callgrind, one lookup of a 17-byte `&str`, foldhash included), incremental mode costs 100
//! to 380 instructions depending on where the last resize stopped (the hasher's random seed
//! decides), blocking mode 190 every time. A key's first call may pay for a resize: at most
//! `log2(max_keys)` of them in an instance's life, each a copy of the resident entries.
//!
//! # Where an entry lives
//!
//! Over many keys, a call's time goes to cache misses more than to instructions: with 1 000
//! keys, governor's `check_key` misses the L1 cache about twice per call, and this map, with
//! each key's text, `Hash` bytes and instance in allocations of their own, missed it 7.8
//! times (`cachegrind --cache-sim=yes`, 32 KiB L1, the bench's `breaker-keyed`). So the map
//! keeps each entry — its key's hash and `Hash` bytes (inline up to 30 of them), the count of
//! calls in flight, the last-used stamp and the instance, aligned to a cache line — in the one
//! allocation `papaya` makes for it, which it never moves (a resize copies pointers): a lookup
//! follows one pointer from the table, and misses 4.8 times.
//!
//! A call holds neither a map guard across its awaits nor a reference count (two more
//! read-modify-writes per call): its [`KeyedRef`] points at the entry, and the count of calls
//! in flight keeps it there (`uses.rs`). Only an eviction removes an entry, and only after
//! swapping that count from 0 to `EVICTED`, which fails while any call is in flight; a
//! `KeyedRef` gives its count back as the last thing it does with the entry. `papaya` frees a
//! removed entry once no guard that could see it remains, so a lookup racing an eviction
//! (which sees `EVICTED` and backs out under its guard) never touches freed memory. A
//! `monitor` lookup, which hands the instance out as `&'static`, marks the entry `PINNED`
//! instead, which an eviction's swap from 0 never matches: that instance stays resident,
//! serving its key, for good. These, and the borrow `run.rs` lends its run future, are the
//! module's `unsafe` blocks. `loom.rs` model-checks the count against an eviction; the
//! `keyed` tests race calls against evictions on many threads (and pass under valgrind's
//! memcheck).

mod key;
#[cfg(all(test, loom))]
mod loom;
mod run;
mod sites;
#[cfg(all(test, not(loom)))]
mod tests;
mod uses;

use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::{Mutex, OnceLock};

pub use self::key::InstanceKey;
use self::key::{PassThrough, Probe, StoredKey};
pub use self::run::KeyedRun;
pub(crate) use self::sites::{find, snapshots};
pub use self::sites::{Keyable, KeyedSite};
use self::uses::Uses;
use crate::sync::{AtomicU64, Ordering};

/// One keyed layer at one function: the compiled instance, used as the template of every key's
/// instance, and the map of keys, created at the first call. For generated code.
///
/// ```
/// use resilience_runtime::{BreakerConfig, BreakerState, CircuitBreaker, InstanceName, Keyed, TripPolicy};
///
/// static HOSTS: Keyed<CircuitBreaker> = Keyed::new(
///     CircuitBreaker::new(
///         BreakerConfig::new(InstanceName::given("hosts")).with_policy(TripPolicy::Consecutive { threshold: 1 }),
///     ),
///     10_000,
/// );
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// HOSTS.get("a.example").try_acquire().unwrap().failure();
/// assert_eq!(HOSTS.get("a.example").state(), BreakerState::Open);
/// assert_eq!(HOSTS.get("b.example").state(), BreakerState::Closed, "one breaker per key");
/// # }
/// ```
#[doc(hidden)]
pub struct Keyed<T: 'static> {
    own: T,
    max_keys: u32,
    state: OnceLock<&'static KeyedState<T>>,
}

impl<T: Keyable> Keyed<T> {
    /// A keyed site whose keys get instances configured like `own`, at most `max_keys` of
    /// them resident while enough are idle (at least 1).
    pub const fn new(own: T, max_keys: u32) -> Self {
        Self {
            own,
            max_keys,
            state: OnceLock::new(),
        }
    }

    /// The instance for `key`, created at the key's first call.
    #[inline]
    pub fn get<K: InstanceKey + ?Sized>(&'static self, key: &K) -> KeyedRef<T> {
        let state = match self.state.get() {
            Some(state) => state,
            None => self.first_call(),
        };
        state.enter(key)
    }

    /// Resolves the site, then reports refused overrides with no lock held.
    #[cold]
    #[inline(never)]
    fn first_call(&'static self) -> &'static KeyedState<T> {
        let mut refused = Vec::new();
        let state = *self.state.get_or_init(|| {
            let (state, errors) = sites::resolve(&self.own, self.max_keys);
            refused = errors;
            state
        });
        crate::overrides::report(&refused);
        state
    }
}

/// The keys of one keyed site (or of every site sharing its name).
#[doc(hidden)]
pub struct KeyedState<T: 'static> {
    template: &'static T,
    max_keys: usize,
    hasher: foldhash::fast::RandomState,
    map: papaya::HashMap<StoredKey, Entry<T>, PassThrough>,
    /// Advanced by every new key; entries are stamped with it when used.
    tick: AtomicU64,
    /// Eviction candidates from the last scan, the oldest last. Also the lock every new key
    /// and every eviction takes.
    victims: Mutex<Vec<(u64, StoredKey)>>,
}

/// One key's instance, stored in the map's own allocation beside its key. The counts come
/// first, so that a call touches the key's line and the instance's, not a third.
#[repr(C, align(64))]
pub(crate) struct Entry<T: 'static> {
    /// Calls in flight (each holds a [`KeyedRef`]), and the marks of eviction and pinning.
    uses: Uses,
    /// The site's tick when last used.
    last_used: AtomicU64,
    instance: T,
}

impl<T: Keyable> KeyedState<T> {
    fn new(template: &'static T, max_keys: u32) -> Self {
        Self {
            template,
            max_keys: usize::try_from(max_keys.max(1)).unwrap_or(usize::MAX),
            hasher: foldhash::fast::RandomState::default(),
            map: papaya::HashMap::builder()
                .hasher(PassThrough)
                .resize_mode(papaya::ResizeMode::Blocking)
                .build(),
            tick: AtomicU64::new(0),
            victims: Mutex::new(Vec::new()),
        }
    }

    #[inline]
    fn enter<K: InstanceKey + ?Sized>(&self, key: &K) -> KeyedRef<T> {
        let probe = Probe::new(&self.hasher, key);
        if let Some(entered) = self.map.pin().get(&probe).and_then(|e| self.admit(e)) {
            return entered;
        }
        self.insert(&probe)
    }

    /// Enters `entry` unless it is being evicted.
    #[inline]
    fn admit(&self, entry: &Entry<T>) -> Option<KeyedRef<T>> {
        // The instance itself was published by the map's insertion.
        if !entry.uses.enter() {
            return None;
        }
        let tick = self.tick.load(Ordering::Relaxed);
        if entry.last_used.load(Ordering::Relaxed) != tick {
            entry.last_used.store(tick, Ordering::Relaxed);
        }
        Some(KeyedRef::new(entry))
    }

    /// A key not resident (or being evicted): under the lock, look again, else make room and
    /// add it.
    #[cold]
    #[inline(never)]
    fn insert<K: InstanceKey + ?Sized>(&self, probe: &Probe<'_, K>) -> KeyedRef<T> {
        // The key's text is made before the lock: its `Display` is the application's code.
        let key = probe.to_text();
        let mut victims = lock(&self.victims);
        let map = self.map.pin();
        // Evictions finish under this lock, so no entry is marked here.
        if let Some(entered) = map.get(probe).and_then(|e| self.admit(e)) {
            return entered;
        }
        // Back under the bound if the map had grown past it while nothing was idle.
        while map.len() >= self.max_keys && self.evict_one(&mut victims, &map) {}
        let tick = self.tick.fetch_add(1, Ordering::Relaxed) + 1;
        let instance = T::fresh(self.template, &key.text);
        let entry = Entry {
            uses: Uses::new(1),
            last_used: AtomicU64::new(tick),
            instance,
        };
        // Absent, under the lock: this inserts, and returns the entry where the map keeps it.
        KeyedRef::new(map.get_or_insert(key, entry))
    }

    /// Evicts the least recently used idle entry, if any is idle.
    fn evict_one<G: papaya::Guard>(
        &self,
        victims: &mut Vec<(u64, StoredKey)>,
        map: &papaya::HashMapRef<'_, StoredKey, Entry<T>, PassThrough, G>,
    ) -> bool {
        let mut scanned = false;
        loop {
            let Some((stamp, key)) = victims.pop() else {
                if scanned {
                    return false;
                }
                scanned = true;
                self.scan(victims, map);
                continue;
            };
            let Some(entry) = map.get(&key) else { continue };
            if entry.last_used.load(Ordering::Relaxed) != stamp || !entry.instance.is_idle() {
                continue; // used since the scan, or busy now
            }
            if !entry.uses.try_evict() {
                continue; // a call entered
            }
            if !entry.instance.is_idle() {
                // A `monitor` switch came in between: keep it.
                entry.uses.unevict();
                continue;
            }
            map.remove(&key);
            return true;
        }
    }

    /// Refills `victims` with the oldest eighth of the idle entries, the oldest last.
    fn scan<G: papaya::Guard>(
        &self,
        victims: &mut Vec<(u64, StoredKey)>,
        map: &papaya::HashMapRef<'_, StoredKey, Entry<T>, PassThrough, G>,
    ) {
        victims.clear();
        victims.extend(
            map.iter()
                .filter(|(_, e)| e.uses.is_unused() && e.instance.is_idle())
                .map(|(key, e)| (e.last_used.load(Ordering::Relaxed), key.clone())),
        );
        let keep = (self.max_keys / 8).clamp(1, 4096);
        if victims.len() > keep {
            victims.select_nth_unstable_by_key(keep - 1, |(stamp, _)| *stamp);
            victims.truncate(keep);
        }
        victims.sort_unstable_by_key(|(stamp, _)| std::cmp::Reverse(*stamp));
    }

    /// The instance of the key whose text is `key`, pinned: never evicted from now on, so it
    /// can be handed out for good.
    pub(crate) fn pin(&'static self, key: &str) -> Option<&'static T> {
        // Under the lock no entry is marked `EVICTED`, and none is removed.
        let _victims = lock(&self.victims);
        let map = self.map.pin();
        let (_, entry) = map.iter().find(|(k, _)| &*k.text == key)?;
        entry.uses.pin();
        // SAFETY: only an eviction removes an entry, and it swaps `uses` from 0 first, which
        // fails from now on; the map lives as long as this `&'static self`, and keeps each
        // entry where it was inserted.
        Some(unsafe { &*std::ptr::from_ref(&entry.instance) })
    }

    /// How many keys are resident now.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no key is resident.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

impl<T: Keyable> Keyed<T> {
    /// How many keys are resident now (0 before the first call).
    ///
    /// ```
    /// use resilience_runtime::{Bulkhead, BulkheadConfig, InstanceName, Keyed};
    ///
    /// static TENANTS: Keyed<Bulkhead> =
    ///     Keyed::new(Bulkhead::new(BulkheadConfig::new(InstanceName::given("tenants"), 4)), 2);
    /// for tenant in ["a", "b", "c"] {
    ///     drop(TENANTS.get(tenant));
    /// }
    /// assert_eq!(TENANTS.resident(), 2, "the least recently used idle key was evicted");
    /// ```
    pub fn resident(&'static self) -> usize {
        self.state.get().map_or(0, |state| state.len())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Nothing panics while holding it but allocation; the data stays consistent.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One call's hold on a key's instance: derefs to it, and keeps it resident and alive until
/// dropped (module docs, "Where an entry lives").
#[doc(hidden)]
pub struct KeyedRef<T: 'static> {
    /// Counted in the entry's `uses` from [`KeyedRef::new`] to [`KeyedRef::drop`].
    entry: NonNull<Entry<T>>,
}

// SAFETY: a `KeyedRef` is a shared reference to its entry for as long as it lives (below), and
// hands out only `&T`; `Entry<T>` is `Sync` when `T` is.
unsafe impl<T: Sync> Send for KeyedRef<T> {}
// SAFETY: as above.
unsafe impl<T: Sync> Sync for KeyedRef<T> {}

impl<T> KeyedRef<T> {
    /// Holds `entry`, whose count of calls in flight the caller has just incremented.
    #[inline]
    fn new(entry: &Entry<T>) -> Self {
        Self {
            entry: NonNull::from(entry),
        }
    }

    #[inline]
    fn entry(&self) -> &Entry<T> {
        // SAFETY: the count this `KeyedRef` holds in `uses` makes an eviction's swap from 0
        // fail, and only an eviction removes an entry from the map, which owns it: the entry
        // is alive until `drop` gives the count back.
        unsafe { self.entry.as_ref() }
    }
}

impl<T: Keyable> KeyedRef<T> {
    /// The key, as its `Display` wrote it.
    pub fn key(&self) -> &str {
        self.entry().instance.key().unwrap_or_default()
    }
}

impl<T> Deref for KeyedRef<T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        &self.entry().instance
    }
}

impl<T> Drop for KeyedRef<T> {
    #[inline]
    fn drop(&mut self) {
        // The last use of the entry: once the count is back, an eviction may free it.
        self.entry().uses.leave();
    }
}

impl<T: Keyable + std::fmt::Debug> std::fmt::Debug for KeyedRef<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedRef")
            .field("key", &self.key())
            .field("instance", &**self)
            .finish()
    }
}

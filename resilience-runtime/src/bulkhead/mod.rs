//! `#[bulkhead]`: at most `max` bodies running at once, the callers beyond them served in
//! arrival order.
//!
//! # Implementation details
//!
//! A [`Bulkhead`] is one atomic word and a queue of waiters behind a mutex. The word packs two
//! counters:
//!
//! ```text
//!  63                              32 31                               0
//! +----------------------------------+----------------------------------+
//! |      waiting: callers queued     |    free: slots nobody holds      |
//! +----------------------------------+----------------------------------+
//! ```
//!
//! - **Acquire, uncontended:** load the word; if `free > 0` and `waiting == 0`, a
//!   compare-and-swap takes one slot. No lock, no allocation.
//! - **Release:** one `fetch_add` puts the slot back into `free`. If the value it replaced
//!   showed `waiting == 0`, that is all.
//! - **Release with waiters:** if the `fetch_add` saw `waiting > 0`, the releaser then takes
//!   the queue lock and *hands a slot over*: while the word still shows `free > 0` and
//!   `waiting > 0`, one compare-and-swap decrements both, the first waiter is removed from the
//!   queue, and it is woken (after unlocking) already owning the slot. Between its `fetch_add`
//!   and the hand-over the releaser is *pending*.
//! - **Wait:** under the queue lock the caller re-reads the word. If a slot is free and nobody
//!   waits it takes it; if `queue` callers already wait it is rejected; otherwise it increments
//!   `waiting` with a compare-and-swap, and appends `(ticket, waker)` to the queue. A slot that
//!   is free while others wait is not for it: a pending releaser is about to hand it to the
//!   first waiter, so the caller queues behind. Tickets count up, so the queue stays sorted by
//!   ticket and an entry is found by binary search. The queue keeps its capacity, so an untimed
//!   wait allocates only when the queue grows past its longest length so far; a wait in
//!   [`Bulkhead::run`] with a `max_wait` also allocates its timer (see "Size").
//!
//! ## Invariants
//!
//! `waiting` changes only under the lock and always equals the queue's length there. Every
//! slot taken or given is a read-modify-write of the word, which sees its latest value. With
//! `P` the number of pending releasers:
//!
//! **whenever `waiting > 0`, `free <= P`**: every slot that is free while somebody waits belongs
//! to a release in progress, which will hand one slot over.
//!
//! Each step keeps it: a release that sees `waiting == 0` leaves `waiting == 0`; one that sees
//! `waiting > 0` raises `free` and `P` by one each; a hand-over lowers `free`, `waiting` and
//! `P` by one each; a pending releaser that finds `free == 0` or `waiting == 0` under the lock
//! only lowers `P`, which is safe because its slot was already taken (by a hand-over or, while
//! nobody waited, by a caller) or nobody waits.
//! A caller queues only from `free == 0` or from `waiting > 0` (never turning `waiting` from 0
//! with a slot free), [`Bulkhead::try_acquire`] takes slots only while `waiting == 0`, and a
//! waiter leaving the queue only lowers `waiting`.
//!
//! So once every release has finished (`P == 0`), nobody waits while a slot is free: no waiter
//! is left asleep beside a free slot, and no slot is lost. A release that races a caller about
//! to queue either lands first (the caller's compare-and-swap fails, it re-reads and takes the
//! slot) or sees the caller counted, and then, since the caller counted itself under the lock
//! the releaser takes next, finds its queue entry there.
//!
//! # Why hand slots over
//!
//! If a release returned its slot to the word and merely woke the first waiter, any caller
//! arriving in between could take the slot before the woken waiter ran — and under load, new
//! arrivals would starve the queue. Handing the slot directly to the first waiter, and refusing
//! new callers the fast path while anybody waits, serves callers in arrival order. It also means
//! a woken waiter never finds its slot gone and never re-queues. [`Bulkhead::try_acquire`]
//! never barges past a queued waiter either, even in the moment between a release's
//! `fetch_add` and its hand-over.
//!
//! # Cancellation
//!
//! A slot is a [`BulkheadPermit`], returned in its `Drop`: when the body finishes, when it
//! panics, and when the call's future is dropped (by `#[timeout]`, `select!`, or an aborted
//! task). A waiting caller's future removes its queue entry when dropped. When its queue entry is
//! already gone, a hand-over gave it a slot that it did not get to see. That slot is owned, not
//! in `free`, so it is passed on under the same lock: straight to the next waiter if there is
//! one (`waiting` drops by one, `free` is untouched), else into `free` (`waiting` is 0 then).
//! `max_wait` is a timer polled beside the wait and dropped with it, so a timed-out waiter
//! goes through the same path, and a paused test clock drives it.
//!
//! A body is dropped *before* its slot is returned, so `max` bounds live bodies including
//! their teardown (a connection closed in a `Drop`, say), as a semaphore permit held across
//! the call would: [`BulkheadRun`] keeps the body and its phase (which holds the permit) in
//! one variant of an enum, body first. When the body finishes, the enum is set to its empty
//! variant in place (`Pin::set`), which drops the fields in order: the body, then the
//! permit. When the call is cancelled, the same drop glue runs. `max` counts the bodies
//! whose teardown has not finished, not merely those still being polled. `#[bulkhead]`
//! holds the permit in a block of the function's own future ([`Bulkhead::wait`] when the fast
//! path finds no slot) whose value is the awaited body: `.await` drops the body's future as it
//! finishes, before the block ends and drops the permit, on every path.
//!
//! # Memory ordering
//!
//! The counters stay exact under any ordering: every change is a read-modify-write of the one
//! word, and those are totally ordered and always read the latest value. Plain loads
//! (`Relaxed`) only pick a starting value for a compare-and-swap, which fails and retries if the
//! value was stale. The queue and the tickets are guarded by the mutex.
//!
//! On top of that the bulkhead gives the guarantee of a semaphore: everything a body did before
//! its permit dropped *happens before* the body that gets the same slot next.
//!
//! - Putting a slot into `free` (the release's `fetch_add`, and a cancelled waiter's passed-on
//!   slot when the queue is empty) is `Release`; taking one out of `free` (the fast path's and
//!   the lock path's compare-and-swap, and the hand-over's) is `Acquire`. Every modification
//!   of the word is a read-modify-write, so each continues the release sequence of every
//!   earlier one: a taker synchronises with *every* release before it, whichever slot it counts
//!   as its own. Failed compare-and-swaps take nothing and are `Relaxed`.
//! - A slot handed over reaches its waiter through the mutex: the hand-over (after its
//!   `Acquire`) removes the waiter's entry under the lock, and the waiter learns of its slot
//!   only by locking and not finding the entry. A cancelled waiter's owned slot passes on under
//!   the same lock. So the updates of `waiting` alone (always made under the lock) are
//!   `Relaxed`.
//! - A release reads `waiting` from the value its own `fetch_add` replaced. If a caller's
//!   increment of `waiting` comes earlier in the word's order, the caller's critical section
//!   comes earlier in the lock's order too (had the releaser's come first, the increment would
//!   happen after the `fetch_add` and could not be read by it), so the releaser finds the entry.
//! - The hand-over decides from a plain load, under the lock, that nothing is left to do. That
//!   load sees at least the releaser's own `fetch_add` and, through the lock, every earlier
//!   change of `waiting` and every earlier hand-over; while `waiting > 0` nothing else takes
//!   from `free`. A later increment it may miss is another release that saw `waiting > 0`, a
//!   pending releaser that hands its own slot over after taking the lock in turn.
//! - [`Bulkhead::available`] and [`Bulkhead::waiting`] are `Relaxed` snapshots for metrics and
//!   tests; nothing is decided by them.
//!
//! # Size
//!
//! [`BulkheadRun`] is the guarded future plus one 32-byte phase (64-bit targets): the bulkhead
//! before the first poll, the slot while the body runs, or the wait in between. The wait holds
//! its queue ticket and, with a `max_wait`, a pointer to a boxed tokio timer, allocated only
//! when the fast path finds no free slot. Keeping the timer (about a hundred bytes) inline
//! would make every call's future carry it, although most calls never wait. The "finished"
//! state that lets the body be dropped before its slot is returned takes a spare value of the
//! phase's tag, so it costs nothing.
//!
//! # The wait's output
//!
//! Generated code takes the slot in the function's own future: [`Bulkhead::try_acquire`],
//! and [`Bulkhead::wait`] only when that found none. The wait answers an
//! `Option<BulkheadPermit>`, not a `Result` carrying a [`Rejected`], and the rejection is then
//! built by [`Bulkhead::refusal`], inline. Both keep a 48-byte `Rejected` from being written
//! by a call out of line into the caller's frame: with either, a call that never waits ran
//! 4 to 5 ns slower on the bench machine, with the same instructions (`awaiting` bench group;
//! the frame the fast path shares with that cold path is then laid out worse).

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::sync::PoisonError;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use pin_project_lite::pin_project;

use self::acquire::Acquire;
use crate::stats::{Count, Counters, Stats};
use crate::sync::{const_fn, AtomicU64, Mutex, MutexGuard, Ordering};
use crate::{events, Failure, InstanceName, Rejected};

mod acquire;
#[cfg(all(test, loom))]
mod loom;
#[cfg(all(test, not(loom)))]
mod tests;

/// The parameters of `#[bulkhead]`: `max` slots from [`new`](Self::new), the rest changed by
/// `const` builder methods.
///
/// ```
/// use resilience_runtime::{BulkheadConfig, InstanceName};
/// use std::time::Duration;
///
/// const DB: BulkheadConfig = BulkheadConfig::new(InstanceName::given("db"), 8)
///     .with_max_wait(Duration::from_millis(50))
///     .with_queue(100);
/// assert_eq!(DB.max(), 8);
/// assert_eq!(DB.queue(), Some(100));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkheadConfig {
    pub(crate) name: InstanceName,
    pub(crate) max: u32,
    pub(crate) max_wait: Option<Duration>,
    pub(crate) queue: Option<u32>,
}

impl BulkheadConfig {
    /// `max` slots (at least 1), waiting without a time limit, in an unbounded queue.
    pub const fn new(name: InstanceName, max: u32) -> Self {
        Self {
            name,
            max,
            max_wait: None,
            queue: None,
        }
    }

    /// How long a caller waits for a slot before [`Rejected::BulkheadFull`];
    /// `Duration::ZERO` rejects at once when no slot is free. Without it, callers wait until
    /// a slot frees.
    #[must_use]
    pub const fn with_max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = Some(max_wait);
        self
    }

    /// How many callers may wait at once; a caller finding that many waiting is rejected at
    /// once, and 0 lets nobody wait. Without it, the queue is unbounded.
    #[must_use]
    pub const fn with_queue(mut self, queue: u32) -> Self {
        self.queue = Some(queue);
        self
    }

    /// The instance name.
    pub const fn name(&self) -> InstanceName {
        self.name
    }

    /// How many bodies may run at once.
    pub const fn max(&self) -> u32 {
        self.max
    }

    /// How long a caller waits for a slot; `None` waits until one frees.
    pub const fn max_wait(&self) -> Option<Duration> {
        self.max_wait
    }

    /// How many callers may wait at once; `None` is unbounded.
    pub const fn queue(&self) -> Option<u32> {
        self.queue
    }
}

/// Bounded concurrency: at most `max` callers hold a slot at once, and the callers beyond them
/// wait in arrival order.
///
/// What `#[bulkhead(max = 2, max_wait = "50ms")]` generates, written out by hand:
///
/// ```
/// use resilience_runtime::{Bulkhead, BulkheadConfig, Failure, InstanceName, Rejected};
/// use std::time::Duration;
///
/// static DB: Bulkhead =
///     Bulkhead::new(BulkheadConfig::new(InstanceName::given("db"), 2).with_max_wait(Duration::from_millis(50)));
///
/// async fn query(id: u32) -> Result<u32, Failure<std::io::Error>> {
///     DB.run(async move {
///         tokio::time::sleep(Duration::from_millis(100)).await;
///         Ok(id)
///     })
///     .await
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let (a, b, c) = tokio::join!(query(1), query(2), query(3));
/// assert_eq!((a.unwrap(), b.unwrap()), (1, 2));
/// // The third call found both slots taken and gave up after 50 ms.
/// assert!(matches!(c, Err(Failure::Rejected(Rejected::BulkheadFull { max: 2, .. }))));
/// assert_eq!(DB.available(), 2);
/// # }
/// ```
pub struct Bulkhead {
    config: BulkheadConfig,
    /// `waiting << 32 | free`; see the module docs.
    state: AtomicU64,
    queue: Mutex<Queue>,
    counters: Counters,
    /// A keyed instance's key (`keyed/`).
    key: Option<crate::error::KeyText>,
}

/// The callers waiting for a slot, oldest first.
struct Queue {
    next_ticket: u64,
    waiters: VecDeque<Waiter>,
}

struct Waiter {
    ticket: u64,
    waker: Waker,
}

impl Queue {
    fn find(&self, ticket: u64) -> Result<usize, usize> {
        self.waiters.binary_search_by_key(&ticket, |w| w.ticket)
    }
}

/// One waiting caller in the word's high half.
const ONE_WAITER: u64 = 1 << 32;
const FREE_MASK: u64 = ONE_WAITER - 1;

/// The word for `free` free slots and `waiting` queued callers.
const fn pack(free: u32, waiting: u32) -> u64 {
    // `u64::from` is not `const`; both casts widen.
    ((waiting as u64) << 32) | free as u64
}

#[allow(clippy::cast_possible_truncation)] // masked to 32 bits
#[inline]
fn free(word: u64) -> u32 {
    (word & FREE_MASK) as u32
}

#[allow(clippy::cast_possible_truncation)] // the high 32 bits
#[inline]
fn waiting(word: u64) -> u32 {
    (word >> 32) as u32
}

type Guard<'a> = MutexGuard<'a, Queue>;

/// What a caller that found no free slot on the fast path got under the lock.
enum Registration {
    Acquired,
    Full,
    Queued(u64),
}

impl Bulkhead {
    const_fn! {
        /// A bulkhead with `config.max` free slots and nobody waiting.
        ///
        /// # Panics
        ///
        /// If `config.max` is 0 (in a `static`, that is a compile-time error).
        pub fn new(config: BulkheadConfig) -> Self {
            assert!(config.max >= 1, "a bulkhead needs at least one slot");
            Self {
                config,
                state: AtomicU64::new(pack(config.max, 0)),
                queue: Mutex::new(Queue {
                    next_ticket: 0,
                    waiters: VecDeque::new(),
                }),
                counters: Counters::new(),
                key: None,
            }
        }
    }

    /// The configuration.
    pub fn config(&self) -> &BulkheadConfig {
        &self.config
    }

    /// What this bulkhead counted (all zeros without the `stats` feature): `calls` that got a
    /// slot or were turned away, and `rejections`.
    pub fn stats(&self) -> Stats {
        self.counters.read()
    }

    /// The instance name.
    pub fn name(&self) -> &'static str {
        self.config.name.get()
    }

    /// The key of a keyed instance (`key = host` on the attribute), as its `Display` wrote
    /// it; `None` for an instance without a key.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// The same instance, as the one of `key` in a keyed site.
    #[must_use]
    pub(crate) fn with_key(mut self, key: std::sync::Arc<str>) -> Self {
        self.key = Some(crate::error::KeyText::new(key));
        self
    }

    /// Slots free right now. A snapshot for metrics and tests: it may be stale when read, and
    /// in the moment between a release and its hand-over to a waiter it counts the slot being
    /// handed over.
    pub fn available(&self) -> u32 {
        free(self.state.load(Ordering::Relaxed))
    }

    /// Callers waiting for a slot right now. A snapshot, like [`available`](Self::available).
    pub fn waiting(&self) -> u32 {
        waiting(self.state.load(Ordering::Relaxed))
    }

    /// Takes a slot if one is free and nobody is waiting for one; never waits.
    ///
    /// ```
    /// use resilience_runtime::{Bulkhead, BulkheadConfig, InstanceName};
    ///
    /// static ONE: Bulkhead = Bulkhead::new(BulkheadConfig::new(InstanceName::given("one"), 1));
    ///
    /// let permit = ONE.try_acquire().expect("the slot is free");
    /// assert!(ONE.try_acquire().is_none());
    /// drop(permit);
    /// assert_eq!(ONE.available(), 1);
    /// ```
    #[inline]
    pub fn try_acquire(&self) -> Option<BulkheadPermit<'_>> {
        // The hot path, inline: one load and one compare-and-swap.
        let mut word = self.state.load(Ordering::Relaxed);
        while free(word) > 0 && waiting(word) == 0 {
            match self.state.compare_exchange_weak(
                word,
                word - 1,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(self.permit()),
                Err(actual) => word = actual,
            }
        }
        None
    }

    /// Waits for a slot, in arrival order, for at most `max_wait`.
    ///
    /// Dropping the returned future leaves the queue; a slot already handed to it is passed on
    /// to the next waiter.
    ///
    /// # Errors
    ///
    /// [`Rejected::BulkheadFull`] when no slot came free within `max_wait`, or when `queue`
    /// callers were already waiting.
    pub async fn acquire(&self) -> Result<BulkheadPermit<'_>, Rejected> {
        match self.try_acquire() {
            Some(permit) => Ok(permit),
            None => self.wait().await.ok_or_else(|| self.refusal()),
        }
    }

    /// The wait for a slot once [`try_acquire`](Self::try_acquire) found none: in arrival
    /// order, for at most `max_wait` ([`acquire`](Self::acquire) is the two in turn). A small
    /// future (its `max_wait` timer is allocated when it starts waiting), for generated code
    /// that holds the slot in the function's own future. Dropping it leaves the queue; a slot
    /// already handed to it is passed on to the next waiter.
    ///
    /// It answers `None` when [`acquire`](Self::acquire) would reject: the rejection is
    /// already counted and reported then, and [`refusal`](Self::refusal) is its value (module
    /// docs, "The wait's output").
    pub fn wait(&self) -> SlotWait<'_> {
        SlotWait(ManuallyDrop::new(Phase::Start(self)))
    }

    /// Runs `fut` holding a slot, waiting for one as [`acquire`](Self::acquire) does. The slot
    /// is returned when `fut` finishes, panics, or the returned future is dropped, and always
    /// after `fut` itself (with everything it owns) has been dropped, as a semaphore permit
    /// held across the call would be.
    ///
    /// ```
    /// use resilience_runtime::{Bulkhead, BulkheadConfig, Failure, InstanceName};
    /// use std::time::Duration;
    ///
    /// static POOL: Bulkhead = Bulkhead::new(BulkheadConfig::new(InstanceName::given("pool"), 1));
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let start = tokio::time::Instant::now();
    /// let call = |n: u32| POOL.run(async move {
    ///     tokio::time::sleep(Duration::from_millis(10)).await;
    ///     Ok::<_, Failure<String>>(n)
    /// });
    /// // One slot: the second call waits for the first.
    /// let (a, b) = tokio::join!(call(1), call(2));
    /// assert_eq!((a.unwrap(), b.unwrap()), (1, 2));
    /// assert_eq!(start.elapsed(), Duration::from_millis(20));
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// `fut`'s own error, or [`Rejected::BulkheadFull`] as [`acquire`](Self::acquire) returns
    /// it; `fut` is not polled then.
    pub fn run<T, E, F>(&self, fut: F) -> BulkheadRun<'_, F>
    where
        F: Future<Output = Result<T, Failure<E>>>,
    {
        BulkheadRun {
            call: Call::Live {
                fut,
                phase: Phase::Start(self),
            },
        }
    }

    #[inline]
    fn permit(&self) -> BulkheadPermit<'_> {
        self.counters.add(&[Count::Call]);
        BulkheadPermit { bulkhead: self }
    }

    /// The [`Rejected::BulkheadFull`] this bulkhead refuses calls with: what a
    /// [`wait`](Self::wait) that answered `None` was refused with. Building it reports
    /// nothing: the refusal was reported when it was decided.
    ///
    /// ```
    /// use resilience_runtime::{Bulkhead, BulkheadConfig, InstanceName, Rejected};
    ///
    /// static DB: Bulkhead = Bulkhead::new(BulkheadConfig::new(InstanceName::given("db"), 4));
    /// assert!(matches!(DB.refusal(), Rejected::BulkheadFull { name: "db", max: 4, .. }));
    /// ```
    #[inline]
    #[must_use]
    pub fn refusal(&self) -> Rejected {
        Rejected::bulkhead_full(self.name(), self.config.max).keyed(self.key.as_ref())
    }

    fn rejected(&self) -> Rejected {
        let rejected = self.refusal();
        events::rejected(&rejected);
        self.counters.add(&[Count::Call, Count::Rejection]);
        rejected
    }

    fn lock(&self) -> Guard<'_> {
        // Nothing panics while the lock is held with the queue half-updated, so a poisoned
        // queue is still consistent.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The slow path of a caller that found no free slot: under the lock, take a slot that
    /// came free meanwhile, or reject, or join the queue.
    fn register(&self, waker: &Waker) -> Registration {
        let waker = waker.clone();
        let limit = self.config.queue.unwrap_or(u32::MAX);
        let mut queue = self.lock();
        let mut word = self.state.load(Ordering::Relaxed);
        loop {
            if free(word) > 0 && waiting(word) == 0 {
                match self.state.compare_exchange_weak(
                    word,
                    word - 1,
                    Ordering::Acquire,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return Registration::Acquired,
                    Err(actual) => word = actual,
                }
            } else if waiting(word) >= limit {
                return Registration::Full;
            } else {
                // `free == 0`, or others wait and any free slot is a pending releaser's, on
                // its way to the first of them: queue behind. Expects the word unchanged.
                match self.state.compare_exchange_weak(
                    word,
                    word + ONE_WAITER,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => break,
                    Err(actual) => word = actual,
                }
            }
        }
        let ticket = queue.next_ticket;
        queue.next_ticket += 1;
        queue.waiters.push_back(Waiter { ticket, waker });
        Registration::Queued(ticket)
    }

    /// Returns one slot: into `free`, and then, if somebody was waiting, hands a free slot to
    /// the first waiter.
    #[inline]
    fn release(&self) {
        // The hot path, inline: one `fetch_add` (module docs, "Memory ordering").
        let before = self.state.fetch_add(1, Ordering::Release);
        if waiting(before) > 0 {
            self.hand_over();
        }
    }

    /// The pending releaser's half: under the lock, moves one slot from `free` to the first
    /// waiter, if a slot is still free and somebody still waits.
    #[cold]
    #[inline(never)]
    fn hand_over(&self) {
        let mut queue = self.lock();
        // Under the lock `waiting` is fixed, and while it is non-zero nothing but a hand-over
        // takes from `free`: this loop retries only when a concurrent release adds to it (or
        // the weak compare-and-swap fails spuriously).
        let mut word = self.state.load(Ordering::Relaxed);
        while free(word) > 0 && waiting(word) > 0 {
            match self.state.compare_exchange_weak(
                word,
                word - ONE_WAITER - 1,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    let first = queue.waiters.pop_front();
                    drop(queue);
                    // `waiting` counts the queue's entries, so `first` is there.
                    if let Some(first) = first {
                        first.waker.wake();
                    }
                    return;
                }
                Err(actual) => word = actual,
            }
        }
    }

    /// Passes on an owned slot (one a hand-over gave a waiter that was dropped before seeing
    /// it) with the lock held: to the first waiter, or into `free` when the queue is empty.
    /// Wakes the waiter after unlocking.
    fn pass_on_locked(&self, mut queue: Guard<'_>) {
        if let Some(first) = queue.waiters.pop_front() {
            self.state.fetch_sub(ONE_WAITER, Ordering::Relaxed);
            drop(queue);
            first.waker.wake();
        } else {
            // `waiting` is 0 and stays so while we hold the lock.
            self.state.fetch_add(1, Ordering::Release);
        }
    }

    /// A queued caller's future was dropped: leave the queue, or pass on the slot it was
    /// handed and never saw.
    fn cancel(&self, ticket: u64) {
        let mut queue = self.lock();
        match queue.find(ticket) {
            Ok(index) => {
                let entry = queue.waiters.remove(index);
                self.state.fetch_sub(ONE_WAITER, Ordering::Relaxed);
                drop(queue);
                drop(entry);
            }
            Err(_) => self.pass_on_locked(queue),
        }
    }
}

impl fmt::Debug for Bulkhead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = self.state.load(Ordering::Relaxed);
        f.debug_struct("Bulkhead")
            .field("name", &self.name())
            .field("max", &self.config.max)
            .field("available", &free(word))
            .field("waiting", &waiting(word))
            .finish_non_exhaustive()
    }
}

/// One slot of a [`Bulkhead`], returned when dropped: to the first waiting caller, or to the
/// pool when nobody waits.
#[must_use = "the slot is returned as soon as the permit is dropped"]
pub struct BulkheadPermit<'a> {
    bulkhead: &'a Bulkhead,
}

impl Drop for BulkheadPermit<'_> {
    #[inline]
    fn drop(&mut self) {
        self.bulkhead.release();
    }
}

impl fmt::Debug for BulkheadPermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BulkheadPermit")
            .field("bulkhead", &self.bulkhead.name())
            .finish()
    }
}

pin_project! {
    /// The future of [`Bulkhead::run`].
    ///
    /// Hand-written rather than an `async fn`, so the guarded future is stored once and the
    /// uncontended path (one compare-and-swap, the body, one `fetch_add`) is inlined into the
    /// caller. Everything past that path is in [`Phase::wait`], out of line.
    #[must_use = "futures do nothing unless polled"]
    pub struct BulkheadRun<'a, F> {
        #[pin]
        call: Call<'a, F>,
    }
}

pin_project! {
    /// The body and its place in the bulkhead, dropped together: in field order, so the body
    /// (and everything it owns) goes first, while it still holds its slot, and only then the
    /// slot is returned or the queue left; whether the call finished (`poll` sets `Gone`) or
    /// was cancelled (`BulkheadRun` dropped). `Gone` fits in the spare values of `Phase`'s
    /// tag, so it costs no space (module docs, "Cancellation").
    #[project = CallProj]
    enum Call<'a, F> {
        Live {
            #[pin]
            fut: F,
            phase: Phase<'a>,
        },
        Gone,
    }
}

/// Where a [`BulkheadRun`] is. Not generic, so its slow paths are compiled once, in this
/// crate. Its drop glue does the cleanup: a [`BulkheadPermit`] returns its slot, an
/// [`Acquire`] leaves the queue (or passes on a slot it was handed), a timer is freed.
enum Phase<'a> {
    /// Not polled yet.
    Start(&'a Bulkhead),
    /// Queued, or about to be; `timer` is the `max_wait`, if any.
    Waiting {
        acquire: Acquire<'a>,
        timer: Option<Pin<Box<tokio::time::Sleep>>>,
    },
    /// Holding a slot while the body runs; dropping the permit returns it.
    Running { _slot: BulkheadPermit<'a> },
    /// Rejected; the call drops the body and becomes `Call::Gone` next.
    Done,
}

impl Phase<'_> {
    /// Everything but the uncontended path: waits for a slot until this is `Running`, or
    /// rejects (and becomes `Done`).
    ///
    /// # Panics
    ///
    /// If the call already finished.
    #[cold]
    #[inline(never)]
    fn wait(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Rejected>> {
        loop {
            match self {
                Self::Start(bulkhead) => {
                    // The fast path found no slot; the lock path re-checks.
                    let bulkhead = *bulkhead;
                    let timer = match bulkhead.config.max_wait {
                        None => None,
                        Some(limit) if limit.is_zero() => {
                            *self = Self::Done;
                            return Poll::Ready(Err(bulkhead.rejected()));
                        }
                        Some(limit) => Some(Box::pin(tokio::time::sleep(limit))),
                    };
                    let acquire = Acquire::new(bulkhead);
                    *self = Self::Waiting { acquire, timer };
                }
                Self::Waiting { acquire, timer } => {
                    let bulkhead = acquire.bulkhead;
                    // The wait first: a slot handed over as the time runs out is taken.
                    let acquired = match Pin::new(acquire).poll(cx) {
                        Poll::Ready(acquired) => acquired,
                        Poll::Pending => {
                            let expired = timer
                                .as_mut()
                                .is_some_and(|timer| timer.as_mut().poll(cx).is_ready());
                            if !expired {
                                return Poll::Pending;
                            }
                            Err(bulkhead.rejected())
                        }
                    };
                    // Replacing the phase drops the wait: a timed-out one leaves the queue.
                    return Poll::Ready(match acquired {
                        Ok(permit) => {
                            *self = Self::Running { _slot: permit };
                            Ok(())
                        }
                        Err(rejected) => {
                            *self = Self::Done;
                            Err(rejected)
                        }
                    });
                }
                Self::Running { .. } => return Poll::Ready(Ok(())),
                Self::Done => panic!("`BulkheadRun` or `SlotWait` polled after completion"),
            }
        }
    }
}

impl<T, E, F> Future for BulkheadRun<'_, F>
where
    F: Future<Output = Result<T, Failure<E>>>,
{
    type Output = Result<T, Failure<E>>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut call = self.project().call;
        let CallProj::Live { fut, phase } = call.as_mut().project() else {
            panic!("`BulkheadRun` polled after completion");
        };
        if !matches!(phase, Phase::Running { .. }) {
            let admitted = match *phase {
                Phase::Start(bulkhead) => bulkhead.try_acquire(),
                _ => None,
            };
            match admitted {
                Some(permit) => *phase = Phase::Running { _slot: permit },
                None => {
                    if let Err(rejected) = std::task::ready!(phase.wait(cx)) {
                        // The body will never run: drop it now.
                        call.set(Call::Gone);
                        return Poll::Ready(Err(Failure::Rejected(rejected)));
                    }
                }
            }
        }
        let output = std::task::ready!(fut.poll(cx));
        // The slot goes back as soon as the body is done, not when this is dropped; and only
        // after the finished body itself is dropped (`Call`'s field order), so `max` bounds
        // its teardown too.
        call.set(Call::Gone);
        Poll::Ready(output)
    }
}

/// The future of [`Bulkhead::wait`]. Dropping it leaves the queue; a slot already handed to
/// it is passed on to the next waiter.
///
/// Its drop is inline only as far as a test of the phase: a wait that queued or was handed a
/// slot undoes that out of line, so a future that awaits a `SlotWait` keeps a drop glue
/// small enough to be inlined where it is dropped (most often after it finished).
#[must_use = "futures do nothing unless polled"]
pub struct SlotWait<'a>(ManuallyDrop<Phase<'a>>);

impl Drop for SlotWait<'_> {
    #[inline]
    fn drop(&mut self) {
        if !matches!(*self.0, Phase::Start(_) | Phase::Done) {
            self.leave();
        }
    }
}

impl SlotWait<'_> {
    /// The rest of `drop`: leaves the queue, or passes on the slot handed over.
    #[cold]
    #[inline(never)]
    fn leave(&mut self) {
        // SAFETY: called once, by `drop`, after which the phase is never touched again.
        unsafe { ManuallyDrop::drop(&mut self.0) }
    }
}

impl<'a> Future for SlotWait<'a> {
    type Output = Option<BulkheadPermit<'a>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let phase = &mut *self.0;
        if std::task::ready!(phase.wait(cx)).is_err() {
            return Poll::Ready(None);
        }
        match std::mem::replace(phase, Phase::Done) {
            Phase::Running { _slot: slot } => Poll::Ready(Some(slot)),
            _ => unreachable!("`Phase::wait` is ready once running"),
        }
    }
}

impl fmt::Debug for SlotWait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlotWait").finish_non_exhaustive()
    }
}

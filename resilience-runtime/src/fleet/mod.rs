//! Fleet-wide state through Redis (the `fleet` feature): one breaker, one quota and one retry
//! budget for every replica of a service.
//!
//! [`connect`] links the process to a Redis server once, at startup; instances declared
//! `shared` (`#[circuit_breaker(name = "payment", shared)]`, `#[rate_limit(name = "github",
//! rate = 5000, per = "1h", shared)]`, `#[retry(name = "inventory", shared)]`) join the fleet
//! at their first call. Without `connect`
//! (or without the feature) a `shared` instance is simply local: the attribute compiles in
//! every build, so a library can declare its instances `shared` once and let the application
//! decide.
//!
//! # What is shared, and how
//!
//! Every replica keeps its own state machine; the fleet only moves *changes* between them,
//! off the calls' path. A call never waits on Redis while the local state admits it.
//!
//! - **Breaker.** A trip in any replica (a closed breaker opening, or a failed half-open
//!   trial) is published on the channel `<prefix>#breaker` the moment it happens; every other
//!   replica that hears it opens its own breaker for its own open period from then (backoff
//!   level included), so the fleet stops calling within the time a pub/sub message takes —
//!   milliseconds, well inside `sync`. When the open period ends, the replicas race for one
//!   lease, the key `<prefix>:<name>#trial`, taken with `SET NX PX` for one open period
//!   (`timeout`); only the holder admits half-open trials (its `half_open` of them), the
//!   others reject as a half-open breaker does (`retry_after: None`). The holder keeps the
//!   lease alive while its phase lasts and gives it back when the phase ends; a holder that
//!   crashes stops renewing it, so it expires one open period later and another replica
//!   takes it: a crashed trial owner cannot wedge the fleet. A close after successful trials
//!   is published the same way and closes every replica.
//! - **Consecutive counts stay per replica** (the contract): `threshold` failures in a row in
//!   one replica trip the fleet. **Window modes aggregate fleet-wide**: once per `sync` at
//!   most, a replica publishes what its closed breaker's window holds (calls, failed, slow)
//!   to `<prefix>:<name>#window` and reads back the fleet's sums; a replica whose link finds
//!   them at the rule (at least `min_calls` calls fleet-wide, the rate reached) opens as a
//!   trip of its own, published like any other (`window.rs`: when a replica publishes, how
//!   stale fields go). A replica's own window still trips it alone.
//! - **The half-open lease is per phase**: one replica holds it and admits the phase's
//!   `half_open` trials (the fleet admits `half_open` in total); it takes the lease only when
//!   it has callers waiting for a trial (a replica without traffic never holds it), and gives
//!   it back if they went away before a trial started. A `shared` breaker that has not served
//!   a call in a replica yet does not hear the fleet there (it is not registered).
//! - **Rate limit**: the fleet's GCRA state lives in Redis (`<prefix>:<name>#rate`); each
//!   replica leases permits in batches into a local pool that a call takes from with one
//!   compare-and-swap (`rate_limit.rs`: batch sizes, how long a lease lives, the bound the
//!   fleet stays within: `rate × (1 + max(sync, per / 10) / per)` per `per`, plus `burst`).
//!   A call that finds the pool empty is refused with `retry_after`, rather than waiting on
//!   Redis. Before its first lease (at most one `sync` after its first call) and while
//!   unlinked, the limiter is the replica's own, at the full rate: local protection, not a
//!   share of the fleet's.
//! - **Retry budget**: each replica pushes its new calls and retries once per `sync`
//!   (`HINCRBY` on per-second fields of `<prefix>:<name>#budget`) and reads back the fleet's
//!   totals over the budget's ten seconds, in one script; the fleet may retry
//!   `budget × calls` plus **one** reserve of `budget_min × 10` (the dependency's capacity
//!   does not grow with the callers' replicas, so neither does the reserve). A replica is
//!   granted a part of what is left for its next period and a retry takes from the grant
//!   with one compare-and-swap (`budget.rs`: the parts, the bound). A call still pays one
//!   relaxed add; before its first push and while unlinked, a replica's own budget
//!   decides.
//!
//! # Consistency model
//!
//! Eventual, with a bound: a change reaches every linked replica within one pub/sub delivery
//! (typically under a millisecond on a LAN; `sync`, 100 ms by default, is the bound the
//! tests hold it to). Two replicas tripping at the same moment both publish; each open
//! message restarts the open period only if it ends later than the one running, so the fleet
//! converges on the latest. Forced states (`force_open`, `force_closed`, `reset`) are manual
//! controls of one replica and are not propagated.
//!
//! # The link: down, slow, restarted
//!
//! The link is a background task on the runtime `connect` was called on (call it from the
//! application's main runtime): one subscription and one multiplexed command connection.
//! When Redis is unreachable at startup, [`connect`] still succeeds: the link starts down.
//! While down, every replica protects with its local state alone: its breakers trip, wait
//! and trial by themselves (never failing open). The task retries with backoff (100 ms
//! doubling to 5 s) and rejoins without a restart. Changes made while unlinked are not
//! replayed on relink (they are local history; a trip that still matters shows up as the
//! next failure), and trial leases held in a Redis that restarted are gone: the next open
//! period's end races for a new one. [`status`] says whether the process is linked, since
//! when and the last error; `monitor` lists it, and with the `tracing` and `metrics`
//! features a `fleet link changed` event and the `resilience_fleet_linked` gauge report
//! every change.
//!
//! # Key layout
//!
//! Everything lives under `options.prefix` (`"resilience"`): an instance's keys are
//! `<prefix>:<name>` followed by a `#` and what the key holds (`#trial`: a breaker's
//! half-open lease, the holder's id, with expiry; `#rate`: a rate limit's theoretical arrival
//! time in microseconds of the server's clock, with expiry; `#budget`: a retry budget's
//! hash of calls and retries per second of the server's clock, with expiry; `#window`: a
//! window-mode breaker's hash of each replica's window, stamped, with expiry), so instances
//! of different kinds may share a name; the breaker's channel is `<prefix>#breaker`, its messages
//! `open <level> <origin> <name>` and `close 0 <origin> <name>`, `<origin>` a random id per
//! process so a replica ignores its own.

mod breaker;
mod budget;
mod link;
mod rate_limit;
mod status;
#[cfg(test)]
mod tests;
mod window;

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::mpsc;

pub(crate) use self::budget::Share;
pub(crate) use self::rate_limit::{Pool, Schedule, Take};
pub use self::status::{status, FleetStatus};
pub(crate) use self::window::Outcomes;
use crate::registry::Instance;
use crate::{CircuitBreaker, RateLimiter, RetryPolicy};

/// How a process links to the fleet: [`FleetOptions::default`], changed field by field.
///
/// ```
/// use resilience_runtime::fleet::FleetOptions;
/// use std::time::Duration;
///
/// let mut options = FleetOptions::default();
/// options.prefix = "checkout".into();
/// assert_eq!(options.sync, Duration::from_millis(100));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FleetOptions {
    /// The bound on propagation, and the period of the link's background work (trial and
    /// rate leases, retry budgets' counts, windows' sums). Default 100 ms.
    pub sync: Duration,
    /// The first part of every key and channel. Default `"resilience"`.
    pub prefix: String,
    /// How long a connection attempt may take before the link counts as down. Default 1 s.
    pub connect_timeout: Duration,
}

impl Default for FleetOptions {
    fn default() -> Self {
        Self {
            sync: Duration::from_millis(100),
            prefix: "resilience".to_owned(),
            connect_timeout: Duration::from_secs(1),
        }
    }
}

/// Why [`connect`] refused: the URL cannot be used, or the server refused the credentials.
/// An unreachable server is not an error (the link starts down and is retried).
#[derive(Debug)]
#[non_exhaustive]
pub enum FleetError {
    /// The URL is not a Redis URL (`redis://[user:password@]host[:port][/db]`).
    Url(String),
    /// The server refused the credentials (`AUTH`), or asked for some.
    Auth(String),
    /// The process is already linked: [`connect`] is called once, at startup.
    AlreadyConnected,
}

impl fmt::Display for FleetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Url(error) => write!(f, "not a usable Redis URL: {error}"),
            Self::Auth(error) => write!(f, "the Redis server refused the credentials: {error}"),
            Self::AlreadyConnected => f.write_str("the process is already linked to a fleet"),
        }
    }
}

impl std::error::Error for FleetError {}

/// The process's link to the fleet. Dropping it leaves the process linked: the link lives
/// for the process.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Fleet;

impl Fleet {
    /// The link's state now (the same as [`status`]).
    pub fn status(&self) -> FleetStatus {
        status()
    }
}

/// Links the process to the Redis server at `url`; `shared` instances join the fleet from
/// then on (those that already served a call, too).
///
/// Returns once the first connection attempt has ended, within about
/// `options.connect_timeout`: linked, or down and retried in the background.
///
/// # Errors
///
/// [`FleetError::Url`] for a malformed URL, [`FleetError::Auth`] when the server refuses the
/// credentials, [`FleetError::AlreadyConnected`] on a second call. An unreachable server is
/// not an error.
///
/// # Panics
///
/// Outside a tokio runtime (the link is a task on it).
///
/// ```
/// use resilience_runtime::fleet::{self, FleetOptions};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let error = fleet::connect("http://127.0.0.1:6379", FleetOptions::default()).await;
/// assert!(matches!(error, Err(fleet::FleetError::Url(_))));
/// # }
/// ```
pub async fn connect(url: &str, options: FleetOptions) -> Result<Fleet, FleetError> {
    let client = redis::Client::open(url).map_err(|e| FleetError::Url(e.to_string()))?;
    if LINK.get().is_some() {
        return Err(FleetError::AlreadyConnected);
    }
    let first = match link::Session::open(&client, &options).await {
        Ok(session) => Some(session),
        Err(error) if link::is_auth(&error) => return Err(FleetError::Auth(error.to_string())),
        Err(error) => {
            status::down(&error.to_string());
            None
        }
    };
    let (events, receiver) = mpsc::unbounded_channel();
    let origin = origin();
    let shared = Link { events };
    if LINK.set(shared).is_err() {
        return Err(FleetError::AlreadyConnected);
    }
    tokio::spawn(link::run(client, options, origin, receiver, first));
    Ok(Fleet)
}

/// What the process shares with the link task.
struct Link {
    events: mpsc::UnboundedSender<Event>,
}

static LINK: OnceLock<Link> = OnceLock::new();
static LINKED: AtomicBool = AtomicBool::new(false);
/// The `shared` instances that served a call, in order, by kind.
static JOINED: Mutex<Joined> = Mutex::new(Joined {
    breakers: Vec::new(),
    limiters: Vec::new(),
    budgets: Vec::new(),
});

/// The joined instances, sorted by kind when they join, so the link's periodic work takes
/// its own kind's list.
struct Joined {
    breakers: Vec<&'static CircuitBreaker>,
    limiters: Vec<&'static RateLimiter>,
    budgets: Vec<&'static RetryPolicy>,
}

/// Whether the process is linked now. One relaxed load: a gate, not a synchronisation.
pub(crate) fn linked() -> bool {
    LINKED.load(Ordering::Relaxed)
}

/// Marks the process linked for a unit test, until the guard is dropped; tests holding one
/// run one at a time.
#[cfg(test)]
pub(crate) fn test_set_linked() -> impl Drop {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    struct Linked(#[allow(dead_code)] std::sync::MutexGuard<'static, ()>);
    impl Drop for Linked {
        fn drop(&mut self) {
            LINKED.store(false, Ordering::Relaxed);
        }
    }
    let guard = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    LINKED.store(true, Ordering::Relaxed);
    Linked(guard)
}

/// An instance served its first call: it joins if it is `shared`.
pub(crate) fn join(instance: Instance) {
    let mut joined = joined();
    match instance {
        Instance::CircuitBreaker(breaker) if breaker.config().fleet() => {
            joined.breakers.push(breaker);
        }
        Instance::RateLimiter(limiter) if limiter.config().fleet() => {
            joined.limiters.push(limiter);
        }
        Instance::Retry(policy) if budget::joins(policy) => joined.budgets.push(policy),
        _ => {}
    }
}

fn joined() -> std::sync::MutexGuard<'static, Joined> {
    JOINED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The joined breakers, copied out of the lock.
fn breakers() -> Vec<&'static CircuitBreaker> {
    joined().breakers.clone()
}

/// The joined rate limiters, copied out of the lock.
fn limiters() -> Vec<&'static RateLimiter> {
    joined().limiters.clone()
}

/// The joined retry budgets, copied out of the lock.
fn budgets() -> Vec<&'static RetryPolicy> {
    joined().budgets.clone()
}

/// A change a breaker of this replica made, for the link to publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BreakerEvent {
    /// Opened (tripped, or a trial failed) at backoff `level`.
    Open { level: u32 },
    /// Closed after its trials.
    Close,
    /// Gave its trial lease back.
    Release,
}

#[derive(Debug)]
enum Event {
    Breaker(&'static str, BreakerEvent),
}

/// Hands a breaker's change to the link (dropped when not connected or unlinked).
pub(crate) fn breaker_event(name: &'static str, event: BreakerEvent) {
    if let Some(link) = LINK.get() {
        if linked() {
            let _ = link.events.send(Event::Breaker(name, event));
        }
    }
}

/// What the link should do about a breaker's trial lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LeaseWant {
    Take,
    Keep,
    Release,
    Nothing,
}

/// A random id for this process, so it ignores its own messages.
fn origin() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.finish()
}

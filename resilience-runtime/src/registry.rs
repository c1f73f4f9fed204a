//! Every instance, reachable by name: [`Site`] and the process-wide registry.
//!
//! Generated code declares one `static Site<T>` per layer per function. On the first call the
//! site resolves to the instance that serves it and caches that reference: its own instance,
//! or — when the instance has an explicit name — the first instance registered under that
//! name and kind, so every function declaring `name = "payment"` shares one breaker. Every
//! instance is recorded in the registry then, so snapshots see it. Nothing runs before `main`
//! and nothing is allocated per call: after the first call, [`Site::get`] is one acquire load.
//! The first call is also when an instance reads its configuration overrides
//! ([`configure`](crate::configure), environment variables).
//!
//! The first function to run decides a shared instance's configuration; the others' copies go
//! unused. Give functions that share a name the same parameters.
//!
//! # Locks and user code
//!
//! No code of the application runs under a lock of this crate. The registry's lock is held
//! only to look a name up and to push an entry: overrides are read and applied between the
//! two (reading the environment, copying from the table under its own short lock), and the
//! lookup is repeated after re-locking, so a function sharing the name that registered
//! meanwhile still wins (the configuration computed here is then dropped, never leaked).
//! Refused overrides are reported — a `tracing` event, which runs the application's
//! subscriber — only once the site is resolved and every lock is released, so a subscriber
//! may call annotated functions, this very one included.

use std::sync::{Mutex, OnceLock};

use crate::overrides::{self, TimeoutConfig};
use crate::{
    Bulkhead, CircuitBreaker, ConfigError, Hedge, InstanceName, RateLimiter, RetryPolicy, Timeout,
};

/// A reference to a registered instance. For generated code and [`snapshot`](crate::snapshot);
/// applications use the snapshot, or [`breaker`], [`bulkhead`] and [`rate_limiter`] by name.
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum Instance {
    /// A circuit breaker.
    CircuitBreaker(&'static CircuitBreaker),
    /// A bulkhead.
    Bulkhead(&'static Bulkhead),
    /// A retry policy.
    Retry(&'static RetryPolicy),
    /// A time limit.
    Timeout(&'static Timeout),
    /// A rate limiter.
    RateLimiter(&'static RateLimiter),
    /// A hedge.
    Hedge(&'static Hedge),
}

mod sealed {
    /// Only this crate's state types live in a [`Site`](super::Site).
    pub trait Sealed {}
    impl Sealed for crate::CircuitBreaker {}
    impl Sealed for crate::Bulkhead {}
    impl Sealed for crate::RetryPolicy {}
    impl Sealed for crate::Timeout {}
    impl Sealed for crate::RateLimiter {}
    impl Sealed for crate::Hedge {}
}

/// A state type that can live in a [`Site`]: sealed, implemented by this crate's instances.
#[doc(hidden)]
pub trait Registered: sealed::Sealed + Sync + Sized + 'static {
    /// The instance's name.
    fn instance_name(&self) -> InstanceName;
    /// A new instance with the configuration overrides for this one applied, if any applied
    /// (see [`configure`](crate::configure)), and the overrides that were refused, for the
    /// caller to report once it holds no lock.
    fn overridden(&self) -> (Option<Self>, Vec<ConfigError>);
    /// Wraps a reference for the registry.
    fn wrap(this: &'static Self) -> Instance;
    /// Unwraps a registry entry of this kind.
    fn unwrap(instance: Instance) -> Option<&'static Self>;
}

macro_rules! registered {
    ($ty:ident, $variant:ident, |$this:ident| $name:expr, $overridden:expr) => {
        impl Registered for $ty {
            fn instance_name(&self) -> InstanceName {
                let $this = self;
                $name
            }
            fn overridden(&self) -> (Option<Self>, Vec<ConfigError>) {
                let $this = self;
                $overridden
            }
            fn wrap(this: &'static Self) -> Instance {
                Instance::$variant(this)
            }
            fn unwrap(instance: Instance) -> Option<&'static Self> {
                match instance {
                    Instance::$variant(this) => Some(this),
                    _ => None,
                }
            }
        }
    };
}

registered!(
    CircuitBreaker,
    CircuitBreaker,
    |this| this.config().name,
    with(
        overrides::apply(this.name(), this.config()),
        CircuitBreaker::new
    )
);
registered!(
    Bulkhead,
    Bulkhead,
    |this| this.config().name,
    with(overrides::apply(this.name(), this.config()), Bulkhead::new)
);
registered!(
    RetryPolicy,
    Retry,
    |this| this.config().name,
    with(
        overrides::apply(this.name(), this.config()),
        RetryPolicy::new
    )
);
registered!(
    Timeout,
    Timeout,
    |this| this.instance_name(),
    with(
        overrides::apply(this.name(), &TimeoutConfig(this.limit())),
        |TimeoutConfig(limit)| Timeout::new(this.instance_name(), limit)
    )
);

registered!(
    RateLimiter,
    RateLimiter,
    |this| this.config().name,
    with(
        overrides::apply(this.name(), this.config()),
        RateLimiter::new
    )
);

registered!(
    Hedge,
    Hedge,
    |this| this.config().name,
    with(overrides::apply(this.name(), this.config()), Hedge::new)
);

/// An instance built from an overridden configuration, with the refused overrides.
fn with<C, T>(
    (config, refused): (Option<C>, Vec<ConfigError>),
    new: impl FnOnce(C) -> T,
) -> (Option<T>, Vec<ConfigError>) {
    (config.map(new), refused)
}

static REGISTRY: Mutex<Vec<Instance>> = Mutex::new(Vec::new());

/// One layer's instance at one function: its own, or the shared one its name resolves to.
///
/// ```
/// use resilience_runtime::{Bulkhead, BulkheadConfig, InstanceName, Site};
///
/// static A: Site<Bulkhead> = Site::new(Bulkhead::new(BulkheadConfig::new(InstanceName::given("db"), 4)));
/// static B: Site<Bulkhead> = Site::new(Bulkhead::new(BulkheadConfig::new(InstanceName::given("db"), 4)));
/// assert!(std::ptr::eq(A.get(), B.get()), "same name, same bulkhead");
/// ```
#[doc(hidden)]
pub struct Site<T: 'static> {
    own: T,
    resolved: OnceLock<&'static T>,
}

impl<T: Registered> Site<T> {
    /// A site holding `own`, used unless its name is shared and already registered.
    pub const fn new(own: T) -> Self {
        Self {
            own,
            resolved: OnceLock::new(),
        }
    }

    /// The instance serving this site.
    #[inline]
    pub fn get(&'static self) -> &'static T {
        match self.resolved.get() {
            Some(instance) => instance,
            None => self.first_call(),
        }
    }

    /// Resolves the site, then reports refused overrides: after the site is set and with no
    /// lock held, so a `tracing` subscriber that calls this very function finds it resolved.
    #[cold]
    #[inline(never)]
    fn first_call(&'static self) -> &'static T {
        let mut refused = Vec::new();
        let instance = *self.resolved.get_or_init(|| {
            let (instance, errors) = resolve(&self.own);
            refused = errors;
            instance
        });
        overrides::report(&refused);
        instance
    }
}

/// The instance `own` resolves to, and the overrides it refused (none if another instance
/// serves it).
fn resolve<T: Registered>(own: &'static T) -> (&'static T, Vec<ConfigError>) {
    // An overridden instance is allocated once and lives for the rest of the process, like
    // the static it replaces.
    register(own, |own, overridden| overridden.map_or(own, leak))
}

/// The registered instance named like `own` (an explicit name), or `own` itself, with its
/// overrides applied, allocated once and registered for the rest of the process: how a
/// `tower` layer built by name joins the functions that declare that name. Nothing is
/// allocated when the name is already registered. Refused overrides are reported, with no
/// lock held.
///
/// ```
/// use resilience_runtime::{adopt, Bulkhead, BulkheadConfig, InstanceName, Site};
///
/// static DB: Site<Bulkhead> = Site::new(Bulkhead::new(BulkheadConfig::new(InstanceName::given("db"), 4)));
/// let layer = adopt(Bulkhead::new(BulkheadConfig::new(InstanceName::given("db"), 8)));
/// assert_eq!(layer.config().max(), 8, "registered first: its configuration decides");
/// assert!(std::ptr::eq(DB.get(), layer), "same name, same bulkhead");
/// ```
#[doc(hidden)]
pub fn adopt<T: Registered>(own: T) -> &'static T {
    let (instance, refused) = register(own, |own, overridden| leak(overridden.unwrap_or(own)));
    overrides::report(&refused);
    instance
}

fn leak<T>(instance: T) -> &'static T {
    Box::leak(Box::new(instance))
}

/// Registers `own` (or its overridden copy) unless an instance of its explicit name already
/// is: `keep` makes the instance that registers live for the process.
fn register<T: Registered, O: std::borrow::Borrow<T>>(
    own: O,
    keep: impl FnOnce(O, Option<T>) -> &'static T,
) -> (&'static T, Vec<ConfigError>) {
    let name = own.borrow().instance_name();
    if let Some(existing) = shared(&lock(), name) {
        return (existing, Vec::new());
    }
    // Overrides are read once, here, without the registry's lock.
    let (overridden, refused) = own.borrow().overridden();
    let mut registry = lock();
    if let Some(existing) = shared(&registry, name) {
        // A function sharing the name registered first, meanwhile: its instance serves, and
        // the same overrides were its to report. `overridden` is dropped, not leaked.
        return (existing, Vec::new());
    }
    let instance = keep(own, overridden);
    let entry = T::wrap(instance);
    registry.push(entry);
    drop(registry);
    // A `shared` instance joins the fleet (`fleet/mod.rs`).
    #[cfg(feature = "fleet")]
    crate::fleet::join(entry);
    match entry {
        // Starts the breaker's clock, so its time in state counts from its first call.
        Instance::CircuitBreaker(breaker) => drop(breaker.time_in_state()),
        // Starts the budget's clock, so its average rate counts from the first call.
        Instance::Retry(policy) => policy.start(),
        Instance::Hedge(hedge) => hedge.start(),
        _ => {}
    }
    (instance, refused)
}

/// The registered instance of kind `T` with the explicit `name`, if `name` is explicit.
fn shared<T: Registered>(registry: &[Instance], name: InstanceName) -> Option<&'static T> {
    if !name.is_shared() {
        return None;
    }
    registry.iter().find_map(|entry| {
        T::unwrap(*entry).filter(|other| {
            let other = other.instance_name();
            other.is_shared() && other.get() == name.get()
        })
    })
}

fn lock() -> std::sync::MutexGuard<'static, Vec<Instance>> {
    // A poisoned registry only means another thread panicked mid-push; the Vec is intact.
    REGISTRY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Every instance that has served a call so far, in the order of their first calls.
///
/// ```
/// use resilience_runtime::{registered, Instance};
///
/// for instance in registered() {
///     if let Instance::CircuitBreaker(breaker) = instance {
///         println!("{}: {:?}", breaker.name(), breaker.state());
///     }
/// }
/// ```
#[doc(hidden)]
pub fn registered() -> Vec<Instance> {
    lock().clone()
}

/// The circuit breaker registered under `name` (an explicit `name = "..."`, or the path of
/// the function it guards), once it has served a call; a keyed one (`key = host`) as
/// `"name[key]"`, while its key is resident (see the `keyed` module source for what a
/// lookup of a keyed instance keeps alive).
///
/// ```
/// use resilience_runtime::{breaker, BreakerConfig, CircuitBreaker, InstanceName, Site};
///
/// static PAYMENT: Site<CircuitBreaker> =
///     Site::new(CircuitBreaker::new(BreakerConfig::new(InstanceName::given("payment"))));
/// assert!(breaker("payment").is_none(), "not used yet");
/// PAYMENT.get();
/// breaker("payment").unwrap().force_open();
/// assert!(PAYMENT.get().try_acquire().is_err());
/// ```
pub fn breaker(name: &str) -> Option<&'static CircuitBreaker> {
    find(name).or_else(|| crate::keyed::find(name))
}

/// The bulkhead registered under `name`, once it has served a call.
pub fn bulkhead(name: &str) -> Option<&'static Bulkhead> {
    find(name).or_else(|| crate::keyed::find(name))
}

/// The rate limiter registered under `name`, once it has served a call.
///
/// ```
/// use resilience_runtime::{rate_limiter, InstanceName, RateLimitConfig, RateLimiter, Site};
///
/// static GITHUB: Site<RateLimiter> =
///     Site::new(RateLimiter::new(RateLimitConfig::new(InstanceName::given("github"), 10)));
/// assert!(rate_limiter("github").is_none(), "not used yet");
/// GITHUB.get();
/// assert_eq!(rate_limiter("github").unwrap().config().rate(), 10);
/// ```
pub fn rate_limiter(name: &str) -> Option<&'static RateLimiter> {
    find(name).or_else(|| crate::keyed::find(name))
}

fn find<T: Registered>(name: &str) -> Option<&'static T> {
    lock()
        .iter()
        .find_map(|entry| T::unwrap(*entry).filter(|this| this.instance_name().get() == name))
}

//! Every instance, reachable by name: [`Site`] and the process-wide registry.
//!
//! Generated code declares one `static Site<T>` per layer per function. On the first call the
//! site resolves to the instance that serves it and caches that reference: its own instance,
//! or — when the instance has an explicit name — the first instance registered under that
//! name and kind, so every function declaring `name = "payment"` shares one breaker. Every
//! instance is recorded in the registry then, so snapshots see it. Nothing runs before `main`
//! and nothing is allocated per call: after the first call, [`Site::get`] is one acquire load.
//!
//! The first function to run decides a shared instance's configuration; the others' copies go
//! unused. Give functions that share a name the same parameters.

use std::sync::{Mutex, OnceLock};

use crate::{Bulkhead, CircuitBreaker, InstanceName, RetryPolicy, Timeout};

/// A reference to a registered instance.
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
}

/// A state type that can live in a [`Site`].
pub trait Registered: Sync + Sized + 'static {
    /// The instance's name.
    fn instance_name(&self) -> InstanceName;
    /// Wraps a reference for the registry.
    fn wrap(this: &'static Self) -> Instance;
    /// Unwraps a registry entry of this kind.
    fn unwrap(instance: Instance) -> Option<&'static Self>;
}

macro_rules! registered {
    ($ty:ident, $variant:ident, |$this:ident| $name:expr) => {
        impl Registered for $ty {
            fn instance_name(&self) -> InstanceName {
                let $this = self;
                $name
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

registered!(CircuitBreaker, CircuitBreaker, |this| this.config().name);
registered!(Bulkhead, Bulkhead, |this| this.config().name);
registered!(RetryPolicy, Retry, |this| this.config().name);
registered!(Timeout, Timeout, |this| this.instance_name());

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
        self.resolved.get_or_init(|| resolve(&self.own))
    }
}

fn resolve<T: Registered>(own: &'static T) -> &'static T {
    // A poisoned registry only means another thread panicked mid-push; the Vec is intact.
    let mut registry = REGISTRY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let name = own.instance_name();
    if name.is_shared() {
        let existing = registry.iter().find_map(|entry| {
            T::unwrap(*entry).filter(|other| {
                let other = other.instance_name();
                other.is_shared() && other.get() == name.get()
            })
        });
        if let Some(existing) = existing {
            return existing;
        }
    }
    registry.push(T::wrap(own));
    own
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
pub fn registered() -> Vec<Instance> {
    REGISTRY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

//! The keyed sites, reachable by name: what [`snapshot`](crate::snapshot) lists and what
//! [`breaker`](crate::breaker) and its siblings find as `"name[key]"`.
//!
//! A separate list from the registry's, because a keyed site is not one instance but a map of
//! them, whose members come and go.

use std::sync::{Arc, Mutex};

use super::{lock, KeyedState};
use crate::registry::Registered;
use crate::snapshot::{self, InstanceSnapshot};
use crate::{Bulkhead, CircuitBreaker, ConfigError, InstanceName, RateLimiter};

/// A state type that can be keyed: a breaker, a bulkhead or a rate limiter.
#[doc(hidden)]
pub trait Keyable: Registered {
    /// A fresh instance for `key`, configured like `template` (overrides included).
    fn fresh(template: &Self, key: &Arc<str>) -> Self;
    /// The key it serves.
    fn key(&self) -> Option<&str>;
    /// Whether evicting it loses nothing: see the module docs ("Eviction"). Calls in flight
    /// are counted by the map.
    fn is_idle(&self) -> bool;
    /// What it looks like now.
    fn snapshot(&self) -> InstanceSnapshot;
    /// Wraps a site for the list.
    fn wrap_site(state: &'static KeyedState<Self>) -> KeyedSite;
    /// Unwraps a site of this kind.
    fn unwrap_site(site: KeyedSite) -> Option<&'static KeyedState<Self>>;
}

/// A keyed site in the list.
#[doc(hidden)]
#[derive(Clone, Copy)]
pub enum KeyedSite {
    /// Keyed breakers.
    CircuitBreaker(&'static KeyedState<CircuitBreaker>),
    /// Keyed bulkheads.
    Bulkhead(&'static KeyedState<Bulkhead>),
    /// Keyed rate limiters.
    RateLimiter(&'static KeyedState<RateLimiter>),
}

macro_rules! keyable {
    ($ty:ident, |$this:ident| $idle:expr, $snapshot:path) => {
        impl Keyable for $ty {
            fn fresh(template: &Self, key: &Arc<str>) -> Self {
                $ty::new(*template.config()).with_key(Arc::clone(key))
            }
            fn key(&self) -> Option<&str> {
                $ty::key(self)
            }
            fn is_idle(&self) -> bool {
                let $this = self;
                $idle
            }
            fn snapshot(&self) -> InstanceSnapshot {
                $snapshot(self)
            }
            fn wrap_site(state: &'static KeyedState<Self>) -> KeyedSite {
                KeyedSite::$ty(state)
            }
            fn unwrap_site(site: KeyedSite) -> Option<&'static KeyedState<Self>> {
                match site {
                    KeyedSite::$ty(state) => Some(state),
                    _ => None,
                }
            }
        }
    };
}

keyable!(
    CircuitBreaker,
    |this| this.state() == crate::BreakerState::Closed,
    snapshot::breaker
);
keyable!(
    Bulkhead,
    |this| this.waiting() == 0 && this.available() == this.config().max(),
    snapshot::bulkhead
);
keyable!(
    RateLimiter,
    |this| this.waiting() == 0 && this.available() == this.config().burst(),
    snapshot::rate_limiter
);

static SITES: Mutex<Vec<KeyedSite>> = Mutex::new(Vec::new());

/// The map serving a keyed site whose template is `own`: the one already listed under the
/// same explicit name, or a new one whose template has the overrides for the name applied.
pub(super) fn resolve<T: Keyable>(
    own: &'static T,
    max_keys: u32,
) -> (&'static KeyedState<T>, Vec<ConfigError>) {
    // Overrides are read without the list's lock (they read the environment).
    let (overridden, refused) = own.overridden();
    let name = own.instance_name();
    let mut sites = lock(&SITES);
    if let Some(state) = shared::<T>(&sites, name) {
        return (state, Vec::new());
    }
    // One template and one map per site, living as long as the `static` that declares it.
    let template: &'static T = match overridden {
        Some(overridden) => Box::leak(Box::new(overridden)),
        None => own,
    };
    let state: &'static KeyedState<T> = Box::leak(Box::new(KeyedState::new(template, max_keys)));
    sites.push(T::wrap_site(state));
    (state, refused)
}

/// The listed site of kind `T` with the explicit `name`, if `name` is explicit.
fn shared<T: Keyable>(sites: &[KeyedSite], name: InstanceName) -> Option<&'static KeyedState<T>> {
    if !name.is_shared() {
        return None;
    }
    sites.iter().find_map(|site| {
        T::unwrap_site(*site).filter(|state| state.template.instance_name() == name)
    })
}

/// Every resident keyed instance, site by site in the order of their first calls.
pub(crate) fn snapshots() -> Vec<InstanceSnapshot> {
    let sites = lock(&SITES).clone();
    let mut all = Vec::new();
    for site in sites {
        match site {
            KeyedSite::CircuitBreaker(state) => state.snapshot_into(&mut all),
            KeyedSite::Bulkhead(state) => state.snapshot_into(&mut all),
            KeyedSite::RateLimiter(state) => state.snapshot_into(&mut all),
        }
    }
    all
}

impl<T: Keyable> KeyedState<T> {
    fn snapshot_into(&self, all: &mut Vec<InstanceSnapshot>) {
        for (key, entry) in &self.map.pin() {
            all.push(InstanceSnapshot {
                key: Some(Arc::clone(&key.text)),
                ..entry.instance.snapshot()
            });
        }
    }
}

/// The keyed instance of kind `T` named `name[key]`, pinned: a `monitor` lookup hands out
/// `&'static`, so the instance it finds stays resident for good and keeps serving its key's
/// calls. It counts toward `max_keys` like an instance with a call in flight.
pub(crate) fn find<T: Keyable>(name: &str) -> Option<&'static T> {
    let (base, key) = name.strip_suffix(']')?.split_once('[')?;
    let sites = lock(&SITES).clone();
    sites.into_iter().find_map(|site| {
        let state = T::unwrap_site(site).filter(|s| s.template.instance_name().get() == base)?;
        state.pin(key)
    })
}

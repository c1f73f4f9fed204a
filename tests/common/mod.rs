//! Shared by the integration tests: an error type the way users write one, and a body counter.

#![allow(dead_code)]

pub(crate) mod events;
pub(crate) mod metrics;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use tokio::time::Instant;

use resilience::Rejected;

/// A service error with a `From<Rejected>` arm, as the contract asks of `E`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ServiceError {
    /// The service answered with a failure.
    Unavailable,
    /// The request was bad; the service is fine.
    BadRequest,
    /// A resilience layer decided.
    Rejected(Rejected),
}

impl From<Rejected> for ServiceError {
    fn from(rejected: Rejected) -> Self {
        ServiceError::Rejected(rejected)
    }
}

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl std::error::Error for ServiceError {}

impl ServiceError {
    pub(crate) fn is_circuit_open(&self) -> bool {
        matches!(self, ServiceError::Rejected(Rejected::CircuitOpen { .. }))
    }

    pub(crate) fn is_bulkhead_full(&self) -> bool {
        matches!(self, ServiceError::Rejected(Rejected::BulkheadFull { .. }))
    }

    pub(crate) fn is_timed_out(&self) -> bool {
        matches!(self, ServiceError::Rejected(Rejected::TimedOut { .. }))
    }
}

/// The service's answer in most tests: unavailable when told to fail, fine otherwise.
pub(crate) fn answer(fail: bool) -> Result<(), ServiceError> {
    if fail {
        Err(ServiceError::Unavailable)
    } else {
        Ok(())
    }
}

/// Counts how many times a body ran.
pub(crate) struct Runs(AtomicUsize);

impl Runs {
    pub(crate) const fn new() -> Self {
        Runs(AtomicUsize::new(0))
    }

    pub(crate) fn hit(&self) -> usize {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }

    pub(crate) fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// The moments recorded in `starts`, in milliseconds after `begin`: when each attempt began.
pub(crate) fn offsets_ms(starts: &Mutex<Vec<Instant>>, begin: Instant) -> Vec<u128> {
    starts
        .lock()
        .unwrap()
        .iter()
        .map(|t| (*t - begin).as_millis())
        .collect()
}

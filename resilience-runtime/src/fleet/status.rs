//! The link's state: [`status`] for `monitor`, and the `tracing` event and `metrics` gauge
//! that report each change of it.

use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::SystemTime;

use super::LINKED;

/// Whether the process is linked to the fleet, since when, and the last error.
///
/// ```
/// let status = resilience_runtime::fleet::status();
/// assert!(!status.linked, "no connect in this process");
/// assert_eq!(status.since, None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FleetStatus {
    /// Linked now: changes are shared and trial leases taken.
    pub linked: bool,
    /// When `linked` last changed (or when `connect` first tried); `None` before `connect`.
    pub since: Option<SystemTime>,
    /// The latest error of the link, if it ever had one.
    pub last_error: Option<String>,
}

static STATUS: Mutex<FleetStatus> = Mutex::new(FleetStatus {
    linked: false,
    since: None,
    last_error: None,
});

fn lock() -> std::sync::MutexGuard<'static, FleetStatus> {
    STATUS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The link's state now.
pub fn status() -> FleetStatus {
    lock().clone()
}

/// The link came up.
pub(super) fn up() {
    let mut status = lock();
    let changed = !status.linked || status.since.is_none();
    status.linked = true;
    if changed {
        status.since = Some(SystemTime::now());
    }
    drop(status);
    LINKED.store(true, Ordering::Relaxed);
    if changed {
        report(true, None);
    }
}

/// The link is down (or did not come up), for `error`.
pub(super) fn down(error: &str) {
    let mut status = lock();
    let changed = status.linked || status.since.is_none();
    status.linked = false;
    status.last_error = Some(error.to_owned());
    if changed {
        status.since = Some(SystemTime::now());
    }
    drop(status);
    LINKED.store(false, Ordering::Relaxed);
    if changed {
        report(false, Some(error));
    }
}

#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
fn report(linked: bool, error: Option<&str>) {
    #[cfg(feature = "tracing")]
    if linked {
        tracing::info!(target: "resilience", linked, "fleet link changed");
    } else {
        tracing::warn!(target: "resilience", linked, error, "fleet link changed");
    }
    #[cfg(feature = "metrics")]
    metrics::gauge!("resilience_fleet_linked").set(if linked { 1.0 } else { 0.0 });
}

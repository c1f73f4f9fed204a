//! `#[bulkhead]`: defaults and limits.
//!
//! | parameter | default | limits |
//! |---|---|---|
//! | `max` | required | 1 to `i32::MAX` (the free slots share a 64-bit word with the waiters) |
//! | `max_wait` | [`DEFAULT_MAX_WAIT_NANOS`]: wait forever | any duration; zero rejects at once |
//! | `queue` | [`DEFAULT_QUEUE`]: unbounded | 0 (nobody waits) to `u32::MAX` |

use crate::{Count, Time};

/// Bodies running at once.
pub const MAX: Count = Count {
    name: "max",
    min: 1,
    max: i32::MAX.unsigned_abs(),
};

/// How long a caller waits for a slot.
pub const MAX_WAIT: Time = Time {
    name: "max_wait",
    zero: None,
};
/// The default `max_wait`: none, wait until a slot frees.
pub const DEFAULT_MAX_WAIT_NANOS: Option<u64> = None;

/// Callers allowed to wait at once.
pub const QUEUE: Count = Count {
    name: "queue",
    min: 0,
    max: u32::MAX,
};
/// The default `queue`: none, unbounded.
pub const DEFAULT_QUEUE: Option<u32> = None;

//! Keyed instances (`key = host` on `#[circuit_breaker]`, `#[bulkhead]`, `#[rate_limit]`):
//! defaults and limits.
//!
//! | parameter | default | limits |
//! |---|---|---|
//! | `max_keys` | [`DEFAULT_MAX_KEYS`]: 10 000 | 1 to `u32::MAX` |

use crate::Count;

/// Keys resident at once, past which the least recently used idle one is evicted.
pub const MAX_KEYS: Count = Count {
    name: "max_keys",
    min: 1,
    max: u32::MAX,
};
/// The default `max_keys`.
pub const DEFAULT_MAX_KEYS: u32 = 10_000;

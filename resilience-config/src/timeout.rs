//! `#[timeout]`: its one parameter, `limit`, has no default and must be longer than zero.

use crate::Time;

/// The time limit of one call.
pub const LIMIT: Time = Time {
    name: "limit",
    zero: Some("the time limit must be longer than zero: every call would time out"),
};

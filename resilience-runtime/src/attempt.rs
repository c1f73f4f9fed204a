//! [`Attempt`]: which attempt of a call the body is running, and the id all of them share.
//!
//! `#[retry(context = attempt)]` and `#[hedge(context = attempt)]` bind an `Attempt` inside
//! the body (a hedge's attempts share the call id, and under a retry the retry's). Its [`CallId`] is drawn
//! once per logical call (128 bits from the runtime's per-thread generator, seeded from the
//! operating system) and copied into every attempt, so a body can send it as an
//! `Idempotency-Key` and the server can drop the duplicates a retry after a lost response
//! would otherwise cause. Both types are two words on the caller's stack: no allocation, no
//! task-local, and nothing at all when `context` is not used.

use std::fmt;

/// The id of one logical call: the same on every attempt, different between calls.
///
/// `Display` writes it as a UUID-style string of 32 hex digits in groups of 8-4-4-4-12.
///
/// ```
/// use resilience_runtime::Attempt;
///
/// let first = Attempt::first();
/// let id = first.call_id().to_string();
/// assert_eq!(id.len(), 36);
/// assert_eq!(id.matches('-').count(), 4);
/// assert_eq!(first.next().call_id(), first.call_id(), "a retry keeps the id");
/// assert_ne!(Attempt::first().call_id(), first.call_id(), "another call, another id");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId([u64; 2]);

impl CallId {
    /// A fresh random id.
    pub fn random() -> Self {
        let bits = crate::retry::random_u128();
        // Two words, high first (so the order is the number's): a `u128` would align the
        // id, and every future that holds it, to 16 bytes.
        #[allow(clippy::cast_possible_truncation)] // the halves, on purpose
        Self([(bits >> 64) as u64, bits as u64])
    }

    /// The 128 bits.
    pub const fn as_u128(self) -> u128 {
        ((self.0[0] as u128) << 64) | self.0[1] as u128
    }
}

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.as_u128();
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            b >> 96,
            (b >> 80) & 0xffff,
            (b >> 64) & 0xffff,
            (b >> 48) & 0xffff,
            b & 0xffff_ffff_ffff
        )
    }
}

impl fmt::Debug for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CallId({self})")
    }
}

/// One attempt of a call under `#[retry(context = name)]` or `#[hedge(context = name)]`: its
/// number, its hedge number, and the call's id.
///
/// ```
/// use resilience_runtime::Attempt;
///
/// let first = Attempt::first();
/// assert_eq!((first.number(), first.is_retry()), (0, false));
/// let second = first.next();
/// assert_eq!((second.number(), second.is_retry()), (1, true));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Attempt {
    number: u32,
    hedge: u32,
    call_id: CallId,
}

impl Attempt {
    /// The first attempt of a new call, with a fresh [`CallId`].
    pub fn first() -> Self {
        Self {
            number: 0,
            hedge: 0,
            call_id: CallId::random(),
        }
    }

    /// The attempt after this one, with the same call id (and, for a retry inside a hedged
    /// attempt, the same hedge number).
    #[must_use]
    pub const fn next(self) -> Self {
        Self {
            number: self.number.saturating_add(1),
            hedge: self.hedge,
            call_id: self.call_id,
        }
    }

    /// Hedge `hedge` of this attempt (0: the attempt itself), with the same number and call
    /// id: what `#[hedge(context = name)]` binds in each of its attempts.
    ///
    /// ```
    /// use resilience_runtime::Attempt;
    ///
    /// let first = Attempt::first();
    /// let hedge = first.hedged(1);
    /// assert_eq!((hedge.number(), hedge.hedge(), hedge.is_hedge()), (0, 1, true));
    /// assert_eq!(hedge.call_id(), first.call_id(), "hedges share the call id");
    /// ```
    #[must_use]
    pub const fn hedged(self, hedge: u32) -> Self {
        Self {
            number: self.number,
            hedge,
            call_id: self.call_id,
        }
    }

    /// Under `#[hedge]`: 0 for the first attempt sent, 1 for the first hedge, and so on; 0
    /// without `#[hedge]`.
    pub const fn hedge(&self) -> u32 {
        self.hedge
    }

    /// Whether this attempt is a hedge (not the first sent).
    pub const fn is_hedge(&self) -> bool {
        self.hedge > 0
    }

    /// 0 for the first attempt, 1 for the first retry, and so on.
    pub const fn number(&self) -> u32 {
        self.number
    }

    /// Whether this attempt is a retry (not the first).
    pub const fn is_retry(&self) -> bool {
        self.number > 0
    }

    /// The id shared by every attempt of this call: send it as an idempotency key.
    pub const fn call_id(&self) -> CallId {
        self.call_id
    }
}

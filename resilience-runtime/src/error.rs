//! The one error type every layer produces: [`Rejected`].
//!
//! A rejection means the resilience layer, not the user's code, decided the outcome of a call.
//! Annotated functions convert it into their own error type through `E: From<Rejected>`, so it
//! reaches the caller as `Err(E::from(rejected))`. Every variant carries the name of the
//! instance that rejected the call, so logs and metrics can say *which* breaker, bulkhead or
//! rate limiter it was; [`Rejected::retry_after`] says when to come back, where that is known.
//!
//! # Size
//!
//! A `Rejected` travels, inside `Result<T, Failure<E>>` and usually inside the user's own
//! error type, through every layer of every call, and the happy path pays for its size: the
//! generated code moves and matches results the size of the largest variant. The rare, large
//! payload, a keyed instance's key, is therefore one thin pointer ([`KeyText`], 8 bytes
//! rather than the 16 of an `Arc<str>`), which keeps `Rejected` at 48 bytes, and its drop
//! does not take the address of the result it sits in (see `KeyText`'s `Drop`), so LLVM
//! keeps a successful result in registers. Measured with callgrind on the bench's
//! `Result<u64, E>` with `E` holding a `Rejected`: a `#[retry]` that does not fail went from
//! 98 to 50 instructions per call, a closed breaker from 78 to 75 (and to 69 once its
//! rejection was built inline, `CircuitBreaker::rejection`).

use std::fmt;
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

/// The key of a keyed instance (`key = host` on the attribute) as a rejection carries it: the
/// key's `Display` text, behind one thin pointer so that it adds 8 bytes to [`Rejected`]
/// (module docs, "Size"). It dereferences to `str`; cloning it clones a reference count.
///
/// ```
/// # use resilience_runtime::Rejected;
/// fn key_len(err: &Rejected) -> usize {
///     match err {
///         Rejected::BulkheadFull { key: Some(key), .. } => key.len(),
///         _ => 0,
///     }
/// }
/// assert_eq!(key_len(&Rejected::bulkhead_full("db", 4)), 0);
/// ```
#[derive(PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyText(ManuallyDrop<Arc<Arc<str>>>);

impl KeyText {
    /// The key's text, shared with the keyed site that made it (one small allocation, when
    /// the keyed instance is made; none per rejection).
    pub(crate) fn new(text: Arc<str>) -> Self {
        Self(ManuallyDrop::new(Arc::new(text)))
    }

    /// The text.
    #[must_use]
    #[inline]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Clone for KeyText {
    #[inline]
    fn clone(&self) -> Self {
        Self(ManuallyDrop::new(Arc::clone(&self.0)))
    }
}

/// Drops the reference count *by value*. An `Arc` field's own drop glue hands the field's
/// address to `Arc::drop_slow` (out of line), and a pointer into a result that escapes so
/// keeps LLVM from taking the result apart into registers: every `Result<T, Failure<E>>`
/// with a `Rejected` inside would then be stored, copied and reloaded on the happy path
/// (module docs, "Size"). Moved out first, the `Arc` that is dropped is a local of its own.
impl Drop for KeyText {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: `self.0` is taken once, here, and `self` is not used again.
        let text = unsafe { ManuallyDrop::take(&mut self.0) };
        drop(text);
    }
}

impl Deref for KeyText {
    type Target = str;

    #[inline]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for KeyText {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for KeyText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for KeyText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A call refused or cut off by a resilience layer; the user's body did not produce the result.
///
/// The enum and its variants are `#[non_exhaustive]`: match with `..` and a wildcard arm.
///
/// ```
/// use resilience_runtime::Rejected;
/// use std::time::Duration;
///
/// fn describe(err: &Rejected) -> String {
///     match err {
///         Rejected::CircuitOpen { name, retry_after: Some(wait), .. } => {
///             format!("{name} is open; try again in {wait:?}")
///         }
///         Rejected::CircuitOpen { name, forced: true, .. } => format!("{name} is switched off"),
///         Rejected::CircuitOpen { name, .. } => format!("{name} is testing the service"),
///         Rejected::BulkheadFull { name, .. } => format!("{name} is at capacity"),
///         Rejected::TimedOut { name, after, .. } => format!("{name} gave up after {after:?}"),
///         Rejected::RateLimited { name, retry_after, .. } => {
///             format!("{name} is over its rate; a permit comes in {retry_after:?}")
///         }
///         _ => err.to_string(),
///     }
/// }
/// # let _ = describe;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejected {
    /// The circuit breaker refused the call without running it.
    #[non_exhaustive]
    CircuitOpen {
        /// The breaker's instance name (its `name = "..."`, or the annotated function's path).
        name: &'static str,
        /// How long until the breaker admits a trial call. `None` while it is half-open and its
        /// trial calls are still running (the next admission depends on their outcome), and
        /// when it is forced open (see `forced`).
        retry_after: Option<Duration>,
        /// The key of a keyed breaker (`key = host`): its `Display` text; `None` otherwise.
        key: Option<KeyText>,
        /// Whether the breaker was forced open by hand
        /// ([`CircuitBreaker::force_open`](crate::CircuitBreaker::force_open)): it
        /// then admits nothing until it is reset or forced closed, whatever the dependency
        /// does, so there is no time to come back at (`retry_after` is `None`).
        forced: bool,
    },
    /// The bulkhead had no free slot within `max_wait`, or its queue of waiters was full.
    #[non_exhaustive]
    BulkheadFull {
        /// The bulkhead's instance name.
        name: &'static str,
        /// The bulkhead's `max`: how many bodies it lets run at once.
        max: u32,
        /// The key of a keyed bulkhead: its `Display` text; `None` otherwise.
        key: Option<KeyText>,
    },
    /// `#[timeout]` dropped the call's future when its time limit elapsed.
    #[non_exhaustive]
    TimedOut {
        /// The timeout's instance name (the annotated function's path).
        name: &'static str,
        /// The time limit that elapsed.
        after: Duration,
    },
    /// `#[rate_limit]` had no permit for the call within its `max_wait`: the call would have
    /// had to wait longer, so it was refused at once, without waiting and without taking a
    /// permit from later callers.
    #[non_exhaustive]
    RateLimited {
        /// The rate limiter's instance name.
        name: &'static str,
        /// How long until a permit is free for a caller that does not wait, as the limiter
        /// stood when it refused: come back then (other callers may take it first).
        retry_after: Duration,
        /// The key of a keyed rate limiter: its `Display` text; `None` otherwise.
        key: Option<KeyText>,
    },
}

impl Rejected {
    /// The name of the instance that rejected the call.
    ///
    /// ```
    /// # use resilience_runtime::Rejected;
    /// # use std::time::Duration;
    /// let err = Rejected::timed_out("payments::charge", Duration::from_secs(2));
    /// assert_eq!(err.name(), "payments::charge");
    /// ```
    pub fn name(&self) -> &'static str {
        match self {
            Self::CircuitOpen { name, .. }
            | Self::BulkheadFull { name, .. }
            | Self::TimedOut { name, .. }
            | Self::RateLimited { name, .. } => name,
        }
    }

    /// When to come back, where the layer that refused the call knows it: an open breaker's
    /// [`retry_after`](Rejected::CircuitOpen::retry_after) (none while half-open or forced
    /// open), a rate limiter's time until its next permit; `None` for the other rejections.
    ///
    /// ```
    /// # use resilience_runtime::Rejected;
    /// # use std::time::Duration;
    /// let limited = Rejected::rate_limited("github", Duration::from_millis(250));
    /// assert_eq!(limited.retry_after(), Some(Duration::from_millis(250)));
    /// let open = Rejected::circuit_open("payment", Some(Duration::from_secs(4)));
    /// assert_eq!(open.retry_after(), Some(Duration::from_secs(4)));
    /// assert_eq!(Rejected::circuit_forced_open("payment").retry_after(), None);
    /// assert_eq!(Rejected::bulkhead_full("db", 4).retry_after(), None);
    /// ```
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::CircuitOpen { retry_after, .. } => *retry_after,
            Self::RateLimited { retry_after, .. } => Some(*retry_after),
            Self::BulkheadFull { .. } | Self::TimedOut { .. } => None,
        }
    }

    /// The key of the keyed instance that rejected the call (`key = host` on the attribute),
    /// as its `Display` wrote it; `None` for an instance without a key. Messages show it as
    /// `name[key]`, the name `monitor` lists the instance under.
    ///
    /// ```
    /// # use resilience_runtime::Rejected;
    /// assert_eq!(Rejected::bulkhead_full("db", 4).key(), None);
    /// ```
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::CircuitOpen { key, .. }
            | Self::BulkheadFull { key, .. }
            | Self::RateLimited { key, .. } => key.as_deref(),
            Self::TimedOut { .. } => None,
        }
    }

    /// The same rejection from the keyed instance of `key`.
    #[inline]
    pub(crate) fn keyed(mut self, key: Option<&KeyText>) -> Self {
        if let (
            Self::CircuitOpen { key: slot, .. }
            | Self::BulkheadFull { key: slot, .. }
            | Self::RateLimited { key: slot, .. },
            Some(key),
        ) = (&mut self, key)
        {
            *slot = Some(key.clone());
        }
        self
    }

    /// A short, stable name for the kind of rejection, as events and metrics label it:
    /// `"circuit_open"`, `"bulkhead_full"`, `"timed_out"` or `"rate_limited"`.
    ///
    /// ```
    /// # use resilience_runtime::Rejected;
    /// assert_eq!(Rejected::bulkhead_full("db", 4).reason(), "bulkhead_full");
    /// ```
    pub fn reason(&self) -> &'static str {
        match self {
            Self::CircuitOpen { .. } => "circuit_open",
            Self::BulkheadFull { .. } => "bulkhead_full",
            Self::TimedOut { .. } => "timed_out",
            Self::RateLimited { .. } => "rate_limited",
        }
    }

    /// A [`Rejected::CircuitOpen`] from a breaker in its normal course (open, or half-open
    /// with its trials running); for code outside this crate, which cannot name the
    /// `#[non_exhaustive]` variant's fields.
    ///
    /// ```
    /// # use resilience_runtime::Rejected;
    /// # use std::time::Duration;
    /// let err = Rejected::circuit_open("payment", Some(Duration::from_secs(4)));
    /// assert_eq!(err.to_string(), "circuit breaker `payment` is open; retry after 4s");
    /// ```
    pub fn circuit_open(name: &'static str, retry_after: Option<Duration>) -> Self {
        Self::CircuitOpen {
            name,
            retry_after,
            key: None,
            forced: false,
        }
    }

    /// A [`Rejected::CircuitOpen`] from a breaker forced open by hand: no `retry_after`,
    /// `forced: true`.
    ///
    /// ```
    /// # use resilience_runtime::Rejected;
    /// let err = Rejected::circuit_forced_open("payment");
    /// assert_eq!(err.to_string(), "circuit breaker `payment` is forced open until reset");
    /// ```
    pub fn circuit_forced_open(name: &'static str) -> Self {
        Self::CircuitOpen {
            name,
            retry_after: None,
            key: None,
            forced: true,
        }
    }

    /// A [`Rejected::BulkheadFull`].
    pub fn bulkhead_full(name: &'static str, max: u32) -> Self {
        Self::BulkheadFull {
            name,
            max,
            key: None,
        }
    }

    /// A [`Rejected::TimedOut`].
    pub fn timed_out(name: &'static str, after: Duration) -> Self {
        Self::TimedOut { name, after }
    }

    /// A [`Rejected::RateLimited`]: no permit within `max_wait`; the next one is free in
    /// `retry_after`.
    ///
    /// ```
    /// # use resilience_runtime::Rejected;
    /// # use std::time::Duration;
    /// let err = Rejected::rate_limited("github", Duration::from_millis(250));
    /// assert_eq!(err.to_string(), "rate limit `github` reached; retry after 250ms");
    /// assert_eq!(err.reason(), "rate_limited");
    /// ```
    pub fn rate_limited(name: &'static str, retry_after: Duration) -> Self {
        Self::RateLimited {
            name,
            retry_after,
            key: None,
        }
    }
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = Named(self.name(), self.key());
        match self {
            Self::CircuitOpen { forced: true, .. } => {
                write!(f, "circuit breaker `{name}` is forced open until reset")
            }
            Self::CircuitOpen {
                retry_after: Some(wait),
                ..
            } => write!(f, "circuit breaker `{name}` is open; retry after {wait:?}"),
            Self::CircuitOpen {
                retry_after: None, ..
            } => write!(
                f,
                "circuit breaker `{name}` is half-open and its trial calls are running"
            ),
            Self::BulkheadFull { max, .. } => {
                write!(f, "bulkhead `{name}` is full ({max} calls running)")
            }
            Self::TimedOut { after, .. } => write!(f, "`{name}` timed out after {after:?}"),
            Self::RateLimited { retry_after, .. } => {
                write!(
                    f,
                    "rate limit `{name}` reached; retry after {retry_after:?}"
                )
            }
        }
    }
}

/// An instance's name as messages show it: `name`, or `name[key]` for a keyed instance.
struct Named<'a>(&'a str, Option<&'a str>);

impl fmt::Display for Named<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1 {
            Some(key) => write!(f, "{}[{key}]", self.0),
            None => f.write_str(self.0),
        }
    }
}

impl std::error::Error for Rejected {}

#[cfg(test)]
mod tests {
    use super::{KeyText, Rejected};
    use std::sync::Arc;

    /// The size the happy path moves (module docs, "Size"): a thin key keeps it at 48.
    #[test]
    fn a_rejection_is_48_bytes_and_its_key_one_pointer() {
        assert_eq!(std::mem::size_of::<Option<KeyText>>(), 8);
        assert_eq!(std::mem::size_of::<Rejected>(), 48);
        assert_eq!(std::mem::size_of::<crate::Failure<Rejected>>(), 56);
    }

    /// Clones share the text, and dropping every rejection gives every count back.
    #[test]
    fn keyed_rejections_share_the_key_and_drop_it() {
        let text: Arc<str> = Arc::from("tenant-7");
        let key = KeyText::new(Arc::clone(&text));
        assert_eq!(Arc::strong_count(&text), 2);
        let first = Rejected::bulkhead_full("db", 4).keyed(Some(&key));
        let second = first.clone();
        assert_eq!(first, second);
        assert_eq!(second.key(), Some("tenant-7"));
        assert_eq!(
            second.to_string(),
            "bulkhead `db[tenant-7]` is full (4 calls running)"
        );
        assert_eq!(format!("{key:?} {key}"), "\"tenant-7\" tenant-7");
        drop((first, second));
        assert_eq!(
            Arc::strong_count(&text),
            2,
            "the key itself still holds the text"
        );
        drop(key);
        assert_eq!(Arc::strong_count(&text), 1);
    }
}

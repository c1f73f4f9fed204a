//! What a key is: [`InstanceKey`], and how a borrowed key finds its instance without
//! allocating.
//!
//! # Identity
//!
//! The attributes take any `Hash + Display` value as a key, without asking for `Eq`. Two keys
//! are the same instance when **their `Hash` feeds a hasher the same bytes**: the byte stream
//! is recorded once, when the key's instance is created, and every later call compares its
//! key's stream with it as it is produced, stopping at the first difference ([`StreamEq`]).
//! For the keys this is meant for it is their ordinary equality: `str` and `String` feed
//! their bytes and a terminator (so `"ab"` + `"c"` is not `"a"` + `"bc"`, and a `&str` finds
//! the instance a `String` created), integers their fixed-width bytes, a derived `Hash` its
//! fields' streams in order. A type whose `Hash` skips something it displays gets one instance
//! for the values it cannot tell apart.
//!
//! The key's `Display` text is what names the instance (`name[key]` in `monitor`, the `key`
//! label of events and rejections): made once per new key, never per call. `Display` is not the
//! identity because comparing through it costs a formatting pass per call (about as much as
//! the rest of the call), where the stream comparison is a few instructions and a `memcmp`.
//!
//! The map's hash comes from the same `Hash`, through the site's randomly seeded `foldhash`
//! (keys are often chosen by whoever sends the requests: tenants, hosts, users), and is
//! stored with the key, so a stored key is never hashed again.

use std::fmt::Display;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;

/// A value that can key an instance: `Hash + Display` (see the module docs for what makes two
/// keys the same).
///
/// ```
/// use resilience_runtime::InstanceKey;
///
/// fn takes<K: InstanceKey + ?Sized>(_: &K) {}
/// takes("tenant-a");
/// takes(&String::from("tenant-b"));
/// takes(&42_u64);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot key a resilience instance: a key must be `Hash + Display`",
    label = "this key is not `Hash + Display`",
    note = "key by a field that is (a `&str`, a `String`, an integer id), or implement `Hash` and `Display` for `{Self}`"
)]
pub trait InstanceKey: Hash + Display {}

impl<K: Hash + Display + ?Sized> InstanceKey for K {}

/// A stored key: the bytes its `Hash` wrote, the map's hash of it, and its `Display` text,
/// shared with the instance, snapshots and rejections.
#[derive(Clone, Debug)]
pub(crate) struct StoredKey {
    pub(crate) hash: u64,
    pub(crate) stream: Stream,
    pub(crate) text: Arc<str>,
}

/// The bytes a key's `Hash` wrote. Up to [`Stream::INLINE`] of them (a host name, a tenant
/// id, an integer) are kept in the stored key itself, so a lookup compares them on the cache
/// line it already read for the hash, instead of following a pointer to another allocation.
#[derive(Clone, Debug)]
pub(crate) enum Stream {
    Inline {
        len: u8,
        bytes: [u8; Stream::INLINE],
    },
    Heap(Arc<[u8]>),
}

impl Stream {
    /// The longest stream kept inline: the enum stays 32 bytes.
    const INLINE: usize = 30;

    fn new(bytes: &[u8]) -> Self {
        match u8::try_from(bytes.len()) {
            Ok(len) if bytes.len() <= Self::INLINE => {
                let mut inline = [0; Self::INLINE];
                inline[..bytes.len()].copy_from_slice(bytes);
                Self::Inline { len, bytes: inline }
            }
            _ => Self::Heap(bytes.into()),
        }
    }
}

impl std::ops::Deref for Stream {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        match self {
            Self::Inline { len, bytes } => bytes.get(..usize::from(*len)).unwrap_or_default(),
            Self::Heap(bytes) => bytes,
        }
    }
}

impl Hash for StoredKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl PartialEq for StoredKey {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && *self.stream == *other.stream
    }
}

impl Eq for StoredKey {}

/// A borrowed key on its way to a lookup: its hash, computed once, and the key itself for the
/// streamed comparison.
pub(crate) struct Probe<'a, K: ?Sized> {
    pub(crate) hash: u64,
    pub(crate) key: &'a K,
}

impl<'a, K: Hash + ?Sized> Probe<'a, K> {
    #[inline]
    pub(crate) fn new(hasher: &impl BuildHasher, key: &'a K) -> Self {
        Self {
            hash: hasher.hash_one(key),
            key,
        }
    }
}

impl<K: ?Sized> Hash for Probe<'_, K> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl<K: Hash + ?Sized> papaya::Equivalent<StoredKey> for Probe<'_, K> {
    #[inline]
    fn equivalent(&self, stored: &StoredKey) -> bool {
        self.hash == stored.hash && hashes_as(self.key, &stored.stream)
    }
}

impl<K: InstanceKey + ?Sized> Probe<'_, K> {
    /// The key to store for a new instance: its stream and its text (the allocations made
    /// once per key).
    pub(crate) fn to_text(&self) -> StoredKey {
        let mut stream = Record(Vec::new());
        self.key.hash(&mut stream);
        StoredKey {
            hash: self.hash,
            stream: Stream::new(&stream.0),
            text: self.key.to_string().into(),
        }
    }
}

/// Whether `key`'s `Hash` writes exactly `stream`, without recording it: each write is
/// compared with the next bytes of `stream`, and a mismatch makes the rest no-ops.
#[inline]
pub(crate) fn hashes_as<K: Hash + ?Sized>(key: &K, stream: &[u8]) -> bool {
    let mut rest = StreamEq(Some(stream));
    key.hash(&mut rest);
    matches!(rest.0, Some(rest) if rest.is_empty())
}

/// Records what a `Hash` writes.
struct Record(Vec<u8>);

impl Hasher for Record {
    fn finish(&self) -> u64 {
        0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
}

/// Compares what a `Hash` writes with a recorded stream: `None` once it differed.
pub(crate) struct StreamEq<'a>(Option<&'a [u8]>);

impl StreamEq<'_> {
    /// Compares a fixed-size write without a `memcmp` call: the common pieces of a key's
    /// stream (a `str`'s terminator, an integer) are one comparison of a small array.
    #[inline]
    fn fixed<const N: usize>(&mut self, bytes: [u8; N]) {
        self.0 = self.0.and_then(|rest| match rest.split_first_chunk::<N>() {
            Some((head, tail)) if *head == bytes => Some(tail),
            _ => None,
        });
    }
}

impl Hasher for StreamEq<'_> {
    fn finish(&self) -> u64 {
        0
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        self.0 = self.0.and_then(|rest| {
            let (head, tail) = rest.split_at_checked(bytes.len())?;
            same(head, bytes).then_some(tail)
        });
    }
    #[inline]
    fn write_u8(&mut self, value: u8) {
        self.fixed(value.to_ne_bytes());
    }
    #[inline]
    fn write_u16(&mut self, value: u16) {
        self.fixed(value.to_ne_bytes());
    }
    #[inline]
    fn write_u32(&mut self, value: u32) {
        self.fixed(value.to_ne_bytes());
    }
    #[inline]
    fn write_u64(&mut self, value: u64) {
        self.fixed(value.to_ne_bytes());
    }
    #[inline]
    fn write_usize(&mut self, value: usize) {
        self.fixed(value.to_ne_bytes());
    }
}

/// Whether two slices of the same length are equal. From 8 to 32 bytes (a host name, a
/// tenant id) this is two or four comparisons of overlapping 8-byte words, inline, where `==`
/// calls `memcmp` (about 30 instructions with the call, for 16 bytes); shorter and longer
/// ones use `==`.
#[inline]
fn same(a: &[u8], b: &[u8]) -> bool {
    debug_assert_eq!(a.len(), b.len());
    let n = a.len();
    let word = |s: &[u8], at: usize| {
        s.get(at..at + 8)
            .map(|w| u64::from_ne_bytes(w.try_into().unwrap_or_default()))
    };
    match n {
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        17..=32 => {
            word(a, 0) == word(b, 0)
                && word(a, 8) == word(b, 8)
                && word(a, n - 16) == word(b, n - 16)
                && word(a, n - 8) == word(b, n - 8)
        }
        _ => a == b,
    }
}

/// The map's hasher: a stored key and a probe both write their hash, which passes through.
#[derive(Clone, Copy, Default)]
pub(crate) struct PassThrough;

impl BuildHasher for PassThrough {
    type Hasher = Passed;
    fn build_hasher(&self) -> Passed {
        Passed(0)
    }
}

/// The hash written by [`StoredKey`] or [`Probe`].
pub(crate) struct Passed(u64);

impl Hasher for Passed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used; fold anything else in so the hasher stays total.
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }
    fn write_u64(&mut self, hash: u64) {
        self.0 = hash;
    }
}

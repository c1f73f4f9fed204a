//! What a key is: [`InstanceKey`], and how a borrowed key finds its instance without
//! allocating.
//!
//! # Identity
//!
//! The attributes take any `Hash + Display` value as a key, so a key's own `Eq` is not
//! available to compare with. Two keys name the same instance when they **hash the same and
//! display the same text**: the text is what `monitor` shows (`name[key]`), what events label,
//! and what is stored, once, when an instance is created ([`KeyText`]). A call with a key
//! already seen allocates nothing:
//!
//! - the key is hashed with its own `Hash`, through the site's randomly seeded hasher (keys
//!   are often chosen by whoever sends the requests: tenants, hosts, users), and the stored
//!   text carries that hash, so the map never rehashes a stored key;
//! - equality streams the key's `Display` output against the stored text, piece by piece,
//!   stopping at the first difference ([`Probe`]) — no `String` is built.
//!
//! For the keys this is meant for (`&str`, `String`, integers, ids) `Hash` and `Display` agree,
//! so this is their ordinary equality. A type whose `Hash` sees something its `Display` does
//! not (or the reverse) gets one instance per (hash, text) pair, which may show under the same
//! name in `monitor`.

use std::fmt::{self, Display, Write as _};
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

/// A stored key: its `Display` text, shared with the instance and snapshots, and the hash its
/// `Hash` gave when it was first seen.
#[derive(Clone, Debug)]
pub(crate) struct KeyText {
    pub(crate) hash: u64,
    pub(crate) text: Arc<str>,
}

impl Hash for KeyText {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl PartialEq for KeyText {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.text == other.text
    }
}

impl Eq for KeyText {}

/// A borrowed key on its way to a lookup: its hash, computed once, and the key itself for the
/// streamed comparison.
pub(crate) struct Probe<'a, K: ?Sized> {
    pub(crate) hash: u64,
    pub(crate) key: &'a K,
}

impl<K: ?Sized> Hash for Probe<'_, K> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl<K: Display + ?Sized> papaya::Equivalent<KeyText> for Probe<'_, K> {
    fn equivalent(&self, stored: &KeyText) -> bool {
        self.hash == stored.hash && displays_as(self.key, &stored.text)
    }
}

impl<K: Display + ?Sized> Probe<'_, K> {
    /// The key's text, for a new instance (the one allocation per key).
    pub(crate) fn to_text(&self) -> KeyText {
        KeyText {
            hash: self.hash,
            text: self.key.to_string().into(),
        }
    }
}

/// Whether `key` displays exactly as `text`, without building its text: each piece `Display`
/// writes is compared with the next bytes of `text`, and the first mismatch stops it.
pub(crate) fn displays_as<K: Display + ?Sized>(key: &K, text: &str) -> bool {
    struct Rest<'a>(&'a str);
    impl fmt::Write for Rest<'_> {
        fn write_str(&mut self, piece: &str) -> fmt::Result {
            match self.0.strip_prefix(piece) {
                Some(rest) => {
                    self.0 = rest;
                    Ok(())
                }
                None => Err(fmt::Error),
            }
        }
    }
    let mut rest = Rest(text);
    write!(rest, "{key}").is_ok() && rest.0.is_empty()
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

/// The hash written by [`KeyText`] or [`Probe`].
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

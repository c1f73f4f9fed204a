//! `#[timeout("2s")]`, or `#[timeout(limit = "2s", crate = "...")]`

use proc_macro2::Span;

use super::{duration, set_once, unknown_key, Errors, Kind, RawArg, Spanned};

const KEYS: &[&str] = &["limit", "crate"];

/// The time limit, in nanoseconds.
pub(crate) struct TimeoutArgs {
    pub(crate) limit: Spanned<u64>,
}

impl TimeoutArgs {
    pub(crate) fn from_raw(span: Span, raw: Vec<RawArg>) -> syn::Result<Self> {
        let mut limit = None;
        let mut errors = Errors::default();
        for RawArg { key, value } in raw {
            match key {
                None if limit.is_none() => errors.push(duration(&value).map(|d| limit = Some(d))),
                None => errors.push(Err(syn::Error::new_spanned(
                    &value,
                    "#[timeout] takes one duration, like #[timeout(\"2s\")]",
                ))),
                Some(key) if key == "limit" => {
                    errors.push(set_once(&mut limit, &key, duration(&value)))
                }
                Some(key) => errors.push(Err(unknown_key(Kind::Timeout, &key, KEYS))),
            };
        }
        errors.finish()?;
        limit.map(|limit| TimeoutArgs { limit }).ok_or_else(|| {
            syn::Error::new(
                span,
                "#[timeout] needs a time limit, like #[timeout(\"2s\")]",
            )
        })
    }
}

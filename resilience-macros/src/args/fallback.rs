//! `#[fallback(path)]`, or `#[fallback(path, fallback_if = predicate, crate = "...")]`

use proc_macro2::Span;
use syn::Path;

use super::{path, set_once, unknown_key, Errors, Kind, RawArg, Spanned};

const KEYS: &[&str] = &["fallback_if", "crate"];

/// The function that answers instead, and when.
pub(crate) struct FallbackArgs {
    pub(crate) function: Spanned<Path>,
    pub(crate) fallback_if: Option<Spanned<Path>>,
}

impl FallbackArgs {
    pub(crate) fn from_raw(span: Span, raw: Vec<RawArg>) -> syn::Result<Self> {
        let mut function = None;
        let mut fallback_if = None;
        let mut errors = Errors::default();
        for RawArg { key, value } in raw {
            match key {
                None if function.is_none() => errors.push(path(&value).map(|p| function = Some(p))),
                None => errors.push(Err(syn::Error::new_spanned(
                    &value,
                    "#[fallback] takes one function path, like #[fallback(cached_price)]",
                ))),
                Some(key) if key == "fallback_if" => {
                    errors.push(set_once(&mut fallback_if, &key, path(&value)))
                }
                Some(key) => errors.push(Err(unknown_key(Kind::Fallback, &key, KEYS))),
            };
        }
        errors.finish()?;
        function
            .map(|function| FallbackArgs {
                function,
                fallback_if,
            })
            .ok_or_else(|| {
                syn::Error::new(
                    span,
                    "#[fallback] needs the function that answers instead, like #[fallback(cached_price)]",
                )
            })
    }
}

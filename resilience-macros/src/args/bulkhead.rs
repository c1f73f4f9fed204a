//! `#[bulkhead(max = 2, max_wait = "50ms", queue = 10, name = "...", crate = "...")]`

use proc_macro2::Span;
use syn::LitStr;

use super::{duration, int, set_once, string, unknown_key, Errors, Kind, RawArg, Spanned};

const KEYS: &[&str] = &[
    "max", "max_wait", "queue", "name", "key", "max_keys", "crate",
];

/// The bulkhead's parameters as written; `max` is required.
pub(crate) struct BulkheadArgs {
    pub(crate) max: Option<Spanned<u32>>,
    pub(crate) max_wait: Option<Spanned<u64>>,
    pub(crate) queue: Option<Spanned<u32>>,
    pub(crate) name: Option<Spanned<LitStr>>,
    /// `key = expr`, `max_keys = N`.
    pub(crate) keyed: super::KeyedArgs,
    /// The attribute's span, to point at when `max` is missing.
    pub(crate) span: Span,
}

impl BulkheadArgs {
    pub(crate) fn from_raw(span: Span, raw: Vec<RawArg>) -> syn::Result<Self> {
        let mut args = BulkheadArgs {
            max: None,
            max_wait: None,
            queue: None,
            name: None,
            keyed: super::KeyedArgs::default(),
            span,
        };
        let mut errors = Errors::default();
        for RawArg { key, value } in raw {
            let Some(key) = key else {
                errors.add(super::expected_key(Kind::Bulkhead, &value, KEYS));
                continue;
            };
            if let Some(result) = args.keyed.set(&key, &value) {
                errors.push(result);
                continue;
            }
            let result = match key.to_string().as_str() {
                "max" => set_once(&mut args.max, &key, int(&value)),
                "max_wait" => set_once(&mut args.max_wait, &key, duration(&value)),
                "queue" => set_once(&mut args.queue, &key, int(&value)),
                "name" => set_once(
                    &mut args.name,
                    &key,
                    string(&value, "the bulkhead's name", "db"),
                ),
                _ => Err(unknown_key(Kind::Bulkhead, &key, KEYS)),
            };
            errors.push(result);
        }
        errors.finish().map(|()| args)
    }
}

//! `#[rate_limit(rate = 100, per = "1s", burst = 10, max_wait = "2s", name = "...", shared, crate = "...")]`

use proc_macro2::Span;
use syn::LitStr;

use super::{duration, int, set_once, string, unknown_key, Errors, Kind, RawArg, Spanned};

const KEYS: &[&str] = &[
    "rate", "per", "burst", "max_wait", "name", "key", "max_keys", "shared", "crate",
];

/// The rate limit's parameters as written; `rate` is required.
pub(crate) struct RateLimitArgs {
    pub(crate) rate: Option<Spanned<u32>>,
    pub(crate) per: Option<Spanned<u64>>,
    pub(crate) burst: Option<Spanned<u32>>,
    pub(crate) max_wait: Option<Spanned<u64>>,
    pub(crate) name: Option<Spanned<LitStr>>,
    /// `key = expr`, `max_keys = N`.
    pub(crate) keyed: super::KeyedArgs,
    /// `shared`: the limit holds for the whole fleet (needs `name`).
    pub(crate) shared: Option<Spanned<()>>,
    /// The attribute's span, to point at when `rate` is missing.
    pub(crate) span: Span,
}

impl RateLimitArgs {
    pub(crate) fn from_raw(span: Span, raw: Vec<RawArg>) -> syn::Result<Self> {
        let mut args = RateLimitArgs {
            rate: None,
            per: None,
            burst: None,
            max_wait: None,
            name: None,
            keyed: super::KeyedArgs::default(),
            shared: None,
            span,
        };
        let mut errors = Errors::default();
        for RawArg { key, value } in raw {
            let Some(key) = key else {
                errors.push(super::shared_flag(
                    &mut args.shared,
                    Kind::RateLimit,
                    &value,
                    KEYS,
                ));
                continue;
            };
            if let Some(result) = args.keyed.set(&key, &value) {
                errors.push(result);
                continue;
            }
            let result = match key.to_string().as_str() {
                "rate" => set_once(&mut args.rate, &key, int(&value)),
                "per" => set_once(&mut args.per, &key, duration(&value)),
                "burst" => set_once(&mut args.burst, &key, int(&value)),
                "max_wait" => set_once(&mut args.max_wait, &key, duration(&value)),
                "name" => set_once(
                    &mut args.name,
                    &key,
                    string(&value, "the rate limiter's name", "github"),
                ),
                _ => Err(unknown_key(Kind::RateLimit, &key, KEYS)),
            };
            errors.push(result);
        }
        errors.finish().map(|()| args)
    }
}

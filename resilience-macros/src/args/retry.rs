//! `#[retry(max = 3, base = "100ms", max_delay = "10s", jitter = "full", retry_if = path,
//! crate = "...")]`
//!
//! The defaults and the jitter names are `resilience_config::retry`'s, the ones the runtime's
//! overrides use.

use syn::Path;

use super::{duration, int, path, set_once, string, unknown_key, Errors, Kind, RawArg, Spanned};

const KEYS: &[&str] = &[
    "max",
    "base",
    "max_delay",
    "jitter",
    "retry_if",
    "context",
    "crate",
];

pub(crate) use resilience_config::retry::{Jitter as JitterKind, DEFAULT_JITTER};

/// The retry's parameters as written; `None` where the default applies.
#[derive(Default)]
pub(crate) struct RetryArgs {
    pub(crate) max: Option<Spanned<u32>>,
    pub(crate) base: Option<Spanned<u64>>,
    pub(crate) max_delay: Option<Spanned<u64>>,
    pub(crate) jitter: Option<Spanned<JitterKind>>,
    pub(crate) retry_if: Option<Spanned<Path>>,
    /// `context = name`: the local that holds the [`Attempt`] inside the body.
    ///
    /// [`Attempt`]: https://docs.rs/async-resilience/latest/resilience/struct.Attempt.html
    pub(crate) context: Option<Spanned<syn::Ident>>,
}

impl RetryArgs {
    pub(crate) fn from_raw(raw: Vec<RawArg>) -> syn::Result<Self> {
        let mut args = RetryArgs::default();
        let mut errors = Errors::default();
        for RawArg { key, value } in raw {
            let Some(key) = key else {
                errors.add(super::expected_key(Kind::Retry, &value, KEYS));
                continue;
            };
            let result = match key.to_string().as_str() {
                "max" => set_once(&mut args.max, &key, int(&value)),
                "base" => set_once(&mut args.base, &key, duration(&value)),
                "max_delay" => set_once(&mut args.max_delay, &key, duration(&value)),
                "jitter" => set_once(&mut args.jitter, &key, jitter(&value)),
                "retry_if" => set_once(&mut args.retry_if, &key, path(&value)),
                "context" => set_once(&mut args.context, &key, local_name(&value)),
                _ => Err(unknown_key(Kind::Retry, &key, KEYS)),
            };
            errors.push(result);
        }
        errors.finish().map(|()| args)
    }
}

/// A plain identifier, for a local the body will use: `context = attempt`.
fn local_name(value: &syn::Expr) -> syn::Result<Spanned<syn::Ident>> {
    let ident = match value {
        syn::Expr::Path(p) if p.qself.is_none() => p.path.get_ident(),
        _ => None,
    };
    match ident {
        Some(ident) if ident != "self" => Ok(Spanned {
            value: ident.clone(),
            span: ident.span(),
        }),
        _ => Err(syn::Error::new_spanned(
            value,
            "expected a name for the attempt's local, like `context = attempt`",
        )),
    }
}

fn jitter(value: &syn::Expr) -> syn::Result<Spanned<JitterKind>> {
    let s = string(value, "the jitter kind", DEFAULT_JITTER.name())?;
    let kind =
        JitterKind::from_name(&s.value.value()).map_err(|error| syn::Error::new(s.span, error))?;
    Ok(Spanned {
        value: kind,
        span: s.span,
    })
}

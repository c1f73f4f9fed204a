//! `#[retry(max = 3, base = "100ms", max_delay = "10s", jitter = "full", retry_if = path,
//! retry_after = path, max_elapsed = "30s", budget = 0.2, budget_min = 10, context = attempt,
//! name = "...", shared, crate = "...")]`
//!
//! The defaults and the jitter names are `resilience_config::retry`'s, the ones the runtime's
//! overrides use.

use syn::spanned::Spanned as _;
use syn::{Expr, ExprLit, ExprUnary, Lit, LitStr, Path, UnOp};

use super::{
    duration, float, int, path, set_once, string, unknown_key, Errors, Kind, RawArg, Spanned,
};

const KEYS: &[&str] = &[
    "max",
    "base",
    "max_delay",
    "jitter",
    "retry_if",
    "retry_after",
    "max_elapsed",
    "budget",
    "budget_min",
    "context",
    "name",
    "shared",
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
    pub(crate) retry_after: Option<Spanned<Path>>,
    pub(crate) max_elapsed: Option<Spanned<u64>>,
    /// `budget = 0.2`, or `budget = "none"` (`None`).
    pub(crate) budget: Option<Spanned<Option<f64>>>,
    pub(crate) budget_min: Option<Spanned<u32>>,
    pub(crate) name: Option<Spanned<LitStr>>,
    /// `shared`: the budget joins the fleet (needs `name`).
    pub(crate) shared: Option<Spanned<()>>,
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
                errors.push(super::shared_flag(
                    &mut args.shared,
                    Kind::Retry,
                    &value,
                    KEYS,
                ));
                continue;
            };
            let result = match key.to_string().as_str() {
                "max" => set_once(&mut args.max, &key, int(&value)),
                "base" => set_once(&mut args.base, &key, duration(&value)),
                "max_delay" => set_once(&mut args.max_delay, &key, duration(&value)),
                "jitter" => set_once(&mut args.jitter, &key, jitter(&value)),
                "retry_if" => set_once(&mut args.retry_if, &key, path(&value)),
                "retry_after" => set_once(&mut args.retry_after, &key, path(&value)),
                "max_elapsed" => set_once(&mut args.max_elapsed, &key, duration(&value)),
                "budget" => set_once(&mut args.budget, &key, budget(&value)),
                "budget_min" => set_once(&mut args.budget_min, &key, int(&value)),
                "name" => set_once(
                    &mut args.name,
                    &key,
                    string(&value, "the retry's name", "payments"),
                ),
                "context" => set_once(&mut args.context, &key, local_name(&value)),
                _ => Err(unknown_key(Kind::Retry, &key, KEYS)),
            };
            errors.push(result);
        }
        errors.finish().map(|()| args)
    }
}

/// A plain identifier, for a local the body will use: `context = attempt`.
pub(super) fn local_name(value: &syn::Expr) -> syn::Result<Spanned<syn::Ident>> {
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

/// `budget = 0.2` (a share, checked by validation), or `budget = "none"`. A negative number
/// is kept as one, so validation reports it as out of range rather than as not a number.
fn budget(value: &Expr) -> syn::Result<Spanned<Option<f64>>> {
    const EXPECTED: &str =
        "expected a share of the calls from 0 to 1, like `budget = 0.2`, or `budget = \"none\"`";
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => {
            if s.value() == resilience_config::retry::NO_BUDGET {
                Ok(Spanned {
                    value: None,
                    span: s.span(),
                })
            } else {
                Err(syn::Error::new(s.span(), EXPECTED))
            }
        }
        // Spanned on the whole `-1`, which validation's single span could not cover.
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_), ..
        }) => Err(syn::Error::new_spanned(
            value,
            resilience_config::Error::ShareOutOfRange {
                parameter: "budget",
            },
        )),
        Expr::Group(group) => budget(&group.expr),
        _ => {
            let share = float(value).map_err(|_| syn::Error::new(value.span(), EXPECTED))?;
            Ok(Spanned {
                value: Some(share.value),
                span: share.span,
            })
        }
    }
}

//! `key = <expr>` and `max_keys = N`, shared by `#[circuit_breaker]`, `#[bulkhead]` and
//! `#[rate_limit]`: one instance per distinct key value (the runtime's `keyed` module).

use syn::{Expr, Ident};

use super::{int, set_once, Spanned};

/// A keyed attribute's `key` and `max_keys`, as written.
#[derive(Default)]
pub(crate) struct KeyedArgs {
    /// The key expression over the arguments, kept as tokens: the type system checks it is
    /// `Hash + Display`, with the error on the expression.
    pub(crate) key: Option<Spanned<Box<Expr>>>,
    pub(crate) max_keys: Option<Spanned<u32>>,
}

impl KeyedArgs {
    /// Takes `key` or `max_keys`; `None` for any other parameter.
    pub(crate) fn set(&mut self, key: &Ident, value: &Expr) -> Option<syn::Result<()>> {
        let result = if key == "key" {
            let expr = Spanned {
                value: Box::new(value.clone()),
                span: syn::spanned::Spanned::span(value),
            };
            set_once(&mut self.key, key, Ok(expr))
        } else if key == "max_keys" {
            set_once(&mut self.max_keys, key, int(value))
        } else {
            return None;
        };
        Some(result)
    }
}

//! The annotated function, as the expansion needs to see it.
//!
//! The function is re-emitted with its own tokens: attributes (minus the resilience ones this
//! expansion takes over), visibility and signature stay exactly as written, so the caller sees
//! no difference and diagnostics keep pointing at the user's code. Only the body is wrapped.

use proc_macro2::{Span, TokenStream};
use syn::spanned::Spanned as _;
use syn::visit::Visit;
use syn::{Attribute, FnArg, Ident, ItemFn, Pat, PatIdent, Path, Type};

use crate::args::{Errors, Kind, Layer};

/// The function being rewritten, and the stack of resilience attributes on it.
pub(crate) struct Function {
    pub(crate) item: ItemFn,
    /// The arguments after the receiver, in order.
    pub(crate) args: Vec<Arg>,
    /// Whether the function is a method (`self`, `&self`, `&mut self`, `self: Arc<Self>`, ...).
    pub(crate) has_receiver: bool,
}

/// One argument after the receiver.
pub(crate) struct Arg {
    /// Every name its pattern binds (`(a, mut b): (u32, String)` binds `a` and `b`).
    pub(crate) bindings: Vec<Binding>,
    /// The pattern when it is a plain name (`x`, `mut x`); fallback calls need one.
    pub(crate) name: Option<Ident>,
    /// Whether the argument's type is a reference: references pass as they are, never cloned.
    pub(crate) is_ref: bool,
    /// The whole `pattern: Type`, for errors about the argument.
    pub(crate) span: Span,
}

pub(crate) struct Binding {
    pub(crate) ident: Ident,
    pub(crate) mutable: bool,
}

impl Function {
    /// Parses the item. On failure returns the error and leaves the tokens to be re-emitted.
    pub(crate) fn parse(tokens: TokenStream) -> syn::Result<Function> {
        let item: ItemFn = syn::parse2(tokens)?;
        let mut args = Vec::new();
        let mut has_receiver = false;
        for input in &item.sig.inputs {
            match input {
                FnArg::Receiver(_) => has_receiver = true,
                FnArg::Typed(typed) => {
                    let mut collect = CollectBindings(Vec::new());
                    collect.visit_pat(&typed.pat);
                    args.push(Arg {
                        bindings: collect.0,
                        name: match &*typed.pat {
                            Pat::Ident(PatIdent {
                                ident,
                                subpat: None,
                                by_ref: None,
                                ..
                            }) => Some(ident.clone()),
                            _ => None,
                        },
                        is_ref: matches!(strip_groups(&typed.ty), Type::Reference(_)),
                        span: typed.span(),
                    });
                }
            }
        }
        Ok(Function {
            item,
            args,
            has_receiver,
        })
    }

    /// Removes the resilience attributes written below the one being expanded and parses them
    /// into layers, in the order written. Errors in any of them are collected.
    ///
    /// `krate` is the outer attribute's `crate = "..."`, if any: attributes written through
    /// that path (`#[res::retry]` with `crate = "res"`) belong to the stack too.
    pub(crate) fn take_stack(&mut self, krate: Option<&Path>, errors: &mut Errors) -> Vec<Layer> {
        let mut layers = Vec::new();
        let mut kept = Vec::with_capacity(self.item.attrs.len());
        for attr in std::mem::take(&mut self.item.attrs) {
            match resilience_kind(&attr, krate) {
                Some(kind) => {
                    let tokens = match &attr.meta {
                        syn::Meta::Path(_) => Ok(TokenStream::new()),
                        syn::Meta::List(list) => Ok(list.tokens.clone()),
                        syn::Meta::NameValue(nv) => Err(syn::Error::new_spanned(
                            nv,
                            format!("write #[{}(...)] with parentheses", kind.name()),
                        )),
                    };
                    if let Some(layer) =
                        errors.push(tokens.and_then(|t| Layer::parse(kind, attr.span(), t)))
                    {
                        layers.push(layer);
                    }
                    kept.push(stacked_marker(&attr));
                }
                None => kept.push(attr),
            }
        }
        self.item.attrs = kept;
        layers
    }
}

/// The argument that marks an attribute already taken into an outer attribute's pipeline.
pub(crate) const STACKED: &str = "__resilience_stacked";

/// `#[retry(max = 3)]` → `#[retry(__resilience_stacked)]`. The attribute stays, so its `use`
/// counts as used (no `unused_imports` warning), and expands to the function unchanged.
fn stacked_marker(attr: &Attribute) -> Attribute {
    let path = attr.path();
    let marker = Ident::new(STACKED, Span::call_site());
    syn::parse_quote_spanned!(attr.span()=> #[#path(#marker)])
}

/// Which resilience attribute this is, if any: `#[retry]`, `#[resilience::retry]`, or the
/// attribute through the `crate = "..."` path.
///
/// A path of several segments counts only when what precedes the attribute's name is
/// `resilience` or the end of the `crate` path, so another crate's `#[other::timeout]` is left
/// alone.
fn resilience_kind(attr: &Attribute, krate: Option<&Path>) -> Option<Kind> {
    let segments = &attr.path().segments;
    let last = segments.last()?;
    let kind = Kind::ALL.into_iter().find(|k| last.ident == k.name())?;
    if segments.len() == 1 {
        return Some(kind);
    }
    let prefix: Vec<String> = segments
        .iter()
        .take(segments.len() - 1)
        .map(|s| s.ident.to_string())
        .collect();
    let ours = prefix == ["resilience"]
        || krate.is_some_and(|krate| {
            let krate: Vec<String> = krate.segments.iter().map(|s| s.ident.to_string()).collect();
            krate.ends_with(&prefix)
        });
    ours.then_some(kind)
}

fn strip_groups(ty: &Type) -> &Type {
    match ty {
        Type::Group(g) => strip_groups(&g.elem),
        Type::Paren(p) => strip_groups(&p.elem),
        other => other,
    }
}

struct CollectBindings(Vec<Binding>);

impl<'ast> Visit<'ast> for CollectBindings {
    fn visit_pat_ident(&mut self, pat: &'ast PatIdent) {
        self.0.push(Binding {
            ident: pat.ident.clone(),
            mutable: pat.mutability.is_some(),
        });
        syn::visit::visit_pat_ident(self, pat);
    }
}

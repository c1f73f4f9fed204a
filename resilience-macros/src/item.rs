//! The annotated function, as the expansion needs to see it.
//!
//! The function is re-emitted with its own tokens: attributes (minus the resilience ones this
//! expansion takes over), visibility and signature stay exactly as written, so the caller sees
//! no difference and diagnostics keep pointing at the user's code. Only the body is wrapped.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::spanned::Spanned as _;
use syn::visit::Visit;
use syn::{Attribute, FnArg, Ident, ItemFn, Pat, PatIdent, Path, ReturnType, Type};

use crate::args::{Errors, Kind, Layer};

/// The function being rewritten, and the stack of resilience attributes on it.
pub(crate) struct Function {
    pub(crate) item: ItemFn,
    /// The arguments after the receiver, in order.
    pub(crate) args: Vec<Arg>,
    /// How a method takes `self`; `None` for a free function.
    pub(crate) receiver: Option<ReceiverKind>,
    /// The receiver as written, for errors about it.
    pub(crate) receiver_span: Span,
}

/// How a method takes `self`, which decides how each attempt gets its own.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReceiverKind {
    /// `&self`, `self: &Self`: copied.
    Shared,
    /// `&mut self`, `self: &mut Self`: reborrowed.
    Mut,
    /// `self`, `self: Arc<Self>`, `self: Box<Self>`, ...: cloned.
    Owned,
}

/// One argument after the receiver.
pub(crate) struct Arg {
    /// Every name its pattern binds (`(a, mut b): (u32, String)` binds `a` and `b`).
    pub(crate) bindings: Vec<Binding>,
    /// The pattern when it is a plain name (`x`, `mut x`); fallback calls need one.
    pub(crate) name: Option<Ident>,
    /// Whether the argument's type is a reference: references pass as they are, never cloned.
    pub(crate) is_ref: bool,
    /// Whether it is a `&mut` reference: each attempt reborrows it.
    pub(crate) is_mut_ref: bool,
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
        let mut receiver = None;
        let mut receiver_span = Span::call_site();
        for input in &item.sig.inputs {
            match input {
                FnArg::Receiver(r) => {
                    receiver_span = r.span();
                    receiver = Some(match strip_groups(&r.ty) {
                        Type::Reference(r) if r.mutability.is_some() => ReceiverKind::Mut,
                        Type::Reference(_) => ReceiverKind::Shared,
                        _ => ReceiverKind::Owned,
                    });
                }
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
                        is_mut_ref: matches!(
                            strip_groups(&typed.ty),
                            Type::Reference(r) if r.mutability.is_some()
                        ),
                        span: typed.span(),
                    });
                }
            }
        }
        Ok(Function {
            item,
            args,
            receiver,
            receiver_span,
        })
    }

    /// Whether an outer resilience attribute has already rewritten this function (its body
    /// declares the site marker `expand` generates).
    pub(crate) fn is_expanded(&self) -> bool {
        self.item
            .block
            .stmts
            .iter()
            .any(|stmt| matches!(stmt, syn::Stmt::Item(syn::Item::Struct(s)) if s.ident == SITE))
    }

    /// Whether the function is a method.
    pub(crate) fn has_receiver(&self) -> bool {
        self.receiver.is_some()
    }

    /// The borrow in the return type that is lent out of a `&mut` input, if any: elided
    /// (`&T`, `'_`) with `&mut self`, or a named lifetime that a `&mut` input carries.
    ///
    /// Such a function cannot run twice in one call: the borrow one run returns would have to
    /// outlive the next run's reborrow of the same `&mut`.
    pub(crate) fn lent_from_mut(&self) -> Option<TokenStream> {
        let ReturnType::Type(_, output) = &self.item.sig.output else {
            return None;
        };
        let mut mut_lifetimes = Vec::new();
        let mut elided_from_mut = false;
        let mut references = 0;
        for input in &self.item.sig.inputs {
            let ty = match input {
                FnArg::Receiver(r) => &r.ty,
                FnArg::Typed(t) => &t.ty,
            };
            let mut refs = CollectRefs::default();
            refs.visit_type(ty);
            references += refs.refs.len();
            for (lifetime, mutable) in refs.refs {
                match (lifetime, mutable) {
                    (Some(l), true) => mut_lifetimes.push(l),
                    (None, true) if matches!(input, FnArg::Receiver(_)) => elided_from_mut = true,
                    _ => {}
                }
            }
        }
        // With one reference input and no receiver, elision ties the output to that input.
        if references == 1 && !self.has_receiver() {
            elided_from_mut = self.args.iter().any(|arg| arg.is_mut_ref);
        }
        let mut out = CollectLifetimes::default();
        out.visit_type(output);
        out.found
            .into_iter()
            .find_map(|(lifetime, tokens)| match lifetime {
                None => elided_from_mut.then_some(tokens),
                Some(name) => mut_lifetimes.contains(&name).then_some(tokens),
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

/// The unit struct every rewritten body declares to name its instances.
pub(crate) const SITE: &str = "__ResilienceSite";

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

/// The references in an input type: `(lifetime, mutable)`, `None` where elided.
#[derive(Default)]
struct CollectRefs {
    refs: Vec<(Option<String>, bool)>,
}

impl<'ast> Visit<'ast> for CollectRefs {
    fn visit_type_reference(&mut self, r: &'ast syn::TypeReference) {
        let lifetime = r
            .lifetime
            .as_ref()
            .filter(|l| l.ident != "_")
            .map(|l| l.ident.to_string());
        self.refs.push((lifetime, r.mutability.is_some()));
        syn::visit::visit_type_reference(self, r);
    }
}

/// The borrows in the output type that are not `'static`: `(lifetime, tokens)`, `None` where
/// elided (`&T`, `'_`).
#[derive(Default)]
struct CollectLifetimes {
    found: Vec<(Option<String>, TokenStream)>,
}

impl<'ast> Visit<'ast> for CollectLifetimes {
    fn visit_type_reference(&mut self, r: &'ast syn::TypeReference) {
        if r.lifetime.is_none() {
            self.found.push((None, r.to_token_stream()));
        }
        syn::visit::visit_type_reference(self, r);
    }

    fn visit_lifetime(&mut self, l: &'ast syn::Lifetime) {
        match l.ident.to_string().as_str() {
            "static" => {}
            "_" => self.found.push((None, l.to_token_stream())),
            name => self
                .found
                .push((Some(name.to_owned()), l.to_token_stream())),
        }
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

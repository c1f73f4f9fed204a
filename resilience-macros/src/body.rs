//! The user's block as the future of one attempt.
//!
//! Every layer awaits the user's block as `body::<R, _>(async move { .. })`, and four details
//! make that block behave exactly like the plain function's body:
//!
//! - **Its output type is fixed first.** The block opens with an unreachable
//!   `return` of a value of the declared return type `R` (`impl Trait` replaced by `_`). The
//!   output of an `async` block is inferred from the first `return` or tail the compiler checks,
//!   so without it `return Ok(Arc::new(Memory))` would make the output `Result<Arc<Memory>, _>`
//!   instead of coercing to `Result<Arc<dyn Backend>, _>`. tracing-attributes does the same.
//! - **It owns what it uses** (`async move`), as the plain function's future does. A block
//!   that borrowed an owned argument would hold `&T` across its awaits, and be `Send` only if
//!   `T: Sync`: a bound the plain function does not have.
//! - **Each attempt gets its own arguments.** Under `#[retry]`, `#[hedge]` and `#[fallback]` the arguments
//!   are needed again after an attempt, so the attempt may not consume them: owned arguments
//!   are cloned (at the top of each retry, see `expand`), `&mut` arguments reborrowed here, and
//!   shared references copied. `self` cannot be rebound by a `let`, so where an attempt needs
//!   its own receiver (`&mut self` reborrowed, `self: Arc<Self>` or `self` cloned), `self` in
//!   the block is renamed to a local holding it. Nested items keep their own `self`.
//! - **Inner attributes** (`#![allow(..)]`) are not allowed on an `async` block; `expand`
//!   lifts them to the top of the rewritten function, where they cover the same code.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned, ToTokens as _};
use syn::visit_mut::VisitMut;
use syn::{Block, ExprPath, Ident, Item, Macro, Type};

use crate::item::{Arg, ReceiverKind};

/// The local that stands for `self` where an attempt needs its own receiver.
const SELF_LOCAL: &str = "__resilience_self";

/// How the body is built: what the stack around it needs of the arguments.
pub(crate) struct BodyFuture<'a> {
    /// `::resilience::__private`, spanned at the return type.
    pub(crate) p_ret: &'a TokenStream,
    /// `::resilience::__private`.
    pub(crate) p: &'a TokenStream,
    /// The declared return type, `impl Trait` replaced by `_`.
    pub(crate) ret: &'a Type,
    pub(crate) ret_span: Span,
    pub(crate) args: &'a [Arg],
    pub(crate) receiver: Option<ReceiverKind>,
    pub(crate) receiver_span: Span,
    /// Whether the arguments are used again after the body: under `#[retry]` or `#[fallback]`.
    pub(crate) reused: bool,
    /// Whether `self` is used again after the body: under `#[retry]` or `#[hedge]`, or a
    /// `#[fallback]` to a method of `Self`.
    pub(crate) receiver_reused: bool,
    /// Under `#[hedge]`, an owned receiver reaches the body as the local of its attempt (see
    /// `expand`'s hedge), which is what the body then copies from instead of `self`.
    pub(crate) hedged: bool,
}

impl BodyFuture<'_> {
    /// `{ rebinds; body::<R, _>(async move { typed return; block }) }`.
    pub(crate) fn future(&self, mut block: Block) -> TokenStream {
        let mut rebinds = TokenStream::new();
        if let Some(receiver) = self.own_receiver().filter(|_| self.receiver_reused) {
            RenameSelf.visit_block_mut(&mut block);
            let local = self_local();
            rebinds.extend(quote!(let #local = #receiver;));
        }
        if self.reused {
            for arg in self.args.iter().filter(|arg| arg.is_mut_ref) {
                for binding in &arg.bindings {
                    let ident = crate::expand::at_call_site(&binding.ident);
                    rebinds.extend(quote!(let #ident = &mut *#ident;));
                }
            }
        }
        let ret = self.ret;
        let p_ret = self.p_ret;
        // The block's statements, not the block: a block as the tail of the `async` block
        // would be "unnecessary braces" to rustc, reported on the user's `{ Ok(x) }`.
        let stmts = &block.stmts;
        let fake = quote_spanned!(Span::mixed_site()=> __resilience_return);
        let typed = quote_spanned! {self.ret_span=>
            #[allow(
                unreachable_code,
                clippy::diverging_sub_expression,
                clippy::empty_loop,
                clippy::let_unit_value,
                clippy::needless_return,
                clippy::unreachable
            )]
            if false {
                let #fake: #ret = loop {};
                return #fake;
            }
        };
        quote_spanned! {self.ret_span=>
            {
                #rebinds
                #p_ret::body::<#ret, _>(async move {
                    #typed
                    #(#stmts)*
                })
            }
        }
    }

    /// What `self` is rebound to for one attempt, when `self` itself cannot be moved into it.
    fn own_receiver(&self) -> Option<TokenStream> {
        let p = self.p;
        match self.receiver? {
            // `&Self` is `Copy`: moving it into the block copies it.
            ReceiverKind::Shared => None,
            ReceiverKind::Mut => Some(quote!(&mut *self)),
            ReceiverKind::Owned => {
                let span = self.receiver_span;
                let p = crate::expand::respan(p, span);
                let source = if self.hedged {
                    self_local().into_token_stream()
                } else {
                    quote_spanned!(span=> self)
                };
                Some(quote_spanned!(span=> #p::clone_receiver(&#source)))
            }
        }
    }
}

/// The local that stands for `self` where an attempt needs its own receiver.
pub(crate) fn self_local() -> Ident {
    Ident::new(SELF_LOCAL, Span::call_site())
}

/// Renames `self` to [`SELF_LOCAL`] in the user's block, macro arguments included, leaving
/// nested items (which have a `self` of their own) and paths like `self::module` alone.
struct RenameSelf;

impl RenameSelf {
    fn local(span: Span) -> Ident {
        Ident::new(SELF_LOCAL, Span::call_site().located_at(span))
    }

    fn tokens(tokens: TokenStream) -> TokenStream {
        let mut out = Vec::new();
        let mut tokens = tokens.into_iter().peekable();
        while let Some(token) = tokens.next() {
            let token = match token {
                TokenTree::Ident(ident) if ident == "self" => {
                    let is_path =
                        matches!(tokens.peek(), Some(TokenTree::Punct(p)) if p.as_char() == ':');
                    if is_path {
                        TokenTree::Ident(ident)
                    } else {
                        TokenTree::Ident(Self::local(ident.span()))
                    }
                }
                TokenTree::Group(group) => {
                    let mut renamed =
                        proc_macro2::Group::new(group.delimiter(), Self::tokens(group.stream()));
                    renamed.set_span(group.span());
                    TokenTree::Group(renamed)
                }
                other => other,
            };
            out.push(token);
        }
        out.into_iter().collect()
    }
}

impl VisitMut for RenameSelf {
    fn visit_expr_path_mut(&mut self, expr: &mut ExprPath) {
        let path = &mut expr.path;
        if expr.qself.is_none() && path.leading_colon.is_none() && path.segments.len() == 1 {
            let segment = &mut path.segments[0];
            if segment.ident == "self" && segment.arguments.is_none() {
                segment.ident = Self::local(segment.ident.span());
                return;
            }
        }
        syn::visit_mut::visit_expr_path_mut(self, expr);
    }

    fn visit_item_mut(&mut self, _: &mut Item) {}

    fn visit_macro_mut(&mut self, mac: &mut Macro) {
        mac.tokens = Self::tokens(std::mem::take(&mut mac.tokens));
    }
}

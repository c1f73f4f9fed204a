//! Where generated code finds the runtime.
//!
//! Generated code names nothing by a relative path: everything goes through
//! `::resilience::__private`, a hidden module of the facade, so the user needs no `use` and no
//! dependency besides `resilience`. `crate = "path"` on any attribute of a stack replaces
//! `::resilience` for a renamed dependency; the outermost one given wins.

use proc_macro2::TokenStream;
use quote::quote;

use crate::args::Layer;

/// `::resilience::__private`, or `<crate>::__private`.
pub(crate) fn private(layers: &[Layer]) -> TokenStream {
    match layers.iter().find_map(|layer| layer.krate.as_ref()) {
        Some(krate) => {
            let path = &krate.value;
            quote!(#path::__private)
        }
        None => quote!(::resilience::__private),
    }
}

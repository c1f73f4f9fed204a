//! The default variant: every body and annotated function as written, so the compiler inlines
//! whatever it sees fit into the bench's loop. Its twin, `noinline.rs`, keeps them out of line.
//!
//! A bench binary declares one of the two first, with `#[macro_use]`, so that [`out_of_line!`]
//! is in scope in every module it declares after it (`common`, `ours`, the groups): the
//! functions are written once and compiled once per variant, and the variants cannot drift.

/// The items as written.
macro_rules! out_of_line {
    ($($item:item)*) => {
        $($item)*
    };
}

/// What this variant appends to a criterion group's name: nothing.
#[allow(dead_code)] // not every bench binary names groups
pub(crate) const SUFFIX: &str = "";

/// A criterion group's name in this variant.
#[allow(dead_code)]
pub(crate) fn group(name: &str) -> String {
    format!("{name}{SUFFIX}")
}

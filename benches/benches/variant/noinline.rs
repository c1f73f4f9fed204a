//! The out-of-line variant (issue 20): every body and every annotated function is
//! `#[inline(never)]`, as real ones are (they do I/O, and are not inlined into the caller's
//! loop). A call then pays what inlining hides in the default variant (`inline.rs`): creating
//! the future in the callee and moving it to the caller, and an opaque body the optimiser
//! cannot fold into the wrapper around it. Criterion's group names end in `/noinline`.
//!
//! Declared first in a bench binary, with `#[macro_use]`, so that [`out_of_line!`] is in scope
//! in the modules declared after it.

/// Each item marked `#[inline(never)]`. Before an attribute macro (`#[circuit_breaker]`, ...)
/// it reaches the macro with the item, which puts it on the function it emits.
macro_rules! out_of_line {
    ($($item:item)*) => {
        $(
            #[inline(never)]
            $item
        )*
    };
}

/// What this variant appends to a criterion group's name.
#[allow(dead_code)] // not every bench binary names groups
pub(crate) const SUFFIX: &str = "/noinline";

/// A criterion group's name in this variant.
#[allow(dead_code)]
pub(crate) fn group(name: &str) -> String {
    format!("{name}{SUFFIX}")
}

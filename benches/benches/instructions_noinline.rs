//! `instructions` with every body and function `#[inline(never)]`, as real bodies (which do
//! I/O) are: see `instructions.rs` and `variant/noinline.rs`.

#[macro_use]
#[path = "variant/noinline.rs"]
mod variant;

mod awaiting;
mod common;
mod counted;
mod ours;
mod peers;

fn main() {
    counted::main();
}

#![allow(dead_code)]

use resilience as res;

#[derive(Debug)]
pub enum Error {
    Down,
    Rejected(resilience::Rejected),
}

impl From<resilience::Rejected> for Error {
    fn from(r: resilience::Rejected) -> Self {
        Error::Rejected(r)
    }
}

// Written through an alias without `crate = "res"`: the outer retry cannot tell that
// `res::circuit_breaker` is one of its own, so the breaker would end up outside the retry.
#[res::retry(max = 2)]
#[res::circuit_breaker(threshold = 3)]
async fn call() -> Result<(), Error> {
    Ok(())
}

fn main() {}

#![allow(dead_code)]

use resilience::circuit_breaker;

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

/// Classifies another type's errors: the wrong type for this function's `ignore_if`.
fn is_bad_request(code: &u16) -> bool {
    *code == 400
}

#[circuit_breaker(ignore_if = is_bad_request)]
async fn call() -> Result<(), Error> {
    Ok(())
}

fn main() {}

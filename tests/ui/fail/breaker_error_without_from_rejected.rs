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

#[derive(Debug)]
pub struct PlainError;

#[circuit_breaker]
async fn call() -> Result<(), PlainError> {
    Ok(())
}

fn main() {}

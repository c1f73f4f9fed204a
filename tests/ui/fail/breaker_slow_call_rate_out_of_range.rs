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

#[circuit_breaker(failure_rate = 0.5, slow_call = "2s", slow_call_rate = 1.5)]
async fn above() -> Result<(), Error> {
    Ok(())
}

#[circuit_breaker(failure_rate = 0.5, slow_call = "2s", slow_call_rate = 0.0)]
async fn zero() -> Result<(), Error> {
    Ok(())
}

fn main() {}

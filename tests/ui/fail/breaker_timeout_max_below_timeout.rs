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

#[circuit_breaker(timeout = "1m", timeout_max = "30s")]
async fn call() -> Result<(), Error> {
    Ok(())
}

#[circuit_breaker(timeout_max = "5s")]
async fn default_timeout() -> Result<(), Error> {
    Ok(())
}

fn main() {}

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

#[circuit_breaker(name = "hosts", key = host, shared)]
async fn call(host: &str) -> Result<(), Error> {
    let _ = host;
    Ok(())
}

fn main() {}

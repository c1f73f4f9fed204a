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

/// Displays, but a float field keeps it from deriving `Hash`.
pub struct Host(f64);

impl std::fmt::Display for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[circuit_breaker(key = host)]
async fn call(host: &Host) -> Result<(), Error> {
    let _ = host;
    Ok(())
}

fn main() {}

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

#[circuit_breaker(max_keys = 100)]
async fn call(user: u64) -> Result<(), Error> {
    let _ = user;
    Ok(())
}

fn main() {}

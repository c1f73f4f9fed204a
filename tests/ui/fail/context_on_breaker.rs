#![allow(dead_code)]

use resilience::{circuit_breaker, retry};

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

#[retry(max = 2)]
#[circuit_breaker(threshold = 3, context = attempt)]
async fn charge() -> Result<(), Error> {
    Ok(())
}

fn main() {}

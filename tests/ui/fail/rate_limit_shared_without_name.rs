#![allow(dead_code)]

use resilience::rate_limit;

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

#[rate_limit(rate = 10, shared)]
async fn call() -> Result<(), Error> {
    Ok(())
}

fn main() {}

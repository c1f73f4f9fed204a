#![allow(dead_code)]

use resilience::retry;

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

#[retry(max = 2, shared)]
async fn call() -> Result<(), Error> {
    Ok(())
}

fn main() {}

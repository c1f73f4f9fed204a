#![allow(dead_code)]

use resilience::bulkhead;

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

#[bulkhead(max = 2, max_wait = "0.5ns")]
async fn call() -> Result<(), Error> {
    Ok(())
}

fn main() {}

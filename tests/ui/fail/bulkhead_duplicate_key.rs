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

#[bulkhead(max = 2, max = 3)]
async fn call() -> Result<(), Error> {
    Ok(())
}

fn main() {}

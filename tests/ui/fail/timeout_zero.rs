#![allow(dead_code)]

use resilience::timeout;

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

#[timeout("0s")]
async fn call() -> Result<(), Error> {
    Ok(())
}

fn main() {}

#![allow(dead_code)]

use resilience::fallback;

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

async fn backup(_e: Error) -> Result<(), Error> {
    Ok(())
}

#[fallback(backup, backup)]
async fn call() -> Result<(), Error> {
    Ok(())
}

fn main() {}

#![allow(dead_code)]

use resilience::hedge;

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

#[hedge(max = 2)]
async fn call() -> Result<(), Error> {
    Ok(())
}

#[hedge(delay = "0s")]
async fn at_once() -> Result<(), Error> {
    Ok(())
}

fn main() {}

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

#[hedge(delay = "50ms", max = 0)]
async fn call() -> Result<(), Error> {
    Ok(())
}

#[hedge(delay = "50ms", max = 5)]
async fn too_many() -> Result<(), Error> {
    Ok(())
}

fn main() {}

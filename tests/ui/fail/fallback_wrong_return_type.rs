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

async fn backup(_id: u32, _e: Error) -> Result<String, Error> {
    Ok(String::new())
}

#[fallback(backup)]
async fn call(id: u32) -> Result<u32, Error> {
    Ok(id)
}

fn main() {}

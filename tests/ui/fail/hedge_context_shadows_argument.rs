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

#[hedge(delay = "p95", context = key)]
async fn get(key: String) -> Result<String, Error> {
    Ok(key)
}

fn main() {}

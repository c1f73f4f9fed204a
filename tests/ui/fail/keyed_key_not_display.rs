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

#[derive(Hash)]
pub struct Request {
    pub tenant: u32,
}

#[bulkhead(max = 2, key = req)]
async fn call(req: &Request) -> Result<(), Error> {
    let _ = req;
    Ok(())
}

fn main() {}

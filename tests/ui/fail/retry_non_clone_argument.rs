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

pub struct Connection;

#[retry(max = 2)]
async fn call(id: u32, conn: Connection) -> Result<(), Error> {
    let _ = (id, conn);
    Ok(())
}

fn main() {}

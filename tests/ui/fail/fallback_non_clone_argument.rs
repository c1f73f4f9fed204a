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

pub struct Connection;

async fn backup(_c: Connection, _e: Error) -> Result<(), Error> {
    Ok(())
}

#[fallback(backup)]
async fn call(conn: Connection) -> Result<(), Error> {
    let _ = conn;
    Ok(())
}

fn main() {}

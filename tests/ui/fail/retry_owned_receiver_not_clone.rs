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

impl Connection {
    #[retry(max = 2)]
    async fn call(self) -> Result<(), Error> {
        drop(self);
        Ok(())
    }
}

fn main() {}

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

pub struct Cache {
    value: u32,
}

impl Cache {
    #[retry(max = 2)]
    async fn value(&mut self) -> Result<&mut u32, Error> {
        Ok(&mut self.value)
    }
}

fn main() {}

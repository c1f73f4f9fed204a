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

pub struct Client {
    sent: u32,
}

impl Client {
    #[hedge(delay = "50ms")]
    async fn get(&mut self, key: u32) -> Result<u32, Error> {
        self.sent += 1;
        Ok(key)
    }
}

#[hedge(delay = "50ms")]
async fn fill(buffer: &mut Vec<u8>) -> Result<usize, Error> {
    buffer.push(1);
    Ok(buffer.len())
}

fn main() {}

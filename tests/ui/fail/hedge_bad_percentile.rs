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

#[hedge(delay = "p100")]
async fn above() -> Result<(), Error> {
    Ok(())
}

#[hedge(delay = "p99.99")]
async fn too_fine() -> Result<(), Error> {
    Ok(())
}

#[hedge(delay = "p40")]
async fn below() -> Result<(), Error> {
    Ok(())
}

#[hedge(delay = "p95ms")]
async fn garbled() -> Result<(), Error> {
    Ok(())
}

fn main() {}

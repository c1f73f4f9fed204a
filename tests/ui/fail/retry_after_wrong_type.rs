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

/// A predicate, not a hint: the wrong type for `retry_after`.
fn is_down(error: &Error) -> bool {
    matches!(error, Error::Down)
}

#[retry(retry_after = is_down)]
async fn call() -> Result<(), Error> {
    Ok(())
}

fn main() {}

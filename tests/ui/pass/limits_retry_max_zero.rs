//! `max = 0` is a single attempt: valid, so an operator's override can switch retries off too.

use resilience::{retry, Rejected};

#[derive(Debug)]
pub struct Error(pub Rejected);

impl From<Rejected> for Error {
    fn from(r: Rejected) -> Self {
        Error(r)
    }
}

#[retry(max = 0)]
pub async fn once() -> Result<u8, Error> {
    Ok(1)
}

fn main() {
    let _ = once();
}

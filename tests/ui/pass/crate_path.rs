//! `crate = "..."` for a renamed dependency.

extern crate resilience as res;

use res::{circuit_breaker, Rejected};

#[derive(Debug)]
pub struct Error(pub Rejected);

impl From<Rejected> for Error {
    fn from(r: Rejected) -> Self {
        Error(r)
    }
}

#[circuit_breaker(threshold = 1, crate = "res")]
pub async fn call() -> Result<u8, Error> {
    Ok(1)
}

mod nested {
    use super::Error;

    #[res::circuit_breaker(crate = "crate::res")]
    pub async fn call() -> Result<u8, Error> {
        Ok(2)
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        assert_eq!(call().await.unwrap(), 1);
        assert_eq!(nested::call().await.unwrap(), 2);
    });
}

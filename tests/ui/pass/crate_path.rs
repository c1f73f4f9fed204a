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

    /// A stack written through the renamed path: the outer attribute takes the inner one.
    #[res::retry(max = 2, base = "1ms", crate = "crate::res")]
    #[res::circuit_breaker(threshold = 1)]
    pub async fn stacked(fail: bool) -> Result<u8, Error> {
        if fail {
            Err(Error(super::Rejected::bulkhead_full("test", 1)))
        } else {
            Ok(3)
        }
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
        assert_eq!(nested::stacked(false).await.unwrap(), 3);
        // retry(breaker): the first failure opens the breaker, the retry stops at the open
        // circuit. Were the stack not taken whole, the breaker would wrap the retry instead
        // and see a single failure.
        let error = nested::stacked(true).await.unwrap_err();
        assert!(matches!(error.0, res::Rejected::CircuitOpen { .. }), "{error:?}");
    });
}

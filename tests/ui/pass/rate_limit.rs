//! `#[rate_limit]` alone, stacked with every other attribute in several orders, through the
//! crate path, and on methods of every receiver kind.

use std::sync::Arc;

use resilience::{bulkhead, circuit_breaker, fallback, rate_limit, retry, timeout, Rejected};

#[derive(Debug)]
pub enum Error {
    Down,
    Rejected(Rejected),
}

impl From<Rejected> for Error {
    fn from(r: Rejected) -> Self {
        Error::Rejected(r)
    }
}

#[rate_limit(rate = 100, per = "1s", burst = 10, max_wait = "2s", name = "github")]
pub async fn alone(x: u32) -> Result<u32, Error> {
    Ok(x)
}

async fn zero(_x: u32, _error: Error) -> Result<u32, Error> {
    Ok(0)
}

#[fallback(zero)]
#[retry(max = 2, base = "10ms")]
#[rate_limit(rate = 5, max_wait = "0s")]
#[circuit_breaker(threshold = 3)]
#[bulkhead(max = 2)]
#[timeout("1s")]
pub async fn stacked(x: u32) -> Result<u32, Error> {
    Ok(x)
}

#[rate_limit(rate = 5)]
#[fallback(zero)]
#[timeout("1s")]
#[bulkhead(max = 2)]
#[circuit_breaker(threshold = 3)]
#[retry(max = 2, base = "10ms")]
pub async fn reversed(x: u32) -> Result<u32, Error> {
    if x == 0 {
        return Err(Error::Down);
    }
    Ok(x)
}

#[resilience::rate_limit(rate = 5, crate = "::resilience")]
#[resilience::retry]
pub async fn by_path() -> anyhow::Result<u32> {
    Ok(1)
}

pub struct Client {
    calls: u32,
}

impl Client {
    #[rate_limit(rate = 10)]
    pub async fn by_ref(&self) -> Result<u32, Error> {
        Ok(self.calls)
    }

    #[retry(max = 1)]
    #[rate_limit(rate = 10, per = "1m")]
    pub async fn by_mut(&mut self) -> Result<u32, Error> {
        self.calls += 1;
        Ok(self.calls)
    }

    #[rate_limit(rate = 10, burst = 1)]
    pub async fn by_arc(self: Arc<Self>) -> Result<u32, Error> {
        Ok(self.calls)
    }

    #[rate_limit(rate = 10, name = "client")]
    pub async fn with_lifetime<'a>(&'a self, key: &'a str) -> Result<&'a str, Error> {
        Ok(key)
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        assert_eq!(alone(1).await.unwrap(), 1);
        assert_eq!(stacked(2).await.unwrap(), 2);
        assert_eq!(reversed(3).await.unwrap(), 3);
        assert_eq!(by_path().await.unwrap(), 1);
        let mut client = Client { calls: 0 };
        assert_eq!(client.by_mut().await.unwrap(), 1);
        assert_eq!(client.by_ref().await.unwrap(), 1);
        assert_eq!(client.with_lifetime("k").await.unwrap(), "k");
        assert_eq!(Arc::new(client).by_arc().await.unwrap(), 1);
    });
}

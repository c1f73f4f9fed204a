//! Every kind of receiver, with a breaker.

use std::sync::Arc;

use resilience::{circuit_breaker, Rejected};

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

pub struct Client {
    calls: u32,
}

impl Client {
    /// Docs and other attributes pass through.
    #[circuit_breaker(threshold = 2)]
    #[inline]
    pub async fn by_ref(&self, amount: u64) -> Result<u64, Error> {
        Ok(amount + u64::from(self.calls))
    }

    #[circuit_breaker]
    pub async fn by_mut(&mut self) -> Result<u32, Error> {
        self.calls += 1;
        Ok(self.calls)
    }

    #[circuit_breaker]
    pub async fn by_arc(self: Arc<Self>) -> Result<u32, Error> {
        Ok(self.calls)
    }

    #[circuit_breaker]
    pub async fn by_value(self) -> Result<u32, Error> {
        Ok(self.calls)
    }

    #[circuit_breaker(name = "client")]
    pub async fn with_lifetime<'a>(&'a self, key: &'a str) -> Result<&'a str, Error> {
        if key.is_empty() {
            return Err(Error::Down);
        }
        Ok(key)
    }
}

pub trait Service {
    fn call(&self) -> impl std::future::Future<Output = Result<u8, Error>> + Send;
}

impl Service for Client {
    #[circuit_breaker]
    async fn call(&self) -> Result<u8, Error> {
        Ok(1)
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut client = Client { calls: 0 };
        assert_eq!(client.by_mut().await.unwrap(), 1);
        assert_eq!(client.by_ref(1).await.unwrap(), 2);
        assert_eq!(client.with_lifetime("k").await.unwrap(), "k");
        assert_eq!(client.call().await.unwrap(), 1);
        let client = Arc::new(client);
        assert_eq!(client.clone().by_arc().await.unwrap(), 1);
        let client = Arc::try_unwrap(client).ok().unwrap();
        assert_eq!(client.by_value().await.unwrap(), 1);
    });
}

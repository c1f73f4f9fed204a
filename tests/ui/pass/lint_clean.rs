//! The expansion is warning-free in a crate that denies every warning.

#![deny(warnings)]
#![deny(clippy::all, clippy::pedantic)]

use resilience::{bulkhead, circuit_breaker, fallback, retry, timeout, Rejected};

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
    pub base: u64,
}

fn is_down(error: &Error) -> bool {
    matches!(error, Error::Down)
}

impl Client {
    #[allow(clippy::unused_async)] // a fallback is an async fn by contract
    async fn cached(&self, _amount: u64, _note: String, _error: Error) -> Result<u64, Error> {
        Ok(self.base)
    }

    /// Charges an amount.
    ///
    /// # Errors
    ///
    /// When the payment service is down.
    #[fallback(Self::cached)]
    #[retry(max = 2, base = "10ms", retry_if = is_down)]
    #[circuit_breaker(threshold = 3, timeout = "1s", failure_if = is_down)]
    #[bulkhead(max = 2, max_wait = "10ms", queue = 4)]
    #[timeout("1s")]
    pub async fn charge(&self, amount: u64, mut note: String) -> Result<u64, Error> {
        note.push('!');
        if note.is_empty() {
            return Err(Error::Down);
        }
        Ok(self.base + amount)
    }

    /// Counts.
    ///
    /// # Errors
    ///
    /// Never.
    #[retry]
    #[circuit_breaker(failure_rate = 0.5, window = 10, min_calls = 5)]
    pub async fn bump(&mut self) -> Result<u64, Error> {
        self.base += 1;
        Ok(self.base)
    }

    /// An `impl Trait` argument and an unused one.
    ///
    /// # Errors
    ///
    /// Never.
    #[retry(jitter = "decorrelated")]
    pub async fn show(&self, value: impl std::fmt::Display + Clone, _unused: u8) -> Result<String, Error> {
        Ok(format!("{value}{}", self.base))
    }
}

/// # Errors
///
/// Never.
#[circuit_breaker(name = "free")]
pub async fn free(x: u32) -> anyhow::Result<u32> {
    Ok(x)
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut client = Client { base: 1 };
        assert_eq!(client.charge(2, String::new()).await.unwrap(), 3);
        assert_eq!(client.bump().await.unwrap(), 2);
        assert_eq!(client.show(5, 0).await.unwrap(), "52");
        assert_eq!(free(1).await.unwrap(), 1);
    });
}

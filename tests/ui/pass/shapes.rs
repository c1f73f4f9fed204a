//! Shapes of functions that compile as plain `async fn`s and must compile, lint-clean, under
//! the attributes: no bound added, no valid body broken.

#![deny(warnings, clippy::all, clippy::pedantic)]
#![allow(missing_docs)]

use std::cell::Cell;
use std::fmt::Display;
use std::sync::Arc;

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

fn assert_send<T: Send>(value: T) -> T {
    value
}

/// `Send` but not `Sync`.
#[derive(Clone, Default)]
pub struct Handle {
    hits: Cell<u32>,
}

pub trait Backend: Send + Sync {
    fn id(&self) -> u32;
}

struct Memory;

impl Backend for Memory {
    fn id(&self) -> u32 {
        7
    }
}

#[retry(max = 2, base = "1ms")]
pub async fn owned_not_sync(handle: Handle, count: Cell<u32>) -> Result<u32, Error> {
    handle.hits.set(handle.hits.get() + 1);
    tokio::task::yield_now().await;
    Ok(handle.hits.get() + count.get())
}

#[fallback(backup)]
pub async fn fallback_not_sync(handle: Handle) -> Result<u32, Error> {
    tokio::task::yield_now().await;
    Ok(handle.hits.get())
}

#[allow(clippy::unused_async)]
async fn backup(_handle: Handle, _error: Error) -> Result<u32, Error> {
    Ok(0)
}

#[retry(max = 1, base = "1ms")]
pub async fn generic_send<T: Clone + Send + Display>(value: T) -> Result<String, Error> {
    tokio::task::yield_now().await;
    Ok(value.to_string())
}

#[retry(max = 1, base = "1ms")]
pub async fn mutable_buffer(buffer: &mut Vec<u8>, byte: u8) -> Result<usize, Error> {
    buffer.push(byte);
    tokio::task::yield_now().await;
    Ok(buffer.len())
}

#[retry(max = 1, base = "1ms")]
#[circuit_breaker]
pub async fn unsized_tail() -> Result<Arc<dyn Backend>, Error> {
    Ok(Arc::new(Memory))
}

#[retry(max = 1, base = "1ms")]
pub async fn unsized_return(early: bool) -> Result<Box<dyn Display + Send>, Error> {
    if early {
        return Ok(Box::new(1_u8));
    }
    Ok(Box::new("two"))
}

#[timeout("1s")]
pub async fn inner_attributes(value: u32) -> Result<u32, Error> {
    #![allow(clippy::cast_possible_truncation)]
    let small = u64::from(value) as u16;
    Ok(u32::from(small))
}

/// Bulkheads only are written around the block itself: the same shapes hold there.
#[bulkhead(max = 1)]
pub async fn slot_unsized_return(early: bool, handle: Handle) -> Result<Box<dyn Display + Send>, Error> {
    #![allow(clippy::needless_pass_by_value)]
    handle.hits.set(1);
    if early {
        return Ok(Box::new(handle.hits.get()));
    }
    tokio::task::yield_now().await;
    Ok(Box::new("two"))
}

#[bulkhead(max = 1)]
pub async fn slot_unsized_tail() -> Result<Arc<dyn Backend>, Error> {
    Ok(Arc::new(Memory))
}

pub struct Client {
    handle: Handle,
    calls: u32,
}

impl Client {
    #[retry(max = 2, base = "1ms")]
    #[bulkhead(max = 1)]
    pub async fn mut_not_sync(&mut self) -> Result<u32, Error> {
        self.calls += 1;
        self.handle.hits.set(self.calls);
        tokio::task::yield_now().await;
        Ok(self.handle.hits.get())
    }

    #[bulkhead(max = 1)]
    pub async fn mut_in_slot(&mut self) -> Result<u32, Error> {
        self.calls += 1;
        tokio::task::yield_now().await;
        Ok(self.calls)
    }

    #[fallback(Self::cached)]
    pub async fn mut_with_fallback(&mut self) -> Result<u32, Error> {
        self.calls += 1;
        tokio::task::yield_now().await;
        Err(Error::Down)
    }

    #[allow(clippy::unused_async)]
    async fn cached(&mut self, _error: Error) -> Result<u32, Error> {
        Ok(self.calls)
    }
}

pub struct Service {
    name: String,
}

impl Service {
    #[retry(max = 2, base = "1ms")]
    pub async fn spawn_self(self: Arc<Self>) -> Result<usize, Error> {
        let task = tokio::spawn(async move { self.name.len() });
        task.await.map_err(|_| Error::Down)
    }

    #[fallback(Self::fallback_arc)]
    pub async fn arc_with_fallback(self: Arc<Self>) -> Result<usize, Error> {
        let task = tokio::spawn(async move { self.name.len() });
        task.await.map_err(|_| Error::Down)
    }

    #[allow(clippy::unused_async)]
    async fn fallback_arc(self: Arc<Self>, _error: Error) -> Result<usize, Error> {
        Ok(self.name.len())
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let handle = Handle::default();
        assert_eq!(assert_send(owned_not_sync(handle.clone(), Cell::new(1))).await.unwrap(), 2);
        assert_eq!(assert_send(fallback_not_sync(handle)).await.unwrap(), 0);
        assert_eq!(assert_send(generic_send(5_u8)).await.unwrap(), "5");
        let mut buffer = Vec::new();
        assert_eq!(assert_send(mutable_buffer(&mut buffer, 1)).await.unwrap(), 1);
        assert_eq!(unsized_tail().await.unwrap().id(), 7);
        assert_eq!(unsized_return(true).await.unwrap().to_string(), "1");
        assert_eq!(unsized_return(false).await.unwrap().to_string(), "two");
        assert_eq!(inner_attributes(3).await.unwrap(), 3);
        let early = assert_send(slot_unsized_return(true, Handle::default()));
        assert_eq!(early.await.unwrap().to_string(), "1");
        assert_eq!(slot_unsized_return(false, Handle::default()).await.unwrap().to_string(), "two");
        assert_eq!(slot_unsized_tail().await.unwrap().id(), 7);
        let mut client = Client { handle: Handle::default(), calls: 0 };
        assert_eq!(assert_send(client.mut_not_sync()).await.unwrap(), 1);
        assert_eq!(assert_send(client.mut_with_fallback()).await.unwrap(), 2);
        assert_eq!(assert_send(client.mut_in_slot()).await.unwrap(), 3);
        let service = Arc::new(Service { name: "svc".into() });
        assert_eq!(assert_send(service.clone().spawn_self()).await.unwrap(), 3);
        assert_eq!(assert_send(service.arc_with_fallback()).await.unwrap(), 3);
    });
}

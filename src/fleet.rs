//! Fleet-wide state through Redis: one breaker, one quota and one retry budget for every
//! replica of a service (the `fleet` feature).
//!
//! Link the process once, at startup, and declare instances `shared` (with a `name`):
//!
//! ```no_run
//! use resilience::{circuit_breaker, fleet, Rejected};
//!
//! #[circuit_breaker(name = "payment", shared, threshold = 5)]
//! async fn charge(amount: u64) -> Result<u64, Rejected> { Ok(amount) }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), fleet::FleetError> {
//!     // Unreachable is not an error: the link starts down and is retried in the background.
//!     fleet::connect("redis://127.0.0.1:6379", fleet::FleetOptions::default()).await?;
//!     charge(42).await.ok();
//!     println!("linked: {}", fleet::status().linked);
//!     Ok(())
//! }
//! ```
//!
//! A trip in any replica opens the breaker in every replica within `sync` (pushed through
//! pub/sub); the fleet admits `half_open` trials in total through a Redis lease with
//! expiry; a close propagates the same way. A `shared` retry budget counts the fleet's calls
//! and retries, with one reserve for the whole fleet. No call waits on Redis while its local state
//! admits it, and when Redis is down, slow or restarted every replica keeps protecting with
//! its local state and relinks by itself. The design, the consistency model, what happens
//! on relink and the key layout (`<prefix>:<name>#...`) are documented once, in the runtime
//! crate's `fleet` module.
//!
//! Without this feature, or without [`connect`], `shared` instances are simply local, so a
//! library can declare them `shared` once and leave the choice to the application.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use resilience::fleet;
//!
//! // A malformed URL is an error; nothing panics.
//! let error = fleet::connect("http://example.com", fleet::FleetOptions::default()).await;
//! assert!(matches!(error, Err(fleet::FleetError::Url(_))));
//! assert!(!fleet::status().linked);
//! # }
//! ```

pub use resilience_runtime::fleet::{
    connect, status, Fleet, FleetError, FleetOptions, FleetStatus,
};

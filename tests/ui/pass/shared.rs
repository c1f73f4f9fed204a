//! `shared` (fleet-wide state) compiles in every build: without the `fleet` feature, or
//! without `resilience::fleet::connect`, the instances are local.

use resilience::{circuit_breaker, rate_limit, retry, Rejected};

#[circuit_breaker(name = "payment", shared, threshold = 5)]
pub async fn charge(amount: u64) -> Result<u64, Rejected> {
    Ok(amount)
}

#[rate_limit(name = "github", rate = 5000, per = "1h", shared)]
pub async fn github() -> Result<(), Rejected> {
    Ok(())
}

#[retry(shared, name = "payments", max = 2)]
#[circuit_breaker(shared, name = "refunds")]
pub async fn refund(amount: u64) -> Result<u64, Rejected> {
    Ok(amount)
}

fn main() {}

#![allow(dead_code)]

use resilience::circuit_breaker;

type Count = u32;

#[circuit_breaker]
async fn call() -> Count {
    1
}

fn main() {}

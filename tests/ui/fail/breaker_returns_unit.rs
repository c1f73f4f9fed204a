#![allow(dead_code)]

use resilience::circuit_breaker;

#[circuit_breaker]
async fn call() {}

fn main() {}

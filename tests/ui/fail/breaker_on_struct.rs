#![allow(dead_code)]

use resilience::circuit_breaker;

#[circuit_breaker]
pub struct Client;

fn main() {}

#![allow(dead_code)]

use resilience::timeout;

#[timeout("2s")]
async fn call() {}

fn main() {}

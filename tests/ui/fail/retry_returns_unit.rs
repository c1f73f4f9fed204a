#![allow(dead_code)]

use resilience::retry;

#[retry(max = 2)]
async fn call() {}

fn main() {}

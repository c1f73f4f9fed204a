#![allow(dead_code)]

use resilience::bulkhead;

#[bulkhead(max = 2)]
async fn call() {}

fn main() {}

#![allow(dead_code)]

use resilience::bulkhead;

type Count = u32;

#[bulkhead(max = 2)]
async fn call() -> Count {
    1
}

fn main() {}

#![allow(dead_code)]

use resilience::bulkhead;

#[derive(Debug)]
pub struct PlainError;

#[bulkhead(max = 2)]
async fn call() -> Result<(), PlainError> {
    Ok(())
}

fn main() {}

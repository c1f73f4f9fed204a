//! `#[retry(context = name)]`: the attempt number and a call id shared by every attempt, so a
//! body can send an idempotency key and the server can drop duplicates.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

use common::ServiceError;
use resilience::{retry, CallId};

#[tokio::test(start_paused = true)]
async fn attempts_are_numbered_from_zero_and_share_one_call_id() {
    static SEEN: Mutex<Vec<(u32, bool, CallId)>> = Mutex::new(Vec::new());
    #[retry(max = 3, base = "10ms", context = attempt)]
    async fn call() -> Result<(), ServiceError> {
        SEEN.lock()
            .unwrap()
            .push((attempt.number(), attempt.is_retry(), attempt.call_id()));
        Err(ServiceError::Unavailable)
    }

    call().await.unwrap_err();
    let first = SEEN.lock().unwrap().clone();
    let numbers: Vec<(u32, bool)> = first.iter().map(|(n, r, _)| (*n, *r)).collect();
    assert_eq!(numbers, [(0, false), (1, true), (2, true), (3, true)]);
    let ids: HashSet<CallId> = first.iter().map(|(_, _, id)| *id).collect();
    assert_eq!(ids.len(), 1, "every attempt of one call has the same id");

    call().await.unwrap_err();
    let second = SEEN.lock().unwrap()[4..].to_vec();
    assert_eq!(second.len(), 4, "the second call ran four attempts too");
    assert_eq!(second[0].0, 0, "numbering starts over");
    assert_ne!(second[0].2, first[0].2, "another call, another id");
}

#[tokio::test(start_paused = true)]
async fn ten_thousand_calls_get_ten_thousand_ids() {
    #[retry(max = 0, context = ctx)]
    async fn call() -> Result<CallId, ServiceError> {
        Ok(ctx.call_id())
    }

    let mut ids = HashSet::new();
    for _ in 0..10_000 {
        ids.insert(call().await.unwrap());
    }
    assert_eq!(ids.len(), 10_000);
}

/// A payment service that drops duplicate charges by idempotency key, and whose first answer
/// is lost on the way back: the charge happened, the client saw an error.
struct Payments {
    charged: Mutex<BTreeMap<String, u64>>,
    answers: Mutex<u32>,
}

impl Payments {
    fn charge(&self, key: &str, amount: u64) -> Result<String, ServiceError> {
        let mut charged = self.charged.lock().unwrap();
        charged.entry(key.to_owned()).or_insert(amount);
        let mut answers = self.answers.lock().unwrap();
        *answers += 1;
        if *answers == 1 {
            return Err(ServiceError::Unavailable); // the response was lost
        }
        Ok(format!("receipt for {key}"))
    }
}

static PAYMENTS: Payments = Payments {
    charged: Mutex::new(BTreeMap::new()),
    answers: Mutex::new(0),
};

#[retry(max = 2, base = "50ms", context = attempt)]
async fn charge(amount: u64) -> Result<String, ServiceError> {
    PAYMENTS.charge(&attempt.call_id().to_string(), amount)
}

#[tokio::test(start_paused = true)]
async fn a_retried_charge_after_a_lost_response_is_charged_once() {
    let receipt = charge(42).await.unwrap();
    assert_eq!(
        *PAYMENTS.answers.lock().unwrap(),
        2,
        "two attempts reached the service"
    );
    let charged = PAYMENTS.charged.lock().unwrap();
    assert_eq!(
        charged.len(),
        1,
        "one charge: the retry carried the same key"
    );
    assert_eq!(charged.values().sum::<u64>(), 42);
    assert!(receipt.ends_with(charged.keys().next().unwrap()));
}

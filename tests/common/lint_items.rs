// Included by `tests/lint_clean.rs` (checked by clippy in CI) and `tests/ui/pass/lint_clean.rs`
// (compiled by trybuild): every attribute and parameter, in a crate that denies all warnings.

use resilience::{
    bulkhead, circuit_breaker, fallback, hedge, rate_limit, retry, timeout, Rejected,
};

/// The service's errors.
#[derive(Debug)]
pub enum Error {
    /// The service is down.
    Down,
    /// A resilience layer refused the call.
    Rejected(Rejected),
}

impl From<Rejected> for Error {
    fn from(r: Rejected) -> Self {
        Error::Rejected(r)
    }
}

/// A client.
pub struct Client {
    /// A base amount.
    pub base: u64,
}

fn is_down(error: &Error) -> bool {
    matches!(error, Error::Down)
}

fn is_rejected(error: &Error) -> bool {
    matches!(error, Error::Rejected(_))
}

impl Client {
    #[allow(clippy::unused_async)] // a fallback is an async fn by contract
    async fn cached(&self, _amount: u64, _note: String, _error: Error) -> Result<u64, Error> {
        Ok(self.base)
    }

    /// Charges an amount.
    ///
    /// # Errors
    ///
    /// When the payment service is down.
    #[fallback(Self::cached)]
    #[retry(max = 2, base = "10ms", retry_if = is_down)]
    #[circuit_breaker(threshold = 3, timeout = "1s", failure_if = is_down)]
    #[rate_limit(rate = 100, per = "1s", burst = 10, max_wait = "1s", name = "lint-quota")]
    #[bulkhead(max = 2, max_wait = "10ms", queue = 4)]
    #[timeout("1s")]
    pub async fn charge(&self, amount: u64, mut note: String) -> Result<u64, Error> {
        note.push('!');
        if note.is_empty() {
            return Err(Error::Down);
        }
        Ok(self.base + amount)
    }

    /// Counts.
    ///
    /// # Errors
    ///
    /// Never.
    #[retry]
    #[circuit_breaker(
        failure_rate = 0.5,
        window = 10,
        min_calls = 5,
        slow_call = "2s",
        slow_call_rate = 0.8,
        ignore_if = is_rejected
    )]
    pub async fn bump(&mut self) -> Result<u64, Error> {
        self.base += 1;
        Ok(self.base)
    }

    /// An `impl Trait` argument and an unused one.
    ///
    /// # Errors
    ///
    /// Never.
    #[retry(jitter = "decorrelated", context = attempt)]
    pub async fn show(
        &self,
        value: impl std::fmt::Display + Clone,
        _unused: u8,
    ) -> Result<String, Error> {
        debug_assert!(!attempt.is_retry() || attempt.number() > 0);
        Ok(format!("{value}{}", self.base))
    }
}

/// # Errors
///
/// Never.
#[circuit_breaker(name = "free", slow_call = "250ms")]
pub async fn free(x: u32) -> anyhow::Result<u32> {
    Ok(x)
}

/// # Errors
///
/// Never.
#[retry(max = 1)]
#[hedge(delay = "p99.9", max = 2, budget = 0.05, context = attempt, name = "lint-hedge")]
#[bulkhead(max = 4)]
pub async fn hedged(key: String, mut scratch: Vec<u8>, _unused: u8) -> anyhow::Result<usize> {
    scratch.push(1);
    debug_assert!(attempt.hedge() <= 2);
    Ok(key.len() + scratch.len())
}

/// Keyed instances: one per host, tenant and user, stacked under a retry.
///
/// # Errors
///
/// Never.
#[retry(max = 1)]
#[circuit_breaker(threshold = 2, key = host, max_keys = 100)]
#[bulkhead(max = 4, key = tenant)]
#[rate_limit(rate = 10, key = user, name = "lint-keyed")]
pub async fn keyed(host: &str, tenant: String, user: u64) -> Result<usize, Error> {
    Ok(host.len() + tenant.len() + usize::from(user > 0))
}

/// A body on one line, as users write short ones: the expansion adds no "unnecessary braces".
///
/// # Errors
///
/// Never.
#[rustfmt::skip]
#[retry]
#[timeout("1s")]
pub async fn one_line(x: u32) -> Result<u32, Error> { Ok(x) }

/// Bulkheads only, written around the body itself: a `mut` argument, an unused one, an early
/// return, a `?`, and a one-line tail (no "unnecessary braces").
///
/// # Errors
///
/// When `text` is not a number.
#[bulkhead(max = 4)]
#[bulkhead(max = 2, name = "lint-slots")]
pub async fn slots(text: &str, mut scratch: Vec<u8>, _unused: u8) -> anyhow::Result<usize> {
    scratch.push(1);
    if text.is_empty() {
        return Ok(scratch.len());
    }
    let number: usize = text.parse()?;
    Ok(number + scratch.len())
}

/// # Errors
///
/// Never.
#[rustfmt::skip]
#[bulkhead(max = 1)]
pub async fn one_slot(x: u32) -> Result<u32, Error> { Ok(x) }

/// A body that never finishes, with bulkheads only: nothing after it is "unreachable" and
/// the diverging tail is no "diverging sub-expression".
///
/// # Errors
///
/// Never: it panics.
///
/// # Panics
///
/// Always.
#[bulkhead(max = 1)]
#[allow(clippy::unused_async)]
pub async fn always_panics(x: u32) -> Result<u32, Error> {
    panic!("refused {x}")
}

/// # Errors
///
/// Never: it never returns.
#[bulkhead(max = 1)]
pub async fn forever() -> Result<u32, Error> {
    loop {
        tokio::task::yield_now().await;
    }
}

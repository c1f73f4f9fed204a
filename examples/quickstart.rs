//! Quick start: a payment client that keeps working while its payment service misbehaves.
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! A simulated payment service (in process, no network) is healthy, then fails, then recovers,
//! then slows down. A `PaymentClient` calls it through `#[retry]`, `#[circuit_breaker]`,
//! `#[bulkhead]`, `#[timeout]` and `#[fallback]`, and emails receipts through a quota-limited
//! API with `#[rate_limit]`. Every call prints one line: when it finished, its number, its
//! outcome, how long it took and what happened. The whole story takes about four and a half
//! seconds of real time; a summary counts the outcomes at the end.
//!
//! Colour is used when stdout is a terminal and `NO_COLOR` is not set.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io::IsTerminal as _;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use resilience::{
    bulkhead, circuit_breaker, fallback, rate_limit, retry, timeout, CallId, Rejected,
};
use tokio::sync::RwLock;
use tokio::time::{sleep, sleep_until, Instant};

// ---------------------------------------------------------------------------------------------
// The client: this is the part to copy.
// ---------------------------------------------------------------------------------------------

/// Everything a call to the payment service can end with.
#[derive(Debug, thiserror::Error)]
enum PaymentError {
    /// The service is down: worth retrying, and a sign of an outage.
    #[error("payment service unavailable (503)")]
    Unavailable,
    /// The service answered: the card was declined. Retrying will not change that.
    #[error("card declined")]
    Declined,
    /// A resilience layer refused the call or cut it off.
    #[error(transparent)]
    Rejected(#[from] Rejected),
}

impl PaymentError {
    /// Errors that say the service is in trouble: retry them, and count them in the breaker.
    /// A declined card is an answer from a healthy service, so it is neither.
    fn is_outage(&self) -> bool {
        matches!(self, Self::Unavailable)
    }
}

/// One charge; `id` is its number on the timeline.
struct Charge {
    id: u32,
    card: &'static str,
    cents: u64,
}

struct Receipt {
    number: u32,
}

struct Rate {
    value: f64,
    source: Source,
}

/// Where an exchange rate came from.
enum Source {
    Live,
    /// The last good value, served by the fallback because the live call failed.
    Cache {
        age: Duration,
        because: PaymentError,
    },
}

struct PaymentClient {
    service: PaymentService,
    /// The last good exchange rate per currency, and when it was fetched.
    rates: RwLock<HashMap<&'static str, (f64, Instant)>>,
}

impl PaymentClient {
    fn new(service: PaymentService) -> Self {
        Self {
            service,
            rates: RwLock::new(HashMap::new()),
        }
    }

    /// Charges a card.
    ///
    /// Read the attributes top down, outermost first: retry (up to 2 more attempts, 50ms then
    /// 100ms apart) around a circuit breaker (open after 3 outages in a row, for 2s) around a
    /// bulkhead (2 charges at a time; wait at most 100ms for a slot).
    ///
    /// Charging a card is not idempotent: a retry after a lost response would charge twice.
    /// `context = attempt` gives the body the call's id, the same on every attempt, sent as
    /// the idempotency key so the service drops the duplicate.
    #[retry(max = 2, base = "50ms", jitter = "none", retry_if = PaymentError::is_outage, context = attempt)]
    #[circuit_breaker(threshold = 3, timeout = "2s", failure_if = PaymentError::is_outage)]
    #[bulkhead(max = 2, max_wait = "100ms")]
    async fn charge(&self, charge: &Charge) -> Result<Receipt, PaymentError> {
        self.service.charge(charge, attempt.call_id()).await
    }

    /// Today's exchange rate for `currency`: given up after 300ms, and answered from the last
    /// good value when the live call fails.
    #[fallback(Self::cached_rate)]
    #[timeout("300ms")]
    async fn exchange_rate(&self, currency: &'static str) -> Result<Rate, PaymentError> {
        let value = self.service.exchange_rate(currency).await?;
        let fetched = Instant::now();
        self.rates.write().await.insert(currency, (value, fetched));
        Ok(Rate {
            value,
            source: Source::Live,
        })
    }

    /// Emails a receipt through a third-party API whose quota is 5 requests per second, 2 at
    /// once: a caller waits up to 300ms for its turn, and is told at once, with the time to
    /// come back, when its turn would come later.
    #[rate_limit(rate = 5, per = "1s", burst = 2, max_wait = "300ms")]
    async fn email_receipt(&self, receipt: u32) -> Result<(), PaymentError> {
        self.service.email(receipt).await
    }

    /// The fallback: same arguments, plus the error. Nothing cached? Then the error stands.
    async fn cached_rate(
        &self,
        currency: &'static str,
        error: PaymentError,
    ) -> Result<Rate, PaymentError> {
        match self.rates.read().await.get(currency) {
            Some(&(value, fetched)) => Ok(Rate {
                value,
                source: Source::Cache {
                    age: fetched.elapsed(),
                    because: error,
                },
            }),
            None => Err(error),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The story.
// ---------------------------------------------------------------------------------------------

const GOOD_CARD: &str = "4242 4242 4242 4242";
const DECLINED_CARD: &str = "4000 0000 0000 0002";

// One thread is plenty: concurrent calls below are futures joined in this task, and they run
// in the same order on every run.
#[tokio::main(flavor = "current_thread")]
async fn main() {
    let client = PaymentClient::new(PaymentService::new());
    let timeline = Timeline::new();
    timeline.header();

    timeline.section("1. healthy: calls go through, a one-off glitch is retried");
    timeline.charge(&client, GOOD_CARD, 12_00).await;
    timeline.charge(&client, DECLINED_CARD, 99_00).await;
    timeline.note("a decline is an answer, not an outage: not retried, a success to the breaker");
    client.service.drop_next(1);
    timeline.event("the service drops the next request");
    timeline.charge(&client, GOOD_CARD, 30_00).await;
    client.service.lose_next_response();
    timeline.event("the service charges the next request, but its answer is lost");
    timeline.charge(&client, GOOD_CARD, 18_00).await;
    let id = timeline.last_call();
    let charged = client.service.times_charged(id);
    timeline.note(&format!(
        "call {id} reached the service {} times and charged the card {charged} time: the retry \
         sent the same idempotency key, and the service dropped the duplicate",
        client.service.runs(id)
    ));
    assert_eq!(charged, 1, "a retried charge must not charge twice");
    timeline.rate(&client, "EUR").await;

    timeline.at(250).await;
    timeline.section("2. the service fails: the breaker opens");
    client.service.go_down();
    timeline.event("the service goes down: every request is refused (503)");
    timeline.charge(&client, GOOD_CARD, 45_00).await;
    timeline.note("3 attempts, 3 outages in a row: the breaker is now open");

    timeline.section("3. open: calls are rejected without reaching the service");
    timeline.charge(&client, GOOD_CARD, 45_00).await;
    sleep(Duration::from_secs(1)).await;
    client.service.recover();
    timeline.event("the service is back up, but the breaker cannot know that yet");
    let error = timeline.charge(&client, GOOD_CARD, 45_00).await;
    // A caller can wait exactly as long as the open breaker says, instead of guessing.
    if let Some(PaymentError::Rejected(Rejected::CircuitOpen {
        retry_after: Some(wait),
        ..
    })) = error
    {
        timeline.note(&format!(
            "waiting the {} the breaker asked for",
            countdown(wait)
        ));
        sleep(wait).await;
    }

    timeline.section("4. half-open: one trial, the breaker closes");
    tokio::join!(
        timeline.charge(&client, GOOD_CARD, 45_00),
        timeline.charge_after(10, &client, GOOD_CARD, 19_00),
    );
    timeline.charge(&client, GOOD_CARD, 19_00).await;
    timeline.note("the first call was the trial, the second was turned away; the trial closed it");

    timeline.at(2_700).await;
    timeline.section("5. a burst: the bulkhead holds 2 at a time");
    client.service.slow_down(Duration::from_millis(500));
    timeline.event("the service slows down: 500ms per request");
    tokio::join!(
        timeline.charge_after(0, &client, GOOD_CARD, 5_00),
        timeline.charge_after(10, &client, GOOD_CARD, 6_00),
        timeline.charge_after(20, &client, GOOD_CARD, 7_00),
        timeline.charge_after(30, &client, GOOD_CARD, 8_00),
    );
    timeline.note("2 ran at once; the other 2 waited 100ms for a slot on each of 3 attempts");

    timeline.at(3_300).await;
    timeline.section("6. too slow: the timeout cuts calls off, the fallback answers from cache");
    timeline.rate(&client, "EUR").await;
    timeline.rate(&client, "GBP").await;

    timeline.at(4_000).await;
    timeline.section("7. a quota: the email API takes 5 per second, 2 at once");
    let emails = tokio::join!(
        timeline.email(&client, 1005),
        timeline.email(&client, 1006),
        timeline.email(&client, 1007),
        timeline.email(&client, 1008),
        timeline.email(&client, 1009),
    );
    let refused: Vec<u32> = [emails.0, emails.1, emails.2, emails.3, emails.4]
        .into_iter()
        .flatten()
        .collect();
    timeline.note("2 went at once, the third waited its turn; the rest would have waited too long");
    if let Some(free) = timeline.permit_free_at() {
        timeline.note(&format!(
            "the refused two come back at {}, when the limiter said a permit is free",
            seconds(free - timeline.start)
        ));
        sleep_until(free).await;
    }
    for receipt in refused {
        timeline.email(&client, receipt).await;
    }

    timeline.summary(&client.service);
}

// ---------------------------------------------------------------------------------------------
// The simulated payment service.
// ---------------------------------------------------------------------------------------------

/// The payment service, in process. `main` decides how healthy it is.
struct PaymentService {
    health: Mutex<Health>,
    /// Requests received per charge id: how often each call's body ran.
    runs: Mutex<HashMap<u32, u32>>,
    /// Receipts by idempotency key: a request with a key seen before is a duplicate.
    receipts: Mutex<HashMap<CallId, u32>>,
    /// Cards actually charged, per charge id.
    charged: Mutex<HashMap<u32, u32>>,
    requests: AtomicU32,
    charging: AtomicU32,
    most_charging: AtomicU32,
}

struct Health {
    latency: Duration,
    down: bool,
    drop_next: u32,
    lose_next_response: bool,
}

impl PaymentService {
    const LATENCY: Duration = Duration::from_millis(20);

    fn new() -> Self {
        Self {
            health: Mutex::new(Health {
                latency: Self::LATENCY,
                down: false,
                drop_next: 0,
                lose_next_response: false,
            }),
            runs: Mutex::new(HashMap::new()),
            receipts: Mutex::new(HashMap::new()),
            charged: Mutex::new(HashMap::new()),
            requests: AtomicU32::new(0),
            charging: AtomicU32::new(0),
            most_charging: AtomicU32::new(0),
        }
    }

    fn drop_next(&self, requests: u32) {
        self.health.lock().unwrap().drop_next = requests;
    }

    fn go_down(&self) {
        self.health.lock().unwrap().down = true;
    }

    fn recover(&self) {
        *self.health.lock().unwrap() = Health {
            latency: Self::LATENCY,
            down: false,
            drop_next: 0,
            lose_next_response: false,
        };
    }

    /// The next charge goes through, but its answer never reaches the client.
    fn lose_next_response(&self) {
        self.health.lock().unwrap().lose_next_response = true;
    }

    /// How many times the charge with this id took money from the card.
    fn times_charged(&self, id: u32) -> u32 {
        self.charged.lock().unwrap().get(&id).copied().unwrap_or(0)
    }

    fn slow_down(&self, latency: Duration) {
        self.health.lock().unwrap().latency = latency;
    }

    /// How many times the charge with this id reached the service.
    fn runs(&self, id: u32) -> u32 {
        self.runs.lock().unwrap().get(&id).copied().unwrap_or(0)
    }

    /// Takes a request: refused at once while the service is down (or dropping requests),
    /// otherwise answered after the current latency.
    async fn receive(&self) -> Result<(), PaymentError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let (latency, refused) = {
            let mut health = self.health.lock().unwrap();
            let dropped = health.drop_next > 0;
            health.drop_next = health.drop_next.saturating_sub(1);
            (health.latency, health.down || dropped)
        };
        if refused {
            return Err(PaymentError::Unavailable);
        }
        sleep(latency).await;
        Ok(())
    }

    /// Charges once per idempotency key: a repeated key gets the first receipt back.
    async fn charge(&self, charge: &Charge, key: CallId) -> Result<Receipt, PaymentError> {
        *self.runs.lock().unwrap().entry(charge.id).or_default() += 1;
        let charging = self.charging.fetch_add(1, Ordering::Relaxed) + 1;
        self.most_charging.fetch_max(charging, Ordering::Relaxed);
        let answer = self.receive().await;
        self.charging.fetch_sub(1, Ordering::Relaxed);
        answer?;
        if charge.card == DECLINED_CARD {
            return Err(PaymentError::Declined);
        }
        let number = *self.receipts.lock().unwrap().entry(key).or_insert_with(|| {
            *self.charged.lock().unwrap().entry(charge.id).or_default() += 1;
            1000 + charge.id
        });
        let lost = std::mem::take(&mut self.health.lock().unwrap().lose_next_response);
        if lost {
            return Err(PaymentError::Unavailable);
        }
        Ok(Receipt { number })
    }

    /// The email API: answers at once; its quota is the client's to respect.
    #[allow(clippy::unused_async)] // a network call in real life
    async fn email(&self, _receipt: u32) -> Result<(), PaymentError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    async fn exchange_rate(&self, currency: &str) -> Result<f64, PaymentError> {
        self.receive().await?;
        Ok(match currency {
            "EUR" => 0.9231,
            "GBP" => 0.7874,
            _ => 1.0,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The timeline: one line per call, and a tally.
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy)]
enum Outcome {
    Ok,
    Error,
    CircuitOpen,
    BulkheadFull,
    TimedOut,
    RateLimited,
    Fallback,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Error => "error",
            Self::CircuitOpen => "circuit open",
            Self::BulkheadFull => "bulkhead full",
            Self::TimedOut => "timed out",
            Self::RateLimited => "rate limited",
            Self::Fallback => "fallback",
        }
    }

    /// The ANSI colour of the label.
    fn colour(self) -> &'static str {
        match self {
            Self::Ok => "32",                                                // green
            Self::Error => "31",                                             // red
            Self::CircuitOpen => "35",                                       // magenta
            Self::BulkheadFull | Self::TimedOut | Self::RateLimited => "33", // yellow
            Self::Fallback => "36",                                          // cyan
        }
    }

    fn of(error: &PaymentError) -> Self {
        match error {
            PaymentError::Rejected(Rejected::CircuitOpen { .. }) => Self::CircuitOpen,
            PaymentError::Rejected(Rejected::BulkheadFull { .. }) => Self::BulkheadFull,
            PaymentError::Rejected(Rejected::TimedOut { .. }) => Self::TimedOut,
            PaymentError::Rejected(Rejected::RateLimited { .. }) => Self::RateLimited,
            _ => Self::Error,
        }
    }
}

#[derive(Default)]
struct Tally {
    calls: u32,
    ok: u32,
    errors: u32,
    fallbacks: u32,
    circuit_open: u32,
    bulkhead_full: u32,
    timed_out: u32,
    rate_limited: u32,
}

struct Timeline {
    start: Instant,
    colour: bool,
    next_call: Cell<u32>,
    tally: RefCell<Tally>,
    /// When the last call a rate limit refused was told a permit is free.
    permit_free_at: Cell<Option<Instant>>,
}

impl Timeline {
    fn new() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
        Self {
            start: Instant::now(),
            colour: std::io::stdout().is_terminal() && !no_color,
            next_call: Cell::new(1),
            tally: RefCell::new(Tally::default()),
            permit_free_at: Cell::new(None),
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// Time since the start, ` 1.2s`.
    fn now(&self) -> String {
        format!("{:>5}", seconds(self.start.elapsed()))
    }

    /// Waits until `ms` milliseconds after the start, so every run reads the same.
    async fn at(&self, ms: u64) {
        sleep_until(self.start + Duration::from_millis(ms)).await;
    }

    fn header(&self) {
        let header = format!(
            "{:>5}  {:<4} {:<13} {:>5}  what happened",
            "time", "call", "outcome", "took"
        );
        println!("{}", self.paint("2", &header));
    }

    fn section(&self, title: &str) {
        println!("\n{}", self.paint("1", title));
    }

    fn note(&self, text: &str) {
        println!("{:>5}  {}", "", self.paint("2", &format!("({text})")));
    }

    fn event(&self, text: &str) {
        println!("{}  {}", self.now(), self.paint("34", &format!("» {text}")));
    }

    fn line(&self, call: u32, outcome: Outcome, took: Duration, detail: &str) {
        let label = self.paint(outcome.colour(), &format!("{:<13}", outcome.label()));
        println!(
            "{}  #{call:<3} {label} {:>5}  {detail}",
            self.now(),
            millis(took)
        );
        let mut tally = self.tally.borrow_mut();
        tally.calls += 1;
        match outcome {
            Outcome::Ok => tally.ok += 1,
            Outcome::Error => tally.errors += 1,
            Outcome::Fallback => tally.fallbacks += 1,
            Outcome::CircuitOpen => tally.circuit_open += 1,
            Outcome::BulkheadFull => tally.bulkhead_full += 1,
            Outcome::TimedOut => tally.timed_out += 1,
            Outcome::RateLimited => tally.rate_limited += 1,
        }
    }

    fn next_call(&self) -> u32 {
        let call = self.next_call.get();
        self.next_call.set(call + 1);
        call
    }

    /// The number of the last call made.
    fn last_call(&self) -> u32 {
        self.next_call.get() - 1
    }

    /// Charges `cents` to `card`, prints how that went, and hands back the error if any.
    async fn charge(
        &self,
        client: &PaymentClient,
        card: &'static str,
        cents: u64,
    ) -> Option<PaymentError> {
        let charge = Charge {
            id: self.next_call(),
            card,
            cents,
        };
        let started = Instant::now();
        let result = client.charge(&charge).await;
        let took = started.elapsed();
        // Each run of the body is one request to the service, so runs - 1 is the retry count.
        let retried = match client.service.runs(charge.id) {
            0 | 1 => String::new(),
            2 => ", retried once".to_string(),
            3 => ", retried twice".to_string(),
            runs => format!(", retried {} times", runs - 1),
        };
        match result {
            Ok(receipt) => {
                let amount = dollars(charge.cents);
                let detail = format!("{amount} charged, receipt {}{retried}", receipt.number);
                self.line(charge.id, Outcome::Ok, took, &detail);
                None
            }
            Err(error) => {
                let detail = describe(&error) + &retried;
                self.line(charge.id, Outcome::of(&error), took, &detail);
                Some(error)
            }
        }
    }

    /// The same, arriving `ms` milliseconds later: concurrent calls in a fixed order.
    async fn charge_after(
        &self,
        ms: u64,
        client: &PaymentClient,
        card: &'static str,
        cents: u64,
    ) -> Option<PaymentError> {
        sleep(Duration::from_millis(ms)).await;
        self.charge(client, card, cents).await
    }

    /// Emails a receipt and prints how that went; hands the receipt back if it was refused.
    async fn email(&self, client: &PaymentClient, receipt: u32) -> Option<u32> {
        let call = self.next_call();
        let started = Instant::now();
        let result = client.email_receipt(receipt).await;
        let took = started.elapsed();
        match result {
            Ok(()) => {
                let detail = format!("receipt {receipt} emailed");
                self.line(call, Outcome::Ok, took, &detail);
                None
            }
            Err(error) => {
                if let PaymentError::Rejected(rejected @ Rejected::RateLimited { .. }) = &error {
                    let free = rejected.retry_after().map(|wait| Instant::now() + wait);
                    self.permit_free_at.set(free);
                }
                self.line(call, Outcome::of(&error), took, &describe(&error));
                Some(receipt)
            }
        }
    }

    /// When the last refused email was told a permit is free.
    fn permit_free_at(&self) -> Option<Instant> {
        self.permit_free_at.get()
    }

    /// Looks up an exchange rate, and prints where the answer came from.
    async fn rate(&self, client: &PaymentClient, currency: &'static str) {
        let call = self.next_call();
        let started = Instant::now();
        let result = client.exchange_rate(currency).await;
        let took = started.elapsed();
        let (outcome, detail) = match result {
            Ok(Rate {
                value,
                source: Source::Live,
            }) => (Outcome::Ok, format!("1 USD = {value:.4} {currency}, live")),
            Ok(Rate {
                value,
                source: Source::Cache { age, because },
            }) => (
                Outcome::Fallback,
                format!(
                    "1 USD = {value:.4} {currency}, cached {} ago (live call: {})",
                    seconds(age),
                    Outcome::of(&because).label()
                ),
            ),
            Err(error) => (
                Outcome::of(&error),
                format!("{}; nothing cached for {currency}", describe(&error)),
            ),
        };
        self.line(call, outcome, took, &detail);
    }

    fn summary(&self, service: &PaymentService) {
        let tally = self.tally.borrow();
        let rejected =
            tally.circuit_open + tally.bulkhead_full + tally.timed_out + tally.rate_limited;
        println!("\n{}", self.paint("1", "summary"));
        println!(
            "  {} calls in {}: {} ok, {} answered by the fallback, {} errors, {rejected} rejected",
            tally.calls,
            seconds(self.start.elapsed()),
            tally.ok,
            tally.fallbacks,
            tally.errors,
        );
        println!(
            "  rejected: {} circuit open, {} bulkhead full, {} timed out, {} rate limited",
            tally.circuit_open, tally.bulkhead_full, tally.timed_out, tally.rate_limited
        );
        println!(
            "  {} body runs, each one request to the service; at most {} charges ran at once",
            service.requests.load(Ordering::Relaxed),
            service.most_charging.load(Ordering::Relaxed),
        );
    }
}

/// The outcome column says what kind of error; this says the rest.
fn describe(error: &PaymentError) -> String {
    match error {
        PaymentError::Rejected(Rejected::CircuitOpen {
            retry_after: Some(wait),
            ..
        }) => format!("not sent; the breaker says retry in {}", countdown(*wait)),
        PaymentError::Rejected(Rejected::CircuitOpen {
            retry_after: None, ..
        }) => "not sent; half-open, and the trial call is running".to_string(),
        PaymentError::Rejected(Rejected::BulkheadFull { max, .. }) => {
            format!("not sent; the {max} slots stayed busy")
        }
        PaymentError::Rejected(Rejected::TimedOut { after, .. }) => {
            format!("no answer within {}", millis(*after))
        }
        PaymentError::Rejected(Rejected::RateLimited { retry_after, .. }) => format!(
            "not sent; over the quota, a permit is free in {}",
            countdown(*retry_after)
        ),
        other => other.to_string(),
    }
}

// Timers fire on or after their deadline, each a millisecond or so late, so elapsed times are
// rounded down, and to a grid coarser than that drift: the output reads the same on every run.
// (The story's times are multiples of 0.1s, its durations of 10ms below 100ms and 50ms above.)

/// `1.2s`.
fn seconds(elapsed: Duration) -> String {
    let tenths = elapsed.as_millis() / 100;
    format!("{}.{}s", tenths / 10, tenths % 10)
}

/// `1.2s`, for time left: it may be a little under or over, so to the nearest 0.1s.
fn countdown(left: Duration) -> String {
    seconds(left + Duration::from_millis(50))
}

/// `20ms`, `450ms`.
fn millis(elapsed: Duration) -> String {
    let ms = elapsed.as_millis();
    let grid = if ms < 100 { 10 } else { 50 };
    format!("{}ms", ms / grid * grid)
}

/// `$12.00`.
fn dollars(cents: u64) -> String {
    format!("${}.{:02}", cents / 100, cents % 100)
}

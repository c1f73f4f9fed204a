//! Backoff and jitter, measured: many clients racing to update one row.
//!
//! ```text
//! cargo run --example backoff_simulation
//! ```
//!
//! This repeats the experiment of Marc Brooker's "Exponential Backoff And Jitter" (AWS
//! Architecture Blog, 2015) with this crate's own `#[retry]`. N clients each want to update
//! one row exactly once, under optimistic concurrency: a client reads the row's version, sends
//! a write carrying that version, and the write is refused if another client's write landed
//! in between. A refused client retries — read again, write again — after the delay its
//! `#[retry]` picks. Five clients are compared, identical but for their attribute:
//!
//! | strategy | attribute |
//! |---|---|
//! | no backoff | `#[retry(base = "0s", jitter = "none")]` |
//! | exponential | `#[retry(base = "10ms", jitter = "none")]` |
//! | full jitter | `#[retry(base = "10ms", jitter = "full")]` |
//! | equal jitter | `#[retry(base = "10ms", jitter = "equal")]` |
//! | decorrelated | `#[retry(base = "10ms", jitter = "decorrelated")]` |
//!
//! (all with `max_delay = "5s"`, `max` high enough that nobody gives up, and `budget = "none"`:
//! the experiment measures what backoff alone does to contention, and the retry budget would
//! otherwise make most clients give up once the row is contended). For each client
//! count it records the *work* — how many writes the row received, refused ones included —
//! and the *completion time*, until the last client succeeded, averaged over several runs.
//! It prints both tables, checks them against the post's findings, and draws them to
//! `docs/backoff.svg`, which is rewritten on every run.
//!
//! Each trip across the simulated network takes 8 to 12ms, in whole milliseconds because
//! tokio's timer counts whole milliseconds: two writes in the same millisecond are a conflict
//! for the second. Everything runs on tokio's paused clock, so hours of simulated waiting take
//! a few seconds of real time. The network's delays are the same on every run; the jitter,
//! drawn by the runtime's own generator, is not, so the numbers move a little between runs.

use std::cell::Cell;
use std::fmt::Write as _;
use std::rc::Rc;
use std::time::Duration;

use plotters::prelude::*;
use resilience::{retry, Rejected};
use tokio::task::LocalSet;
use tokio::time::{sleep, Instant};

/// Client counts to simulate.
const CLIENTS: [u32; 11] = [1, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100];

/// Runs averaged for each strategy and client count.
const RUNS: u32 = 20;

/// Where the plot goes.
const PLOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/backoff.svg");

// ---------------------------------------------------------------------------------------------
// The clients: one function per strategy, identical but for the attribute.
// ---------------------------------------------------------------------------------------------

/// Why a write did not go through.
#[derive(Debug, thiserror::Error)]
enum WriteError {
    /// Another client's write landed between our read and our write.
    #[error("conflict: the row changed since it was read")]
    Conflict,
    /// Never produced here: a `#[retry]` alone rejects nothing. Required by the attribute.
    #[error(transparent)]
    Rejected(#[from] Rejected),
}

/// Defines a client that updates the row, retrying on conflict as its attribute says.
///
/// `#[retry]` takes constants, so every strategy is a function of its own; this macro only
/// saves writing the same body five times.
macro_rules! client {
    ($(#[$attribute:meta])* $name:ident) => {
        $(#[$attribute])*
        async fn $name(row: &Row) -> Result<(), WriteError> {
            row.read_then_write().await
        }
    };
}

client! {
    /// Retries at once: the next read goes out as soon as the refusal arrives.
    #[retry(max = 100_000, base = "0s", max_delay = "5s", jitter = "none", budget = "none")]
    no_backoff
}

client! {
    /// Waits exactly 10ms, 20ms, 40ms, ... (capped at 5s) before each retry.
    #[retry(max = 100_000, base = "10ms", max_delay = "5s", jitter = "none", budget = "none")]
    exponential
}

client! {
    /// Waits uniformly between zero and 10ms, 20ms, 40ms, ...
    #[retry(max = 100_000, base = "10ms", max_delay = "5s", jitter = "full", budget = "none")]
    full_jitter
}

client! {
    /// Waits half of 10ms, 20ms, 40ms, ... plus uniformly up to the other half.
    #[retry(max = 100_000, base = "10ms", max_delay = "5s", jitter = "equal", budget = "none")]
    equal_jitter
}

client! {
    /// Waits uniformly between 10ms and three times its previous wait.
    #[retry(max = 100_000, base = "10ms", max_delay = "5s", jitter = "decorrelated", budget = "none")]
    decorrelated_jitter
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Strategy {
    NoBackoff,
    Exponential,
    FullJitter,
    EqualJitter,
    Decorrelated,
}

impl Strategy {
    const ALL: [Self; 5] = [
        Self::NoBackoff,
        Self::Exponential,
        Self::FullJitter,
        Self::EqualJitter,
        Self::Decorrelated,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::NoBackoff => "no backoff",
            Self::Exponential => "exponential",
            Self::FullJitter => "full jitter",
            Self::EqualJitter => "equal jitter",
            Self::Decorrelated => "decorrelated",
        }
    }

    fn colour(self) -> RGBColor {
        match self {
            Self::NoBackoff => RGBColor(0x99, 0x99, 0x99),
            Self::Exponential => RGBColor(0xd6, 0x27, 0x28),
            Self::FullJitter => RGBColor(0x1f, 0x77, 0xb4),
            Self::EqualJitter => RGBColor(0xff, 0x7f, 0x0e),
            Self::Decorrelated => RGBColor(0x2c, 0xa0, 0x2c),
        }
    }

    /// One client's whole job: update the row once, retrying as this strategy says.
    async fn update(self, row: &Row) -> Result<(), WriteError> {
        match self {
            Self::NoBackoff => no_backoff(row).await,
            Self::Exponential => exponential(row).await,
            Self::FullJitter => full_jitter(row).await,
            Self::EqualJitter => equal_jitter(row).await,
            Self::Decorrelated => decorrelated_jitter(row).await,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The contended row and the network in front of it.
// ---------------------------------------------------------------------------------------------

/// One row with a version number, updated with optimistic concurrency.
struct Row {
    version: Cell<u64>,
    /// Writes received, refused ones included: the work done.
    writes: Cell<u32>,
    network: Network,
}

impl Row {
    fn new(network: Network) -> Self {
        Self {
            version: Cell::new(0),
            writes: Cell::new(0),
            network,
        }
    }

    /// One attempt: read the version, then write if it has not changed since.
    ///
    /// Four trips across the network: the read request, its answer, the write, its answer.
    /// Another client's write landing during the middle two refuses this one.
    async fn read_then_write(&self) -> Result<(), WriteError> {
        sleep(self.network.trip()).await;
        let seen = self.version.get();
        sleep(self.network.trip() + self.network.trip()).await;
        self.writes.set(self.writes.get() + 1);
        let accepted = self.version.get() == seen;
        if accepted {
            self.version.set(seen + 1);
        }
        sleep(self.network.trip()).await;
        if accepted {
            Ok(())
        } else {
            Err(WriteError::Conflict)
        }
    }
}

/// Trip times, from a small seeded generator (splitmix64), so each run sees the same network.
struct Network {
    state: Cell<u64>,
}

impl Network {
    fn seeded(seed: u64) -> Self {
        Self {
            state: Cell::new(seed),
        }
    }

    /// One trip: 8 to 12ms, 10ms on average. (tokio's timer counts whole milliseconds.)
    fn trip(&self) -> Duration {
        let state = self.state.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        self.state.set(state);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        Duration::from_millis(8 + z % 5)
    }
}

// ---------------------------------------------------------------------------------------------
// The experiment.
// ---------------------------------------------------------------------------------------------

/// Averages over [`RUNS`] runs of one strategy with one client count.
#[derive(Clone, Copy, Default)]
struct Point {
    /// Writes the row received.
    calls: f64,
    /// Simulated time until the last client was done.
    millis: f64,
}

/// One run: `clients` clients start together; returns the writes and the time the last one
/// took. Panics if a client ran out of retries, which would make the numbers meaningless.
async fn run(strategy: Strategy, clients: u32, seed: u64) -> (u32, Duration) {
    let row = Rc::new(Row::new(Network::seeded(seed)));
    let start = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let row = Rc::clone(&row);
            tokio::task::spawn_local(async move { strategy.update(&row).await })
        })
        .collect();
    for task in tasks {
        if let Err(error) = task.await.expect("a client panicked") {
            panic!("a {} client gave up: {error}", strategy.name());
        }
    }
    (row.writes.get(), start.elapsed())
}

/// Every strategy at every client count: `results[strategy][client count]`.
async fn experiment() -> Vec<Vec<Point>> {
    let mut results = vec![vec![Point::default(); CLIENTS.len()]; Strategy::ALL.len()];
    for (s, &strategy) in Strategy::ALL.iter().enumerate() {
        for (c, &clients) in CLIENTS.iter().enumerate() {
            let (mut calls, mut time) = (0, Duration::ZERO);
            for seed in 0..RUNS {
                let (run_calls, run_time) = run(strategy, clients, u64::from(seed)).await;
                calls += run_calls;
                time += run_time;
            }
            results[s][c] = Point {
                calls: f64::from(calls) / f64::from(RUNS),
                millis: time.as_secs_f64() * 1000.0 / f64::from(RUNS),
            };
        }
    }
    results
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let started = std::time::Instant::now();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()?;
    let results = LocalSet::new().block_on(&runtime, experiment());

    println!(
        "N clients update one row with optimistic concurrency, for N = {}.\n\
         Each trip across the network takes 8-12ms. Averages of {RUNS} runs per cell.",
        CLIENTS.map(|n| n.to_string()).join(", ")
    );
    print_table(
        "work: writes the row received (one per attempt)",
        &results,
        |p| p.calls,
    );
    print_table(
        "completion time: simulated seconds until the last client is done",
        &results,
        |p| p.millis / 1000.0,
    );
    verdict(&results);

    std::fs::create_dir_all(std::path::Path::new(PLOT).parent().unwrap_or(".".as_ref()))?;
    plot(&results)?;
    println!("\nplot written to {PLOT}");
    println!(
        "simulated {} of waiting in {:.1}s",
        simulated_total(&results),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Output.
// ---------------------------------------------------------------------------------------------

fn print_table(title: &str, results: &[Vec<Point>], value: impl Fn(&Point) -> f64) {
    println!("\n{title}");
    let mut header = format!("{:>8}", "clients");
    for strategy in Strategy::ALL {
        let _ = write!(header, " {:>13}", strategy.name());
    }
    println!("{header}");
    for (c, clients) in CLIENTS.iter().enumerate() {
        let mut line = format!("{clients:>8}");
        for row in results {
            let v = value(&row[c]);
            let _ = if v >= 100.0 {
                write!(line, " {v:>13.0}")
            } else if v >= 10.0 {
                write!(line, " {v:>13.1}")
            } else {
                write!(line, " {v:>13.2}")
            };
        }
        println!("{line}");
    }
}

/// Compares the ordering with what the post found, claim by claim, at the largest client count
/// and summed over all of them.
fn verdict(results: &[Vec<Point>]) {
    use Strategy::{Decorrelated, EqualJitter, Exponential, FullJitter, NoBackoff};
    let total = |strategy: Strategy, value: fn(&Point) -> f64| -> f64 {
        results[strategy as usize].iter().map(value).sum()
    };
    let calls = |s| total(s, |p| p.calls);
    let time = |s| total(s, |p| p.millis);
    let jittered = [FullJitter, EqualJitter, Decorrelated];
    let most_jittered_calls = jittered.map(calls).into_iter().fold(0.0, f64::max);

    let claims = [
        (
            "no backoff and exponential do more work than any jittered strategy",
            calls(NoBackoff).min(calls(Exponential)) > most_jittered_calls,
        ),
        (
            "exponential (no jitter) takes longer than every jittered strategy",
            jittered.iter().all(|&s| time(Exponential) > time(s)),
        ),
        (
            "full jitter does the least work",
            jittered
                .iter()
                .all(|&s| s == FullJitter || calls(FullJitter) < calls(s)),
        ),
        (
            "equal jitter does more work than full jitter",
            calls(EqualJitter) > calls(FullJitter),
        ),
        (
            "equal jitter takes longer than full and decorrelated jitter",
            time(EqualJitter) > time(FullJitter).max(time(Decorrelated)),
        ),
        (
            "decorrelated does more work than full jitter, but takes less time",
            calls(Decorrelated) > calls(FullJitter) && time(Decorrelated) < time(FullJitter),
        ),
    ];

    println!("\nthe post's findings, checked (totals over all client counts):");
    for strategy in Strategy::ALL {
        println!(
            "  {:<13} {:>8.0} writes {:>9.1}s",
            strategy.name(),
            calls(strategy),
            time(strategy) / 1000.0
        );
    }
    for (claim, holds) in &claims {
        println!("  [{}] {claim}", if *holds { "yes" } else { " no" });
    }
    let held = claims.iter().filter(|(_, holds)| *holds).count();
    if held == claims.len() {
        println!("  the ordering matches the post's");
    } else {
        println!(
            "  {held} of {} claims hold: the ordering only partly matches the post's",
            claims.len()
        );
    }

    // Two things the claims above do not say.
    let gap = (calls(Decorrelated) / calls(FullJitter) - 1.0) * 100.0;
    println!(
        "  note: full and decorrelated jitter are close in work ({gap:+.1}% for decorrelated); \
         which does less depends on the client count"
    );
    println!(
        "  note: no backoff finishes first, at {:.1}x the work of full jitter",
        calls(NoBackoff) / calls(FullJitter)
    );
}

fn simulated_total(results: &[Vec<Point>]) -> String {
    let millis: f64 = results.iter().flatten().map(|p| p.millis).sum();
    let hours = millis * f64::from(RUNS) / 3_600_000.0;
    format!("{hours:.1} hours")
}

/// Two panels side by side: work, and completion time, against the client count.
///
/// Exponential backoff without jitter takes so much longer than the rest that, as in the post,
/// it is left off the time panel, whose title says how far off the scale it went.
fn plot(results: &[Vec<Point>]) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(PLOT, (1200, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(600);
    let work: fn(&Point) -> f64 = |p| p.calls;
    panel(
        &left,
        "Work",
        "writes received",
        results,
        &Strategy::ALL,
        work,
    )?;
    let seconds: fn(&Point) -> f64 = |p| p.millis / 1000.0;
    let slowest = results[Strategy::Exponential as usize]
        .iter()
        .map(seconds)
        .fold(0.0, f64::max);
    let shown = Strategy::ALL.map(|s| (s != Strategy::Exponential).then_some(s));
    panel(
        &right,
        &format!("Completion time (exponential, up to {slowest:.0}s, left off)"),
        "seconds until the last client is done",
        results,
        &shown.into_iter().flatten().collect::<Vec<_>>(),
        seconds,
    )?;
    root.present()?;
    Ok(())
}

fn panel(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    title: &str,
    unit: &str,
    results: &[Vec<Point>],
    strategies: &[Strategy],
    value: fn(&Point) -> f64,
) -> Result<(), Box<dyn std::error::Error>> {
    let top = strategies
        .iter()
        .flat_map(|&s| &results[s as usize])
        .map(value)
        .fold(0.0, f64::max)
        * 1.05;
    let last = f64::from(CLIENTS[CLIENTS.len() - 1]);
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..last, 0.0..top)?;
    chart
        .configure_mesh()
        .x_desc("clients")
        .y_desc(unit)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y}"))
        .light_line_style(WHITE)
        .draw()?;
    for &strategy in strategies {
        let colour = strategy.colour();
        let points = CLIENTS
            .iter()
            .zip(&results[strategy as usize])
            .map(|(&clients, point)| (f64::from(clients), value(point)));
        chart
            .draw_series(LineSeries::new(points, colour.stroke_width(2)))?
            .label(strategy.name())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

//! A retry storm, and the retry budget that stops it.
//!
//! ```text
//! cargo run --example retry_storm
//! ```
//!
//! Fifty clients each call a dependency every 100ms (500 calls a second in all, each client
//! starting at its own offset in the first 100ms) through a `#[retry(max = 3)]` function. The
//! dependency answers every call for 20s, fails every call for the next 20s, then recovers.
//! The clients do not slow down when their calls fail: each call is its own task, as a server
//! handling requests would make it. The simulation runs twice, with two functions identical
//! but for their attribute:
//!
//! | run | attribute |
//! |---|---|
//! | with the budget | `#[retry(max = 3, budget = 0.2)]` (the default, written out) |
//! | without the budget | `#[retry(max = 3, budget = "none")]` |
//!
//! (`budget_min` is left at its default, 10 retries a second.) Each function is its own retry
//! instance, so each run has a budget of its own. Every 500ms the example counts the calls the
//! clients made (first attempts) and the calls the dependency received (every run of the
//! body, retries included). It prints the amplification — calls received per call made —
//! before, during and after the outage, checks it against what the budget promises, and draws
//! the load over time to `docs/retry_storm.svg`, which is rewritten on every run.
//!
//! Without the budget, every call made during the outage reaches the dependency four times.
//! With it, retries add at most 20 % of the calls the instance served over a rolling 10s, plus
//! a reserve of 10 retries a second: at 500 calls a second, 1.2 times the calls plus 10 a
//! second, 1.22 times in all. The limit holds over the window, not second by second: the
//! budget is spent as soon as it is there, so the retries come as a burst at the start of the
//! outage (the share saved while the dependency was healthy) and again each time the last
//! burst leaves the window, and no call is retried in between.
//!
//! Everything runs on tokio's paused clock, so the two minutes of simulated time take a
//! moment of real time. The start offsets are the same on every run; the retry delays are
//! jittered by the runtime's own generator, so the numbers move a little between runs.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use plotters::prelude::*;
use resilience::{retry, Rejected};
use tokio::task::{JoinSet, LocalSet};
use tokio::time::{interval, sleep, Instant};

/// Clients calling the dependency.
const CLIENTS: u32 = 50;

/// Each client calls once per period, in milliseconds.
const PERIOD_MS: u64 = 100;
const PERIOD: Duration = Duration::from_millis(PERIOD_MS);

/// The dependency's healthy start: long enough for the budget's 10s window to fill.
const OUTAGE_START: Duration = Duration::from_secs(20);

/// When the dependency recovers.
const OUTAGE_END: Duration = Duration::from_secs(40);

/// When the clients stop calling.
const END: Duration = Duration::from_secs(60);

/// Time left after [`END`] for the last calls to finish (the dependency counts a call when it
/// arrives, so nothing arrives in it).
const SETTLE: Duration = Duration::from_secs(2);

/// How long the dependency takes to answer, failing or not.
const LATENCY: Duration = Duration::from_millis(10);

/// The width of one bucket of counts, and of one point of the plot.
const BUCKET: Duration = Duration::from_millis(500);

/// The budget's share of the calls and its reserve, the attribute's defaults.
const BUDGET: f64 = 0.2;
const BUDGET_MIN_PER_SEC: f64 = 10.0;

/// Without the budget, the outage's load must come this close to `max + 1` = 4 times the
/// calls. (The calls of the outage's last 700ms or so have retries left when it ends; theirs land
/// after it.)
const STORM_AT_LEAST: f64 = 3.9;

/// Where the plot goes.
const PLOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/retry_storm.svg");

// ---------------------------------------------------------------------------------------------
// The clients' call: one function per run, identical but for the budget.
// ---------------------------------------------------------------------------------------------

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
enum CallError {
    /// The dependency is down.
    #[error("the dependency is unavailable")]
    Unavailable,
    /// Never produced here: a `#[retry]` alone rejects nothing. Required by the attribute.
    #[error(transparent)]
    Rejected(#[from] Rejected),
}

/// Defines a call to the dependency, retried as its attribute says.
///
/// `#[retry]` takes constants and keeps one instance (one budget) per function, so each run
/// has a function of its own; this macro only saves writing the same body twice.
macro_rules! call {
    ($(#[$attribute:meta])* $name:ident) => {
        $(#[$attribute])*
        async fn $name(dependency: &Dependency) -> Result<(), CallError> {
            dependency.serve().await
        }
    };
}

call! {
    /// The default budget: retries add at most 20 % of the calls over 10s, plus 10 a second.
    #[retry(max = 3, budget = 0.2)]
    with_budget
}

call! {
    /// No budget: every failed call is retried up to three times.
    #[retry(max = 3, budget = "none")]
    without_budget
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Run {
    WithBudget,
    WithoutBudget,
}

impl Run {
    const ALL: [Self; 2] = [Self::WithBudget, Self::WithoutBudget];

    fn name(self) -> &'static str {
        match self {
            Self::WithBudget => "with the budget",
            Self::WithoutBudget => "without the budget",
        }
    }

    fn colour(self) -> RGBColor {
        match self {
            Self::WithBudget => RGBColor(0x1f, 0x77, 0xb4),
            Self::WithoutBudget => RGBColor(0xd6, 0x27, 0x28),
        }
    }

    /// One call, through this run's function.
    async fn call(self, dependency: &Dependency) -> Result<(), CallError> {
        match self {
            Self::WithBudget => with_budget(dependency).await,
            Self::WithoutBudget => without_budget(dependency).await,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The dependency, and the counts kept in front of it.
// ---------------------------------------------------------------------------------------------

/// The dependency: healthy, then failing every call from [`OUTAGE_START`] to [`OUTAGE_END`].
struct Dependency {
    start: Instant,
    /// Calls received per bucket: every run of the body, retries included.
    received: RefCell<Vec<u32>>,
    /// Calls made per bucket: first attempts only.
    made: RefCell<Vec<u32>>,
    /// Calls whose final result was an error.
    failed: Cell<u32>,
}

impl Dependency {
    fn new() -> Self {
        let buckets = bucket_count();
        Self {
            start: Instant::now(),
            received: RefCell::new(vec![0; buckets]),
            made: RefCell::new(vec![0; buckets]),
            failed: Cell::new(0),
        }
    }

    /// The bucket the current time falls in.
    fn bucket(&self) -> usize {
        bucket_index(self.start.elapsed()).min(bucket_count() - 1)
    }

    /// One call as the dependency sees it: counted, answered after [`LATENCY`], failing
    /// during the outage.
    async fn serve(&self) -> Result<(), CallError> {
        self.received.borrow_mut()[self.bucket()] += 1;
        let elapsed = self.start.elapsed();
        let down = (OUTAGE_START..OUTAGE_END).contains(&elapsed);
        sleep(LATENCY).await;
        if down {
            Err(CallError::Unavailable)
        } else {
            Ok(())
        }
    }

    /// A client made a call.
    fn count_call(&self) {
        self.made.borrow_mut()[self.bucket()] += 1;
    }
}

fn bucket_count() -> usize {
    bucket_index(END + SETTLE)
}

/// Start offsets, in whole milliseconds within the first period, from a small seeded
/// generator (splitmix64), so every run sees the same clients.
fn offsets() -> Vec<Duration> {
    let mut state: u64 = 13;
    (0..CLIENTS)
        .map(|_| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            Duration::from_millis(z % PERIOD_MS)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The experiment.
// ---------------------------------------------------------------------------------------------

/// One client: after its offset, a call every [`PERIOD`] until [`END`], each call its own
/// task, so a failing call does not slow the client down. Returns when its calls are done.
async fn client(run: Run, dependency: Rc<Dependency>, offset: Duration) {
    sleep(offset).await;
    let mut ticks = interval(PERIOD);
    let mut calls = JoinSet::new();
    loop {
        ticks.tick().await;
        if dependency.start.elapsed() >= END {
            break;
        }
        dependency.count_call();
        let dependency = Rc::clone(&dependency);
        calls.spawn_local(async move { run.call(&dependency).await });
    }
    while let Some(outcome) = calls.join_next().await {
        if outcome.expect("a call panicked").is_err() {
            dependency.failed.set(dependency.failed.get() + 1);
        }
    }
}

/// One run: every client, from the healthy start through the outage to the end.
async fn simulate(run: Run) -> Dependency {
    let dependency = Rc::new(Dependency::new());
    let clients: Vec<_> = offsets()
        .into_iter()
        .map(|offset| tokio::task::spawn_local(client(run, Rc::clone(&dependency), offset)))
        .collect();
    for client in clients {
        client.await.expect("a client panicked");
    }
    sleep_until_settled(&dependency).await;
    Rc::try_unwrap(dependency)
        .ok()
        .expect("every client is done")
}

/// Waits out the rest of [`SETTLE`], so both runs take the same simulated time.
async fn sleep_until_settled(dependency: &Dependency) {
    let elapsed = dependency.start.elapsed();
    assert!(
        elapsed <= END + SETTLE,
        "calls were still running {elapsed:?} in; lengthen SETTLE"
    );
    sleep((END + SETTLE).saturating_sub(elapsed)).await;
}

/// A stretch of the timeline: `[from, to)`.
#[derive(Clone, Copy)]
struct Phase {
    name: &'static str,
    from: Duration,
    to: Duration,
}

const PHASES: [Phase; 3] = [
    Phase {
        name: "before",
        from: Duration::ZERO,
        to: OUTAGE_START,
    },
    Phase {
        name: "outage",
        from: OUTAGE_START,
        to: OUTAGE_END,
    },
    Phase {
        name: "after",
        from: OUTAGE_END,
        to: END,
    },
];

/// The counts of one run over one phase.
#[derive(Clone, Copy)]
struct Load {
    made: u32,
    received: u32,
}

impl Load {
    fn of(dependency: &Dependency, phase: Phase) -> Self {
        let range = bucket_index(phase.from)..bucket_index(phase.to);
        let sum = |counts: &RefCell<Vec<u32>>| counts.borrow()[range.clone()].iter().sum();
        Self {
            made: sum(&dependency.made),
            received: sum(&dependency.received),
        }
    }

    fn amplification(self) -> f64 {
        f64::from(self.received) / f64::from(self.made)
    }
}

/// The bucket `at` falls in.
fn bucket_index(at: Duration) -> usize {
    usize::try_from(at.as_millis() / BUCKET.as_millis()).unwrap_or(usize::MAX)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let started = std::time::Instant::now();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()?;
    let runs: Vec<Dependency> = Run::ALL
        .iter()
        .map(|&run| LocalSet::new().block_on(&runtime, simulate(run)))
        .collect();
    assert_eq!(
        runs[0].made, runs[1].made,
        "both runs must see the same calls from the clients"
    );

    println!(
        "{CLIENTS} clients each call a dependency every {}ms through #[retry(max = 3)];\n\
         the dependency fails every call from {}s to {}s. Calls received per call made:",
        PERIOD.as_millis(),
        OUTAGE_START.as_secs(),
        OUTAGE_END.as_secs()
    );
    phases(&runs);
    let (with, without) = outage(&runs);

    std::fs::create_dir_all(std::path::Path::new(PLOT).parent().unwrap_or(".".as_ref()))?;
    plot(&runs)?;
    println!("\nplot written to {PLOT}");
    println!(
        "simulated {}s twice in {:.1}s",
        (END + SETTLE).as_secs(),
        started.elapsed().as_secs_f64()
    );

    // The budget's window is 9 to 10 s long (it moves in whole seconds), so over an outage the
    // retries may reach 10/9 of the nominal share; the runs so far sit at the nominal limit.
    let limit = 1.0 + (limit(&runs[0]) - 1.0) * 10.0 / 9.0;
    assert!(
        with <= limit,
        "with the budget, the dependency received {with:.4}x the calls during the outage, \
         more than 1 + 10/9 x ({BUDGET} + the reserve's share) ({limit:.4}x)"
    );
    assert!(
        without >= STORM_AT_LEAST,
        "without the budget, the dependency received {without:.4}x the calls during the \
         outage, not near 4x (at least {STORM_AT_LEAST}x expected)"
    );
    Ok(())
}

/// Calls made per second during the outage.
fn outage_rate(dependency: &Dependency) -> f64 {
    let outage = PHASES[1];
    f64::from(Load::of(dependency, outage).made) / seconds(outage)
}

/// What the budget allows during the outage, in calls received per call made: every call
/// once, 20 % more, and the reserve's 10 a second.
fn limit(dependency: &Dependency) -> f64 {
    1.0 + BUDGET + BUDGET_MIN_PER_SEC / outage_rate(dependency)
}

fn seconds(phase: Phase) -> f64 {
    phase.to.saturating_sub(phase.from).as_secs_f64()
}

// ---------------------------------------------------------------------------------------------
// Output.
// ---------------------------------------------------------------------------------------------

/// The table: the amplification of each run in each phase.
fn phases(runs: &[Dependency]) {
    let cell = |text: String| format!(" {text:>20}");
    let mut header = format!("  {:<20}", "");
    for phase in PHASES {
        header += &cell(format!(
            "{} ({}-{}s)",
            phase.name,
            phase.from.as_secs(),
            phase.to.as_secs()
        ));
    }
    println!("{header}");
    let mut made = format!("  {:<20}", "calls made");
    for phase in PHASES {
        let count = Load::of(&runs[0], phase).made;
        made += &cell(format!("{:.0}/s", f64::from(count) / seconds(phase)));
    }
    println!("{made}");
    for (&run, dependency) in Run::ALL.iter().zip(runs) {
        let mut line = format!("  {:<20}", run.name());
        for phase in PHASES {
            let load = Load::of(dependency, phase);
            line += &cell(format!(
                "{:.2}x ({:.0}/s)",
                load.amplification(),
                f64::from(load.received) / seconds(phase)
            ));
        }
        println!("{line}");
    }
}

/// One run's outage, as printed.
struct Outage {
    received: u32,
    amplification: f64,
    /// Buckets of the outage in which retries arrived.
    retrying: usize,
    /// The busiest bucket: calls received per second, per call made, and its start.
    peak: (f64, f64, f64),
}

impl Outage {
    fn of(dependency: &Dependency) -> Self {
        let outage = PHASES[1];
        let load = Load::of(dependency, outage);
        let received = dependency.received.borrow();
        let made = dependency.made.borrow();
        let buckets = bucket_index(outage.from)..bucket_index(outage.to);
        let (count, at) = buckets
            .clone()
            .map(|i| (received[i], i))
            .max()
            .unwrap_or_default();
        Self {
            received: load.received,
            amplification: load.amplification(),
            retrying: buckets.filter(|&i| received[i] > made[i]).count(),
            peak: (
                f64::from(count) / BUCKET.as_secs_f64(),
                f64::from(count) / f64::from(made[at]),
                (BUCKET * u32::try_from(at).unwrap_or(u32::MAX)).as_secs_f64(),
            ),
        }
    }
}

/// The outage in detail; returns the amplification with and without the budget.
fn outage(runs: &[Dependency]) -> (f64, f64) {
    let outage = PHASES[1];
    let made = Load::of(&runs[0], outage).made;
    let rate = outage_rate(&runs[0]);
    let limit = limit(&runs[0]);
    let (with, without) = (Outage::of(&runs[0]), Outage::of(&runs[1]));
    println!("\nduring the outage: {made} calls made ({rate:.0}/s)");
    println!(
        "  {:<20} {} received, {:.4}x (the limit: 1 + {BUDGET} + {BUDGET_MIN_PER_SEC}/s / \
         {rate:.0}/s = {limit:.4}x, {:.0} calls)",
        Run::WithBudget.name(),
        with.received,
        with.amplification,
        limit * f64::from(made),
    );
    println!(
        "  {:<20} {} received, {:.4}x (max + 1 = 4x, but the last calls' retries land after it)",
        Run::WithoutBudget.name(),
        without.received,
        without.amplification,
    );
    println!(
        "  {:<20} in {} of its {} half-seconds with the budget (spent as soon as it is there), \
         in {} without",
        "retries arrived",
        with.retrying,
        bucket_index(outage.to) - bucket_index(outage.from),
        without.retrying,
    );
    println!(
        "  {:<20} {:.0} calls/s ({:.1}x) from {:.1}s with the budget, {:.0} calls/s ({:.1}x) \
         from {:.1}s without",
        "busiest half-second",
        with.peak.0,
        with.peak.1,
        with.peak.2,
        without.peak.0,
        without.peak.1,
        without.peak.2,
    );
    println!(
        "  {:<20} {} with the budget, {} without",
        "calls that failed",
        runs[0].failed.get(),
        runs[1].failed.get()
    );
    (with.amplification, without.amplification)
}

/// The load over time, one line per run, the calls made as the reference, the outage shaded,
/// and the budget's limit over the outage.
fn plot(runs: &[Dependency]) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(PLOT, (1000, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let rate = |count: u32| f64::from(count) / BUCKET.as_secs_f64();
    let series = |counts: &RefCell<Vec<u32>>| -> Vec<(f64, f64)> {
        (0_u32..)
            .zip(counts.borrow().iter().take(bucket_index(END)))
            .map(|(i, &count)| ((f64::from(i) + 0.5) * BUCKET.as_secs_f64(), rate(count)))
            .collect()
    };
    let top = runs
        .iter()
        .flat_map(|run| run.received.borrow().clone())
        .map(rate)
        .fold(0.0, f64::max)
        * 1.4; // room for the legend above the lines
    let right = END.as_secs_f64();
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "{CLIENTS} clients, #[retry(max = 3)], the dependency down from {}s to {}s",
                OUTAGE_START.as_secs(),
                OUTAGE_END.as_secs()
            ),
            ("sans-serif", 20),
        )
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..right, 0.0..top)?;
    chart
        .configure_mesh()
        .x_desc("seconds")
        .y_desc(format!(
            "calls received per second ({}ms buckets)",
            BUCKET.as_millis()
        ))
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .light_line_style(WHITE)
        .draw()?;

    let shade = RGBColor(0xee, 0xee, 0xee);
    let (from, to) = (OUTAGE_START.as_secs_f64(), OUTAGE_END.as_secs_f64());
    chart
        .draw_series(std::iter::once(Rectangle::new(
            [(from, 0.0), (to, top)],
            shade.filled(),
        )))?
        .label("outage: every call fails")
        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 20, y + 5)], shade.filled()));

    let made = series(&runs[0].made);
    let grey = RGBColor(0x55, 0x55, 0x55);
    chart
        .draw_series(LineSeries::new(made.iter().copied(), grey.stroke_width(1)))?
        .label("calls made (first attempts)")
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], grey.stroke_width(1)));

    let limit = limit(&runs[0]) * outage_rate(&runs[0]);
    let green = RGBColor(0x2c, 0xa0, 0x2c);
    chart
        .draw_series(DashedLineSeries::new(
            [(from, limit), (to, limit)],
            6,
            4,
            green.stroke_width(2),
        ))?
        .label(format!(
            "the budget's limit, averaged over 10s: 1.2 x calls + 10/s = {limit:.0}/s"
        ))
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], green.stroke_width(2)));

    for (&run, dependency) in Run::ALL.iter().zip(runs) {
        let colour = run.colour();
        chart
            .draw_series(LineSeries::new(
                series(&dependency.received),
                colour.stroke_width(2),
            ))?
            .label(format!("calls received, {}", run.name()))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

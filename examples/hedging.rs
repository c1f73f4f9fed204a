//! Hedged requests against a long-tailed dependency: the tail cut, and what it costs.
//!
//! ```text
//! cargo run --example hedging
//! ```
//!
//! A simulated dependency answers most requests in 8 to 20 ms, some in 20 to 80 ms, a few in
//! 200 to 600 ms and one in two hundred in 1 to 2 s: the shape of a service behind a garbage
//! collector, a cold cache or a busy disk, where the slowness belongs to the request, not to
//! the service, so a second copy of a slow request is most likely fast ("The Tail at Scale",
//! Dean and Barroso, 2013). One client makes 10 000 calls, one after the other, twice, through
//! two functions identical but for their attribute:
//!
//! | run | attribute |
//! |---|---|
//! | without hedging | none |
//! | with hedging | `#[hedge(delay = "p95")]`: after the 95th percentile of the recent latencies, send a second request; the first answer wins and the other is dropped |
//!
//! Both runs draw the dependency's latencies from the same seeded generator. The example
//! prints the p50, p99 and p99.9 of the call latencies and the extra load (requests received
//! per call made, minus one), checks that hedging cuts p99 several times for at most 10 %
//! more requests, and draws both latency distributions to `docs/hedging.svg`, rewritten on
//! every run.
//!
//! Everything runs on tokio's paused clock: the simulated minutes take a moment.

use std::cell::Cell;
use std::time::Duration;

use plotters::prelude::*;
use resilience::monitor::{snapshot, InstanceKind};
use resilience::{hedge, Rejected};
use tokio::time::{sleep, Instant};

/// Calls per run.
const CALLS: usize = 10_000;

/// The generator's seed, the same for both runs.
const SEED: u64 = 0x5eed_2013;

/// Hedging must cut p99 by at least this factor...
const P99_CUT_AT_LEAST: f64 = 3.0;
/// ...for at most this much extra load.
const EXTRA_LOAD_AT_MOST: f64 = 0.10;

/// Where the plot goes.
const PLOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/hedging.svg");

/// Why a call failed: never, here; the attribute asks for `From<Rejected>`.
#[derive(Debug, thiserror::Error)]
enum CallError {
    #[error(transparent)]
    Rejected(#[from] Rejected),
}

/// The simulated dependency: a latency per request, drawn from a seeded generator, and a
/// count of the requests it received.
struct Dependency {
    state: Cell<u64>,
    received: Cell<usize>,
}

impl Dependency {
    fn new() -> Self {
        Self {
            state: Cell::new(SEED),
            received: Cell::new(0),
        }
    }

    /// A uniform number in `[0, 1)` (splitmix64).
    fn uniform(&self) -> f64 {
        let mut z = self.state.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        self.state.set(z);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        #[allow(clippy::cast_precision_loss)] // 53 bits, exactly
        let unit = (z >> 11) as f64 / (1u64 << 53) as f64;
        unit
    }

    /// One request's latency: the long tail.
    fn latency(&self) -> Duration {
        let (band, within) = (self.uniform(), self.uniform());
        let (from, to) = match band {
            b if b < 0.90 => (8.0, 20.0),
            b if b < 0.97 => (20.0, 80.0),
            b if b < 0.995 => (200.0, 600.0),
            _ => (1_000.0, 2_000.0),
        };
        Duration::from_secs_f64((from + (to - from) * within) / 1_000.0)
    }

    /// Serves one request.
    async fn serve(&self) -> Result<(), CallError> {
        self.received.set(self.received.get() + 1);
        sleep(self.latency()).await;
        Ok(())
    }
}

/// The plain call.
async fn fetch(dependency: &Dependency) -> Result<(), CallError> {
    dependency.serve().await
}

/// The same call, hedged at p95.
#[hedge(delay = "p95", name = "example-hedged")]
async fn fetch_hedged(dependency: &Dependency) -> Result<(), CallError> {
    dependency.serve().await
}

/// One run's outcome: every call's latency, sorted, and the requests the dependency received.
struct Run {
    name: &'static str,
    latencies: Vec<Duration>,
    received: usize,
}

impl Run {
    /// The latency below which `q` of the calls completed.
    fn percentile(&self, q: f64) -> Duration {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let rank = ((q * self.latencies.len() as f64).ceil() as usize).max(1);
        self.latencies[rank - 1]
    }

    /// Requests received per call made, minus one.
    fn extra_load(&self) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let extra = self.received as f64 / self.latencies.len() as f64 - 1.0;
        extra
    }
}

async fn run(name: &'static str, hedged: bool) -> Run {
    let dependency = Dependency::new();
    let mut latencies = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let start = Instant::now();
        if hedged {
            fetch_hedged(&dependency)
                .await
                .expect("the dependency never fails");
        } else {
            fetch(&dependency)
                .await
                .expect("the dependency never fails");
        }
        latencies.push(start.elapsed());
    }
    latencies.sort_unstable();
    Run {
        name,
        latencies,
        received: dependency.received.get(),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runs = [
        run("without hedging", false).await,
        run("#[hedge(delay = \"p95\")]", true).await,
    ];
    println!("{CALLS} calls each, one after the other, on a paused clock\n");
    println!(
        "{:<26} {:>9} {:>9} {:>9} {:>11}",
        "", "p50 ms", "p99 ms", "p99.9 ms", "extra load"
    );
    for run in &runs {
        println!(
            "{:<26} {:>9.1} {:>9.1} {:>9.1} {:>10.1}%",
            run.name,
            ms(run.percentile(0.50)),
            ms(run.percentile(0.99)),
            ms(run.percentile(0.999)),
            run.extra_load() * 100.0
        );
    }
    if let Some(hedge) = snapshot()
        .into_iter()
        .find(|i| i.kind == InstanceKind::Hedge && i.name == "example-hedged")
    {
        // All zeros unless the `stats` feature is on.
        println!(
            "\nhedges sent: {}, won: {}, refused by the budget: {}",
            hedge.stats.hedges, hedge.stats.hedges_won, hedge.stats.budget_exhausted
        );
    }

    let [plain, hedged] = &runs;
    let cut = ms(plain.percentile(0.99)) / ms(hedged.percentile(0.99));
    println!(
        "\np99 cut {cut:.1} times, p99.9 cut {:.1} times, for {:.1} % more requests",
        ms(plain.percentile(0.999)) / ms(hedged.percentile(0.999)),
        hedged.extra_load() * 100.0
    );
    assert!(
        cut >= P99_CUT_AT_LEAST,
        "hedging at p95 should cut p99 at least {P99_CUT_AT_LEAST} times, cut {cut:.1}"
    );
    assert!(
        hedged.extra_load() <= EXTRA_LOAD_AT_MOST,
        "hedging should add at most 10 % load, added {:.1} %",
        hedged.extra_load() * 100.0
    );
    assert!(
        hedged.percentile(0.50) <= plain.percentile(0.50),
        "the median is not made worse"
    );

    plot(&runs)?;
    println!("plot: {PLOT}");
    Ok(())
}

/// Both latency distributions as the share of calls slower than each latency, on log axes,
/// so the tail is visible.
fn plot(runs: &[Run]) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(PLOT, (1000, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{CALLS} calls to a long-tailed dependency, without and with #[hedge(delay = \"p95\")]"),
            ("sans-serif", 20),
        )
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(72)
        .build_cartesian_2d((5.0..3_000.0).log_scale(), (0.000_05..1.0).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("call latency, ms")
        .y_desc("share of calls slower")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y}"))
        .draw()?;
    let colours = [RGBColor(0xd6, 0x27, 0x28), RGBColor(0x1f, 0x77, 0xb4)];
    for (run, colour) in runs.iter().zip(colours) {
        // 200 points, spaced evenly on the log axis of the share slower.
        let points: Vec<(f64, f64)> = (0..=200)
            .map(|k| {
                let slower = 10f64.powf(-f64::from(k) / 50.0);
                (
                    ms(run.percentile(1.0 - slower)).max(5.0),
                    slower.max(0.000_05),
                )
            })
            .collect();
        chart
            .draw_series(LineSeries::new(points, colour.stroke_width(2)))?
            .label(format!(
                "{}: p99 {:.0} ms, {:.1} % extra requests",
                run.name,
                ms(run.percentile(0.99)),
                run.extra_load() * 100.0
            ))
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

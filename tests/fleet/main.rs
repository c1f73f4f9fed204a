//! The fleet suite (`cargo test --features fleet --test fleet`): several replica processes
//! linked through a `redis-server` of the suite's own, on a free loopback port.
//!
//! A custom harness (`harness = false`): the same binary is the replica
//! (`replica.rs`, started with `RESILIENCE_FLEET_REPLICA`), and the scenarios run one after
//! another, each with its own server and replicas, on the real clock (processes cannot share
//! a paused one), with bounds generous enough for a loaded machine.

#[path = "../common/events.rs"]
mod events;
#[path = "../common/metrics.rs"]
mod recorder;
mod redis;
mod replica;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use self::redis::Redis;

/// The replicas' `sync` (the default): the bound on propagation.
const SYNC: Duration = Duration::from_millis(100);

fn main() {
    if let Ok(url) = std::env::var("RESILIENCE_FLEET_REPLICA") {
        replica::main(&url);
        return;
    }
    assert!(
        redis::installed(),
        "the fleet suite needs `redis-server` (Debian: apt-get install redis-server)"
    );
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let scenarios: &[(&str, fn())] = &[
        (
            "connect_refuses_a_bad_url_and_bad_credentials",
            connect_errors,
        ),
        (
            "a_trip_in_one_replica_opens_every_replica_within_sync",
            trip_propagates,
        ),
        (
            "the_fleet_admits_exactly_half_open_trials",
            half_open_fleet_wide,
        ),
        ("a_crashed_trial_owners_lease_expires", crashed_owner),
        ("three_replicas_share_one_quota", shared_quota),
        (
            "three_replicas_in_an_outage_share_one_retry_budget",
            shared_retry_budget,
        ),
        ("window_modes_aggregate_outcomes_fleet_wide", fleet_window),
        (
            "the_budget_and_the_window_cost_a_few_commands_at_steady_state",
            steady_state_commands,
        ),
        ("redis_killed_and_restarted", redis_restart),
        ("unreachable_at_startup_links_later", unreachable_at_startup),
        // Last: it links this process, so no other scenario may `connect` after it.
        (
            "the_link_reports_each_change_in_status_tracing_and_metrics",
            link_reported,
        ),
    ];
    let mut ran = 0;
    for (name, scenario) in scenarios {
        if filter.as_deref().is_some_and(|f| !name.contains(f)) {
            continue;
        }
        print!("test {name} ... ");
        std::io::stdout().flush().unwrap();
        let start = Instant::now();
        scenario();
        println!("ok ({:.1} s)", start.elapsed().as_secs_f64());
        ran += 1;
    }
    println!("\nfleet: {ran} scenarios passed");
}

/// One replica process and its answers.
struct Replica {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
}

impl Replica {
    fn start(url: &str) -> Replica {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env("RESILIENCE_FLEET_REPLICA", url)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the replica starts");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let mut replica = Replica {
            child,
            stdin,
            lines,
        };
        assert_eq!(replica.read(), "ready");
        replica
    }

    fn read(&mut self) -> String {
        self.lines
            .recv_timeout(Duration::from_secs(20))
            .expect("the replica answers within 20 s")
    }

    fn ask(&mut self, command: &str) -> String {
        writeln!(self.stdin, "{command}").unwrap();
        self.read()
    }

    /// Sends a command now; its answer is read later with [`read`](Self::read).
    fn send(&mut self, command: &str) {
        writeln!(self.stdin, "{command}").unwrap();
    }

    fn number(&mut self, command: &str) -> u64 {
        let answer = self.ask(command);
        answer
            .parse()
            .unwrap_or_else(|_| panic!("{command}: {answer}"))
    }

    /// Waits until `command` answers `expected`, for at most `limit`; how long it took.
    fn wait_for(&mut self, command: &str, expected: &str, limit: Duration) -> Duration {
        let start = Instant::now();
        loop {
            let answer = self.ask(command);
            if answer == expected {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < limit,
                "`{command}` still answers {answer}, not {expected}, after {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `n` replicas linked to `redis`, each with `names` joined (one successful call each).
fn fleet(redis: &Redis, n: usize, names: &[&str]) -> Vec<Replica> {
    let mut replicas: Vec<Replica> = (0..n).map(|_| Replica::start(&redis.url())).collect();
    for replica in &mut replicas {
        replica.wait_for("linked", "true", Duration::from_secs(10));
        for name in names {
            assert_eq!(replica.ask(&format!("call {name} ok")), "ran");
        }
    }
    replicas
}

fn trip(replica: &mut Replica, name: &str) {
    for _ in 0..3 {
        assert_eq!(replica.ask(&format!("call {name} fail")), "ran");
    }
    assert_eq!(replica.ask(&format!("state {name}")), "Open");
}

fn connect_errors() {
    use resilience::fleet::{connect, FleetError, FleetOptions};
    let redis = Redis::start_with(redis::free_port(), &["--requirepass", "secret"]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let bad_url = connect("http://127.0.0.1:1", FleetOptions::default()).await;
        assert!(matches!(bad_url, Err(FleetError::Url(_))), "{bad_url:?}");
        let url = format!("redis://:wrong@127.0.0.1:{}", redis.port);
        let refused = connect(&url, FleetOptions::default()).await;
        assert!(matches!(refused, Err(FleetError::Auth(_))), "{refused:?}");
        let none = connect(&redis.url(), FleetOptions::default()).await;
        assert!(
            matches!(none, Err(FleetError::Auth(_))),
            "{none:?} {:?}",
            resilience::fleet::status()
        );
        assert!(!resilience::fleet::status().linked);
    });
}

fn trip_propagates() {
    let redis = Redis::start();
    let mut replicas = fleet(&redis, 3, &["payment"]);
    trip(&mut replicas[0], "payment");
    for replica in &mut replicas[1..] {
        let took = replica.wait_for("state payment", "Open", Duration::from_secs(5));
        assert!(
            took <= SYNC,
            "opened after {took:?}, more than sync ({SYNC:?})"
        );
        assert_eq!(replica.ask("call payment ok"), "rejected");
        assert_eq!(
            replica.number("calls payment"),
            1,
            "only the joining call ran"
        );
    }
    assert_eq!(replicas[0].number("calls payment"), 4);
}

fn half_open_fleet_wide() {
    let redis = Redis::start();
    let mut replicas = fleet(&redis, 3, &["payment"]);
    trip(&mut replicas[0], "payment");
    for replica in &mut replicas[1..] {
        replica.wait_for("state payment", "Open", Duration::from_secs(5));
    }
    // The open period is 2 s. Every replica probes from 1.8 s to 3.3 s; the trials hold
    // for 1.5 s (less than one open period, so none is taken over), so none ends meanwhile.
    std::thread::sleep(Duration::from_millis(1800));
    for replica in &mut replicas {
        replica.send("storm payment 1500 1500");
    }
    let trials: u64 = replicas
        .iter_mut()
        .map(|r| r.read().parse::<u64>().unwrap())
        .sum();
    assert_eq!(trials, 2, "half_open = 2 trials in the whole fleet");
    // Both succeed: the holder closes, and the close reaches every replica.
    for replica in &mut replicas {
        replica.wait_for("state payment", "Closed", Duration::from_secs(5));
        assert_eq!(replica.ask("call payment ok"), "ran");
    }
}

fn crashed_owner() {
    let redis = Redis::start();
    let mut replicas = fleet(&redis, 2, &["payment"]);
    trip(&mut replicas[0], "payment");
    replicas[1].wait_for("state payment", "Open", Duration::from_secs(5));
    std::thread::sleep(Duration::from_secs(2));
    // Replica 0 alone probes: it takes the lease, admits its 2 trials, and they hang.
    let owner_trials = replicas[0].number("storm payment 600 60000");
    assert_eq!(owner_trials, 2);
    replicas[0].kill();
    // The lease (one open period, 2 s) outlives its owner for a while: no trial meanwhile.
    assert_eq!(replicas[1].number("storm payment 1200 100"), 0);
    // Then it expires, and the survivor takes it: exactly its 2 trials run (they hang too).
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(replicas[1].number("storm payment 1000 60000"), 2);
}

fn shared_quota() {
    let redis = Redis::start();
    let mut replicas = fleet(&redis, 3, &[]);
    // Each replica joins (its first call, before any lease, is the local limiter's), and the
    // quiet second after it lets the fleet's bucket fill up again: a burst of 10.
    for replica in &mut replicas {
        assert_eq!(replica.number("hammer 1"), 1);
    }
    std::thread::sleep(Duration::from_secs(1));
    // 50 per second and a burst of 10 for the fleet: over 3 s, at most 50 × 3.1 + 10 = 165
    // (a lease lives up to `per / 10`), and 5 more for the replicas' windows starting a few
    // milliseconds apart; a replica alone would admit 160, three unshared replicas 480.
    for replica in &mut replicas {
        replica.send("hammer 3000");
    }
    let admitted: Vec<u64> = replicas
        .iter_mut()
        .map(|r| r.read().parse().unwrap())
        .collect();
    let total: u64 = admitted.iter().sum();
    println!("admitted {admitted:?}, {total} in all");
    assert!(total <= 170, "the fleet admitted {total} > 170");
    assert!(
        total >= 120,
        "the fleet admitted only {total}: leases starve it"
    );
    for (replica, admitted) in replicas.iter_mut().zip(&admitted) {
        assert_eq!(
            replica.number("calls quota"),
            admitted + 1,
            "bodies ran = admitted"
        );
    }
}

fn shared_retry_budget() {
    let redis = Redis::start();
    let mut replicas = fleet(&redis, 3, &[]);
    // Each replica joins with a success, then waits for its first push: before it, a
    // replica's own budget decides.
    for replica in &mut replicas {
        assert_eq!(replica.ask("call budget ok"), "ran");
    }
    std::thread::sleep(SYNC * 3);
    // An outage: every call fails and asks for 3 retries. 3 s of a call every 10 ms is
    // about 300 calls per replica, 900 in all (the exact count is reported). The fleet's
    // budget over the window: 0.1 × 900 + one reserve of 10 × 10 = 190 retries; three local
    // budgets would allow 3 × (0.1 × 300 + 100) = 390.
    for replica in &mut replicas {
        replica.send("outage 3000");
    }
    let calls: Vec<u64> = replicas
        .iter_mut()
        .map(|r| r.read().parse().unwrap())
        .collect();
    let runs: Vec<u64> = replicas
        .iter_mut()
        .map(|r| r.number("calls budget") - 1)
        .collect();
    let retries: Vec<u64> = runs
        .iter()
        .zip(&calls)
        .map(|(runs, calls)| runs - calls)
        .collect();
    let (calls, retries_total): (u64, u64) = (calls.iter().sum(), retries.iter().sum());
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let allowance = (0.1 * calls as f64) as u64 + 100;
    println!("{calls} calls, retries {retries:?}: {retries_total} of the fleet's {allowance}");
    // Generous: one period's grants not yet pushed, and the window's edges.
    assert!(
        retries_total <= allowance + allowance / 4,
        "the fleet retried {retries_total} times, over its budget of {allowance}"
    );
    assert!(
        retries_total + allowance / 4 >= allowance,
        "the fleet retried only {retries_total} times of its budget of {allowance}"
    );
    // Every replica was granted some: a fleet-wide budget, not one replica's.
    assert!(retries.iter().all(|r| *r > 0), "{retries:?}");
}

/// `search`: `failure_rate = 0.62` over a window of 10 calls, `min_calls = 10`.
fn fleet_window() {
    let redis = Redis::start();
    let mut replicas = fleet(&redis, 3, &[]);
    let calls = |replica: &mut Replica, outcome: &str, n: usize| {
        for _ in 0..n {
            assert_eq!(replica.ask(&format!("call search {outcome}")), "ran");
        }
    };
    // 1 failed of 4 in each replica: 3 of 12 in the fleet, under the rate.
    for replica in &mut replicas {
        calls(replica, "ok", 3);
        calls(replica, "fail", 1);
    }
    std::thread::sleep(SYNC * 5);
    for replica in &mut replicas {
        assert_eq!(replica.ask("state search"), "Closed");
    }
    // 4 more failures each: 5 failed of 8 in each replica (0.625), fewer than `min_calls`
    // (the replica alone stays closed), but 15 of 24 in the fleet, at the rate: the fleet
    // trips. Every count before the last call is under it (at most 14 of 23, 0.609), so
    // every call runs.
    for replica in &mut replicas {
        calls(replica, "fail", 4);
    }
    for replica in &mut replicas {
        let took = replica.wait_for("state search", "Open", Duration::from_secs(2));
        println!("opened after {took:?}");
        assert_eq!(replica.ask("call search ok"), "rejected");
        assert_eq!(
            replica.number("calls search"),
            8,
            "the 8 calls ran, none since"
        );
    }
}

/// Redis commands per 1 000 calls at steady state, for a `shared` retry budget and a
/// window-mode breaker, each alone in a replica that calls it every millisecond for 3 s.
fn steady_state_commands() {
    let redis = Redis::start();
    for name in ["budget", "search"] {
        let mut replica = Replica::start(&redis.url());
        replica.wait_for("linked", "true", Duration::from_secs(10));
        // Joined, and past the first periods.
        assert!(replica.number(&format!("busy {name} 500")) > 0);
        let before = redis.commands();
        let calls = replica.number(&format!("busy {name} 3000"));
        let after = redis.commands();
        let ran = |command: &str| {
            let count = |all: &[(String, u64)]| {
                all.iter()
                    .find(|(c, _)| c == command)
                    .map_or(0, |(_, n)| *n)
            };
            count(&after) - count(&before)
        };
        let sent = ran("evalsha") + ran("eval") + ran("ping");
        let inside: u64 = after
            .iter()
            .filter(|(c, _)| !["evalsha", "eval", "ping", "info"].contains(&c.as_str()))
            .map(|(c, _)| ran(c))
            .sum();
        #[allow(clippy::cast_precision_loss)]
        let per_1000 = |n: u64| n as f64 * 1000.0 / calls as f64;
        println!(
            "{name}: {calls} calls in 3 s, {sent} commands sent ({:.1} per 1000 calls), \
             {inside} run in scripts ({:.1} per 1000 calls)",
            per_1000(sent),
            per_1000(inside)
        );
        // At most one script per `sync` (the budget) or per three (a steady window), and a
        // `PING` a second: 3 s is at most 30 + 3, whatever the calls (and a little slack).
        assert!(sent <= 40, "{name}: {sent} commands in 3 s");
        assert!(sent >= 1, "{name}: the link kept its field fresh");
        replica.kill();
    }
}

fn redis_restart() {
    let mut redis = Redis::start();
    let mut replicas = fleet(&redis, 2, &["payment", "inventory"]);
    redis.kill();
    for replica in &mut replicas {
        replica.wait_for("linked", "false", Duration::from_secs(10));
    }
    // Local protection holds while unlinked: replica 0 trips alone, and does not call.
    trip(&mut replicas[0], "payment");
    assert_eq!(replicas[0].ask("call payment ok"), "rejected");
    assert_eq!(replicas[0].number("calls payment"), 4);
    // Nothing could propagate: replica 1 still calls.
    assert_eq!(replicas[1].ask("call payment ok"), "ran");
    redis.restart();
    for replica in &mut replicas {
        replica.wait_for("linked", "true", Duration::from_secs(15));
    }
    // Relinked: a new trip propagates again.
    trip(&mut replicas[1], "inventory");
    let took = replicas[0].wait_for("state inventory", "Open", Duration::from_secs(5));
    assert!(took <= SYNC, "opened after {took:?}");
    assert_eq!(replicas[0].ask("call inventory ok"), "rejected");
    assert_eq!(replicas[0].number("calls inventory"), 1);
}

fn unreachable_at_startup() {
    let port = redis::free_port();
    let mut replica = Replica::start(&format!("redis://127.0.0.1:{port}"));
    assert_eq!(replica.ask("linked"), "false");
    assert_eq!(
        replica.ask("call payment ok"),
        "ran",
        "down, the breaker is local"
    );
    let _redis = Redis::start_with(port, &[]);
    replica.wait_for("linked", "true", Duration::from_secs(15));
}

/// This process links (the replicas are other processes): its status, `tracing` events and
/// `metrics` gauge, through a kill and a restart of the server.
fn link_reported() {
    use resilience::fleet::{connect, status, FleetOptions};
    use std::sync::{Arc, Mutex};
    let mut redis = Redis::start();
    let changes = Arc::new(Mutex::new(Vec::new()));
    let captured = Arc::clone(&changes);
    let _events =
        tracing::subscriber::set_default(events::OnEvent(move |event: &tracing::Event<'_>| {
            let fields = events::fields(event);
            if fields.contains("fleet link changed") {
                captured.lock().unwrap().push(fields);
            }
        }));
    let gauge = recorder::Recorded::default();
    let linked_gauge = || gauge.get("resilience_fleet_linked{}");
    metrics::with_local_recorder(&gauge, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            assert_eq!(status().since, None, "no link before `connect`");
            let mut options = FleetOptions::default();
            options.connect_timeout = Duration::from_millis(500);
            connect(&redis.url(), options).await.expect("connect");
            // The link task reports it linked at its first turn on the runtime.
            let up = until(|| status().linked, Duration::from_secs(1)).await;
            assert!(up.since.is_some() && up.last_error.is_none(), "{up:?}");
            assert_eq!(linked_gauge(), Some(1.0));
            redis.kill();
            let down = until(|| !status().linked, Duration::from_secs(10)).await;
            assert!(down.last_error.is_some(), "{down:?}");
            assert!(down.since > up.since, "{down:?} after {up:?}");
            assert_eq!(linked_gauge(), Some(0.0));
            redis.restart();
            let again = until(|| status().linked, Duration::from_secs(15)).await;
            assert!(again.since > down.since, "{again:?}");
            assert_eq!(linked_gauge(), Some(1.0));
        });
    });
    let changes = changes.lock().unwrap().clone();
    assert_eq!(changes.len(), 3, "{changes:#?}");
    assert!(changes[0].ends_with("linked=true"), "{}", changes[0]);
    assert!(changes[1].contains("linked=false error="), "{}", changes[1]);
    assert!(changes[2].ends_with("linked=true"), "{}", changes[2]);
}

/// Waits (on the real clock, letting the link run) until `done`, for at most `limit`; the
/// status then.
async fn until(done: impl Fn() -> bool, limit: Duration) -> resilience::fleet::FleetStatus {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < limit,
            "{:?} after {limit:?}",
            resilience::fleet::status()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    resilience::fleet::status()
}

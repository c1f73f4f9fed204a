//! A fleet of replicas losing a dependency, with and without a `shared` breaker.
//!
//! ```text
//! cargo run --features fleet --example fleet
//! ```
//!
//! Needs `redis-server` (Debian: `apt-get install redis-server`); the example starts its own
//! on a free loopback port and stops it. It then starts 4 replica processes (this same
//! program, started again with `RESILIENCE_FLEET_EXAMPLE` set) calling a dependency — a TCP
//! listener in this process — through a breaker with `threshold = 5` and `timeout = "1s"`.
//! Their load is uneven, as a fleet's is: replica `i` calls every `10 × (i + 1)` ms (100,
//! 50, 33 and 25 calls a second). After two seconds the example takes the dependency down
//! (closes the listener), and four seconds later asks every replica how many of its calls
//! reached the dead dependency (bodies that ran and failed). It does this twice, with two
//! functions identical but for their attribute:
//!
//! | run | attribute |
//! |---|---|
//! | local | `#[circuit_breaker(name = "inventory_local", threshold = 5, timeout = "1s")]` |
//! | shared | `#[circuit_breaker(name = "inventory", shared, threshold = 5, timeout = "1s")]` |
//!
//! Local, each replica discovers the outage alone (5 failures each: threshold × 4 = 20)
//! and then sends its own half-open trial every second. Shared, the busiest replica's trip
//! stops the fleet (the others had had 1 or 2 failures by then: consecutive counts stay per
//! replica, so with every replica failing in lockstep each would still trip at its own
//! threshold), and the fleet sends one trial per open period in all.

// The fleet suite's server: started on a free port, waited for, stopped on drop.
#[allow(dead_code)] // the suite's kill, restart and command counts
#[path = "../tests/fleet/redis.rs"]
mod redis_server;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use resilience::{circuit_breaker, fleet, Rejected};

const REPLICAS: usize = 4;

#[derive(Debug)]
enum Error {
    Down,
    Rejected,
}

impl From<Rejected> for Error {
    fn from(_: Rejected) -> Self {
        Error::Rejected
    }
}

/// Calls whose body ran and found the dependency down.
static REACHED_DEAD: AtomicU64 = AtomicU64::new(0);

async fn dependency(port: u16) -> Result<(), Error> {
    match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
        Ok(_) => Ok(()),
        Err(_) => {
            REACHED_DEAD.fetch_add(1, Ordering::SeqCst);
            Err(Error::Down)
        }
    }
}

#[circuit_breaker(name = "inventory_local", threshold = 5, timeout = "1s")]
async fn local(port: u16) -> Result<(), Error> {
    dependency(port).await
}

#[circuit_breaker(name = "inventory", shared, threshold = 5, timeout = "1s")]
async fn shared(port: u16) -> Result<(), Error> {
    dependency(port).await
}

fn main() {
    if let Ok(args) = std::env::var("RESILIENCE_FLEET_EXAMPLE") {
        return replica(&args);
    }
    if !redis_server::installed() {
        eprintln!(
            "examples/fleet.rs needs `redis-server` on the PATH (Debian/Ubuntu: \
             `sudo apt-get install redis-server`; macOS: `brew install redis`)."
        );
        std::process::exit(1);
    }
    let redis = redis_server::Redis::start();
    let url = redis.url();
    println!(
        "redis-server on {url}; {REPLICAS} replicas, a breaker with threshold = 5, timeout = 1s\n"
    );
    let local_total = run(&url, "local");
    let shared_total = run(&url, "shared");
    drop(redis);
    println!(
        "calls that reached the dead dependency in 4 s, fleet-wide: {local_total} local, {shared_total} shared"
    );
    assert!(
        local_total >= 5 * REPLICAS as u64,
        "each local replica trips alone"
    );
    assert!(
        shared_total * 2 < local_total,
        "the shared breaker spares the dependency at least half of the local fleet's calls"
    );
}

/// One run: the replicas, the dependency up for a second, then down for two.
fn run(url: &str, mode: &str) -> u64 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let dep_port = listener.local_addr().unwrap().port();
    let accept = std::thread::spawn(move || {
        listener.set_nonblocking(true).unwrap();
        let until = Instant::now() + Duration::from_secs(2);
        while Instant::now() < until {
            let _ = listener.accept();
            std::thread::sleep(Duration::from_millis(1));
        }
        // Dropped: connections are refused from now on.
    });
    let start = Instant::now();
    let mut replicas: Vec<(Child, _)> = (0..REPLICAS)
        .map(|i| {
            let every = 10 * (i + 1);
            let mut child = Command::new(std::env::current_exe().unwrap())
                .env(
                    "RESILIENCE_FLEET_EXAMPLE",
                    format!("{url} {mode} {dep_port} {every}"),
                )
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("a replica starts");
            let lines = BufReader::new(child.stdout.take().unwrap()).lines();
            (child, lines)
        })
        .collect();
    println!("[{mode}] t=0.0s  {REPLICAS} replicas call the dependency every 10, 20, 30, 40 ms");
    accept.join().unwrap();
    println!(
        "[{mode}] t={:.1}s  the dependency goes down",
        start.elapsed().as_secs_f64()
    );
    std::thread::sleep(Duration::from_secs(4));
    let mut counts = Vec::new();
    for (child, lines) in &mut replicas {
        writeln!(child.stdin.as_mut().unwrap(), "report").unwrap();
        let line = lines.find_map(|l| l.ok().filter(|l| l.starts_with("reached")));
        let count: u64 = line.unwrap()["reached ".len()..].parse().unwrap();
        counts.push(count);
        let _ = child.kill();
        let _ = child.wait();
    }
    let total = counts.iter().sum();
    println!(
        "[{mode}] t={:.1}s  calls that reached the dead dependency, per replica {counts:?}: {total}\n",
        start.elapsed().as_secs_f64()
    );
    total
}

/// A replica: links to the fleet, calls every `every`, answers `report` on stdin.
fn replica(args: &str) {
    let mut args = args.split(' ');
    let (url, mode, port, every) = (
        args.next().unwrap().to_owned(),
        args.next().unwrap().to_owned(),
        args.next().unwrap().parse::<u16>().unwrap(),
        Duration::from_millis(args.next().unwrap().parse().unwrap()),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        fleet::connect(&url, fleet::FleetOptions::default())
            .await
            .expect("connect");
        tokio::spawn(async move {
            loop {
                let _ = if mode == "shared" {
                    shared(port).await
                } else {
                    local(port).await
                };
                tokio::time::sleep(every).await;
            }
        });
        let line = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).map(|_| line)
        })
        .await;
        if line.is_ok() {
            println!("reached {}", REACHED_DEAD.load(Ordering::SeqCst));
        }
    });
}

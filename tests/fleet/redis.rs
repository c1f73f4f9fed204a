//! A `redis-server` of the test's own, on a free loopback port, stopped when dropped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) struct Redis {
    child: Option<Child>,
    pub(crate) port: u16,
    args: Vec<String>,
}

/// Whether `redis-server` is installed (`.ci/run` installs it with apt).
pub(crate) fn installed() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A loopback port nobody listens on now.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

impl Redis {
    pub(crate) fn start() -> Redis {
        Self::start_with(free_port(), &[])
    }

    /// On `port`, with extra arguments (`--requirepass`, ...).
    pub(crate) fn start_with(port: u16, extra: &[&str]) -> Redis {
        let mut redis = Redis {
            child: None,
            port,
            args: extra.iter().map(|s| (*s).to_owned()).collect(),
        };
        redis.restart();
        redis
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again), and waits until it answers.
    pub(crate) fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.answers() {
            assert!(
                Instant::now() < deadline,
                "redis-server answered within 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server at once (SIGKILL: no goodbye to its clients).
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// How many times the server ran each command (`INFO commandstats`): the commands of
    /// the clients, and those run inside their scripts.
    pub(crate) fn commands(&self) -> Vec<(String, u64)> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("redis answers");
        stream.write_all(b"INFO commandstats\r\n").unwrap();
        let mut reply = Vec::new();
        let mut buffer = [0u8; 4096];
        // `$<length>\r\n<text>\r\n`
        let length = loop {
            let n = stream.read(&mut buffer).unwrap();
            assert!(n > 0, "INFO answered");
            reply.extend_from_slice(&buffer[..n]);
            let text = String::from_utf8_lossy(&reply);
            if let Some(end) = text.find("\r\n") {
                let length: usize = text[1..end].parse().unwrap();
                break end + 2 + length;
            }
        };
        while reply.len() < length {
            let n = stream.read(&mut buffer).unwrap();
            assert!(n > 0, "INFO answered in full");
            reply.extend_from_slice(&buffer[..n]);
        }
        String::from_utf8_lossy(&reply)
            .lines()
            .filter_map(|line| {
                let (name, stats) = line.strip_prefix("cmdstat_")?.split_once(':')?;
                let calls = stats
                    .strip_prefix("calls=")?
                    .split(',')
                    .next()?
                    .parse()
                    .ok()?;
                Some((name.to_owned(), calls))
            })
            .collect()
    }

    fn answers(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        if stream.write_all(b"PING\r\n").is_err() {
            return false;
        }
        let mut reply = [0u8; 64];
        // `+PONG`, or `-NOAUTH` from a server with a password: either way it is up.
        stream.read(&mut reply).is_ok_and(|n| n > 0)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

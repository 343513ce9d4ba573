//! A real `redis-server` for the store's tests (`serve --store redis://…`):
//! Debian's binary on a free loopback port, in a temporary directory, with
//! nothing saved (`--save '' --appendonly no`); killed when dropped. It can
//! be paused (SIGSTOP) and resumed (SIGCONT) to play an unreachable store.
//!
//! Without `redis-server` the tests that need one skip with a note on
//! stderr, unless `MINIMAX_MOCK_REQUIRE_REDIS=1` (as in `.ci/run`): then
//! they fail.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Set to `1` to make a missing `redis-server` fail the tests instead of skipping them.
pub const REQUIRE_ENV: &str = "MINIMAX_MOCK_REQUIRE_REDIS";

/// A running `redis-server`.
pub struct Redis {
    child: Child,
    pub port: u16,
    dir: PathBuf,
}

/// Names the `redis-server` to use instead of looking for one (a path that
/// is not a file: as if none were installed).
pub const BINARY_ENV: &str = "MINIMAX_MOCK_REDIS_SERVER";

/// `$MINIMAX_MOCK_REDIS_SERVER`, else `redis-server` on PATH, else Debian's
/// `/usr/bin/redis-server`.
pub fn binary() -> Option<PathBuf> {
    if let Some(named) = std::env::var_os(BINARY_ENV) {
        let named = PathBuf::from(named);
        return named.is_file().then_some(named);
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("redis-server"))
            .find(|candidate| candidate.is_file())
    });
    on_path.or_else(|| {
        let debian = PathBuf::from("/usr/bin/redis-server");
        debian.is_file().then_some(debian)
    })
}

/// A fresh `redis-server` for the test `name`, or `None` (with a note on
/// stderr) when there is none on this machine and it is not required.
pub fn start_or_skip(name: &str) -> Option<Redis> {
    let Some(binary) = binary() else {
        if std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1") {
            panic!("{name}: redis-server is not installed (not on PATH, no /usr/bin/redis-server) and {REQUIRE_ENV}=1");
        }
        eprintln!("note: {name} skipped: redis-server is not installed (apt-get install redis-server; {REQUIRE_ENV}=1 makes this a failure)");
        return None;
    };
    Some(Redis::start(&binary, name))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Redis {
    /// Starts `binary` on a free port and waits (at most 10 s) until it
    /// answers PING. A port taken between choosing and binding it is tried
    /// again with another.
    pub fn start(binary: &std::path::Path, name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "minimax-mock-redis-{name}-{}-{}",
            std::process::id(),
            free_port()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for _ in 0..5 {
            let port = free_port();
            let mut child = Command::new(binary)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .arg("--dir")
                .arg(&dir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
            let deadline = Instant::now() + Duration::from_secs(10);
            let mut exited = false;
            while Instant::now() < deadline {
                if child.try_wait().unwrap().is_some() {
                    exited = true; // most likely: the port was taken meanwhile
                    break;
                }
                if ping(port, Duration::from_millis(200)) {
                    return Self { child, port, dir };
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            if !exited {
                let _ = child.kill();
            }
            let _ = child.wait();
            assert!(exited, "redis-server on port {port} did not answer PING within 10 s");
        }
        panic!("redis-server would not start on a free port (5 tries)");
    }

    /// `redis://127.0.0.1:PORT/DB`, what `--store` takes.
    pub fn url(&self, db: u32) -> String {
        format!("redis://127.0.0.1:{}/{db}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGSTOP: the server keeps its connections open and answers nothing.
    pub fn pause(&self) {
        signal(self.pid(), libc::SIGSTOP);
    }

    /// SIGCONT, then waits (at most 5 s) until it answers PING again.
    pub fn resume(&self) {
        signal(self.pid(), libc::SIGCONT);
        let deadline = Instant::now() + Duration::from_secs(5);
        while !ping(self.port, Duration::from_millis(200)) {
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer PING after SIGCONT"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Whether it answers PING within `wait`.
    pub fn answers(&self, wait: Duration) -> bool {
        ping(self.port, wait)
    }

    /// `redis-cli -p PORT ARGS…`: its standard output, trimmed.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli");
        assert!(
            out.status.success(),
            "redis-cli {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    /// A field of `INFO` (`used_memory`, `connected_clients`, …) as a number.
    pub fn info(&self, field: &str) -> u64 {
        let info = self.cli(&["info"]);
        info.lines()
            .find_map(|line| line.strip_prefix(&format!("{field}:")))
            .unwrap_or_else(|| panic!("no {field} in INFO"))
            .trim()
            .parse()
            .unwrap()
    }

    /// How many keys database `db` holds.
    pub fn dbsize(&self, db: u32) -> u64 {
        self.cli(&["-n", &db.to_string(), "dbsize"]).parse().unwrap()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        // A paused server would not die of SIGTERM; SIGKILL does either way.
        signal(self.pid(), libc::SIGCONT);
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Sends `signal` to process `pid` (one we started).
pub fn signal(pid: u32, signal: libc::c_int) {
    let pid = libc::pid_t::try_from(pid).unwrap();
    // SAFETY: kill(2) with a pid of a child of ours and a valid signal.
    let sent = unsafe { libc::kill(pid, signal) };
    assert_eq!(sent, 0, "kill({pid}, {signal}): {}", std::io::Error::last_os_error());
}

/// One `PING` on a fresh connection, answered `+PONG` within `wait`.
fn ping(port: u16, wait: Duration) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), wait) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(wait));
    let _ = stream.set_write_timeout(Some(wait));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut answer = [0u8; 7];
    stream.read_exact(&mut answer).is_ok() && &answer == b"+PONG\r\n"
}

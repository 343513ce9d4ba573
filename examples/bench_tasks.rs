//! A million tasks: resident memory of the task store, and how fast one task
//! among them is polled against one among ten, in the same run. Run it
//! through `bench/tasks.sh`.
//!
//! Env: TASKS (default 1,000,000), DURATION (wrk -d, default 10s).

#[path = "support/bench.rs"]
mod bench;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Instant;

use bench::{free_port, rss_kb, spawn_until_ready, wrk, Load};

/// A lifecycle that stays IN_PROGRESS for the whole run, so every poll renders.
const SCENARIOS: &str = r#"{"default": "bench", "scenarios": {"bench": {"steps": [
    {"status": "IN_PROGRESS", "for": "1h"}, {"status": "SUCCESS"}]}}}"#;

fn start(mock: &PathBuf, scenarios: &PathBuf) -> (Child, u16) {
    let port = free_port();
    let mut cmd = Command::new(mock);
    // No control API: no journal (it keeps the last 10,000 requests).
    cmd.args([
        "serve",
        "--quiet",
        "--no-control",
        "--max-tasks",
        "2000000",
        "--port",
        &port.to_string(),
        "--scenarios",
    ])
    .arg(scenarios);
    let (child, _) = spawn_until_ready(
        &mut cmd,
        port,
        "/minimax/v1/query/video_generation?task_id=306792606023824",
    );
    (child, port)
}

/// Submits `n` tasks over `connections` keep-alive connections; one task id
/// from the middle.
fn submit(port: u16, n: usize, connections: usize) -> String {
    let body = r#"{"model":"MiniMax-Hailuo-02","prompt":"A cat plays the piano"}"#;
    let request = format!(
        "POST /minimax/v1/video_generation HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let threads: Vec<_> = (0..connections)
        .map(|c| {
            let request = request.clone();
            std::thread::spawn(move || {
                let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
                let _ = stream.set_nodelay(true);
                let mut buf = vec![0u8; 4096];
                let mut middle = String::new();
                let count = n / connections + usize::from(c < n % connections);
                for i in 0..count {
                    stream.write_all(request.as_bytes()).unwrap();
                    let mut got = 0;
                    let text = loop {
                        got += stream.read(&mut buf[got..]).unwrap();
                        let text = String::from_utf8_lossy(&buf[..got]).into_owned();
                        if let Some((head, rest)) = text.split_once("\r\n\r\n") {
                            let len: usize = head
                                .lines()
                                .find_map(|l| {
                                    l.to_ascii_lowercase()
                                        .strip_prefix("content-length:")
                                        .map(|v| v.trim().parse().unwrap())
                                })
                                .unwrap_or(0);
                            if rest.len() >= len {
                                break rest.to_owned();
                            }
                        }
                    };
                    if c == 0 && i == count / 2 {
                        middle = text
                            .split("\"task_id\":\"")
                            .nth(1)
                            .unwrap()
                            .split('"')
                            .next()
                            .unwrap()
                            .to_owned();
                    }
                }
                middle
            })
        })
        .collect();
    // Every thread is joined (all submits done) before a task id is picked.
    let middles: Vec<String> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    middles.into_iter().find(|m| !m.is_empty()).unwrap()
}

fn poll(port: u16, task: &str) -> Load {
    wrk(port, &format!("/minimax/v1/query/video_generation?task_id={task}"))
}

fn main() {
    let target_dir = PathBuf::from(std::env::var("TARGET_DIR").unwrap_or_else(|_| "target/release".to_owned()));
    let mock = target_dir.join("minimax-mock");
    assert!(mock.exists(), "{} is missing: run bench/tasks.sh", mock.display());
    let n: usize = std::env::var("TASKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let work = std::env::temp_dir().join(format!("minimax-mock-bench-tasks-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let scenarios = work.join("scenarios.json");
    std::fs::write(&scenarios, SCENARIOS).unwrap();

    // Ten tasks: the baseline for polling.
    let (mut small, port) = start(&mock, &scenarios);
    let few = submit(port, 10, 1);
    let baseline = poll(port, &few);
    let _ = small.kill();
    let _ = small.wait();

    let (mut big, port) = start(&mock, &scenarios);
    let idle = rss_kb(big.id());
    let started = Instant::now();
    let one = submit(port, n, 4);
    let took = started.elapsed().as_secs_f64();
    let full = rss_kb(big.id());
    let among = poll(port, &one);
    let _ = big.kill();
    let _ = big.wait();
    let _ = std::fs::remove_dir_all(&work);

    let grown_mb = (full.saturating_sub(idle)) as f64 / 1024.0;
    let per_task = (full.saturating_sub(idle)) as f64 * 1024.0 / n as f64;
    let ratio = among.rps / baseline.rps;
    let verdict = |ok: bool| if ok { "ok" } else { "MISSED" };
    println!("submitted {n} tasks in {took:.1} s ({:.0}/s)", n as f64 / took);
    println!(
        "resident memory: idle {:.1} MB, with {n} tasks {:.1} MB: +{grown_mb:.1} MB, {per_task:.0} bytes a task (target <= 300: {})",
        idle as f64 / 1024.0,
        full as f64 / 1024.0,
        verdict(per_task <= 300.0)
    );
    println!(
        "poll one task among {n}: {:.0} req/s, p99 {:.3} ms; among 10: {:.0} req/s, p99 {:.3} ms: {:.0}% (target >= 90%: {}) {}",
        among.rps,
        among.p99_ms,
        baseline.rps,
        baseline.p99_ms,
        ratio * 100.0,
        verdict(ratio >= 0.9),
        among.errors
    );
}

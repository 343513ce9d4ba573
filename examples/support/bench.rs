//! What the benchmark programs share: free ports, raw HTTP, resident
//! memory, starting a server until it answers, and wrk's numbers.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Load {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: String,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn request(port: u16, raw: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.write_all(raw.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let status = out.split(' ').nth(1)?.parse().ok()?;
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Some((status, body))
}

pub fn get(port: u16, target: &str) -> Option<(u16, String)> {
    request(
        port,
        &format!("GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"),
    )
}

pub fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Spawns `cmd` and polls until `target` answers 200: the start-up time.
// The child goes back to the caller, whose `load` kills and waits for it.
#[allow(clippy::zombie_processes)]
pub fn spawn_until_ready(cmd: &mut Command, port: u16, target: &str) -> (Child, f64) {
    let started = Instant::now();
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn server");
    loop {
        if let Some((200, _)) = get(port, target) {
            return (child, started.elapsed().as_secs_f64() * 1000.0);
        }
        if started.elapsed() > Duration::from_secs(10) {
            let mut child = child;
            let _ = child.kill();
            let _ = child.wait();
            panic!("server did not answer 200 within 10 s");
        }
        std::thread::yield_now();
    }
}

fn ms(text: &str) -> f64 {
    let (num, unit) = text.split_at(text.find(|c: char| c.is_alphabetic()).unwrap_or(text.len()));
    let n: f64 = num.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        _ => f64::NAN,
    }
}

/// wrk on `target` with THREADS, CONNECTIONS and DURATION from the
/// environment (2, 50, 10s).
pub fn wrk(port: u16, target: &str) -> Load {
    let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_owned());
    wrk_with(
        port,
        target,
        &[
            "-t",
            &env("THREADS", "2"),
            "-c",
            &env("CONNECTIONS", "50"),
            "-d",
            &env("DURATION", "10s"),
        ],
    )
}

/// wrk on `target` with these arguments (`-t`, `-c`, `-d`, `-s SCRIPT`, ...).
pub fn wrk_with(port: u16, target: &str, args: &[&str]) -> Load {
    let out = Command::new("wrk")
        .args(args)
        .args(["--latency", &format!("http://127.0.0.1:{port}{target}")])
        .output()
        .expect("wrk is installed (bench/serve.sh installs it)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let field = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(prefix))
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    let errors = text
        .lines()
        .filter(|l| l.contains("Non-2xx") || l.contains("Socket errors"))
        .collect::<Vec<_>>()
        .join("; ");
    Load {
        rps: field("Requests/sec:").parse().unwrap_or(0.0),
        p50_ms: ms(&field("50%")),
        p99_ms: ms(&field("99%")),
        errors,
    }
}

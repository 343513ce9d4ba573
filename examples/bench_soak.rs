//! A soak: 256 connections polling live tasks for a minute (wrk, rotating
//! over the tasks); errors (expected 0) and resident memory at the start
//! and the end (expected flat). Run it through `bench/soak.sh`.
//!
//! Env: DURATION (default 60s), CONNECTIONS (default 256).

#[path = "support/bench.rs"]
mod bench;

use std::path::PathBuf;
use std::process::Command;

use bench::{free_port, request, rss_kb, spawn_until_ready, wrk_with};

fn main() {
    let target_dir = PathBuf::from(std::env::var("TARGET_DIR").unwrap_or_else(|_| "target/release".to_owned()));
    let mock = target_dir.join("minimax-mock");
    assert!(mock.exists(), "{} is missing: run bench/soak.sh", mock.display());
    let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_owned());
    let (duration, connections) = (env("DURATION", "60s"), env("CONNECTIONS", "256"));
    let work = std::env::temp_dir().join(format!("minimax-mock-soak-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();

    let port = free_port();
    let mut cmd = Command::new(&mock);
    // The default lifecycle in real time (10 s), so tasks move while polled;
    // the control API and its journal stay on, as a developer runs it.
    cmd.args(["serve", "--quiet", "--port", &port.to_string()]);
    let (mut child, _) = spawn_until_ready(&mut cmd, port, "/__mock/health");
    let body = r#"{"model":"MiniMax-Hailuo-02","prompt":"soak"}"#;
    let tasks: Vec<String> = (0..256)
        .map(|_| {
            let raw = format!(
                "POST /minimax/v1/video_generation HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            let (_, answer) = request(port, &raw).expect("submit");
            answer.split("\"task_id\":\"").nth(1).unwrap().split('"').next().unwrap().to_owned()
        })
        .collect();
    // wrk picks a task per request, round robin over the 256.
    let script = work.join("rotate.lua");
    let ids = tasks.iter().map(|t| format!("\"{t}\"")).collect::<Vec<_>>().join(",");
    std::fs::write(
        &script,
        format!(
            "local ids = {{{ids}}}\nlocal i = 0\nrequest = function()\n  i = i % #ids + 1\n  return wrk.format(\"GET\", \"/minimax/v1/query/video_generation?task_id=\" .. ids[i])\nend\n"
        ),
    )
    .unwrap();
    let start_rss = rss_kb(child.id());
    let wrk = {
        let (connections, duration, script) = (connections.clone(), duration.clone(), script.clone());
        std::thread::spawn(move || {
            let script = script.to_str().unwrap().to_owned();
            wrk_with(
                port,
                "/",
                &["-t", "2", "-c", &connections, "-d", &duration, "-s", &script],
            )
        })
    };
    // Resident memory every 10 s under load: flat once the journal (the
    // last 10,000 requests) and the connections' buffers are full.
    let mut samples = Vec::new();
    while !wrk.is_finished() {
        std::thread::sleep(std::time::Duration::from_secs(10));
        if !wrk.is_finished() {
            samples.push(rss_kb(child.id()));
        }
    }
    let load = wrk.join().unwrap();
    let end_rss = rss_kb(child.id());
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&work);
    println!(
        "{connections} connections for {duration} on 256 live tasks: {:.0} req/s, p50 {:.3} ms, p99 {:.3} ms, errors: {}",
        load.rps,
        load.p50_ms,
        load.p99_ms,
        if load.errors.is_empty() { "0" } else { &load.errors }
    );
    let series: Vec<String> = samples.iter().map(|kb| format!("{:.1}", *kb as f64 / 1024.0)).collect();
    println!(
        "resident memory: {:.1} MB before the load, every 10 s under load: {} MB, {:.1} MB at the end",
        start_rss as f64 / 1024.0,
        series.join(", "),
        end_rss as f64 / 1024.0
    );
}

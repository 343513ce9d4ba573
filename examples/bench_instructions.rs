//! What a request costs, in user-space instructions under valgrind's
//! callgrind: stable to a few tenths of a percent, where req/s on these
//! shared 2-core machines swings ±15% from run to run.
//!
//! Each target runs twice under callgrind, once with `FEW` and once with
//! `FEW + MEASURED` requests on one keep-alive connection; the difference
//! of the totals divided by `MEASURED` is the cost of a request, start-up
//! and shutdown subtracted. A bare hyper server answering fixed bytes
//! (`examples/bare.rs`) is the ceiling every target is compared with.
//! Run it through `bench/instructions.sh`, which builds what it needs.
//!
//! Env: TARGET_DIR (default target/release), MEASURED (default 3000),
//! ONLY (run only the targets whose name contains this), KEEP (a directory
//! to keep the callgrind files in, for `callgrind_annotate`).

#[path = "support/bench.rs"]
mod bench;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bench::{free_port, request};

const FEW: usize = 200;

/// How a target gets the path it loads, once the server answers.
#[derive(Clone, Copy)]
enum Setup {
    /// A fixed path.
    Path(&'static str),
    /// Submit a task through `submit` (path, body), then poll `query` with
    /// `{id}` replaced by the task id the answer named under `key`.
    Task {
        submit: &'static str,
        body: &'static str,
        key: &'static str,
        query: &'static str,
    },
}

struct Target {
    name: &'static str,
    /// `None`: the bare server, answering a captured live gateway answer.
    mock_args: Option<&'static [&'static str]>,
    setup: Setup,
    /// Goal as a multiple of bare (journal on / off).
    goal: Option<f64>,
}

const GATEWAY_SUBMIT: &str = "/minimax/v1/video_generation";
const V1_BODY: &str = r#"{"model":"MiniMax-Hailuo-02","prompt":"cat"}"#;
const V2_BODY: &str = r#"{"model":"MiniMax-H3","content":[{"type":"text","text":"cat"}],"ratio":"16:9","resolution":"768P","duration":5}"#;
const DOCUMENTED: &str = "/minimax/v1/query/video_generation?task_id=306792606023824";

fn targets() -> Vec<Target> {
    let gateway_task = Setup::Task {
        submit: GATEWAY_SUBMIT,
        body: V1_BODY,
        key: "task_id",
        query: "/minimax/v1/query/video_generation?task_id={id}",
    };
    vec![
        Target {
            name: "bare hyper, fixed bytes",
            mock_args: None,
            setup: Setup::Path(DOCUMENTED),
            goal: None,
        },
        Target {
            name: "documented example (gateway)",
            mock_args: Some(&[]),
            setup: Setup::Path(DOCUMENTED),
            goal: Some(1.4),
        },
        Target {
            name: "live gateway task, journal on",
            mock_args: Some(&[]),
            setup: gateway_task,
            goal: Some(1.4),
        },
        Target {
            name: "live gateway task, --no-control",
            mock_args: Some(&["--no-control"]),
            setup: gateway_task,
            goal: Some(1.25),
        },
        Target {
            name: "live gateway task, namespaced",
            mock_args: Some(&[]),
            setup: Setup::Task {
                submit: "/ns/bench/minimax/v1/video_generation",
                body: V1_BODY,
                key: "task_id",
                query: "/ns/bench/minimax/v1/query/video_generation?task_id={id}",
            },
            goal: Some(1.4),
        },
        Target {
            name: "live native task",
            mock_args: Some(&[]),
            setup: Setup::Task {
                submit: "/v1/video_generation",
                body: V1_BODY,
                key: "task_id",
                query: "/v1/query/video_generation?task_id={id}",
            },
            goal: Some(1.4),
        },
        Target {
            name: "live OpenAI-compatible task",
            mock_args: Some(&[]),
            setup: Setup::Task {
                submit: "/v1/videos",
                body: r#"{"prompt":"cat"}"#,
                key: "id",
                query: "/v1/videos/{id}",
            },
            goal: Some(1.4),
        },
        Target {
            name: "live v2 task",
            mock_args: Some(&[]),
            setup: Setup::Task {
                submit: "/v2/video_generation",
                body: V2_BODY,
                key: "task_id",
                query: "/v2/query/video_generation/{id}",
            },
            goal: Some(1.4),
        },
    ]
}

fn main() {
    let target_dir = PathBuf::from(std::env::var("TARGET_DIR").unwrap_or_else(|_| "target/release".to_owned()));
    let mock = target_dir.join("minimax-mock");
    let bare = target_dir.join("examples/bare");
    for bin in [&mock, &bare] {
        assert!(bin.exists(), "{} is missing: run bench/instructions.sh", bin.display());
    }
    let measured: usize = std::env::var("MEASURED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let only = std::env::var("ONLY").ok();
    let work = std::env::temp_dir().join(format!("minimax-mock-instructions-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let scenarios = work.join("scenarios.json");
    // Stays IN_PROGRESS for the whole run, so every request renders.
    std::fs::write(
        &scenarios,
        r#"{"scenarios": {"bench": {"steps": [
            {"status": "QUEUED", "for": "1ms"},
            {"status": "IN_PROGRESS", "for": "10h"},
            {"status": "SUCCESS"}]}}}"#,
    )
    .unwrap();

    let all = targets();
    // The bare server serves a captured answer of the mock's live task.
    let captured = work.join("captured.json");
    std::fs::write(&captured, capture(&mock, &scenarios, &all[2])).unwrap();

    let mut rows: Vec<(&str, f64, Option<f64>)> = Vec::new();
    for target in &all {
        if only.as_deref().is_some_and(|o| !target.name.contains(o)) && target.mock_args.is_some() {
            continue;
        }
        let cost = |n: usize| -> u64 {
            let out = work.join(format!("callgrind.{}.{n}", rows.len()));
            let port = free_port();
            let mut cmd = Command::new("valgrind");
            cmd.args(["--tool=callgrind", "--quiet"])
                .arg(format!("--callgrind-out-file={}", out.display()));
            match target.mock_args {
                Some(args) => {
                    cmd.arg(&mock)
                        .args(["serve", "--quiet", "--port", &port.to_string(), "--scenarios"])
                        .arg(&scenarios)
                        .args(args);
                }
                None => {
                    cmd.arg(&bare)
                        .args(["--port", &port.to_string(), "--body"])
                        .arg(&captured);
                }
            }
            let mut child = start(cmd, port);
            let path = prepare(port, target.setup);
            drive(port, &path, n);
            stop(&mut child);
            let total = totals(&out);
            match std::env::var_os("KEEP") {
                Some(keep) => {
                    let name: String = target
                        .name
                        .chars()
                        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                        .collect();
                    let kept = Path::new(&keep).join(format!("{name}.{n}.callgrind"));
                    std::fs::create_dir_all(&keep).unwrap();
                    std::fs::rename(&out, &kept)
                        .or_else(|_| std::fs::copy(&out, &kept).map(drop))
                        .unwrap();
                }
                None => {
                    let _ = std::fs::remove_file(&out);
                }
            }
            total
        };
        let few = cost(FEW);
        let many = cost(FEW + measured);
        let per = many.saturating_sub(few) as f64 / measured as f64;
        println!("{:<34} {:>10.0} instructions per request", target.name, per);
        rows.push((target.name, per, target.goal));
    }
    let Some(&(_, bare_cost, _)) = rows.first() else { return };
    println!();
    println!("| target | instructions per request | × bare | goal |");
    println!("|---|---|---|---|");
    let mut ok = true;
    for (name, per, goal) in &rows {
        let ratio = per / bare_cost;
        let verdict = match goal {
            Some(goal) if ratio <= *goal => format!("≤ {goal:.2}: ok"),
            Some(goal) => {
                ok = false;
                format!("≤ {goal:.2}: MISSED")
            }
            None => String::new(),
        };
        println!("| {name} | {per:.0} | {ratio:.2} | {verdict} |");
    }
    println!("{}", if ok { "all targets met" } else { "some targets missed" });
    let _ = std::fs::remove_dir_all(&work);
}

/// One answer of `target` from a mock run without valgrind: what the bare
/// server serves, byte for byte the mock's own.
fn capture(mock: &Path, scenarios: &Path, target: &Target) -> String {
    let port = free_port();
    let mut cmd = Command::new(mock);
    cmd.args(["serve", "--quiet", "--port", &port.to_string(), "--scenarios"])
        .arg(scenarios);
    let mut child = start(cmd, port);
    let path = prepare(port, target.setup);
    let (_, body) = bench::get(port, &path).expect("a captured answer");
    stop(&mut child);
    body
}

/// Spawns the server and waits (valgrind starts slowly) until it accepts.
fn start(mut cmd: Command, port: u16) -> Child {
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the server (is valgrind installed?)");
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the server never answered"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

/// The path to load: fixed, or a new task's query.
fn prepare(port: u16, setup: Setup) -> String {
    match setup {
        Setup::Path(path) => path.to_owned(),
        Setup::Task {
            submit,
            body,
            key,
            query,
        } => {
            let raw = format!(
                "POST {submit} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nPrefer: scenario=bench\r\n\
                 Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            let (status, answer) = request(port, &raw).expect("submit");
            assert_eq!(status, 200, "submit to {submit}: {answer}");
            let marker = format!("\"{key}\":\"");
            let id = answer
                .split(&marker)
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap_or_else(|| panic!("no {key} in {answer}"));
            // Past the 1 ms QUEUED step.
            std::thread::sleep(Duration::from_millis(20));
            query.replace("{id}", id)
        }
    }
}

/// `n` GETs of `path` on one keep-alive connection, each answer read whole.
fn drive(port: u16, path: &str, n: usize) {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_nodelay(true).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let raw = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let mut line = String::new();
    let mut body = Vec::new();
    for i in 0..n {
        writer.write_all(raw.as_bytes()).unwrap();
        let mut length = 0;
        line.clear();
        reader.read_line(&mut line).unwrap();
        assert!(line.starts_with("HTTP/1.1 200"), "request {i} of {path}: {line}");
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
        }
        body.resize(length, 0);
        reader.read_exact(&mut body).unwrap();
    }
}

/// SIGTERM, which callgrind answers by writing its totals, then waits.
fn stop(child: &mut Child) {
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
}

/// The `totals:` (or `summary:`) line of a callgrind output file.
fn totals(out: &Path) -> u64 {
    let text = std::fs::read_to_string(out).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
    text.lines()
        .find_map(|l| l.strip_prefix("totals:").or_else(|| l.strip_prefix("summary:")))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{}: no totals", out.display()))
}

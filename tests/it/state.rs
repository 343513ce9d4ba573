//! `--state FILE` with the real binary: nothing is lost across a restart,
//! and a bad state file stops start-up and is left untouched.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command};

use crate::common::process::{self, BIN};
use serde_json::Value;
const EPOCH: &str = "1756453472";

fn temp_file(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("minimax-mock-state-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("state.json")
}

fn serve(state: &std::path::Path) -> (Child, String) {
    let state = state.to_str().unwrap();
    process::serve(&["serve", "--quiet", "--epoch", EPOCH, "--frozen", "--state", state])
}

fn stop(child: Child) {
    assert_eq!(process::stop(child, "TERM").0, Some(0));
}

fn http(addr: &str, method: &str, target: &str, body: &str) -> (u16, Value) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nPrefer: scenario=success-polls\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split(' ').nth(1).unwrap().parse().unwrap();
    let body = response.split_once("\r\n\r\n").unwrap().1;
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn status_of(addr: &str, task_id: &str) -> String {
    let (_, body) = http(
        addr,
        "GET",
        &format!("/minimax/v1/query/video_generation?task_id={task_id}"),
        "",
    );
    body["data"]["status"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn tasks_polls_and_clock_survive_a_restart() {
    let state = temp_file("restart");
    let (child, addr) = serve(&state);
    let (_, submitted) = http(
        &addr,
        "POST",
        "/minimax/v1/video_generation",
        r#"{"model":"T2V-01","prompt":"x"}"#,
    );
    let submitted = submitted["task_id"].as_str().unwrap().to_owned();
    let inline = r#"{"steps": [{"status": "QUEUED", "for": "10s"}, {"status": "FAILURE", "fail_reason": "boom"}], "resolution": "1080P"}"#;
    assert_eq!(http(&addr, "PUT", "/__mock/tasks/scripted", inline).0, 200);
    assert_eq!(status_of(&addr, &submitted), "NOT_START");
    assert_eq!(status_of(&addr, &submitted), "SUBMITTED");
    assert_eq!(http(&addr, "POST", "/__mock/clock", r#"{"advance": "5s"}"#).0, 200);
    stop(child);

    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert_eq!(saved["version"], 1);
    assert_eq!(saved["tasks"].as_array().unwrap().len(), 2);

    let (child, addr) = serve(&state);
    let (_, clock) = http(&addr, "GET", "/__mock/clock", "");
    assert_eq!(clock["now"], 1_756_453_477_000u64, "the clock goes on where it was");
    let (_, tasks) = http(&addr, "GET", "/__mock/tasks", "");
    assert_eq!(tasks["tasks"][0]["task_id"], submitted.as_str());
    assert_eq!(tasks["tasks"][0]["polls"], 2);
    assert_eq!(tasks["tasks"][1]["resolution"], "1080P");
    assert_eq!(status_of(&addr, &submitted), "QUEUED", "polls continue where they were");
    assert_eq!(status_of(&addr, "scripted"), "QUEUED");
    http(&addr, "POST", "/__mock/clock", r#"{"advance": "5s"}"#);
    assert_eq!(status_of(&addr, "scripted"), "FAILURE");
    // New submissions continue the id sequence instead of repeating it.
    let (_, next) = http(
        &addr,
        "POST",
        "/minimax/v1/video_generation",
        r#"{"model":"T2V-01","prompt":"x"}"#,
    );
    assert_ne!(next["task_id"], submitted.as_str());
    stop(child);
}

#[test]
fn a_corrupt_state_file_stops_start_up_and_is_left_untouched() {
    let state = temp_file("corrupt");
    let corrupt = "{\"version\": 1, \"clock\": {\"now\": 5, \"frozen\": true, \"offset\": 0},\n \"submissions\": 0, \"tasks\": [}\n";
    std::fs::write(&state, corrupt).unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--port", "0", "--state"])
        .arg(&state)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with(&format!("minimax-mock: {}:2:", state.display())),
        "{err}"
    );
    assert!(err.contains("left as it is"), "{err}");
    assert_eq!(std::fs::read_to_string(&state).unwrap(), corrupt);

    let dir = state.parent().unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--port", "0", "--state"])
        .arg(dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("cannot read the state file"), "{err}");
}

/// Starts the binary with the crash-safety test hook set to `pause`.
fn serve_pausing(state: &std::path::Path, pause: &str) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args([
            "serve", "--quiet", "--epoch", EPOCH, "--frozen", "--port", "0", "--state",
        ])
        .arg(state)
        .env("MINIMAX_MOCK_TEST_PAUSE_WRITE", pause)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("minimax-mock listening on http://")
        .unwrap()
        .to_owned();
    (child, addr)
}

/// Waits for the test hook's line on stderr: the write is stopped half-way.
fn wait_until_paused(child: &mut Child) {
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while std::io::BufRead::read_line(&mut stderr, &mut line).unwrap() > 0 {
        if line.contains("state write paused") {
            return;
        }
        line.clear();
    }
    panic!("the server ended without pausing");
}

/// Waits (bounded) until the change log holds `text`.
fn wait_for_log(state: &std::path::Path, text: &str) {
    let log = state.with_file_name("state.json.log");
    for _ in 0..500 {
        if std::fs::read_to_string(&log).is_ok_and(|l| l.contains(text)) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("{text} never reached {}", log.display());
}

fn submit(addr: &str) -> String {
    let (_, v) = http(
        addr,
        "POST",
        "/minimax/v1/video_generation",
        r#"{"model":"T2V-01","prompt":"x"}"#,
    );
    v["task_id"].as_str().unwrap().to_owned()
}

#[test]
fn killed_while_appending_a_change_the_state_is_the_old_one() {
    let state = temp_file("kill-log");
    // The second append of the change log stops half-written.
    let (mut child, addr) = serve_pausing(&state, "log:2");
    let first = submit(&addr);
    wait_for_log(&state, &first);
    let second = submit(&addr);
    wait_until_paused(&mut child);
    child.kill().unwrap(); // SIGKILL, mid-write
    child.wait().unwrap();
    let log = std::fs::read_to_string(state.with_file_name("state.json.log")).unwrap();
    assert!(!log.ends_with('\n'), "the hook left half a line: {log}");

    let (child, addr) = serve(&state);
    assert_eq!(status_of(&addr, &first), "NOT_START", "the complete change is kept");
    let (status, _) = http(
        &addr,
        "GET",
        &format!("/minimax/v1/query/video_generation?task_id={second}"),
        "",
    );
    assert_eq!(status, 400, "the change cut short is not");
    let (_, log) = process::stop(child, "TERM");
    assert!(log.contains("cut short"), "{log}");
}

#[test]
fn killed_while_writing_a_snapshot_the_state_is_the_old_one() {
    let state = temp_file("kill-snapshot");
    // The first snapshot is written at start; the second, at shutdown, stops half-written.
    let (mut child, addr) = serve_pausing(&state, "snapshot:2");
    let task = submit(&addr);
    wait_for_log(&state, &task);
    let before = std::fs::read_to_string(&state).unwrap();
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    wait_until_paused(&mut child);
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        std::fs::read_to_string(&state).unwrap(),
        before,
        "the snapshot is the old one"
    );

    let (child, addr) = serve(&state);
    assert_eq!(status_of(&addr, &task), "NOT_START", "old snapshot + its log");
    stop(child);
}

#[test]
fn a_large_store_appends_changes_instead_of_rewriting() {
    let state = temp_file("append");
    let (child, addr) = serve(&state);
    let task = submit(&addr);
    wait_for_log(&state, &task);
    let snapshot = std::fs::read_to_string(&state).unwrap();
    for _ in 0..3 {
        status_of(&addr, &task);
    }
    wait_for_log(&state, "\"polls\"");
    assert_eq!(
        std::fs::read_to_string(&state).unwrap(),
        snapshot,
        "polls go to the log, not the snapshot"
    );
    stop(child);
    let (child, addr) = serve(&state);
    let (_, tasks) = http(&addr, "GET", "/__mock/tasks", "");
    assert_eq!(tasks["tasks"][0]["polls"], 3);
    stop(child);
}

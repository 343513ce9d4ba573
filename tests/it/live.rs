//! The liveness probe a container's health check uses: `GET /__mock/live`
//! answers `ok` to anyone (no token, any Host, with or without the control
//! API) and says nothing else; `minimax-mock probe` asks it with no curl.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::common::process::{stop, BIN};
use crate::common::{config, start, Conn};
use minimax_mock::server::Config;

#[tokio::test]
async fn live_answers_ok_and_stays_out_of_the_journal_and_the_log() {
    let server = start(config()).await;
    let r = server.get("/__mock/live").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, "ok\n");
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    let head = server.send("HEAD", "/__mock/live", &[], "").await;
    assert_eq!((head.status, head.header("content-length")), (200, Some("3")));
    let post = server.send("POST", "/__mock/live", &[], "").await;
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD, OPTIONS"));
    assert!(server.mock.requests().is_empty(), "{:?}", server.mock.requests());
}

#[tokio::test]
async fn live_answers_without_the_control_api_too() {
    let server = start(Config {
        control: false,
        ..config()
    })
    .await;
    assert_eq!(server.get("/__mock/health").await.status, 404);
    let r = server.get("/__mock/live").await;
    assert_eq!((r.status, r.body.as_str()), (200, "ok\n"));
}

/// `serve --host 0.0.0.0` with a control token, as the container image runs.
fn serve_in_the_open(token: &str) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--host", "0.0.0.0", "--port", "0"])
        .env("MINIMAX_MOCK_CONTROL_TOKEN", token)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .strip_prefix("minimax-mock listening on http://0.0.0.0:")
        .unwrap_or_else(|| panic!("ready line: {line:?}"))
        .to_owned();
    (child, format!("127.0.0.1:{port}"))
}

#[tokio::test]
async fn off_loopback_live_needs_no_token_nor_an_allowed_host_and_tells_nothing() {
    let (child, addr) = serve_in_the_open("container-token-0001");
    let mut conn = Conn::open(addr.parse().unwrap()).await;
    // The control API still needs the token, and a Host it knows.
    assert_eq!(conn.send("GET", "/__mock/health", &[], "").await.status, 401);
    let named = [("Host", "mock:8080")];
    let refused = conn.send("GET", "/__mock/health", &named, "").await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    // A compose service name, no token: the probe answers.
    let r = conn.send("GET", "/__mock/live", &named, "").await;
    assert_eq!((r.status, r.body.as_str()), (200, "ok\n"));
    let (code, log) = stop(child, "TERM");
    assert_eq!(code, Some(0));
    assert!(!log.contains("/__mock/live"), "probes are not logged: {log}");
    assert!(log.contains("GET /__mock/health 401"), "{log}");
}

/// Runs `minimax-mock probe ARGS`: the exit code and stderr.
fn probe(args: &[&str]) -> (Option<i32>, String) {
    probe_with(args, None)
}

/// Runs `minimax-mock probe ARGS` with `MINIMAX_MOCK_CONTROL_TOKEN` set to
/// `token` (or unset).
fn probe_with(args: &[&str], token: Option<&str>) -> (Option<i32>, String) {
    let mut cmd = Command::new(BIN);
    cmd.arg("probe").args(args).env_remove("MINIMAX_MOCK_CONTROL_TOKEN");
    if let Some(token) = token {
        cmd.env("MINIMAX_MOCK_CONTROL_TOKEN", token);
    }
    let out = cmd.output().unwrap();
    assert!(out.stdout.is_empty(), "probe prints nothing on stdout");
    (out.status.code(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn probe_exits_0_for_a_live_mock_and_1_otherwise() {
    let (child, addr) = serve_in_the_open("container-token-0002");
    let base = format!("http://{addr}");
    assert_eq!(probe(&[&base]), (Some(0), String::new()));
    assert_eq!(probe(&[&format!("{base}/")]), (Some(0), String::new()));
    assert_eq!(probe(&["--timeout", "5s", &format!("{base}/__mock/live")]).0, Some(0));
    // A path that needs the token: its status is the reason.
    let (code, err) = probe(&[&format!("{base}/__mock/health")]);
    assert_eq!(code, Some(1));
    assert_eq!(err, format!("minimax-mock: probe: {base}/__mock/health answered 401\n"));
    let (code, _) = stop(child, "TERM");
    assert_eq!(code, Some(0));

    // Nothing listens there now.
    let (code, err) = probe(&[&base]);
    assert_eq!(code, Some(1));
    assert!(
        err.starts_with(&format!("minimax-mock: probe: cannot connect to {base}/__mock/live: ")),
        "{err}"
    );
    let (code, err) = probe(&["https://127.0.0.1:8080"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("is not an http:// URL"), "{err}");
}

/// A readiness probe of `/__mock/health` in a container: the token comes
/// from the environment the mock itself reads (a Kubernetes Secret), or
/// `--token`.
#[test]
fn probe_sends_the_control_token_to_health() {
    let (child, addr) = serve_in_the_open("container-token-0003");
    let health = format!("http://{addr}/__mock/health");
    assert_eq!(
        probe_with(&[&health], Some("container-token-0003")),
        (Some(0), String::new())
    );
    assert_eq!(
        probe(&["--token", "container-token-0003", &health]),
        (Some(0), String::new())
    );
    let (code, err) = probe_with(&[&health], Some("not-the-token"));
    assert_eq!(code, Some(1));
    assert_eq!(err, format!("minimax-mock: probe: {health} answered 401\n"));
    // The liveness path needs none, and takes it without complaint.
    assert_eq!(probe_with(&[&format!("http://{addr}")], Some("x")).0, Some(0));
    let (code, _) = stop(child, "TERM");
    assert_eq!(code, Some(0));
}

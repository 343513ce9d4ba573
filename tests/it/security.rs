//! The control plane against a web page the developer happens to visit: the
//! real server on port 0, raw HTTP with the Host and Origin headers a
//! browser (or a DNS-rebinding page) would send. The mock's API stays open;
//! `/__mock/` grants CORS only to named origins, answers only its own host
//! names, shortens credentials, and needs a token off loopback.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::{config, start, Conn, Response, TestServer};
use minimax_mock::server::Config;
use serde_json::Value;

const QUERY: &str = "/minimax/v1/query/video_generation";
const SUBMIT: &str = "/minimax/v1/video_generation";
const EVIL: &str = "https://evil.example";
const FRONTEND: &str = "http://localhost:5173";

fn preflight(origin: &str) -> [(&str, &str); 3] {
    [
        ("Origin", origin),
        ("Access-Control-Request-Method", "POST"),
        ("Access-Control-Request-Headers", "content-type"),
    ]
}

fn assert_refused(r: &Response, status: u16, code: &str) -> String {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(
        r.header("access-control-allow-origin"),
        None,
        "no CORS grant on a refusal"
    );
    let body = r.json();
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["data"], Value::Null);
    body["message"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_mock_api_stays_open_to_every_origin() {
    let server = start(config()).await;
    let r = server.send("OPTIONS", SUBMIT, &preflight(EVIL), "").await;
    assert_eq!((r.status, r.header("access-control-allow-origin")), (204, Some("*")));
    let task = server.submit("success").await;
    let r = server
        .send("GET", &format!("{QUERY}?task_id={task}"), &[("Origin", EVIL)], "")
        .await;
    assert_eq!((r.status, r.header("access-control-allow-origin")), (200, Some("*")));
    // The Host guard is the control plane's: the API answers any name.
    let r = server
        .send(
            "GET",
            &format!("{QUERY}?task_id={task}"),
            &[("Host", "evil.example")],
            "",
        )
        .await;
    assert_eq!((r.status, r.header("access-control-allow-origin")), (200, Some("*")));
}

#[tokio::test]
async fn a_foreign_origin_can_neither_preflight_nor_read_nor_reset() {
    let server = start(config()).await;
    server.mock.script("keep-me", "success").unwrap();

    let r = server.send("OPTIONS", "/__mock/reset", &preflight(EVIL), "").await;
    let message = assert_refused(&r, 403, "forbidden_origin");
    assert!(
        message.contains(EVIL) && message.contains("--control-origin"),
        "{message}"
    );

    let r = server.send("GET", "/__mock/requests", &[("Origin", EVIL)], "").await;
    assert_refused(&r, 403, "forbidden_origin");
    assert_eq!(r.header("vary"), Some("origin"));

    // A "simple" cross-site POST needs no preflight: it must do nothing.
    let r = server
        .send(
            "POST",
            "/__mock/reset",
            &[("Origin", EVIL), ("Content-Type", "text/plain")],
            "",
        )
        .await;
    assert_refused(&r, 403, "forbidden_origin");
    assert!(server.mock.task("keep-me").is_some(), "the refused reset did nothing");

    // Sandboxed frames and file:// pages send `Origin: null`.
    let r = server.send("GET", "/__mock/tasks", &[("Origin", "null")], "").await;
    assert_refused(&r, 403, "forbidden_origin");
}

#[tokio::test]
async fn the_mocks_own_pages_and_tools_need_nothing() {
    let server = start(config()).await;
    let own = format!("http://{}", server.addr);
    let r = server.send("POST", "/__mock/reset", &[("Origin", &own)], "").await;
    assert_eq!(r.status, 204, "same origin: {}", r.body);
    assert_eq!(
        r.header("access-control-allow-origin"),
        None,
        "same origin needs no grant"
    );
    let r = server.get("/__mock/health").await;
    assert_eq!((r.status, r.header("access-control-allow-origin")), (200, None));
}

#[tokio::test]
async fn a_named_origin_is_granted_with_vary() {
    let server = start(Config {
        control_origins: vec![FRONTEND.to_owned()],
        ..config()
    })
    .await;
    let r = server.send("OPTIONS", "/__mock/clock", &preflight(FRONTEND), "").await;
    assert_eq!(r.status, 204);
    assert_eq!(r.header("access-control-allow-origin"), Some(FRONTEND));
    assert_eq!(r.header("vary"), Some("origin"));
    assert!(r.header("access-control-allow-methods").unwrap().contains("POST"));

    let r = server
        .send("POST", "/__mock/clock", &[("Origin", FRONTEND)], r#"{"advance": "1s"}"#)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("access-control-allow-origin"), Some(FRONTEND));
    assert_eq!(r.header("vary"), Some("origin"));

    let r = server.send("GET", "/__mock/requests", &[("Origin", EVIL)], "").await;
    assert_refused(&r, 403, "forbidden_origin");
}

#[tokio::test]
async fn control_origin_star_restores_allow_all() {
    let server = start(Config {
        control_origins: vec!["*".to_owned()],
        ..config()
    })
    .await;
    let r = server.send("OPTIONS", "/__mock/reset", &preflight(EVIL), "").await;
    assert_eq!((r.status, r.header("access-control-allow-origin")), (204, Some("*")));
    let r = server.send("GET", "/__mock/requests", &[("Origin", EVIL)], "").await;
    assert_eq!((r.status, r.header("access-control-allow-origin")), (200, Some("*")));
}

#[tokio::test]
async fn a_foreign_host_is_refused_as_dns_rebinding() {
    let server = start(config()).await;
    let port = server.addr.port();
    let rebound = format!("evil.example:{port}");
    let r = server.send("GET", "/__mock/requests", &[("Host", &rebound)], "").await;
    let message = assert_refused(&r, 403, "forbidden_host");
    assert!(
        message.contains(&rebound) && message.contains("--allowed-host evil.example"),
        "{message}"
    );
    // Refused before anything is done.
    server.mock.script("keep-me", "success").unwrap();
    let r = server.send("POST", "/__mock/reset", &[("Host", &rebound)], "").await;
    assert_refused(&r, 403, "forbidden_host");
    assert!(server.mock.task("keep-me").is_some());
    // Even with the right Origin: the page is the attacker's, under its own name.
    let r = server
        .send(
            "GET",
            "/__mock/tasks",
            &[("Host", &rebound), ("Origin", &format!("http://{rebound}"))],
            "",
        )
        .await;
    assert_refused(&r, 403, "forbidden_host");

    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("127.0.0.2:{port}"),
        format!("[::1]:{port}"),
        format!("app.localhost:{port}"),
        "LOCALHOST".to_owned(),
    ] {
        let r = server.send("GET", "/__mock/health", &[("Host", &host)], "").await;
        assert_eq!(r.status, 200, "Host: {host}: {}", r.body);
    }
}

#[tokio::test]
async fn no_host_at_all_counts_as_local() {
    let server = start(config()).await;
    let mut conn = Conn::open(server.addr).await;
    conn.write_raw(b"GET /__mock/health HTTP/1.0\r\n\r\n").await;
    let r = conn.read_response(false).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn allowed_hosts_and_the_public_url_are_own_names() {
    let server = start(Config {
        allowed_hosts: vec!["mock".to_owned(), ".ci.example".to_owned()],
        public_url: Some("https://mock.example.com".to_owned()),
        ..config()
    })
    .await;
    for host in ["mock:8080", "runner-1.ci.example", "mock.example.com"] {
        let r = server.send("GET", "/__mock/health", &[("Host", host)], "").await;
        assert_eq!(r.status, 200, "Host: {host}: {}", r.body);
    }
    let r = server
        .send("GET", "/__mock/health", &[("Host", "evil.example")], "")
        .await;
    assert_refused(&r, 403, "forbidden_host");

    let open = start(Config {
        allowed_hosts: vec!["*".to_owned()],
        ..config()
    })
    .await;
    let r = open
        .send("GET", "/__mock/health", &[("Host", "evil.example")], "")
        .await;
    assert_eq!(r.status, 200, "--allowed-host '*' turns the check off");
}

const LONG_KEY: &str = "sk-1234567890abcdef-ab12";

async fn send_with_credentials(server: &TestServer, task: &str) {
    let cookie = "session=0123456789abcdef; theme=dark";
    let r = server
        .send(
            "GET",
            &format!("{QUERY}?task_id={task}&api_key={LONG_KEY}"),
            &[
                ("Authorization", &format!("Bearer {LONG_KEY}")),
                ("X-Api-Key", "short-key"),
                ("Cookie", cookie),
            ],
            "",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn the_journal_shows_credentials_shortened_and_mock_server_keeps_them() {
    let server = start(config()).await;
    let task = server.submit("success").await;
    send_with_credentials(&server, &task).await;

    let journal = server.get(&format!("/__mock/requests?path={QUERY}")).await.json();
    let entry = &journal["requests"][0];
    assert_eq!(entry["headers"]["authorization"], "Bearer sk-1…ab12");
    assert_eq!(entry["headers"]["x-api-key"], "…");
    assert_eq!(entry["headers"]["cookie"], "session=0123…cdef; theme=…");
    assert_eq!(entry["query"], format!("task_id={task}&api_key=sk-1…ab12"));
    assert_eq!(entry["task_id"], task.as_str());
    assert!(!journal.to_string().contains(LONG_KEY), "{journal}");

    let raw = server.mock.requests();
    let raw = raw.iter().find(|e| e.path() == QUERY).unwrap();
    assert_eq!(raw.header("authorization"), Some(format!("Bearer {LONG_KEY}")));
    assert_eq!(raw.header("x-api-key").as_deref(), Some("short-key"));
    assert!(raw.query().unwrap().contains(LONG_KEY));
}

#[tokio::test]
async fn keep_secrets_shows_them_in_full() {
    let server = start(Config {
        keep_secrets: true,
        ..config()
    })
    .await;
    let task = server.submit("success").await;
    send_with_credentials(&server, &task).await;
    let journal = server.get(&format!("/__mock/requests?path={QUERY}")).await.json();
    let entry = &journal["requests"][0];
    assert_eq!(entry["headers"]["authorization"], format!("Bearer {LONG_KEY}"));
    assert_eq!(entry["headers"]["x-api-key"], "short-key");
}

#[tokio::test]
async fn callback_urls_are_shortened_in_the_callbacks_list() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let server = start(config()).await;
    let url = format!("http://127.0.0.1:{port}/hook?token={LONG_KEY}");
    let body = serde_json::json!({"model": "MiniMax-Hailuo-02", "prompt": "A cat", "callback_url": url});
    let r = server
        .send("POST", "/v1/video_generation", &[], &body.to_string())
        .await;
    assert_eq!(r.json()["base_resp"]["status_code"], 2013, "nobody listens: {}", r.body);
    let listed = server.get("/__mock/callbacks").await;
    let attempt = &listed.json()["callbacks"][0];
    assert_eq!(attempt["url"], format!("http://127.0.0.1:{port}/hook?token=sk-1…ab12"));
    assert!(!listed.body.contains(LONG_KEY), "{}", listed.body);
    assert_eq!(server.mock.app().callbacks.list(None)[0].url, url, "raw in-process");
}

/// `addr`'s port on 127.0.0.1: a loopback client of a server bound elsewhere.
fn via_loopback(addr: SocketAddr) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], addr.port()))
}

#[tokio::test]
async fn off_loopback_the_control_api_needs_the_token_and_the_mock_api_does_not() {
    let server = start(Config {
        host: "0.0.0.0".to_owned(),
        ..config()
    })
    .await;
    let token = server.app.guard.token().expect("a token made up on 0.0.0.0").to_owned();
    assert_eq!(server.app.guard.generated_token(), Some(token.as_str()));
    let addr = via_loopback(server.addr);
    let mut conn = Conn::open(addr).await;

    let r = conn.send("GET", "/__mock/requests", &[], "").await;
    let message = assert_refused(&r, 401, "unauthorized");
    assert!(message.contains("--control-token"), "{message}");
    assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
    let r = conn
        .send("POST", "/__mock/reset", &[("Authorization", "Bearer wrong")], "")
        .await;
    assert_refused(&r, 401, "unauthorized");

    let bearer = format!("Bearer {token}");
    let r = conn
        .send("GET", "/__mock/health", &[("Authorization", &bearer)], "")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // The API never needs it.
    let r = conn
        .send("GET", &format!("{QUERY}?task_id=306792606023824"), &[], "")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn a_given_control_token_is_honoured_on_loopback_too() {
    let server = start(Config {
        control_token: Some("s3cret-control-token".to_owned()),
        ..config()
    })
    .await;
    assert_eq!(server.app.guard.generated_token(), None, "given, so not printed");
    let r = server.get("/__mock/health").await;
    assert_refused(&r, 401, "unauthorized");
    let r = server
        .send(
            "GET",
            "/__mock/health",
            &[("Authorization", "Bearer s3cret-control-token")],
            "",
        )
        .await;
    assert_eq!(r.status, 200);
    // A preflight carries no credentials: the request after it does.
    let r = server
        .send(
            "OPTIONS",
            "/__mock/health",
            &preflight(&format!("http://{}", server.addr)),
            "",
        )
        .await;
    assert_eq!(r.status, 204);
}

#[tokio::test]
async fn on_loopback_nothing_changes_for_tools_and_mock_server() {
    let server = start(config()).await;
    assert_eq!(server.app.guard.token(), None);
    let r = server
        .send("PUT", "/__mock/tasks/job-1", &[], r#"{"scenario": "fail"}"#)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(server.query("job-1").await.status, 200);
}

// The binary: the token from the flag, the environment, or made up and printed.

fn serve(args: &[&str], env: Option<&str>) -> (Child, SocketAddr) {
    let mut command = Command::new(crate::common::process::BIN);
    command
        .args(["serve", "--quiet", "--host", "0.0.0.0", "--port", "0"])
        .args(args)
        .env_remove("MINIMAX_MOCK_CONTROL_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(token) = env {
        command.env("MINIMAX_MOCK_CONTROL_TOKEN", token);
    }
    let mut child = command.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr: SocketAddr = line
        .trim()
        .strip_prefix("minimax-mock listening on http://")
        .unwrap_or_else(|| panic!("ready line: {line:?}"))
        .parse()
        .unwrap();
    (child, via_loopback(addr))
}

/// The status of `GET /__mock/health` with `token`, if any.
fn health(addr: SocketAddr, token: Option<&str>) -> u16 {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET /__mock/health HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response.split(' ').nth(1).unwrap().parse().unwrap()
}

#[test]
fn the_binary_makes_up_a_token_off_loopback_and_prints_it_once() {
    let (mut child, addr) = serve(&[], None);
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut token = None;
    for _ in 0..5 {
        let mut line = String::new();
        stderr.read_line(&mut line).unwrap();
        if let Some(t) = line.trim().strip_prefix("minimax-mock: control token: ") {
            token = Some(t.to_owned());
            break;
        }
    }
    let token = token.expect("the token line on stderr");
    assert_eq!(token.len(), 48);
    assert_eq!(health(addr, None), 401);
    assert_eq!(health(addr, Some(&token)), 200);
    let (code, rest) = crate::common::process::stop(child, "TERM");
    assert_eq!(code, Some(0));
    let mut rest_of_log = rest;
    stderr.read_to_string(&mut rest_of_log).unwrap();
    assert!(!rest_of_log.contains(&token), "printed once: {rest_of_log}");
}

#[test]
fn the_binary_honours_control_token_and_its_environment_variable() {
    let (child, addr) = serve(&["--control-token", "from-the-flag-0001"], Some("from-the-env-0001"));
    assert_eq!(health(addr, Some("from-the-env-0001")), 401, "the flag wins");
    assert_eq!(health(addr, Some("from-the-flag-0001")), 200);
    let (code, log) = crate::common::process::stop(child, "TERM");
    assert_eq!(code, Some(0));
    assert!(!log.contains("control token"), "a given token is not printed: {log}");

    let (child, addr) = serve(&[], Some("from-the-env-0001"));
    assert_eq!(health(addr, None), 401);
    assert_eq!(health(addr, Some("from-the-env-0001")), 200);
    let (_, log) = crate::common::process::stop(child, "TERM");
    assert!(!log.contains("control token"), "{log}");
}

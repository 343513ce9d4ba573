//! Test harness: the real server, in-process on port 0, and a raw HTTP/1.1
//! client (raw so tests can also send what a well-behaved client would not).
#![allow(dead_code)]

pub mod browser;
pub mod process;
pub mod redis;

use std::sync::Arc;

use minimax_mock::lifecycle::clock::Clock;
use minimax_mock::server::{App, Config};
use minimax_mock::MockServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The documented example's submit time, so timestamps are fixed in snapshots.
pub const EPOCH_MS: u64 = 1_756_453_472_000;

/// The project's tests run on the public in-process API, [`MockServer`],
/// plus a raw client for what a polite client would not send.
pub struct TestServer {
    pub addr: std::net::SocketAddr,
    pub app: Arc<App>,
    pub mock: MockServer,
}

/// A frozen clock at [`EPOCH_MS`] and seed 0: every byte is reproducible.
pub fn config() -> Config {
    Config {
        clock: Clock::new(Some(EPOCH_MS), true),
        ..Config::default()
    }
}

pub async fn start(config: Config) -> TestServer {
    let mock = MockServer::builder().config(|c| *c = config).start().await;
    TestServer {
        addr: mock.address(),
        app: mock.app().clone(),
        mock,
    }
}

impl TestServer {
    pub async fn get(&self, target: &str) -> Response {
        self.send("GET", target, &[], "").await
    }

    pub async fn send(&self, method: &str, target: &str, headers: &[(&str, &str)], body: &str) -> Response {
        let mut conn = Conn::open(self.addr).await;
        conn.send(method, target, headers, body).await
    }

    /// Submits a valid request with `Prefer: scenario=NAME`; the task id.
    pub async fn submit(&self, scenario: &str) -> String {
        let prefer = format!("scenario={scenario}");
        let r = self
            .send(
                "POST",
                "/minimax/v1/video_generation",
                &[("Prefer", &prefer), ("Content-Type", "application/json")],
                r#"{"model":"MiniMax-Hailuo-02","prompt":"A cat plays piano","duration":6,"resolution":"768P"}"#,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["task_id"].as_str().unwrap().to_owned()
    }

    pub async fn query(&self, task_id: &str) -> Response {
        self.get(&format!("/minimax/v1/query/video_generation?task_id={task_id}"))
            .await
    }

    /// Stops the server; the port is closed when this returns.
    pub async fn stop(self) {
        drop(self.mock);
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// The body as text (lossy: binary bodies are in `raw`).
    pub body: String,
    pub raw: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// One keep-alive connection.
pub struct Conn {
    stream: TcpStream,
    buffer: Vec<u8>,
    addr: std::net::SocketAddr,
}

impl Conn {
    pub async fn open(addr: std::net::SocketAddr) -> Self {
        Self {
            stream: TcpStream::connect(addr).await.expect("connect"),
            buffer: Vec::new(),
            addr,
        }
    }

    /// Sends a request with `Host: ADDR` as a client would (unless
    /// `headers` give a Host of their own) and reads the answer.
    pub async fn send(&mut self, method: &str, target: &str, headers: &[(&str, &str)], body: &str) -> Response {
        let mut request = format!("{method} {target} HTTP/1.1\r\n");
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
            request.push_str(&format!("Host: {}\r\n", self.addr));
        }
        for (k, v) in headers {
            request.push_str(&format!("{k}: {v}\r\n"));
        }
        if !body.is_empty() || method == "POST" {
            request.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        request.push_str("\r\n");
        request.push_str(body);
        self.write_raw(request.as_bytes()).await;
        self.read_response(method == "HEAD").await
    }

    pub async fn write_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    pub async fn read_response(&mut self, head_only: bool) -> Response {
        let header_end = loop {
            if let Some(i) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            self.fill().await;
        };
        let head = String::from_utf8(self.buffer[..header_end].to_vec()).unwrap();
        let mut lines = head.split("\r\n");
        let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
        let headers: Vec<(String, String)> = lines
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (k, v) = l.split_once(':').unwrap();
                (k.trim().to_ascii_lowercase(), v.trim().to_owned())
            })
            .collect();
        let length: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .map_or(0, |(_, v)| v.parse().unwrap());
        let length = if head_only { 0 } else { length };
        while self.buffer.len() < header_end + length {
            self.fill().await;
        }
        let raw = self.buffer[header_end..header_end + length].to_vec();
        let body = String::from_utf8_lossy(&raw).into_owned();
        self.buffer.drain(..header_end + length);
        Response {
            status,
            headers,
            body,
            raw,
        }
    }

    async fn fill(&mut self) {
        let mut chunk = [0u8; 8192];
        let n = self.stream.read(&mut chunk).await.expect("read");
        assert!(n > 0, "connection closed early");
        self.buffer.extend_from_slice(&chunk[..n]);
    }
}

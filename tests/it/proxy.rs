//! `minimax-mock proxy` against in-process upstreams: the mock itself, a
//! deliberately wrong one (answers that break the schema), one that never
//! answers, none at all, and the mock behind TLS with a test CA. Everything
//! starts in-process on port 0; nothing sleeps to wait for judging: the
//! tests poll the findings' `judged` count in a bounded loop.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::{config, start, Conn, Response, TestServer};
use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use minimax_mock::contract::{self, Contract};
use minimax_mock::proxy::{self, Proxy};
use minimax_mock::server::{replay, Config};
use minimax_mock::validate::{Event, Judge};
use serde_json::{json, Value};
use tokio::net::TcpListener;

const SUBMIT: &str = r#"{"model":"MiniMax-Hailuo-02","prompt":"A cat plays piano","duration":6,"resolution":"768P"}"#;

/// A proxy serving on the test's runtime, stopped (gracefully) by `stop`.
struct Proxied {
    addr: SocketAddr,
    proxy: Arc<Proxy>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<()>,
}

async fn start_proxy(config: proxy::Config) -> Proxied {
    let bound = proxy::bind(config).await.expect("the proxy starts");
    let addr = bound.local_addr();
    let proxy = bound.proxy().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let done = tokio::spawn(bound.serve(async {
        let _ = stopped.await;
    }));
    Proxied {
        addr,
        proxy,
        stop: Some(stop),
        done,
    }
}

fn proxy_to(upstream: &str) -> proxy::Config {
    proxy::Config::new(upstream)
}

impl Proxied {
    async fn send(&self, method: &str, target: &str, headers: &[(&str, &str)], body: &str) -> Response {
        Conn::open(self.addr).await.send(method, target, headers, body).await
    }

    async fn get(&self, target: &str) -> Response {
        self.send("GET", target, &[], "").await
    }

    /// Waits, in a bounded loop, until `n` answers have been judged; the findings.
    async fn judged(&self, n: u64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let findings = self.get("/__mock/findings").await.json();
            if findings["judged"].as_u64().unwrap() >= n {
                return findings;
            }
            assert!(Instant::now() < deadline, "only {findings} judged, waited for {n}");
            tokio::task::yield_now().await;
        }
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.done.await.unwrap();
    }
}

fn url(server: &TestServer) -> String {
    format!("http://{}", server.addr)
}

/// A tiny upstream answering `answer(method, path)` to everything.
async fn fixed_upstream(answer: fn(&str, &str) -> (u16, &'static str)) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| async move {
                if req.uri().path() == "/slow" {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                }
                let (status, body) = answer(req.method().as_str(), req.uri().path());
                let mut reply = hyper::Response::new(Full::new(Bytes::from_static(body.as_bytes())));
                *reply.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                reply
                    .headers_mut()
                    .insert("content-type", "application/json".parse().unwrap());
                Ok::<_, Infallible>(reply)
            });
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

/// Answers that break the contract, one per surface.
fn wrong(_method: &str, path: &str) -> (u16, &'static str) {
    match path {
        "/minimax/v1/query/video_generation" => (
            200,
            r#"{"code":"success","message":"","data":{"task_id":"1","action":"video_generation","status":"RUNNING","fail_reason":"","submit_time":1,"start_time":0,"finish_time":0,"progress":50}}"#,
        ),
        "/v1/query/video_generation" => (
            200,
            r#"{"task_id":"1","status":"Running","base_resp":{"status_code":0}}"#,
        ),
        "/minimax/v1/video_generation" => (
            200,
            r#"{"task_id":1,"base_resp":{"status_code":0,"status_msg":"success"}}"#,
        ),
        "/v2/query/video_generation/1" => (200, r#"{"task":{"id":"1"}}"#),
        "/not-json" => (200, "{\"code\": tru"),
        _ => (404, r#"{"code":"not_found","message":"no","data":null}"#),
    }
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("mm-proxy-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn read_har(path: &Path) -> Value {
    let text = std::fs::read(path).unwrap();
    serde_json::from_slice(&text)
        .unwrap_or_else(|e| panic!("not a complete HAR ({e}): {}", String::from_utf8_lossy(&text)))
}

/// Every verdict `validate` gives a HAR file, judged by the same judge.
fn validate(path: &Path) -> (usize, Vec<String>) {
    let contract = Contract::embedded();
    let judge = Judge::new(&contract, contract::QUERY_RESPONSE, false).unwrap();
    let bytes = std::fs::read(path).unwrap();
    let (mut valid, mut invalid) = (0, Vec::new());
    for event in judge.judge_file(&"session.har".into(), &bytes, false) {
        match event {
            Event::Verdict(v) if v.valid() => valid += 1,
            Event::Verdict(v) => invalid.push(format!("{v:?}")),
            Event::Problem(p) => invalid.push(p.to_string()),
            Event::Skipped { .. } => {}
        }
    }
    (valid, invalid)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_and_answers_pass_through_byte_for_byte() {
    let upstream = start(config()).await;
    let proxy = start_proxy(proxy_to(&url(&upstream))).await;

    // The request arrives as sent: method, path, query, headers (Authorization too), body.
    let headers = [
        ("Authorization", "Bearer sk-live-123"),
        ("Content-Type", "application/json"),
        ("Prefer", "scenario=instant"),
        ("X-Trace", "abc"),
    ];
    let via = proxy
        .send("POST", "/minimax/v1/video_generation?x=1%202", &headers, SUBMIT)
        .await;
    assert_eq!(via.status, 200, "{}", via.body);
    let task = via.json()["task_id"].as_str().unwrap().to_owned();
    let seen = upstream.mock.requests();
    let sent = &seen[0];
    assert_eq!(sent.method.as_str(), "POST");
    assert_eq!(
        (sent.path(), sent.query()),
        ("/minimax/v1/video_generation", Some("x=1%202"))
    );
    assert_eq!(sent.header("authorization").as_deref(), Some("Bearer sk-live-123"));
    assert_eq!(sent.header("x-trace").as_deref(), Some("abc"));
    assert_eq!(sent.header("host"), Some(upstream.addr.to_string()));
    assert_eq!(&sent.body[..], SUBMIT.as_bytes());

    // The answer comes back as the upstream gave it: the same bytes as asking directly.
    let target = format!(
        "/minimax/v1/query/video_generation?task_id={}",
        contract::DOCUMENTED_TASK_ID
    );
    let (direct, via) = (upstream.get(&target).await, proxy.get(&target).await);
    assert_eq!((via.status, &via.raw), (direct.status, &direct.raw));
    assert_eq!(via.header("content-type"), direct.header("content-type"));
    let polled = proxy
        .get(&format!("/minimax/v1/query/video_generation?task_id={task}"))
        .await;
    assert_eq!(polled.json()["data"]["status"], "SUCCESS");

    // A video download streams through, whole and by Range.
    let link = polled.json()["data"]["data"]["file"]["download_url"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = link.strip_prefix(&url(&upstream)).unwrap();
    let (direct, via) = (upstream.get(path).await, proxy.get(path).await);
    assert_eq!(via.status, 200);
    assert!(via.raw.len() > 10_000);
    assert_eq!(via.raw, direct.raw);
    let range = [("Range", "bytes=100-1099")];
    let direct = upstream.send("GET", path, &range, "").await;
    let via = proxy.send("GET", path, &range, "").await;
    assert_eq!(via.status, 206);
    assert_eq!(via.header("content-range"), direct.header("content-range"));
    assert_eq!(via.raw, direct.raw);
    assert_eq!(via.raw.len(), 1000);

    // The mock's answers are the contract: judged, nothing found. (The CORS
    // header is the upstream's own, not added twice.)
    let findings = proxy.judged(3).await;
    assert_eq!(findings["findings"], json!([]), "{findings}");
    assert_eq!(
        via.headers
            .iter()
            .filter(|(k, _)| k == "access-control-allow-origin")
            .count(),
        1
    );
    proxy.proxy.settled().await;
    let journal = proxy.get("/__mock/requests").await.json();
    assert!(journal["requests"].as_array().unwrap().len() >= 5, "{journal}");
    proxy.stop().await;
}

/// new-api's OpenAI-compatible API through the proxy: its answers are
/// judged by endpoint (the video object, the envelope, the OpenAI-style
/// error of the download, the task error) and the mock's break nothing; the
/// video itself is not judged. A deliberately wrong video object is a
/// finding with its pointer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openai_surface_is_judged_by_endpoint() {
    let upstream = start(config()).await;
    let proxy = start_proxy(proxy_to(&url(&upstream))).await;
    let json = [
        ("Content-Type", "application/json"),
        ("Prefer", "scenario=success-polls"),
    ];
    let created = proxy.send("POST", "/v1/videos", &json, r#"{"prompt": "A cat"}"#).await;
    assert_eq!(created.status, 200, "{}", created.body);
    let id = created.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(proxy.get(&format!("/v1/videos/{id}/content")).await.status, 400);
    for _ in 0..5 {
        proxy.get(&format!("/v1/videos/{id}")).await;
    }
    assert_eq!(proxy.get(&format!("/v1/video/generations/{id}")).await.status, 200);
    let video = proxy.get(&format!("/v1/videos/{id}/content")).await;
    assert_eq!(video.status, 200);
    assert_eq!(proxy.get("/v1/videos/task_nope").await.status, 400);
    let findings = proxy.judged(9).await;
    assert_eq!(findings["findings"], json!([]), "{findings}");
    proxy.stop().await;

    let wrong = fixed_upstream(|_, _| (200, r#"{"id": "task_1", "object": "video", "status": "done", "progress": "50%", "created_at": 1, "model": "m"}"#)).await;
    let proxy = start_proxy(proxy_to(&format!("http://{wrong}"))).await;
    proxy.get("/v1/videos/task_1").await;
    let findings = proxy.judged(1).await;
    let errors: Vec<(&str, &str)> = findings["findings"][0]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["pointer"].as_str().unwrap(), e["keyword"].as_str().unwrap()))
        .collect();
    assert_eq!(findings["findings"][0]["schema"], "openai_video.response", "{findings}");
    assert_eq!(errors, [("/status", "enum"), ("/progress", "type")], "{findings}");
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_answers_are_findings_with_pointers() {
    let upstream = fixed_upstream(wrong).await;
    let proxy = start_proxy(proxy_to(&format!("http://{upstream}"))).await;
    let broken = proxy.get("/minimax/v1/query/video_generation?task_id=1").await;
    // What the client gets is the upstream's answer, unchanged, with CORS added.
    assert_eq!(
        broken.raw,
        wrong("GET", "/minimax/v1/query/video_generation").1.as_bytes()
    );
    assert_eq!(broken.header("access-control-allow-origin"), Some("*"));
    proxy.get("/v1/query/video_generation?task_id=1").await;
    proxy.send("POST", "/minimax/v1/video_generation", &[], SUBMIT).await;
    proxy.get("/v2/query/video_generation/1").await;
    proxy.get("/not-json").await; // not an endpoint of the contract: not judged
    proxy.get("/minimax/v1/files/retrieve?file_id=1").await; // 404 in the envelope: judged as an error body

    let findings = proxy.judged(5).await;
    let records = findings["findings"].as_array().unwrap();
    let found = |path: &str, kind: &str| -> Vec<(String, String)> {
        let record = records
            .iter()
            .find(|r| r["path"] == path)
            .unwrap_or_else(|| panic!("{findings}"));
        record[kind]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["pointer"].as_str().unwrap().to_owned(),
                    e["keyword"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let pointers = |path: &str| found(path, "errors");
    let query = pointers("/minimax/v1/query/video_generation");
    assert!(query.contains(&("/data/progress".into(), "type".into())), "{query:?}");
    // A status the gateway does not document is a consistency warning.
    let warnings = found("/minimax/v1/query/video_generation", "warnings");
    assert_eq!(warnings, [("/data/status".to_owned(), "status".to_owned())]);
    assert!(query.contains(&("/data/data".into(), "required".into())), "{query:?}");
    assert!(pointers("/v1/query/video_generation").contains(&("/status".into(), "enum".into())));
    assert!(pointers("/minimax/v1/video_generation").contains(&("/task_id".into(), "type".into())));
    assert!(pointers("/v2/query/video_generation/1").contains(&("/task/model".into(), "required".into())));
    let record = records
        .iter()
        .find(|r| r["path"] == "/minimax/v1/query/video_generation")
        .unwrap();
    assert_eq!(
        (&record["method"], &record["task_id"], &record["status"]),
        (&json!("GET"), &json!("1"), &json!(200))
    );
    assert!(record["time"].as_u64().unwrap() > 1_700_000_000_000);
    let error = &record["errors"][0];
    assert_eq!(
        error.as_object().unwrap().len(),
        3,
        "{{pointer, keyword, message}}: {error}"
    );

    // Cleared by DELETE.
    assert_eq!(proxy.send("DELETE", "/__mock/findings", &[], "").await.status, 204);
    assert_eq!(
        proxy.get("/__mock/findings").await.json(),
        json!({"judged": 0, "findings": []})
    );
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_reports_what_the_documentation_does_not_know() {
    let upstream = start(config()).await;
    let proxy = start_proxy(proxy::Config {
        strict: true,
        ..proxy_to(&url(&upstream))
    })
    .await;
    let task = upstream.submit("success").await;
    proxy
        .get(&format!("/minimax/v1/query/video_generation?task_id={task}"))
        .await;
    assert_eq!(proxy.judged(1).await["findings"], json!([]));
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_upstream_is_a_502_in_the_gateway_envelope() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let upstream = format!("http://127.0.0.1:{port}");
    let proxy = start_proxy(proxy_to(&upstream)).await;
    let r = proxy.get("/minimax/v1/query/video_generation?task_id=1").await;
    assert_eq!(r.status, 502);
    let body = r.json();
    assert_eq!(
        (&body["code"], &body["data"]),
        (&json!("fail_to_fetch_task"), &Value::Null)
    );
    let message = body["message"].as_str().unwrap();
    assert!(message.contains(&upstream), "{message}");
    assert!(message.to_lowercase().contains("refused"), "{message}");
    // Nothing else breaks.
    assert_eq!(proxy.get("/__mock/health").await.status, 200);
    assert_eq!(
        proxy.get("/minimax/v1/query/video_generation?task_id=2").await.status,
        502
    );
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_upstream_is_a_504_after_the_timeout() {
    let upstream = fixed_upstream(wrong).await;
    let proxy = start_proxy(proxy::Config {
        upstream_timeout: Duration::from_millis(200),
        ..proxy_to(&format!("http://{upstream}"))
    })
    .await;
    let started = Instant::now();
    let r = proxy.get("/slow").await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(r.status, 504);
    let body = r.json();
    assert_eq!(body["code"], "upstream_timeout");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("http://{upstream}")) && message.contains("200ms"),
        "{message}"
    );
    // The next request is answered as usual.
    assert_eq!(
        proxy.get("/minimax/v1/query/video_generation?task_id=1").await.status,
        200
    );
    proxy.stop().await;
}

/// A CA, a certificate for localhost and 127.0.0.1 signed by it, and a TLS
/// front for `backend`: an HTTPS upstream. Returns its port, the CA's PEM
/// and the count of connections it accepted.
async fn tls_upstream(backend: SocketAddr) -> (u16, String, Arc<AtomicUsize>) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "minimax-mock test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    let (port, accepted) = tls_front(
        backend,
        vec![cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    )
    .await;
    (port, ca.pem(), accepted)
}

/// A TLS front for `backend` presenting `chain`: its port, and the count of
/// connections it accepted.
async fn tls_front(
    backend: SocketAddr,
    chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
) -> (u16, Arc<AtomicUsize>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            counter.fetch_add(1, Ordering::Relaxed);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let mut plain = tokio::net::TcpStream::connect(backend).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    (port, accepted)
}

/// A self-signed certificate for localhost as `openssl req -x509` makes it
/// (marked CA:TRUE), written to `dir`: its PEM path, chain and key. Made with
/// rcgen, the same way, where the openssl CLI is missing.
fn self_signed(
    dir: &Path,
) -> (
    PathBuf,
    Vec<rustls::pki_types::CertificateDer<'static>>,
    rustls::pki_types::PrivateKeyDer<'static>,
) {
    use rustls::pki_types::pem::PemObject as _;
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "30",
            "-subj",
            "/CN=localhost",
        ])
        .args(["-addext", "subjectAltName=DNS:localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output();
    match made {
        Ok(out) if out.status.success() => {
            let text = std::process::Command::new("openssl")
                .args(["x509", "-noout", "-text", "-in"])
                .arg(&cert)
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&text.stdout);
            assert!(text.contains("CA:TRUE"), "openssl req -x509 marks it a CA: {text}");
        }
        _ => {
            let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
            params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            let pair = rcgen::KeyPair::generate().unwrap();
            let made = params.self_signed(&pair).unwrap();
            std::fs::write(&cert, made.pem()).unwrap();
            std::fs::write(&key, pair.serialize_pem()).unwrap();
        }
    }
    let chain = rustls::pki_types::CertificateDer::pem_file_iter(&cert)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = rustls::pki_types::PrivateKeyDer::from_pem_file(&key).unwrap();
    (cert, chain, key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_upstreams_with_a_private_ca() {
    let upstream = start(config()).await;
    let (port, ca, accepted) = tls_upstream(upstream.addr).await;
    let dir = TempDir::new("tls");
    let pem = dir.0.join("ca.pem");
    std::fs::write(&pem, ca).unwrap();
    let https = format!("https://localhost:{port}");

    let proxy = start_proxy(proxy::Config {
        upstream_ca: Some(pem.clone()),
        ..proxy_to(&https)
    })
    .await;
    let submitted = proxy
        .send(
            "POST",
            "/minimax/v1/video_generation",
            &[("Prefer", "scenario=instant")],
            SUBMIT,
        )
        .await;
    assert_eq!(submitted.status, 200, "{}", submitted.body);
    let task = submitted.json()["task_id"].as_str().unwrap().to_owned();
    // Keep-alive: both requests over one pooled TLS connection, answers intact.
    let polled = proxy
        .get(&format!("/minimax/v1/query/video_generation?task_id={task}"))
        .await;
    assert_eq!(polled.json()["data"]["status"], "SUCCESS");
    assert_eq!(accepted.load(Ordering::Relaxed), 1, "one kept-alive connection");
    assert_eq!(
        upstream.mock.requests()[0].header("host"),
        Some(format!("localhost:{port}"))
    );
    assert_eq!(proxy.judged(2).await["findings"], json!([]));
    proxy.stop().await;

    // Without the CA (the system's roots do not know it): 502 naming the cause.
    let untrusted = start_proxy(proxy_to(&https)).await;
    let r = untrusted.get("/minimax/v1/query/video_generation?task_id=1").await;
    assert_eq!(r.status, 502);
    let message = r.json()["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains(&https) && message.to_lowercase().contains("certificate"),
        "{message}"
    );
    untrusted.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_redacts_secrets_validates_and_replays_poll_by_poll() {
    let upstream = start(config()).await;
    let dir = TempDir::new("record");
    let har = dir.0.join("session.har");
    let proxy = start_proxy(proxy::Config {
        record: Some(har.clone()),
        ..proxy_to(&url(&upstream))
    })
    .await;
    let secret_headers = [
        ("Authorization", "Bearer sk-live-123"),
        ("X-Api-Key", "sk-live-456"),
        ("Prefer", "scenario=success-polls"),
        ("Content-Type", "application/json"),
    ];
    let submitted = proxy
        .send(
            "POST",
            "/minimax/v1/video_generation?api_key=sk-live-789",
            &secret_headers,
            SUBMIT,
        )
        .await;
    let task = submitted.json()["task_id"].as_str().unwrap().to_owned();
    let query = format!("/minimax/v1/query/video_generation?task_id={task}&key=sk-live-000");
    let mut polls = Vec::new();
    for _ in 0..5 {
        polls.push(proxy.get(&query).await.raw);
    }
    let statuses: Vec<String> = polls
        .iter()
        .map(|p| {
            serde_json::from_slice::<Value>(p).unwrap()["data"]["status"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(statuses, ["NOT_START", "SUBMITTED", "QUEUED", "IN_PROGRESS", "SUCCESS"]);
    let done: Value = serde_json::from_slice(polls.last().unwrap()).unwrap();
    let file_id = done["data"]["data"]["file_id"].as_str().unwrap().to_owned();
    let files = format!("/minimax/v1/files/retrieve?file_id={file_id}");
    let file = proxy.get(&files).await;
    assert_eq!(file.status, 200, "{}", file.body);
    proxy.judged(7).await;

    // Complete while the proxy still runs.
    let running = read_har(&har);
    assert_eq!(running["log"]["version"], "1.2");
    assert_eq!(running["log"]["entries"].as_array().unwrap().len(), 7);
    let text = std::fs::read_to_string(&har).unwrap();
    assert!(!text.contains("sk-live"), "a secret was recorded");
    let first = &running["log"]["entries"][0];
    let header = |name: &str| {
        first["request"]["headers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["name"] == name)
            .map(|h| h["value"].clone())
    };
    assert_eq!(header("authorization"), Some(json!("Bearer REDACTED")));
    assert_eq!(header("x-api-key"), Some(json!("REDACTED")));
    assert_eq!(header("prefer"), Some(json!("scenario=success-polls")));
    assert!(first["request"]["url"].as_str().unwrap().ends_with("?api_key=REDACTED"));
    assert_eq!(first["request"]["postData"]["text"], SUBMIT);
    assert_eq!(first["response"]["content"]["text"], submitted.body);
    // The journal redacts too.
    let journal = proxy.get("/__mock/requests").await.body;
    assert!(!journal.contains("sk-live"), "{journal}");
    proxy.stop().await;

    // validate judges it: every entry valid.
    let (valid, invalid) = validate(&har);
    assert_eq!((valid, invalid), (7, Vec::<String>::new()));

    // Replayed: the recorded submit, then the recorded polls byte for byte
    // (but for the download links, which point at the replaying mock), in
    // order, then the last one again; the clock and scenario play no part.
    let recording = replay::load(&har).unwrap();
    let replayed = start(Config {
        replay: vec![recording],
        ..config()
    })
    .await;
    let resubmitted = replayed
        .send(
            "POST",
            "/minimax/v1/video_generation",
            &[("Content-Type", "application/json")],
            SUBMIT,
        )
        .await;
    assert_eq!(resubmitted.raw, submitted.raw);
    let query = format!("/minimax/v1/query/video_generation?task_id={task}");
    let (recorded_at, replayed_at) = (url(&upstream), replayed.mock.uri());
    let moved = |bytes: &[u8]| String::from_utf8_lossy(bytes).replace(&recorded_at, &replayed_at);
    for recorded in polls.iter().chain([polls.last().unwrap(), polls.last().unwrap()]) {
        assert_eq!(replayed.get(&query).await.body, moved(recorded));
    }
    // files/retrieve too, and its link downloads from the replaying mock.
    let replayed_file = replayed.get(&files).await;
    assert_eq!(replayed_file.body, moved(&file.raw));
    assert!(file.body.contains(&recorded_at), "{}", file.body);
    let link = replayed_file.json()["file"]["download_url"]
        .as_str()
        .unwrap()
        .to_owned();
    let video = replayed.get(&link[replayed_at.len()..]).await;
    assert_eq!((video.status, video.header("content-type")), (200, Some("video/mp4")));
    let shown = replayed.get(&format!("/__mock/tasks/{task}")).await.json();
    assert_eq!(shown["replay"], json!({"gateway": 5, "native": 0, "v2": 0}));
    // Not in the recording: served as usual.
    let next = replayed.submit("instant").await;
    assert_ne!(next, task);
    assert_eq!(replayed.query(&next).await.json()["data"]["status"], "SUCCESS");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_secrets_records_them() {
    let upstream = start(config()).await;
    let dir = TempDir::new("keep");
    let har = dir.0.join("s.har");
    let proxy = start_proxy(proxy::Config {
        record: Some(har.clone()),
        keep_secrets: true,
        ..proxy_to(&url(&upstream))
    })
    .await;
    proxy
        .send(
            "GET",
            "/v1/query/video_generation?task_id=1",
            &[("Authorization", "Bearer sk-kept")],
            "",
        )
        .await;
    proxy.stop().await;
    assert!(std::fs::read_to_string(&har).unwrap().contains("Bearer sk-kept"));
}

/// The real binary: the recording is complete while it runs, after SIGTERM,
/// and after SIGKILL (a crash loses at most the exchange in flight).
#[test]
fn the_recording_survives_the_process() {
    let upstream = minimax_mock::MockServer::start_blocking();
    let dir = TempDir::new("process");
    for signal in ["TERM", "KILL"] {
        let har = dir.0.join(format!("{signal}.har"));
        let (child, addr) = crate::common::process::serve(&[
            "proxy",
            "--upstream",
            &upstream.uri(),
            "--record",
            har.to_str().unwrap(),
        ]);
        let base = format!("http://{addr}");
        for i in 0..3 {
            let url = format!("{base}/minimax/v1/query/video_generation?task_id={i}");
            let _ = ureq::get(&url).call();
        }
        let findings = format!("{base}/__mock/findings");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let v: Value = ureq::get(&findings).call().unwrap().body_mut().read_json().unwrap();
            if v["judged"] == 3 {
                break;
            }
            assert!(Instant::now() < deadline, "{v}");
        }
        assert_eq!(read_har(&har)["log"]["entries"].as_array().unwrap().len(), 3);
        let (code, log) = crate::common::process::stop(child, signal);
        if signal == "TERM" {
            assert_eq!(code, Some(0), "a graceful stop: {log}");
        }
        assert_eq!(read_har(&har)["log"]["entries"].as_array().unwrap().len(), 3);
        let (valid, invalid) = validate(&har);
        assert_eq!((valid, invalid.len()), (3, 0), "{invalid:?}");
    }
}

/// `--upstream-ca` with the upstream's own `openssl req -x509` certificate
/// (CA:TRUE, which webpki alone refuses as `CaUsedAsEndEntity`): pinned, so
/// accepted when presented byte for byte, as curl does; its name, its
/// validity and a certificate that is not the pinned one still refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_signed_upstream_certificate_is_pinned() {
    let upstream = start(config()).await;
    let dir = TempDir::new("pinned");
    let (pem, chain, key) = self_signed(&dir.0);
    let (port, _) = tls_front(upstream.addr, chain, key).await;
    let proxy = start_proxy(proxy::Config {
        upstream_ca: Some(pem.clone()),
        ..proxy_to(&format!("https://localhost:{port}"))
    })
    .await;
    let submitted = proxy
        .send(
            "POST",
            "/v1/video_generation",
            &[("Prefer", "scenario=instant")],
            SUBMIT,
        )
        .await;
    assert_eq!(submitted.status, 200, "{}", submitted.body);
    let task = submitted.json()["task_id"].as_str().unwrap().to_owned();
    let polled = proxy.get(&format!("/v1/query/video_generation?task_id={task}")).await;
    assert_eq!(polled.json()["status"], "Success");
    proxy.stop().await;

    // The name is still checked: the certificate names localhost only.
    let by_ip = start_proxy(proxy::Config {
        upstream_ca: Some(pem.clone()),
        ..proxy_to(&format!("https://127.0.0.1:{port}"))
    })
    .await;
    let r = by_ip.get("/v1/query/video_generation?task_id=1").await;
    assert_eq!(r.status, 502);
    let message = r.json()["message"].as_str().unwrap().to_owned();
    assert!(message.contains("not valid for name \"127.0.0.1\""), "{message}");
    by_ip.stop().await;

    // Validity too: an expired certificate, pinned, is refused.
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    let pair = rcgen::KeyPair::generate().unwrap();
    let expired = params.self_signed(&pair).unwrap();
    let expired_pem = dir.0.join("expired.pem");
    std::fs::write(&expired_pem, expired.pem()).unwrap();
    let (old_port, _) = tls_front(
        upstream.addr,
        vec![expired.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(pair.serialize_der().into()),
    )
    .await;
    let stale = start_proxy(proxy::Config {
        upstream_ca: Some(expired_pem.clone()),
        ..proxy_to(&format!("https://localhost:{old_port}"))
    })
    .await;
    let message = stale.get("/v1/query/video_generation?task_id=1").await.json()["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.to_lowercase().contains("expired"), "{message}");
    stale.stop().await;

    // Only the pinned certificate is trusted for itself: another one is not.
    let other = start_proxy(proxy::Config {
        upstream_ca: Some(expired_pem),
        ..proxy_to(&format!("https://localhost:{port}"))
    })
    .await;
    let r = other.get("/v1/query/video_generation?task_id=1").await;
    assert_eq!(r.status, 502, "{}", r.body);
    other.stop().await;
}

/// An upstream that stalls: before its answer head, 504 in the gateway's
/// envelope (above); in the middle of its body, the body is cut at
/// `--upstream-timeout` and the client's connection closed, not left hanging.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_stalled_mid_body_is_cut_at_the_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = listener.local_addr().unwrap();
    let (hold, held) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).await.unwrap() == 1 {
            head.push(byte[0]);
        }
        let answer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"partial\":";
        stream.write_all(answer.as_bytes()).await.unwrap();
        // Then nothing, for as long as the test runs.
        let _ = held.await;
    });
    let proxy = start_proxy(proxy::Config {
        upstream_timeout: Duration::from_millis(300),
        ..proxy_to(&format!("http://{upstream}"))
    })
    .await;
    let started = Instant::now();
    let mut client = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
    client
        .write_all(b"GET /v1/query/video_generation?task_id=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), client.read_to_end(&mut got)).await;
    assert!(read.is_ok(), "the client was left hanging");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.ends_with("{\"partial\":"), "what came, then the cut: {text}");
    // Counted as cut, once the body is gone.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let metrics = proxy.get("/__mock/metrics").await.body;
        if metrics.contains("minimax_mock_proxy_exchanges_total{outcome=\"cut\",status=\"200\"} 1\n") {
            break;
        }
        assert!(Instant::now() < deadline, "{metrics}");
        tokio::task::yield_now().await;
    }
    drop(hold);
    proxy.stop().await;
}

/// The proxy's `GET /__mock/metrics`, read by an independent parser:
/// exchanges by outcome and status, the upstream's latency, what judging found.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_counts_exchanges_latency_and_findings() {
    let upstream = fixed_upstream(wrong).await;
    let proxy = start_proxy(proxy_to(&format!("http://{upstream}"))).await;
    assert_eq!(
        proxy.get("/minimax/v1/query/video_generation?task_id=1").await.status,
        200
    );
    assert_eq!(proxy.get("/v1/query/video_generation?task_id=1").await.status, 200);
    assert_eq!(proxy.get("/elsewhere").await.status, 404);
    proxy.judged(2).await;
    let r = proxy.get("/__mock/metrics").await;
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let m = prometheus_parse::Scrape::parse(r.body.lines().map(|l| Ok(l.to_owned()))).unwrap();
    let value = |name: &str, labels: &[(&str, &str)]| {
        m.samples
            .iter()
            .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| match &s.value {
                prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Untyped(v) => *v,
                prometheus_parse::Value::Histogram(b) => b.iter().map(|b| b.count).fold(0.0, f64::max),
                other => panic!("{other:?}"),
            })
            .unwrap_or(0.0)
    };
    let exchanges = "minimax_mock_proxy_exchanges_total";
    assert_eq!(value(exchanges, &[("outcome", "forwarded"), ("status", "200")]), 2.0);
    assert_eq!(value(exchanges, &[("outcome", "forwarded"), ("status", "404")]), 1.0);
    assert_eq!(value("minimax_mock_proxy_upstream_seconds", &[]), 3.0);
    assert_eq!(value("minimax_mock_proxy_upstream_seconds_count", &[]), 3.0);
    assert_eq!(value("minimax_mock_proxy_judged_total", &[("result", "findings")]), 2.0);
    assert!(value("minimax_mock_proxy_findings_total", &[("severity", "error")]) >= 2.0);
    proxy.stop().await;

    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let nowhere = start_proxy(proxy_to(&format!("http://127.0.0.1:{port}"))).await;
    assert_eq!(nowhere.get("/x").await.status, 502);
    let text = nowhere.get("/__mock/metrics").await.body;
    assert!(
        text.contains("minimax_mock_proxy_exchanges_total{outcome=\"unreachable\",status=\"502\"} 1\n"),
        "{text}"
    );
    nowhere.stop().await;
}

//! new-api's OpenAI-compatible video API, the fourth surface: what the
//! official openai SDKs send (multipart/form-data) and JSON, the status
//! walk on the mock's frozen clock, the download with `Range`, new-api's
//! own `/v1/video/generations` envelope, its errors, the `unknown`
//! scenario, faults, `--require-auth`, callbacks through `metadata`, the
//! control API and `--state`. Snapshots pin the wire formats.

use std::time::Duration;

use crate::common::{config, start, Conn, Response, TestServer};
use minimax_mock::lifecycle::Span;
use minimax_mock::server::Config;
use serde_json::{json, Value};

const JSON: (&str, &str) = ("Content-Type", "application/json");
const BOUNDARY: &str = "----mock-boundary-7MA4YWxkTrZu0gW";

fn deterministic() -> Config {
    Config {
        public_url: Some("http://127.0.0.1:8080".to_owned()),
        ..config()
    }
}

/// A multipart/form-data body of text fields and, optionally, one file
/// part, as the openai SDKs write it.
fn form(fields: &[(&str, &str)], file: Option<(&str, &str, &[u8])>) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in fields {
        out.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    if let Some((name, file_name, data)) = file {
        out.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: image/png\r\n\r\n"
            )
            .as_bytes(),
        );
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    out
}

/// POSTs raw `body` bytes with `content_type` on a fresh connection.
async fn post_bytes(server: &TestServer, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    let mut conn = Conn::open(server.addr).await;
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n",
        server.addr,
        body.len()
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(body);
    conn.write_raw(&bytes).await;
    conn.read_response(false).await
}

async fn post_form(server: &TestServer, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    let mut all = vec![("Content-Type", content_type.as_str())];
    all.extend_from_slice(headers);
    post_bytes(server, path, &all, body).await
}

/// Submits `scenario` through `POST /v1/videos` as the SDKs do; the id.
async fn submit(server: &TestServer, scenario: &str) -> String {
    let prefer = format!("scenario={scenario}");
    let body = form(
        &[
            ("prompt", "A cat plays the piano"),
            ("model", "MiniMax-Hailuo-02"),
            ("seconds", "6"),
            ("size", "1920x1080"),
        ],
        None,
    );
    let r = post_form(server, "/v1/videos", &[("Prefer", &prefer)], &body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["id"].as_str().unwrap().to_owned()
}

fn valid(server: &TestServer, schema: &str, body: &Value) {
    let violations = server.app.contract.schema(schema).unwrap().violations(body);
    assert!(violations.is_empty(), "{schema}: {violations:?}\n{body}");
}

/// Width and height from the first `tkhd` box of an MP4 (16.16 fixed point).
fn mp4_frame(bytes: &[u8]) -> (u32, u32) {
    let at = bytes.windows(4).position(|w| w == b"tkhd").expect("a tkhd box");
    let fields = if bytes[at + 4] == 1 { 36 } else { 24 };
    let start = at + 4 + fields + 8 + 8 + 36;
    let word = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap()) >> 16;
    (word(start), word(start + 4))
}

#[tokio::test]
async fn multipart_as_the_sdks_send_it_with_a_file_part() {
    let server = start(deterministic()).await;
    let png = [0x89, b'P', b'N', b'G', 0, 0xff, 0xfe];
    let body = form(
        &[
            ("prompt", "A cat plays the piano"),
            ("model", "MiniMax-Hailuo-02"),
            ("seconds", "10"),
            ("size", "1366x768"),
        ],
        Some(("input_reference", "cat.png", &png)),
    );
    let r = post_form(&server, "/v1/videos", &[], &body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let video = r.json();
    valid(&server, minimax_mock::contract::OPENAI_VIDEO_RESPONSE, &video);
    let id = video["id"].as_str().unwrap();
    assert!(id.starts_with("task_") && id.len() == 37, "{id}");
    assert!(id[5..].bytes().all(|b| b.is_ascii_alphanumeric()), "{id}");
    assert_eq!(video["task_id"], id);
    insta::assert_snapshot!("openai_submitted", r.body);
    // What new-api would send MiniMax: 10 s at 768P.
    let task = server.get(&format!("/__mock/tasks/{id}")).await.json();
    assert_eq!(
        (&task["surface"], &task["resolution"], &task["duration"], &task["model"]),
        (
            &json!("openai"),
            &json!("768P"),
            &json!(10),
            &json!("MiniMax-Hailuo-02")
        )
    );
    assert_eq!(
        (&task["video_width"], &task["video_height"]),
        (&json!(1366), &json!(768))
    );
    // The journal keeps the multipart body as it came.
    let journal = server.get(&format!("/__mock/requests?task_id={id}")).await.json();
    assert_eq!(journal["requests"][0]["path"], "/v1/videos");
    // The same seed gives the same id.
    let again = start(deterministic()).await;
    let r = post_form(&again, "/v1/videos", &[], &body).await;
    assert_eq!(r.json()["id"], id);
}

#[tokio::test]
async fn json_with_metadata_as_an_object_or_a_string() {
    let server = start(config()).await;
    for metadata in [
        json!({"prompt_optimizer": false, "aigc_watermark": true}),
        json!(r#"{"prompt_optimizer": false, "aigc_watermark": true}"#),
    ] {
        let body = json!({"prompt": "A lighthouse", "size": "1280x720", "model": "T2V-01", "metadata": metadata});
        let r = server.send("POST", "/v1/videos", &[JSON], &body.to_string()).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let video = r.json();
        assert_eq!(
            (&video["model"], &video["status"], &video["progress"]),
            (&json!("T2V-01"), &json!("queued"), &json!(0))
        );
        let task = server
            .get(&format!("/__mock/tasks/{}", video["id"].as_str().unwrap()))
            .await
            .json();
        assert_eq!((&task["resolution"], &task["duration"]), (&json!("720P"), &json!(6)));
    }
    // No model: MiniMax-Hailuo-02 at its default, 768P; `duration` is new-api's own name.
    let r = server
        .send("POST", "/v1/videos", &[JSON], r#"{"prompt": "x", "duration": "10"}"#)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let task = server.get(&format!("/__mock/tasks/{id}")).await.json();
    assert_eq!(
        (&task["model"], &task["resolution"], &task["duration"]),
        (&json!("MiniMax-Hailuo-02"), &json!("768P"), &json!(10))
    );
    // metadata's members override what new-api derived, as its unmarshal does.
    let body = json!({"prompt": "x", "size": "1920x1080", "metadata": {"resolution": "768P"}});
    let r = server.send("POST", "/v1/videos", &[JSON], &body.to_string()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(
        server.get(&format!("/__mock/tasks/{id}")).await.json()["resolution"],
        "768P"
    );
}

/// Every step of every built-in scenario through new-api's own query,
/// `/v1/video/generations/{id}`, on the frozen clock: the gateway's
/// envelope, NOT_START … SUCCESS with progress "N%", naming the `task_`
/// id. (`/v1/videos/{id}` walks in tests/it/lifecycle.rs, with a fixture
/// per step.)
#[tokio::test]
async fn the_generations_query_walks_every_builtin_scenario() {
    let names: Vec<String> = minimax_mock::lifecycle::scenarios::builtin()
        .iter()
        .filter(|s| s.steps().iter().all(|step| step.fault.is_none()))
        .map(|s| s.name().to_owned())
        .collect();
    let mut wire = String::new();
    for name in &names {
        let server = start(deterministic()).await;
        let id = submit(&server, name).await;
        let steps = server.app.catalog.get(name).unwrap().steps().to_vec();
        for (i, step) in steps.iter().enumerate() {
            let envelope = server.get(&format!("/v1/video/generations/{id}")).await;
            assert_eq!(envelope.status, 200);
            let json = envelope.json();
            valid(&server, minimax_mock::contract::QUERY_RESPONSE, &json);
            assert_eq!(json["data"]["status"], step.status.as_str(), "{name} step {i}");
            assert_eq!(json["data"]["task_id"], id.as_str());
            let percent = format!("{}%", step.progress.0);
            assert_eq!(json["data"]["progress"], percent.as_str(), "{name} step {i}");
            wire.push_str(&format!("{name} step {i}: {}\n{}\n", step.status, envelope.body));
            if let Span::For(d) = step.span {
                server.app.store.clock().advance(d);
            }
        }
        // Its polls are the task's, shared with /v1/videos/{id}.
        let video = server.get(&format!("/v1/videos/{id}")).await.json();
        assert_eq!(video["progress"], 100, "{name}");
        let task = server.get(&format!("/__mock/tasks/{id}")).await.json();
        assert_eq!(task["polls"], steps.len() + 1);
    }
    insta::assert_snapshot!("openai_generations_walk", wire);
}

#[tokio::test]
async fn the_first_steps_read_queued_then_in_progress_completed() {
    let server = start(config()).await;
    let id = submit(&server, "success").await;
    let mut seen = Vec::new();
    for _ in 0..5 {
        let v = server.get(&format!("/v1/videos/{id}")).await.json();
        seen.push((
            v["status"].as_str().unwrap().to_owned(),
            v["progress"].as_u64().unwrap(),
        ));
        server.app.store.clock().advance(Duration::from_secs(2));
    }
    let words: Vec<&str> = seen.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(words, ["queued", "queued", "in_progress", "in_progress", "in_progress"]);
    assert!(seen.windows(2).all(|w| w[0].1 <= w[1].1), "{seen:?}");
    server.app.store.clock().advance(Duration::from_secs(10));
    let done = server.get(&format!("/v1/videos/{id}")).await.json();
    assert_eq!((&done["status"], &done["progress"]), (&json!("completed"), &json!(100)));
    assert_eq!(done["completed_at"], done["created_at"].as_u64().unwrap() + 10);
    assert!(done["metadata"]["url"]
        .as_str()
        .unwrap()
        .starts_with(&server.mock.uri()));
    assert!(done.get("task_id").is_none(), "new-api's query has no task_id");

    let failed = submit(&server, "fail").await;
    server.app.store.clock().advance(Duration::from_secs(60));
    let r = server.get(&format!("/v1/videos/{failed}")).await;
    let v = r.json();
    assert_eq!((&v["status"], &v["error"]["code"]), (&json!("failed"), &json!("1027")));
    insta::assert_snapshot!("openai_failed", r.body);
}

#[tokio::test]
async fn the_unknown_scenario_says_unknown_before_the_poller_saw_the_task() {
    let server = start(config()).await;
    let id = submit(&server, "openai-unknown").await;
    let first = server.get(&format!("/v1/videos/{id}")).await.json();
    assert_eq!((&first["status"], &first["progress"]), (&json!("unknown"), &json!(0)));
    // The gateway's envelope shows NOT_START meanwhile, as new-api's row does.
    let envelope = server.get(&format!("/v1/video/generations/{id}")).await.json();
    assert_eq!(envelope["data"]["status"], "NOT_START");
    server.app.store.clock().advance(Duration::from_secs(1));
    assert_eq!(server.get(&format!("/v1/videos/{id}")).await.json()["status"], "queued");
    // The default scenario never says unknown.
    let plain = submit(&server, "success").await;
    assert_eq!(
        server.get(&format!("/v1/videos/{plain}")).await.json()["status"],
        "queued"
    );
    // A scenarios file or a script may say it on any step before the end, never after.
    let r = server
        .send(
            "PUT",
            "/__mock/tasks/task_unseen",
            &[JSON],
            r#"{"surface": "openai", "steps": [{"status": "IN_PROGRESS", "openai_status": "unknown", "polls": 1}, {"status": "SUCCESS"}]}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(server.get("/v1/videos/task_unseen").await.json()["status"], "unknown");
    assert_eq!(server.get("/v1/videos/task_unseen").await.json()["status"], "completed");
    let r = server
        .send(
            "PUT",
            "/__mock/tasks/task_bad",
            &[JSON],
            r#"{"surface": "openai", "steps": [{"status": "SUCCESS", "openai_status": "unknown"}]}"#,
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("/steps/0/openai_status"), "{}", r.body);
}

#[tokio::test]
async fn content_downloads_the_clip_with_range_and_refuses_before_success() {
    let server = start(config()).await;
    let id = submit(&server, "success-polls").await;
    let early = server.get(&format!("/v1/videos/{id}/content")).await;
    assert_eq!(early.status, 400);
    assert_eq!(
        early.body,
        r#"{"error":{"message":"Task is not completed yet, current status: NOT_START","type":"invalid_request_error"}}"#
    );
    valid(&server, minimax_mock::contract::OPENAI_ERROR, &early.json());
    // The download is not a poll: the task is still at its first step.
    assert_eq!(server.get(&format!("/__mock/tasks/{id}")).await.json()["polls"], 0);
    for _ in 0..4 {
        server.get(&format!("/v1/videos/{id}")).await;
    }
    let status = server.get(&format!("/v1/videos/{id}/content")).await;
    assert_eq!(status.status, 400);
    assert!(status.body.contains("current status: IN_PROGRESS"), "{}", status.body);
    server.get(&format!("/v1/videos/{id}")).await;
    let whole = server
        .send(
            "GET",
            &format!("/v1/videos/{id}/content"),
            &[("Accept", "application/binary")],
            "",
        )
        .await;
    assert_eq!(whole.status, 200);
    assert_eq!(whole.header("content-type"), Some("video/mp4"));
    assert_eq!(whole.header("accept-ranges"), Some("bytes"));
    assert_eq!(mp4_frame(&whole.raw), (1920, 1080), "the task's frame size");
    let part = server
        .send(
            "GET",
            &format!("/v1/videos/{id}/content"),
            &[("Range", "bytes=0-99")],
            "",
        )
        .await;
    assert_eq!(part.status, 206);
    assert_eq!(part.raw, whole.raw[..100]);
    assert_eq!(
        part.header("content-range"),
        Some(format!("bytes 0-99/{}", whole.raw.len()).as_str())
    );
    let past = server
        .send(
            "GET",
            &format!("/v1/videos/{id}/content"),
            &[("Range", "bytes=99999999-")],
            "",
        )
        .await;
    assert_eq!(past.status, 416);
    let unknown = server.get("/v1/videos/task_nope/content").await;
    assert_eq!(
        (unknown.status, unknown.json()["error"]["message"].clone()),
        (404, json!("Task not found"))
    );
    // Nine hours on, the link the task shows has expired: new-api relays the bucket's 403.
    server.app.store.clock().advance(Duration::from_secs(10 * 3600));
    let expired = server.get(&format!("/v1/videos/{id}/content")).await;
    assert_eq!(expired.status, 502, "{}", expired.body);
    valid(&server, minimax_mock::contract::OPENAI_ERROR, &expired.json());
}

#[tokio::test]
async fn generations_takes_the_same_request_and_answers_the_envelope() {
    let server = start(deterministic()).await;
    let body = form(&[("prompt", "A cat"), ("seconds", "6")], None);
    let r = post_form(
        &server,
        "/v1/video/generations",
        &[("Prefer", "scenario=success-polls")],
        &body,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let video = r.json();
    valid(&server, minimax_mock::contract::OPENAI_VIDEO_RESPONSE, &video);
    let id = video["id"].as_str().unwrap();
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let envelope = server.get(&format!("/v1/video/generations/{id}")).await.json();
        assert_eq!(
            (&envelope["code"], &envelope["message"]),
            (&json!("success"), &json!(""))
        );
        statuses.push(format!(
            "{} {}",
            envelope["data"]["status"].as_str().unwrap(),
            envelope["data"]["progress"].as_str().unwrap()
        ));
    }
    assert_eq!(
        statuses,
        [
            "NOT_START 0%",
            "SUBMITTED 10%",
            "QUEUED 20%",
            "IN_PROGRESS 30%",
            "SUCCESS 100%"
        ]
    );
    // The same task on the OpenAI route, and only there.
    assert_eq!(
        server.get(&format!("/v1/videos/{id}")).await.json()["status"],
        "completed"
    );
    let gateway = server.query(id).await;
    assert_eq!(
        (gateway.status, gateway.body.as_str()),
        (
            400,
            r#"{"code":"task_not_exist","message":"task_not_exist","data":null}"#
        )
    );
    let v1 = server.submit("instant").await;
    assert_eq!(server.get(&format!("/v1/videos/{v1}")).await.status, 400);
    assert_eq!(server.get(&format!("/v1/video/generations/{v1}")).await.status, 400);
}

#[tokio::test]
async fn errors_are_new_apis() {
    let server = start(Config {
        max_body: 4096,
        ..config()
    })
    .await;
    let mut wire = String::new();
    let mut note = |what: &str, r: &Response| wire.push_str(&format!("{what}: HTTP {}\n{}\n", r.status, r.body));
    let r = post_form(
        &server,
        "/v1/videos",
        &[],
        &form(&[("model", "MiniMax-Hailuo-02")], None),
    )
    .await;
    assert_eq!(r.json()["message"], "prompt is required");
    note("multipart without a prompt", &r);
    let r = server.send("POST", "/v1/videos", &[JSON], r#"{"prompt": "  "}"#).await;
    note("a blank prompt", &r);
    let r = server
        .send("POST", "/v1/videos", &[JSON], r#"{"prompt": "x", "seconds": 6}"#)
        .await;
    note("seconds as a number", &r);
    let r = server.send("POST", "/v1/videos", &[JSON], "{nope").await;
    note("not JSON", &r);
    let r = server
        .send("POST", "/v1/videos", &[JSON], r#"{"prompt": "x", "metadata": "[1]"}"#)
        .await;
    note("metadata not an object", &r);
    let r = post_form(&server, "/v1/videos", &[], b"--nope\r\n").await;
    note("a broken multipart body", &r);
    let r = server
        .send(
            "POST",
            "/v1/videos",
            &[JSON],
            r#"{"prompt": "x", "seconds": "10", "size": "1920x1080"}"#,
        )
        .await;
    note("the model table (10 s at 1080P)", &r);
    let r = server
        .send("POST", "/v1/videos", &[JSON], r#"{"prompt": "x", "model": "sora-2"}"#)
        .await;
    note("a model MiniMax does not know", &r);
    let r = server
        .send(
            "POST",
            "/v1/videos",
            &[JSON, ("Prefer", "scenario=nope")],
            r#"{"prompt": "x"}"#,
        )
        .await;
    note("an unknown scenario in Prefer", &r);
    let r = server.send("POST", "/v1/videos", &[JSON], &"x".repeat(5000)).await;
    note("a body over --max-body", &r);
    let r = server.get("/v1/videos/task_nope").await;
    note("an unknown id", &r);
    let r = server.get("/v1/video/generations/task_nope").await;
    note("an unknown id (generations)", &r);
    let r = server.get("/v1/videos/").await;
    note("no id", &r);
    let r = server.get("/v1/videos").await;
    note("GET on the submit", &r);
    let r = server.send("DELETE", "/v1/videos/task_nope", &[], "").await;
    note("DELETE on a task", &r);
    let r = server.get("/v1/videos/task_nope/remix").await;
    note("a path this API does not have", &r);
    insta::assert_snapshot!("openai_errors", wire);
    // Each body is one of the contract's.
    for body in wire.split('\n').filter(|l| l.starts_with('{')) {
        let v: Value = serde_json::from_str(body).unwrap();
        let schema = if v.get("error").is_some() {
            minimax_mock::contract::OPENAI_ERROR
        } else {
            minimax_mock::contract::ERROR
        };
        valid(&server, schema, &v);
    }
}

/// One GET on a connection of its own, closed after; `None` when the
/// connection is reset instead of answered.
async fn try_get(addr: std::net::SocketAddr, target: &str) -> Option<Response> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    match stream.read_to_end(&mut raw).await {
        Ok(_) if !raw.is_empty() => {}
        _ => return None,
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let headers = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Some(Response {
        status,
        headers,
        body: body.to_owned(),
        raw: body.as_bytes().to_vec(),
    })
}

#[tokio::test]
async fn faults_answer_in_this_apis_error_bodies() {
    let server = start(config()).await;
    let id = submit(&server, "flaky").await;
    let target = format!("/v1/videos/{id}");
    let error = server.app.contract.error();

    let ok = try_get(server.addr, &target).await.unwrap();
    assert_eq!((ok.status, ok.json()["status"].clone()), (200, json!("queued")));
    let limited = try_get(server.addr, &target).await.unwrap();
    assert_eq!((limited.status, limited.header("retry-after")), (429, Some("1")));
    assert_eq!(limited.json()["message"], "当前分组上游负载已饱和，请稍后再试");
    assert!(error.is_valid(&limited.json()), "{}", limited.body);
    let bad_gateway = try_get(server.addr, &target).await.unwrap();
    assert_eq!(bad_gateway.status, 502);
    assert!(error.is_valid(&bad_gateway.json()));
    let started = std::time::Instant::now();
    let slow = try_get(server.addr, &target).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(100));
    assert_eq!(slow.json()["status"], "queued");
    let truncated = try_get(server.addr, &target).await.unwrap();
    assert!(serde_json::from_str::<Value>(&truncated.body).is_err());
    assert!(truncated.body.starts_with(r#"{"id":"task_"#), "{}", truncated.body);
    assert_eq!(try_get(server.addr, &target).await.unwrap().status, 503);
    let malformed = try_get(server.addr, &target).await.unwrap();
    assert!(serde_json::from_str::<Value>(&malformed.body).is_err());
    assert!(try_get(server.addr, &target).await.is_none(), "the connection is reset");
    // The contract-breaking step breaks the gateway's members, which the video object does not have.
    assert_eq!(try_get(server.addr, &target).await.unwrap().status, 200);
    let done = try_get(server.addr, &target).await.unwrap().json();
    assert_eq!(done["status"], "completed");
    // The envelope of /v1/video/generations meets the same faults, on the same poll count.
    let other = submit(&server, "flaky").await;
    let target = format!("/v1/video/generations/{other}");
    assert_eq!(try_get(server.addr, &target).await.unwrap().status, 200);
    let limited = try_get(server.addr, &target).await.unwrap();
    assert_eq!(limited.status, 429);
    assert!(error.is_valid(&limited.json()));
}

#[tokio::test]
async fn require_auth_answers_401_as_new_apis_token_check() {
    let server = start(Config {
        require_auth: true,
        ..config()
    })
    .await;
    let body = form(&[("prompt", "x")], None);
    let r = post_form(&server, "/v1/videos", &[], &body).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.body,
        r#"{"error":{"message":"未提供令牌","type":"new_api_error","code":""}}"#
    );
    for target in [
        "/v1/videos/task_x",
        "/v1/videos/task_x/content",
        "/v1/video/generations/task_x",
    ] {
        let r = server.get(target).await;
        assert_eq!(r.status, 401, "{target}");
        valid(&server, minimax_mock::contract::OPENAI_ERROR, &r.json());
    }
    let r = post_form(&server, "/v1/videos", &[("Authorization", "Bearer sk-test")], &body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let r = server
        .send(
            "GET",
            &format!("/v1/videos/{id}"),
            &[("Authorization", "Bearer sk-test")],
            "",
        )
        .await;
    assert_eq!(r.status, 200);
}

/// `callback_url` rides in `metadata`, as new-api merges it into MiniMax's
/// body: the challenge first, then v1's updates naming the `task_` id.
#[tokio::test]
async fn callbacks_through_metadata() {
    use http_body_util::{BodyExt, Full};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Value>::new()));
    let seen = received.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let seen = seen.clone();
            let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let seen = seen.clone();
                async move {
                    let body = req.into_body().collect().await.unwrap().to_bytes();
                    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    seen.lock().unwrap().push(v.clone());
                    let answer = match v.get("challenge") {
                        Some(c) => json!({ "challenge": c }),
                        None => json!({}),
                    };
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(bytes::Bytes::from(
                        answer.to_string(),
                    ))))
                }
            });
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    let server = start(config()).await;
    let metadata = json!({ "callback_url": url }).to_string();
    let body = form(&[("prompt", "A cat"), ("metadata", &metadata)], None);
    let r = post_form(&server, "/v1/videos", &[], &body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.json()["id"].as_str().unwrap().to_owned();
    assert!(received.lock().unwrap()[0]["challenge"].is_string());
    server.mock.advance(Duration::from_secs(30));
    let mut updates = Vec::new();
    for _ in 0..500 {
        updates = server
            .mock
            .callbacks(&id)
            .into_iter()
            .filter(|a| a.kind == "update")
            .collect();
        if updates.len() >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let statuses: Vec<_> = updates.iter().map(|a| a.status.clone().unwrap()).collect();
    assert_eq!(statuses, ["Preparing", "Queueing", "Processing", "Success"]);
    let bodies = received.lock().unwrap()[1..].to_vec();
    for body in &bodies {
        assert!(server.app.contract.callback_update().is_valid(body), "{body}");
        assert_eq!(body["task_id"], id.as_str());
    }
    // A callback_url that does not echo refuses the submit with MiniMax's 2013, relayed.
    let dead = json!({"prompt": "x", "metadata": {"callback_url": "http://127.0.0.1:9/hook"}});
    let r = server.send("POST", "/v1/videos", &[JSON], &dead.to_string()).await;
    assert_eq!((r.status, r.json()["code"].clone()), (400, json!("2013")));
    assert!(r.json()["message"]
        .as_str()
        .unwrap()
        .starts_with("hailuo api error: invalid params, callback_url"));
}

/// The control API scripts a task of this API under an id of one's own,
/// shows what its routes say, and the dashboard's surface list has it.
#[tokio::test]
async fn the_control_api_scripts_and_shows_openai_tasks() {
    let server = start(config()).await;
    let r = server
        .send(
            "PUT",
            "/__mock/tasks/task_mine",
            &[JSON],
            r#"{"scenario": "fail", "surface": "openai", "resolution": "720P"}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let shown = server.get("/__mock/tasks/task_mine").await.json();
    assert_eq!(
        (&shown["surface"], &shown["current"]["openai_status"]),
        (&json!("openai"), &json!("queued"))
    );
    server.app.store.clock().advance(Duration::from_secs(60));
    let v = server.get("/v1/videos/task_mine").await.json();
    assert_eq!(
        (&v["status"], &v["model"]),
        (&json!("failed"), &json!("MiniMax-Hailuo-02"))
    );
    // Not a task of the gateway's.
    assert_eq!(server.query("task_mine").await.status, 400);
    let page = server.get("/__mock/").await;
    assert!(page.body.contains(r#"<option value="openai">openai</option>"#));
}

/// `--state` keeps this API's tasks: their surface, model and poll count,
/// across a restart of the real binary.
#[test]
fn state_keeps_openai_tasks_across_a_restart() {
    use crate::common::process;
    use std::io::{Read, Write};
    let dir = std::env::temp_dir().join(format!("minimax-mock-openai-state-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state.json");
    let http = |addr: &str, method: &str, target: &str, body: &str| -> (u16, Value) {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        write!(
            stream,
            "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nPrefer: scenario=success-polls\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let status = response.split(' ').nth(1).unwrap().parse().unwrap();
        let body = response.split_once("\r\n\r\n").unwrap().1;
        (status, serde_json::from_str(body).unwrap_or(Value::Null))
    };
    let args = ["serve", "--quiet", "--frozen", "--state", state.to_str().unwrap()];
    let (child, addr) = process::serve(&args);
    let (status, video) = http(&addr, "POST", "/v1/videos", r#"{"prompt": "x", "model": "T2V-01"}"#);
    assert_eq!(status, 200, "{video}");
    let id = video["id"].as_str().unwrap().to_owned();
    assert_eq!(
        http(&addr, "GET", &format!("/v1/videos/{id}"), "").1["status"],
        "queued"
    );
    assert_eq!(process::stop(child, "TERM").0, Some(0));

    let (child, addr) = process::serve(&args);
    let (status, v) = http(&addr, "GET", &format!("/v1/videos/{id}"), "");
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (&v["model"], &v["status"], &v["progress"]),
        (&json!("T2V-01"), &json!("queued"), &json!(10))
    );
    let (_, task) = http(&addr, "GET", &format!("/__mock/tasks/{id}"), "");
    assert_eq!((&task["surface"], &task["polls"]), (&json!("openai"), &json!(2)));
    // New submissions continue the sequence.
    let (_, next) = http(&addr, "POST", "/v1/videos", r#"{"prompt": "y"}"#);
    assert_ne!(next["id"], id.as_str());
    assert_eq!(process::stop(child, "TERM").0, Some(0));
    let _ = std::fs::remove_dir_all(&dir);
}

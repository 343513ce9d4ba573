//! MiniMax's own APIs beside the gateway's: native v1 at the root
//! (submit, query, files/retrieve), the gateway's passthrough, v2
//! (MiniMax-H3), callbacks with a challenge, and the ways to choose a
//! scenario without a `Prefer` header. One store, one clock: a task
//! submitted through one API is polled through another.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{config, start, TestServer};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use minimax_mock::server::app::QueryShape;
use minimax_mock::server::Config;
use serde_json::{json, Value};

pub(crate) const JSON: (&str, &str) = ("Content-Type", "application/json");
const HAILUO: &str = r#"{"model":"MiniMax-Hailuo-02","prompt":"A cat plays piano","duration":6,"resolution":"1080P"}"#;

pub(crate) async fn post(
    server: &TestServer,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> crate::common::Response {
    let mut all = vec![JSON];
    all.extend_from_slice(headers);
    server.send("POST", path, &all, body).await
}

/// Width and height from the first `tkhd` box of an MP4 (16.16 fixed point).
fn mp4_frame(bytes: &[u8]) -> (u32, u32) {
    let at = bytes.windows(4).position(|w| w == b"tkhd").expect("a tkhd box");
    let version = bytes[at + 4];
    // tkhd: version/flags, times, track id, reserved, duration, reserved,
    // layer, group, volume, reserved, matrix (36), width, height.
    let fields = if version == 1 {
        4 + 8 + 8 + 4 + 4 + 8
    } else {
        4 + 4 + 4 + 4 + 4 + 4
    };
    let start = at + 4 + fields + 8 + 2 + 2 + 2 + 2 + 36;
    let word = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap()) >> 16;
    (word(start), word(start + 4))
}

async fn download(server: &TestServer, url: &str) -> Vec<u8> {
    let path = url
        .strip_prefix(&server.mock.uri())
        .expect("the link points at the mock");
    let r = server.get(path).await;
    assert_eq!(r.status, 200, "{url}");
    assert_eq!(r.header("content-type"), Some("video/mp4"));
    r.raw
}

#[tokio::test]
async fn native_v1_whole_flow_submit_poll_retrieve_download() {
    let server = start(config()).await;
    let r = post(
        &server,
        "/v1/video_generation",
        &[("Prefer", "scenario=success-polls")],
        HAILUO,
    )
    .await;
    assert_eq!(r.status, 200);
    let submitted = r.json();
    assert_eq!(
        submitted["base_resp"],
        json!({"status_code": 0, "status_msg": "success"})
    );
    let task_id = submitted["task_id"].as_str().unwrap().to_owned();
    assert!(server.app.contract.submit_response().is_valid(&submitted));

    let mut statuses = Vec::new();
    let mut last = Value::Null;
    for _ in 0..5 {
        let r = server
            .get(&format!("/v1/query/video_generation?task_id={task_id}"))
            .await;
        assert_eq!(r.status, 200);
        let v = r.json();
        let violations = server.app.contract.native_query_response().violations(&v);
        assert!(violations.is_empty(), "{v}: {violations:?}");
        statuses.push(v["status"].as_str().unwrap().to_owned());
        if v["status"] != "Success" {
            assert!(v.get("file_id").is_none() && v.get("video_width").is_none(), "{v}");
        }
        last = v;
    }
    assert_eq!(
        statuses,
        ["Preparing", "Preparing", "Queueing", "Processing", "Success"]
    );
    assert_eq!(
        (last["video_width"].as_u64(), last["video_height"].as_u64()),
        (Some(1920), Some(1080))
    );
    let file_id = last["file_id"].as_str().unwrap();

    let r = server.get(&format!("/v1/files/retrieve?file_id={file_id}")).await;
    assert_eq!(r.status, 200);
    let file = r.json();
    assert!(server.app.contract.files_retrieve_response().is_valid(&file), "{file}");
    assert_eq!(file["file"]["file_id"].as_u64().unwrap().to_string(), file_id);
    assert_eq!(file["base_resp"]["status_code"], 0);

    // The links are the ones the gateway's body shows, and play a clip of the task's size.
    let gateway = server.query(&task_id).await.json();
    assert_eq!(
        file["file"]["download_url"],
        gateway["data"]["data"]["file"]["download_url"]
    );
    let clip = download(&server, file["file"]["download_url"].as_str().unwrap()).await;
    assert_eq!(mp4_frame(&clip), (1920, 1080));
    let backup = download(&server, file["file"]["backup_download_url"].as_str().unwrap()).await;
    assert_eq!(clip, backup);
}

#[tokio::test]
async fn gateway_and_native_share_tasks_both_ways() {
    let server = start(config()).await;
    // Through the gateway, polled natively.
    let gateway_task = server.submit("instant").await;
    let v = server
        .get(&format!("/v1/query/video_generation?task_id={gateway_task}"))
        .await
        .json();
    assert_eq!(v["status"], "Success");
    let file_id = v["file_id"].as_str().unwrap().to_owned();
    // files/retrieve passed through by the gateway, for a gateway task.
    let r = server
        .get(&format!("/minimax/v1/files/retrieve?file_id={file_id}"))
        .await;
    assert_eq!(r.status, 200);
    assert!(server.app.contract.files_retrieve_response().is_valid(&r.json()));

    // Natively, polled through the gateway: one poll count for both.
    let r = post(
        &server,
        "/v1/video_generation",
        &[("Prefer", "scenario=success-polls")],
        HAILUO,
    )
    .await;
    let native_task = r.json()["task_id"].as_str().unwrap().to_owned();
    let first = server.query(&native_task).await.json();
    assert_eq!(first["data"]["status"], "NOT_START");
    let second = server
        .get(&format!("/v1/query/video_generation?task_id={native_task}"))
        .await
        .json();
    assert_eq!(second["status"], "Preparing");
    let third = server.query(&native_task).await.json();
    assert_eq!(third["data"]["status"], "QUEUED");
    assert_eq!(server.app.store.tasks().get(&native_task).unwrap().polls(), 3);
}

#[tokio::test]
async fn native_errors_are_base_resp_with_http_200() {
    let server = start(config()).await;
    let cases = [
        ("/v1/query/video_generation", "task_id is required"),
        ("/v1/query/video_generation?task_id=", "task_id is required"),
        ("/v1/query/video_generation?task_id=404404", "task_id 404404 not found"),
        ("/v1/files/retrieve", "file_id is required"),
        ("/v1/files/retrieve?file_id=abc", "file_id \"abc\" is not an integer"),
        ("/v1/files/retrieve?file_id=12345", "file_id 12345 not found"),
        ("/minimax/v1/files/retrieve?file_id=12345", "file_id 12345 not found"),
    ];
    for (target, message) in cases {
        let r = server.get(target).await;
        assert_eq!(r.status, 200, "{target}");
        let v = r.json();
        assert!(server.app.contract.native_error().is_valid(&v), "{target}: {v}");
        assert_eq!(v["base_resp"]["status_code"], 2013, "{target}");
        assert_eq!(
            v["base_resp"]["status_msg"],
            format!("invalid params, {message}"),
            "{target}"
        );
    }
    // A file is retrievable only once its task succeeded.
    let task = server.submit("success-polls").await;
    let file_id = server.app.store.tasks().get(&task).unwrap().file_id;
    let r = server.get(&format!("/v1/files/retrieve?file_id={file_id}")).await;
    assert_eq!(r.json()["base_resp"]["status_code"], 2013);

    // A refused native submit: HTTP 200, 2013 naming the field.
    let r = post(
        &server,
        "/v1/video_generation",
        &[],
        r#"{"model":"T2V-01","prompt":"x","duration":10}"#,
    )
    .await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["task_id"], "");
    assert_eq!(v["base_resp"]["status_code"], 2013);
    assert!(
        v["base_resp"]["status_msg"].as_str().unwrap().contains("duration"),
        "{v}"
    );
    // The gateway refuses the same body with HTTP 400.
    let r = post(
        &server,
        "/minimax/v1/video_generation",
        &[],
        r#"{"model":"T2V-01","prompt":"x","duration":10}"#,
    )
    .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn a_failed_task_carries_its_base_resp_natively() {
    let server = start(config()).await;
    let r = post(
        &server,
        "/v1/video_generation",
        &[("Prefer", "scenario=fail-polls")],
        HAILUO,
    )
    .await;
    let task = r.json()["task_id"].as_str().unwrap().to_owned();
    let mut last = Value::Null;
    for _ in 0..5 {
        last = server
            .get(&format!("/v1/query/video_generation?task_id={task}"))
            .await
            .json();
    }
    assert_eq!(last["status"], "Fail");
    assert_eq!(last["base_resp"]["status_code"], 1027);
    assert!(last.get("file_id").is_none());
    assert!(server.app.contract.native_query_response().is_valid(&last));
}

#[tokio::test]
async fn gateway_query_native_passes_minimax_s_body_through() {
    let server = start(Config {
        gateway_query: QueryShape::Native,
        ..config()
    })
    .await;
    let task = server.submit("instant").await;
    let v = server.query(&task).await.json();
    assert_eq!(v["status"], "Success");
    assert!(v["file_id"].is_string());
    assert!(server.app.contract.native_query_response().is_valid(&v));
    let missing = server.get("/minimax/v1/query/video_generation?task_id=nope").await;
    assert_eq!(missing.status, 200);
    assert_eq!(missing.json()["base_resp"]["status_code"], 2013);
}

#[tokio::test]
async fn v2_whole_flow_with_a_portrait_video() {
    let server = start(config()).await;
    let body = json!({
        "model": "MiniMax-H3",
        "content": [{"type": "text", "text": "A lighthouse at dusk"}],
        "resolution": "768P",
        "duration": 6,
        "ratio": "9:16",
    });
    let r = post(
        &server,
        "/v2/video_generation",
        &[("Prefer", "scenario=success-polls")],
        &body.to_string(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert!(server.app.contract.v2_submit_response().is_valid(&v), "{v}");
    let task = v["task_id"].as_str().unwrap().to_owned();
    let mut statuses = Vec::new();
    let mut last = Value::Null;
    for _ in 0..5 {
        let r = server.get(&format!("/v2/query/video_generation/{task}")).await;
        assert_eq!(r.status, 200);
        let v = r.json();
        let violations = server.app.contract.v2_query_response().violations(&v);
        assert!(violations.is_empty(), "{v}: {violations:?}");
        statuses.push(v["task"]["status"].as_str().unwrap().to_owned());
        last = v;
    }
    assert_eq!(statuses, ["queued", "queued", "queued", "running", "succeeded"]);
    let t = &last["task"];
    assert_eq!(
        (t["model"].as_str(), t["ratio"].as_str(), t["duration"].as_u64()),
        (Some("MiniMax-H3"), Some("9:16"), Some(6))
    );
    assert_eq!(t["usage"]["total_seconds"], 6);
    assert_eq!(
        (t["task_type"].as_str(), t["modality"].as_str()),
        (Some("generation"), Some("video"))
    );
    // v2's 768P is 768x1344 at 9:16 (sides divisible by 32), not v1's 1366.
    let clip = download(&server, t["content"]["url"].as_str().unwrap()).await;
    assert_eq!(mp4_frame(&clip), (768, 1344));

    // v2 tasks answer on the v2 query only, v1 tasks not there.
    let r = server.get(&format!("/v1/query/video_generation?task_id={task}")).await;
    assert_eq!(r.json()["base_resp"]["status_code"], 2013);
    let v1 = server.submit("instant").await;
    let r = server.get(&format!("/v2/query/video_generation/{v1}")).await;
    assert_eq!(r.status, 400);
    assert!(server.app.contract.v2_error().is_valid(&r.json()));
    assert_eq!(r.json()["error"]["message"], "invalid params, invalid task_id (2013)");
}

#[tokio::test]
async fn v2_refuses_bad_bodies_naming_the_field() {
    let server = start(config()).await;
    let text = |extra: Value| {
        let mut body = json!({"model": "MiniMax-H3", "content": [{"type": "text", "text": "x"}], "resolution": "768P", "duration": 5});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let cases = [
        (text(json!({"ratio": "adaptive"})), "ratio"),
        (text(json!({})), "ratio"),
        (text(json!({"ratio": "16:9", "duration": 20})), "duration"),
        (text(json!({"ratio": "16:9", "resolution": "1080P"})), "resolution"),
        (text(json!({"ratio": "16:9", "model": "MiniMax-H2"})), "model"),
        (text(json!({"ratio": "16:9", "content": []})), "content"),
    ];
    for (body, field) in cases {
        let r = post(&server, "/v2/video_generation", &[], &body.to_string()).await;
        assert_eq!(r.status, 400, "{body}");
        let v = r.json();
        assert!(server.app.contract.v2_error().is_valid(&v), "{v}");
        assert_eq!(
            (v["type"].as_str(), v["error"]["type"].as_str()),
            (Some("error"), Some("bad_request_error"))
        );
        assert_eq!(v["error"]["http_code"], "400");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("invalid params, {field}")) && message.ends_with(" (2013)"),
            "{body}: {message}"
        );
    }
    let frames = json!({"model": "MiniMax-H3", "resolution": "768P", "duration": 5, "content": [
        {"type": "text", "text": "x"},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}, "role": "first_frame"},
        {"type": "image_url", "image_url": {"url": "https://example.com/b.png"}, "role": "last_frame"},
        {"type": "image_url", "image_url": {"url": "https://example.com/c.png"}, "role": "first_frame"},
    ]});
    let r = post(&server, "/v2/video_generation", &[], &frames.to_string()).await;
    assert_eq!(r.status, 400, "three frame images");
    let r = server.get("/v2/query/video_generation/nope").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["message"], "invalid params, invalid task_id (2013)");
}

#[tokio::test]
async fn scenarios_without_prefer_rules_on_model_and_prompt_and_next_submits() {
    let catalog = minimax_mock::lifecycle::scenarios::Catalog::from_text(
        "rules.json",
        r#"{"rules": [
            {"prompt": "*explode*", "scenario": "fail"},
            {"model": "T2V-01", "scenario": "instant"}
        ]}"#,
    )
    .unwrap();
    let server = start(Config { catalog, ..config() }).await;
    let submit = |body: &'static str| {
        let server = &server;
        async move {
            let r = post(server, "/v1/video_generation", &[], body).await;
            r.json()["task_id"].as_str().unwrap().to_owned()
        }
    };
    let scenario_of = |id: &str| server.app.store.tasks().get(id).unwrap().scenario.name().to_owned();
    let a = submit(r#"{"model":"MiniMax-Hailuo-02","prompt":"the car will explode"}"#).await;
    assert_eq!(scenario_of(&a), "fail");
    let b = submit(r#"{"model":"T2V-01","prompt":"calm sea"}"#).await;
    assert_eq!(scenario_of(&b), "instant");
    let c = submit(r#"{"model":"MiniMax-Hailuo-02","prompt":"calm sea"}"#).await;
    assert_eq!(scenario_of(&c), "success");

    // The control API sets the scenario of the next two submits, any API.
    let r = server
        .send("PUT", "/__mock/next", &[JSON], r#"{"scenario": "slow", "count": 2}"#)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!({"scenario": "slow", "count": 2}));
    let d = submit(r#"{"model":"T2V-01","prompt":"calm sea"}"#).await;
    let e = server.submit_v2_text().await;
    let f = submit(r#"{"model":"T2V-01","prompt":"calm sea"}"#).await;
    assert_eq!(
        (scenario_of(&d), scenario_of(&e), scenario_of(&f)),
        ("slow".into(), "slow".into(), "instant".into())
    );
    assert_eq!(
        server.get("/__mock/next").await.json(),
        json!({"scenario": null, "count": 0})
    );
    let r = server
        .send("PUT", "/__mock/next", &[JSON], r#"{"scenario": "nope"}"#)
        .await;
    assert_eq!(r.status, 400);
}

trait V2Submit {
    async fn submit_v2_text(&self) -> String;
}

impl V2Submit for TestServer {
    async fn submit_v2_text(&self) -> String {
        let body = r#"{"model":"MiniMax-H3","content":[{"type":"text","text":"x"}],"resolution":"768P","duration":5,"ratio":"16:9"}"#;
        let r = post(self, "/v2/video_generation", &[], body).await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["task_id"].as_str().unwrap().to_owned()
    }
}

// ---------------------------------------------------------------------------
// Callbacks, against a receiver on loopback.

/// How the test receiver answers.
#[derive(Clone, Copy)]
pub(crate) enum Receiver {
    Echo,
    WrongEcho,
    /// Echoes, but only after this long.
    Slow(Duration),
    /// Echoes the challenge, then fails this many update deliveries with 500.
    FailUpdates(usize),
}

/// A callback receiver on a free loopback port; what it received.
pub(crate) struct Hook {
    pub(crate) url: String,
    pub(crate) received: Arc<Mutex<Vec<Value>>>,
}

pub(crate) async fn receiver(behaviour: Receiver) -> Hook {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let received = Arc::new(Mutex::new(Vec::new()));
    let failures = Arc::new(Mutex::new(0usize));
    let seen = received.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let seen = seen.clone();
            let failures = failures.clone();
            let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let seen = seen.clone();
                let failures = failures.clone();
                async move {
                    let body = req.into_body().collect().await.unwrap().to_bytes();
                    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    seen.lock().unwrap().push(v.clone());
                    let mut status = 200;
                    let answer = match (behaviour, v.get("challenge")) {
                        (Receiver::WrongEcho, Some(_)) => json!({"challenge": "not-it"}),
                        (Receiver::Slow(d), Some(c)) => {
                            tokio::time::sleep(d).await;
                            json!({ "challenge": c })
                        }
                        (_, Some(c)) => json!({ "challenge": c }),
                        (Receiver::FailUpdates(n), None) => {
                            let mut f = failures.lock().unwrap();
                            if *f < n {
                                *f += 1;
                                status = 500;
                            }
                            json!({})
                        }
                        _ => json!({}),
                    };
                    let mut response = hyper::Response::new(Full::new(Bytes::from(answer.to_string())));
                    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                    Ok::<_, std::convert::Infallible>(response)
                }
            });
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Hook { url, received }
}

fn with_callback(url: &str) -> String {
    json!({"model": "MiniMax-Hailuo-02", "prompt": "A cat", "callback_url": url}).to_string()
}

/// Waits (on the mock's callbacks list, not a fixed sleep) until `n`
/// update attempts of `task` were made, for at most 5 s.
pub(crate) async fn updates(
    server: &TestServer,
    task: &str,
    n: usize,
) -> Vec<minimax_mock::server::callbacks::Attempt> {
    for _ in 0..500 {
        let attempts: Vec<_> = server
            .app
            .callbacks
            .list(Some(task))
            .into_iter()
            .filter(|a| a.kind == "update")
            .collect();
        if attempts.len() >= n {
            return attempts;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "fewer than {n} callback updates for {task}: {:?}",
        server.app.callbacks.list(None)
    );
}

#[tokio::test]
async fn callback_challenge_then_ordered_updates_driven_by_the_clock() {
    let hook = receiver(Receiver::Echo).await;
    let server = start(config()).await; // frozen clock
    let r = post(&server, "/v1/video_generation", &[], &with_callback(&hook.url)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let task = r.json()["task_id"].as_str().unwrap().to_owned();
    let first = hook.received.lock().unwrap()[0].clone();
    assert!(first["challenge"].is_string(), "the challenge comes first: {first}");
    assert!(server.app.contract.callback_challenge().is_valid(&first));

    // 30 s at once: every update that became due goes out, in order.
    let r = server
        .send("POST", "/__mock/clock", &[JSON], r#"{"advance": "30s"}"#)
        .await;
    assert_eq!(r.status, 200);
    let attempts = updates(&server, &task, 4).await;
    let statuses: Vec<_> = attempts.iter().map(|a| a.status.clone().unwrap()).collect();
    assert_eq!(statuses, ["Preparing", "Queueing", "Processing", "Success"]);
    assert!(attempts.iter().all(|a| a.delivered));
    let bodies: Vec<Value> = hook.received.lock().unwrap()[1..].to_vec();
    assert_eq!(bodies.len(), 4);
    for body in &bodies {
        assert!(server.app.contract.callback_update().is_valid(body), "{body}");
        assert_eq!(body["task_id"], task.as_str());
    }
    assert_eq!(bodies[0]["file_id"], "");
    assert_eq!(bodies[3]["status"], "Success");
    assert!(!bodies[3]["file_id"].as_str().unwrap().is_empty());
    // Every attempt is also in the journal and at /__mock/callbacks.
    let listed = server.get(&format!("/__mock/callbacks?task_id={task}")).await.json();
    assert_eq!(listed["callbacks"].as_array().unwrap().len(), 4);
    let journal = server.get("/__mock/requests").await.json();
    let outgoing = journal["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["direction"] == "outgoing")
        .count();
    assert_eq!(outgoing, 5, "the challenge and four updates");
}

#[tokio::test]
async fn callback_updates_follow_polls_for_a_v2_task() {
    let hook = receiver(Receiver::Echo).await;
    let server = start(config()).await;
    let body = json!({"model": "MiniMax-H3", "content": [{"type": "text", "text": "x"}], "resolution": "768P", "duration": 5, "ratio": "1:1", "callback_url": hook.url});
    let r = post(
        &server,
        "/v2/video_generation",
        &[("Prefer", "scenario=success-polls")],
        &body.to_string(),
    )
    .await;
    let task = r.json()["task_id"].as_str().unwrap().to_owned();
    for _ in 0..5 {
        server.get(&format!("/v2/query/video_generation/{task}")).await;
    }
    let attempts = updates(&server, &task, 3).await;
    let statuses: Vec<_> = attempts.iter().map(|a| a.status.clone().unwrap()).collect();
    assert_eq!(statuses, ["queued", "running", "succeeded"]);
    let last = hook.received.lock().unwrap().last().cloned().unwrap();
    assert!(server.app.contract.v2_query_response().is_valid(&last), "{last}");
    assert_eq!(last["task"]["status"], "succeeded");
}

#[tokio::test]
async fn a_wrong_echo_refuses_the_submit() {
    let hook = receiver(Receiver::WrongEcho).await;
    let server = start(config()).await;
    let r = post(&server, "/v1/video_generation", &[], &with_callback(&hook.url)).await;
    let v = r.json();
    assert_eq!(v["base_resp"]["status_code"], 2013);
    let message = v["base_resp"]["status_msg"].as_str().unwrap();
    assert!(
        message.contains(&hook.url) && message.contains("wrong echo"),
        "{message}"
    );
    assert!(server.app.store.tasks().is_empty());
}

#[tokio::test]
async fn an_unreachable_receiver_refuses_the_submit() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let server = start(config()).await;
    let url = format!("http://127.0.0.1:{port}/hook");
    let r = post(&server, "/minimax/v1/video_generation", &[], &with_callback(&url)).await;
    assert_eq!(r.status, 400);
    let message = r.json()["base_resp"]["status_msg"].as_str().unwrap().to_owned();
    assert!(message.contains(&url) && message.contains("unreachable"), "{message}");
}

#[tokio::test]
async fn a_receiver_slower_than_the_timeout_refuses_the_submit() {
    let hook = receiver(Receiver::Slow(Duration::from_secs(2))).await;
    let server = start(Config {
        callback_timeout: Duration::from_millis(200),
        ..config()
    })
    .await;
    let r = post(&server, "/v1/video_generation", &[], &with_callback(&hook.url)).await;
    let message = r.json()["base_resp"]["status_msg"].as_str().unwrap().to_owned();
    assert!(message.contains("timed out after 200 ms"), "{message}");
}

#[tokio::test]
async fn a_receiver_that_fails_twice_then_recovers_gets_every_update() {
    let hook = receiver(Receiver::FailUpdates(2)).await;
    let server = start(config()).await;
    let r = post(
        &server,
        "/v1/video_generation",
        &[("Prefer", "scenario=instant")],
        &with_callback(&hook.url),
    )
    .await;
    let task = r.json()["task_id"].as_str().unwrap().to_owned();
    let attempts = updates(&server, &task, 3).await;
    let summary: Vec<(u32, bool)> = attempts.iter().map(|a| (a.attempt, a.delivered)).collect();
    assert_eq!(summary, [(1, false), (2, false), (3, true)]);
    assert_eq!(attempts[0].http_status, Some(500));
}

#[tokio::test]
async fn callbacks_go_only_to_loopback_unless_allowed() {
    let server = start(config()).await;
    let r = post(
        &server,
        "/v1/video_generation",
        &[],
        &with_callback("http://192.0.2.1/hook"),
    )
    .await;
    let message = r.json()["base_resp"]["status_msg"].as_str().unwrap().to_owned();
    assert!(message.contains("--allow-callback-host 192.0.2.1"), "{message}");
    let r = post(
        &server,
        "/v1/video_generation",
        &[],
        &with_callback("https://127.0.0.1/hook"),
    )
    .await;
    let message = r.json()["base_resp"]["status_msg"].as_str().unwrap().to_owned();
    assert!(message.contains("http only"), "{message}");
}

#[tokio::test]
async fn mock_server_scripts_v2_tasks_and_waits_for_callbacks() {
    let hook = receiver(Receiver::Echo).await;
    let server = start(config()).await;
    let mock = &server.mock;
    // A v2 task scripted in-process answers on the v2 query only.
    mock.script_with(
        "h3-job",
        json!({"scenario": "instant", "surface": "v2", "ratio": "1:1"}),
    )
    .unwrap();
    let v = server.get("/v2/query/video_generation/h3-job").await.json();
    assert_eq!(v["task"]["status"], "succeeded");
    assert_eq!(v["task"]["ratio"], "1:1");
    // The next submit, through MiniMax's API, follows the scenario set for it.
    mock.next_submits("fail-polls", 1).unwrap();
    let r = post(&server, "/v1/video_generation", &[], &with_callback(&hook.url)).await;
    let task = r.json()["task_id"].as_str().unwrap().to_owned();
    let first = mock
        .next_callback(&task, 0, Duration::from_secs(5))
        .await
        .expect("the first update");
    assert_eq!(first.status.as_deref(), Some("Preparing"));
    for _ in 0..5 {
        server.get(&format!("/v1/query/video_generation?task_id={task}")).await;
    }
    // Preparing, Queueing, Processing, then Fail: the fourth.
    let last = mock
        .next_callback(&task, 3, Duration::from_secs(5))
        .await
        .expect("the fourth update");
    assert_eq!(last.status.as_deref(), Some("Fail"));
    assert_eq!(last.body["base_resp"]["status_code"], 1027);
    assert!(
        mock.next_callback(&task, 4, Duration::from_millis(200)).await.is_none(),
        "no update after the end"
    );
}

//! MiniMax's v2 API as its reference documents it, over HTTP: the error
//! envelope at every status, the request rules, the 7-day window, the list,
//! cancel-or-delete, regeneration, MiniMax-H3-Max, usage, and `--state`
//! files of this version and of earlier ones. Time moves through the mock's
//! clock; snapshots pin the new wire formats.

use std::time::Duration;

use crate::common::{config, start, Response, TestServer};
use crate::dialects::{receiver, Receiver};
use minimax_mock::server::persist::state;
use minimax_mock::server::Config;
use serde_json::{json, Value};

const JSON: (&str, &str) = ("Content-Type", "application/json");
const DAY: Duration = Duration::from_secs(24 * 60 * 60);

fn deterministic() -> Config {
    Config {
        public_url: Some("http://127.0.0.1:8080".to_owned()),
        ..config()
    }
}

async fn post(server: &TestServer, path: &str, scenario: Option<&str>, body: &Value) -> Response {
    let prefer = scenario.map(|s| format!("scenario={s}"));
    let mut headers = vec![JSON];
    if let Some(prefer) = &prefer {
        headers.push(("Prefer", prefer));
    }
    server.send("POST", path, &headers, &body.to_string()).await
}

fn text_body(ratio: &str) -> Value {
    json!({"model": "MiniMax-H3", "content": [{"type": "text", "text": "A lighthouse at dusk"}],
           "resolution": "768P", "duration": 6, "ratio": ratio})
}

/// Submits `body` with `scenario`; the task id.
async fn submit(server: &TestServer, scenario: &str, body: &Value) -> String {
    let r = post(server, "/v2/video_generation", Some(scenario), body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["task_id"].as_str().unwrap().to_owned()
}

async fn task(server: &TestServer, id: &str) -> Response {
    server.get(&format!("/v2/query/video_generation/{id}")).await
}

async fn delete(server: &TestServer, id: &str) -> Response {
    server
        .send("DELETE", &format!("/v2/video_generation/{id}"), &[], "")
        .await
}

/// Width and height of an MP4's first track (its `tkhd` box, 16.16).
fn frame(mp4: &[u8]) -> (u32, u32) {
    let at = mp4.windows(4).position(|w| w == b"tkhd").expect("a tkhd box");
    let fields = if mp4[at + 4] == 1 {
        4 + 8 + 8 + 4 + 4 + 8
    } else {
        4 + 4 + 4 + 4 + 4 + 4
    };
    let start = at + 4 + fields + 8 + 2 + 2 + 2 + 2 + 36;
    let word = |i: usize| u32::from_be_bytes(mp4[i..i + 4].try_into().unwrap()) >> 16;
    (word(start), word(start + 4))
}

/// The frame size of a succeeded task's clip, downloaded from its link.
async fn clip_frame(server: &TestServer, task: &Value) -> (u32, u32) {
    let url = task["task"]["content"]["url"].as_str().expect("a content.url");
    let path = url.split_once("127.0.0.1:8080").map_or(url, |(_, p)| p);
    let r = server.get(path).await;
    assert_eq!(r.status, 200, "{url}");
    frame(&r.raw)
}

/// The envelope's parts, checked against the schema.
fn envelope(server: &TestServer, r: &Response) -> (u16, String, String) {
    let v = r.json();
    let violations = server.app.contract.v2_error().violations(&v);
    assert!(violations.is_empty(), "{v}: {violations:?}");
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["http_code"], r.status.to_string());
    let id = v["request_id"].as_str().unwrap();
    assert!(id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    (
        r.status,
        v["error"]["type"].as_str().unwrap().to_owned(),
        v["error"]["message"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn every_error_status_answers_the_reference_envelope() {
    let server = start(config()).await;
    let statuses = [400, 401, 402, 403, 404, 422, 429, 500, 502, 503, 504, 529];
    let steps: Vec<Value> = statuses
        .iter()
        .map(|s| json!({"status": "QUEUED", "polls": 1, "fault": {"status": s}}))
        .chain(std::iter::once(json!({"status": "SUCCESS"})))
        .collect();
    server
        .mock
        .script_with("faulty", json!({"steps": steps, "surface": "v2"}))
        .unwrap();
    let mut seen = Vec::new();
    for _ in statuses {
        let r = task(&server, "faulty").await;
        seen.push(envelope(&server, &r));
    }
    let expected = [
        (400, "bad_request_error", "invalid params (2013)"),
        (
            401,
            "authorized_error",
            "login fail: Please carry the API secret key in the 'Authorization' field of the request header (1004)",
        ),
        (402, "insufficient_balance_error", "insufficient balance (1008)"),
        (
            403,
            "authorized_error",
            "login fail: Please carry the API secret key in the 'Authorization' field of the request header (1004)",
        ),
        (404, "bad_request_error", "invalid params (2013)"),
        (
            422,
            "unprocessable_entity_error",
            "video description contains sensitive content (1026)",
        ),
        (429, "rate_limit_error", "rate limit, please retry later (1002)"),
        (500, "server_error", "internal error (1000)"),
        (502, "server_error", "internal error (1000)"),
        (503, "server_error", "internal error (1000)"),
        (504, "server_error", "internal error (1000)"),
        (
            529,
            "overloaded_error",
            "the service is overloaded, please retry later (1000)",
        ),
    ];
    let expected: Vec<_> = expected
        .iter()
        .map(|(s, t, m)| (*s, t.to_string(), m.to_string()))
        .collect();
    assert_eq!(seen, expected);
    assert_eq!(task(&server, "faulty").await.json()["task"]["status"], "succeeded");

    // Refused bodies, unknown ids and a body too large are errors in it too.
    let r = post(&server, "/v2/video_generation", None, &json!({"model": "MiniMax-H3"})).await;
    assert_eq!(envelope(&server, &r).1, "bad_request_error");
    let r = task(&server, "424010985738629").await;
    assert_eq!(
        envelope(&server, &r),
        (
            400,
            "bad_request_error".into(),
            "invalid params, invalid task_id (2013)".into()
        )
    );
    // Just over the limit: the rest fits in the socket buffers, so the
    // client is not cut off mid-write when the mock answers 413 early.
    let big = server
        .send("POST", "/v2/video_generation", &[JSON], &"x".repeat((1 << 20) + 1))
        .await;
    let (status, kind, message) = envelope(&server, &big);
    assert_eq!((status, kind.as_str()), (413, "bad_request_error"));
    assert!(
        message.ends_with("larger than the limit of 1048576 bytes (2013)"),
        "{message}"
    );
}

#[tokio::test]
async fn require_auth_answers_401_on_every_v2_route() {
    let server = start(Config {
        require_auth: true,
        ..config()
    })
    .await;
    for (method, target) in [
        ("POST", "/v2/video_generation"),
        ("GET", "/v2/query/video_generation/1"),
        ("GET", "/v2/query/video_generation"),
        ("DELETE", "/v2/video_generation/1"),
        ("POST", "/v2/video_regeneration"),
    ] {
        let r = server.send(method, target, &[JSON], "{}").await;
        let (status, kind, message) = envelope(&server, &r);
        assert_eq!((status, kind.as_str()), (401, "authorized_error"), "{method} {target}");
        assert!(
            message.starts_with("login fail: ") && message.ends_with(" (1004)"),
            "{message}"
        );
    }
    let r = server
        .send(
            "GET",
            "/v2/query/video_generation",
            &[("Authorization", "Bearer k")],
            "",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn request_ids_are_reproducible_from_the_seed() {
    let ids = |seed: u64| async move {
        let server = start(Config { seed, ..config() }).await;
        let mut ids = Vec::new();
        for _ in 0..3 {
            ids.push(
                task(&server, "nope").await.json()["request_id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
        ids
    };
    let a = ids(7).await;
    assert_eq!(a, ids(7).await);
    assert_ne!(a, ids(8).await);
    assert!(a[0] != a[1] && a[1] != a[2]);
}

/// The rules both ways, over HTTP, each refusal pinned by a snapshot.
#[tokio::test]
async fn the_request_rules_both_ways() {
    let server = start(config()).await;
    let image = |role: Option<&str>, url: &str| {
        let mut item = json!({"type": "image_url", "image_url": {"url": url}});
        if let Some(role) = role {
            item["role"] = json!(role);
        }
        item
    };
    let with = |content: Vec<Value>, extra: Value| {
        let mut body = json!({"model": "MiniMax-H3", "content": content, "resolution": "768P", "duration": 6});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let prompt = json!({"type": "text", "text": "a cat"});
    let refs = |n: usize| (0..n).map(|_| image(Some("reference_image"), "https://e.com/r.png"));
    let accepted = [
        with(vec![prompt.clone()], json!({"ratio": "21:9"})),
        with(
            vec![prompt.clone(), image(None, "mm_file://306793063383292")],
            json!({}),
        ),
        with(
            vec![
                prompt.clone(),
                image(Some("last_frame"), "data:image/webp;base64,UklGR"),
            ],
            json!({}),
        ),
        with(
            vec![
                prompt.clone(),
                json!({"type": "video_url", "video_url": {"url": "https://e.com/v.mp4"}, "role": "reference_video"}),
                json!({"type": "audio_url", "audio_url": {"url": "data:audio/mpeg;base64,SUQz"}, "role": "reference_audio"}),
            ],
            json!({"ratio": "adaptive"}),
        ),
        with(std::iter::once(prompt.clone()).chain(refs(9)).collect(), json!({})),
        with(
            vec![json!({"type": "text", "text": "猫".repeat(7000)})],
            json!({"ratio": "1:1"}),
        ),
        json!({"model": "MiniMax-H3-Max", "content": [prompt], "resolution": "480P", "duration": 15, "ratio": "3:4",
               "extra": {"prompt_expansion_mode": "disabled"}, "aigc_watermark": true}),
    ];
    for body in &accepted {
        let r = post(&server, "/v2/video_generation", None, body).await;
        assert_eq!(r.status, 200, "{body}: {}", r.body);
    }
    let refused = [
        json!({"model": "MiniMax-H3", "content": [{"type": "text", "text": "a"}], "ratio": "16:9", "duration": 5}),
        json!({"model": "MiniMax-H3", "content": [{"type": "text", "text": "a"}], "ratio": "16:9", "resolution": "768P"}),
        with(vec![image(None, "https://e.com/a.png")], json!({})),
        with(vec![json!({"type": "text", "text": " "})], json!({"ratio": "16:9"})),
        with(
            vec![
                json!({"type": "text", "text": "a"}),
                json!({"type": "text", "text": "b"}),
            ],
            json!({"ratio": "16:9"}),
        ),
        with(
            vec![json!({"type": "text", "text": "x".repeat(7001)})],
            json!({"ratio": "16:9"}),
        ),
        with(vec![json!({"type": "text", "text": "a"})], json!({"ratio": "adaptive"})),
        with(
            vec![
                json!({"type": "text", "text": "a"}),
                image(Some("first_frame"), "https://e.com/a.png"),
                image(Some("first_frame"), "https://e.com/b.png"),
            ],
            json!({}),
        ),
        with(
            vec![
                json!({"type": "text", "text": "a"}),
                image(None, "https://e.com/a.png"),
                image(Some("last_frame"), "https://e.com/b.png"),
            ],
            json!({}),
        ),
        with(
            vec![
                json!({"type": "text", "text": "a"}),
                image(Some("first_frame"), "https://e.com/a.png"),
                image(Some("reference_image"), "https://e.com/b.png"),
            ],
            json!({}),
        ),
        with(
            std::iter::once(json!({"type": "text", "text": "a"}))
                .chain(refs(10))
                .collect(),
            json!({}),
        ),
        with(
            vec![
                json!({"type": "text", "text": "a"}),
                json!({"type": "video_url", "video_url": {"url": "https://e.com/v.mp4"}}),
            ],
            json!({}),
        ),
        with(
            vec![json!({"type": "text", "text": "a"}), image(None, "ftp://e.com/a.png")],
            json!({}),
        ),
        with(
            vec![json!({"type": "text", "text": "a"})],
            json!({"ratio": "16:9", "resolution": "480P"}),
        ),
        json!({"model": "MiniMax-H3-Max", "content": [{"type": "text", "text": "a"}], "resolution": "2K", "duration": 5, "ratio": "16:9"}),
        json!({"model": "MiniMax-H3-Max", "content": [{"type": "text", "text": "a"}], "resolution": "768P", "duration": 4, "ratio": "16:9"}),
        json!({"model": "MiniMax-H3-Max", "content": [{"type": "text", "text": "a"}, image(Some("reference_image"), "https://e.com/a.png")], "resolution": "768P", "duration": 5}),
        json!({"model": "MiniMax-H3-Max", "content": [{"type": "text", "text": "a"}], "resolution": "768P", "duration": 5, "ratio": "16:9", "extra": {"prompt_expansion_mode": "balance"}}),
    ];
    let mut wire = String::new();
    for body in &refused {
        let r = post(&server, "/v2/video_generation", None, body).await;
        let (status, kind, message) = envelope(&server, &r);
        assert_eq!((status, kind.as_str()), (400, "bad_request_error"), "{body}");
        assert!(
            message.starts_with("invalid params, ") && message.ends_with(" (2013)"),
            "{message}"
        );
        assert!(!server.app.contract.v2_submit_request().is_valid(body), "{body}");
        wire.push_str(&message);
        wire.push('\n');
    }
    insta::assert_snapshot!("v2_refusals", wire);
}

#[tokio::test]
async fn image_to_video_reports_adaptive_and_reference_to_video_keeps_its_ratio() {
    let server = start(config()).await;
    let first = json!({"type": "image_url", "image_url": {"url": "https://e.com/a.png"}});
    let mut body = json!({"model": "MiniMax-H3", "content": [{"type": "text", "text": "a"}, first],
                          "resolution": "768P", "duration": 5, "ratio": "9:16"});
    let i2v = submit(&server, "instant", &body).await;
    let v = task(&server, &i2v).await.json();
    assert_eq!(
        v["task"]["ratio"], "adaptive",
        "any ratio is taken as adaptive with a frame"
    );
    assert_eq!(clip_frame(&server, &v).await, (1344, 768));
    assert_eq!(v["task"]["usage"]["input_image_count"], 1);
    body["content"][1]["role"] = json!("reference_image");
    let r2v = submit(&server, "instant", &body).await;
    let v = task(&server, &r2v).await.json();
    assert_eq!(v["task"]["ratio"], "9:16");
    assert_eq!(clip_frame(&server, &v).await, (768, 1344));
}

#[tokio::test]
async fn frames_of_every_v2_resolution_and_ratio_have_their_clip() {
    let server = start(config()).await;
    let sizes = [
        (
            "MiniMax-H3",
            "768P",
            [
                (1472, 640),
                (1344, 768),
                (1024, 768),
                (768, 768),
                (768, 1024),
                (768, 1344),
            ],
        ),
        (
            "MiniMax-H3-Max",
            "480P",
            [(960, 416), (832, 480), (640, 480), (480, 480), (480, 640), (480, 832)],
        ),
        (
            "MiniMax-H3",
            "2K",
            [
                (3360, 1440),
                (2560, 1440),
                (1920, 1440),
                (1440, 1440),
                (1440, 1920),
                (1440, 2560),
            ],
        ),
    ];
    for (model, resolution, frames) in sizes {
        for (ratio, want) in ["21:9", "16:9", "4:3", "1:1", "3:4", "9:16"].into_iter().zip(frames) {
            let body = json!({"model": model, "content": [{"type": "text", "text": "a"}],
                              "resolution": resolution, "duration": 5, "ratio": ratio});
            let id = submit(&server, "instant", &body).await;
            let v = task(&server, &id).await.json();
            assert_eq!(
                (v["task"]["model"].as_str(), v["task"]["resolution"].as_str()),
                (Some(model), Some(resolution))
            );
            assert_eq!(clip_frame(&server, &v).await, want, "{model} {resolution} {ratio}");
        }
    }
    // v1's 768P stays 1366x768.
    let v1 = server.submit("instant").await;
    let native = server
        .get(&format!("/v1/query/video_generation?task_id={v1}"))
        .await
        .json();
    assert_eq!(
        (native["video_width"].as_u64(), native["video_height"].as_u64()),
        (Some(1366), Some(768))
    );
}

#[tokio::test]
async fn a_succeeded_task_has_usage_and_a_failed_one_a_string_code() {
    let server = start(deterministic()).await;
    let body = json!({"model": "MiniMax-H3", "content": [
        {"type": "text", "text": "a"},
        {"type": "image_url", "image_url": {"url": "https://e.com/a.png"}, "role": "reference_image"},
        {"type": "video_url", "video_url": {"url": "https://e.com/v.mp4"}, "role": "reference_video"},
        {"type": "audio_url", "audio_url": {"url": "https://e.com/a.mp3"}, "role": "reference_audio"},
    ], "resolution": "2K", "duration": 5, "ratio": "16:9"});
    let done = submit(&server, "instant", &body).await;
    let succeeded = task(&server, &done).await;
    let failed = submit(&server, "fail-polls", &text_body("16:9")).await;
    let mut bodies = vec![succeeded.body];
    for _ in 0..5 {
        bodies.push(task(&server, &failed).await.body);
    }
    for body in &bodies {
        let v: Value = serde_json::from_str(body).unwrap();
        assert!(server.app.contract.v2_query_response().is_valid(&v), "{v}");
    }
    let last: Value = serde_json::from_str(bodies.last().unwrap()).unwrap();
    assert_eq!(last["task"]["error"]["code"], "1027");
    assert_eq!(last["task"]["usage"], json!({}));
    insta::assert_snapshot!("v2_usage_and_failure", bodies.join("\n"));
}

#[tokio::test]
async fn tasks_older_than_seven_days_are_invalid_task_ids() {
    let server = start(config()).await;
    let old = submit(&server, "instant", &text_body("16:9")).await;
    let clock = server.app.store.clock();
    clock.advance(7 * DAY - Duration::from_secs(1));
    let young = submit(&server, "slow", &text_body("1:1")).await;
    clock.advance(Duration::from_secs(1));
    // Exactly 7 days old: still in [T-7d, T).
    assert_eq!(task(&server, &old).await.status, 200);
    let list = server.get("/v2/query/video_generation").await.json();
    assert_eq!(list["total"], 2);
    clock.advance(Duration::from_millis(1));
    let r = task(&server, &old).await;
    assert_eq!(envelope(&server, &r).2, "invalid params, invalid task_id (2013)");
    let list = server.get("/v2/query/video_generation").await.json();
    assert_eq!(
        (list["total"].as_u64(), list["items"][0]["id"].as_str()),
        (Some(1), Some(young.as_str()))
    );
    assert_eq!(delete(&server, &old).await.status, 400);
    let regen = json!({"model": "MiniMax-H3", "source_task_id": old, "resolution": "2K"});
    let r = post(&server, "/v2/video_regeneration", None, &regen).await;
    assert!(
        envelope(&server, &r).2.contains("is not a v2 task of the last 7 days"),
        "{}",
        r.body
    );
    // Still there for the control API, only outside v2's window.
    assert!(server.mock.task(&old).is_some());
}

#[tokio::test]
async fn the_list_pages_filters_and_counts_the_last_seven_days_newest_first() {
    let server = start(deterministic()).await;
    let clock = server.app.store.clock();
    let mut ids = Vec::new();
    for (i, scenario) in ["instant", "slow", "fail", "instant", "slow"].iter().enumerate() {
        let ratio = if i % 2 == 0 { "16:9" } else { "9:16" };
        ids.push(submit(&server, scenario, &text_body(ratio)).await);
        clock.advance(Duration::from_secs(1));
    }
    let max = json!({"model": "MiniMax-H3-Max", "content": [{"type": "text", "text": "a"}], "resolution": "480P", "duration": 5, "ratio": "16:9"});
    ids.push(submit(&server, "instant", &max).await);
    let regen = json!({"model": "MiniMax-H3", "source_task_id": ids[0], "resolution": "2K"});
    let r = post(&server, "/v2/video_regeneration", Some("slow"), &regen).await;
    ids.push(r.json()["task_id"].as_str().unwrap().to_owned());
    // A v1 task is not listed.
    server.submit("instant").await;
    clock.advance(Duration::from_secs(20));

    let list = |query: String| {
        let server = &server;
        async move {
            let r = server.get(&format!("/v2/query/video_generation{query}")).await;
            assert_eq!(r.status, 200, "{query}: {}", r.body);
            let v = r.json();
            let violations = server.app.contract.v2_list_response().violations(&v);
            assert!(violations.is_empty(), "{query}: {violations:?}");
            let ids: Vec<String> = v["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["id"].as_str().unwrap().to_owned())
                .collect();
            (ids, v["total"].as_u64().unwrap())
        }
    };
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
    assert_eq!(list("".into()).await, (newest_first.clone(), 7));
    assert_eq!(list("?page_size=3".into()).await, (newest_first[..3].to_vec(), 7));
    assert_eq!(
        list("?page_num=3&page_size=3".into()).await,
        (newest_first[6..].to_vec(), 7)
    );
    assert_eq!(list("?page_num=4&page_size=3".into()).await, (vec![], 7));
    assert_eq!(list("?filter.status=failed".into()).await, (vec![ids[2].clone()], 1));
    assert_eq!(
        list("?filter.model=MiniMax-H3-Max".into()).await,
        (vec![ids[5].clone()], 1)
    );
    assert_eq!(
        list("?filter.task_type=regeneration".into()).await,
        (vec![ids[6].clone()], 1)
    );
    assert_eq!(list("?filter.task_type=h3_context_ir".into()).await, (vec![], 0));
    let by_ids = format!("?filter.task_ids={},{}&filter.task_ids={}", ids[0], ids[3], ids[4]);
    assert_eq!(
        list(by_ids).await,
        (vec![ids[4].clone(), ids[3].clone(), ids[0].clone()], 3)
    );
    assert_eq!(list("?filter.status=succeeded&page_size=1".into()).await.1, 3);
    // Listing is not polling: a poll-driven task stays where its queries left it.
    let polled = submit(&server, "success-polls", &text_body("4:3")).await;
    for _ in 0..2 {
        server.get("/v2/query/video_generation").await;
    }
    assert_eq!(server.app.store.tasks().get(&polled).unwrap().polls(), 0);
    // Bad parameters, named.
    for (query, start) in [
        ("?page_num=0", "invalid params, page_num: \"0\""),
        (
            "?page_size=1000",
            "invalid params, page_size: \"1000\" is not from 1 to 100",
        ),
        ("?filter.status=done", "invalid params, filter.status: \"done\""),
    ] {
        let r = server.get(&format!("/v2/query/video_generation{query}")).await;
        assert!(envelope(&server, &r).2.starts_with(start), "{query}: {}", r.body);
    }
    let page = server.get("/v2/query/video_generation?page_size=3").await.body;
    insta::assert_snapshot!("v2_list", page);
}

#[tokio::test]
async fn delete_cancels_a_queued_task_and_deletes_a_finished_one() {
    let hook = receiver(Receiver::Echo).await;
    let server = start(deterministic()).await;
    let mut body = text_body("16:9");
    body["callback_url"] = json!(hook.url);
    let queued = submit(&server, "slow", &body).await;
    assert_eq!(task(&server, &queued).await.json()["task"]["status"], "queued");
    server.app.store.clock().advance(Duration::from_secs(3));
    let r = delete(&server, &queued).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        format!(r#"{{"task_id":"{queued}","action":"cancelled","status":"cancelled"}}"#)
    );
    assert!(server.app.contract.v2_delete_response().is_valid(&r.json()));
    // Cancelled from then on, whatever time does.
    let cancelled = task(&server, &queued).await.json();
    assert_eq!(cancelled["task"]["status"], "cancelled");
    assert_eq!(cancelled["task"]["updated_at"], 1_756_453_475);
    assert!(server.app.contract.v2_query_response().is_valid(&cancelled));
    server.app.store.clock().advance(Duration::from_secs(600));
    let later = task(&server, &queued).await.json();
    assert_eq!(later, cancelled);
    let listed = server
        .get("/v2/query/video_generation?filter.status=cancelled")
        .await
        .json();
    assert_eq!(listed["items"][0]["id"], queued.as_str());
    // The receiver is told: queued, then cancelled, then nothing more.
    let update = server
        .mock
        .next_callback(&queued, 1, Duration::from_secs(5))
        .await
        .expect("the cancelled update");
    assert_eq!(update.status.as_deref(), Some("cancelled"));
    assert_eq!(update.body["task"]["status"], "cancelled");
    assert!(
        server
            .mock
            .next_callback(&queued, 2, Duration::from_millis(200))
            .await
            .is_none(),
        "no update after cancelled"
    );
    // A cancelled task cannot be cancelled again.
    let r = delete(&server, &queued).await;
    assert_eq!(
        envelope(&server, &r).2,
        format!("invalid params, task {queued} is already cancelled (2013)")
    );

    // Running: refused. Succeeded or failed: deleted, then unknown.
    let running = submit(&server, "slow", &text_body("16:9")).await;
    server.app.store.clock().advance(Duration::from_secs(60));
    assert_eq!(task(&server, &running).await.json()["task"]["status"], "running");
    let r = delete(&server, &running).await;
    assert_eq!(
        envelope(&server, &r).2,
        format!("invalid params, task {running} is running: a task can be cancelled only while queued (2013)")
    );
    for scenario in ["instant", "fail-polls"] {
        let id = submit(&server, scenario, &text_body("16:9")).await;
        for _ in 0..5 {
            task(&server, &id).await;
        }
        let r = delete(&server, &id).await;
        assert_eq!(
            r.json(),
            json!({"task_id": id, "action": "deleted", "status": "deleted"})
        );
        assert_eq!(
            envelope(&server, &task(&server, &id).await).2,
            "invalid params, invalid task_id (2013)"
        );
        assert_eq!(delete(&server, &id).await.status, 400);
    }
    // A v1 task is unknown here; the path needs an id.
    let v1 = server.submit("instant").await;
    assert_eq!(delete(&server, &v1).await.status, 400);
    assert_eq!(
        server.send("DELETE", "/v2/video_generation/", &[], "").await.status,
        400
    );
    let r = server.get(&format!("/v2/video_generation/{running}")).await;
    assert_eq!((r.status, r.header("allow")), (405, Some("DELETE, OPTIONS")));
}

#[tokio::test]
async fn regeneration_makes_a_2k_task_from_a_succeeded_768p_one() {
    let server = start(deterministic()).await;
    let source = submit(&server, "instant", &text_body("9:16")).await;
    let regen = json!({"model": "MiniMax-H3", "source_task_id": source, "resolution": "2K"});
    let r = post(&server, "/v2/video_regeneration", Some("instant"), &regen).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(server.app.contract.v2_submit_response().is_valid(&r.json()));
    let id = r.json()["task_id"].as_str().unwrap().to_owned();
    let body = task(&server, &id).await.body;
    let v: Value = serde_json::from_str(&body).unwrap();
    let t = &v["task"];
    assert_eq!(
        (
            t["task_type"].as_str(),
            t["ratio"].as_str(),
            t["resolution"].as_str(),
            t["duration"].as_u64()
        ),
        (Some("regeneration"), Some(""), Some("2K"), Some(6))
    );
    assert_eq!(t["usage"]["input_image_count"], 0);
    assert_eq!(clip_frame(&server, &v).await, (1440, 2560));
    assert!(server.app.contract.v2_query_response().is_valid(&v));
    insta::assert_snapshot!("v2_regeneration", body);

    // By base video: 16:9, 5 s, the prompt from content.
    let by_video = json!({"model": "MiniMax-H3", "resolution": "2K", "content": [
        {"type": "text", "text": "a"},
        {"type": "video_url", "video_url": {"url": "https://e.com/768p.mp4"}, "role": "base_video"}]});
    let r = post(&server, "/v2/video_regeneration", Some("instant"), &by_video).await;
    let v = task(&server, r.json()["task_id"].as_str().unwrap()).await.json();
    assert_eq!(
        (v["task"]["duration"].as_u64(), v["task"]["ratio"].as_str()),
        (Some(5), Some(""))
    );
    assert_eq!(clip_frame(&server, &v).await, (2560, 1440));

    // Sources that cannot be regenerated, and bodies that are wrong.
    let queued = submit(&server, "slow", &text_body("16:9")).await;
    let two_k = submit(&server, "instant", &json!({"model": "MiniMax-H3", "content": [{"type": "text", "text": "a"}], "resolution": "2K", "duration": 5, "ratio": "16:9"})).await;
    let max = submit(&server, "instant", &json!({"model": "MiniMax-H3-Max", "content": [{"type": "text", "text": "a"}], "resolution": "768P", "duration": 5, "ratio": "16:9"})).await;
    let cases = [
        (json!({"model": "MiniMax-H3", "source_task_id": queued, "resolution": "2K"}), format!("invalid params, source_task_id: task {queued} is queued: only a succeeded task can be regenerated (2013)")),
        (json!({"model": "MiniMax-H3", "source_task_id": two_k, "resolution": "2K"}), format!("invalid params, source_task_id: task {two_k} is MiniMax-H3 at 2K: only a MiniMax-H3 768P output can be regenerated (2013)")),
        (json!({"model": "MiniMax-H3", "source_task_id": max, "resolution": "2K"}), format!("invalid params, source_task_id: task {max} is MiniMax-H3-Max at 768P: only a MiniMax-H3 768P output can be regenerated (2013)")),
        (json!({"model": "MiniMax-H3", "source_task_id": id, "resolution": "2K"}), format!("invalid params, source_task_id: task {id} is a regeneration: only a /v2/video_generation task can be regenerated (2013)")),
        (json!({"model": "MiniMax-H3", "source_task_id": "nope", "resolution": "2K"}), "invalid params, source_task_id: task nope is not a v2 task of the last 7 days (invalid task_id) (2013)".to_owned()),
        (json!({"model": "MiniMax-H3", "source_task_id": source, "content": by_video["content"], "resolution": "2K"}), "invalid params, source_task_id: give source_task_id or content (with one base_video item), not both (2013)".to_owned()),
        (json!({"model": "MiniMax-H3", "source_task_id": source, "resolution": "768P"}), "invalid params, resolution: \"768P\" is not one of \"2K\" (regeneration makes 2K) (2013)".to_owned()),
    ];
    for (body, message) in cases {
        let r = post(&server, "/v2/video_regeneration", None, &body).await;
        assert_eq!(
            envelope(&server, &r),
            (400, "bad_request_error".into(), message),
            "{body}"
        );
        assert!(
            !server.app.contract.v2_regeneration_request().is_valid(&body) || body["source_task_id"].is_string(),
            "{body}"
        );
    }
}

#[tokio::test]
async fn a_scenarios_file_rule_names_a_v2_task_and_chooses_by_model() {
    // The scenarios-file format of earlier versions: rules on the task id and the model.
    let catalog = minimax_mock::lifecycle::scenarios::Catalog::from_text(
        "rules.json",
        r#"{"rules": [{"task_id": "h3-*", "scenario": "instant"}, {"model": "MiniMax-H3-Max", "scenario": "fail"}]}"#,
    )
    .unwrap();
    let server = start(Config { catalog, ..config() }).await;
    let v = task(&server, "h3-named").await.json();
    assert_eq!(
        (v["task"]["status"].as_str(), v["task"]["task_type"].as_str()),
        (Some("succeeded"), Some("generation"))
    );
    let body = json!({"model": "MiniMax-H3-Max", "content": [{"type": "text", "text": "a"}], "resolution": "480P", "duration": 5, "ratio": "16:9"});
    let r = post(&server, "/v2/video_generation", None, &body).await;
    let id = r.json()["task_id"].as_str().unwrap().to_owned();
    assert_eq!(server.app.store.tasks().get(&id).unwrap().scenario.name(), "fail");
}

/// A state file written by the version before this v2 (v2 tasks without
/// model, task type or inputs, 768P frames of 1366): it loads, and its v2
/// tasks answer as v2 tasks answer now.
const STATE_BEFORE: &str = r#"{"version":1,"generation":3,"clock":{"now":1756453475000,"frozen":true,"offset":-39718474719},"submissions":3,"tasks":[{"task_id":"325075426377387","scenario":"success","submitted_at":1756453472000,"polls":0,"resolution":"768P","duration":6,"surface":"v2","ratio":"9:16"},{"task_id":"366566368402062","scenario":"fail","submitted_at":1756453472000,"polls":0,"resolution":"2K","duration":10,"surface":"v2","ratio":"adaptive"},{"task_id":"382711361798942","scenario":"success","submitted_at":1756453472000,"polls":0,"resolution":"1080P","duration":6},{"task_id":"h3-job","scenario":"instant","submitted_at":1756453472000,"polls":0,"resolution":"768P","duration":5,"surface":"v2","ratio":"21:9"}]}
"#;

/// The same tasks as the snapshot above, in the change log an earlier
/// version left beside an empty snapshot (killed before folding it).
const LOG_BEFORE: &str = r#"{"generation":1}
{"task":{"task_id":"325075426377387","scenario":"success","submitted_at":1756453472000,"polls":0,"resolution":"768P","duration":6,"surface":"v2","ratio":"9:16"}}
{"submissions":3}
{"task":{"task_id":"366566368402062","scenario":"fail","submitted_at":1756453472000,"polls":0,"resolution":"2K","duration":10,"surface":"v2","ratio":"adaptive"}}
{"task":{"task_id":"382711361798942","scenario":"success","submitted_at":1756453472000,"polls":0,"resolution":"1080P","duration":6}}
{"task":{"task_id":"h3-job","scenario":"instant","submitted_at":1756453472000,"polls":0,"resolution":"768P","duration":5,"surface":"v2","ratio":"21:9"}}
{"clock":{"now":1756453475000,"frozen":true,"offset":-39718462754}}
"#;

fn state_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("minimax-mock-v2-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("state.json")
}

/// A server restoring `path`, as `serve --state PATH` does.
async fn restored(path: &std::path::Path) -> TestServer {
    let base = deterministic();
    let restore = state::load(path, base.seed, &base.catalog).unwrap();
    start(Config {
        state: Some(path.to_owned()),
        restore,
        ..base
    })
    .await
}

#[tokio::test]
async fn state_files_of_earlier_versions_keep_loading() {
    let snapshot = state_dir("before");
    std::fs::write(&snapshot, STATE_BEFORE).unwrap();
    let logged = state_dir("before-log");
    std::fs::write(&logged, r#"{"version":1,"generation":1,"clock":{"now":1756453472000,"frozen":true,"offset":0},"submissions":0,"tasks":[]}"#).unwrap();
    std::fs::write(logged.with_file_name("state.json.log"), LOG_BEFORE).unwrap();
    for path in [&snapshot, &logged] {
        let server = restored(path).await;
        let v = task(&server, "325075426377387").await.json();
        let t = &v["task"];
        assert_eq!(
            (
                t["model"].as_str(),
                t["task_type"].as_str(),
                t["status"].as_str(),
                t["ratio"].as_str()
            ),
            (Some("MiniMax-H3"), Some("generation"), Some("queued"), Some("9:16")),
            "{}",
            path.display()
        );
        assert!(server.app.contract.v2_query_response().is_valid(&v), "{v}");
        server.app.store.clock().advance(Duration::from_secs(10));
        let v = task(&server, "325075426377387").await.json();
        assert_eq!(clip_frame(&server, &v).await, (768, 1344), "v2's 768P frame now");
        let failed = task(&server, "366566368402062").await.json();
        assert_eq!(failed["task"]["error"]["code"], "1027");
        let scripted = task(&server, "h3-job").await.json();
        assert_eq!(clip_frame(&server, &scripted).await, (1472, 640));
        let gateway = server.query("382711361798942").await.json();
        assert_eq!(gateway["data"]["status"], "SUCCESS");
        server.stop().await;
    }
}

#[tokio::test]
async fn cancelled_h3_max_and_regenerated_tasks_survive_a_restart() {
    let path = state_dir("restart");
    let server = restored(&path).await;
    let max = json!({"model": "MiniMax-H3-Max", "content": [{"type": "text", "text": "a"},
        {"type": "image_url", "image_url": {"url": "https://e.com/a.png"}}], "resolution": "480P", "duration": 8});
    let queued = submit(&server, "slow", &max).await;
    assert_eq!(delete(&server, &queued).await.status, 200);
    let source = submit(&server, "instant", &text_body("16:9")).await;
    let regen = json!({"model": "MiniMax-H3", "source_task_id": source, "resolution": "2K"});
    let r = post(&server, "/v2/video_regeneration", Some("instant"), &regen).await;
    let regenerated = r.json()["task_id"].as_str().unwrap().to_owned();
    let before = [
        task(&server, &queued).await.json(),
        task(&server, &regenerated).await.json(),
    ];
    server.app.save_all();
    server.stop().await;
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let cancelled = saved["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["task_id"] == queued.as_str())
        .unwrap();
    assert_eq!(
        (
            cancelled["model"].as_str(),
            cancelled["inputs"].clone(),
            cancelled["cancelled_at"].as_u64()
        ),
        (Some("MiniMax-H3-Max"), json!([1, 0, 0]), Some(1_756_453_472_000))
    );

    let server = restored(&path).await;
    server.app.store.clock().advance(Duration::from_secs(600));
    let after = [
        task(&server, &queued).await.json(),
        task(&server, &regenerated).await.json(),
    ];
    assert_eq!(after[0], before[0], "still cancelled");
    assert_eq!(after[0]["task"]["status"], "cancelled");
    assert_eq!(
        (
            after[1]["task"]["task_type"].as_str(),
            after[1]["task"]["ratio"].as_str()
        ),
        (Some("regeneration"), Some(""))
    );
    assert_eq!(after[1], before[1]);
    let r = delete(&server, &queued).await;
    assert!(envelope(&server, &r).2.ends_with("is already cancelled (2013)"));
    server.stop().await;
}

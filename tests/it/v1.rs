//! MiniMax's v1 as its API reference documents it (the audit's §2): the
//! model × resolution × duration table of each mode (text to video, image
//! to video, first and last frame, subject reference), told apart by the
//! images a body has, at both submits (MiniMax's native one and the
//! gateway's); prompts optional where MiniMax allows; and the two spellings
//! of a callback update's status.

use serde_json::{json, Value};

use crate::common::{config, start, TestServer};
use crate::dialects::{post, receiver, updates, Receiver, JSON};
use minimax_mock::server::callbacks::StatusWords;
use minimax_mock::server::Config;

const NATIVE: &str = "/v1/video_generation";
const GATEWAY: &str = "/minimax/v1/video_generation";
const IMAGE: &str = "https://example.com/a.png";

/// A body of `model` with `fields` added.
fn body(model: &str, fields: Value) -> String {
    let mut doc = json!({ "model": model });
    for (k, v) in fields.as_object().unwrap() {
        doc[k] = v.clone();
    }
    doc.to_string()
}

/// Submits `body` through `path`: the task's (width, height, duration) as
/// the control API shows them, or the refusal's message.
async fn submit(server: &TestServer, path: &str, body: &str) -> Result<(u64, u64, u64), String> {
    let r = post(server, path, &[], body).await;
    let answer = r.json();
    assert!(server.app.contract.submit_response().is_valid(&answer), "{answer}");
    let code = answer["base_resp"]["status_code"].as_i64().unwrap();
    if code != 0 {
        // Each submit refuses in its own way: MiniMax with HTTP 200, the gateway with 400.
        assert_eq!(r.status, if path == GATEWAY { 400 } else { 200 }, "{body}");
        assert_eq!((code, &answer["task_id"]), (2013, &json!("")), "{body}");
        return Err(answer["base_resp"]["status_msg"].as_str().unwrap().to_owned());
    }
    assert_eq!(r.status, 200, "{body}");
    let id = answer["task_id"].as_str().unwrap();
    let task = server.get(&format!("/__mock/tasks/{id}")).await.json();
    let n = |k: &str| task[k].as_u64().unwrap();
    Ok((n("video_width"), n("video_height"), n("duration")))
}

/// Every cell of the table: each accepted body with the frame size and
/// length it gets (defaults included), through both submits.
#[tokio::test]
async fn every_mode_accepts_its_models_resolutions_and_durations() {
    let server = start(config()).await;
    let (p768, p720, p1080, p512) = ((1366, 768), (1280, 720), (1920, 1080), (912, 512));
    let cases: Vec<(String, (u64, u64), u64)> = vec![
        // Text to video: Hailuo-2.3 and -02 768P (default) at 6 or 10 s, 1080P at 6 s.
        (body("MiniMax-Hailuo-2.3", json!({"prompt": "x"})), p768, 6),
        (
            body("MiniMax-Hailuo-2.3", json!({"prompt": "x", "duration": 10})),
            p768,
            10,
        ),
        (
            body("MiniMax-Hailuo-2.3", json!({"prompt": "x", "resolution": "1080P"})),
            p1080,
            6,
        ),
        (
            body(
                "MiniMax-Hailuo-02",
                json!({"prompt": "x", "duration": 10, "resolution": "768P"}),
            ),
            p768,
            10,
        ),
        (
            body("MiniMax-Hailuo-02", json!({"prompt": "x", "resolution": "1080P"})),
            p1080,
            6,
        ),
        // T2V-01 and T2V-01-Director: 720P (default) or 1080P, 6 s.
        (body("T2V-01", json!({"prompt": "x"})), p720, 6),
        (body("T2V-01", json!({"prompt": "x", "resolution": "1080P"})), p1080, 6),
        (body("T2V-01-Director", json!({"prompt": "x"})), p720, 6),
        (
            body("T2V-01-Director", json!({"prompt": "x", "resolution": "720P"})),
            p720,
            6,
        ),
        (
            body(
                "T2V-01-Director",
                json!({"prompt": "x", "resolution": "1080P", "duration": 6}),
            ),
            p1080,
            6,
        ),
        // Image to video, prompt optional.
        (body("MiniMax-Hailuo-2.3", json!({"first_frame_image": IMAGE})), p768, 6),
        (
            body(
                "MiniMax-Hailuo-2.3",
                json!({"first_frame_image": IMAGE, "duration": 10}),
            ),
            p768,
            10,
        ),
        (
            body("MiniMax-Hailuo-2.3-Fast", json!({"first_frame_image": IMAGE})),
            p768,
            6,
        ),
        (
            body(
                "MiniMax-Hailuo-2.3-Fast",
                json!({"first_frame_image": IMAGE, "resolution": "1080P"}),
            ),
            p1080,
            6,
        ),
        (
            body(
                "MiniMax-Hailuo-2.3-Fast",
                json!({"first_frame_image": IMAGE, "prompt": "x", "duration": 10}),
            ),
            p768,
            10,
        ),
        (
            body(
                "MiniMax-Hailuo-02",
                json!({"first_frame_image": IMAGE, "resolution": "512P"}),
            ),
            p512,
            6,
        ),
        (
            body(
                "MiniMax-Hailuo-02",
                json!({"first_frame_image": IMAGE, "resolution": "512P", "duration": 10}),
            ),
            p512,
            10,
        ),
        (
            body("MiniMax-Hailuo-02", json!({"first_frame_image": IMAGE, "duration": 10})),
            p768,
            10,
        ),
        (
            body(
                "MiniMax-Hailuo-02",
                json!({"first_frame_image": IMAGE, "resolution": "1080P"}),
            ),
            p1080,
            6,
        ),
        (body("I2V-01", json!({"first_frame_image": IMAGE})), p720, 6),
        (
            body(
                "I2V-01-Director",
                json!({"first_frame_image": IMAGE, "resolution": "1080P"}),
            ),
            p1080,
            6,
        ),
        (
            body(
                "I2V-01-live",
                json!({"first_frame_image": IMAGE, "prompt": "x", "duration": 6}),
            ),
            p720,
            6,
        ),
        // First and last frame: MiniMax-Hailuo-02, the first frame and the prompt optional.
        (body("MiniMax-Hailuo-02", json!({"last_frame_image": IMAGE})), p768, 6),
        (
            body("MiniMax-Hailuo-02", json!({"last_frame_image": IMAGE, "duration": 10})),
            p768,
            10,
        ),
        (
            body(
                "MiniMax-Hailuo-02",
                json!({"first_frame_image": IMAGE, "last_frame_image": IMAGE, "prompt": "x", "resolution": "1080P"}),
            ),
            p1080,
            6,
        ),
        // Subject reference: S2V-01, prompt optional; 720P, 6 s whatever duration and resolution say.
        (
            body(
                "S2V-01",
                json!({"subject_reference": [{"type": "character", "image": [IMAGE]}]}),
            ),
            p720,
            6,
        ),
        (
            body(
                "S2V-01",
                json!({"subject_reference": [{"type": "character", "image": [IMAGE]}], "prompt": "x", "duration": 10, "resolution": "1080P"}),
            ),
            p720,
            6,
        ),
        // fast_pretreatment on the Hailuo models; false is taken by every model.
        (
            body("MiniMax-Hailuo-02", json!({"prompt": "x", "fast_pretreatment": true})),
            p768,
            6,
        ),
        (
            body(
                "MiniMax-Hailuo-2.3-Fast",
                json!({"first_frame_image": IMAGE, "fast_pretreatment": true}),
            ),
            p768,
            6,
        ),
        (
            body("T2V-01", json!({"prompt": "x", "fast_pretreatment": false})),
            p720,
            6,
        ),
        // The other fields of every mode.
        (
            body(
                "MiniMax-Hailuo-02",
                json!({"last_frame_image": IMAGE, "prompt_optimizer": false, "aigc_watermark": true}),
            ),
            p768,
            6,
        ),
    ];
    for (body, _, _) in &cases {
        let doc: Value = serde_json::from_str(body).unwrap();
        let violations = server.app.contract.submit_request().violations(&doc);
        assert!(violations.is_empty(), "the schema takes {body}: {violations:?}");
    }
    for path in [NATIVE, GATEWAY] {
        for (body, (width, height), duration) in &cases {
            let got = submit(&server, path, body).await;
            assert_eq!(got, Ok((*width, *height, *duration)), "{path} {body}");
        }
    }
    assert!(server
        .app
        .contract
        .submit_request()
        .is_valid(&json!({"model": "S2V-01", "subject_reference": [{"type": "character", "image": [IMAGE]}]})));
}

/// Every refused cell, naming the field and the rule: the same refusal at
/// both submits, and the schema (what `validate` judges requests with)
/// refuses each one too.
#[tokio::test]
async fn every_mode_refuses_what_its_table_does_not_have() {
    let server = start(config()).await;
    let subject = json!([{"type": "character", "image": [IMAGE]}]);
    let cases: Vec<(String, &str)> = vec![
        // Text to video.
        (body("MiniMax-Hailuo-02", json!({})), "prompt"),
        (
            body("MiniMax-Hailuo-2.3-Fast", json!({"prompt": "x"})),
            "first_frame_image",
        ),
        (
            body("MiniMax-Hailuo-02", json!({"prompt": "x", "resolution": "512P"})),
            "resolution",
        ),
        (
            body("MiniMax-Hailuo-2.3", json!({"prompt": "x", "resolution": "720P"})),
            "resolution",
        ),
        (
            body(
                "MiniMax-Hailuo-2.3",
                json!({"prompt": "x", "duration": 10, "resolution": "1080P"}),
            ),
            "resolution",
        ),
        (
            body("T2V-01-Director", json!({"prompt": "x", "resolution": "768P"})),
            "resolution",
        ),
        (
            body("T2V-01", json!({"prompt": "x", "resolution": "512P"})),
            "resolution",
        ),
        (body("T2V-01", json!({"prompt": "x", "duration": 10})), "duration"),
        (body("I2V-01", json!({"prompt": "x"})), "first_frame_image"),
        (body("MiniMax-Hailuo-02", json!({"prompt": "x".repeat(2001)})), "prompt"),
        // Image to video.
        (body("T2V-01", json!({"first_frame_image": IMAGE})), "model"),
        (
            body("T2V-01-Director", json!({"first_frame_image": IMAGE, "prompt": "x"})),
            "model",
        ),
        (
            body(
                "MiniMax-Hailuo-2.3-Fast",
                json!({"first_frame_image": IMAGE, "resolution": "512P"}),
            ),
            "resolution",
        ),
        (
            body(
                "MiniMax-Hailuo-2.3-Fast",
                json!({"first_frame_image": IMAGE, "duration": 10, "resolution": "1080P"}),
            ),
            "resolution",
        ),
        (
            body(
                "MiniMax-Hailuo-02",
                json!({"first_frame_image": IMAGE, "duration": 10, "resolution": "1080P"}),
            ),
            "resolution",
        ),
        (
            body("I2V-01", json!({"first_frame_image": IMAGE, "duration": 10})),
            "duration",
        ),
        (
            body("I2V-01-live", json!({"first_frame_image": IMAGE, "resolution": "768P"})),
            "resolution",
        ),
        // First and last frame.
        (
            body(
                "MiniMax-Hailuo-2.3",
                json!({"first_frame_image": IMAGE, "last_frame_image": IMAGE}),
            ),
            "model",
        ),
        (
            body("I2V-01", json!({"first_frame_image": IMAGE, "last_frame_image": IMAGE})),
            "model",
        ),
        (
            body(
                "MiniMax-Hailuo-02",
                json!({"last_frame_image": IMAGE, "resolution": "512P"}),
            ),
            "resolution",
        ),
        (
            body(
                "MiniMax-Hailuo-02",
                json!({"last_frame_image": IMAGE, "duration": 10, "resolution": "1080P"}),
            ),
            "resolution",
        ),
        (
            body(
                "MiniMax-Hailuo-02",
                json!({"last_frame_image": IMAGE, "fast_pretreatment": true}),
            ),
            "fast_pretreatment",
        ),
        // Subject reference.
        (body("S2V-01", json!({"prompt": "x"})), "subject_reference"),
        (
            body(
                "S2V-01",
                json!({"subject_reference": subject, "first_frame_image": IMAGE}),
            ),
            "first_frame_image",
        ),
        (
            body(
                "MiniMax-Hailuo-02",
                json!({"subject_reference": subject, "prompt": "x"}),
            ),
            "model",
        ),
        (
            body(
                "S2V-01",
                json!({"subject_reference": [{"type": "character", "image": [IMAGE, IMAGE]}]}),
            ),
            "subject_reference.0.image",
        ),
        (body("S2V-01", json!({"subject_reference": []})), "subject_reference"),
        // fast_pretreatment elsewhere than on the Hailuo models.
        (
            body("T2V-01", json!({"prompt": "x", "fast_pretreatment": true})),
            "fast_pretreatment",
        ),
        (
            body(
                "S2V-01",
                json!({"subject_reference": subject, "fast_pretreatment": true}),
            ),
            "fast_pretreatment",
        ),
    ];
    let mut messages = Vec::new();
    for (body, field) in &cases {
        let native = submit(&server, NATIVE, body).await.expect_err(body);
        let gateway = submit(&server, GATEWAY, body).await.expect_err(body);
        assert_eq!(native, gateway, "{body}");
        assert!(
            native.starts_with(&format!("invalid params, {field}: ")),
            "{body}: {native}"
        );
        let doc: Value = serde_json::from_str(body).unwrap();
        assert!(!server.app.contract.submit_request().is_valid(&doc), "{body}");
        let shown = if body.len() > 200 {
            format!("{}…", &body[..120])
        } else {
            body.clone()
        };
        messages.push(format!("{shown}\n  -> {native}"));
    }
    insta::assert_snapshot!(messages.join("\n"));
    assert!(server.app.store.tasks().is_empty(), "a refused submit creates no task");
}

/// The shipped request fixtures are accepted as they are.
#[tokio::test]
async fn every_request_fixture_is_accepted() {
    let server = start(config()).await;
    let fixtures: Vec<_> = server
        .app
        .contract
        .fixtures()
        .filter(|(rel, _)| rel.starts_with("video_generation.request/"))
        .map(|(rel, bytes)| (rel.to_owned(), String::from_utf8(bytes.to_vec()).unwrap()))
        .collect();
    assert!(fixtures.len() >= 4, "a fixture per mode: {fixtures:?}");
    for (rel, body) in fixtures {
        assert!(submit(&server, NATIVE, &body).await.is_ok(), "{rel}");
    }
}

fn with_callback(url: &str) -> String {
    json!({"model": "MiniMax-Hailuo-02", "prompt": "A cat", "callback_url": url}).to_string()
}

/// The statuses of `task`'s updates as they arrived, once `n` were sent
/// (after the clock moved 30 s: the whole scenario).
async fn update_statuses(server: &TestServer, task: &str, n: usize) -> Vec<Value> {
    let r = server
        .send("POST", "/__mock/clock", &[JSON], r#"{"advance": "30s"}"#)
        .await;
    assert_eq!(r.status, 200);
    let attempts = updates(server, task, n).await;
    assert!(attempts.iter().all(|a| a.delivered));
    attempts.into_iter().map(|a| a.body).collect()
}

#[tokio::test]
async fn callback_updates_spell_the_query_words_by_default() {
    let hook = receiver(Receiver::Echo).await;
    let server = start(config()).await;
    let r = post(&server, NATIVE, &[], &with_callback(&hook.url)).await;
    let task = r.json()["task_id"].as_str().unwrap().to_owned();
    let bodies = update_statuses(&server, &task, 4).await;
    let statuses: Vec<_> = bodies.iter().map(|b| b["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["Preparing", "Queueing", "Processing", "Success"]);
}

/// `--callback-status lowercase`: one `processing` update for Preparing,
/// Queueing and Processing (sent at the first of them), then `success` with
/// the file id, or `failed` with the code; the receiver gets just these.
#[tokio::test]
async fn callback_updates_in_lowercase_send_one_processing_then_success_or_failed() {
    let hook = receiver(Receiver::Echo).await;
    let server = start(Config {
        callback_status: StatusWords::Lowercase,
        ..config()
    })
    .await;
    let r = post(&server, NATIVE, &[], &with_callback(&hook.url)).await;
    let task = r.json()["task_id"].as_str().unwrap().to_owned();
    let bodies = update_statuses(&server, &task, 2).await;
    let statuses: Vec<_> = bodies.iter().map(|b| b["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["processing", "success"]);
    for body in &bodies {
        assert!(server.app.contract.callback_update().is_valid(body), "{body}");
    }
    assert_eq!(bodies[0]["file_id"], "");
    let file_id = bodies[1]["file_id"].as_str().unwrap();
    let native = server
        .get(&format!("/v1/query/video_generation?task_id={task}"))
        .await
        .json();
    assert_eq!(native["file_id"], file_id, "the update's file_id is the query's");
    assert_eq!(
        bodies[1]["base_resp"],
        json!({"status_code": 0, "status_msg": "success"})
    );
    // The receiver got the challenge and these two, nothing else.
    assert_eq!(hook.received.lock().unwrap().len(), 3);

    // A failure, through the gateway's submit.
    let r = post(
        &server,
        GATEWAY,
        &[("Prefer", "scenario=fail")],
        &with_callback(&hook.url),
    )
    .await;
    let task = r.json()["task_id"].as_str().unwrap().to_owned();
    let bodies = update_statuses(&server, &task, 2).await;
    let statuses: Vec<_> = bodies.iter().map(|b| b["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["processing", "failed"]);
    assert_eq!(
        bodies[1],
        json!({"task_id": task, "status": "failed", "file_id": "", "base_resp": {"status_code": 1027, "status_msg": "output new_sensitive"}})
    );
    assert!(server.app.contract.callback_update().is_valid(&bodies[1]));

    // v2 tasks keep v2's words whatever the v1 spelling.
    let v2 = json!({"model": "MiniMax-H3", "content": [{"type": "text", "text": "x"}], "ratio": "1:1", "resolution": "768P", "duration": 5, "callback_url": hook.url});
    let r = post(&server, "/v2/video_generation", &[], &v2.to_string()).await;
    let task = r.json()["task_id"].as_str().unwrap().to_owned();
    let bodies = update_statuses(&server, &task, 3).await;
    let statuses: Vec<_> = bodies.iter().map(|b| b["task"]["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["queued", "running", "succeeded"]);
}

/// A poll-driven task in lowercase: the polls through Preparing, Queueing and
/// Processing send nothing after the first `processing`.
#[tokio::test]
async fn lowercase_updates_follow_polls_without_repeating_processing() {
    let hook = receiver(Receiver::Echo).await;
    let server = start(Config {
        callback_status: StatusWords::Lowercase,
        ..config()
    })
    .await;
    let r = post(
        &server,
        NATIVE,
        &[("Prefer", "scenario=success-polls")],
        &with_callback(&hook.url),
    )
    .await;
    let task = r.json()["task_id"].as_str().unwrap().to_owned();
    let mut seen = Vec::new();
    for _ in 0..5 {
        let status = server
            .get(&format!("/v1/query/video_generation?task_id={task}"))
            .await
            .json()["status"]
            .as_str()
            .unwrap()
            .to_owned();
        seen.push(status);
    }
    assert_eq!(seen, ["Preparing", "Preparing", "Queueing", "Processing", "Success"]);
    let attempts = updates(&server, &task, 2).await;
    let statuses: Vec<_> = attempts.iter().map(|a| a.status.clone().unwrap()).collect();
    assert_eq!(statuses, ["processing", "success"]);
}

/// The official example update validates, as do both spellings of the
/// shipped fixtures, and a success without a file id does not.
#[test]
fn the_callback_update_schema_takes_both_spellings() {
    let contract = minimax_mock::contract::Contract::embedded();
    let schema = contract.callback_update();
    let official = json!({"task_id":"115334141465231360","status":"success","file_id":"205258526306433","base_resp":{"status_code":0,"status_msg":"success"}});
    assert!(schema.is_valid(&official), "{:?}", schema.violations(&official));
    for (status, file_id, code, valid) in [
        ("processing", "", 0, true),
        ("Queueing", "", 0, true),
        ("failed", "", 1027, true),
        ("Fail", "", 1027, true),
        ("success", "", 0, false),
        ("processing", "1", 0, false),
        ("failed", "", 0, false),
        ("Failed", "", 1027, false),
        ("queued", "", 0, false),
    ] {
        let doc = json!({"task_id": "1", "status": status, "file_id": file_id, "base_resp": {"status_code": code, "status_msg": "m"}});
        assert_eq!(schema.is_valid(&doc), valid, "{doc}");
    }
    let spellings: Vec<_> = contract
        .fixtures()
        .filter(|(rel, _)| rel.starts_with("callback.update/"))
        .map(|(_, bytes)| serde_json::from_slice::<Value>(bytes).unwrap()["status"].clone())
        .collect();
    for word in ["Processing", "Success", "Fail", "processing", "success", "failed"] {
        assert!(spellings.contains(&json!(word)), "a fixture with {word}: {spellings:?}");
    }
}

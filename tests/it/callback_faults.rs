//! Callback delivery faults (a step's `callback`: delay, drop, duplicate)
//! against a real receiver on loopback, through each API that takes a
//! `callback_url`, with the clock frozen and moved by the control API.

use serde_json::{json, Value};

use crate::common::{config, start, TestServer};
use crate::dialects::{post, receiver, updates, Receiver, JSON};

/// What a receiver hears of a task, in arrival order: the status words.
fn words(received: &[Value], v2: bool) -> Vec<String> {
    received
        .iter()
        .filter(|b| b.get("challenge").is_none())
        .map(|b| {
            let word = if v2 { &b["task"]["status"] } else { &b["status"] };
            word.as_str().unwrap().to_owned()
        })
        .collect()
}

async fn advance(server: &TestServer, by: &str) {
    let r = server
        .send("POST", "/__mock/clock", &[JSON], &json!({ "advance": by }).to_string())
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

/// `rough-delivery` through `path`: the first update held 15 s and
/// overtaken by every later one, Queueing sent twice (v1; v2 has no word
/// of its own for it), Processing dropped, SUCCESS sent twice.
async fn rough_delivery(path: &str, body: Value, v2: bool) {
    let hook = receiver(Receiver::Echo).await;
    let server = start(config()).await; // frozen
    let mut body = body;
    if path == "/v1/videos" {
        // new-api takes MiniMax's fields, callback_url among them, in metadata.
        body["metadata"] = json!({ "callback_url": hook.url });
    } else {
        body["callback_url"] = json!(hook.url);
    }
    let r = post(
        &server,
        path,
        &[("Prefer", "scenario=rough-delivery")],
        &body.to_string(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let task = r.json()["task_id"].as_str().unwrap().to_owned();

    // 5 s in: QUEUED and IN_PROGRESS were entered; the first update is still held.
    advance(&server, "5s").await;
    let first = if v2 { 1 } else { 3 };
    let attempts = updates(&server, &task, first).await;
    let (queueing, running) = if v2 {
        ("", "running")
    } else {
        ("Queueing", "Processing")
    };
    let expected_early: Vec<&str> = if v2 { vec![] } else { vec![queueing, queueing] };
    assert_eq!(words(&hook.received.lock().unwrap(), v2), expected_early);
    let dropped = attempts.last().unwrap();
    assert_eq!(dropped.status.as_deref(), Some(running));
    assert!(dropped.dropped && !dropped.delivered, "{dropped:?}");
    if !v2 {
        let copies: Vec<_> = attempts[..2].iter().map(|a| (a.copy, a.copies, a.delivered)).collect();
        assert_eq!(copies, [(Some(1), Some(2), true), (Some(2), Some(2), true)]);
    }

    // 15 s in: SUCCESS (twice), then the held first update, last of all.
    advance(&server, "10s").await;
    let attempts = updates(&server, &task, first + 3).await;
    let late = if v2 { "queued" } else { "Preparing" };
    let success = if v2 { "succeeded" } else { "Success" };
    let mut expected = expected_early.clone();
    expected.extend([success, success, late]);
    assert_eq!(words(&hook.received.lock().unwrap(), v2), expected);
    let held = attempts.last().unwrap();
    assert_eq!(held.delayed.as_deref(), Some("15000ms"));
    assert_eq!(
        held.time,
        crate::common::EPOCH_MS + 15_000,
        "sent 15 s after the change"
    );
    // Every update sent is one the contract allows.
    let schema = if v2 {
        server.app.contract.v2_query_response()
    } else {
        server.app.contract.callback_update()
    };
    for body in hook.received.lock().unwrap().iter().skip(1) {
        assert!(schema.is_valid(body), "{body}");
    }

    // The control API records each as it happened.
    let listed = server.get(&format!("/__mock/callbacks?task_id={task}")).await.json();
    let listed = listed["callbacks"].as_array().unwrap().clone();
    assert_eq!(listed.len(), first + 3);
    let dropped = listed.iter().find(|a| a["dropped"] == true).unwrap();
    assert_eq!(
        (&dropped["status"], &dropped["delivered"], &dropped["http_status"]),
        (&json!(running), &json!(false), &Value::Null)
    );
    let last = listed.last().unwrap();
    assert_eq!((&last["status"], &last["delayed"]), (&json!(late), &json!("15000ms")));
    let copies: Vec<_> = listed
        .iter()
        .filter(|a| a["status"] == success)
        .map(|a| (a["copy"].clone(), a["copies"].clone()))
        .collect();
    assert_eq!(copies, [(json!(1), json!(2)), (json!(2), json!(2))]);
    // Nothing more: the task has ended and its queue is empty.
    advance(&server, "1m").await;
    assert_eq!(server.app.callbacks.list(Some(&task)).len(), first + 3);
}

#[tokio::test]
async fn rough_delivery_through_the_gateway() {
    let body = json!({"model": "MiniMax-Hailuo-02", "prompt": "A cat"});
    rough_delivery("/minimax/v1/video_generation", body, false).await;
}

#[tokio::test]
async fn rough_delivery_through_minimax_v1() {
    let body = json!({"model": "MiniMax-Hailuo-02", "prompt": "A cat"});
    rough_delivery("/v1/video_generation", body, false).await;
}

/// new-api's OpenAI-compatible API sends MiniMax's v1 updates, naming the
/// `task_…` id.
#[tokio::test]
async fn rough_delivery_through_the_openai_compatible_api() {
    let body = json!({"model": "MiniMax-Hailuo-02", "prompt": "A cat"});
    rough_delivery("/v1/videos", body, false).await;
}

#[tokio::test]
async fn rough_delivery_through_v2() {
    let body = json!({"model": "MiniMax-H3", "content": [{"type": "text", "text": "x"}], "ratio": "1:1", "resolution": "768P", "duration": 5});
    rough_delivery("/v2/video_generation", body, true).await;
}

/// Inline steps of the control API carry `callback` too: a delay with a
/// duplicate sends the copies late, in a row, after the SUCCESS a poll
/// brought; a receiver failing once is retried as without faults.
#[tokio::test]
async fn inline_steps_fault_callbacks_and_retries_stay() {
    let hook = receiver(Receiver::FailUpdates(1)).await;
    let server = start(config()).await;
    let steps = json!({"steps": [
        {"status": "QUEUED", "polls": 1, "callback": {"delay": "2s", "duplicate": 2}},
        {"status": "SUCCESS"}
    ]});
    let r = server.send("PUT", "/__mock/next", &[JSON], &steps.to_string()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let body = json!({"model": "MiniMax-Hailuo-02", "prompt": "A cat", "callback_url": hook.url});
    let task = post(&server, "/v1/video_generation", &[], &body.to_string())
        .await
        .json()["task_id"]
        .as_str()
        .unwrap()
        .to_owned();
    server.get(&format!("/v1/query/video_generation?task_id={task}")).await;
    server.get(&format!("/v1/query/video_generation?task_id={task}")).await;
    // Success went out; Queueing waits for the clock.
    let attempts = updates(&server, &task, 1).await;
    assert_eq!(attempts[0].status.as_deref(), Some("Success"));
    advance(&server, "2s").await;
    let attempts = updates(&server, &task, 4).await;
    let seen: Vec<_> = attempts
        .iter()
        .map(|a| (a.status.clone().unwrap(), a.copy, a.attempt, a.delivered))
        .collect();
    assert_eq!(
        seen,
        [
            ("Success".to_owned(), None, 1, false),
            ("Success".to_owned(), None, 2, true),
            ("Queueing".to_owned(), Some(1), 1, true),
            ("Queueing".to_owned(), Some(2), 1, true),
        ]
    );

    // A fault on a step that sends no update is refused, with its pointer.
    let bad = json!({"steps": [
        {"status": "NOT_START", "polls": 1},
        {"status": "SUBMITTED", "polls": 1, "callback": {"duplicate": 2}},
        {"status": "SUCCESS"}
    ]});
    let r = server.send("PUT", "/__mock/tasks/x", &[JSON], &bad.to_string()).await;
    assert_eq!(r.status, 400);
    let message = r.json()["message"].as_str().unwrap().to_owned();
    assert!(
        message.starts_with("/steps/1/callback: entering this step sends no status update"),
        "{message}"
    );
}

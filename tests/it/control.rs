//! The test double: the control API, the virtual clock, faults, the request
//! journal, auth, and the in-process MockServer.

use std::time::{Duration, Instant};

use crate::common::{config, start, Conn, EPOCH_MS};
use minimax_mock::server::Config;
use minimax_mock::MockServer;
use serde_json::{json, Value};

const QUERY: &str = "/minimax/v1/query/video_generation";

fn put(body: &Value) -> String {
    body.to_string()
}

#[tokio::test]
async fn script_a_task_move_the_clock_and_watch_it_fail() {
    let server = start(config()).await;
    assert_eq!(server.get("/__mock/health").await.status, 200);

    let r = server
        .send("PUT", "/__mock/tasks/job-1", &[], &put(&json!({"scenario": "fail"})))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let task = r.json();
    assert_eq!(task["scenario"], "fail");
    assert_eq!(task["current"]["status"], "NOT_START");
    assert_eq!(task["timeline"].as_array().unwrap().len(), 5);
    assert_eq!(task["timeline"][3]["starts_at"], EPOCH_MS + 4000);
    assert_eq!(task["timeline"][4]["terminal"], true);

    assert_eq!(server.query("job-1").await.json()["data"]["status"], "NOT_START");
    let clock = server.send("POST", "/__mock/clock", &[], r#"{"advance": "30s"}"#).await;
    assert_eq!(
        clock.json(),
        json!({"now": EPOCH_MS + 30_000, "now_unix": EPOCH_MS / 1000 + 30, "frozen": true})
    );
    let failed = server.query("job-1").await.json();
    assert_eq!(failed["data"]["status"], "FAILURE");
    assert_eq!(failed["data"]["data"]["status"], "Fail");

    let listed = server.get("/__mock/tasks").await.json();
    assert_eq!(listed["tasks"][0]["task_id"], "job-1");
    assert_eq!(listed["tasks"][0]["polls"], 2);
    let one = server.get("/__mock/tasks/job-1").await.json();
    assert_eq!(one["current"]["status"], "FAILURE");

    assert_eq!(server.send("DELETE", "/__mock/tasks/job-1", &[], "").await.status, 204);
    assert_eq!(server.query("job-1").await.status, 400);
    assert_eq!(server.send("DELETE", "/__mock/tasks/job-1", &[], "").await.status, 404);
}

#[tokio::test]
async fn inline_steps_script_any_lifecycle() {
    let server = start(config()).await;
    let steps = json!({"steps": [
        {"status": "QUEUED", "polls": 2},
        {"status": "IN_PROGRESS", "progress": [40, 80], "for": "10s"},
        {"status": "FAILURE", "base_resp": {"status_code": 1026, "status_msg": "input sensitive"}}
    ], "resolution": "1080P"});
    let r = server.send("PUT", "/__mock/tasks/custom", &[], &put(&steps)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let seen: Vec<String> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            v.push(
                server.query("custom").await.json()["data"]["status"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
        v
    };
    assert_eq!(seen, ["QUEUED", "QUEUED", "IN_PROGRESS"]);
    server.send("POST", "/__mock/clock", &[], r#"{"advance": "5s"}"#).await;
    assert_eq!(server.query("custom").await.json()["data"]["progress"], "60%");
    server.send("POST", "/__mock/clock", &[], r#"{"advance": "5s"}"#).await;
    let done = server.query("custom").await.json();
    assert_eq!(done["data"]["fail_reason"], "input sensitive");
}

#[tokio::test]
async fn bad_control_requests_name_the_field_and_change_nothing() {
    let server = start(config()).await;
    server
        .send("PUT", "/__mock/tasks/keep", &[], r#"{"scenario": "success-polls"}"#)
        .await;
    let cases = [
        (
            "PUT",
            "/__mock/tasks/keep",
            r#"{"scenario": "nope"}"#,
            "/scenario: unknown scenario \"nope\"",
        ),
        (
            "PUT",
            "/__mock/tasks/keep",
            r#"{"steps": [{"status": "IN_PROGRESS", "polls": 1}, {"status": "QUEUED", "polls": 1}, {"status": "SUCCESS"}]}"#,
            "/steps/1/status: status goes backwards",
        ),
        (
            "PUT",
            "/__mock/tasks/keep",
            r#"{"steps": [{"status": "DONE"}]}"#,
            "/steps/0/status: unknown variant",
        ),
        (
            "PUT",
            "/__mock/tasks/keep",
            r#"{"scenario": "fail", "colour": 1}"#,
            "unknown field `colour`",
        ),
        ("PUT", "/__mock/tasks/keep", r#"{"scenario": "#, "EOF while parsing"),
        ("PUT", "/__mock/tasks/keep", r#"{"resolution": "4K"}"#, "/resolution:"),
        (
            "POST",
            "/__mock/clock",
            r#"{"advance": "soon"}"#,
            "/advance: \"soon\" is not a duration",
        ),
        (
            "POST",
            "/__mock/clock",
            r#"{"freeze": true, "resume": true}"#,
            "/resume: freeze and resume at once",
        ),
        ("POST", "/__mock/clock", r#"{}"#, "say `advance`, `freeze` or `resume`"),
        // The clock used to wrap around past u64 and go back.
        (
            "POST",
            "/__mock/clock",
            r#"{"advance": "5000000000000000h"}"#,
            "/advance: the clock shows times up to the end of year 9999",
        ),
    ];
    for (method, target, body, expected) in cases {
        let r = server.send(method, target, &[], body).await;
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert_eq!(r.json()["code"], "invalid_request");
        let message = r.json()["message"].as_str().unwrap().to_owned();
        assert!(message.contains(expected), "{body}: {message}");
    }
    let kept = server.get("/__mock/tasks/keep").await.json();
    assert_eq!(kept["scenario"], "success-polls");
    assert_eq!(server.get("/__mock/clock").await.json()["now"], EPOCH_MS);
    let r = server.send("PATCH", "/__mock/clock", &[], "").await;
    assert_eq!((r.status, r.header("allow")), (405, Some("GET, POST")));
    assert_eq!(server.get("/__mock/nothing").await.status, 404);
}

#[tokio::test]
async fn the_journal_records_what_the_client_sent() {
    let server = start(config()).await;
    let id = server.submit("success-polls").await;
    server
        .send(
            "GET",
            &format!("{QUERY}?task_id={id}"),
            &[("Authorization", "Bearer sk-test")],
            "",
        )
        .await;
    server.query("other").await;
    server.get("/__mock/health").await;

    let all = server.get("/__mock/requests").await.json();
    let all = all["requests"].as_array().unwrap();
    assert_eq!(all.len(), 3, "control requests are not recorded");
    assert_eq!(all[0]["method"], "POST");
    assert_eq!(all[0]["task_id"], id.as_str());
    assert_eq!(all[0]["headers"]["prefer"], "scenario=success-polls");
    assert!(all[0]["body"].as_str().unwrap().contains("A cat plays piano"));
    assert_eq!(all[0]["status"], 200);
    assert_eq!(all[0]["time"], EPOCH_MS);

    let mine = server
        .get(&format!("/__mock/requests?task_id={id}&path={QUERY}"))
        .await
        .json();
    let mine = mine["requests"].as_array().unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(
        mine[0]["headers"]["authorization"], "Bearer …",
        "over HTTP, credentials are redacted"
    );
    let raw = server.mock.requests();
    assert_eq!(raw[1].header("authorization").as_deref(), Some("Bearer sk-test"));
    assert_eq!(mine[0]["query"], format!("task_id={id}"));
    let unknown = server.get("/__mock/requests?task_id=other").await.json();
    assert_eq!(unknown["requests"][0]["status"], 400);
    // The newest N only, still oldest first (the dashboard asks for 200).
    let newest = server.get("/__mock/requests?last=2").await.json();
    let newest: Vec<&Value> = newest["requests"].as_array().unwrap().iter().collect();
    assert_eq!(newest, all[1..].iter().collect::<Vec<_>>());
    assert_eq!(
        server.get("/__mock/requests?last=0").await.json()["requests"],
        json!([])
    );
    let bad = server.get("/__mock/requests?last=-1").await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["message"], "?last: a number of requests, 0 or more");
    let bad = server.get("/__mock/requests?limit=-1").await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["message"], "?limit: \"-1\" is not a whole number");

    assert_eq!(server.send("DELETE", "/__mock/requests", &[], "").await.status, 204);
    assert_eq!(server.get("/__mock/requests").await.json()["requests"], json!([]));
}

#[tokio::test]
async fn reset_brings_back_the_start_state() {
    let server = start(config()).await;
    let first = server.submit("success").await;
    server
        .send("POST", "/__mock/clock", &[], r#"{"advance": "1h", "resume": true}"#)
        .await;
    assert_eq!(server.send("POST", "/__mock/reset", &[], "").await.status, 204);
    assert_eq!(server.get("/__mock/tasks").await.json()["tasks"], json!([]));
    assert_eq!(server.get("/__mock/clock").await.json()["now"], EPOCH_MS);
    assert_eq!(server.get("/__mock/clock").await.json()["frozen"], true);
    assert_eq!(server.get("/__mock/requests").await.json()["requests"], json!([]));
    assert_eq!(server.submit("success").await, first, "ids start again");
}

#[tokio::test]
async fn no_control_turns_the_api_off() {
    let server = start(Config {
        control: false,
        ..config()
    })
    .await;
    assert_eq!(server.get("/__mock/health").await.status, 404);
    assert_eq!(
        server
            .send("PUT", "/__mock/tasks/x", &[], r#"{"scenario":"fail"}"#)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn require_auth_answers_401_without_a_bearer_token() {
    let server = start(Config {
        require_auth: true,
        ..config()
    })
    .await;
    let documented = format!("{QUERY}?task_id=306792606023824");
    let r = server.get(&documented).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.json(),
        json!({"code": "unauthorized", "message": "未提供令牌", "data": null})
    );
    assert_eq!(
        server
            .send("GET", &documented, &[("Authorization", "Basic abc")], "")
            .await
            .status,
        401
    );
    assert_eq!(
        server
            .send("GET", &documented, &[("Authorization", "Bearer ")], "")
            .await
            .status,
        401
    );
    assert_eq!(
        server
            .send("GET", &documented, &[("Authorization", "Bearer sk-1")], "")
            .await
            .status,
        200
    );
    let submit = server
        .send(
            "POST",
            "/minimax/v1/video_generation",
            &[],
            r#"{"model":"T2V-01","prompt":"x"}"#,
        )
        .await;
    assert_eq!(submit.status, 401);
    // Preflights and the control API need no token.
    assert_eq!(server.send("OPTIONS", QUERY, &[], "").await.status, 204);
    assert_eq!(server.get("/__mock/health").await.status, 200);
}

/// Sends one query on a fresh connection; `None` if the connection was reset.
async fn try_query(addr: std::net::SocketAddr, task_id: &str) -> Option<crate::common::Response> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {QUERY}?task_id={task_id} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
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
    Some(crate::common::Response {
        status,
        headers,
        body: body.to_owned(),
        raw: body.as_bytes().to_vec(),
    })
}

#[tokio::test]
async fn flaky_meets_every_fault_once_on_its_way_to_success() {
    let server = start(config()).await;
    let id = server.submit("flaky").await;
    let schema = server.app.contract.query_response();

    let ok = try_query(server.addr, &id).await.unwrap();
    assert_eq!(
        (ok.status, ok.json()["data"]["status"].as_str()),
        (200, Some("NOT_START"))
    );

    let limited = try_query(server.addr, &id).await.unwrap();
    assert_eq!((limited.status, limited.header("retry-after")), (429, Some("1")));
    assert_eq!(limited.json()["message"], "当前分组上游负载已饱和，请稍后再试");
    // A browser app may read Retry-After only if it is exposed.
    assert!(limited
        .header("access-control-expose-headers")
        .unwrap()
        .contains("retry-after"));
    assert!(server.app.contract.error().is_valid(&limited.json()));

    let bad_gateway = try_query(server.addr, &id).await.unwrap();
    assert_eq!(bad_gateway.status, 502);
    assert!(server.app.contract.error().is_valid(&bad_gateway.json()));

    let started = Instant::now();
    let slow = try_query(server.addr, &id).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(100),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(slow.json()["data"]["status"], "QUEUED");

    let truncated = try_query(server.addr, &id).await.unwrap();
    assert_eq!(truncated.status, 200);
    assert!(serde_json::from_str::<Value>(&truncated.body).is_err());
    assert!(truncated.body.starts_with(r#"{"code":"success""#));

    assert_eq!(try_query(server.addr, &id).await.unwrap().status, 503);

    let malformed = try_query(server.addr, &id).await.unwrap();
    assert!(
        serde_json::from_str::<Value>(&malformed.body).is_err(),
        "{}",
        malformed.body
    );

    assert!(try_query(server.addr, &id).await.is_none(), "the connection is reset");

    let broken = try_query(server.addr, &id).await.unwrap().json();
    let violations = schema.violations(&broken);
    let pointers: Vec<&str> = violations.iter().map(|v| v.pointer.as_str()).collect();
    assert_eq!(pointers, ["/data/progress", "/data/submit_time"], "{violations:?}");

    let done = try_query(server.addr, &id).await.unwrap();
    assert_eq!(done.json()["data"]["status"], "SUCCESS");
    assert!(schema.is_valid(&done.json()));

    let journal = server
        .get(&format!("/__mock/requests?task_id={id}&path={QUERY}"))
        .await
        .json();
    let statuses: Vec<Value> = journal["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].clone())
        .collect();
    assert_eq!(
        statuses,
        json!([200, 429, 502, 200, 200, 503, 200, null, 200, 200])
            .as_array()
            .unwrap()
            .clone()
    );
}

#[tokio::test]
async fn a_random_delay_is_the_same_on_every_run() {
    let steps = json!({"steps": [
        {"status": "QUEUED", "polls": 1, "fault": {"delay": ["10ms", "60ms"]}},
        {"status": "SUCCESS"}
    ]});
    let mut times = Vec::new();
    for _ in 0..2 {
        let server = start(config()).await;
        server.send("PUT", "/__mock/tasks/d", &[], &put(&steps)).await;
        let task = server.get("/__mock/tasks/d").await.json();
        assert_eq!(task["timeline"][0]["fault"], json!({"delay": ["10ms", "60ms"]}));
        let started = Instant::now();
        assert_eq!(server.query("d").await.status, 200);
        times.push(started.elapsed());
    }
    assert!(times.iter().all(|t| *t >= Duration::from_millis(10)), "{times:?}");
}

#[tokio::test]
async fn faults_in_a_scenarios_file_are_checked_with_a_pointer() {
    let text = r#"{"scenarios": {"x": {"steps": [
        {"status": "QUEUED", "polls": 1, "fault": {"status": 299}},
        {"status": "SUCCESS"}]}}}"#;
    let err = minimax_mock::lifecycle::scenarios::Catalog::from_text("s.json", text)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("/scenarios/x/steps/0/fault/status: 299 is not an error status"),
        "{err}"
    );
}

#[tokio::test]
async fn mock_server_in_process_api() {
    let server = MockServer::builder().epoch(EPOCH_MS).start().await;
    server.script("t-1", "success").unwrap();
    assert!(server
        .script("t-2", "nope")
        .unwrap_err()
        .to_string()
        .contains("unknown scenario"));
    server
        .script_steps("t-3", json!([{"status": "QUEUED", "polls": 1}, {"status": "SUCCESS"}]))
        .unwrap();
    let mut conn = Conn::open(server.address()).await;
    let target = format!("{QUERY}?task_id=t-1");
    assert_eq!(
        conn.send("GET", &target, &[], "").await.json()["data"]["status"],
        "NOT_START"
    );
    server.advance(Duration::from_secs(10));
    assert_eq!(
        conn.send("GET", &target, &[], "").await.json()["data"]["status"],
        "SUCCESS"
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].task_id().as_deref(), Some("t-1"));
    assert_eq!(server.task("t-1").unwrap()["polls"], 2);
    server.reset();
    assert!(server.task("t-1").is_none());
    assert!(server.uri().starts_with("http://127.0.0.1:"));

    let addr = server.address();
    drop(conn);
    drop(server);
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "dropping stops the server"
    );
}

#[test]
fn mock_server_works_without_an_async_runtime() {
    let server = MockServer::start_blocking();
    server.script("sync", "instant").unwrap();
    let url = format!("{}{QUERY}?task_id=sync", server.uri());
    let body: Value = ureq::get(&url).call().unwrap().body_mut().read_json().unwrap();
    assert_eq!(body["data"]["status"], "SUCCESS");
}

/// serde reads a struct from an array too, by position: a control body must
/// be an object (Schemathesis found `[...]` accepted).
#[tokio::test]
async fn control_bodies_are_json_objects() {
    let server = start(config()).await;
    for (method, target, body) in [
        ("PUT", "/__mock/tasks/x", "[null, null, null, null, null, null]"),
        ("POST", "/__mock/clock", r#"["1s", false, false]"#),
        ("PUT", "/__mock/next", r#"["fail", null, 2]"#),
        ("PUT", "/__mock/tasks/x", "7"),
        // Found by Schemathesis: blanks alone were taken as an empty body.
        ("PUT", "/__mock/tasks/x", "\r"),
        ("POST", "/__mock/clock", " \n"),
    ] {
        let r = server.send(method, target, &[], body).await;
        assert_eq!(r.status, 400, "{method} {target} {body}: {}", r.body);
        assert_eq!(r.json()["message"], "/: the body must be a JSON object");
    }
    assert_eq!(server.get("/__mock/tasks/x").await.status, 404);
    assert_eq!(server.get("/__mock/clock").await.json()["now"], EPOCH_MS);
    assert_eq!(server.send("PUT", "/__mock/tasks/x", &[], "").await.status, 200);
}

/// A preflight's `Allow` names the methods of that control path, not of
/// the whole control API.
#[tokio::test]
async fn preflights_name_each_control_paths_own_methods() {
    // The page asking is on an origin the control API lets in.
    let server = start(Config {
        control_origins: vec!["http://localhost:3000".to_owned()],
        ..config()
    })
    .await;
    for (path, allow) in [
        ("/__mock/health", "GET, OPTIONS"),
        ("/__mock/tasks", "GET, OPTIONS"),
        ("/__mock/tasks/job-1", "GET, PUT, DELETE, OPTIONS"),
        ("/__mock/scenarios", "GET, OPTIONS"),
        ("/__mock/clock", "GET, POST, OPTIONS"),
        ("/__mock/requests", "GET, DELETE, OPTIONS"),
        ("/__mock/callbacks", "GET, DELETE, OPTIONS"),
        ("/__mock/reset", "POST, OPTIONS"),
        ("/__mock/next", "GET, PUT, DELETE, OPTIONS"),
        ("/__mock/metrics", "GET, OPTIONS"),
    ] {
        let r = server
            .send(
                "OPTIONS",
                path,
                &[
                    ("Origin", "http://localhost:3000"),
                    ("Access-Control-Request-Method", "GET"),
                ],
                "",
            )
            .await;
        assert_eq!(r.status, 204, "{path}");
        assert_eq!(r.header("allow"), Some(allow), "{path}");
        assert_eq!(r.header("access-control-allow-methods"), Some(allow), "{path}");
    }
}

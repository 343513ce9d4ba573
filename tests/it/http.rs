//! The HTTP surface: the gateway's errors and status codes, CORS, limits,
//! keep-alive, and the documented example byte for byte.

use crate::common::{config, start, Conn};
use minimax_mock::lifecycle::scenarios::Catalog;
use minimax_mock::server::Config;

const TASK_NOT_EXIST: &str = r#"{"code":"task_not_exist","message":"task_not_exist","data":null}"#;
const QUERY: &str = "/minimax/v1/query/video_generation";
const SUBMIT: &str = "/minimax/v1/video_generation";

#[tokio::test]
async fn documented_task_id_returns_the_documented_example_exactly() {
    let server = start(config()).await;
    let r = server.query("306792606023824").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json; charset=utf-8"));
    let documented = include_str!("../../fixtures/query_video_generation.response/documented-success.json");
    assert_eq!(r.body, documented);
    assert_eq!(r.body.matches("\r\n").count(), 33);
}

#[tokio::test]
async fn missing_empty_or_unknown_task_id_is_task_not_exist() {
    let server = start(config()).await;
    for target in [
        QUERY.to_owned(),
        format!("{QUERY}?task_id="),
        format!("{QUERY}?task_id=nope"),
        format!("{QUERY}?other=1"),
    ] {
        let r = server.get(&target).await;
        assert_eq!((r.status, r.body.as_str()), (400, TASK_NOT_EXIST), "{target}");
        assert!(server.app.contract.error().is_valid(&r.json()));
    }
}

#[tokio::test]
async fn unknown_path_is_404_and_wrong_method_405_with_allow() {
    let server = start(config()).await;
    let r = server.get("/v1/nothing").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["code"], "not_found");
    assert!(server.app.contract.error().is_valid(&r.json()));

    let r = server.send("DELETE", QUERY, &[], "").await;
    assert_eq!((r.status, r.header("allow")), (405, Some("GET, HEAD, OPTIONS")));
    assert!(server.app.contract.error().is_valid(&r.json()));
    let r = server.get(SUBMIT).await;
    assert_eq!((r.status, r.header("allow")), (405, Some("POST, OPTIONS")));
    insta::assert_snapshot!(r.body, @r#"{"code":"method_not_allowed","message":"method GET is not allowed on /minimax/v1/video_generation; allowed: POST, OPTIONS","data":null}"#);
}

#[tokio::test]
async fn cors_headers_and_preflight() {
    let server = start(config()).await;
    let r = server.query("306792606023824").await;
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    let r = server
        .send(
            "OPTIONS",
            SUBMIT,
            &[
                ("Origin", "http://localhost:5173"),
                ("Access-Control-Request-Method", "POST"),
                ("Access-Control-Request-Headers", "authorization, content-type, prefer"),
            ],
            "",
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(r.header("access-control-allow-methods"), Some("POST, OPTIONS"));
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("authorization, content-type, prefer")
    );
    assert_eq!(r.header("access-control-max-age"), Some("86400"));
}

#[tokio::test]
async fn keep_alive_serves_many_requests_on_one_connection() {
    let server = start(config()).await;
    let id = server.submit("success-polls").await;
    let mut conn = Conn::open(server.addr).await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let r = conn.send("GET", &format!("{QUERY}?task_id={id}"), &[], "").await;
        statuses.push(r.json()["data"]["status"].as_str().unwrap().to_owned());
    }
    assert_eq!(statuses, ["NOT_START", "SUBMITTED", "QUEUED", "IN_PROGRESS", "SUCCESS"]);
}

/// Every answer waits for the request's body: a client still sending one
/// (Node's fetch posting a multipart body to a path the mock does not
/// serve) gets the 404 on a connection that stays open, not a reset. The
/// same holds for a 405 and a preflight.
#[tokio::test]
async fn answers_without_a_route_read_the_body_first_and_keep_the_connection() {
    let server = start(config()).await;
    let mut conn = Conn::open(server.addr).await;
    let body = "x".repeat(256 * 1024);
    let headers = [("Content-Type", "multipart/form-data; boundary=x")];
    let r = conn.send("POST", "/v1/nowhere", &headers, &body).await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(r.header("connection"), None, "the connection stays open");
    let r = conn
        .send("POST", "/minimax/v1/query/video_generation", &headers, &body)
        .await;
    assert_eq!(r.status, 405);
    let r = conn.send("OPTIONS", "/v1/videos", &[], &body).await;
    assert_eq!(r.status, 204);
    let r = conn.send("POST", "/__mock/tasks", &headers, &body).await;
    assert_eq!(r.status, 405);
    // A submit refused for its Prefer header reads its body first too, on every API.
    for path in [
        "/minimax/v1/video_generation",
        "/v1/video_generation",
        "/v2/video_generation",
        "/v1/videos",
    ] {
        let refused = [
            ("Content-Type", "multipart/form-data; boundary=x"),
            ("Prefer", "scenario=nope"),
        ];
        let r = conn.send("POST", path, &refused, &body).await;
        assert!(r.body.contains("unknown scenario"), "{path}: {}", r.body);
    }
    let second = conn
        .send(
            "GET",
            "/minimax/v1/query/video_generation?task_id=306792606023824",
            &[],
            "",
        )
        .await;
    assert_eq!(second.status, 200, "a second answer on the same connection");
}

#[tokio::test]
async fn head_has_no_body() {
    let server = start(config()).await;
    let r = server
        .send("HEAD", &format!("{QUERY}?task_id=306792606023824"), &[], "")
        .await;
    assert_eq!((r.status, r.body.as_str()), (200, ""));
}

#[tokio::test]
async fn submit_refuses_bad_bodies_with_2013_naming_the_field() {
    let server = start(config()).await;
    let cases = [
        (r#"{"model":"MiniMax-Hailuo-02"}"#, "prompt"),
        (r#"{"model":"MiniMax-Hailuo-02","prompt":"x","duration":7}"#, "duration"),
        (r#"{"model":"T2V-01","prompt":"x","resolution":"768P"}"#, "resolution"),
        (
            r#"{"model":"MiniMax-Hailuo-02","prompt":"x","duration":10,"resolution":"1080P"}"#,
            "resolution",
        ),
        (r#"{"model":"Sora","prompt":"x"}"#, "model"),
        (r#"{"model":"I2V-01","prompt":"x"}"#, "first_frame_image"),
        (
            r#"{"model":"MiniMax-Hailuo-02","prompt":"x","prompt_optimizer":"yes"}"#,
            "prompt_optimizer",
        ),
        (r#"{"model":"#, "not JSON"),
        ("", "not JSON"),
        ("[]", "body"),
    ];
    let mut messages = Vec::new();
    for (body, field) in cases {
        let r = server.send("POST", SUBMIT, &[], body).await;
        assert_eq!(r.status, 400, "{body}");
        let json = r.json();
        assert!(server.app.contract.submit_response().is_valid(&json), "{json}");
        assert_eq!(json["task_id"], "");
        assert_eq!(json["base_resp"]["status_code"], 2013);
        let message = json["base_resp"]["status_msg"].as_str().unwrap().to_owned();
        assert!(message.contains(field), "{body}: {message}");
        messages.push(format!("{body}\n  -> {message}"));
    }
    insta::assert_snapshot!(messages.join("\n"));
    assert!(
        server.app.store.tasks().is_empty(),
        "a refused submission creates no task"
    );
}

#[tokio::test]
async fn submit_accepts_every_documented_model_combination() {
    let server = start(config()).await;
    let ok = [
        r#"{"model":"MiniMax-Hailuo-2.3","prompt":"x","duration":10,"resolution":"768P"}"#,
        r#"{"model":"MiniMax-Hailuo-2.3-Fast","first_frame_image":"https://example.com/a.png","duration":6,"resolution":"1080P"}"#,
        r#"{"model":"MiniMax-Hailuo-02","first_frame_image":"https://example.com/a.png","duration":6,"resolution":"512P"}"#,
        r#"{"model":"T2V-01-Director","prompt":"x","duration":6,"resolution":"720P"}"#,
        r#"{"model":"T2V-01","prompt":"x"}"#,
        r#"{"model":"I2V-01-live","first_frame_image":"https://example.com/a.png","resolution":"1080P"}"#,
        r#"{"model":"S2V-01","prompt":"x","subject_reference":[{"type":"character","image":["https://example.com/a.png"]}]}"#,
    ];
    for body in ok {
        let r = server
            .send("POST", SUBMIT, &[("Authorization", "Bearer k")], body)
            .await;
        assert_eq!(r.status, 200, "{body}: {}", r.body);
        assert!(server.app.contract.submit_response().is_valid(&r.json()));
        assert_eq!(
            r.json()["base_resp"],
            serde_json::json!({"status_code": 0, "status_msg": "success"})
        );
    }
    assert_eq!(server.app.store.tasks().len(), ok.len());
}

#[tokio::test]
async fn resolution_sets_the_video_size() {
    let server = start(config()).await;
    let r = server
        .send(
            "POST",
            SUBMIT,
            &[("Prefer", "scenario=instant")],
            r#"{"model":"MiniMax-Hailuo-02","prompt":"x","resolution":"1080P"}"#,
        )
        .await;
    let id = r.json()["task_id"].as_str().unwrap().to_owned();
    let data = server.query(&id).await.json();
    assert_eq!(data["data"]["data"]["video_width"], 1920);
    assert_eq!(data["data"]["data"]["video_height"], 1080);
}

#[tokio::test]
async fn unknown_prefer_scenario_is_refused() {
    let server = start(config()).await;
    let r = server
        .send(
            "POST",
            SUBMIT,
            &[("Prefer", "scenario=nope")],
            r#"{"model":"T2V-01","prompt":"x"}"#,
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "invalid_request");
    assert!(r.json()["message"]
        .as_str()
        .unwrap()
        .contains("known: fail, fail-polls"));
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let server = start(Config {
        max_body: 64,
        ..config()
    })
    .await;
    let big = format!(r#"{{"model":"T2V-01","prompt":"{}"}}"#, "x".repeat(100));
    let r = server.send("POST", SUBMIT, &[], &big).await;
    assert_eq!(r.status, 413);
    assert_eq!(r.json()["code"], "request_too_large");
    // Chunked, so the limit is found while reading rather than from Content-Length.
    let mut conn = Conn::open(server.addr).await;
    let chunked = format!(
        "POST {SUBMIT} HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{big}\r\n0\r\n\r\n",
        big.len()
    );
    conn.write_raw(chunked.as_bytes()).await;
    assert_eq!(conn.read_response(false).await.status, 413);
}

#[tokio::test]
async fn rules_give_unknown_task_ids_a_scenario_from_their_first_query() {
    let catalog = Catalog::from_text(
        "rules.json",
        r#"{"rules": [{"task_id": "ci-fail-*", "scenario": "fail-polls"}]}"#,
    )
    .unwrap();
    let server = start(Config { catalog, ..config() }).await;
    let mut seen = Vec::new();
    for _ in 0..5 {
        seen.push(
            server.query("ci-fail-1").await.json()["data"]["status"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(seen, ["NOT_START", "SUBMITTED", "QUEUED", "IN_PROGRESS", "FAILURE"]);
    assert_eq!(server.query("ci-other").await.status, 400);
}

#[tokio::test]
async fn garbage_on_the_wire_never_kills_the_server() {
    let server = start(config()).await;
    let mut conn = Conn::open(server.addr).await;
    conn.write_raw(b"NOT HTTP AT ALL\r\n\r\n").await;
    // hyper answers 400 and closes; the server keeps serving others.
    assert_eq!(conn.read_response(false).await.status, 400);
    assert_eq!(server.query("306792606023824").await.status, 200);
}

#[tokio::test]
async fn shutdown_finishes_and_stops_listening() {
    let server = start(config()).await;
    let addr = server.addr;
    let mut conn = Conn::open(addr).await;
    assert_eq!(
        conn.send("GET", &format!("{QUERY}?task_id=306792606023824"), &[], "")
            .await
            .status,
        200
    );
    server.stop().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn download_links_serve_the_video_with_ranges_until_they_expire() {
    let server = start(config()).await;
    let id = server.submit("instant").await;
    let file = server.query(&id).await.json()["data"]["data"]["file"].clone();
    let url = file["download_url"].as_str().unwrap();
    let base = format!("http://{}", server.addr);
    assert!(url.starts_with(&base), "{url}");
    let target = &url[base.len()..];
    let whole = server.get(target).await;
    assert_eq!(whole.status, 200);
    assert_eq!(whole.header("content-type"), Some("video/mp4"));
    assert_eq!(whole.header("accept-ranges"), Some("bytes"));
    let video = server.app.video.clip(1366, 768);
    let len = video.len();
    assert_eq!(whole.raw, video.as_ref());

    let part = server.send("GET", target, &[("Range", "bytes=4-7")], "").await;
    assert_eq!((part.status, part.body.as_str()), (206, "ftyp"));
    assert_eq!(part.header("content-range"), Some(format!("bytes 4-7/{len}").as_str()));
    assert!(part
        .header("access-control-expose-headers")
        .unwrap()
        .contains("content-range"));
    let backup = file["backup_download_url"].as_str().unwrap();
    assert_eq!(
        server
            .send("GET", &backup[base.len()..], &[("Range", "bytes=4-7")], "")
            .await
            .status,
        206
    );
    let outside = server
        .send("GET", target, &[("Range", &format!("bytes={len}-"))], "")
        .await;
    assert_eq!(outside.status, 416);

    // Links live about 9 hours, as MiniMax's do.
    server
        .app
        .store
        .clock()
        .advance(std::time::Duration::from_secs(10 * 3600));
    let expired = server.get(target).await;
    assert_eq!(expired.status, 403);
    assert!(expired.body.contains("<Code>AccessDenied</Code>"), "{}", expired.body);
    // An expiry that is not a time is refused, not taken as none.
    let path = target.split_once('?').unwrap().0;
    for expires in ["null", "1.5", "-1"] {
        let bad = server.get(&format!("{path}?Expires={expires}")).await;
        assert_eq!(bad.status, 400, "Expires={expires}");
        assert!(bad.body.contains("<Code>InvalidArgument</Code>"), "{}", bad.body);
    }
}

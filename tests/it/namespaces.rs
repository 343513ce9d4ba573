//! Namespaces: `/ns/{name}/...` is a mock of its own on the same instance
//! (tasks, clock, task-id sequence, next-submits, journal, callbacks,
//! reset), made on first request, bounded by `--max-namespaces`; the
//! unprefixed paths are the default namespace, as before.

use std::time::Duration;

use crate::common::{config, start, TestServer, EPOCH_MS};
use crate::dialects::{receiver, Receiver};
use minimax_mock::server::Config;
use serde_json::{json, Value};

const SUBMIT: &str = "/minimax/v1/video_generation";
const BODY: &str = r#"{"model":"MiniMax-Hailuo-02","prompt":"A cat plays piano","duration":6,"resolution":"768P"}"#;

/// Submits through the gateway under `prefix` ("" or "/ns/NAME"); the task id.
async fn submit(server: &TestServer, prefix: &str, scenario: &str) -> String {
    let prefer = format!("scenario={scenario}");
    let r = server
        .send("POST", &format!("{prefix}{SUBMIT}"), &[("Prefer", &prefer)], BODY)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["task_id"].as_str().unwrap().to_owned()
}

async fn query(server: &TestServer, prefix: &str, task: &str) -> Value {
    server
        .get(&format!("{prefix}/minimax/v1/query/video_generation?task_id={task}"))
        .await
        .json()
}

async fn status(server: &TestServer, prefix: &str, task: &str) -> Value {
    query(server, prefix, task).await["data"]["status"].clone()
}

#[tokio::test]
async fn two_namespaces_have_their_own_tasks_clocks_ids_and_resets() {
    let server = start(config()).await;
    let (a, b) = ("/ns/run-a", "/ns/run-b");

    // The id sequence starts over in each namespace: a test gets the same
    // ids alone or beside others.
    let first = submit(&server, "", "fail").await;
    let in_a = submit(&server, a, "fail").await;
    let in_b = submit(&server, b, "fail").await;
    assert_eq!(in_a, first);
    assert_eq!(in_b, first);
    let second_in_a = submit(&server, a, "fail").await;
    assert_ne!(second_in_a, first);
    // A task of one namespace is unknown in the others.
    assert_eq!(query(&server, b, &second_in_a).await["code"], "task_not_exist");
    assert_eq!(query(&server, "", &second_in_a).await["code"], "task_not_exist");

    // Moving a's clock moves a's tasks only.
    let r = server
        .send("POST", &format!("{a}/__mock/clock"), &[], r#"{"advance": "30s"}"#)
        .await;
    assert_eq!(r.json()["now"], EPOCH_MS + 30_000);
    assert_eq!(status(&server, a, &in_a).await, "FAILURE");
    assert_eq!(status(&server, b, &in_b).await, "NOT_START");
    assert_eq!(status(&server, "", &first).await, "NOT_START");
    assert_eq!(server.get("/__mock/clock").await.json()["now"], EPOCH_MS);
    assert_eq!(server.get(&format!("{b}/__mock/clock")).await.json()["now"], EPOCH_MS);

    // Next submits: set in b, used in b only.
    let r = server
        .send(
            "PUT",
            &format!("{b}/__mock/next"),
            &[],
            r#"{"scenario": "instant", "count": 1}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(server.get(&format!("{a}/__mock/next")).await.json()["count"], 0);
    let plain = server.send("POST", &format!("{a}{SUBMIT}"), &[], BODY).await.json();
    let plain = plain["task_id"].as_str().unwrap().to_owned();
    assert_ne!(status(&server, a, &plain).await, "SUCCESS");
    let instant = server.send("POST", &format!("{b}{SUBMIT}"), &[], BODY).await.json();
    let instant = instant["task_id"].as_str().unwrap().to_owned();
    assert_eq!(status(&server, b, &instant).await, "SUCCESS");

    // Each namespace lists its own tasks.
    let tasks = |prefix: &'static str| {
        let server = &server;
        async move {
            let listed = server.get(&format!("{prefix}/__mock/tasks")).await.json();
            listed["tasks"].as_array().unwrap().len()
        }
    };
    assert_eq!((tasks("").await, tasks(a).await, tasks(b).await), (1, 3, 2));

    // Reset in a: a starts over (clock, tasks, ids); b and the default are untouched.
    assert_eq!(
        server.send("POST", &format!("{a}/__mock/reset"), &[], "").await.status,
        204
    );
    assert_eq!((tasks("").await, tasks(a).await, tasks(b).await), (1, 0, 2));
    assert_eq!(server.get(&format!("{a}/__mock/clock")).await.json()["now"], EPOCH_MS);
    assert_eq!(submit(&server, a, "fail").await, first);
    assert_eq!(status(&server, b, &in_b).await, "NOT_START");

    // Health: each namespace its own tasks; the default one counts them.
    let health = server.get(&format!("{b}/__mock/health")).await.json();
    assert_eq!(
        (health["namespace"].clone(), health["tasks"].clone()),
        (json!("run-b"), json!(2))
    );
    assert!(health.get("namespaces").is_none());
    let health = server.get("/__mock/health").await.json();
    assert_eq!(health["namespace"], Value::Null);
    assert_eq!(
        (health["tasks"].as_u64(), health["namespaces"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(health["max_namespaces"], 1000);
}

#[tokio::test]
async fn each_namespace_journals_its_own_requests_as_received() {
    let server = start(config()).await;
    let task = submit(&server, "/ns/t1", "success").await;
    query(&server, "/ns/t1", &task).await;
    query(&server, "/ns/t2", &task).await;
    query(&server, "", &task).await;

    let journal = server.get("/ns/t1/__mock/requests").await.json();
    let paths: Vec<&str> = journal["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "/ns/t1/minimax/v1/video_generation",
            "/ns/t1/minimax/v1/query/video_generation"
        ]
    );
    assert_eq!(journal["requests"][1]["query"], format!("task_id={task}"));
    assert_eq!(journal["requests"][1]["task_id"], task.as_str());
    // A filter finds the path with or without the prefix.
    for path in [
        "/minimax/v1/query/video_generation",
        "/ns/t1/minimax/v1/query/video_generation",
    ] {
        let found = server.get(&format!("/ns/t1/__mock/requests?path={path}")).await.json();
        assert_eq!(found["requests"].as_array().unwrap().len(), 1, "{path}");
    }
    let default = server.get("/__mock/requests").await.json();
    assert_eq!(default["requests"].as_array().unwrap().len(), 1);
    assert_eq!(default["requests"][0]["path"], "/minimax/v1/query/video_generation");
    // Clearing one journal leaves the others.
    assert_eq!(
        server.send("DELETE", "/ns/t2/__mock/requests", &[], "").await.status,
        204
    );
    assert_eq!(server.mock.namespace("t1").requests().len(), 2);
    assert_eq!(server.mock.requests().len(), 1);
}

#[tokio::test]
async fn download_links_and_files_retrieve_carry_the_prefix() {
    let server = start(config()).await;
    let task = submit(&server, "/ns/t1", "instant").await;
    let shown = query(&server, "/ns/t1", &task).await;
    let file = &shown["data"]["data"]["file"];
    let base = format!("{}/ns/t1/", server.mock.uri());
    for key in ["download_url", "backup_download_url"] {
        let link = file[key].as_str().unwrap();
        assert!(link.starts_with(&base), "{key}: {link}");
        let r = server.get(&link[server.mock.uri().len()..]).await;
        assert_eq!(r.status, 200, "{link}");
        assert_eq!(r.header("content-type"), Some("video/mp4"));
    }
    let file_id = file["file_id"].as_u64().unwrap().to_string();
    for retrieve in ["/v1/files/retrieve", "/minimax/v1/files/retrieve"] {
        let r = server.get(&format!("/ns/t1{retrieve}?file_id={file_id}")).await.json();
        let url = r["file"]["download_url"].as_str().unwrap();
        assert!(url.starts_with(&base), "{retrieve}: {url}");
        // Another namespace has no such file.
        let elsewhere = server.get(&format!("/ns/t2{retrieve}?file_id={file_id}")).await.json();
        assert_eq!(elsewhere["base_resp"]["status_code"], 2013, "{retrieve}");
    }
    // v2 links too.
    let v2 = server
        .send(
            "POST",
            "/ns/t1/v2/video_generation",
            &[("Prefer", "scenario=instant")],
            r#"{"model": "MiniMax-H3", "content": [{"type": "text", "text": "x"}], "ratio": "16:9", "resolution": "768P", "duration": 5}"#,
        )
        .await
        .json();
    let v2 = v2["task_id"].as_str().unwrap();
    let shown = server.get(&format!("/ns/t1/v2/query/video_generation/{v2}")).await;
    assert!(shown.body.contains(&base), "{}", shown.body);
    assert!(!shown.body.contains(&format!("{}/inference_output", server.mock.uri())));
}

#[tokio::test]
async fn the_control_api_and_the_dashboard_answer_under_the_prefix() {
    let server = start(config()).await;
    let r = server
        .send("PUT", "/ns/t1/__mock/tasks/job", &[], r#"{"scenario": "fail"}"#)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(server.get("/ns/t1/__mock/tasks/job").await.status, 200);
    assert_eq!(server.get("/__mock/tasks/job").await.status, 404);
    assert_eq!(server.get("/ns/t2/__mock/tasks/job").await.status, 404);
    assert_eq!(status(&server, "/ns/t1", "job").await, "NOT_START");
    assert_eq!(
        server.send("DELETE", "/ns/t1/__mock/tasks/job", &[], "").await.status,
        204
    );

    // The page, and the redirect to it, stay in the namespace.
    let page = server.get("/ns/t1/__mock/").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("namespace"), "the page has a namespace picker");
    let bare = server.get("/ns/t1/__mock?token=x").await;
    assert_eq!(bare.status, 308);
    assert_eq!(bare.header("location"), Some("/ns/t1/__mock/?token=x"));
    // The OpenAPI document names the namespace's URL.
    let doc = server.get("/ns/t1/openapi.json").await.json();
    assert_eq!(doc["servers"][0]["url"], format!("{}/ns/t1", server.mock.uri()));

    // The namespaces are listed and forgotten outside them.
    // (t2 exists too: any request makes its namespace.)
    let listed = server.get("/__mock/namespaces").await.json();
    assert_eq!(listed["namespaces"].as_array().unwrap().len(), 2);
    assert_eq!(listed["namespaces"][0]["name"], "t1");
    assert_eq!(listed["namespaces"][0]["tasks"], 0);
    assert_eq!(listed["namespaces"][0]["now"], EPOCH_MS);
    let inside = server.get("/ns/t1/__mock/namespaces").await;
    assert_eq!(inside.status, 404);
    assert!(inside.json()["message"]
        .as_str()
        .unwrap()
        .contains("/__mock/namespaces"));
    assert_eq!(
        server.send("DELETE", "/__mock/namespaces/t1", &[], "").await.status,
        204
    );
    assert_eq!(
        server.send("DELETE", "/__mock/namespaces/t1", &[], "").await.status,
        404
    );
    assert_eq!(server.get("/__mock/health").await.json()["namespaces"], 1);
    // A preflight under a prefix names the control route's methods.
    let r = server.send("OPTIONS", "/ns/t1/__mock/namespaces/x", &[], "").await;
    assert_eq!(r.header("allow"), Some("DELETE, OPTIONS"));
}

#[tokio::test]
async fn a_name_that_is_not_one_is_400_in_the_gateway_envelope() {
    let server = start(config()).await;
    for target in [
        "/ns/",
        "/ns//minimax/v1/query/video_generation",
        "/ns/a%20b/minimax/v1/query/video_generation",
        "/ns/../__mock/health",
        &format!("/ns/{}/__mock/health", "x".repeat(65)),
    ] {
        let r = server.get(target).await;
        assert_eq!(r.status, 400, "{target}");
        let body = r.json();
        assert_eq!(body["code"], "invalid_namespace", "{target}");
        assert!(server.app.contract.error().is_valid(&body), "{body}");
    }
    // The name alone, or an unknown path in a namespace: 404 as without one.
    assert_eq!(server.get("/ns/t1").await.status, 404);
    assert_eq!(server.get("/ns/t1/nope").await.json()["code"], "not_found");
    // /ns without a slash, /nsx: ordinary unknown paths.
    assert_eq!(server.get("/ns").await.status, 404);
    assert_eq!(server.get("/__mock/health").await.json()["namespaces"], 1);
}

#[tokio::test]
async fn namespaces_off_answer_404() {
    let server = start(Config {
        max_namespaces: 0,
        ..config()
    })
    .await;
    let r = server.get("/ns/t1/__mock/health").await;
    assert_eq!(r.status, 404);
    assert!(r.json()["message"].as_str().unwrap().contains("--max-namespaces 0"));
    assert_eq!(server.get("/__mock/health").await.json()["max_namespaces"], 0);
}

#[tokio::test]
async fn past_max_namespaces_the_one_idle_longest_is_forgotten_with_its_tasks() {
    let server = start(Config {
        max_namespaces: 2,
        ..config()
    })
    .await;
    let a = submit(&server, "/ns/a", "success").await;
    let b = submit(&server, "/ns/b", "success").await;
    // a is used again: b is now the one idle longest.
    query(&server, "/ns/a", &a).await;
    submit(&server, "/ns/c", "success").await;
    let listed = server.get("/__mock/namespaces").await.json();
    let names: Vec<&str> = listed["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a", "c"]);
    assert_eq!(listed["forgotten"], 1);
    // b comes back new and empty.
    assert_eq!(query(&server, "/ns/b", &b).await["code"], "task_not_exist");
    assert_eq!(server.get("/__mock/health").await.json()["namespaces_forgotten"], 2);
    // The default namespace is never forgotten.
    let mine = submit(&server, "", "success").await;
    for name in ["d", "e", "f"] {
        submit(&server, &format!("/ns/{name}"), "success").await;
    }
    assert_eq!(status(&server, "", &mine).await, "NOT_START");
}

#[tokio::test]
async fn callbacks_are_sent_and_recorded_in_the_namespace() {
    let hook = receiver(Receiver::Echo).await;
    let server = start(config()).await;
    let body = json!({"model": "MiniMax-Hailuo-02", "prompt": "A cat", "callback_url": hook.url}).to_string();
    let r = server
        .send(
            "POST",
            "/ns/t1/v1/video_generation",
            &[("Prefer", "scenario=fail")],
            &body,
        )
        .await;
    let task = r.json()["task_id"].as_str().unwrap().to_owned();
    let t1 = server.mock.namespace("t1");
    // The default namespace's clock does not drive t1's callbacks.
    server.mock.advance(Duration::from_secs(60));
    assert!(t1.next_callback(&task, 0, Duration::from_millis(300)).await.is_some());
    assert!(t1.next_callback(&task, 1, Duration::from_millis(300)).await.is_none());
    t1.advance(Duration::from_secs(60));
    // Preparing (sent at submit), Queueing, Processing, Fail.
    let last = t1.next_callback(&task, 3, Duration::from_secs(5)).await.unwrap();
    assert_eq!(last.status.as_deref(), Some("Fail"));
    let recorded = server.get("/ns/t1/__mock/callbacks").await.json();
    assert!(recorded["callbacks"].as_array().unwrap().len() >= 3);
    assert_eq!(server.get("/__mock/callbacks").await.json()["callbacks"], json!([]));
    // The outgoing callbacks are in t1's journal.
    let outgoing = t1.requests().into_iter().filter(|e| e.outgoing).count();
    assert!(outgoing >= 3, "{outgoing}");
    assert!(server.mock.requests().is_empty());
}

#[tokio::test]
async fn the_in_process_handle_is_a_namespace_of_its_own() {
    let server = start(config()).await;
    let t1 = server.mock.namespace("t1");
    assert_eq!(t1.uri(), format!("{}/ns/t1", server.mock.uri()));
    assert_eq!(t1.name(), Some("t1"));
    t1.script("job", "fail").unwrap();
    t1.next_submits("instant", 1).unwrap();
    assert!(server.mock.task("job").is_none());
    assert_eq!(t1.task("job").unwrap()["current"]["status"], "NOT_START");
    t1.advance(Duration::from_secs(60));
    assert_eq!(status(&server, "/ns/t1", "job").await, "FAILURE");
    assert_eq!(t1.requests().len(), 1);
    let submitted = server.send("POST", &format!("/ns/t1{SUBMIT}"), &[], BODY).await.json();
    let submitted = submitted["task_id"].as_str().unwrap();
    assert_eq!(t1.task(submitted).unwrap()["scenario"], "instant");
    // The default namespace's next submit is its own.
    let plain = submit(&server, "", "fail").await;
    assert_eq!(server.mock.task(&plain).unwrap()["scenario"], "fail");
    t1.reset();
    assert!(t1.task("job").is_none() && t1.requests().is_empty());
    assert!(server.mock.task(&plain).is_some());
}

#[tokio::test]
async fn a_namespace_s_control_api_is_behind_the_same_guard() {
    let server = start(Config {
        control_token: Some("s3cret-token".to_owned()),
        ..config()
    })
    .await;
    assert_eq!(server.get("/ns/t1/__mock/health").await.status, 401);
    let r = server
        .send(
            "GET",
            "/ns/t1/__mock/health",
            &[("Authorization", "Bearer s3cret-token")],
            "",
        )
        .await;
    assert_eq!(r.status, 200);
    let r = server
        .send("GET", "/ns/t1/__mock/health", &[("Origin", "http://evil.example")], "")
        .await;
    assert_eq!(r.status, 403);
    // The API under the prefix stays open, as without one.
    assert_eq!(status(&server, "/ns/t1", "nope").await, Value::Null);
    assert_eq!(query(&server, "/ns/t1", "nope").await["code"], "task_not_exist");
}

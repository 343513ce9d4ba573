//! Every built-in scenario, step by step, over HTTP: each body validates
//! against the shipped schema, its wire bytes are pinned by a snapshot, and
//! the per-step fixtures in `fixtures/` are exactly what the server says.
//! Time is moved on through the mock's own clock, never slept.

use std::path::PathBuf;
use std::time::Duration;

use crate::common::{config, start, TestServer};
use minimax_mock::lifecycle::Span;
use minimax_mock::server::Config;

fn deterministic() -> Config {
    Config {
        public_url: Some("http://127.0.0.1:8080".to_owned()),
        ..config()
    }
}

/// Queries `task_id` once at the start of every step; (status line, body) per step.
async fn walk(server: &TestServer, scenario: &str, task_id: &str) -> Vec<(String, String)> {
    let steps = server.app.catalog.get(scenario).unwrap().steps().to_vec();
    let mut seen = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let response = server.query(task_id).await;
        assert_eq!(response.status, 200);
        let json = response.json();
        assert_eq!(json["data"]["status"], step.status.as_str(), "{scenario} step {i}");
        let violations = server.app.contract.query_response().violations(&json);
        assert!(violations.is_empty(), "{scenario} step {i}: {violations:?}");
        seen.push((
            format!("step {i}: {} HTTP {}", step.status, response.status),
            response.body,
        ));
        if let Span::For(d) = step.span {
            server.app.store.clock().advance(d);
        }
    }
    seen
}

fn fixture_path(scenario: &str, step: usize, status: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/query_video_generation.response")
        .join(scenario)
        .join(format!("{step}-{}.json", status.to_ascii_lowercase()))
}

#[tokio::test]
async fn every_builtin_scenario_at_every_step() {
    // Scenarios with faults break the contract on purpose: tests/control.rs.
    let names: Vec<String> = minimax_mock::lifecycle::scenarios::builtin()
        .iter()
        // Callback faults change no answer: rough-delivery answers as
        // success does (lifecycle::scenarios' tests check it).
        .filter(|s| {
            s.steps()
                .iter()
                .all(|step| step.fault.is_none() && step.callback.is_none())
        })
        .map(|s| s.name().to_owned())
        .collect();
    let update = std::env::var_os("UPDATE_FIXTURES").is_some();
    for name in names {
        let server = start(deterministic()).await;
        let task_id = server.submit(&name).await;
        let steps = walk(&server, &name, &task_id).await;
        let wire: String = steps.iter().map(|(head, body)| format!("{head}\n{body}\n")).collect();
        insta::assert_snapshot!(format!("lifecycle_{name}"), wire);
        for (i, (_, body)) in steps.iter().enumerate() {
            let status = serde_json::from_str::<serde_json::Value>(body).unwrap()["data"]["status"]
                .as_str()
                .unwrap()
                .to_owned();
            check_fixture(&fixture_path(&name, i, &status), body, update);
        }
        server.stop().await;
    }
}

/// The API a walk submits and polls through.
#[derive(Clone, Copy)]
enum Api {
    Native,
    V2,
    /// new-api's OpenAI-compatible video API (`/v1/videos`).
    OpenAi,
}

impl Api {
    fn name(self) -> &'static str {
        match self {
            Api::Native => "native",
            Api::V2 => "v2",
            Api::OpenAi => "openai",
        }
    }

    fn schema(self) -> &'static str {
        match self {
            Api::Native => minimax_mock::contract::NATIVE_QUERY_RESPONSE,
            Api::V2 => minimax_mock::contract::V2_QUERY_RESPONSE,
            Api::OpenAi => minimax_mock::contract::OPENAI_VIDEO_RESPONSE,
        }
    }

    async fn submit(self, server: &TestServer, scenario: &str) -> String {
        let (path, body) = match self {
            Api::Native => (
                "/v1/video_generation",
                r#"{"model":"MiniMax-Hailuo-02","prompt":"A cat plays piano","duration":6,"resolution":"1080P"}"#,
            ),
            Api::V2 => (
                "/v2/video_generation",
                r#"{"model":"MiniMax-H3","content":[{"type":"text","text":"A cat plays piano"}],"ratio":"9:16","resolution":"768P","duration":6}"#,
            ),
            Api::OpenAi => (
                "/v1/videos",
                r#"{"model":"MiniMax-Hailuo-02","prompt":"A cat plays piano","seconds":"6","size":"1920x1080"}"#,
            ),
        };
        let prefer = format!("scenario={scenario}");
        let r = server
            .send(
                "POST",
                path,
                &[("Prefer", &prefer), ("Content-Type", "application/json")],
                body,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["task_id"].as_str().unwrap().to_owned()
    }

    fn query_path(self, task_id: &str) -> String {
        match self {
            Api::Native => format!("/v1/query/video_generation?task_id={task_id}"),
            Api::V2 => format!("/v2/query/video_generation/{task_id}"),
            Api::OpenAi => format!("/v1/videos/{task_id}"),
        }
    }

    /// The status word of a body, for its fixture's name.
    fn status(self, body: &serde_json::Value) -> String {
        let status = match self {
            Api::Native | Api::OpenAi => &body["status"],
            Api::V2 => &body["task"]["status"],
        };
        status.as_str().unwrap().to_ascii_lowercase()
    }
}

/// MiniMax's own APIs and new-api's OpenAI-compatible one, every built-in
/// scenario step by step, as the gateway walk above: each body validates,
/// is pinned by a snapshot, and is the per-step fixture in
/// `fixtures/<schema>/<scenario>/`.
#[tokio::test]
async fn every_builtin_scenario_at_every_step_natively_in_v2_and_openai() {
    let names: Vec<String> = minimax_mock::lifecycle::scenarios::builtin()
        .iter()
        // Callback faults change no answer: rough-delivery answers as
        // success does (lifecycle::scenarios' tests check it).
        .filter(|s| {
            s.steps()
                .iter()
                .all(|step| step.fault.is_none() && step.callback.is_none())
        })
        .map(|s| s.name().to_owned())
        .collect();
    let update = std::env::var_os("UPDATE_FIXTURES").is_some();
    for api in [Api::Native, Api::V2, Api::OpenAi] {
        for name in &names {
            let server = start(deterministic()).await;
            let task_id = api.submit(&server, name).await;
            let steps = server.app.catalog.get(name).unwrap().steps().to_vec();
            let schema = server.app.contract.schema(api.schema()).unwrap();
            let mut wire = String::new();
            for (i, step) in steps.iter().enumerate() {
                let response = server.get(&api.query_path(&task_id)).await;
                assert_eq!(response.status, 200);
                let json = response.json();
                let violations = schema.violations(&json);
                assert!(violations.is_empty(), "{} {name} step {i}: {violations:?}", api.name());
                wire.push_str(&format!(
                    "step {i}: {} HTTP {}\n{}\n",
                    step.status, response.status, response.body
                ));
                let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join("fixtures")
                    .join(api.schema())
                    .join(name)
                    .join(format!("{i}-{}.json", api.status(&json)));
                check_fixture(&path, &response.body, update);
                if let Span::For(d) = step.span {
                    server.app.store.clock().advance(d);
                }
            }
            insta::assert_snapshot!(format!("lifecycle_{}_{name}", api.name()), wire);
            server.stop().await;
        }
    }
}

#[tokio::test]
async fn progress_rises_steadily_while_processing() {
    let server = start(config()).await;
    let task_id = server.submit("success").await;
    server.app.store.clock().advance(Duration::from_secs(4));
    let mut last = 0;
    let mut seen = Vec::new();
    for _ in 0..12 {
        let json = server.query(&task_id).await.json();
        assert_eq!(json["data"]["status"], "IN_PROGRESS");
        let progress: u32 = json["data"]["progress"]
            .as_str()
            .unwrap()
            .trim_end_matches('%')
            .parse()
            .unwrap();
        assert!(progress >= last, "{progress} after {last}");
        last = progress;
        seen.push(progress);
        server.app.store.clock().advance(Duration::from_millis(500));
    }
    assert_eq!(seen.first(), Some(&30));
    assert!(seen.last().unwrap() >= &94, "{seen:?}");
    let done = server.query(&task_id).await.json();
    assert_eq!(
        (done["data"]["status"].as_str(), done["data"]["progress"].as_str()),
        (Some("SUCCESS"), Some("100%"))
    );
}

#[tokio::test]
async fn same_seed_gives_the_same_bytes() {
    let run = || async {
        let server = start(deterministic()).await;
        let id = server.submit("instant").await;
        let body = server.query(&id).await.body;
        server.stop().await;
        (id, body)
    };
    assert_eq!(run().await, run().await);
    let other = start(Config {
        seed: 7,
        ..deterministic()
    })
    .await;
    let id = other.submit("instant").await;
    assert_ne!(other.query(&id).await.body, run().await.1);
}

#[tokio::test]
async fn success_then_stays_success() {
    let server = start(config()).await;
    let task_id = server.submit("success-polls").await;
    let statuses: Vec<String> = {
        let mut v = Vec::new();
        for _ in 0..7 {
            v.push(
                server.query(&task_id).await.json()["data"]["status"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
        v
    };
    assert_eq!(
        statuses,
        [
            "NOT_START",
            "SUBMITTED",
            "QUEUED",
            "IN_PROGRESS",
            "SUCCESS",
            "SUCCESS",
            "SUCCESS"
        ]
    );
}

/// The fixture at `path` is `body`, pretty-printed (rewritten first with
/// `UPDATE_FIXTURES=1`).
fn check_fixture(path: &std::path::Path, body: &str, update: bool) {
    let pretty = reindent(body);
    if update {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, &pretty).unwrap();
    }
    let on_disk = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_FIXTURES=1)", path.display()));
    assert_eq!(
        on_disk,
        pretty,
        "{} is stale (run with UPDATE_FIXTURES=1)",
        path.display()
    );
}

/// Pretty-prints compact JSON keeping the member order of the wire.
fn reindent(compact: &str) -> String {
    let mut out = String::with_capacity(compact.len() * 2);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.push_str(&"  ".repeat(depth));
    };
    let mut chars = compact.chars().peekable();
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' if matches!(chars.peek(), Some('}' | ']')) => {
                out.push(c);
                out.push(chars.next().unwrap());
            }
            '{' | '[' => {
                out.push(c);
                depth += 1;
                newline(&mut out, depth);
            }
            '}' | ']' => {
                depth -= 1;
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            _ => out.push(c),
        }
    }
    out.push('\n');
    out
}

//! The OpenAPI document: self-contained, built from the contract's own
//! schemas and fixtures, served at /openapi.json as `minimax-mock openapi`
//! prints it, and true to the server: every answer the mock gives to the
//! requests below has its status documented and validates against the
//! schema documented for it (the control API's hand-written shapes too).
//!
//! Validity as OpenAPI 3.1 is checked by openapi-spec-validator, and the
//! server against the document by Schemathesis, in `bench/schemathesis.sh`
//! (Python tools, not part of `cargo test`).

use std::collections::BTreeSet;
use std::process::Command;

use crate::common::process::BIN;
use crate::common::{config, start, Response, TestServer};
use minimax_mock::contract::Contract;
use minimax_mock::server::app::QueryShape;
use minimax_mock::server::Config;
use serde_json::{json, Value};

async fn document(server: &TestServer) -> Value {
    let r = server.get("/openapi.json").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    r.json()
}

/// A validator for `schema` (inline, with references into the document).
fn validator(doc: &Value, schema: &Value) -> jsonschema::Validator {
    let mut root = json!({ "components": doc["components"].clone() });
    root["$defs"] = json!({ "checked": schema });
    root["$ref"] = json!("#/$defs/checked");
    jsonschema::draft202012::new(&root).unwrap_or_else(|e| panic!("{schema} does not compile: {e}"))
}

fn refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    ("value", _) => {}
                    _ => refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_document_is_openapi_3_1_self_contained_and_covers_every_surface() {
    let server = start(config()).await;
    let doc = document(&server).await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["servers"][0]["url"], server.mock.uri());

    let mut all = Vec::new();
    refs(&doc, &mut all);
    for reference in &all {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{reference} is not local"));
        assert!(doc.pointer(pointer).is_some(), "{reference} points nowhere");
    }
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
        assert!(schema.get("$id").is_none() && schema.get("$defs").is_none(), "{name}");
    }

    let mut operations = BTreeSet::new();
    let mut ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if method == "parameters" {
                continue;
            }
            operations.insert(format!("{} {path}", method.to_uppercase()));
            assert!(ids.insert(op["operationId"].as_str().unwrap().to_owned()), "{path}");
            assert!(op["responses"]["405"].is_object(), "{method} {path}");
        }
    }
    for wanted in [
        "POST /minimax/v1/video_generation",
        "GET /minimax/v1/query/video_generation",
        "GET /minimax/v1/files/retrieve",
        "POST /v1/video_generation",
        "GET /v1/query/video_generation",
        "GET /v1/files/retrieve",
        "POST /v2/video_generation",
        "GET /v2/query/video_generation/{task_id}",
        "GET /v2/query/video_generation",
        "DELETE /v2/video_generation/{task_id}",
        "POST /v2/video_regeneration",
        "POST /v1/videos",
        "GET /v1/videos/{id}",
        "GET /v1/videos/{id}/content",
        "POST /v1/video/generations",
        "GET /v1/video/generations/{id}",
        "GET /inference_output{object}",
        "GET /backup/inference_output{object}",
        "GET /openapi.json",
        "GET /__mock/",
        "GET /__mock/health",
        "GET /__mock/live",
        "GET /__mock/tasks",
        "GET /__mock/tasks/{task_id}",
        "PUT /__mock/tasks/{task_id}",
        "DELETE /__mock/tasks/{task_id}",
        "GET /__mock/scenarios",
        "GET /__mock/clock",
        "POST /__mock/clock",
        "GET /__mock/requests",
        "DELETE /__mock/requests",
        "POST /__mock/reset",
        "GET /__mock/next",
        "PUT /__mock/next",
        "DELETE /__mock/next",
        "GET /__mock/callbacks",
        "DELETE /__mock/callbacks",
        "GET /__mock/metrics",
        "GET /__mock/namespaces",
        "DELETE /__mock/namespaces/{name}",
    ] {
        assert!(operations.remove(wanted), "no {wanted}");
    }
    assert!(operations.is_empty(), "undocumented in this test: {operations:?}");
    let control = doc["paths"]["/__mock/clock"]["post"]["tags"].clone();
    assert_eq!(control, json!(["control"]));
    // Without --require-auth, nothing asks for a token.
    assert!(doc["components"].get("securitySchemes").is_none());
}

/// One source of truth: the components are the contract's schemas, and the
/// examples its fixtures, each valid against its schema through the document.
#[tokio::test]
async fn components_are_the_contracts_schemas_and_examples_its_fixtures() {
    let server = start(config()).await;
    let doc = document(&server).await;
    let contract = Contract::embedded();
    let schemas = &doc["components"]["schemas"];
    for name in contract.schema_names() {
        let source = contract.schema(name).unwrap().source();
        let embedded = &schemas[name];
        assert_eq!(embedded["title"], source["title"], "{name}");
        assert_eq!(embedded["required"], source["required"], "{name}");
        for (def, _) in source.get("$defs").and_then(Value::as_object).into_iter().flatten() {
            assert!(schemas[format!("{name}.{def}")].is_object(), "{name} lost $defs/{def}");
        }
    }
    let mut fixtures = 0;
    for (rel, bytes) in contract.fixtures() {
        let Some((schema, file)) = rel.split_once('/') else {
            continue;
        };
        let Some(stem) = file.strip_suffix(".json") else {
            continue;
        };
        let id = format!("{schema}.{}", stem.replace('/', "-"));
        let example = &doc["components"]["examples"][&id];
        let fixture: Value = serde_json::from_slice(bytes).unwrap();
        assert_eq!(example["value"], fixture, "{id}");
        let check = validator(&doc, &json!({ "$ref": format!("#/components/schemas/{schema}") }));
        assert!(
            check.is_valid(&fixture),
            "fixture {rel} is not valid through the document"
        );
        fixtures += 1;
    }
    assert!(fixtures > 100, "{fixtures}");
    // The lifted $defs still bite: two text items are refused, as by the contract itself.
    let two_texts = json!({"model": "MiniMax-H3", "ratio": "16:9", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]});
    let check = validator(
        &doc,
        &json!({ "$ref": "#/components/schemas/v2_video_generation.request" }),
    );
    assert!(!check.is_valid(&two_texts));
    assert!(!contract.v2_submit_request().is_valid(&two_texts));
    let documented = &doc["paths"]["/minimax/v1/query/video_generation"]["get"]["responses"]["200"]["content"]
        ["application/json"]["examples"]["documented-success"];
    assert_eq!(
        documented["$ref"],
        "#/components/examples/query_video_generation.response.documented-success"
    );
}

/// Checks answers against the document: the status is documented for the
/// operation, and a JSON body validates against the schema given for it.
struct Checker {
    doc: Value,
    checked: usize,
}

impl Checker {
    fn new(doc: Value) -> Self {
        Self { doc, checked: 0 }
    }

    /// The path template of the document that `path` is an instance of.
    fn template(&self, path: &str) -> String {
        let paths = self.doc["paths"].as_object().unwrap();
        if paths.contains_key(path) {
            return path.to_owned();
        }
        paths
            .keys()
            .filter_map(|t| {
                let (prefix, rest) = t.split_once('{')?;
                let suffix = rest.split_once('}')?.1;
                (path.starts_with(prefix) && path.ends_with(suffix) && path.len() > prefix.len() + suffix.len())
                    .then_some((prefix.len(), t))
            })
            .max()
            .map(|(_, t)| t.clone())
            .unwrap_or_else(|| panic!("no path of the document matches {path}"))
    }

    fn check(&mut self, method: &str, target: &str, r: &Response) {
        let path = target.split_once('?').map_or(target, |(p, _)| p);
        let template = self.template(path);
        let op = &self.doc["paths"][&template][method.to_lowercase()];
        // A method the path does not serve: 405, as components.responses says.
        let not_allowed = json!({ "405": { "$ref": "#/components/responses/method_not_allowed" } });
        let responses = if op.is_object() {
            &op["responses"]
        } else {
            assert_eq!(r.status, 405, "{method} {template} is not documented");
            assert!(r.header("allow").is_some());
            &not_allowed
        };
        let status = r.status.to_string();
        let range = format!("{}XX", &status[..1]);
        let mut response = [status.as_str(), range.as_str(), "default"]
            .iter()
            .find_map(|k| responses.get(*k))
            .unwrap_or_else(|| panic!("{method} {target}: status {status} is not documented for {template}"))
            .clone();
        if let Some(reference) = response.get("$ref").and_then(Value::as_str) {
            response = self.doc.pointer(&reference[1..]).unwrap().clone();
        }
        let Some(content) = response.get("content").and_then(Value::as_object) else {
            assert!(
                r.raw.is_empty(),
                "{method} {target}: {status} has a body the document does not describe"
            );
            self.checked += 1;
            return;
        };
        let content_type = r.header("content-type").unwrap_or_default();
        let (media, described) = content
            .iter()
            .find(|(media, _)| content_type.starts_with(media.as_str()))
            .unwrap_or_else(|| panic!("{method} {target}: {content_type} is not documented for {status}"));
        if media == "application/json" {
            let body: Value = serde_json::from_slice(&r.raw).unwrap();
            let errors: Vec<String> = validator(&self.doc, &described["schema"])
                .iter_errors(&body)
                .map(|e| format!("{}: {e}", e.instance_path()))
                .collect();
            assert!(errors.is_empty(), "{method} {target} {status}: {errors:?}\n{body}");
        }
        self.checked += 1;
    }
}

async fn send(
    server: &TestServer,
    checker: &mut Checker,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Response {
    let r = server.send(method, target, headers, body).await;
    checker.check(method, target, &r);
    r
}

const SUBMIT: &str = r#"{"model": "MiniMax-Hailuo-02", "prompt": "A cat", "duration": 6, "resolution": "1080P"}"#;
const V2_SUBMIT: &str = r#"{"model": "MiniMax-H3", "content": [{"type": "text", "text": "A cat"}], "resolution": "768P", "duration": 5, "ratio": "9:16"}"#;

#[tokio::test]
async fn every_answer_of_every_api_is_documented_with_its_body() {
    let server = start(Config {
        max_body: 4096,
        ..config()
    })
    .await;
    let mut c = Checker::new(document(&server).await);
    let c = &mut c;
    let s = &server;

    // The gateway.
    let r = send(
        s,
        c,
        "POST",
        "/minimax/v1/video_generation",
        &[("Prefer", "scenario=instant")],
        SUBMIT,
    )
    .await;
    let task = r.json()["task_id"].as_str().unwrap().to_owned();
    send(
        s,
        c,
        "POST",
        "/minimax/v1/video_generation",
        &[],
        r#"{"model": "T2V-01", "prompt": "x", "duration": 10}"#,
    )
    .await;
    send(
        s,
        c,
        "POST",
        "/minimax/v1/video_generation",
        &[("Prefer", "scenario=nope")],
        SUBMIT,
    )
    .await;
    send(s, c, "POST", "/minimax/v1/video_generation", &[], &"x".repeat(5000)).await;
    send(s, c, "GET", "/minimax/v1/video_generation", &[], "").await;
    send(
        s,
        c,
        "GET",
        &format!("/minimax/v1/query/video_generation?task_id={task}"),
        &[],
        "",
    )
    .await;
    send(
        s,
        c,
        "GET",
        "/minimax/v1/query/video_generation?task_id=306792606023824",
        &[],
        "",
    )
    .await;
    send(s, c, "GET", "/minimax/v1/query/video_generation?task_id=nope", &[], "").await;
    send(s, c, "GET", "/minimax/v1/query/video_generation", &[], "").await;
    send(s, c, "DELETE", "/minimax/v1/query/video_generation", &[], "").await;

    // MiniMax's v1, and its file record through both paths.
    let native = send(
        s,
        c,
        "GET",
        &format!("/v1/query/video_generation?task_id={task}"),
        &[],
        "",
    )
    .await
    .json();
    let file_id = native["file_id"].as_str().unwrap().to_owned();
    for files in ["/v1/files/retrieve", "/minimax/v1/files/retrieve"] {
        let record = send(s, c, "GET", &format!("{files}?file_id={file_id}"), &[], "").await;
        assert!(record.json()["file"].is_object());
        send(s, c, "GET", &format!("{files}?file_id=abc"), &[], "").await;
        send(s, c, "GET", files, &[], "").await;
    }
    send(s, c, "POST", "/v1/video_generation", &[], SUBMIT).await;
    send(s, c, "POST", "/v1/video_generation", &[], r#"{"model": "nope"}"#).await;
    send(s, c, "POST", "/v1/video_generation", &[], &"x".repeat(5000)).await;
    send(s, c, "GET", "/v1/query/video_generation?task_id=nope", &[], "").await;
    send(s, c, "GET", "/v1/query/video_generation", &[], "").await;

    // v2.
    let r = send(
        s,
        c,
        "POST",
        "/v2/video_generation",
        &[("Prefer", "scenario=success-polls")],
        V2_SUBMIT,
    )
    .await;
    let v2 = r.json()["task_id"].as_str().unwrap().to_owned();
    send(
        s,
        c,
        "POST",
        "/v2/video_generation",
        &[],
        r#"{"model": "MiniMax-H3", "content": [{"type": "text", "text": "x"}], "ratio": "adaptive"}"#,
    )
    .await;
    send(s, c, "POST", "/v2/video_generation", &[], &"x".repeat(5000)).await;
    for _ in 0..5 {
        send(s, c, "GET", &format!("/v2/query/video_generation/{v2}"), &[], "").await;
    }
    send(s, c, "GET", "/v2/query/video_generation/nope", &[], "").await;
    // The list, regeneration and cancel-or-delete.
    send(
        s,
        c,
        "GET",
        "/v2/query/video_generation?page_size=2&filter.status=succeeded",
        &[],
        "",
    )
    .await;
    send(s, c, "GET", "/v2/query/video_generation?page_num=0", &[], "").await;
    let regeneration = format!(r#"{{"model": "MiniMax-H3", "source_task_id": "{v2}", "resolution": "2K"}}"#);
    let r = send(
        s,
        c,
        "POST",
        "/v2/video_regeneration",
        &[("Prefer", "scenario=slow")],
        &regeneration,
    )
    .await;
    let regenerated = r.json()["task_id"].as_str().unwrap().to_owned();
    send(
        s,
        c,
        "POST",
        "/v2/video_regeneration",
        &[],
        r#"{"model": "MiniMax-H3", "resolution": "2K"}"#,
    )
    .await;
    send(s, c, "POST", "/v2/video_regeneration", &[], &"x".repeat(5000)).await;
    send(s, c, "GET", "/v2/video_regeneration", &[], "").await;
    send(s, c, "DELETE", &format!("/v2/video_generation/{regenerated}"), &[], "").await;
    send(s, c, "DELETE", &format!("/v2/video_generation/{regenerated}"), &[], "").await;
    send(s, c, "DELETE", &format!("/v2/video_generation/{v2}"), &[], "").await;
    send(s, c, "DELETE", &format!("/v2/video_generation/{v2}"), &[], "").await;
    send(s, c, "GET", &format!("/v2/video_generation/{v2}"), &[], "").await;

    // Faults, in each API's error body.
    let flaky = send(
        s,
        c,
        "POST",
        "/minimax/v1/video_generation",
        &[("Prefer", "scenario=flaky")],
        SUBMIT,
    )
    .await
    .json();
    let flaky = flaky["task_id"].as_str().unwrap().to_owned();
    for target in [
        format!("/minimax/v1/query/video_generation?task_id={flaky}"),
        format!("/minimax/v1/query/video_generation?task_id={flaky}"),
        format!("/v1/query/video_generation?task_id={flaky}"),
    ] {
        send(s, c, "GET", &target, &[], "").await;
    }
    let flaky_v2 = send(
        s,
        c,
        "POST",
        "/v2/video_generation",
        &[("Prefer", "scenario=flaky")],
        V2_SUBMIT,
    )
    .await
    .json();
    let flaky_v2 = flaky_v2["task_id"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        send(s, c, "GET", &format!("/v2/query/video_generation/{flaky_v2}"), &[], "").await;
    }

    // new-api's OpenAI-compatible API: multipart as the SDKs send it, JSON, both queries, the download.
    let boundary = "b0undary";
    let multipart = format!("multipart/form-data; boundary={boundary}");
    let form = |fields: &[(&str, &str)]| {
        let mut out = String::new();
        for (name, value) in fields {
            out.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            ));
        }
        out.push_str(&format!("--{boundary}--\r\n"));
        out
    };
    let submit = form(&[
        ("prompt", "A cat"),
        ("model", "MiniMax-Hailuo-02"),
        ("seconds", "6"),
        ("size", "1920x1080"),
    ]);
    let video = send(
        s,
        c,
        "POST",
        "/v1/videos",
        &[("Content-Type", &multipart), ("Prefer", "scenario=success-polls")],
        &submit,
    )
    .await
    .json();
    let video = video["id"].as_str().unwrap().to_owned();
    send(s, c, "GET", &format!("/v1/videos/{video}/content"), &[], "").await;
    for _ in 0..5 {
        send(s, c, "GET", &format!("/v1/videos/{video}"), &[], "").await;
    }
    send(s, c, "GET", &format!("/v1/videos/{video}/content"), &[], "").await;
    send(
        s,
        c,
        "GET",
        &format!("/v1/videos/{video}/content"),
        &[("Range", "bytes=0-9")],
        "",
    )
    .await;
    send(
        s,
        c,
        "GET",
        &format!("/v1/videos/{video}/content"),
        &[("Range", "bytes=999999999-")],
        "",
    )
    .await;
    send(s, c, "GET", "/v1/videos/task_nope", &[], "").await;
    send(s, c, "GET", "/v1/videos/task_nope/content", &[], "").await;
    send(s, c, "GET", "/v1/videos", &[], "").await;
    send(
        s,
        c,
        "POST",
        "/v1/videos",
        &[("Content-Type", &multipart)],
        &form(&[("model", "x")]),
    )
    .await;
    send(
        s,
        c,
        "POST",
        "/v1/videos",
        &[],
        r#"{"prompt": "x", "seconds": "10", "size": "1080"}"#,
    )
    .await;
    send(s, c, "POST", "/v1/videos", &[], &"x".repeat(5000)).await;
    let generation = send(s, c, "POST", "/v1/video/generations", &[], r#"{"prompt": "x"}"#)
        .await
        .json();
    let generation = generation["id"].as_str().unwrap().to_owned();
    send(s, c, "GET", &format!("/v1/video/generations/{generation}"), &[], "").await;
    send(s, c, "GET", "/v1/video/generations/task_nope", &[], "").await;
    let flaky_openai = send(
        s,
        c,
        "POST",
        "/v1/videos",
        &[("Prefer", "scenario=flaky")],
        r#"{"prompt": "x"}"#,
    )
    .await
    .json();
    let flaky_openai = flaky_openai["id"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        send(s, c, "GET", &format!("/v1/videos/{flaky_openai}"), &[], "").await;
    }

    // The download links.
    let gateway = s.query(&task).await.json();
    let base = s.mock.uri();
    for key in ["download_url", "backup_download_url"] {
        let link = gateway["data"]["data"]["file"][key].as_str().unwrap();
        let target = &link[base.len()..];
        send(s, c, "GET", target, &[], "").await;
        send(s, c, "GET", target, &[("Range", "bytes=0-9")], "").await;
        send(s, c, "GET", target, &[("Range", "bytes=999999999-")], "").await;
        let path = target.split_once('?').unwrap().0;
        send(s, c, "GET", &format!("{path}?Expires=1"), &[], "").await;
        send(s, c, "GET", &format!("{path}?Expires=soon"), &[], "").await;
        send(s, c, "POST", path, &[], "").await;
    }

    // The control API and the page.
    send(s, c, "GET", "/__mock/", &[], "").await;
    send(s, c, "GET", "/openapi.json", &[], "").await;
    send(s, c, "GET", "/__mock/health", &[], "").await;
    send(s, c, "GET", "/__mock/live", &[], "").await;
    send(s, c, "POST", "/__mock/live", &[], "").await;
    send(
        s,
        c,
        "PUT",
        "/__mock/tasks/job-1",
        &[],
        r#"{"scenario": "flaky", "surface": "v2", "ratio": "1:1"}"#,
    )
    .await;
    send(s, c, "PUT", "/__mock/tasks/job-2", &[], r#"{"steps": [{"status": "QUEUED", "polls": 1, "fault": {"delay": ["1ms", "2ms"], "status": 503}}, {"status": "FAILURE", "fail_reason": "boom"}]}"#).await;
    send(s, c, "PUT", "/__mock/tasks/job-3", &[], "").await;
    send(s, c, "PUT", "/__mock/tasks/job-4", &[], r#"{"scenario": "nope"}"#).await;
    send(s, c, "PUT", "/__mock/tasks/job-4", &[], &"x".repeat(5000)).await;
    send(s, c, "GET", "/__mock/tasks", &[], "").await;
    send(s, c, "GET", "/__mock/tasks/job-2", &[], "").await;
    send(s, c, "GET", "/__mock/tasks/nope", &[], "").await;
    send(s, c, "DELETE", "/__mock/tasks/job-3", &[], "").await;
    send(s, c, "DELETE", "/__mock/tasks/job-3", &[], "").await;
    send(s, c, "POST", "/__mock/tasks/job-3", &[], "").await;
    send(s, c, "GET", "/__mock/scenarios", &[], "").await;
    send(s, c, "GET", "/__mock/clock", &[], "").await;
    send(
        s,
        c,
        "POST",
        "/__mock/clock",
        &[],
        r#"{"advance": "1s", "freeze": true}"#,
    )
    .await;
    send(s, c, "POST", "/__mock/clock", &[], r#"{"advance": "soon"}"#).await;
    send(s, c, "GET", "/__mock/requests?method=GET&task_id=nope", &[], "").await;
    send(s, c, "GET", "/__mock/requests", &[], "").await;
    send(s, c, "GET", "/__mock/requests?limit=3", &[], "").await;
    send(s, c, "GET", "/__mock/requests?limit=all", &[], "").await;
    send(s, c, "PUT", "/__mock/next", &[], r#"{"scenario": "fail", "count": 2}"#).await;
    send(s, c, "GET", "/__mock/next", &[], "").await;
    send(s, c, "PUT", "/__mock/next", &[], r#"{"count": 2}"#).await;
    send(s, c, "DELETE", "/__mock/next", &[], "").await;
    // A callback URL nobody listens on: refused, and its challenge recorded.
    let unreachable = r#"{"model": "MiniMax-Hailuo-02", "prompt": "x", "callback_url": "http://127.0.0.1:9/hook"}"#;
    send(s, c, "POST", "/v1/video_generation", &[], unreachable).await;
    let attempts = send(s, c, "GET", "/__mock/callbacks", &[], "").await.json();
    assert!(!attempts["callbacks"].as_array().unwrap().is_empty());
    send(s, c, "DELETE", "/__mock/callbacks", &[], "").await;
    send(s, c, "GET", "/__mock/metrics", &[], "").await;
    send(s, c, "POST", "/__mock/metrics", &[], "").await;
    send(s, c, "DELETE", "/__mock/requests", &[], "").await;
    // Namespaces: listed, and forgotten once.
    s.mock.namespace("t1").script("job", "fail").unwrap();
    let listed = send(s, c, "GET", "/__mock/namespaces", &[], "").await.json();
    assert_eq!(listed["namespaces"][0]["name"], "t1");
    send(s, c, "DELETE", "/__mock/namespaces/t1", &[], "").await;
    send(s, c, "DELETE", "/__mock/namespaces/t1", &[], "").await;
    send(s, c, "POST", "/__mock/reset", &[], "").await;
    send(s, c, "GET", "/__mock/reset", &[], "").await;
    assert_eq!(c.checked, 124);
}

/// With --require-auth the document says so (a bearer scheme, 401 on the
/// APIs), and the server answers as it says.
#[tokio::test]
async fn require_auth_documents_the_bearer_and_401() {
    let server = start(Config {
        require_auth: true,
        ..config()
    })
    .await;
    let doc = document(&server).await;
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    assert!(doc["paths"]["/__mock/clock"]["get"].get("security").is_none());
    let mut c = Checker::new(doc);
    for (method, target, body) in [
        ("POST", "/minimax/v1/video_generation", SUBMIT),
        ("GET", "/minimax/v1/query/video_generation?task_id=1", ""),
        ("GET", "/minimax/v1/files/retrieve?file_id=1", ""),
        ("POST", "/v1/video_generation", SUBMIT),
        ("GET", "/v1/query/video_generation?task_id=1", ""),
        ("GET", "/v1/files/retrieve?file_id=1", ""),
        ("POST", "/v2/video_generation", V2_SUBMIT),
        ("GET", "/v2/query/video_generation/1", ""),
        ("GET", "/v2/query/video_generation?page_size=1", ""),
        ("DELETE", "/v2/video_generation/1", ""),
        (
            "POST",
            "/v2/video_regeneration",
            r#"{"model": "MiniMax-H3", "source_task_id": "1", "resolution": "2K"}"#,
        ),
        ("POST", "/v1/videos", r#"{"prompt": "x"}"#),
        ("GET", "/v1/videos/task_1", ""),
        ("GET", "/v1/videos/task_1/content", ""),
        ("POST", "/v1/video/generations", r#"{"prompt": "x"}"#),
        ("GET", "/v1/video/generations/task_1", ""),
    ] {
        let r = send(&server, &mut c, method, target, &[], body).await;
        assert_eq!(r.status, 401, "{target}");
        assert!(
            c.doc["paths"][c.template(target.split('?').next().unwrap())][method.to_lowercase()]["security"].is_array()
        );
    }
}

/// With --gateway-query native the gateway's query is documented with
/// MiniMax's body, which is what it answers.
#[tokio::test]
async fn gateway_query_native_documents_minimax_s_body() {
    let server = start(Config {
        gateway_query: QueryShape::Native,
        ..config()
    })
    .await;
    let mut c = Checker::new(document(&server).await);
    let task = server.submit("instant").await;
    for target in [
        format!("/minimax/v1/query/video_generation?task_id={task}"),
        "/minimax/v1/query/video_generation?task_id=nope".to_owned(),
    ] {
        let r = send(&server, &mut c, "GET", &target, &[], "").await;
        assert!(r.json()["base_resp"].is_object());
    }
}

/// The document is there with --no-control too (CORS-open, for tools on
/// another origin), without the control API and the page.
#[tokio::test]
async fn without_control_the_document_has_no_control_api() {
    let server = start(Config {
        control: false,
        ..config()
    })
    .await;
    let doc = document(&server).await;
    let paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    // Only the liveness probe, which answers without the control API too.
    assert!(
        paths.iter().all(|p| !p.starts_with("/__mock") || *p == "/__mock/live"),
        "{paths:?}"
    );
    assert!(paths.iter().any(|p| *p == "/__mock/live"), "{paths:?}");
    assert!(doc["tags"].as_array().unwrap().iter().all(|t| t["name"] != "control"));
    let preflight = server
        .send(
            "OPTIONS",
            "/openapi.json",
            &[
                ("Origin", "http://localhost:3000"),
                ("Access-Control-Request-Method", "GET"),
            ],
            "",
        )
        .await;
    assert_eq!(preflight.status, 204);
    assert_eq!(preflight.header("access-control-allow-origin"), Some("*"));
    assert_eq!(server.send("POST", "/openapi.json", &[], "").await.status, 405);
}

fn cli(args: &[&str]) -> Value {
    let out = Command::new(BIN).arg("openapi").args(args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `minimax-mock openapi` with serve's flags prints what that server serves.
#[tokio::test]
async fn the_command_prints_what_the_server_serves() {
    let server = start(config()).await;
    let served = document(&server).await;
    assert_eq!(cli(&["--public-url", &server.mock.uri()]), served);
    let printed = cli(&["--no-control", "--require-auth", "--gateway-query", "native"]);
    let quiet = start(Config {
        control: false,
        require_auth: true,
        gateway_query: QueryShape::Native,
        ..config()
    })
    .await;
    let mut served = document(&quiet).await;
    served["servers"][0]["url"] = json!("http://127.0.0.1:8080");
    assert_eq!(printed, served);
}

/// `--schemas DIR` is embedded as given: the document follows the schemas
/// the server would use.
#[test]
fn a_schemas_directory_is_what_is_embedded() {
    let dir = std::env::temp_dir().join(format!("minimax-mock-openapi-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    for entry in std::fs::read_dir(&root).unwrap() {
        let path = entry.unwrap().path();
        let mut text = std::fs::read_to_string(&path).unwrap();
        if path.ends_with("error.schema.json") {
            text = text.replace("\"Gateway error envelope\"", "\"Our own error envelope\"");
        }
        std::fs::write(dir.join(path.file_name().unwrap()), text).unwrap();
    }
    let doc = cli(&["--schemas", dir.to_str().unwrap()]);
    assert_eq!(doc["components"]["schemas"]["error"]["title"], "Our own error envelope");
    let _ = std::fs::remove_dir_all(&dir);
}

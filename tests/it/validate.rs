//! `minimax-mock validate` end to end: the binary over the corpus in
//! `tests/corpus` (valid, invalid, warnings, broken; every input kind), each
//! output format and exit status pinned by a snapshot. Large inputs, which
//! take the streaming path, are generated into a temp dir and checked by
//! their JSON Lines, line numbers across chunk boundaries included.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{json, Value};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the binary from the repository root, so paths in the output are the
/// relative ones given here.
fn validate(args: &[&str], stdin: &[u8]) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_minimax-mock"))
        .arg("validate")
        .args(args)
        .current_dir(root())
        .env_remove("NO_COLOR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run minimax-mock");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin).unwrap();
    drop(input);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().expect("exited"),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// Exit status, standard output and standard error, for a snapshot.
fn transcript(args: &[&str]) -> String {
    let (code, out, err) = validate(args, b"");
    format!(
        "$ minimax-mock validate {}\nexit: {code}\n--- stdout\n{out}--- stderr\n{err}",
        args.join(" ")
    )
}

#[test]
fn human_valid_corpus_exits_0() {
    insta::assert_snapshot!("human_valid", transcript(&["tests/corpus/valid"]));
}

#[test]
fn human_invalid_corpus_exits_1() {
    insta::assert_snapshot!("human_invalid", transcript(&["tests/corpus/invalid"]));
}

#[test]
fn human_warnings_exit_0_and_strict_exits_1() {
    insta::assert_snapshot!("human_warnings", transcript(&["tests/corpus/warnings"]));
    insta::assert_snapshot!(
        "human_warnings_strict",
        transcript(&["--strict", "tests/corpus/warnings"])
    );
}

#[test]
fn human_broken_inputs_exit_2() {
    insta::assert_snapshot!("human_broken", transcript(&["tests/corpus/broken"]));
}

#[test]
fn json_lines_one_object_per_document() {
    let (code, out, err) = validate(&["--format", "json", "tests/corpus"], b"");
    assert_eq!(code, 2, "{err}");
    for line in out.lines() {
        let doc: Value = serde_json::from_str(line).unwrap();
        let keys: Vec<&str> = doc.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["chosen_by", "errors", "schema", "source", "valid", "warnings"],
            "{line}"
        );
        assert_eq!(doc["valid"], doc["errors"].as_array().unwrap().is_empty(), "{line}");
        for finding in doc["errors"]
            .as_array()
            .unwrap()
            .iter()
            .chain(doc["warnings"].as_array().unwrap())
        {
            let keys: Vec<&str> = finding.as_object().unwrap().keys().map(String::as_str).collect();
            assert_eq!(keys, ["keyword", "message", "pointer"], "{line}");
        }
    }
    insta::assert_snapshot!("json", transcript(&["--format", "json", "tests/corpus"]));
}

#[test]
fn junit_a_test_case_per_document() {
    insta::assert_snapshot!("junit", transcript(&["--format", "junit", "tests/corpus"]));
}

#[test]
fn github_annotations() {
    insta::assert_snapshot!("github", transcript(&["--format", "github", "tests/corpus"]));
}

/// Every shipped fixture passes strictly, detected as the schema of its
/// folder, and named with --schema too.
#[test]
fn the_mocks_own_fixtures_pass_strictly() {
    let (code, out, err) = validate(&["--strict", "--format", "json", "fixtures"], b"");
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    let lines = json_lines(&out);
    let mut folders = std::collections::BTreeSet::new();
    for line in &lines {
        let source = line["source"].as_str().unwrap();
        let folder = source.strip_prefix("fixtures/").unwrap().split('/').next().unwrap();
        assert_eq!(
            (&line["schema"], &line["chosen_by"], &line["valid"]),
            (&json!(folder), &json!("shape"), &json!(true)),
            "{line}"
        );
        assert_eq!(line["warnings"], json!([]), "{line}");
        folders.insert(folder.to_owned());
    }
    assert_eq!(folders.len(), 19, "{folders:?}");
    for folder in folders {
        let dir = format!("fixtures/{folder}");
        let (code, out, err) = validate(&["--strict", "--schema", &folder, &dir], b"");
        assert_eq!((code, err.as_str()), (0, ""), "{dir}: {out}");
        assert!(out.ends_with(" valid, 0 invalid, 0 warnings\n"), "{dir}: {out}");
    }
}

#[test]
fn usage_and_io_errors_exit_2() {
    insta::assert_snapshot!(
        "usage_errors",
        [
            transcript(&["tests/corpus/nope.json"]),
            transcript(&["--schema", "nope", "tests/corpus/valid"]),
            transcript(&["--schema", "tests/corpus/broken/not-json.json", "tests/corpus/valid"]),
            transcript(&["--format", "xml", "tests/corpus/valid"]),
            transcript(&["tests/corpus/valid/ignored.md", "tests/corpus/valid"]),
        ]
        .join("\n")
    );
    let (code, _, err) = validate(&[], b"");
    assert_eq!(code, 2, "{err}");
    let empty = std::env::temp_dir().join(format!("minimax-mock-empty-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let (code, _, err) = validate(&[empty.to_str().unwrap()], b"");
    std::fs::remove_dir(&empty).unwrap();
    assert_eq!(code, 2);
    assert!(err.contains("nothing to check"), "{err}");
}

#[test]
fn a_schema_by_path_or_by_name() {
    let by_path = validate(
        &[
            "--schema",
            "schemas/error.schema.json",
            "tests/corpus/valid/curl-task-not-exist.txt",
        ],
        b"",
    );
    assert_eq!(by_path.0, 0, "{by_path:?}");
    let error = br#"{"code":"task_not_exist","message":"","data":null}"#;
    // The error envelope judged as a success body is wrong.
    let (code, out, _) = validate(
        &["--format", "json", "--schema", "query_video_generation.response", "-"],
        error,
    );
    assert_eq!(code, 1);
    let doc: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(doc["source"], "<stdin>");
    assert_eq!(
        (&doc["schema"], &doc["chosen_by"]),
        (&json!("query_video_generation.response"), &json!("schema"))
    );
    assert_eq!(doc["errors"][0]["pointer"], "/data");
    for args in [&["--schema", "error", "-"][..], &["-"], &["--schema", "auto", "-"]] {
        let (code, out, _) = validate(args, error);
        assert_eq!(code, 0, "{args:?}: {out}");
        assert!(out.starts_with("judged as: 1 error\n"), "{args:?}: {out}");
    }
    // Every shipped schema by name.
    let (code, _, _) = validate(
        &["--schema", "v2_error", "-"],
        br#"{"type":"error","error":{"type":"bad_request_error","message":"x (2013)","http_code":"400"},"request_id":"1"}"#,
    );
    assert_eq!(code, 0);
}

/// Standard input takes the streaming path: every kind through it.
#[test]
fn every_kind_through_standard_input() {
    let mut report = String::new();
    for file in [
        "tests/corpus/valid/polls.ndjson",
        "tests/corpus/invalid/mixed.ndjson",
        "tests/corpus/invalid/session.har",
        "tests/corpus/valid/curl-success.txt",
        "tests/corpus/invalid/wrong-types.json",
        "tests/corpus/broken/truncated.ndjson",
        "tests/corpus/broken/empty.json",
    ] {
        let bytes = std::fs::read(root().join(file)).unwrap();
        let (code, out, err) = validate(&["-"], &bytes);
        report.push_str(&format!(
            "$ minimax-mock validate - < {file}\nexit: {code}\n--- stdout\n{out}--- stderr\n{err}\n"
        ));
    }
    insta::assert_snapshot!("stdin", report);
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("minimax-mock-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn json_lines(out: &str) -> Vec<Value> {
    out.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// A file over 1 MiB is streamed in chunks: line numbers and order survive.
#[test]
fn large_ndjson_is_streamed_with_exact_line_numbers() {
    let dir = TempDir::new("ndjson");
    let good = std::fs::read_to_string(root().join("fixtures/query_video_generation.response/success/4-success.json"))
        .unwrap();
    let good: Value = serde_json::from_str(&good).unwrap();
    let mut bad = good.clone();
    bad["data"]["progress"] = json!(100);
    let (good, bad) = (good.to_string(), bad.to_string());
    let mut text = String::new();
    let mut expected_bad = Vec::new();
    let mut documents = 0;
    for line in 1..=4000 {
        if line % 997 == 0 {
            text.push_str("  \r\n"); // blank lines are skipped, but counted
        } else if line % 613 == 0 {
            text.push_str(&bad);
            text.push('\n');
            expected_bad.push(line);
            documents += 1;
        } else {
            text.push_str(&good);
            text.push_str(if line % 2 == 0 { "\r\n" } else { "\n" });
            documents += 1;
        }
    }
    assert!(text.len() > 3 * 1024 * 1024, "several chunks");
    let path = dir.0.join("big.jsonl");
    std::fs::write(&path, &text).unwrap();
    let path = path.to_str().unwrap();
    let (code, out, err) = validate(&["--format", "json", path], b"");
    assert_eq!((code, err.as_str()), (1, ""));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), documents);
    let sources: Vec<String> = lines.iter().map(|l| l["source"].as_str().unwrap().to_owned()).collect();
    let mut numbers: Vec<usize> = sources
        .iter()
        .map(|s| s.rsplit(':').next().unwrap().parse().unwrap())
        .collect();
    let in_order = numbers.clone();
    numbers.sort_unstable();
    assert_eq!(numbers, in_order, "reported in input order");
    let invalid: Vec<usize> = lines
        .iter()
        .zip(&in_order)
        .filter(|(l, _)| l["valid"] == false)
        .map(|(_, n)| *n)
        .collect();
    assert_eq!(invalid, expected_bad);
    // Human format points at line and column of the value in the file.
    let (_, human, _) = validate(&[path], b"");
    assert!(
        human.contains(&format!("{path}:613:"))
            && human.contains("error[type]: /data/progress: expected string, found integer 100"),
        "{human}"
    );
    assert!(
        human.ends_with(&format!("{} valid, 6 invalid, 0 warnings\n", documents - 6)),
        "{human}"
    );
}

/// A HAR over 1 MiB is streamed entry by entry, in batches to the workers.
#[test]
fn large_har_is_streamed_entry_by_entry() {
    let dir = TempDir::new("har");
    let good = std::fs::read_to_string(root().join("fixtures/query_video_generation.response/success/4-success.json"))
        .unwrap();
    let query = "https://gw.example/minimax/v1/query/video_generation?task_id=325075426377387";
    let mut entries = Vec::new();
    for i in 0..1500 {
        let (url, status, text) = match i % 3 {
            0 => ("https://gw.example/static/app.js", 200, "x".repeat(300)),
            1 if [1, 700, 1300].contains(&i) => (query, 200, r#"{"code":"success"}"#.to_owned()),
            _ => (query, 200, good.clone()),
        };
        entries.push(json!({
            "request": {"method": "GET", "url": url, "headers": []},
            "response": {"status": status, "content": {"mimeType": "application/json", "text": text}},
            "timings": {"wait": 1}
        }));
    }
    let har = json!({"log": {"version": "1.2", "creator": {"name": "test"}, "entries": entries}});
    let path = dir.0.join("big.har");
    std::fs::write(&path, serde_json::to_vec_pretty(&har).unwrap()).unwrap();
    assert!(std::fs::metadata(&path).unwrap().len() > 1024 * 1024);
    let path = path.to_str().unwrap();
    let (code, out, err) = validate(&["--format", "json", path], b"");
    assert_eq!(code, 1);
    assert_eq!(
        err,
        format!("minimax-mock: {path}: skipped 500 HAR entries: 500 for other URLs\n")
    );
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 1000);
    let indexes: Vec<usize> = lines
        .iter()
        .map(|l| {
            let source = l["source"].as_str().unwrap();
            source
                .split('#')
                .nth(1)
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(indexes, (0..1500).filter(|i| i % 3 != 0).collect::<Vec<_>>());
    let invalid: Vec<usize> = lines
        .iter()
        .zip(&indexes)
        .filter(|(l, _)| l["valid"] == false)
        .map(|(_, i)| *i)
        .collect();
    assert_eq!(invalid, [1, 700, 1300]);
}

/// Runs `--format json` over `path`: the verdicts.
fn verdicts(path: &str) -> Vec<Value> {
    let (_, out, _) = validate(&["--format", "json", path], b"");
    json_lines(&out)
}

/// A HAR with entries of every surface: the gateway's, MiniMax's native API
/// at the root and passed through behind `/minimax`, v2; each entry judged
/// against its endpoint's schema, by method, status and body.
#[test]
fn har_entries_of_every_surface_are_judged_by_endpoint() {
    let judged: Vec<(usize, String, bool)> = verdicts("tests/corpus/surfaces/session.har")
        .iter()
        .map(|v| {
            assert_eq!(v["chosen_by"], "endpoint", "{v}");
            let source = v["source"].as_str().unwrap();
            let index = source.split('#').nth(1).unwrap().split(' ').next().unwrap();
            (
                index.parse().unwrap(),
                v["schema"].as_str().unwrap().to_owned(),
                v["valid"].as_bool().unwrap(),
            )
        })
        .collect();
    let expected = [
        // The gateway: submit, the envelope, MiniMax's body passed through
        // (a task, an error, a task with a wrong type), files/retrieve.
        (0, "video_generation.response", true),
        (1, "query_video_generation.response", true),
        (2, "native_query_video_generation.response", true),
        (3, "native_error", true),
        (4, "native_query_video_generation.response", false),
        (5, "files_retrieve.response", true),
        // Behind another prefix: /api/minimax/v1/...
        (6, "error", true),
        // MiniMax's native API at the root; a gateway's envelope there is wrong.
        (7, "video_generation.response", true),
        (8, "native_query_video_generation.response", true),
        (9, "native_error", true),
        (10, "native_error", false),
        (11, "files_retrieve.response", true),
        // v2 (entry 12 is a preflight, 23 another URL: skipped).
        (13, "v2_video_generation.response", true),
        (14, "v2_error", true),
        (15, "v2_query_video_generation.response", true),
        (16, "v2_query_video_generation.response", false),
        (17, "v2_error", true),
        // The list, cancel-or-delete (done, and refused), regeneration, a broken list.
        (18, "v2_list_video_generation.response", true),
        (19, "v2_delete_video_generation.response", true),
        (20, "v2_error", true),
        (21, "v2_video_generation.response", true),
        (22, "v2_list_video_generation.response", false),
    ];
    let expected: Vec<(usize, String, bool)> = expected.iter().map(|(i, s, v)| (*i, s.to_string(), *v)).collect();
    assert_eq!(judged, expected);
}

/// A HAR of new-api's OpenAI-compatible API: the video object, the
/// download's OpenAI-style error and its video (not judged), new-api's
/// envelope and task errors, the token check's 401; a wrong video object is
/// invalid.
#[test]
fn har_entries_of_the_openai_surface_are_judged_by_endpoint() {
    let judged: Vec<(usize, String, bool)> = verdicts("tests/corpus/openai/session.har")
        .iter()
        .map(|v| {
            assert_eq!(v["chosen_by"], "endpoint", "{v}");
            let source = v["source"].as_str().unwrap();
            let index = source.split('#').nth(1).unwrap().split(' ').next().unwrap();
            (
                index.parse().unwrap(),
                v["schema"].as_str().unwrap().to_owned(),
                v["valid"].as_bool().unwrap(),
            )
        })
        .collect();
    let expected = [
        (0, "openai_video.response", true),
        (1, "openai_video.response", true),
        (2, "openai_video.response", false),
        (3, "openai_error", true),
        // 4: the video itself, skipped.
        (5, "error", true),
        (6, "query_video_generation.response", true),
        (7, "error", true),
        (8, "openai_error", true),
    ];
    let expected: Vec<(usize, String, bool)> = expected.iter().map(|(i, s, v)| (*i, s.to_string(), *v)).collect();
    assert_eq!(judged, expected);
    // Saved bodies of its three shapes.
    let shapes: Vec<(String, bool)> = verdicts("tests/corpus/openai/shapes.ndjson")
        .iter()
        .map(|v| {
            assert_eq!(v["chosen_by"], "shape", "{v}");
            (v["schema"].as_str().unwrap().to_owned(), v["valid"].as_bool().unwrap())
        })
        .collect();
    assert_eq!(
        shapes,
        [
            ("openai_video.request".to_owned(), true),
            ("openai_video.response".to_owned(), true),
            ("openai_error".to_owned(), true)
        ]
    );
}

/// A saved body of each shape, a line each, is judged against the contract
/// whose shape it has.
#[test]
fn saved_bodies_of_each_shape_are_detected() {
    let judged: Vec<(String, String, bool)> = verdicts("tests/corpus/surfaces/shapes.ndjson")
        .iter()
        .map(|v| {
            (
                v["schema"].as_str().unwrap().to_owned(),
                v["chosen_by"].as_str().unwrap().to_owned(),
                v["valid"].as_bool().unwrap(),
            )
        })
        .collect();
    let shapes = [
        "query_video_generation.response",
        "error",
        "video_generation.request",
        "video_generation.response",
        "native_query_video_generation.response",
        "callback.update",
        "files_retrieve.response",
        "native_error",
        "v2_video_generation.request",
        "v2_video_generation.response",
        "v2_query_video_generation.response",
        "v2_error",
        "callback.challenge",
        "v2_list_video_generation.response",
        "v2_delete_video_generation.response",
        "v2_video_regeneration.request",
    ];
    let expected: Vec<(String, String, bool)> = shapes
        .iter()
        .map(|s| (s.to_string(), "shape".to_owned(), true))
        .collect();
    assert_eq!(judged, expected);
    // A curl -i capture of v2's 400 (an unknown task id) too.
    let v = &verdicts("tests/corpus/surfaces/curl-v2-invalid-task-id.txt")[0];
    assert_eq!(
        (&v["schema"], &v["chosen_by"], &v["valid"]),
        (&json!("v2_error"), &json!("shape"), &json!(true))
    );
}

/// A body of no known shape is judged against the nearest contract, and the
/// report says so before that contract's violations.
#[test]
fn a_body_matching_nothing_reports_the_nearest() {
    let v = &verdicts("tests/corpus/surfaces/no-shape.json")[0];
    assert_eq!(
        (&v["schema"], &v["chosen_by"], &v["valid"]),
        (
            &json!("native_query_video_generation.response"),
            &json!("nearest"),
            &json!(false)
        )
    );
    assert_eq!(v["errors"][0]["keyword"], "shape");
    assert_eq!(
        v["errors"][0]["message"],
        "no contract matches this shape; nearest: native_query_video_generation.response, sharing 5 of its 6 members \
         (\"base_resp\", \"file_id\", \"status\", \"video_height\", \"video_width\")"
    );
    assert_eq!(
        (&v["errors"][1]["pointer"], &v["errors"][1]["keyword"]),
        (&json!("/task_id"), &json!("required"))
    );
    // Not even an object: the gateway's query response, the main document.
    let (code, out, _) = validate(&["--format", "json", "-"], b"[1, 2]");
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["schema"], "query_video_generation.response");
    assert_eq!(
        v["errors"][0]["message"],
        "no contract matches this shape; nearest: query_video_generation.response, though it shares no member; found [1,2], not an object"
    );
}

#[test]
fn human_and_json_reports_of_a_multi_surface_run() {
    insta::assert_snapshot!("human_surfaces", transcript(&["tests/corpus/surfaces"]));
    insta::assert_snapshot!(
        "json_surfaces",
        transcript(&["--format", "json", "tests/corpus/surfaces"])
    );
}

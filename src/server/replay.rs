//! `serve --replay FILE.har`: a recorded session (from `proxy --record`, or
//! a browser's HAR export) played back as a test double, "record once,
//! replay everywhere".
//!
//! Each task seen in the recording becomes a task of the store whose
//! queries answer the recorded bodies byte for byte, one per poll, in the
//! recorded order, then keep the last one; recorded submits answer the next
//! submits through the same API, in order; recorded files/retrieve answers
//! answer that file id, in order, then the last again. Download links in
//! recorded bodies are moved to the replaying mock ([`relink`]), which
//! serves their video. Everything the recording does not cover is served as
//! usual. The recorded answers hang off the task
//! ([`crate::server::store::tasks::Task::replay`], boxed, so tasks that are not
//! replayed stay small) and are picked by `server::api::poll` before rendering.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::Mutex;

use bytes::Bytes;
use hyper::header::HeaderValue;
use hyper::StatusCode;
use serde::Deserialize;
use serde_json::Value;

use crate::contract::jsonpos;
use crate::contract::{
    FILES_RETRIEVE_PATH, GATEWAY_FILES_RETRIEVE_PATH, NATIVE_QUERY_PATH, NATIVE_SUBMIT_PATH, QUERY_PATH, SUBMIT_PATH,
    V2_QUERY_PREFIX, V2_SUBMIT_PATH,
};
use crate::server::http::{percent_decode, query_param, JSON};
use crate::server::store::tasks::{slot, Recorded, Replay, Surface, SURFACES};

/// Why a recording cannot be replayed; nothing is served then.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("{file}: cannot read: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}:{line}:{column}: {pointer}: {reason}")]
    NotHar {
        file: String,
        line: usize,
        column: usize,
        pointer: String,
        reason: String,
    },
    #[error("{file}: entry {index} ({url}): the response body is not valid base64")]
    Base64 { file: String, index: usize, url: String },
}

/// A task seen in a recording.
#[derive(Debug)]
pub struct RecordedTask {
    pub id: String,
    /// The API it belongs to: v2 when only v2 polled it.
    pub surface: Surface,
    pub replay: Replay,
}

/// What one recording teaches.
#[derive(Debug)]
pub struct Recording {
    pub file: String,
    /// In the order they were first seen.
    pub tasks: Vec<RecordedTask>,
    /// Recorded submit answers, per API, in order.
    pub submits: [Vec<Recorded>; SURFACES],
    /// Recorded files/retrieve answers (either path), per file id, in the
    /// order the ids were first seen.
    pub files: Vec<(String, Vec<Recorded>)>,
    /// Entries that are neither a query, a submit nor files/retrieve (downloads, other URLs).
    pub other: usize,
}

#[derive(Deserialize)]
struct Har {
    log: Log,
}

#[derive(Deserialize)]
struct Log {
    entries: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    request: HarRequest,
    response: HarResponse,
}

#[derive(Deserialize)]
struct HarRequest {
    method: String,
    url: String,
}

#[derive(Deserialize)]
struct HarResponse {
    status: i64,
    #[serde(default)]
    content: Content,
}

#[derive(Deserialize, Default)]
struct Content {
    text: Option<String>,
    encoding: Option<String>,
    #[serde(rename = "mimeType")]
    mime_type: Option<String>,
}

/// Reads and learns a recording.
pub fn load(path: &Path) -> Result<Recording, ReplayError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ReplayError::Io {
        file: file.clone(),
        source,
    })?;
    parse(&file, &text)
}

/// What the query, submit or files/retrieve at `url` is, and the task or
/// file it names.
enum Kind {
    Query(Surface, String),
    Submit(Surface),
    Files(String),
}

fn kind(method: &str, url: &str) -> Option<Kind> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let target = rest.find('/').map_or("/", |i| &rest[i..]);
    let target = target.split('#').next().unwrap_or_default();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let get = method.eq_ignore_ascii_case("GET");
    let post = method.eq_ignore_ascii_case("POST");
    let task = || {
        query_param(query, "task_id")
            .map(|t| t.into_owned())
            .filter(|t| !t.is_empty())
    };
    Some(match path {
        QUERY_PATH if get => Kind::Query(Surface::Gateway, task()?),
        NATIVE_QUERY_PATH if get => Kind::Query(Surface::Native, task()?),
        SUBMIT_PATH if post => Kind::Submit(Surface::Gateway),
        NATIVE_SUBMIT_PATH if post => Kind::Submit(Surface::Native),
        V2_SUBMIT_PATH if post => Kind::Submit(Surface::V2),
        FILES_RETRIEVE_PATH | GATEWAY_FILES_RETRIEVE_PATH if get => Kind::Files(
            query_param(query, "file_id")
                .map(|f| f.into_owned())
                .filter(|f| !f.is_empty())?,
        ),
        p if get && p.starts_with(V2_QUERY_PREFIX) => {
            let id = percent_decode(&p[V2_QUERY_PREFIX.len()..]).into_owned();
            if id.is_empty() {
                return None;
            }
            Kind::Query(Surface::V2, id)
        }
        _ => return None,
    })
}

/// Learns a recording from its text (`file` names it in errors).
pub fn parse(file: &str, text: &str) -> Result<Recording, ReplayError> {
    let har: Har = jsonpos::deserialize(text).map_err(|m| ReplayError::NotHar {
        file: file.to_owned(),
        line: m.line,
        column: m.column,
        pointer: if m.pointer.is_empty() {
            "/".to_owned()
        } else {
            m.pointer
        },
        reason: m.reason,
    })?;
    let mut recording = Recording {
        file: file.to_owned(),
        tasks: Vec::new(),
        submits: Default::default(),
        files: Vec::new(),
        other: 0,
    };
    for (index, entry) in har.log.entries.into_iter().enumerate() {
        let (Some(kind), Ok(status)) = (
            kind(&entry.request.method, &entry.request.url),
            StatusCode::from_u16(u16::try_from(entry.response.status).unwrap_or(0)),
        ) else {
            recording.other += 1;
            continue;
        };
        let content = entry.response.content;
        let Some(text) = content.text else {
            recording.other += 1;
            continue;
        };
        let body = if content.encoding.as_deref() == Some("base64") {
            Bytes::from(
                crate::validate::base64_decode(&text).ok_or_else(|| ReplayError::Base64 {
                    file: file.to_owned(),
                    index,
                    url: entry.request.url.clone(),
                })?,
            )
        } else {
            Bytes::from(text)
        };
        let content_type = content
            .mime_type
            .filter(|t| !t.is_empty())
            .and_then(|t| HeaderValue::from_str(&t).ok())
            .unwrap_or(JSON);
        let recorded = Recorded {
            status,
            content_type,
            body,
        };
        match kind {
            Kind::Submit(surface) => recording.submits[slot(surface)].push(recorded),
            Kind::Files(id) => match recording.files.iter_mut().find(|(f, _)| *f == id) {
                Some((_, answers)) => answers.push(recorded),
                None => recording.files.push((id, vec![recorded])),
            },
            Kind::Query(surface, id) => {
                let at = match recording.tasks.iter().position(|t| t.id == id) {
                    Some(at) => at,
                    None => {
                        recording.tasks.push(RecordedTask {
                            id,
                            surface,
                            replay: Replay::default(),
                        });
                        recording.tasks.len() - 1
                    }
                };
                recording.tasks[at].replay.push(surface, recorded);
            }
        }
    }
    for task in &mut recording.tasks {
        let v1 = !task.replay.answers(Surface::Gateway).is_empty() || !task.replay.answers(Surface::Native).is_empty();
        task.surface = if v1 { Surface::Gateway } else { Surface::V2 };
    }
    Ok(recording)
}

/// Recorded submit answers not given yet, per API.
#[derive(Debug, Default)]
pub struct Submits(Mutex<[VecDeque<Recorded>; SURFACES]>);

impl Submits {
    pub fn add(&self, surface: Surface, answers: impl IntoIterator<Item = Recorded>) {
        self.lock()[slot(surface)].extend(answers);
    }

    /// The answer to the next submit through `surface`, if one is left.
    pub fn take(&self, surface: Surface) -> Option<Recorded> {
        self.lock()[slot(surface)].pop_front()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, [VecDeque<Recorded>; SURFACES]> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Recorded files/retrieve answers not given yet, per file id: each id's
/// in order, then its last again.
#[derive(Debug, Default)]
pub struct Files(Mutex<HashMap<String, (Vec<Recorded>, usize)>>);

impl Files {
    pub fn add(&self, file_id: String, answers: Vec<Recorded>) {
        if !answers.is_empty() {
            self.lock().insert(file_id, (answers, 0));
        }
    }

    /// The answer to the next files/retrieve of `file_id`, if recorded.
    pub fn next(&self, file_id: &str) -> Option<Recorded> {
        let mut files = self.lock();
        let (answers, played) = files.get_mut(file_id)?;
        let answer = answers[(*played).min(answers.len() - 1)].clone();
        *played += 1;
        Some(answer)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Vec<Recorded>, usize)>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Where download links sit in MiniMax's bodies: v1's file record, the
/// gateway's, and v2's `content.url`.
const LINK_KEYS: [&str; 3] = ["download_url", "backup_download_url", "url"];

/// The body with its recorded download links moved to `base_url` (the
/// replaying mock), which serves the video of any such path; the rest of
/// the bytes stay as recorded. A link whose `Expires` has passed by `now`
/// (Unix seconds) gets a fresh one, `lifetime` from now, so a replay long
/// after the recording still downloads. Only links to a video object
/// (`/inference_output…`, `/backup/inference_output…`) are moved.
pub fn relink(body: &Bytes, base_url: &str, now: u64, lifetime: u64) -> Bytes {
    fn links<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                for (key, value) in map {
                    match value.as_str() {
                        Some(link) if LINK_KEYS.contains(&key.as_str()) => out.push(link),
                        _ => links(value, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| links(v, out)),
            _ => {}
        }
    }
    let Ok(doc) = serde_json::from_slice::<Value>(body) else {
        return body.clone();
    };
    let mut found = Vec::new();
    links(&doc, &mut found);
    let mut text = body.to_vec();
    for link in found {
        let Some(moved) = moved(link, base_url, now, lifetime) else {
            continue;
        };
        // As the body spells them (serde_json writes what it reads unescaped).
        let (from, to) = (
            serde_json::to_string(link).expect("a string serializes"),
            serde_json::to_string(&moved).expect("a string serializes"),
        );
        text = replace_all(&text, from.as_bytes(), to.as_bytes());
    }
    Bytes::from(text)
}

/// `link` at `base_url`, its `Expires` renewed if it is past; `None` for
/// a link that is not to a video object.
fn moved(link: &str, base_url: &str, now: u64, lifetime: u64) -> Option<String> {
    let rest = link.strip_prefix("https://").or_else(|| link.strip_prefix("http://"))?;
    let target = &rest[rest.find('/')?..];
    if !(target.starts_with("/inference_output") || target.starts_with("/backup/inference_output")) {
        return None;
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let query: Vec<String> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.strip_prefix("Expires=").map(str::parse::<u64>) {
            Some(Ok(at)) if at < now => format!("Expires={}", now.saturating_add(lifetime)),
            _ => pair.to_owned(),
        })
        .collect();
    Some(if query.is_empty() {
        format!("{base_url}{path}")
    } else {
        format!("{base_url}{path}?{}", query.join("&"))
    })
}

fn replace_all(text: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.windows(from.len()).position(|w| w == from) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(to);
        rest = &rest[at + from.len()..];
    }
    out.extend_from_slice(rest);
    out
}

/// One line about a recorded answer: the status it shows.
fn step(surface: Surface, recorded: &Recorded) -> String {
    let doc: Value = serde_json::from_slice(&recorded.body).unwrap_or(Value::Null);
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let shown = match surface {
        Surface::Gateway if doc["data"]["status"].is_string() => {
            let status = text(&doc["data"]["status"]).unwrap_or_default();
            let progress = text(&doc["data"]["progress"]).unwrap_or_default();
            let minimax = text(&doc["data"]["data"]["status"]).unwrap_or_default();
            format!("{status:<12} {minimax:<10} {progress}")
        }
        Surface::Native | Surface::Gateway if doc["status"].is_string() => text(&doc["status"]).unwrap_or_default(),
        Surface::V2 if doc["task"]["status"].is_string() => text(&doc["task"]["status"]).unwrap_or_default(),
        _ => match (&doc["code"], &doc["base_resp"]["status_code"], &doc["error"]["code"]) {
            (Value::String(code), _, _) => format!("error {code}"),
            (_, Value::Number(code), _) => format!("base_resp {code}"),
            (_, _, Value::Number(code)) => format!("error {code}"),
            _ if doc.is_null() => format!("not JSON ({} bytes)", recorded.body.len()),
            _ => format!("{} bytes", recorded.body.len()),
        },
    };
    format!("HTTP {} {shown}", recorded.status.as_u16())
}

/// What a recording teaches, for `scenarios --replay`.
pub fn describe(recording: &Recording) -> String {
    let mut out = format!("{} (replay)\n", recording.file);
    for (surface, name) in [
        (Surface::Gateway, "gateway"),
        (Surface::Native, "native"),
        (Surface::V2, "v2"),
    ] {
        let submits = &recording.submits[slot(surface)];
        if submits.is_empty() {
            continue;
        }
        out.push_str(&format!("  {name} submits, in order:\n"));
        for (i, recorded) in submits.iter().enumerate() {
            let doc: Value = serde_json::from_slice(&recorded.body).unwrap_or(Value::Null);
            let task = doc["task_id"].as_str().filter(|t| !t.is_empty()).unwrap_or("no task");
            out.push_str(&format!("    {:<3} HTTP {} {task}\n", i + 1, recorded.status.as_u16()));
        }
    }
    for task in &recording.tasks {
        out.push_str(&format!("  task {}\n", task.id));
        for (surface, name) in [
            (Surface::Gateway, "gateway"),
            (Surface::Native, "native"),
            (Surface::V2, "v2"),
        ] {
            let answers = task.replay.answers(surface);
            if answers.is_empty() {
                continue;
            }
            out.push_str(&format!("    {name} query, one per poll, then the last again:\n"));
            for (i, recorded) in answers.iter().enumerate() {
                out.push_str(&format!("      poll {:<3} {}\n", i + 1, step(surface, recorded)));
            }
        }
    }
    for (file_id, answers) in &recording.files {
        out.push_str(&format!(
            "  files/retrieve file_id={file_id}, in order, then the last again:\n"
        ));
        for (i, recorded) in answers.iter().enumerate() {
            out.push_str(&format!(
                "      call {:<3} HTTP {} {} bytes\n",
                i + 1,
                recorded.status.as_u16(),
                recorded.body.len()
            ));
        }
    }
    if recording.other > 0 {
        out.push_str(&format!(
            "  {} other entr{} (downloads, other URLs) served as usual\n",
            recording.other,
            if recording.other == 1 { "y" } else { "ies" }
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn har(entries: Vec<Value>) -> String {
        json!({"log": {"version": "1.2", "entries": entries}}).to_string()
    }

    fn entry(method: &str, url: &str, status: u16, text: &str) -> Value {
        json!({
            "request": {"method": method, "url": url},
            "response": {"status": status, "content": {"mimeType": "application/json", "text": text}}
        })
    }

    #[test]
    fn tasks_and_submits_are_learned_in_order() {
        let q = "http://h/minimax/v1/query/video_generation?task_id=7";
        let text = har(vec![
            entry(
                "POST",
                "http://h/minimax/v1/video_generation",
                200,
                r#"{"task_id":"7"}"#,
            ),
            entry("GET", q, 200, r#"{"data":{"status":"QUEUED"}}"#),
            entry("GET", "http://h/inference_output/x.mp4", 200, ""),
            entry("GET", q, 200, r#"{"data":{"status":"SUCCESS"}}"#),
            entry(
                "GET",
                "http://h/v2/query/video_generation/9",
                404,
                r#"{"error":{"code":2013}}"#,
            ),
            entry(
                "GET",
                "http://h/v1/query/video_generation?task_id=7",
                200,
                r#"{"status":"Success"}"#,
            ),
        ]);
        let r = parse("s.har", &text).unwrap();
        assert_eq!(r.other, 1);
        assert_eq!(r.submits[0].len(), 1);
        assert_eq!(r.tasks.len(), 2);
        let seven = &r.tasks[0];
        assert_eq!((seven.id.as_str(), seven.surface), ("7", Surface::Gateway));
        let bodies: Vec<Bytes> = (0..4)
            .map(|_| seven.replay.next(Surface::Gateway).unwrap().body)
            .collect();
        assert_eq!(bodies[0], r#"{"data":{"status":"QUEUED"}}"#);
        assert_eq!(bodies[1], r#"{"data":{"status":"SUCCESS"}}"#);
        assert_eq!(bodies[3], bodies[1]);
        assert_eq!(
            seven.replay.next(Surface::Native).unwrap().body,
            r#"{"status":"Success"}"#
        );
        assert_eq!(r.tasks[1].surface, Surface::V2);
        assert_eq!(
            r.tasks[1].replay.next(Surface::V2).unwrap().status,
            StatusCode::NOT_FOUND
        );
        let shown = describe(&r);
        assert!(shown.contains("task 7\n"), "{shown}");
        assert!(shown.contains("poll 2   HTTP 200 SUCCESS"), "{shown}");
    }

    #[test]
    fn files_are_learned_and_links_moved() {
        let link =
            "https://cdn.example/inference_output%2Fvideo%2Fx%2F1280x720%2Foutput.mp4?Expires=100&Signature=s%3D";
        let file = format!(
            r#"{{"file":{{"file_id":7,"download_url":"{link}","other":"https://cdn.example/x"}},"base_resp":{{"status_code":0}}}}"#
        );
        let text = har(vec![
            entry("GET", "http://h/v1/files/retrieve?file_id=7", 200, &file),
            entry("GET", "http://h/minimax/v1/files/retrieve?file_id=7", 200, "{}"),
            entry("GET", "http://h/v1/files/retrieve", 200, "{}"),
        ]);
        let r = parse("s.har", &text).unwrap();
        assert_eq!((r.files.len(), r.files[0].1.len(), r.other), (1, 2, 1));
        let files = Files::default();
        files.add("7".to_owned(), r.files[0].1.clone());
        assert_eq!(files.next("7").unwrap().body, file);
        assert_eq!(files.next("7").unwrap().body, "{}");
        assert_eq!(files.next("7").unwrap().body, "{}");
        assert!(files.next("8").is_none());
        // Still valid at 50: only the host moves; expired at 200: renewed.
        let body = Bytes::from(file.clone());
        let moved = relink(&body, "http://127.0.0.1:9", 50, 1000);
        assert_eq!(
            moved,
            file.replace("https://cdn.example/inference", "http://127.0.0.1:9/inference")
        );
        let renewed = relink(&body, "http://127.0.0.1:9", 200, 1000);
        assert!(String::from_utf8_lossy(&renewed).contains("output.mp4?Expires=1200&Signature=s%3D\""));
        assert!(String::from_utf8_lossy(&renewed).contains("\"other\":\"https://cdn.example/x\""));
        assert_eq!(relink(&Bytes::from_static(b"not json"), "http://x", 0, 0), "not json");
    }

    #[test]
    fn a_broken_file_is_named_with_its_position() {
        let err = parse("s.har", "{\"log\": {\"entries\": [{\"request\": 1}]}}").unwrap_err();
        assert!(err.to_string().starts_with("s.har:1:"), "{err}");
        assert!(err.to_string().contains("/log/entries/0/request"), "{err}");
    }

    #[test]
    fn base64_bodies() {
        let text = json!({"log": {"entries": [{
            "request": {"method": "POST", "url": "/v2/video_generation"},
            "response": {"status": 200, "content": {"text": "eyJhIjoxfQ==", "encoding": "base64"}}
        }]}})
        .to_string();
        let r = parse("s.har", &text).unwrap();
        assert_eq!(r.submits[2][0].body, "{\"a\":1}");
    }
}

//! The proxy's worker: what happens to an exchange after its answer has
//! been forwarded. It judges the body with `validate`'s [`Judge`] (the same
//! endpoint choice, schemas and checks as `validate FILE.har`), logs and
//! keeps the findings, writes the journal entry and the recording.
//!
//! It runs on a thread of its own, fed by a channel: judging and file
//! writes never delay or alter an answer, and entries are recorded in the
//! order their answers ended.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use hyper::Uri;

use super::exchange::Exchange;
use super::findings::{Findings, Record};
use super::har::{self, Recorder};
use super::redact;
use crate::contract::{self, Contract, V2_QUERY_PREFIX};
use crate::server::http::query_param;
use crate::server::store::journal::{Entry, Journal};
use crate::validate::report::{self, Format};
use crate::validate::{Event, Finding, HarContent, HarEntry, HarRequest, HarResponse, Judge};

/// A job for the worker.
pub enum Job {
    Exchange(Box<Exchange>),
    /// Answered once every job sent before it is done.
    Settle(tokio::sync::oneshot::Sender<()>),
}

/// What the worker shares with the proxy, and how it works.
pub struct Worker {
    pub findings: Arc<Findings>,
    pub journal: Arc<Journal>,
    /// Counts what judging found, for `GET /__mock/metrics`.
    pub metrics: Arc<super::metrics::ProxyMetrics>,
    pub record: Option<(PathBuf, Recorder)>,
    pub strict: bool,
    pub keep_secrets: bool,
    /// The largest body kept, for the recording's comments.
    pub cap: usize,
    /// Whether the journal is kept (it is read through the control API).
    pub journal_on: bool,
}

impl Worker {
    /// Starts the thread; it stops when every sender is dropped.
    pub fn spawn(self) -> std::io::Result<(mpsc::Sender<Job>, std::thread::JoinHandle<()>)> {
        let (tx, rx) = mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("minimax-mock-proxy-worker".to_owned())
            .spawn(move || self.run(rx))?;
        Ok((tx, handle))
    }

    fn run(mut self, jobs: mpsc::Receiver<Job>) {
        let contract = Contract::embedded();
        let judge = Judge::new(&contract, contract::QUERY_RESPONSE, self.strict)
            .expect("the built-in contract has every schema the judge needs");
        let file: Arc<str> = match &self.record {
            Some((path, _)) => path.display().to_string().into(),
            None => "proxy".into(),
        };
        let mut index = 0usize;
        for job in jobs {
            match job {
                Job::Exchange(ex) => {
                    if let Some((_, recorder)) = &self.record {
                        index = recorder.entries();
                    }
                    self.handle(&judge, &file, index, &ex);
                    index += 1;
                }
                Job::Settle(done) => {
                    if let Some((_, recorder)) = &self.record {
                        let _ = recorder.sync();
                    }
                    let _ = done.send(());
                }
            }
        }
        if let Some((_, recorder)) = &self.record {
            let _ = recorder.sync();
        }
    }

    fn handle(&mut self, judge: &Judge<'_>, file: &Arc<str>, index: usize, ex: &Exchange) {
        let url = if self.keep_secrets {
            ex.url.clone()
        } else {
            redact::target(&ex.url).into_owned()
        };
        let task_id = task_id(ex);
        let judged = ex
            .response_body
            .kept
            .as_ref()
            .and_then(|body| judge.judge_entry(file, index, har_entry(ex, &url, body)))
            .map(|event| {
                let record = |schema: Option<&str>, errors: Vec<Finding>, warnings: Vec<Finding>| Record {
                    time: unix_ms(ex.started),
                    entry: index,
                    method: ex.method.to_string(),
                    path: ex.path().to_owned(),
                    task_id: task_id.clone(),
                    status: ex.status.as_u16(),
                    schema: schema.map(str::to_owned),
                    errors,
                    warnings,
                };
                let found = match &event {
                    Event::Verdict(v) if v.errors.is_empty() && v.warnings.is_empty() => None,
                    Event::Verdict(v) => Some(record(Some(&v.schema), v.errors.clone(), v.warnings.clone())),
                    Event::Problem(problem) => {
                        // The message without the `FILE#INDEX URL: ` the record already says.
                        let text = problem.to_string();
                        let origin = format!("{file}#{index} {url}: ");
                        let finding = Finding {
                            pointer: String::new(),
                            keyword: "json".to_owned(),
                            message: text.strip_prefix(&origin).unwrap_or(&text).to_owned(),
                            position: None,
                        };
                        Some(record(None, vec![finding], Vec::new()))
                    }
                    Event::Skipped { .. } => None,
                };
                if found.is_some() {
                    log(&event);
                }
                found
            });
        if let Some((path, recorder)) = &mut self.record {
            let entry = har::entry(ex, self.keep_secrets, self.cap);
            if let Err(e) = recorder.append(&entry) {
                eprintln!("minimax-mock: {}: cannot record: {e}", path.display());
            }
        }
        if self.journal_on {
            self.journal(ex, task_id);
        }
        // Counted last: once an answer counts as judged, its entry is
        // recorded and journaled too (what a test or script waits for).
        if let Some(found) = judged {
            let (errors, warnings) = found.as_ref().map_or((0, 0), |r| (r.errors.len(), r.warnings.len()));
            self.metrics.judged(errors, warnings);
            self.findings.judged(found);
        }
    }

    fn journal(&self, ex: &Exchange, task_id: Option<String>) {
        let target = if self.keep_secrets {
            ex.target.clone()
        } else {
            redact::target(&ex.target).into_owned()
        };
        let uri: Uri = target.parse().unwrap_or_else(|_| Uri::from_static("/"));
        let headers = if self.keep_secrets {
            ex.request_headers.clone()
        } else {
            redact::headers(&ex.request_headers)
        };
        let body = ex.request_body.kept.as_deref().unwrap_or_default();
        let mut entry = Entry::new(&ex.method, &uri, &headers, body, Some(ex.status), task_id);
        entry.time = unix_ms(ex.started);
        self.journal.record(entry);
    }
}

/// The exchange as the HAR entry `validate` would read from the recording.
fn har_entry(ex: &Exchange, url: &str, body: &[u8]) -> HarEntry {
    let (text, encoding) = match std::str::from_utf8(body) {
        Ok(text) => (text.to_owned(), None),
        // Not text: judged as a body that is not JSON.
        Err(_) => (String::from_utf8_lossy(body).into_owned(), None),
    };
    HarEntry {
        request: HarRequest {
            method: ex.method.to_string(),
            url: url.to_owned(),
        },
        response: HarResponse {
            status: i64::from(ex.status.as_u16()),
            content: HarContent {
                text: Some(text),
                encoding,
            },
        },
    }
}

/// The task an exchange is about: the query's `task_id`, the v2 path's, or
/// the one a submit's answer names.
fn task_id(ex: &Exchange) -> Option<String> {
    if let Some(id) = ex.query().and_then(|q| query_param(q, "task_id")) {
        return Some(id.into_owned());
    }
    if let Some(id) = ex.path().strip_prefix(V2_QUERY_PREFIX) {
        return Some(crate::server::http::percent_decode(id).into_owned());
    }
    // new-api's OpenAI-compatible routes name the task in the path.
    let openai = ["/v1/videos/", "/v1/video/generations/"]
        .iter()
        .find_map(|prefix| ex.path().strip_prefix(prefix));
    if let Some(id) = openai.map(|rest| rest.strip_suffix("/content").unwrap_or(rest)) {
        return Some(crate::server::http::percent_decode(id).into_owned());
    }
    let body = ex.response_body.kept.as_ref()?;
    let doc: serde_json::Value = serde_json::from_slice(body).ok()?;
    doc.get("task_id")
        .and_then(|t| t.as_str())
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// The findings of one answer on stderr, in `validate`'s human format, in one write.
fn log(event: &Event) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    {
        let mut report = report::new(Format::Human, &mut out, &mut err, false);
        let _ = report.event(event);
    }
    out.extend_from_slice(&err);
    let _ = std::io::stderr().lock().write_all(&out);
}

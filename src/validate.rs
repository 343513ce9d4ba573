//! The `validate` command: judges captured responses against the contract.
//!
//! People capture what the real gateway said (saved bodies, logs, browser HAR
//! exports, `curl -i` output) and need an exact answer: does it match the
//! documented contract, and if not, where and why. This module reads those
//! inputs, tells each file's kind from its content, and turns every document
//! into a [`Verdict`]: every schema violation (not only the first) plus the
//! consistency checks a schema cannot express.
//!
//! Judging is pure ([`Judge`], [`detect`], [`parse_http`]); [`run`] adds the
//! I/O: it walks the inputs, streams large NDJSON and HAR files in chunks to
//! one worker per core, and hands [`Event`]s, in input order, to a sink that
//! does not know how they are shown ([`report`] does).

pub mod report;

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};

use serde::de::{DeserializeSeed, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::contract::{self, Contract, ContractError, Schema};
use crate::contract::{QUERY_PATH, SUBMIT_PATH};
use crate::jsonpos::{self, Position};
use crate::lifecycle::{GatewayStatus, MinimaxStatus};

/// Files up to this size are read whole by a worker; larger ones are
/// streamed by the reader thread in chunks, so memory stays bounded.
const SMALL_FILE: u64 = 1024 * 1024;
/// Size of an NDJSON chunk handed to a worker: large enough to amortise the
/// hand-over, small enough to keep both cores busy to the end of a file.
const CHUNK: usize = 512 * 1024;
/// Small files handed to a worker at once.
const FILE_BATCH: usize = 32;
/// HAR entries handed to a worker at once.
const HAR_BATCH: usize = 64;
/// Excerpts of found values are cut to this many characters.
const EXCERPT: usize = 48;
/// What a directory walk picks up.
const EXTENSIONS: [&str; 5] = ["json", "ndjson", "jsonl", "har", "txt"];

// ---------------------------------------------------------------------------
// Verdicts: the data a report renders.

/// Where a document came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The file as named on the command line (or found below a directory).
    pub file: Arc<str>,
    pub at: Locator,
}

/// Which part of a file a document is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Locator {
    /// The whole file (one JSON document, or the body of a `curl -i` capture).
    Whole,
    /// One line of an NDJSON file (1-based).
    Line(usize),
    /// The response body of a HAR entry: its index in `log.entries` (from 0) and URL.
    Entry { index: usize, url: String },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.at {
            Locator::Whole => write!(f, "{}", self.file),
            Locator::Line(line) => write!(f, "{}:{line}", self.file),
            Locator::Entry { index, url } => write!(f, "{}#{index} {url}", self.file),
        }
    }
}

/// One thing wrong (or suspicious) in a document.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// JSON pointer of the value (for a missing member: of the member).
    pub pointer: String,
    /// The schema keyword that failed, or the name of the consistency check.
    pub keyword: String,
    /// What was expected and a short excerpt of what was found.
    pub message: String,
    /// Where the value starts in the file, when the file has lines to point at.
    #[serde(skip)]
    pub position: Option<Position>,
}

/// The judgement of one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub origin: Origin,
    /// Name of the schema the document was judged against.
    pub schema: Arc<str>,
    /// Schema violations (and, with `--strict`, failed consistency checks).
    pub errors: Vec<Finding>,
    /// Failed consistency checks (always empty with `--strict`).
    pub warnings: Vec<Finding>,
}

impl Verdict {
    pub fn valid(&self) -> bool {
        self.errors.is_empty()
    }
}

/// HAR entries that were not judged, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Skipped {
    /// The URL is not an endpoint of this contract.
    pub other_url: usize,
    /// A preflight, a HEAD, a redirect, a blocked request (status 0) and the like.
    pub not_a_response: usize,
    /// The browser did not record the body.
    pub no_body: usize,
}

impl Skipped {
    pub fn total(&self) -> usize {
        self.other_url + self.not_a_response + self.no_body
    }
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.total();
        write!(f, "skipped {total} HAR entr{}: ", if total == 1 { "y" } else { "ies" })?;
        let parts: Vec<String> = [
            (self.other_url, "for other URLs"),
            (
                self.not_a_response,
                "not a response to judge (preflight, HEAD, redirect or blocked)",
            ),
            (self.no_body, "without a recorded body"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, why)| format!("{n} {why}"))
        .collect();
        f.write_str(&parts.join(", "))
    }
}

/// Why an input could not be judged. Each names the file and, where it
/// helps, the line and column.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{file}: cannot read: {source}")]
    Io {
        file: String,
        #[source]
        source: io::Error,
    },
    #[error("{file}: no JSON document: the input is empty")]
    Empty { file: String },
    #[error("{file}: nothing to check: no *.json, *.ndjson, *.jsonl, *.har or *.txt file below this directory")]
    NothingToRead { file: String },
    #[error("{file}:{line}:{column}: not valid JSON: {reason}")]
    NotJson {
        file: String,
        line: usize,
        column: usize,
        reason: String,
    },
    #[error("{file}:{line}: not a usable HTTP response: {reason}")]
    BadHttp { file: String, line: usize, reason: String },
    #[error("{file}:{line}:{column}: not a usable HAR file: {reason}")]
    BadHar {
        file: String,
        line: usize,
        column: usize,
        reason: String,
    },
    #[error("{file}#{index} {url}: the response body is not valid JSON (body line {line}, column {column}): {reason}")]
    BadHarBody {
        file: String,
        index: usize,
        url: String,
        line: usize,
        column: usize,
        reason: String,
    },
    #[error("{file}#{index} {url}: the response body is not valid base64")]
    BadHarBase64 { file: String, index: usize, url: String },
}

impl InputError {
    /// The file the problem is in.
    pub fn file(&self) -> &str {
        match self {
            InputError::Io { file, .. }
            | InputError::Empty { file }
            | InputError::NothingToRead { file }
            | InputError::NotJson { file, .. }
            | InputError::BadHttp { file, .. }
            | InputError::BadHar { file, .. }
            | InputError::BadHarBody { file, .. }
            | InputError::BadHarBase64 { file, .. } => file,
        }
    }

    /// Line and column in the file, where known.
    pub fn position(&self) -> Option<Position> {
        match *self {
            InputError::NotJson { line, column, .. } | InputError::BadHar { line, column, .. } => {
                Some(Position { line, column })
            }
            InputError::BadHttp { line, .. } => Some(Position { line, column: 1 }),
            _ => None,
        }
    }
}

/// What [`run`] hands to its sink, in input order.
#[derive(Debug)]
pub enum Event {
    Verdict(Verdict),
    /// An input that could not be judged: exit status 2.
    Problem(InputError),
    /// HAR entries of `file` that were counted but not judged.
    Skipped {
        file: Arc<str>,
        skipped: Skipped,
    },
}

/// Counts over a whole run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub valid: usize,
    pub invalid: usize,
    /// Warnings over all documents (not documents with warnings).
    pub warnings: usize,
    /// HAR entries not judged.
    pub skipped: usize,
    /// Inputs that could not be judged.
    pub problems: usize,
}

/// The outcome of a run, which the binary maps to its exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Every document is valid (exit 0).
    Valid,
    /// Some document is invalid (exit 1).
    Invalid,
    /// Some input could not be read or parsed (exit 2).
    Error,
}

impl Summary {
    pub fn add(&mut self, event: &Event) {
        match event {
            Event::Verdict(v) => {
                if v.valid() {
                    self.valid += 1;
                } else {
                    self.invalid += 1;
                }
                self.warnings += v.warnings.len();
            }
            Event::Problem(_) => self.problems += 1,
            Event::Skipped { skipped, .. } => self.skipped += skipped.total(),
        }
    }

    pub fn status(&self) -> Status {
        if self.problems > 0 {
            Status::Error
        } else if self.invalid > 0 {
            Status::Invalid
        } else {
            Status::Valid
        }
    }
}

// ---------------------------------------------------------------------------
// Choosing the schema.

/// Why `--schema` names nothing usable.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("unknown schema {name:?}: neither a shipped schema ({known}) nor a file")]
    Unknown { name: String, known: String },
    #[error("{path}: cannot read the schema: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Contract(#[from] ContractError),
}

/// Why `validate` could not run at all (as opposed to finding bad input).
#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    #[error(transparent)]
    Contract(#[from] ContractError),
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error("cannot write the report: {0}")]
    Output(#[source] io::Error),
}

/// An endpoint of the contract, for captures that say which one they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `GET /minimax/v1/query/video_generation`.
    Query,
    /// `POST /minimax/v1/video_generation`.
    Submit,
}

impl Endpoint {
    /// The endpoint a URL (absolute, or only a path) points at.
    pub fn of_url(url: &str) -> Option<Self> {
        let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
        let path = rest.find('/').map_or("/", |i| &rest[i..]);
        let path = path.split(['?', '#']).next().unwrap_or_default();
        match path {
            QUERY_PATH => Some(Endpoint::Query),
            SUBMIT_PATH => Some(Endpoint::Submit),
            _ => None,
        }
    }

    /// The HTTP method that reads a body from the endpoint.
    fn method(self) -> &'static str {
        match self {
            Endpoint::Query => "GET",
            Endpoint::Submit => "POST",
        }
    }

    fn of_schema(name: &str) -> Option<Self> {
        match name {
            contract::QUERY_RESPONSE => Some(Endpoint::Query),
            contract::SUBMIT_RESPONSE => Some(Endpoint::Submit),
            _ => None,
        }
    }
}

/// Which schema judges a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// The one `--schema` chose.
    Chosen,
    /// By endpoint and HTTP status (HAR entries; `curl -i` captures, whose
    /// endpoint is the one the chosen schema belongs to).
    Http { endpoint: Option<Endpoint>, status: u16 },
}

enum SchemaRef<'c> {
    Shipped(&'c Schema),
    Own(Box<Schema>),
}

/// A compiled schema with its source, which the `--strict` walk for
/// undocumented fields reads.
struct Rule<'c> {
    schema: SchemaRef<'c>,
    name: Arc<str>,
    source: Value,
}

impl Rule<'_> {
    fn schema(&self) -> &Schema {
        match &self.schema {
            SchemaRef::Shipped(s) => s,
            SchemaRef::Own(s) => s,
        }
    }
}

/// Judges documents. Pure: bytes in, verdicts out; shared by the workers.
pub struct Judge<'c> {
    chosen: Rule<'c>,
    chosen_endpoint: Option<Endpoint>,
    query: Rule<'c>,
    submit: Rule<'c>,
    error: Rule<'c>,
    strict: bool,
}

impl<'c> Judge<'c> {
    /// `schema` is a shipped schema's name or the path of a JSON Schema file;
    /// each is compiled once, here.
    pub fn new(contract: &'c Contract, schema: &str, strict: bool) -> Result<Self, SchemaError> {
        let shipped = |name: &str| -> Option<Rule<'c>> {
            let compiled = contract.schema(name)?;
            let file = format!("{name}.schema.json");
            let source = contract::Source::embedded("schemas")
                .into_iter()
                .find(|s| s.rel == file)
                .and_then(|s| s.parse().ok())
                .unwrap_or(Value::Null);
            Some(Rule {
                schema: SchemaRef::Shipped(compiled),
                name: name.into(),
                source,
            })
        };
        let must = |name: &str| {
            shipped(name).ok_or_else(|| SchemaError::Unknown {
                name: name.to_owned(),
                known: contract.schema_names().collect::<Vec<_>>().join(", "),
            })
        };
        let (chosen, chosen_endpoint) = match shipped(schema) {
            Some(rule) => (rule, Endpoint::of_schema(schema)),
            None => (own_schema(contract, schema)?, None),
        };
        Ok(Self {
            chosen,
            chosen_endpoint,
            query: must(contract::QUERY_RESPONSE)?,
            submit: must(contract::SUBMIT_RESPONSE)?,
            error: must(contract::ERROR)?,
            strict,
        })
    }

    /// Whether consistency findings count as errors.
    pub fn strict(&self) -> bool {
        self.strict
    }

    fn rule(&self, pick: Pick, doc: &Value) -> &Rule<'c> {
        let Pick::Http { endpoint, status } = pick else {
            return &self.chosen;
        };
        let failed = status >= 400;
        match (endpoint.or(self.chosen_endpoint), failed) {
            (None, _) => &self.chosen,
            (Some(Endpoint::Query), false) => &self.query,
            (Some(Endpoint::Query), true) => &self.error,
            (Some(Endpoint::Submit), false) => &self.submit,
            // Submit answers invalid parameters in MiniMax's own shape, and
            // everything else (unknown scenario, body too large) in the gateway's.
            (Some(Endpoint::Submit), true) if doc.get("base_resp").is_some() => &self.submit,
            (Some(Endpoint::Submit), true) => &self.error,
        }
    }

    /// Parses and judges one document. `first_line` is the file line the text
    /// starts on, so positions point into the file, not into the excerpt.
    pub fn judge(&self, text: &[u8], origin: Origin, first_line: usize, pick: Pick) -> Event {
        let text = strip_bom(text);
        match serde_json::from_slice::<Value>(text) {
            Ok(doc) => Event::Verdict(self.verdict(&doc, text, origin, first_line, pick)),
            Err(e) => Event::Problem(InputError::NotJson {
                file: origin.file.to_string(),
                line: first_line + e.line().max(1) - 1,
                column: e.column(),
                reason: contract::strip_position(&e.to_string()),
            }),
        }
    }

    /// Judges a parsed document; `text` is its source, for positions.
    pub fn verdict(&self, doc: &Value, text: &[u8], origin: Origin, first_line: usize, pick: Pick) -> Verdict {
        let rule = self.rule(pick, doc);
        let schema = rule.schema();
        let mut errors = if schema.is_valid(doc) {
            Vec::new()
        } else {
            schema_findings(schema, doc)
        };
        let mut warnings = Vec::new();
        consistency(doc, &mut warnings);
        if self.strict {
            unknown_fields(
                &rule.source,
                &rule.source,
                doc,
                &mut String::new(),
                &rule.name,
                &mut warnings,
            );
            errors.append(&mut warnings);
        }
        if !errors.is_empty() || !warnings.is_empty() {
            let text = std::str::from_utf8(text).unwrap_or_default();
            for finding in errors.iter_mut().chain(warnings.iter_mut()) {
                finding.position = jsonpos::locate_nearest(text, &finding.pointer).map(|p| Position {
                    line: p.line + first_line - 1,
                    column: p.column,
                });
            }
            // In document order, as a person reads the file; stable, so checks
            // on the same value keep their order.
            let at = |f: &Finding| f.position.map_or((usize::MAX, usize::MAX), |p| (p.line, p.column));
            errors.sort_by_key(at);
            warnings.sort_by_key(at);
        }
        Verdict {
            origin,
            schema: rule.name.clone(),
            errors,
            warnings,
        }
    }
}

fn own_schema<'c>(contract: &Contract, path: &str) -> Result<Rule<'c>, SchemaError> {
    if !Path::new(path).is_file() {
        return Err(SchemaError::Unknown {
            name: path.to_owned(),
            known: contract.schema_names().collect::<Vec<_>>().join(", "),
        });
    }
    let text = fs::read_to_string(path).map_err(|source| SchemaError::Io {
        path: path.to_owned(),
        source,
    })?;
    let source = contract::Source {
        rel: path.to_owned(),
        display: path.to_owned(),
        text,
    }
    .parse()?;
    let schema = Schema::compile(path, path, &source)?;
    Ok(Rule {
        schema: SchemaRef::Own(Box::new(schema)),
        name: path.into(),
        source,
    })
}

// ---------------------------------------------------------------------------
// Findings: schema violations, worded with a short excerpt of what was found.

fn schema_findings(schema: &Schema, doc: &Value) -> Vec<Finding> {
    use jsonschema::error::{TypeKind, ValidationErrorKind as Kind};
    schema
        .validator()
        .iter_errors(doc)
        .map(|e| {
            let mut pointer = e.instance_path().as_str().to_owned();
            let found: &Value = e.instance();
            let message = match e.kind() {
                Kind::Type { kind } => {
                    let expected = match kind {
                        TypeKind::Single(t) => t.to_string(),
                        TypeKind::Multiple(ts) => ts.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(" or "),
                    };
                    format!("expected {expected}, found {}", described(found))
                }
                Kind::Required { property } => {
                    let name = property.as_str().unwrap_or_default();
                    pointer.push('/');
                    pointer.push_str(&name.replace('~', "~0").replace('/', "~1"));
                    format!("missing: the documentation requires {property}")
                }
                Kind::Enum { options } => {
                    let options = match options.as_array() {
                        Some(list) => list.iter().map(excerpt).collect::<Vec<_>>().join(", "),
                        None => excerpt(options),
                    };
                    format!("expected one of {options}, found {}", excerpt(found))
                }
                Kind::Constant { expected_value } => {
                    format!("expected {}, found {}", excerpt(expected_value), excerpt(found))
                }
                Kind::AdditionalProperties { unexpected } | Kind::UnevaluatedProperties { unexpected } => {
                    let names: Vec<String> = unexpected.iter().map(|n| format!("{n:?}")).collect();
                    format!("members the schema does not allow: {}", names.join(", "))
                }
                _ => format!("{}; found {}", e.masked_with("the value"), excerpt(found)),
            };
            Finding {
                pointer,
                keyword: e.kind().keyword().to_owned(),
                message,
                position: None,
            }
        })
        .collect()
}

/// A value as JSON, cut to [`EXCERPT`] characters. Serialisation stops
/// soon after the cut, so a huge value costs no more than a small one.
pub fn excerpt(value: &Value) -> String {
    /// Takes bytes until it has enough, then refuses the rest.
    struct Enough(Vec<u8>);
    impl io::Write for Enough {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            // EXCERPT characters take at most 4 bytes each.
            let room = (EXCERPT * 4 + 4).saturating_sub(self.0.len());
            if room == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            let taken = room.min(buf.len());
            self.0.extend_from_slice(&buf[..taken]);
            Ok(taken)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut out = Enough(Vec::new());
    let _ = serde_json::to_writer(&mut out, value);
    let text = String::from_utf8_lossy(&out.0);
    match text.char_indices().nth(EXCERPT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.into_owned(),
    }
}

/// An excerpt with its JSON type, for messages about types.
fn described(value: &Value) -> String {
    let kind = match value {
        Value::Null => return "null".to_owned(),
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    format!("{kind} {}", excerpt(value))
}

// ---------------------------------------------------------------------------
// Consistency: what the documentation implies but a schema cannot say.

const GATEWAY_STATUSES: [GatewayStatus; 6] = [
    GatewayStatus::NotStart,
    GatewayStatus::Submitted,
    GatewayStatus::Queued,
    GatewayStatus::InProgress,
    GatewayStatus::Success,
    GatewayStatus::Failure,
];
const MINIMAX_STATUSES: [MinimaxStatus; 5] = [
    MinimaxStatus::Preparing,
    MinimaxStatus::Queueing,
    MinimaxStatus::Processing,
    MinimaxStatus::Success,
    MinimaxStatus::Fail,
];
/// A status the gateway documents for tasks it cannot place.
const UNKNOWN_STATUS: &str = "UNKNOWN";

fn warn(out: &mut Vec<Finding>, pointer: &str, keyword: &str, message: String) {
    out.push(Finding {
        pointer: pointer.to_owned(),
        keyword: keyword.to_owned(),
        message,
        position: None,
    });
}

/// Checks that run on any document shaped like a query response (an
/// envelope whose `data` has a `status`) or a submit response. Values of the
/// wrong type are left to the schema.
fn consistency(doc: &Value, out: &mut Vec<Finding>) {
    let Some(root) = doc.as_object() else { return };
    match root.get("data") {
        Some(task) if task.get("status").is_some_and(Value::is_string) => task_checks(task, out),
        _ if root.contains_key("task_id") && root.contains_key("base_resp") => submit_checks(doc, out),
        _ => {}
    }
}

/// `"N%"` with N in 0..=100.
fn percent(progress: &str) -> Option<u8> {
    let digits = progress.strip_suffix('%')?;
    if digits.is_empty() || digits.len() > 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|n| *n <= 100)
}

fn task_checks(task: &Value, out: &mut Vec<Finding>) {
    let status_text = task["status"].as_str().unwrap_or_default();
    let status = GATEWAY_STATUSES.into_iter().find(|s| s.as_str() == status_text);
    let progress = task.get("progress").and_then(Value::as_str);
    if let Some(p) = progress {
        if percent(p).is_none() {
            warn(
                out,
                "/data/progress",
                "progress",
                format!(
                    "expected a percentage from \"0%\" to \"100%\", found {}",
                    excerpt(&task["progress"])
                ),
            );
        }
    }
    let Some(status) = status else {
        if status_text != UNKNOWN_STATUS {
            let known: Vec<&str> = GATEWAY_STATUSES.iter().map(|s| s.as_str()).collect();
            warn(
                out,
                "/data/status",
                "status",
                format!(
                    "expected a gateway status ({}, {UNKNOWN_STATUS}), found {}",
                    known.join(", "),
                    excerpt(&task["status"])
                ),
            );
        }
        return;
    };
    let terminal = status.phase().is_terminal();
    if terminal {
        if let Some(p) = progress.filter(|p| *p != "100%") {
            warn(
                out,
                "/data/progress",
                "terminal-progress",
                format!(
                    "expected \"100%\" for status {status}, found {}",
                    excerpt(&Value::from(p))
                ),
            );
        }
        let submit = task.get("submit_time").and_then(Value::as_i64);
        let finish = task.get("finish_time").and_then(Value::as_i64);
        if let (Some(submit), Some(finish)) = (submit, finish) {
            if finish == 0 || finish < submit {
                warn(
                    out,
                    "/data/finish_time",
                    "finish-time",
                    format!(
                        "expected a finish_time at or after submit_time ({submit}) for status {status}, found {finish}"
                    ),
                );
            }
        }
    }
    let inner = task.get("data");
    if let Some(minimax_text) = inner.and_then(|d| d.get("status")).and_then(Value::as_str) {
        match MINIMAX_STATUSES.into_iter().find(|s| s.as_str() == minimax_text) {
            None => {
                let known: Vec<&str> = MINIMAX_STATUSES.iter().map(|s| s.as_str()).collect();
                warn(
                    out,
                    "/data/data/status",
                    "minimax-status",
                    format!(
                        "expected a MiniMax status ({}), found {}",
                        known.join(", "),
                        excerpt(&Value::from(minimax_text))
                    ),
                );
            }
            Some(minimax) if minimax != status.default_minimax() => warn(
                out,
                "/data/data/status",
                "status-agreement",
                format!(
                    "expected \"{}\" beside gateway status {status}, found \"{minimax}\"",
                    status.default_minimax()
                ),
            ),
            Some(_) => {}
        }
    }
    match status {
        GatewayStatus::Success => {
            let code = inner.and_then(|d| d.get("base_resp")?.get("status_code"));
            if let Some(code) = code.filter(|c| c.as_i64().is_some_and(|c| c != 0)) {
                warn(
                    out,
                    "/data/data/base_resp/status_code",
                    "success-status-code",
                    format!("expected 0 for status SUCCESS, found {}", excerpt(code)),
                );
            }
            let url = inner.and_then(|d| d.get("file")?.get("download_url"));
            if let Some(url) = url.filter(|u| u.as_str().is_some_and(|s| s.trim().is_empty())) {
                warn(
                    out,
                    "/data/data/file/download_url",
                    "success-download-url",
                    format!("expected a download URL for status SUCCESS, found {}", excerpt(url)),
                );
            }
        }
        GatewayStatus::Failure if task.get("fail_reason").and_then(Value::as_str) == Some("") => warn(
            out,
            "/data/fail_reason",
            "failure-reason",
            "expected the error text for status FAILURE, found \"\"".to_owned(),
        ),
        _ => {}
    }
}

/// MiniMax answers a task id exactly when `base_resp.status_code` is 0.
fn submit_checks(doc: &Value, out: &mut Vec<Finding>) {
    let (Some(task_id), Some(code)) = (
        doc["task_id"].as_str(),
        doc.get("base_resp")
            .and_then(|b| b.get("status_code"))
            .and_then(Value::as_i64),
    ) else {
        return;
    };
    if code == 0 && task_id.is_empty() {
        warn(
            out,
            "/task_id",
            "submit-task-id",
            "expected a task id when base_resp.status_code is 0, found \"\"".to_owned(),
        );
    } else if code != 0 && !task_id.is_empty() {
        warn(
            out,
            "/task_id",
            "submit-task-id",
            format!(
                "expected \"\" when base_resp.status_code is {code}, found {}",
                excerpt(&doc["task_id"])
            ),
        );
    }
}

/// With `--strict`: members the schema's `properties` do not list, where the
/// schema neither allows (`additionalProperties`) nor forbids them (the
/// schema reports those itself).
fn unknown_fields(root: &Value, schema: &Value, doc: &Value, pointer: &mut String, name: &str, out: &mut Vec<Finding>) {
    let schema = resolve(root, schema);
    match doc {
        Value::Object(members) => {
            let mut known: Vec<&serde_json::Map<String, Value>> = Vec::new();
            let mut open = false;
            for part in std::iter::once(schema).chain(subschemas(root, schema)) {
                if let Some(props) = part.get("properties").and_then(Value::as_object) {
                    known.push(props);
                }
                if part.get("additionalProperties").is_some() || part.get("patternProperties").is_some() {
                    open = true;
                }
            }
            if known.is_empty() {
                return;
            }
            for (key, value) in members {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
                match known.iter().find_map(|props| props.get(key)) {
                    Some(sub) => unknown_fields(root, sub, value, pointer, name, out),
                    None if !open => warn(
                        out,
                        pointer,
                        "unknown-field",
                        format!(
                            "{key:?} is not in the documentation (schema {name}); found {}",
                            excerpt(value)
                        ),
                    ),
                    None => {}
                }
                pointer.truncate(len);
            }
        }
        Value::Array(items) => {
            let Some(item_schema) = schema.get("items").filter(|s| s.is_object()) else {
                return;
            };
            for (i, item) in items.iter().enumerate() {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&i.to_string());
                unknown_fields(root, item_schema, item, pointer, name, out);
                pointer.truncate(len);
            }
        }
        _ => {}
    }
}

fn resolve<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    let mut schema = schema;
    for _ in 0..32 {
        match schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix('#'))
        {
            Some(target) => match root.pointer(target) {
                Some(next) => schema = next,
                None => break,
            },
            None => break,
        }
    }
    schema
}

fn subschemas<'a>(root: &'a Value, schema: &'a Value) -> impl Iterator<Item = &'a Value> {
    ["allOf", "anyOf", "oneOf"]
        .into_iter()
        .filter_map(move |k| schema.get(k).and_then(Value::as_array))
        .flatten()
        .map(move |s| resolve(root, s))
}

// ---------------------------------------------------------------------------
// Input kinds.

/// What a file holds, told from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Empty,
    /// One JSON document.
    Json,
    /// One JSON document a line.
    Ndjson,
    /// A browser's HAR export.
    Har,
    /// A raw HTTP response as `curl -i` prints it.
    Http,
}

fn strip_bom(text: &[u8]) -> &[u8] {
    text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text)
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

/// Tells a file's kind from `head`: its start, at least the first two
/// non-blank lines (or the whole file). `lines` says the file's name ends in
/// `.ndjson` or `.jsonl`, which makes a one-line file NDJSON too.
pub fn detect(head: &[u8], lines: bool) -> Kind {
    let text = strip_bom(head).trim_ascii_start();
    if text.is_empty() {
        return Kind::Empty;
    }
    if text.starts_with(b"HTTP/") {
        return Kind::Http;
    }
    if is_har(text) {
        return Kind::Har;
    }
    let (first, rest) = split_line(text);
    if is_blank(rest) {
        return if lines { Kind::Ndjson } else { Kind::Json };
    }
    let whole = |line: &[u8]| serde_json::from_slice::<IgnoredAny>(line).is_ok();
    // A lone `{` or `[` opens a pretty-printed document; otherwise a whole
    // value on the second line means lines, even if the first was cut off
    // (a log captured with `tail -c`).
    let opener = matches!(trim_cr(first).trim_ascii(), b"{" | b"[");
    let second = || split_line(rest.trim_ascii_start()).0;
    if whole(first) || (!opener && second().starts_with(b"{") && whole(second())) {
        Kind::Ndjson
    } else {
        Kind::Json
    }
}

/// The first line (without its newline) and the rest.
fn split_line(text: &[u8]) -> (&[u8], &[u8]) {
    match text.iter().position(|&b| b == b'\n') {
        Some(i) => (&text[..i], &text[i + 1..]),
        None => (text, &b""[..]),
    }
}

/// `{"log": ...` (HAR files always start so).
fn is_har(text: &[u8]) -> bool {
    let Some(rest) = text.strip_prefix(b"{") else {
        return false;
    };
    let Some(rest) = rest.trim_ascii_start().strip_prefix(b"\"log\"") else {
        return false;
    };
    rest.trim_ascii_start().starts_with(b":")
}

/// The last response of a `curl -i` capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse<'a> {
    pub status: u16,
    pub body: &'a [u8],
    /// The 1-based line of the file the body starts on.
    pub body_line: usize,
}

/// Splits `curl -i` output into status, headers and body. Interim responses
/// (`100 Continue`, a proxy's `200 Connection established`, redirects
/// followed with `-L`) are skipped: the last response is the one judged.
/// On error, the line and why.
pub fn parse_http(text: &[u8]) -> Result<HttpResponse<'_>, (usize, String)> {
    let mut at = 0;
    let mut line_no = 1;
    // Leading blank lines before the status line.
    while let Some(end) = next_line(text, at) {
        if !is_blank(&text[at..end]) {
            break;
        }
        at = end + 1;
        line_no += 1;
    }
    loop {
        let end = next_line(text, at).unwrap_or(text.len());
        let status_line = String::from_utf8_lossy(trim_cr(&text[at..end]));
        let status = parse_status_line(&status_line).ok_or_else(|| {
            (
                line_no,
                format!(
                    "expected a status line like \"HTTP/1.1 200 OK\", found {:?}",
                    cut(&status_line)
                ),
            )
        })?;
        at = end + 1;
        line_no += 1;
        // Headers, up to the blank line.
        loop {
            let Some(end) = next_line(text, at) else {
                if at >= text.len() || is_blank(&text[at..]) {
                    return Err((line_no, "the headers end without a blank line and body".to_owned()));
                }
                return Err((line_no, "no blank line after the headers".to_owned()));
            };
            let line = trim_cr(&text[at..end]);
            at = end + 1;
            line_no += 1;
            if line.is_empty() {
                break;
            }
        }
        let rest = &text[at.min(text.len())..];
        if rest.starts_with(b"HTTP/") {
            continue;
        }
        return Ok(HttpResponse {
            status,
            body: rest,
            body_line: line_no,
        });
    }
}

fn next_line(text: &[u8], from: usize) -> Option<usize> {
    text.get(from..)?.iter().position(|&b| b == b'\n').map(|i| from + i)
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The bytes of `word` that are `\n`, flagged by their high bit, exactly
/// (no carries between bytes). Searching a word at a time, where a byte loop
/// took a tenth of the NDJSON time.
fn newlines_in(word: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let x = word ^ 0x0a0a_0a0a_0a0a_0a0a;
    !(((x & LOW7) + LOW7) | x | LOW7)
}

fn word(chunk: &[u8]) -> u64 {
    u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]))
}

/// Index of the first `\n`.
fn find_newline(bytes: &[u8]) -> Option<usize> {
    let mut chunks = bytes.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let flags = newlines_in(word(chunk));
        if flags != 0 {
            return Some(at + flags.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    chunks.remainder().iter().position(|&b| b == b'\n').map(|i| at + i)
}

fn count_newlines(bytes: &[u8]) -> usize {
    let mut chunks = bytes.chunks_exact(8);
    let words: usize = (&mut chunks).map(|c| newlines_in(word(c)).count_ones() as usize).sum();
    words + chunks.remainder().iter().filter(|&&b| b == b'\n').count()
}

fn cut(text: &str) -> String {
    match text.char_indices().nth(EXCERPT) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

/// `HTTP/1.1 200 OK`, `HTTP/2 404`: the status code.
fn parse_status_line(line: &str) -> Option<u16> {
    let mut parts = line.split_ascii_whitespace();
    parts.next().filter(|v| v.starts_with("HTTP/"))?;
    let code = parts.next().filter(|c| c.len() == 3)?;
    code.parse().ok().filter(|c| (100..600).contains(c))
}

// ---------------------------------------------------------------------------
// HAR: streamed entry by entry with serde's visitors, never loaded whole.

/// The parts of a HAR entry that matter here; the rest is skipped unread.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct HarEntry {
    pub request: HarRequest,
    pub response: HarResponse,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct HarRequest {
    pub method: String,
    pub url: String,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct HarResponse {
    pub status: i64,
    pub content: HarContent,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct HarContent {
    pub text: Option<String>,
    pub encoding: Option<String>,
}

enum Fate {
    Judge(Endpoint, u16),
    Skip(fn(&mut Skipped) -> &mut usize),
}

fn fate(entry: &HarEntry) -> Fate {
    let Some(endpoint) = Endpoint::of_url(&entry.request.url) else {
        return Fate::Skip(|s| &mut s.other_url);
    };
    let status = entry.response.status;
    let judged_status = (200..300).contains(&status) || (400..600).contains(&status);
    if !entry.request.method.eq_ignore_ascii_case(endpoint.method()) || !judged_status {
        return Fate::Skip(|s| &mut s.not_a_response);
    }
    if entry.response.content.text.as_deref().is_none_or(str::is_empty) {
        return Fate::Skip(|s| &mut s.no_body);
    }
    Fate::Judge(endpoint, status as u16)
}

/// Calls `f` with each entry of `log.entries`, in order, as it is parsed.
/// `f` may stop the stream with an error message.
struct Root<'f, F>(&'f mut F, bool);

impl<'de, F: FnMut(usize, HarEntry) -> Result<(), String>> DeserializeSeed<'de> for Root<'_, F> {
    type Value = bool;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, F: FnMut(usize, HarEntry) -> Result<(), String>> Visitor<'de> for Root<'_, F> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.1 {
            "the HAR log object"
        } else {
            "a HAR file: {\"log\": ...}"
        })
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let Root(f, log_level) = self;
        let mut found = false;
        while let Some(key) = map.next_key::<String>()? {
            match (log_level, key.as_str()) {
                (false, "log") => found |= map.next_value_seed(Root(&mut *f, true))?,
                (true, "entries") => {
                    map.next_value_seed(Entries(&mut *f))?;
                    found = true;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(found)
    }
}

struct Entries<'f, F>(&'f mut F);

impl<'de, F: FnMut(usize, HarEntry) -> Result<(), String>> DeserializeSeed<'de> for Entries<'_, F> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, F: FnMut(usize, HarEntry) -> Result<(), String>> Visitor<'de> for Entries<'_, F> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of HAR entries")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        while let Some(entry) = seq.next_element::<HarEntry>()? {
            (self.0)(index, entry).map_err(A::Error::custom)?;
            index += 1;
        }
        Ok(())
    }
}

/// Streams the entries of a HAR file to `f`.
fn har_entries<'de, R: serde_json::de::Read<'de>>(
    file: &str,
    mut de: serde_json::Deserializer<R>,
    mut f: impl FnMut(usize, HarEntry) -> Result<(), String>,
) -> Result<(), InputError> {
    let bad = |e: serde_json::Error| {
        if e.is_io() {
            return InputError::Io {
                file: file.to_owned(),
                source: io::Error::other(e.to_string()),
            };
        }
        let reason = contract::strip_position(&e.to_string());
        if e.is_data() {
            InputError::BadHar {
                file: file.to_owned(),
                line: e.line(),
                column: e.column(),
                reason,
            }
        } else {
            InputError::NotJson {
                file: file.to_owned(),
                line: e.line(),
                column: e.column(),
                reason,
            }
        }
    };
    let found = Root(&mut f, false).deserialize(&mut de).map_err(bad)?;
    de.end().map_err(bad)?;
    if !found {
        return Err(InputError::BadHar {
            file: file.to_owned(),
            line: 1,
            column: 1,
            reason: "no log.entries array".to_owned(),
        });
    }
    Ok(())
}

/// A HAR entry worth judging.
struct HarDoc {
    index: usize,
    endpoint: Endpoint,
    status: u16,
    url: String,
    content: HarContent,
}

impl Judge<'_> {
    fn judge_har_doc(&self, file: &Arc<str>, doc: HarDoc) -> Event {
        let HarDoc {
            index,
            endpoint,
            status,
            url,
            content,
        } = doc;
        let text = content.text.unwrap_or_default();
        let body = if content.encoding.as_deref() == Some("base64") {
            match base64_decode(&text) {
                Some(bytes) => bytes,
                None => {
                    return Event::Problem(InputError::BadHarBase64 {
                        file: file.to_string(),
                        index,
                        url,
                    })
                }
            }
        } else {
            text.into_bytes()
        };
        let body = strip_bom(&body);
        match serde_json::from_slice::<Value>(body) {
            Ok(value) => {
                let origin = Origin {
                    file: file.clone(),
                    at: Locator::Entry { index, url },
                };
                let mut verdict = self.verdict(
                    &value,
                    body,
                    origin,
                    1,
                    Pick::Http {
                        endpoint: Some(endpoint),
                        status,
                    },
                );
                // Positions inside a body embedded in a JSON string point nowhere useful.
                for f in verdict.errors.iter_mut().chain(verdict.warnings.iter_mut()) {
                    f.position = None;
                }
                Event::Verdict(verdict)
            }
            Err(e) => Event::Problem(InputError::BadHarBody {
                file: file.to_string(),
                index,
                url,
                line: e.line(),
                column: e.column(),
                reason: contract::strip_position(&e.to_string()),
            }),
        }
    }

    /// Judges a file held in memory, whatever its kind.
    pub fn judge_file(&self, file: &Arc<str>, bytes: &[u8], lines_hint: bool) -> Vec<Event> {
        let mut events = Vec::new();
        match detect(bytes, lines_hint) {
            Kind::Empty => events.push(Event::Problem(InputError::Empty { file: file.to_string() })),
            Kind::Json => events.push(self.judge(
                bytes,
                Origin {
                    file: file.clone(),
                    at: Locator::Whole,
                },
                1,
                Pick::Chosen,
            )),
            Kind::Ndjson => self.judge_lines(file, 1, bytes, &mut events),
            Kind::Http => events.push(self.judge_http(file, bytes)),
            Kind::Har => {
                let mut skipped = Skipped::default();
                let de = serde_json::Deserializer::from_slice(bytes);
                let streamed = har_entries(file, de, |index, entry| {
                    match fate(&entry) {
                        Fate::Skip(reason) => *reason(&mut skipped) += 1,
                        Fate::Judge(endpoint, status) => {
                            let doc = har_doc(index, endpoint, status, entry);
                            events.push(self.judge_har_doc(file, doc));
                        }
                    }
                    Ok(())
                });
                if let Err(e) = streamed {
                    events.push(Event::Problem(e));
                }
                if skipped.total() > 0 {
                    events.push(Event::Skipped {
                        file: file.clone(),
                        skipped,
                    });
                }
            }
        }
        events
    }

    /// Judges the lines of an NDJSON chunk that starts at line `first_line`.
    pub fn judge_lines(&self, file: &Arc<str>, first_line: usize, bytes: &[u8], out: &mut Vec<Event>) {
        let mut rest = bytes;
        let mut line_no = first_line;
        while !rest.is_empty() {
            let (line, next) = match find_newline(rest) {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, &b""[..]),
            };
            let line = trim_cr(line);
            if !is_blank(line) {
                let origin = Origin {
                    file: file.clone(),
                    at: Locator::Line(line_no),
                };
                out.push(self.judge(line, origin, line_no, Pick::Chosen));
            }
            rest = next;
            line_no += 1;
        }
    }

    fn judge_http(&self, file: &Arc<str>, bytes: &[u8]) -> Event {
        let response = match parse_http(strip_bom(bytes)) {
            Ok(r) => r,
            Err((line, reason)) => {
                return Event::Problem(InputError::BadHttp {
                    file: file.to_string(),
                    line,
                    reason,
                })
            }
        };
        if is_blank(response.body) {
            return Event::Problem(InputError::BadHttp {
                file: file.to_string(),
                line: response.body_line,
                reason: format!("HTTP {} without a body", response.status),
            });
        }
        let origin = Origin {
            file: file.clone(),
            at: Locator::Whole,
        };
        let pick = Pick::Http {
            endpoint: None,
            status: response.status,
        };
        self.judge(response.body, origin, response.body_line, pick)
    }
}

fn har_doc(index: usize, endpoint: Endpoint, status: u16, entry: HarEntry) -> HarDoc {
    HarDoc {
        index,
        endpoint,
        status,
        url: entry.request.url,
        content: entry.response.content,
    }
}

/// Standard or URL-safe base64, padding optional, line breaks ignored.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in text.as_bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            b'\r' | b'\n' | b' ' | b'\t' => continue,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

// ---------------------------------------------------------------------------
// The run: a reader thread, one worker per core, results in input order.

/// A small file, read and judged whole by a worker.
struct SmallFile {
    path: PathBuf,
    file: Arc<str>,
    lines_hint: bool,
}

/// A piece of work for a worker.
enum Unit {
    /// Small files, several at once: one hand-over per file would cost more
    /// than reading it.
    Files(Vec<SmallFile>),
    /// A large file (or standard input) of a kind that cannot be split.
    Bytes {
        file: Arc<str>,
        bytes: Vec<u8>,
        lines_hint: bool,
    },
    /// Whole lines of an NDJSON file, the first being line `first_line`.
    Lines {
        file: Arc<str>,
        first_line: usize,
        bytes: Vec<u8>,
    },
    /// HAR entries worth judging.
    Har { file: Arc<str>, docs: Vec<HarDoc> },
    /// Events already known (read errors, skip counts).
    Events(Vec<Event>),
}

impl Judge<'_> {
    fn work(&self, unit: Unit) -> Vec<Event> {
        match unit {
            Unit::Files(files) => {
                let mut events = Vec::with_capacity(files.len());
                for SmallFile { path, file, lines_hint } in files {
                    match fs::read(&path) {
                        Ok(bytes) => events.extend(self.judge_file(&file, &bytes, lines_hint)),
                        Err(source) => events.push(Event::Problem(InputError::Io {
                            file: file.to_string(),
                            source,
                        })),
                    }
                }
                events
            }
            Unit::Bytes {
                file,
                bytes,
                lines_hint,
            } => self.judge_file(&file, &bytes, lines_hint),
            Unit::Lines {
                file,
                first_line,
                bytes,
            } => {
                let mut events = Vec::new();
                self.judge_lines(&file, first_line, &bytes, &mut events);
                events
            }
            Unit::Har { file, docs } => docs.into_iter().map(|d| self.judge_har_doc(&file, d)).collect(),
            Unit::Events(events) => events,
        }
    }
}

/// The receiving end went away: stop producing.
struct Stopped;

struct Producer {
    tx: mpsc::SyncSender<(u64, Unit)>,
    seq: u64,
    /// Small files waiting to be handed over together.
    batch: Vec<SmallFile>,
    batch_bytes: u64,
}

impl Producer {
    fn new(tx: mpsc::SyncSender<(u64, Unit)>) -> Self {
        Self {
            tx,
            seq: 0,
            batch: Vec::new(),
            batch_bytes: 0,
        }
    }

    /// Hands over `unit`, after the small files before it (order is kept).
    fn send(&mut self, unit: Unit) -> Result<(), Stopped> {
        self.flush()?;
        self.send_now(unit)
    }

    fn send_now(&mut self, unit: Unit) -> Result<(), Stopped> {
        self.tx.send((self.seq, unit)).map_err(|_| Stopped)?;
        self.seq += 1;
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Stopped> {
        if self.batch.is_empty() {
            return Ok(());
        }
        self.batch_bytes = 0;
        let files = std::mem::take(&mut self.batch);
        self.send_now(Unit::Files(files))
    }

    fn problem(&mut self, problem: InputError) -> Result<(), Stopped> {
        self.send(Unit::Events(vec![Event::Problem(problem)]))
    }

    fn produce(&mut self, paths: &[PathBuf]) -> Result<(), Stopped> {
        for path in paths {
            let name = path.display().to_string();
            if name == "-" {
                let stdin = io::stdin();
                self.stream(stdin.lock(), "<stdin>".into(), false)?;
                continue;
            }
            match fs::metadata(path) {
                Err(source) => self.problem(InputError::Io { file: name, source })?,
                Ok(meta) if meta.is_dir() => {
                    let mut files = Vec::new();
                    if let Err(source) = walk(path, &mut files) {
                        self.problem(InputError::Io { file: name, source })?;
                        continue;
                    }
                    if files.is_empty() {
                        self.problem(InputError::NothingToRead { file: name })?;
                    }
                    for (file, size) in files {
                        self.file(file, size)?;
                    }
                }
                Ok(meta) => self.file(path.clone(), meta.len())?,
            }
        }
        self.flush()
    }

    fn file(&mut self, path: PathBuf, size: u64) -> Result<(), Stopped> {
        let file: Arc<str> = path.display().to_string().into();
        let lines_hint = has_lines_extension(&path);
        if size <= SMALL_FILE {
            self.batch.push(SmallFile { path, file, lines_hint });
            self.batch_bytes += size;
            if self.batch.len() >= FILE_BATCH || self.batch_bytes >= SMALL_FILE {
                self.flush()?;
            }
            return Ok(());
        }
        match fs::File::open(&path) {
            Ok(f) => self.stream(f, file, lines_hint),
            Err(source) => self.problem(InputError::Io {
                file: file.to_string(),
                source,
            }),
        }
    }

    /// Reads a large file or standard input: NDJSON in chunks of whole
    /// lines, HAR entry by entry, anything else whole.
    fn stream(&mut self, reader: impl Read, file: Arc<str>, lines_hint: bool) -> Result<(), Stopped> {
        let io_problem = |source| InputError::Io {
            file: file.to_string(),
            source,
        };
        let mut reader = BufReader::with_capacity(CHUNK, reader);
        let mut head = Vec::new();
        // Enough to tell the kind: the first two non-blank lines.
        let mut non_blank = 0;
        while non_blank < 2 {
            let start = head.len();
            match reader.read_until(b'\n', &mut head) {
                Ok(0) => break,
                Ok(_) => non_blank += usize::from(!is_blank(&head[start..])),
                Err(e) => return self.problem(io_problem(e)),
            }
        }
        match detect(&head, lines_hint) {
            Kind::Ndjson => self.ndjson(reader, head, file),
            Kind::Har => self.har(io::Cursor::new(head).chain(reader), file),
            Kind::Empty | Kind::Json | Kind::Http => match reader.read_to_end(&mut head) {
                Ok(_) => self.send(Unit::Bytes {
                    file,
                    bytes: head,
                    lines_hint,
                }),
                Err(e) => self.problem(io_problem(e)),
            },
        }
    }

    fn ndjson(&mut self, mut reader: impl Read, mut buf: Vec<u8>, file: Arc<str>) -> Result<(), Stopped> {
        let mut first_line = 1;
        loop {
            let want = CHUNK.saturating_sub(buf.len()).max(64 * 1024);
            let eof = match (&mut reader).take(want as u64).read_to_end(&mut buf) {
                Ok(n) => n == 0,
                Err(source) => {
                    return self.problem(InputError::Io {
                        file: file.to_string(),
                        source,
                    })
                }
            };
            let cut = if eof {
                buf.len()
            } else {
                match buf.iter().rposition(|&b| b == b'\n') {
                    Some(i) if buf.len() >= CHUNK => i + 1,
                    _ => continue,
                }
            };
            if cut > 0 {
                let rest = buf.split_off(cut);
                let lines = count_newlines(&buf);
                let bytes = std::mem::replace(&mut buf, rest);
                self.send(Unit::Lines {
                    file: file.clone(),
                    first_line,
                    bytes,
                })?;
                first_line += lines;
            }
            if eof {
                return Ok(());
            }
        }
    }

    fn har(&mut self, reader: impl Read, file: Arc<str>) -> Result<(), Stopped> {
        let mut skipped = Skipped::default();
        let mut batch = Vec::new();
        let mut stopped = false;
        let de = serde_json::Deserializer::from_reader(reader);
        let streamed = har_entries(&file, de, |index, entry| {
            match fate(&entry) {
                Fate::Skip(reason) => *reason(&mut skipped) += 1,
                Fate::Judge(endpoint, status) => {
                    batch.push(har_doc(index, endpoint, status, entry));
                    if batch.len() >= HAR_BATCH {
                        let docs = std::mem::take(&mut batch);
                        if self
                            .send(Unit::Har {
                                file: file.clone(),
                                docs,
                            })
                            .is_err()
                        {
                            stopped = true;
                            return Err("stopped".to_owned());
                        }
                    }
                }
            }
            Ok(())
        });
        if stopped {
            return Err(Stopped);
        }
        if !batch.is_empty() {
            self.send(Unit::Har {
                file: file.clone(),
                docs: batch,
            })?;
        }
        let mut events = Vec::new();
        if let Err(e) = streamed {
            events.push(Event::Problem(e));
        }
        if skipped.total() > 0 {
            events.push(Event::Skipped { file, skipped });
        }
        if !events.is_empty() {
            self.send(Unit::Events(events))?;
        }
        Ok(())
    }
}

fn has_lines_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("ndjson") || e.eq_ignore_ascii_case("jsonl"))
}

/// Files below `dir` with a checked extension, sorted by path, with their
/// sizes. Symbolic links to files are followed; to directories, not (no loops).
fn walk(dir: &Path, out: &mut Vec<(PathBuf, u64)>) -> io::Result<()> {
    let mut entries: Vec<fs::DirEntry> = fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(&path, out)?;
            continue;
        }
        let wanted = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)));
        if !wanted {
            continue;
        }
        let meta = if kind.is_symlink() {
            match fs::metadata(&path) {
                Ok(m) if m.is_file() => m,
                _ => continue,
            }
        } else {
            entry.metadata()?
        };
        out.push((path, meta.len()));
    }
    Ok(())
}

/// Judges every document of `paths` (files, directories, `-` for standard
/// input) and hands each event to `sink` in input order. Stops early only if
/// the sink fails (its error is returned); bad input is reported as events.
pub fn run<E>(
    paths: &[PathBuf],
    judge: &Judge<'_>,
    mut sink: impl FnMut(&Event) -> Result<(), E>,
) -> Result<Summary, E> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 16);
    let (unit_tx, unit_rx) = mpsc::sync_channel::<(u64, Unit)>(workers * 4);
    let unit_rx = Arc::new(Mutex::new(unit_rx));
    // Bounded too: when standard output is slow, the workers wait for it.
    let (done_tx, done_rx) = mpsc::sync_channel::<(u64, Vec<Event>)>(workers * 4);
    let mut summary = Summary::default();
    std::thread::scope(|s| {
        s.spawn(move || {
            let _ = Producer::new(unit_tx).produce(paths);
        });
        for _ in 0..workers {
            let (unit_rx, done_tx) = (Arc::clone(&unit_rx), done_tx.clone());
            s.spawn(move || loop {
                let next = unit_rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                let Ok((seq, unit)) = next else { return };
                if done_tx.send((seq, judge.work(unit))).is_err() {
                    return;
                }
            });
        }
        // Only the workers hold these now: when they stop, the channels close.
        drop((unit_rx, done_tx));
        let mut pending = BTreeMap::new();
        let mut next = 0;
        for (seq, events) in done_rx {
            pending.insert(seq, events);
            while let Some(events) = pending.remove(&next) {
                for event in &events {
                    summary.add(event);
                    sink(event)?;
                }
                next += 1;
            }
        }
        Ok(summary)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn contract() -> Contract {
        Contract::embedded()
    }

    fn documented() -> Value {
        serde_json::from_slice(contract().documented_example()).unwrap()
    }

    fn origin() -> Origin {
        Origin {
            file: "x.json".into(),
            at: Locator::Whole,
        }
    }

    fn verdict(judge: &Judge, doc: &Value) -> Verdict {
        let text = serde_json::to_vec_pretty(doc).unwrap();
        match judge.judge(&text, origin(), 1, Pick::Chosen) {
            Event::Verdict(v) => v,
            other => panic!("{other:?}"),
        }
    }

    fn keywords(findings: &[Finding]) -> Vec<(&str, &str)> {
        findings
            .iter()
            .map(|f| (f.pointer.as_str(), f.keyword.as_str()))
            .collect()
    }

    #[test]
    fn documented_example_is_valid_and_consistent() {
        let c = contract();
        let judge = Judge::new(&c, contract::QUERY_RESPONSE, true).unwrap();
        let v = verdict(&judge, &documented());
        assert!(v.valid(), "{v:?}");
        assert!(v.warnings.is_empty(), "{v:?}");
    }

    #[test]
    fn every_violation_with_expected_found_and_position() {
        let c = contract();
        let judge = Judge::new(&c, contract::QUERY_RESPONSE, false).unwrap();
        let mut doc = documented();
        doc["data"]["data"]["file"]["file_id"] = json!("306793063383292");
        doc["data"].as_object_mut().unwrap().remove("progress");
        let v = verdict(&judge, &doc);
        assert_eq!(
            keywords(&v.errors),
            [("/data/progress", "required"), ("/data/data/file/file_id", "type")]
        );
        assert_eq!(
            v.errors[1].message,
            "expected integer, found string \"306793063383292\""
        );
        // Pretty-printed by serde (keys sorted): file_id is on line 15; the missing member points at its parent.
        assert_eq!(v.errors[1].position, Some(Position { line: 15, column: 20 }));
        assert_eq!(v.errors[0].position, Some(Position { line: 3, column: 11 }));
    }

    #[test]
    fn consistency_checks_warn_and_strict_makes_them_errors() {
        let c = contract();
        let mut doc = documented();
        doc["data"]["progress"] = json!("99");
        doc["data"]["finish_time"] = json!(1);
        doc["data"]["data"]["status"] = json!("Processing");
        doc["data"]["data"]["base_resp"]["status_code"] = json!(1027);
        doc["data"]["data"]["file"]["download_url"] = json!("");
        doc["data"]["extra"] = json!({"a": 1});
        let lenient = Judge::new(&c, contract::QUERY_RESPONSE, false).unwrap();
        let v = verdict(&lenient, &doc);
        assert!(v.valid());
        assert_eq!(
            keywords(&v.warnings),
            // In document order (serde pretty-prints keys sorted).
            [
                ("/data/data/base_resp/status_code", "success-status-code"),
                ("/data/data/file/download_url", "success-download-url"),
                ("/data/data/status", "status-agreement"),
                ("/data/finish_time", "finish-time"),
                ("/data/progress", "progress"),
                ("/data/progress", "terminal-progress"),
            ]
        );
        let strict = Judge::new(&c, contract::QUERY_RESPONSE, true).unwrap();
        let v = verdict(&strict, &doc);
        assert!(!v.valid());
        assert!(v.warnings.is_empty());
        assert_eq!(v.errors.len(), 7);
        assert!(keywords(&v.errors).contains(&("/data/extra", "unknown-field")));
    }

    #[test]
    fn status_words_are_checked() {
        let mut out = Vec::new();
        task_checks(&json!({"status": "DONE", "progress": "100%"}), &mut out);
        task_checks(&json!({"status": "UNKNOWN", "progress": "5%"}), &mut out);
        task_checks(
            &json!({"status": "FAILURE", "progress": "100%", "fail_reason": "", "submit_time": 5, "finish_time": 6, "data": {"status": "Failed"}}),
            &mut out,
        );
        task_checks(
            &json!({"status": "QUEUED", "progress": "20%", "data": {"status": "Queueing"}}),
            &mut out,
        );
        assert_eq!(
            keywords(&out),
            [
                ("/data/status", "status"),
                ("/data/data/status", "minimax-status"),
                ("/data/fail_reason", "failure-reason")
            ]
        );
    }

    #[test]
    fn excerpts_are_short() {
        assert_eq!(excerpt(&json!("abc")), "\"abc\"");
        let long = json!({"a": "é".repeat(10_000)});
        let cut = excerpt(&long);
        assert_eq!(cut.chars().count(), EXCERPT + 1);
        assert!(cut.starts_with("{\"a\":\"éé") && cut.ends_with("é…"), "{cut}");
    }

    #[test]
    fn percent_accepts_only_n_percent() {
        assert_eq!(percent("0%"), Some(0));
        assert_eq!(percent("100%"), Some(100));
        for bad in ["101%", "50", "%", "5 %", "-1%", "1000%", ""] {
            assert_eq!(percent(bad), None, "{bad}");
        }
    }

    #[test]
    fn submit_responses_are_checked() {
        let mut out = Vec::new();
        consistency(
            &json!({"task_id": "", "base_resp": {"status_code": 0, "status_msg": "success"}}),
            &mut out,
        );
        consistency(
            &json!({"task_id": "1", "base_resp": {"status_code": 2013, "status_msg": "x"}}),
            &mut out,
        );
        consistency(
            &json!({"task_id": "1", "base_resp": {"status_code": 0, "status_msg": "success"}}),
            &mut out,
        );
        assert_eq!(
            keywords(&out),
            [("/task_id", "submit-task-id"), ("/task_id", "submit-task-id")]
        );
    }

    #[test]
    fn kinds_are_told_from_content() {
        assert_eq!(detect(b"", false), Kind::Empty);
        assert_eq!(detect(b" \n\t", false), Kind::Empty);
        assert_eq!(detect(b"{\"a\": 1}\n", false), Kind::Json);
        assert_eq!(detect(b"{\"a\": 1}\n", true), Kind::Ndjson);
        assert_eq!(detect(b"{\n  \"a\": 1\n}\n", false), Kind::Json);
        assert_eq!(detect(b"{\"a\": 1}\n\n{\"a\": 2}\n", false), Kind::Ndjson);
        assert_eq!(detect(b"\xEF\xBB\xBF{\"a\": 1}\r\n{\"a\": 2}", false), Kind::Ndjson);
        assert_eq!(detect(b"{\n  \"log\": {\n", false), Kind::Har);
        assert_eq!(detect(b"HTTP/1.1 200 OK\r\n", false), Kind::Http);
        assert_eq!(detect(b"{\"a\": \n 1}\n{}", false), Kind::Json);
        // A log whose first line was cut off is still lines.
        assert_eq!(detect(b"ode\":1}\n{\"code\": 2}\n", false), Kind::Ndjson);
        assert_eq!(detect(b"[\n  {\"a\": 1}\n]\n", false), Kind::Json);
        assert_eq!(detect(b"{\n  \"a\": {}\n}\n", false), Kind::Json);
    }

    #[test]
    fn curl_output_is_split() {
        let text = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/2 400 \r\ncontent-type: application/json\r\n\r\n{\"code\": 1}";
        let r = parse_http(text).unwrap();
        assert_eq!((r.status, r.body, r.body_line), (400, &b"{\"code\": 1}"[..], 6));
        assert_eq!(parse_http(b"HTTP/1.1 200 OK\nx: y\n").unwrap_err().0, 3);
        assert_eq!(parse_http(b"\nHTTP/1.1 abc\n\n{}").unwrap_err().0, 2);
    }

    #[test]
    fn endpoints_from_urls() {
        assert_eq!(
            Endpoint::of_url("https://gw.example/minimax/v1/query/video_generation?task_id=1"),
            Some(Endpoint::Query)
        );
        assert_eq!(
            Endpoint::of_url("http://h:8080/minimax/v1/video_generation"),
            Some(Endpoint::Submit)
        );
        assert_eq!(
            Endpoint::of_url("/minimax/v1/video_generation#x"),
            Some(Endpoint::Submit)
        );
        assert_eq!(Endpoint::of_url("https://h/v1/query/video_generation"), None);
        assert_eq!(Endpoint::of_url("https://h"), None);
    }

    #[test]
    fn newlines_are_found_and_counted_a_word_at_a_time() {
        let text: Vec<u8> = (0..300u32)
            .map(|i| {
                if i % 7 == 3 || i % 13 == 0 {
                    b'\n'
                } else {
                    (i % 256) as u8 ^ 0x80
                }
            })
            .collect();
        let expected: Vec<usize> = text
            .iter()
            .enumerate()
            .filter(|(_, &b)| b == b'\n')
            .map(|(i, _)| i)
            .collect();
        assert_eq!(count_newlines(&text), expected.len());
        for start in 0..text.len() {
            let want = expected.iter().find(|&&i| i >= start).map(|i| i - start);
            assert_eq!(find_newline(&text[start..]), want, "from {start}");
        }
        // Bytes one bit away from \n (0x0b, 0x8a, 0x09) are not newlines.
        assert_eq!(find_newline(b"\x0b\x8a\x09\x0b\x8a\x09\x0b\x8a\x09\n"), Some(9));
        assert_eq!(count_newlines(&[0x0a; 17]), 17);
    }

    #[test]
    fn base64_bodies_decode() {
        assert_eq!(base64_decode("eyJhIjoxfQ==").unwrap(), b"{\"a\":1}");
        assert_eq!(base64_decode("eyJhIjoxfQ").unwrap(), b"{\"a\":1}");
        assert!(base64_decode("e*").is_none());
    }

    #[test]
    fn http_status_picks_the_schema() {
        let c = contract();
        let judge = Judge::new(&c, contract::QUERY_RESPONSE, false).unwrap();
        let err = json!({"code": "task_not_exist", "message": "task_not_exist", "data": null});
        let submit_err = json!({"task_id": "", "base_resp": {"status_code": 2013, "status_msg": "x"}});
        let pick = |endpoint, status| Pick::Http { endpoint, status };
        assert_eq!(&*judge.rule(pick(None, 400), &err).name, contract::ERROR);
        assert_eq!(&*judge.rule(pick(None, 200), &err).name, contract::QUERY_RESPONSE);
        assert_eq!(
            &*judge.rule(pick(Some(Endpoint::Submit), 400), &submit_err).name,
            contract::SUBMIT_RESPONSE
        );
        assert_eq!(
            &*judge.rule(pick(Some(Endpoint::Submit), 413), &err).name,
            contract::ERROR
        );
        let own = Judge::new(&c, contract::ERROR, false).unwrap();
        assert_eq!(&*own.rule(pick(None, 200), &err).name, contract::ERROR);
    }

    #[test]
    fn not_json_is_a_problem_with_position() {
        let c = contract();
        let judge = Judge::new(&c, contract::QUERY_RESPONSE, false).unwrap();
        let mut events = Vec::new();
        judge.judge_lines(&"l.ndjson".into(), 7, b"{}\n\n{\"a\": tru}\n", &mut events);
        assert!(matches!(events[0], Event::Verdict(ref v) if v.origin.at == Locator::Line(7)));
        let Event::Problem(ref p) = events[1] else {
            panic!("{events:?}")
        };
        assert_eq!(p.to_string(), "l.ndjson:9:10: not valid JSON: expected ident");
    }

    #[test]
    fn unknown_schema_names_the_known_ones() {
        let c = contract();
        let err = Judge::new(&c, "nope", false).err().unwrap();
        assert!(err.to_string().contains("query_video_generation.response"), "{err}");
    }
}

//! The documented contract: JSON Schemas and example fixtures.
//!
//! Schemas are compiled once at start-up; the server checks its own output
//! with [`Schema::is_valid`] (the fast path) and reports with
//! [`Schema::violations`]. A fixture lives in `fixtures/<schema name>/` and
//! must validate against `schemas/<schema name>.schema.json`, so a broken
//! example can never ship silently.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use bytes::Bytes;
use serde_json::Value;

/// The gateway's query endpoint.
pub const QUERY_PATH: &str = "/minimax/v1/query/video_generation";
/// The gateway's submit endpoint.
pub const SUBMIT_PATH: &str = "/minimax/v1/video_generation";
/// MiniMax's native submit endpoint (the gateway's body and answer).
pub const NATIVE_SUBMIT_PATH: &str = "/v1/video_generation";
/// MiniMax's native query endpoint (`?task_id=`).
pub const NATIVE_QUERY_PATH: &str = "/v1/query/video_generation";
/// MiniMax's file record endpoint (`?file_id=`), where the download URL is.
pub const FILES_RETRIEVE_PATH: &str = "/v1/files/retrieve";
/// The gateway's passthrough of [`FILES_RETRIEVE_PATH`].
pub const GATEWAY_FILES_RETRIEVE_PATH: &str = "/minimax/v1/files/retrieve";
/// MiniMax's v2 submit endpoint (MiniMax-H3).
pub const V2_SUBMIT_PATH: &str = "/v2/video_generation";
/// MiniMax's v2 query endpoint; the task id follows in the path.
pub const V2_QUERY_PREFIX: &str = "/v2/query/video_generation/";
/// MiniMax's v2 list endpoint (`?page_num=&page_size=&filter.status=...`).
pub const V2_LIST_PATH: &str = "/v2/query/video_generation";
/// MiniMax's v2 cancel-or-delete endpoint (`DELETE`); the task id follows in the path.
pub const V2_TASK_PREFIX: &str = "/v2/video_generation/";
/// MiniMax's v2 regeneration endpoint (a 768P MiniMax-H3 output again at 2K).
pub const V2_REGENERATION_PATH: &str = "/v2/video_regeneration";
/// new-api's OpenAI-compatible video submit (what the openai SDKs call);
/// `/{id}` polls a task, `/{id}/content` downloads its video.
pub const OPENAI_VIDEOS_PATH: &str = "/v1/videos";
/// new-api's own video submit (the same body and answer as
/// [`OPENAI_VIDEOS_PATH`]); `/{task_id}` answers the gateway's envelope.
pub const OPENAI_GENERATIONS_PATH: &str = "/v1/video/generations";
/// The prefix of the control API (and the dashboard, at the prefix itself).
pub const CONTROL_PREFIX: &str = "/__mock/";
/// Where the server serves its OpenAPI document.
pub const OPENAPI_PATH: &str = "/openapi.json";
/// The liveness and readiness probe: `200 ok` to anyone, with or without the
/// control API, so a container's health check needs neither the control
/// token nor an allowed `Host`; it tells nothing about the mock's state.
pub const LIVE_PATH: &str = "/__mock/live";

pub mod jsonpos;
pub mod openapi;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

/// Schema of the query response (`GET /minimax/v1/query/video_generation`).
pub const QUERY_RESPONSE: &str = "query_video_generation.response";
/// Schema of the gateway's error envelope.
pub const ERROR: &str = "error";
/// Schema of the submit request body (`POST /minimax/v1/video_generation`).
pub const SUBMIT_REQUEST: &str = "video_generation.request";
/// Schema of the submit response.
pub const SUBMIT_RESPONSE: &str = "video_generation.response";
/// Schema of MiniMax's native query response (`GET /v1/query/video_generation`).
pub const NATIVE_QUERY_RESPONSE: &str = "native_query_video_generation.response";
/// Schema of the file record (`GET /v1/files/retrieve`, `GET /minimax/v1/files/retrieve`).
pub const FILES_RETRIEVE_RESPONSE: &str = "files_retrieve.response";
/// Schema of MiniMax's native error body (`{"base_resp": {non-zero status_code, ...}}`).
pub const NATIVE_ERROR: &str = "native_error";
/// Schema of the v2 submit request body (`POST /v2/video_generation`).
pub const V2_SUBMIT_REQUEST: &str = "v2_video_generation.request";
/// Schema of the v2 submit response (`{"task_id"}`).
pub const V2_SUBMIT_RESPONSE: &str = "v2_video_generation.response";
/// Schema of the v2 query response (`GET /v2/query/video_generation/{task_id}`), also the v2 callback body.
pub const V2_QUERY_RESPONSE: &str = "v2_query_video_generation.response";
/// Schema of v2's error envelope (`{"type": "error", "error": {"type", "message", "http_code"}, "request_id"}`).
pub const V2_ERROR: &str = "v2_error";
/// Schema of the v2 list response (`GET /v2/query/video_generation`: `{items, total}`).
pub const V2_LIST_RESPONSE: &str = "v2_list_video_generation.response";
/// Schema of the v2 delete response (`DELETE /v2/video_generation/{task_id}`: `{task_id, action, status}`).
pub const V2_DELETE_RESPONSE: &str = "v2_delete_video_generation.response";
/// Schema of the v2 regeneration request body (`POST /v2/video_regeneration`); it answers a v2 submit response.
pub const V2_REGENERATION_REQUEST: &str = "v2_video_regeneration.request";
/// Schema of the video submit of new-api's OpenAI-compatible API (JSON, or multipart's fields).
pub const OPENAI_VIDEO_REQUEST: &str = "openai_video.request";
/// Schema of its video object (`POST /v1/videos`, `GET /v1/videos/{id}`).
pub const OPENAI_VIDEO_RESPONSE: &str = "openai_video.response";
/// Schema of the OpenAI-style error (`{"error": {"message", "type"}}`) new-api
/// answers the download with, and a missing token.
pub const OPENAI_ERROR: &str = "openai_error";
/// Schema of the callback challenge (`{"challenge"}`), POSTed first and echoed back.
pub const CALLBACK_CHALLENGE: &str = "callback.challenge";
/// Schema of a v1 callback status update (`{task_id, status, file_id, base_resp}`).
pub const CALLBACK_UPDATE: &str = "callback.update";
/// The documented success example, served for [`DOCUMENTED_TASK_ID`].
pub const DOCUMENTED_FIXTURE: &str = "query_video_generation.response/documented-success.json";
/// The task id of the documentation's example.
pub const DOCUMENTED_TASK_ID: &str = "306792606023824";

const SCHEMA_SUFFIX: &str = ".schema.json";
/// The gateway's schemas: a `--schemas` directory must hold every one.
const REQUIRED_SCHEMAS: [&str; 4] = [QUERY_RESPONSE, ERROR, SUBMIT_REQUEST, SUBMIT_RESPONSE];
/// The native, v2 and OpenAI-compatible schemas, added after the gateway's: a directory written
/// before them still loads, the built-in copies filling in (see
/// [`Contract::filled_in`]).
const FILLABLE_SCHEMAS: [&str; 15] = [
    NATIVE_QUERY_RESPONSE,
    FILES_RETRIEVE_RESPONSE,
    NATIVE_ERROR,
    V2_SUBMIT_REQUEST,
    V2_SUBMIT_RESPONSE,
    V2_QUERY_RESPONSE,
    V2_ERROR,
    CALLBACK_CHALLENGE,
    CALLBACK_UPDATE,
    V2_LIST_RESPONSE,
    V2_DELETE_RESPONSE,
    V2_REGENERATION_REQUEST,
    OPENAI_VIDEO_REQUEST,
    OPENAI_VIDEO_RESPONSE,
    OPENAI_ERROR,
];

/// Why the contract could not be loaded. Each variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: not valid JSON: {reason}")]
    Json {
        path: String,
        line: usize,
        column: usize,
        reason: String,
    },
    #[error("{path}: not a usable JSON Schema (at {pointer}): {reason}")]
    BadSchema {
        path: String,
        pointer: String,
        reason: String,
    },
    #[error("{path}: does not match schema {schema}: {violation}")]
    InvalidFixture {
        path: String,
        schema: String,
        violation: Violation,
    },
    #[error("{path}: no schema for this fixture: expected schemas/{schema}{SCHEMA_SUFFIX} (a fixture's folder names its schema)")]
    NoSchemaForFixture { path: String, schema: String },
    #[error("{dir}: schema {name}{SCHEMA_SUFFIX} is missing; the server needs it")]
    MissingSchema { dir: String, name: String },
    #[error("{dir}: fixture {name} is missing; the server needs it")]
    MissingFixture { dir: String, name: String },
}

/// One way a document breaks a schema: where, which keyword, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Violation {
    /// JSON pointer of the offending value (for `required`, of the missing member).
    pub pointer: String,
    /// The schema keyword that failed (`type`, `required`, `enum`, ...).
    pub keyword: String,
    /// A readable reason, with a short excerpt of what was found.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pointer = if self.pointer.is_empty() {
            "(root)"
        } else {
            &self.pointer
        };
        write!(f, "{pointer}: {} ({})", self.message, self.keyword)
    }
}

/// A compiled schema.
pub struct Schema {
    name: String,
    validator: jsonschema::Validator,
    /// The schema document, to word what the validator's errors do not say.
    source: Value,
}

impl Schema {
    /// Compiles `source`, named `path` in errors.
    pub fn compile(name: &str, path: &str, source: &Value) -> Result<Self, ContractError> {
        let validator = jsonschema::draft202012::new(source).map_err(|e| ContractError::BadSchema {
            path: path.to_owned(),
            pointer: display_pointer(e.instance_path().as_str()),
            reason: e.to_string(),
        })?;
        Ok(Self {
            name: name.to_owned(),
            validator,
            source: source.clone(),
        })
    }

    /// The schema's name: its file name without `.schema.json`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether `doc` satisfies the schema; the fast check, no error objects.
    pub fn is_valid(&self, doc: &Value) -> bool {
        self.validator.is_valid(doc)
    }

    /// The schema document as loaded (for the OpenAPI document, which embeds it).
    pub fn source(&self) -> &Value {
        &self.source
    }

    /// The compiled validator, for callers that word their own messages from
    /// the error kinds (the `validate` command quotes short excerpts instead of
    /// whole values).
    pub fn validator(&self) -> &jsonschema::Validator {
        &self.validator
    }

    /// Every violation in `doc`, in document order.
    pub fn violations(&self, doc: &Value) -> Vec<Violation> {
        self.validator
            .iter_errors(doc)
            .map(|e| {
                let mut pointer = e.instance_path().as_str().to_owned();
                if let jsonschema::error::ValidationErrorKind::Required { property } = e.kind() {
                    if let Some(name) = property.as_str() {
                        pointer.push('/');
                        pointer.push_str(&escape_pointer_token(name));
                    }
                }
                let (keyword, message) = match self.contains_bound(e.schema_path().as_str()) {
                    Some(bound) => bound,
                    None => (e.kind().keyword().to_owned(), e.to_string()),
                };
                Violation {
                    pointer,
                    keyword,
                    message,
                }
            })
            .collect()
    }

    /// jsonschema reports a broken `maxContains` or `minContains` as
    /// `contains`, "None of [...] are valid", which is wrong for too many
    /// matches: name the bound, the count allowed and the rule's description.
    /// Takes the error's schema path; gives the keyword and the message, or
    /// `None` for any other error. Public so that callers wording their own
    /// messages from [`Schema::validator`] word these the same.
    pub fn contains_bound(&self, schema_path: &str) -> Option<(String, String)> {
        let (parent, keyword) = schema_path.rsplit_once('/')?;
        let relation = match keyword {
            "maxContains" => "more than",
            "minContains" => "fewer than",
            _ => return None,
        };
        let rule = self.source.pointer(parent);
        let count = rule
            .and_then(|r| r.get(keyword))
            .map_or("allowed".to_owned(), Value::to_string);
        let why = rule
            .and_then(|r| r.get("description"))
            .and_then(Value::as_str)
            .map_or(String::new(), |d| format!(" ({d})"));
        let message = format!("{relation} {count} items match the schema at {parent}/contains{why}");
        Some((keyword.to_owned(), message))
    }
}

impl fmt::Debug for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Schema").field("name", &self.name).finish()
    }
}

/// A file of the contract as text, named for error messages.
#[derive(Debug, Clone)]
pub struct Source {
    /// Path relative to its folder, `/`-separated (`error/task_not_exist.json`).
    pub rel: String,
    /// Path shown in messages.
    pub display: String,
    pub text: String,
}

impl Source {
    /// The copies compiled into the binary.
    pub fn embedded(folder: &str) -> Vec<Source> {
        let files = if folder == "schemas" {
            embedded::SCHEMAS
        } else {
            embedded::FIXTURES
        };
        files
            .iter()
            .map(|(rel, text)| Source {
                rel: (*rel).to_owned(),
                display: format!("{folder}/{rel} (built in)"),
                text: (*text).to_owned(),
            })
            .collect()
    }

    /// Every `*.json` file below `dir`, sorted by path.
    pub fn read_dir(dir: &Path) -> Result<Vec<Source>, ContractError> {
        let mut paths = Vec::new();
        walk(dir, &mut paths)?;
        paths.sort();
        paths
            .into_iter()
            .map(|path| {
                let text = std::fs::read_to_string(&path).map_err(|source| ContractError::Io {
                    path: path.clone(),
                    source,
                })?;
                let rel = path
                    .strip_prefix(dir)
                    .unwrap_or(&path)
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                Ok(Source {
                    rel,
                    display: path.display().to_string(),
                    text,
                })
            })
            .collect()
    }

    /// Parses the text, with the line and column of a syntax error.
    pub fn parse(&self) -> Result<Value, ContractError> {
        serde_json::from_str(&self.text).map_err(|e| ContractError::Json {
            path: self.display.clone(),
            line: e.line(),
            column: e.column(),
            reason: strip_position(&e.to_string()),
        })
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), ContractError> {
    let io = |source| ContractError::Io {
        path: dir.to_owned(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    Ok(())
}

/// The loaded, checked contract.
///
/// The built-in contract is bytes compiled into the binary and proven valid
/// by the test suite (`embedded_sources_pass_every_start_up_check`), so it is
/// not checked again at every start, and its schemas compile on first use:
/// compiling is most of start-up (jsonschema first builds its draft 2020-12
/// meta-validator), and only a submission needs one: the first pays about
/// 1.5 ms, once. (Warming them on a spare thread at start was measured to
/// slow the first answer on a busy two-core machine.) A contract read from
/// directories can change between runs, so it is compiled and checked whole
/// before the server starts.
///
/// A directory written before the native and v2 schemas were added (one with
/// only the gateway's four) still loads: the built-in copies fill in the
/// schemas it lacks, and the fixtures of those schemas, and
/// [`Contract::filled_in`] names them so the binary can say so once.
#[derive(Debug)]
pub struct Contract {
    schemas: OnceLock<BTreeMap<String, Schema>>,
    fixtures: BTreeMap<String, Bytes>,
    filled_in: Vec<String>,
    fill_in_notice: Option<String>,
}

impl Contract {
    /// The contract compiled into the binary; its schemas compile on first use.
    pub fn embedded() -> Self {
        let fixtures = embedded::FIXTURES
            .iter()
            .map(|(rel, text)| ((*rel).to_owned(), Bytes::from_static(text.as_bytes())))
            .collect();
        Self {
            schemas: OnceLock::new(),
            fixtures,
            filled_in: Vec::new(),
            fill_in_notice: None,
        }
    }

    fn schemas(&self) -> &BTreeMap<String, Schema> {
        self.schemas.get_or_init(|| {
            Source::embedded("schemas")
                .iter()
                .filter_map(|source| {
                    let name = source.rel.strip_suffix(SCHEMA_SUFFIX)?;
                    let value = source.parse().expect("built-in schemas parse (tested)");
                    let schema =
                        Schema::compile(name, &source.display, &value).expect("built-in schemas compile (tested)");
                    Some((name.to_owned(), schema))
                })
                .collect()
        })
    }

    /// Reads `schemas` and `fixtures` from disk where given, else the built-in copies.
    pub fn load(schemas: Option<&Path>, fixtures: Option<&Path>) -> Result<Self, ContractError> {
        if schemas.is_none() && fixtures.is_none() {
            return Ok(Self::embedded());
        }
        let (schema_dir, schema_sources) = match schemas {
            Some(dir) => (dir.display().to_string(), Source::read_dir(dir)?),
            None => ("schemas (built in)".to_owned(), Source::embedded("schemas")),
        };
        let (fixture_dir, fixture_sources) = match fixtures {
            Some(dir) => (dir.display().to_string(), Source::read_dir(dir)?),
            None => ("fixtures (built in)".to_owned(), Source::embedded("fixtures")),
        };
        Self::from_sources(&schema_dir, schema_sources, &fixture_dir, fixture_sources)
    }

    /// Compiles every schema and checks every fixture against its schema.
    /// Pure: the sources are already in memory.
    ///
    /// The gateway's four schemas must be among `schemas`. A native or v2
    /// schema missing from them is filled in from the built-in copies; so are
    /// its fixtures when `fixtures` has none for it and the schema in use is
    /// the built-in one (a schema of your own keeps only your fixtures).
    pub fn from_sources(
        schema_dir: &str,
        schemas: Vec<Source>,
        fixture_dir: &str,
        mut fixtures: Vec<Source>,
    ) -> Result<Self, ContractError> {
        let mut compiled = BTreeMap::new();
        let mut given = BTreeMap::new();
        for source in &schemas {
            let Some(name) = source.rel.strip_suffix(SCHEMA_SUFFIX) else {
                continue;
            };
            let value = source.parse()?;
            compiled.insert(name.to_owned(), Schema::compile(name, &source.display, &value)?);
            given.insert(name, value);
        }
        for name in REQUIRED_SCHEMAS {
            if !compiled.contains_key(name) {
                return Err(ContractError::MissingSchema {
                    dir: schema_dir.to_owned(),
                    name: name.to_owned(),
                });
            }
        }
        let builtin_schemas = Source::embedded("schemas");
        let builtin_fixtures = Source::embedded("fixtures");
        let (mut filled_schemas, mut filled_fixtures) = (Vec::new(), Vec::new());
        for name in FILLABLE_SCHEMAS {
            let file = format!("{name}{SCHEMA_SUFFIX}");
            let builtin = builtin_schemas
                .iter()
                .find(|s| s.rel == file)
                .expect("every fillable schema is built in");
            let value = builtin.parse()?;
            match given.get(name) {
                Some(own) if *own != value => continue,
                Some(_) => {}
                None => {
                    compiled.insert(name.to_owned(), Schema::compile(name, &builtin.display, &value)?);
                    filled_schemas.push(name);
                }
            }
            let folder = format!("{name}/");
            if !fixtures.iter().any(|f| f.rel.starts_with(&folder)) {
                let before = fixtures.len();
                fixtures.extend(builtin_fixtures.iter().filter(|f| f.rel.starts_with(&folder)).cloned());
                if fixtures.len() > before {
                    filled_fixtures.push(name);
                }
            }
        }
        let fill_in_notice = fill_in_notice(schema_dir, &filled_schemas, fixture_dir, &filled_fixtures);
        let mut filled_in: Vec<String> = filled_schemas
            .into_iter()
            .chain(filled_fixtures)
            .map(str::to_owned)
            .collect();
        filled_in.sort();
        filled_in.dedup();
        let mut checked = BTreeMap::new();
        for source in fixtures {
            let schema_name = source.rel.split_once('/').map_or("", |(dir, _)| dir);
            let Some(schema) = compiled.get(schema_name) else {
                return Err(ContractError::NoSchemaForFixture {
                    path: source.display,
                    schema: schema_name.to_owned(),
                });
            };
            let value = source.parse()?;
            if let Some(violation) = schema.violations(&value).into_iter().next() {
                return Err(ContractError::InvalidFixture {
                    path: source.display,
                    schema: schema_name.to_owned(),
                    violation,
                });
            }
            checked.insert(source.rel, Bytes::from(source.text));
        }
        if !checked.contains_key(DOCUMENTED_FIXTURE) {
            return Err(ContractError::MissingFixture {
                dir: fixture_dir.to_owned(),
                name: DOCUMENTED_FIXTURE.to_owned(),
            });
        }
        Ok(Self {
            schemas: OnceLock::from(compiled),
            fixtures: checked,
            filled_in,
            fill_in_notice,
        })
    }

    /// Names of the native and v2 schemas whose schema, fixtures or both came
    /// from the built-in copies because the given directories predate them;
    /// sorted, empty for the built-in contract or a complete directory.
    pub fn filled_in(&self) -> &[String] {
        &self.filled_in
    }

    /// One line saying what [`Contract::filled_in`] took from the built-in
    /// copies and for which directory, for the binary to print once at
    /// start-up; `None` when nothing was filled in.
    pub fn fill_in_notice(&self) -> Option<&str> {
        self.fill_in_notice.as_deref()
    }

    /// A schema by name (`error`, `query_video_generation.response`, ...).
    pub fn schema(&self, name: &str) -> Option<&Schema> {
        self.schemas().get(name)
    }

    /// The schema of the query response; always present once loaded.
    pub fn query_response(&self) -> &Schema {
        &self.schemas()[QUERY_RESPONSE]
    }

    /// The schema of the error envelope; always present once loaded.
    pub fn error(&self) -> &Schema {
        &self.schemas()[ERROR]
    }

    /// The schema of the submit request; always present once loaded.
    pub fn submit_request(&self) -> &Schema {
        &self.schemas()[SUBMIT_REQUEST]
    }

    /// The schema of the submit response; always present once loaded.
    pub fn submit_response(&self) -> &Schema {
        &self.schemas()[SUBMIT_RESPONSE]
    }

    /// The schema of MiniMax's native query response; always present once loaded.
    pub fn native_query_response(&self) -> &Schema {
        &self.schemas()[NATIVE_QUERY_RESPONSE]
    }

    /// The schema of the file record (files/retrieve); always present once loaded.
    pub fn files_retrieve_response(&self) -> &Schema {
        &self.schemas()[FILES_RETRIEVE_RESPONSE]
    }

    /// The schema of MiniMax's native error body; always present once loaded.
    pub fn native_error(&self) -> &Schema {
        &self.schemas()[NATIVE_ERROR]
    }

    /// The schema of the v2 submit request; always present once loaded.
    pub fn v2_submit_request(&self) -> &Schema {
        &self.schemas()[V2_SUBMIT_REQUEST]
    }

    /// The schema of the v2 submit response; always present once loaded.
    pub fn v2_submit_response(&self) -> &Schema {
        &self.schemas()[V2_SUBMIT_RESPONSE]
    }

    /// The schema of the v2 query response and v2 callback body; always present once loaded.
    pub fn v2_query_response(&self) -> &Schema {
        &self.schemas()[V2_QUERY_RESPONSE]
    }

    /// The schema of v2's error body; always present once loaded.
    pub fn v2_error(&self) -> &Schema {
        &self.schemas()[V2_ERROR]
    }

    /// The schema of the v2 list response; always present once loaded.
    pub fn v2_list_response(&self) -> &Schema {
        &self.schemas()[V2_LIST_RESPONSE]
    }

    /// The schema of the v2 delete response; always present once loaded.
    pub fn v2_delete_response(&self) -> &Schema {
        &self.schemas()[V2_DELETE_RESPONSE]
    }

    /// The schema of the v2 regeneration request; always present once loaded.
    pub fn v2_regeneration_request(&self) -> &Schema {
        &self.schemas()[V2_REGENERATION_REQUEST]
    }

    /// The schema of the callback challenge; always present once loaded.
    pub fn callback_challenge(&self) -> &Schema {
        &self.schemas()[CALLBACK_CHALLENGE]
    }

    /// The schema of a v1 callback update; always present once loaded.
    pub fn callback_update(&self) -> &Schema {
        &self.schemas()[CALLBACK_UPDATE]
    }

    /// The schema of the OpenAI-compatible video submit; always present once loaded.
    pub fn openai_video_request(&self) -> &Schema {
        &self.schemas()[OPENAI_VIDEO_REQUEST]
    }

    /// Names of every loaded schema.
    pub fn schema_names(&self) -> impl Iterator<Item = &str> {
        self.schemas().keys().map(String::as_str)
    }

    /// A fixture's bytes, exactly as in its file.
    pub fn fixture(&self, rel: &str) -> Option<&Bytes> {
        self.fixtures.get(rel)
    }

    /// Every fixture, by path relative to the fixtures folder.
    pub fn fixtures(&self) -> impl Iterator<Item = (&str, &Bytes)> {
        self.fixtures.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The documented success example, byte for byte (CRLFs kept).
    pub fn documented_example(&self) -> &Bytes {
        &self.fixtures[DOCUMENTED_FIXTURE]
    }
}

/// `DIR lacks a, b: using the built-in schemas; DIR has no fixtures for c:
/// using the built-in ones`, or `None` when nothing was filled in.
fn fill_in_notice(schema_dir: &str, schemas: &[&str], fixture_dir: &str, fixtures: &[&str]) -> Option<String> {
    let mut parts = Vec::new();
    if !schemas.is_empty() {
        parts.push(format!(
            "{schema_dir} lacks {} (added since): using the built-in schemas",
            schemas.join(", ")
        ));
    }
    if !fixtures.is_empty() {
        parts.push(format!(
            "{fixture_dir} has no fixtures for {}: using the built-in ones",
            fixtures.join(", ")
        ));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

fn escape_pointer_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

fn display_pointer(pointer: &str) -> String {
    if pointer.is_empty() {
        "/".to_owned()
    } else {
        pointer.to_owned()
    }
}

/// serde_json appends " at line L column C"; we print the position first.
pub(crate) fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// What lets `Contract::embedded` skip the start-up checks: the same
    /// bytes pass every one of them here.
    #[test]
    fn embedded_sources_pass_every_start_up_check() {
        let checked =
            Contract::from_sources("s", Source::embedded("schemas"), "f", Source::embedded("fixtures")).unwrap();
        let lazy = Contract::embedded();
        assert_eq!(
            checked.schema_names().collect::<Vec<_>>(),
            lazy.schema_names().collect::<Vec<_>>()
        );
        assert_eq!(
            checked
                .fixtures()
                .map(|(k, v)| (k.to_owned(), v.clone()))
                .collect::<Vec<_>>(),
            lazy.fixtures()
                .map(|(k, v)| (k.to_owned(), v.clone()))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn embedded_contract_loads_and_keeps_crlf() {
        let contract = Contract::embedded();
        let doc = contract.documented_example();
        assert_eq!(doc.windows(2).filter(|w| w == b"\r\n").count(), 33);
        assert!(!doc.ends_with(b"\n"));
    }

    #[test]
    fn violations_name_pointer_keyword_and_reason() {
        let contract = Contract::embedded();
        let mut doc: Value = serde_json::from_slice(contract.documented_example()).unwrap();
        doc["data"]["data"]["file"]["file_id"] = json!("306793063383292");
        doc["data"].as_object_mut().unwrap().remove("progress");
        let schema = contract.query_response();
        assert!(!schema.is_valid(&doc));
        let v = schema.violations(&doc);
        assert_eq!(v.len(), 2, "{v:?}");
        let pointers: Vec<_> = v.iter().map(|v| (v.pointer.as_str(), v.keyword.as_str())).collect();
        assert!(pointers.contains(&("/data/progress", "required")), "{pointers:?}");
        assert!(pointers.contains(&("/data/data/file/file_id", "type")), "{pointers:?}");
    }

    fn sources(files: &[(&str, &str)]) -> Vec<Source> {
        files
            .iter()
            .map(|(rel, text)| Source {
                rel: (*rel).to_owned(),
                display: format!("dir/{rel}"),
                text: (*text).to_owned(),
            })
            .collect()
    }

    #[test]
    fn broken_fixture_is_named_with_pointer() {
        let mut fixtures = Source::embedded("fixtures");
        fixtures.push(sources(&[("error/bad.json", r#"{"code": 1, "message": "", "data": null}"#)]).remove(0));
        let err = Contract::from_sources("s", Source::embedded("schemas"), "f", fixtures).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("dir/error/bad.json: does not match schema error: /code:"),
            "{msg}"
        );
    }

    #[test]
    fn unparsable_fixture_names_line_and_column() {
        let mut fixtures = Source::embedded("fixtures");
        fixtures.push(sources(&[("error/bad.json", "{\n  \"code\": \"x\",,\n}")]).remove(0));
        let err = Contract::from_sources("s", Source::embedded("schemas"), "f", fixtures).unwrap_err();
        assert!(
            err.to_string().starts_with("dir/error/bad.json:2:15: not valid JSON"),
            "{err}"
        );
    }

    #[test]
    fn missing_schema_and_orphan_fixture_are_errors() {
        let schemas: Vec<_> = Source::embedded("schemas")
            .into_iter()
            .filter(|s| !s.rel.starts_with("error"))
            .collect();
        let err = Contract::from_sources("s", schemas, "f", vec![]).unwrap_err();
        assert!(matches!(err, ContractError::MissingSchema { ref name, .. } if name == "error"));
        let orphan = sources(&[("nowhere/x.json", "{}")]);
        let err = Contract::from_sources("s", Source::embedded("schemas"), "f", orphan).unwrap_err();
        assert!(matches!(err, ContractError::NoSchemaForFixture { .. }), "{err}");
    }

    #[test]
    fn bad_schema_is_reported() {
        let mut schemas = Source::embedded("schemas");
        schemas.extend(sources(&[("x.schema.json", r#"{"type": 12}"#)]));
        let err = Contract::from_sources("s", schemas, "f", Source::embedded("fixtures")).unwrap_err();
        assert!(matches!(err, ContractError::BadSchema { .. }), "{err}");
    }

    #[test]
    fn a_broken_contains_bound_is_named() {
        let source = json!({
            "type": "array",
            "contains": {"const": 1},
            "minContains": 1,
            "maxContains": 2,
            "description": "One or two 1s."
        });
        let schema = Schema::compile("x", "x", &source).unwrap();
        let v = schema.violations(&json!([1, 1, 1]));
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!((v[0].pointer.as_str(), v[0].keyword.as_str()), ("", "maxContains"));
        assert_eq!(
            v[0].message,
            "more than 2 items match the schema at /contains (One or two 1s.)"
        );
        let v = schema.violations(&json!([2]));
        assert_eq!(v[0].keyword, "minContains");
        assert_eq!(
            v[0].message,
            "fewer than 1 items match the schema at /contains (One or two 1s.)"
        );
    }

    /// Every schema has examples, and each is valid (the start-up check
    /// above proves it too; this one says which schema lacks examples).
    #[test]
    fn every_schema_has_fixtures_that_validate() {
        let contract = Contract::embedded();
        for name in REQUIRED_SCHEMAS.iter().chain(&FILLABLE_SCHEMAS) {
            let schema = contract.schema(name).unwrap_or_else(|| panic!("no schema {name}"));
            let folder = format!("{name}/");
            let mut count = 0;
            for (rel, bytes) in contract.fixtures().filter(|(rel, _)| rel.starts_with(&folder)) {
                let doc: Value = serde_json::from_slice(bytes).unwrap();
                assert_eq!(schema.violations(&doc), vec![], "{rel}");
                count += 1;
            }
            assert!(count > 0, "no fixture for {name}");
        }
    }

    #[test]
    fn accessors_name_their_schemas() {
        let c = Contract::embedded();
        let pairs = [
            (c.native_query_response(), NATIVE_QUERY_RESPONSE),
            (c.files_retrieve_response(), FILES_RETRIEVE_RESPONSE),
            (c.native_error(), NATIVE_ERROR),
            (c.v2_submit_request(), V2_SUBMIT_REQUEST),
            (c.v2_submit_response(), V2_SUBMIT_RESPONSE),
            (c.v2_query_response(), V2_QUERY_RESPONSE),
            (c.v2_error(), V2_ERROR),
            (c.callback_challenge(), CALLBACK_CHALLENGE),
            (c.callback_update(), CALLBACK_UPDATE),
            (c.v2_list_response(), V2_LIST_RESPONSE),
            (c.v2_delete_response(), V2_DELETE_RESPONSE),
            (c.v2_regeneration_request(), V2_REGENERATION_REQUEST),
        ];
        for (schema, name) in pairs {
            assert_eq!(schema.name(), name);
        }
        assert!(c.filled_in().is_empty());
        assert_eq!(c.fill_in_notice(), None);
    }

    /// A fixture of `name`, parsed, for tests to break.
    fn example(contract: &Contract, rel: &str) -> Value {
        serde_json::from_slice(contract.fixture(rel).unwrap_or_else(|| panic!("no fixture {rel}"))).unwrap()
    }

    /// The first violation's pointer and keyword, for a document that must fail.
    fn rejects(schema: &Schema, doc: &Value) -> (String, String) {
        let v = schema.violations(doc);
        assert!(!schema.is_valid(doc), "{} accepted {doc}", schema.name());
        let first = v
            .first()
            .unwrap_or_else(|| panic!("{}: no violation for {doc}", schema.name()));
        (first.pointer.clone(), first.keyword.clone())
    }

    /// The v2 request rules, at the pointers `validate` reports (every rule
    /// both ways is in `server::api::v2_rules`'s tests, against this schema).
    #[test]
    fn v2_request_rules() {
        let c = Contract::embedded();
        let schema = c.v2_submit_request();
        let text = example(&c, "v2_video_generation.request/text-only-16x9.json");
        let image = example(
            &c,
            "v2_video_generation.request/image-to-video-first-frame-adaptive.json",
        );

        // Text alone: ratio required, and not adaptive.
        let mut doc = text.clone();
        doc["ratio"] = json!("adaptive");
        assert_eq!(rejects(schema, &doc), ("/ratio".into(), "not".into()));
        doc.as_object_mut().unwrap().remove("ratio");
        assert_eq!(rejects(schema, &doc), ("/ratio".into(), "required".into()));
        // With an image, no ratio is fine.
        let mut doc = image.clone();
        doc.as_object_mut().unwrap().remove("ratio");
        assert!(schema.is_valid(&doc), "{:?}", schema.violations(&doc));

        let frame =
            |role: &str| json!({"type": "image_url", "image_url": {"url": "https://example.com/f.png"}, "role": role});
        let mut doc = image.clone();
        doc["content"].as_array_mut().unwrap().push(frame("last_frame"));
        assert!(schema.is_valid(&doc), "two frames: {:?}", schema.violations(&doc));
        doc["content"].as_array_mut().unwrap().push(frame("last_frame"));
        assert_eq!(rejects(schema, &doc), ("/content".into(), "maxContains".into()));
        assert_eq!(
            schema.violations(&doc)[0].message,
            "more than 1 items match the schema at /properties/content/allOf/3/contains (At most one last_frame image.)"
        );

        let mut doc = text.clone();
        doc["content"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "text", "text": "again"}));
        assert_eq!(rejects(schema, &doc), ("/content".into(), "maxContains".into()));

        let mut doc = image.clone();
        doc["content"][1]["image_url"]["url"] = json!("ftp://example.com/f.png");
        assert_eq!(
            rejects(schema, &doc),
            ("/content/1/image_url/url".into(), "pattern".into())
        );
        for url in ["data:image/png;base64,iVBORw0KGgo=", "mm_file://306793063383292"] {
            doc["content"][1]["image_url"]["url"] = json!(url);
            assert!(schema.is_valid(&doc), "{:?}", schema.violations(&doc));
        }
        doc["content"][1]["role"] = json!("middle_frame");
        assert_eq!(rejects(schema, &doc).0, "/content/1/role");
        doc["content"][1].as_object_mut().unwrap().remove("role");
        assert!(
            schema.is_valid(&doc),
            "a single image without a role: {:?}",
            schema.violations(&doc)
        );
        doc["content"][0].as_object_mut().unwrap().remove("text");
        assert_eq!(rejects(schema, &doc), ("/content/0/text".into(), "required".into()));

        for (member, bad) in [
            ("model", json!("MiniMax-Hailuo-02")),
            ("duration", json!(16)),
            ("duration", json!(3)),
            ("resolution", json!("1080P")),
            ("content", json!([])),
        ] {
            let mut doc = text.clone();
            doc[member] = bad;
            assert_eq!(rejects(schema, &doc).0, format!("/{member}"));
        }
        for member in ["resolution", "duration"] {
            let mut doc = text.clone();
            doc.as_object_mut().unwrap().remove(member);
            assert_eq!(rejects(schema, &doc), (format!("/{member}"), "required".into()));
        }
        let mut doc = text.clone();
        doc["content"][0]["text"] = json!("x".repeat(7001));
        assert_eq!(rejects(schema, &doc), ("/content/0/text".into(), "maxLength".into()));
        doc["content"][0]["text"] = json!("x".repeat(7000));
        assert!(schema.is_valid(&doc));
    }

    /// The list's task is the query's task: one definition, in two files.
    #[test]
    fn the_list_item_is_the_query_task() {
        let c = Contract::embedded();
        assert_eq!(
            c.v2_list_response().source()["$defs"]["task"],
            c.v2_query_response().source()["properties"]["task"]
        );
    }

    #[test]
    fn native_query_has_file_and_size_only_on_success() {
        let c = Contract::embedded();
        let schema = c.native_query_response();
        let success = example(&c, "native_query_video_generation.response/success.json");
        for member in ["file_id", "video_width", "video_height"] {
            let mut doc = success.clone();
            doc.as_object_mut().unwrap().remove(member);
            assert_eq!(rejects(schema, &doc), (format!("/{member}"), "required".into()));
        }
        let mut doc = example(&c, "native_query_video_generation.response/processing.json");
        doc["file_id"] = json!("306793063383292");
        assert_eq!(rejects(schema, &doc), ("/file_id".into(), "falseSchema".into()));
        let mut doc = example(&c, "native_query_video_generation.response/fail.json");
        doc["base_resp"]["status_code"] = json!(0);
        assert_eq!(rejects(schema, &doc), ("/base_resp/status_code".into(), "not".into()));
        doc["status"] = json!("Failed");
        assert_eq!(rejects(schema, &doc), ("/status".into(), "enum".into()));
    }

    #[test]
    fn other_new_schemas_reject_a_bad_document() {
        let c = Contract::embedded();
        let cases = [
            (
                c.files_retrieve_response(),
                "files_retrieve.response/success.json",
                "/file/file_id",
                json!("306793063383292"),
            ),
            (
                c.native_error(),
                "native_error/task-not-found.json",
                "/base_resp/status_code",
                json!(0),
            ),
            (
                c.v2_submit_response(),
                "v2_video_generation.response/success.json",
                "/task_id",
                json!(318542201929730_u64),
            ),
            (c.v2_error(), "v2_error/invalid-task-id.json", "/type", json!("fail")),
            (
                c.v2_error(),
                "v2_error/invalid-task-id.json",
                "/error/http_code",
                json!(400),
            ),
            (
                c.v2_query_response(),
                "v2_query_video_generation.response/failed.json",
                "/task/error/code",
                json!(1026),
            ),
            (
                c.v2_delete_response(),
                "v2_delete_video_generation.response/cancelled.json",
                "/status",
                json!("deleted"),
            ),
            (
                c.v2_list_response(),
                "v2_list_video_generation.response/page.json",
                "/total",
                json!("2"),
            ),
            (
                c.callback_challenge(),
                "callback.challenge/challenge.json",
                "/challenge",
                json!(1),
            ),
            (
                c.callback_update(),
                "callback.update/processing.json",
                "/file_id",
                json!("306793063383292"),
            ),
            (
                c.callback_update(),
                "callback.update/success.json",
                "/file_id",
                json!(""),
            ),
            (
                c.v2_query_response(),
                "v2_query_video_generation.response/queued.json",
                "/task/status",
                json!("Success"),
            ),
        ];
        for (schema, rel, pointer, bad) in cases {
            let mut doc = example(&c, rel);
            *doc.pointer_mut(pointer).unwrap() = bad;
            assert_eq!(rejects(schema, &doc).0, pointer, "{rel}");
        }
        let cases = [
            (
                c.files_retrieve_response(),
                "files_retrieve.response/success.json",
                "/file",
                "download_url",
            ),
            (
                c.v2_query_response(),
                "v2_query_video_generation.response/succeeded.json",
                "/task",
                "content",
            ),
            (
                c.v2_query_response(),
                "v2_query_video_generation.response/succeeded.json",
                "/task",
                "usage",
            ),
            (
                c.v2_query_response(),
                "v2_query_video_generation.response/failed.json",
                "/task",
                "error",
            ),
            (c.callback_update(), "callback.update/processing.json", "", "file_id"),
        ];
        for (schema, rel, parent, member) in cases {
            let mut doc = example(&c, rel);
            doc.pointer_mut(parent).unwrap().as_object_mut().unwrap().remove(member);
            assert_eq!(
                rejects(schema, &doc),
                (format!("{parent}/{member}"), "required".into()),
                "{rel}"
            );
        }
    }

    /// The schemas and fixtures of a directory written before the native and v2 ones.
    fn gateway_only(folder: &str) -> Vec<Source> {
        Source::embedded(folder)
            .into_iter()
            .filter(|s| {
                let name = s.rel.strip_suffix(SCHEMA_SUFFIX).unwrap_or(&s.rel);
                let name = name.split_once('/').map_or(name, |(dir, _)| dir);
                !FILLABLE_SCHEMAS.contains(&name)
            })
            .collect()
    }

    #[test]
    fn a_gateway_only_contract_is_filled_in_from_the_built_in_copies() {
        assert_eq!(gateway_only("schemas").len(), REQUIRED_SCHEMAS.len());
        let c = Contract::from_sources(
            "old/schemas",
            gateway_only("schemas"),
            "old/fixtures",
            gateway_only("fixtures"),
        )
        .unwrap();
        let mut all: Vec<_> = FILLABLE_SCHEMAS.iter().map(|s| s.to_string()).collect();
        all.sort();
        assert_eq!(c.filled_in(), all);
        let notice = c.fill_in_notice().unwrap();
        assert!(
            notice.starts_with(
                "old/schemas lacks native_query_video_generation.response, files_retrieve.response, native_error, "
            ),
            "{notice}"
        );
        assert!(
            notice.contains(" (added since): using the built-in schemas; old/fixtures has no fixtures for native_"),
            "{notice}"
        );
        assert!(notice.ends_with(", openai_error: using the built-in ones"), "{notice}");
        assert_eq!(c.v2_submit_request().name(), V2_SUBMIT_REQUEST);
        let builtin = Contract::embedded();
        assert_eq!(
            c.fixtures().map(|(k, _)| k).collect::<Vec<_>>(),
            builtin.fixtures().map(|(k, _)| k).collect::<Vec<_>>()
        );

        // Old schemas, built-in fixtures: only the schemas are filled in.
        let c = Contract::from_sources("old", gateway_only("schemas"), "f", Source::embedded("fixtures")).unwrap();
        assert_eq!(c.filled_in(), all);
        assert!(!c.fill_in_notice().unwrap().contains("fixtures"));
        // Built-in schemas, old fixtures: only the fixtures are.
        let c = Contract::from_sources("s", Source::embedded("schemas"), "old", gateway_only("fixtures")).unwrap();
        assert_eq!(c.filled_in(), all);
        assert!(c.fill_in_notice().unwrap().starts_with("old has no fixtures for "));
        // A complete directory: nothing.
        let c = Contract::from_sources("s", Source::embedded("schemas"), "f", Source::embedded("fixtures")).unwrap();
        assert!(c.filled_in().is_empty());
        assert_eq!(c.fill_in_notice(), None);
    }

    #[test]
    fn a_directory_with_its_own_new_schema_uses_it() {
        let mut schemas = gateway_only("schemas");
        schemas.extend(sources(&[("v2_error.schema.json", r#"{"type": "array"}"#)]));
        let c = Contract::from_sources("mine", schemas, "old", gateway_only("fixtures")).unwrap();
        assert!(c.v2_error().is_valid(&json!([])));
        assert!(!c.v2_error().is_valid(&json!({"error": {"code": 2013, "message": "x"}})));
        assert!(!c.filled_in().iter().any(|n| n == V2_ERROR), "{:?}", c.filled_in());
        assert_eq!(c.filled_in().len(), FILLABLE_SCHEMAS.len() - 1);
        // Its schema is not the built-in one, so the built-in examples are not added.
        assert_eq!(c.fixtures().filter(|(k, _)| k.starts_with("v2_error/")).count(), 0);

        // Its own fixtures are checked against its own schema, file named.
        let mut schemas = gateway_only("schemas");
        schemas.extend(sources(&[("v2_error.schema.json", r#"{"type": "array"}"#)]));
        let mut fixtures = gateway_only("fixtures");
        fixtures.extend(sources(&[("v2_error/x.json", r#"{"error": 1}"#)]));
        let err = Contract::from_sources("mine", schemas, "mine", fixtures).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("dir/v2_error/x.json: does not match schema v2_error: (root):"),
            "{err}"
        );

        // A filled-in schema still judges the directory's fixtures for it.
        let mut fixtures = gateway_only("fixtures");
        fixtures.extend(sources(&[(
            "native_error/ok.json",
            r#"{"base_resp": {"status_code": 0, "status_msg": ""}}"#,
        )]));
        let err = Contract::from_sources("old", gateway_only("schemas"), "mine", fixtures).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("dir/native_error/ok.json: does not match schema native_error: /base_resp/status_code:"),
            "{err}"
        );
    }

    #[test]
    fn load_fills_in_an_old_schemas_directory() {
        let dir = std::env::temp_dir().join(format!("minimax-mock-old-schemas-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for source in gateway_only("schemas") {
            std::fs::write(dir.join(&source.rel), &source.text).unwrap();
        }
        let loaded = Contract::load(Some(&dir), None);
        std::fs::remove_dir_all(&dir).unwrap();
        let c = loaded.unwrap();
        assert_eq!(c.filled_in().len(), FILLABLE_SCHEMAS.len());
        assert!(c
            .fill_in_notice()
            .unwrap()
            .starts_with(&format!("{} lacks ", dir.display())));
        assert!(c
            .native_query_response()
            .is_valid(&example(&c, "native_query_video_generation.response/success.json")));
    }
}

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

pub mod jsonpos;

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
/// The documented success example, served for [`DOCUMENTED_TASK_ID`].
pub const DOCUMENTED_FIXTURE: &str = "query_video_generation.response/documented-success.json";
/// The task id of the documentation's example.
pub const DOCUMENTED_TASK_ID: &str = "306792606023824";

const SCHEMA_SUFFIX: &str = ".schema.json";
const REQUIRED_SCHEMAS: [&str; 4] = [QUERY_RESPONSE, ERROR, SUBMIT_REQUEST, SUBMIT_RESPONSE];

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
    fn contains_bound(&self, schema_path: &str) -> Option<(String, String)> {
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
#[derive(Debug)]
pub struct Contract {
    schemas: OnceLock<BTreeMap<String, Schema>>,
    fixtures: BTreeMap<String, Bytes>,
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
    pub fn from_sources(
        schema_dir: &str,
        schemas: Vec<Source>,
        fixture_dir: &str,
        fixtures: Vec<Source>,
    ) -> Result<Self, ContractError> {
        let mut compiled = BTreeMap::new();
        for source in &schemas {
            let Some(name) = source.rel.strip_suffix(SCHEMA_SUFFIX) else {
                continue;
            };
            let value = source.parse()?;
            compiled.insert(name.to_owned(), Schema::compile(name, &source.display, &value)?);
        }
        for name in REQUIRED_SCHEMAS {
            if !compiled.contains_key(name) {
                return Err(ContractError::MissingSchema {
                    dir: schema_dir.to_owned(),
                    name: name.to_owned(),
                });
            }
        }
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
        })
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
}

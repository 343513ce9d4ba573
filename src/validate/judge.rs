//! Judging: which schema a document answers to, and every way it fails it.
//!
//! Pure: bytes in, verdicts out, so the workers of `run` share one [`Judge`]
//! and the tests need no files. The readers only split their input; the
//! glue that judges each piece lives here, next to the schema choice it needs.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use super::checks::{consistency, unknown_fields};
use super::curl::parse_http;
use super::detect::{detect, is_blank, strip_bom, trim_cr, Kind};
use super::har::{base64_decode, fate, har_doc, har_entries, Fate, HarDoc, HarEntry};
use super::ndjson::find_newline;
use super::{excerpt, Endpoint, Event, Finding, InputError, Locator, Origin, SchemaError, Skipped, Verdict};
use crate::contract::jsonpos::{self, Position};
use crate::contract::{self, Contract, Schema};

// ---------------------------------------------------------------------------
// Choosing the schema, and judging a document against it.

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
    native_query: Rule<'c>,
    native_error: Rule<'c>,
    files: Rule<'c>,
    v2_submit: Rule<'c>,
    v2_query: Rule<'c>,
    v2_error: Rule<'c>,
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
            native_query: must(contract::NATIVE_QUERY_RESPONSE)?,
            native_error: must(contract::NATIVE_ERROR)?,
            files: must(contract::FILES_RETRIEVE_RESPONSE)?,
            v2_submit: must(contract::V2_SUBMIT_RESPONSE)?,
            v2_query: must(contract::V2_QUERY_RESPONSE)?,
            v2_error: must(contract::V2_ERROR)?,
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
        // MiniMax answers its own errors as `{"base_resp": {...}}`, with HTTP 200.
        let base_resp_only = || doc.get("base_resp").is_some() && doc.as_object().is_some_and(|o| o.len() == 1);
        match (endpoint.or(self.chosen_endpoint), failed) {
            (None, _) => &self.chosen,
            // Some gateways pass MiniMax's query body through (the mock's `--gateway-query native`).
            (Some(Endpoint::Query), false) if doc.get("base_resp").is_some() && doc.get("data").is_none() => {
                &self.native_query
            }
            (Some(Endpoint::Query), false) => &self.query,
            (Some(Endpoint::Query), true) => &self.error,
            (Some(Endpoint::Submit), false) => &self.submit,
            // Submit answers invalid parameters in MiniMax's own shape, and
            // everything else (unknown scenario, body too large) in the gateway's.
            (Some(Endpoint::Submit), true) if doc.get("base_resp").is_some() => &self.submit,
            (Some(Endpoint::Submit), true) => &self.error,
            (Some(Endpoint::NativeSubmit), _) if doc.get("base_resp").is_some() => &self.submit,
            (Some(Endpoint::NativeSubmit), _) => &self.native_error,
            (Some(Endpoint::NativeQuery), false) if !base_resp_only() => &self.native_query,
            (Some(Endpoint::Files), false) if !base_resp_only() => &self.files,
            (Some(Endpoint::NativeQuery | Endpoint::Files), _) => &self.native_error,
            (Some(Endpoint::V2Submit), false) => &self.v2_submit,
            (Some(Endpoint::V2Query), false) => &self.v2_query,
            (Some(Endpoint::V2Submit | Endpoint::V2Query), true) => &self.v2_error,
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
// Files: each kind split by its reader, each piece judged.

impl Judge<'_> {
    /// Judges the body of a HAR entry, decoded if base64; `run` hands the
    /// entries of streamed files here too.
    pub(super) fn judge_har_doc(&self, file: &Arc<str>, doc: HarDoc) -> Event {
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

    /// Judges one HTTP exchange seen live (by `proxy`) exactly as a HAR
    /// entry of `file` at `index` with the same request and response would
    /// be judged: the same endpoint choice, schema and checks, so a live
    /// finding and `validate` on the recording agree. `None` when the entry
    /// would be skipped (another URL, a preflight, no body).
    pub fn judge_entry(&self, file: &Arc<str>, index: usize, entry: HarEntry) -> Option<Event> {
        match fate(&entry) {
            Fate::Skip(_) => None,
            Fate::Judge(endpoint, status) => Some(self.judge_har_doc(file, har_doc(index, endpoint, status, entry))),
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
    fn native_and_v2_endpoints_pick_their_schemas() {
        let c = contract();
        let judge = Judge::new(&c, contract::QUERY_RESPONSE, false).unwrap();
        let pick = |endpoint, status| Pick::Http {
            endpoint: Some(endpoint),
            status,
        };
        let native_error = json!({"base_resp": {"status_code": 2013, "status_msg": "x"}});
        let native_query = json!({"task_id": "1", "status": "Queueing", "base_resp": {"status_code": 0}});
        let cases = [
            (
                pick(Endpoint::NativeQuery, 200),
                &native_query,
                contract::NATIVE_QUERY_RESPONSE,
            ),
            (pick(Endpoint::NativeQuery, 200), &native_error, contract::NATIVE_ERROR),
            (pick(Endpoint::Files, 200), &native_error, contract::NATIVE_ERROR),
            (
                pick(Endpoint::Files, 200),
                &json!({"file": {}, "base_resp": {}}),
                contract::FILES_RETRIEVE_RESPONSE,
            ),
            (
                pick(Endpoint::NativeSubmit, 200),
                &json!({"task_id": "1", "base_resp": {}}),
                contract::SUBMIT_RESPONSE,
            ),
            (
                pick(Endpoint::V2Submit, 200),
                &json!({"task_id": "1"}),
                contract::V2_SUBMIT_RESPONSE,
            ),
            (pick(Endpoint::V2Query, 404), &json!({"error": {}}), contract::V2_ERROR),
            (
                pick(Endpoint::V2Query, 200),
                &json!({"task": {}}),
                contract::V2_QUERY_RESPONSE,
            ),
            // The gateway passing MiniMax's query body through.
            (
                pick(Endpoint::Query, 200),
                &native_query,
                contract::NATIVE_QUERY_RESPONSE,
            ),
        ];
        for (pick, doc, schema) in cases {
            assert_eq!(&*judge.rule(pick, doc).name, schema, "{pick:?} {doc}");
        }
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

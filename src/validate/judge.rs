//! Judging: which schema a document answers to, and every way it fails it.
//!
//! Pure: bytes in, verdicts out, so the workers of `run` share one [`Judge`]
//! and the tests need no files. The readers only split their input; the
//! glue that judges each piece lives here, next to the schema choice it needs.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use super::checks::{consistency, unknown_fields};
use super::curl::parse_http;
use super::detect::{detect, is_blank, strip_bom, trim_cr, Kind};
use super::har::{base64_decode, fate, har_doc, har_entries, Fate, HarDoc, HarEntry};
use super::ndjson::find_newline;
use super::pick::{nearest, shape, CONTRACTS};
use super::{
    excerpt, Basis, Endpoint, Event, Finding, InputError, Locator, Origin, SchemaError, Skipped, Verdict, AUTO,
};
use crate::contract::jsonpos::{self, Position};
use crate::contract::{self, Contract, Schema};

// ---------------------------------------------------------------------------
// Choosing the schema, and judging a document against it.

/// Where a document came from, as far as choosing its schema goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// A body alone (a saved file, an NDJSON line): the schema `--schema`
    /// named, or with `auto` the contract whose shape the body has.
    Body,
    /// An HTTP response: by endpoint (a HAR entry's URL; for a `curl -i`
    /// capture, the endpoint of the schema `--schema` named, if any) and
    /// status; a `curl -i` capture with `auto`, by shape and status.
    Http { endpoint: Option<Endpoint>, status: u16 },
}

enum SchemaRef<'c> {
    Shipped(&'c Schema),
    Own(Box<Schema>),
}

/// A compiled schema with its source, which the `--strict` walk for
/// undocumented fields reads, and its top-level member names, which tell
/// the nearest contract of a body that fits no shape.
struct Rule<'c> {
    schema: SchemaRef<'c>,
    name: Arc<str>,
    source: Value,
    members: Vec<String>,
}

impl<'c> Rule<'c> {
    fn schema(&self) -> &Schema {
        match &self.schema {
            SchemaRef::Shipped(s) => s,
            SchemaRef::Own(s) => s,
        }
    }

    fn shipped(&self) -> bool {
        matches!(self.schema, SchemaRef::Shipped(_))
    }

    fn new(schema: SchemaRef<'c>, name: &str, source: Value) -> Self {
        let members = source
            .get("properties")
            .and_then(Value::as_object)
            .map_or_else(Vec::new, |p| p.keys().cloned().collect());
        Rule {
            schema,
            name: name.into(),
            source,
            members,
        }
    }
}

/// The schema chosen for a document, how, and, when no shape matched, the
/// finding that says so.
struct Choice<'r, 'c> {
    rule: &'r Rule<'c>,
    basis: Basis,
    note: Option<Finding>,
}

/// Judges documents. Pure: bytes in, verdicts out; shared by the workers.
pub struct Judge<'c> {
    /// The schema `--schema` named; `None` with `auto`.
    chosen: Option<Rule<'c>>,
    chosen_endpoint: Option<Endpoint>,
    /// Every shipped contract, in [`CONTRACTS`] order.
    shipped: Vec<Rule<'c>>,
    strict: bool,
}

impl<'c> Judge<'c> {
    /// `schema` is [`AUTO`], a shipped schema's name or the path of a JSON
    /// Schema file; each is compiled once, here.
    pub fn new(contract: &'c Contract, schema: &str, strict: bool) -> Result<Self, SchemaError> {
        let sources: BTreeMap<String, contract::Source> = contract::Source::embedded("schemas")
            .into_iter()
            .map(|s| (s.rel.clone(), s))
            .collect();
        let shipped = |name: &str| -> Option<Rule<'c>> {
            let compiled = contract.schema(name)?;
            let source = sources
                .get(&format!("{name}.schema.json"))
                .and_then(|s| s.parse().ok())
                .unwrap_or(Value::Null);
            Some(Rule::new(SchemaRef::Shipped(compiled), name, source))
        };
        let unknown = |name: &str| SchemaError::Unknown {
            name: name.to_owned(),
            known: contract.schema_names().collect::<Vec<_>>().join(", "),
        };
        let (chosen, chosen_endpoint) = match schema {
            AUTO => (None, None),
            _ => match shipped(schema) {
                Some(rule) => (Some(rule), Endpoint::of_schema(schema)),
                None if Path::new(schema).is_file() => (Some(own_schema(schema)?), None),
                None => return Err(unknown(schema)),
            },
        };
        Ok(Self {
            chosen,
            chosen_endpoint,
            shipped: CONTRACTS
                .iter()
                .map(|name| shipped(name).ok_or_else(|| unknown(name)))
                .collect::<Result<_, _>>()?,
            strict,
        })
    }

    /// Whether consistency findings count as errors.
    pub fn strict(&self) -> bool {
        self.strict
    }

    /// A shipped contract by name (one of [`CONTRACTS`]).
    fn contract(&self, name: &str) -> &Rule<'c> {
        self.shipped
            .iter()
            .find(|r| &*r.name == name)
            .expect("every contract a pick names is shipped")
    }

    fn choose(&self, pick: Pick, doc: &Value) -> Choice<'_, 'c> {
        let by = |rule, basis| Choice {
            rule,
            basis,
            note: None,
        };
        let status = match pick {
            Pick::Http {
                endpoint: Some(endpoint),
                status,
            } => return by(self.contract(endpoint.schema(status, doc)), Basis::Endpoint),
            Pick::Http { endpoint: None, status } => Some(status),
            Pick::Body => None,
        };
        let failed = status.is_some_and(|s| s >= 400);
        match (&self.chosen, self.chosen_endpoint) {
            // A curl capture's error status: the error of the named schema's endpoint.
            (Some(_), Some(endpoint)) if failed => by(
                self.contract(endpoint.schema(status.unwrap_or_default(), doc)),
                Basis::Endpoint,
            ),
            (Some(rule), _) => by(rule, Basis::Named),
            (None, _) => match shape(doc) {
                // The gateway answers errors in its envelope, whatever `data` holds.
                Some(contract::QUERY_RESPONSE) if failed => by(self.contract(contract::ERROR), Basis::Shape),
                Some(name) => by(self.contract(name), Basis::Shape),
                None => {
                    let members = self.shipped.iter().map(|r| (&*r.name, r.members.as_slice()));
                    let (name, message) = nearest(doc, members);
                    Choice {
                        rule: self.contract(name),
                        basis: Basis::Nearest,
                        note: Some(Finding {
                            pointer: String::new(),
                            keyword: "shape".to_owned(),
                            message,
                            position: None,
                        }),
                    }
                }
            },
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
        let Choice { rule, basis, note } = self.choose(pick, doc);
        let schema = rule.schema();
        let mut errors: Vec<Finding> = note.into_iter().collect();
        if !schema.is_valid(doc) {
            errors.extend(schema_findings(schema, doc));
        }
        let mut warnings = Vec::new();
        // The checks of the contract judged against; for a schema of your
        // own, of the contract whose shape the document has; none for a
        // document that fits no shape.
        let checked = match basis {
            Basis::Nearest => None,
            _ if rule.shipped() => Some(&*rule.name),
            _ => shape(doc),
        };
        if let Some(contract) = checked {
            consistency(contract, doc, &mut warnings);
        }
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
            // on the same value keep their order (and the shape note, at the
            // root, comes first).
            let at = |f: &Finding| f.position.map_or((usize::MAX, usize::MAX), |p| (p.line, p.column));
            errors.sort_by_key(at);
            warnings.sort_by_key(at);
        }
        Verdict {
            origin,
            schema: rule.name.clone(),
            basis,
            errors,
            warnings,
        }
    }
}

fn own_schema<'c>(path: &str) -> Result<Rule<'c>, SchemaError> {
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
    Ok(Rule::new(SchemaRef::Own(Box::new(schema)), path, source))
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
            // jsonschema words a broken maxContains/minContains as "None of
            // the value are valid": the contract's own wording instead.
            if let Some((keyword, message)) = schema.contains_bound(e.schema_path().as_str()) {
                return Finding {
                    pointer,
                    keyword,
                    message,
                    position: None,
                };
            }
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

    /// Judges one HAR entry (the proxy judges its recording entry by
    /// entry); `None` for an entry of no endpoint the contract knows.
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
                Pick::Body,
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
                out.push(self.judge(line, origin, line_no, Pick::Body));
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
        match judge.judge(&text, origin(), 1, Pick::Body) {
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

    fn chosen(judge: &Judge, pick: Pick, doc: &Value) -> (String, Basis) {
        let choice = judge.choose(pick, doc);
        (choice.rule.name.to_string(), choice.basis)
    }

    #[test]
    fn http_status_picks_the_schema() {
        let c = contract();
        let named = Judge::new(&c, contract::QUERY_RESPONSE, false).unwrap();
        let auto = Judge::new(&c, AUTO, false).unwrap();
        let err = json!({"code": "task_not_exist", "message": "task_not_exist", "data": null});
        let broken = json!({"code": 500, "message": "get_task_failed", "data": {}});
        let submit_err = json!({"task_id": "", "base_resp": {"status_code": 2013, "status_msg": "x"}});
        let pick = |endpoint, status| Pick::Http { endpoint, status };
        let named_as = |name: &str, basis| (name.to_owned(), basis);
        // curl -i with --schema: the named schema, or its endpoint's error.
        assert_eq!(
            chosen(&named, pick(None, 400), &err),
            named_as(contract::ERROR, Basis::Endpoint)
        );
        assert_eq!(
            chosen(&named, pick(None, 200), &err),
            named_as(contract::QUERY_RESPONSE, Basis::Named)
        );
        let own = Judge::new(&c, contract::ERROR, false).unwrap();
        assert_eq!(
            chosen(&own, pick(None, 200), &err),
            named_as(contract::ERROR, Basis::Named)
        );
        // curl -i with auto: the shape, the gateway's error at an error status.
        assert_eq!(
            chosen(&auto, pick(None, 400), &err),
            named_as(contract::ERROR, Basis::Shape)
        );
        assert_eq!(
            chosen(&auto, pick(None, 500), &broken),
            named_as(contract::ERROR, Basis::Shape)
        );
        assert_eq!(
            chosen(&auto, pick(None, 200), &broken),
            named_as(contract::QUERY_RESPONSE, Basis::Shape)
        );
        // HAR entries: by endpoint, whatever --schema says.
        for judge in [&named, &auto, &own] {
            assert_eq!(
                chosen(judge, pick(Some(Endpoint::GatewaySubmit), 400), &submit_err),
                named_as(contract::SUBMIT_RESPONSE, Basis::Endpoint)
            );
            assert_eq!(
                chosen(judge, pick(Some(Endpoint::GatewaySubmit), 413), &err),
                named_as(contract::ERROR, Basis::Endpoint)
            );
        }
        // A saved body: the named schema, or its shape.
        assert_eq!(
            chosen(&named, Pick::Body, &err),
            named_as(contract::QUERY_RESPONSE, Basis::Named)
        );
        assert_eq!(chosen(&auto, Pick::Body, &err), named_as(contract::ERROR, Basis::Shape));
        assert_eq!(
            chosen(&auto, Pick::Body, &json!({"x": 1})),
            named_as(contract::QUERY_RESPONSE, Basis::Nearest)
        );
    }

    /// Every shipped fixture, judged with auto-detection and --strict, is
    /// valid, without warnings, and detected as the schema of its folder.
    #[test]
    fn every_fixture_is_detected_as_its_schema_and_passes_strictly() {
        let c = contract();
        let judge = Judge::new(&c, AUTO, true).unwrap();
        let mut seen = std::collections::BTreeSet::new();
        for (rel, bytes) in c.fixtures() {
            let folder = rel.split_once('/').map_or("", |(dir, _)| dir);
            let origin = Origin {
                file: rel.into(),
                at: Locator::Whole,
            };
            let Event::Verdict(v) = judge.judge(bytes, origin, 1, Pick::Body) else {
                panic!("{rel} does not parse")
            };
            assert_eq!((&*v.schema, v.basis), (folder, Basis::Shape), "{rel}");
            assert_eq!(
                (v.errors.as_slice(), v.warnings.as_slice()),
                (&[][..], &[][..]),
                "{rel}"
            );
            seen.insert(folder.to_owned());
        }
        let every: std::collections::BTreeSet<String> = CONTRACTS.iter().map(|s| s.to_string()).collect();
        assert_eq!(seen, every, "a fixture of every contract");
    }

    /// A native Success with a file id and a frame size, a v2 succeeded
    /// with content.url, a v2 failed with its error: the schemas say so
    /// already, so each break is one schema error, not also a warning. Time
    /// running backwards they cannot say: a warning.
    #[test]
    fn what_the_schemas_say_is_not_checked_twice() {
        let c = contract();
        let judge = Judge::new(&c, AUTO, false).unwrap();
        let fixture = |rel: &str| serde_json::from_slice::<Value>(c.fixture(rel).unwrap()).unwrap();
        let mut native = fixture("native_query_video_generation.response/success.json");
        native["file_id"] = json!("");
        native["video_height"] = json!(0);
        let v = verdict(&judge, &native);
        assert_eq!(
            keywords(&v.errors),
            [("/file_id", "minLength"), ("/video_height", "minimum")]
        );
        assert!(v.warnings.is_empty(), "{v:?}");

        let succeeded = fixture("v2_query_video_generation.response/succeeded.json");
        let mut v2 = succeeded.clone();
        v2["task"]["content"]["url"] = json!("");
        v2["task"]["updated_at"] = json!(1);
        let v = verdict(&judge, &v2);
        assert_eq!(keywords(&v.errors), [("/task/content/url", "pattern")]);
        assert_eq!(keywords(&v.warnings), [("/task/updated_at", "updated-at")]);
        let mut v2 = succeeded;
        v2["task"].as_object_mut().unwrap().remove("content");
        let v = verdict(&judge, &v2);
        assert_eq!(
            (keywords(&v.errors), v.warnings.len()),
            (vec![("/task/content", "required")], 0)
        );
        let mut v2 = fixture("v2_query_video_generation.response/failed.json");
        v2["task"].as_object_mut().unwrap().remove("error");
        let v = verdict(&judge, &v2);
        assert_eq!(
            (keywords(&v.errors), v.warnings.len()),
            (vec![("/task/error", "required")], 0)
        );
    }

    #[test]
    fn a_body_of_no_shape_is_judged_against_the_nearest_saying_so() {
        let c = contract();
        let judge = Judge::new(&c, AUTO, false).unwrap();
        let doc = json!({"task_id": "1", "status": "Fail", "base_resp": {"status_code": 0, "status_msg": ""}, "file_id": "", "video_width": 0});
        // task_id, status, file_id and a frame size: not a callback (no size
        // there), not a native query (no file_id before Success).
        let v = verdict(&judge, &doc);
        assert_eq!((&*v.schema, v.basis), (contract::NATIVE_QUERY_RESPONSE, Basis::Shape));
        let doc = json!({"status": "Fail", "base_resp": {"status_code": 1027, "status_msg": "x"}});
        let v = verdict(&judge, &doc);
        assert_eq!((&*v.schema, v.basis), (contract::CALLBACK_UPDATE, Basis::Nearest));
        assert_eq!(
            keywords(&v.errors),
            [("", "shape"), ("/task_id", "required"), ("/file_id", "required")]
        );
        assert!(
            v.errors[0]
                .message
                .starts_with("no contract matches this shape; nearest: callback.update, sharing 2 of its 4 members"),
            "{}",
            v.errors[0].message
        );
        assert!(v.warnings.is_empty());
    }

    #[test]
    fn a_broken_contains_bound_is_worded_as_the_contract_words_it() {
        let c = contract();
        let judge = Judge::new(&c, contract::V2_SUBMIT_REQUEST, false).unwrap();
        let text = c.fixture("v2_video_generation.request/text-only-16x9.json").unwrap();
        let mut doc: Value = serde_json::from_slice(text).unwrap();
        doc["content"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "text", "text": "again"}));
        let v = verdict(&judge, &doc);
        assert_eq!(keywords(&v.errors), [("/content", "maxContains")]);
        assert_eq!(
            v.errors[0].message,
            "more than 1 items match the schema at /properties/content/allOf/0/contains (Exactly one text item: the prompt.)"
        );
        assert_eq!(v.errors[0].message, c.v2_submit_request().violations(&doc)[0].message);
    }

    /// With a schema of your own, the checks are those of the contract
    /// whose shape the document has.
    #[test]
    fn a_schema_of_your_own_gets_the_checks_of_the_shape() {
        let c = contract();
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/error.schema.json");
        let judge = Judge::new(&c, path, false).unwrap();
        let mut doc = documented();
        doc["data"]["progress"] = json!("99");
        let v = verdict(&judge, &doc);
        assert_eq!((&*v.schema, v.basis), (path, Basis::Named));
        assert_eq!(
            keywords(&v.warnings),
            [("/data/progress", "progress"), ("/data/progress", "terminal-progress")]
        );
        let v = verdict(&judge, &json!({"x": 1}));
        assert_eq!(v.warnings, []);
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
        let known = err.to_string();
        assert!(
            known.starts_with("unknown schema \"nope\": neither auto, a shipped schema (callback.challenge, "),
            "{known}"
        );
        for name in CONTRACTS {
            assert!(known.contains(name), "{known}");
            Judge::new(&c, name, false).unwrap();
        }
    }
}

//! The mock's contract as one OpenAPI 3.1 document, for the tools that speak
//! OpenAPI (Swagger UI, Prism, Schemathesis, code generators).
//!
//! Built from the loaded [`Contract`], never transcribed a second time: every
//! JSON Schema the server and `validate` use is embedded under
//! `components.schemas` by its name, its `$defs` lifted beside it and its
//! `$ref`s rewritten so the document is self-contained, and every fixture
//! becomes a named example under `components.examples`. What this module adds
//! is the part no schema file says: which path answers which body with which
//! status, per API. The control API (its own tag, [`control`]) has no schema
//! files, so its shapes are written here; tests check them against the
//! server's answers.
//!
//! Pure: the contract in, a `serde_json::Value` out.

mod control;
mod openai;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

use super::{
    Contract, ERROR, FILES_RETRIEVE_PATH, FILES_RETRIEVE_RESPONSE, GATEWAY_FILES_RETRIEVE_PATH, NATIVE_ERROR,
    NATIVE_QUERY_PATH, NATIVE_QUERY_RESPONSE, NATIVE_SUBMIT_PATH, OPENAPI_PATH, QUERY_PATH, QUERY_RESPONSE,
    SUBMIT_PATH, SUBMIT_REQUEST, SUBMIT_RESPONSE, V2_ERROR, V2_QUERY_PREFIX, V2_QUERY_RESPONSE, V2_SUBMIT_PATH,
    V2_SUBMIT_REQUEST, V2_SUBMIT_RESPONSE,
};
use super::{
    V2_DELETE_RESPONSE, V2_LIST_PATH, V2_LIST_RESPONSE, V2_REGENERATION_PATH, V2_REGENERATION_REQUEST, V2_TASK_PREFIX,
};

/// What the document describes: the server as it was started, since flags
/// change what it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `servers[0].url`: where the mock listens (its public URL).
    pub server_url: String,
    /// Whether the control API and the dashboard are there (`--no-control` drops them).
    pub control: bool,
    /// `--require-auth`: the APIs answer 401 without `Authorization: Bearer`.
    pub require_auth: bool,
    /// `--gateway-query native`: the gateway's query answers MiniMax's body.
    pub gateway_query_native: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            server_url: "http://127.0.0.1:8080".to_owned(),
            control: true,
            require_auth: false,
            gateway_query_native: false,
        }
    }
}

/// Where a schema named `name` lives in the document.
pub fn schema_pointer(name: &str) -> String {
    format!("#/components/schemas/{name}")
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": schema_pointer(name) })
}

/// The OpenAPI 3.1 document of every API the mock serves with `options`.
pub fn document(contract: &Contract, options: &Options) -> Value {
    let mut schemas = Map::new();
    let names: BTreeSet<String> = contract.schema_names().map(str::to_owned).collect();
    for name in &names {
        if let Some(schema) = contract.schema(name) {
            embed(name, schema.source(), &names, &mut schemas);
        }
    }
    let examples = Examples::of(contract);
    let mut paths = Map::new();
    let api = Api {
        examples: &examples,
        options,
    };
    api.paths(&mut paths);
    if options.control {
        control::paths(&mut paths, &mut schemas);
    }
    paths.insert(
        OPENAPI_PATH.to_owned(),
        json!({
            "get": {
                "tags": ["meta"],
                "operationId": "openapi",
                "summary": "This document",
                "description": "The OpenAPI document of the running mock, as `minimax-mock openapi` prints it with the same flags. CORS-open and never behind the control API's token, so tools on another origin can load it.",
                "responses": {
                    "200": {
                        "description": "The document.",
                        "content": { "application/json": { "schema": { "type": "object" } } }
                    },
                    "405": method_not_allowed()
                }
            }
        }),
    );
    // The liveness probe is served with or without the control API.
    paths.insert(
        super::LIVE_PATH.to_owned(),
        json!({
            "get": {
                "tags": ["meta"],
                "operationId": "live",
                "summary": "Live and ready?",
                "description": "`ok` once the mock serves, for liveness and readiness probes: answered to anyone (no control token, any `Host`), with or without the control API, and neither journaled nor logged. `minimax-mock probe` asks it.",
                "responses": {
                    "200": {
                        "description": "Live.",
                        "content": { "text/plain": { "schema": { "const": "ok\n" } } }
                    },
                    "405": method_not_allowed()
                }
            }
        }),
    );
    let mut components = json!({
        "schemas": schemas,
        "examples": examples.components,
        "responses": {
            "not_found": {
                "description": "Any path the mock does not serve: the gateway's envelope, `not_found`.",
                "content": { "application/json": { "schema": schema_ref(ERROR) } }
            },
            "method_not_allowed": {
                "description": "A method the path does not serve: the gateway's envelope, `method_not_allowed`, whichever API the path belongs to; `Allow` lists the methods.",
                "headers": { "Allow": { "schema": { "type": "string" }, "description": "The methods the path serves." } },
                "content": { "application/json": { "schema": schema_ref(ERROR) } }
            }
        }
    });
    if options.require_auth {
        components["securitySchemes"] = json!({
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "Any non-empty token (`--require-auth`): the mock checks that one is sent, not which."
            }
        });
    }
    let mut tags = vec![
        json!({"name": "gateway", "description": "The gateway's documented API under /minimax/v1 (new-api / one-api forks)."}),
        json!({"name": "native", "description": "MiniMax's own v1 API. Errors are HTTP 200 with a non-zero base_resp.status_code, as MiniMax answers."}),
        json!({"name": "v2", "description": "MiniMax's v2 API (MiniMax-H3, MiniMax-H3-Max), as its API reference documents it. Errors are its envelope {type: error, error: {type, message, http_code}, request_id}, with the error's HTTP status."}),
        json!({"name": "openai", "description": "new-api's OpenAI-compatible video API, what the official openai SDKs call (base URL …/v1), with MiniMax's models. Errors are new-api's task error (the gateway's envelope), but for the download and a missing token, which answer OpenAI's {\"error\": {\"message\", \"type\"}}."}),
        json!({"name": "downloads", "description": "The signed links a finished task shows: an H.264 clip of the task's frame size."}),
    ];
    if options.control {
        tags.push(json!({"name": "control", "description": "The mock's own control API under /__mock/ and its dashboard: script tasks, move the clock, read the request journal. Not part of MiniMax's API."}));
    }
    tags.push(json!({"name": "meta", "description": "About the mock itself."}));
    json!({
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "info": {
            "title": "minimax-mock",
            "version": env!("CARGO_PKG_VERSION"),
            "summary": "A mock of MiniMax (Hailuo) video generation: the gateway's API, MiniMax's v1 and v2, new-api's OpenAI-compatible video API, and the mock's control API.",
            "description": DESCRIPTION,
            "license": { "name": "MIT OR Apache-2.0", "identifier": "MIT OR Apache-2.0" }
        },
        "servers": [{ "url": options.server_url, "description": "the mock" }],
        "tags": tags,
        "paths": paths,
        "components": components,
    })
}

const DESCRIPTION: &str = "Every body schema here is one of the JSON Schemas the mock renders and `minimax-mock validate` judges with (schemas/ in the repository), embedded as they are; the examples are its fixtures.\n\nA task's scenario may script faults on its steps: an error status (429 with Retry-After, 5xx, or any 4xx) in the error body of the API that was called, a delay, a body cut short or not JSON, a body that breaks the schema on purpose, or a reset connection. Those answers are documented as statuses; the broken bodies are broken on purpose and are not.\n\nAny path the mock does not serve answers 404 in the gateway's envelope; a method a path does not serve answers 405 in it, with Allow. CORS is open on every answer.";

/// Embeds `source` as `components.schemas[name]`: its `$defs` lifted to
/// `name.DEF`, `$schema` and `$id` dropped (an `$id` would change what the
/// rewritten references are relative to), and every `$ref` rewritten.
fn embed(name: &str, source: &Value, names: &BTreeSet<String>, out: &mut Map<String, Value>) {
    let mut schema = source.clone();
    let mut defs = Map::new();
    if let Value::Object(object) = &mut schema {
        object.remove("$schema");
        object.remove("$id");
        for key in ["$defs", "definitions"] {
            if let Some(Value::Object(found)) = object.remove(key) {
                defs.extend(found);
            }
        }
    }
    rewrite(&mut schema, name, names);
    out.insert(name.to_owned(), schema);
    for (def, mut value) in defs {
        rewrite(&mut value, name, names);
        out.insert(format!("{name}.{def}"), value);
    }
}

/// Keywords whose values are data, not schemas: a `$ref` in them is not a reference.
const DATA_KEYWORDS: [&str; 5] = ["const", "enum", "default", "examples", "example"];

fn rewrite(value: &mut Value, owner: &str, names: &BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if key == "$ref" {
                    if let Value::String(reference) = child {
                        *reference = reference_target(reference, owner, names);
                    }
                } else if !DATA_KEYWORDS.contains(&key.as_str()) {
                    rewrite(child, owner, names);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| rewrite(item, owner, names)),
        _ => {}
    }
}

/// Where a reference made inside schema `owner` points in the document:
/// `#/$defs/X` to the lifted `owner.X`, `#` to the schema itself, another
/// schema file (`NAME.schema.json#...`) to that schema. Anything else is
/// left as it is.
pub fn reference_target(reference: &str, owner: &str, names: &BTreeSet<String>) -> String {
    let (file, fragment) = reference.split_once('#').unwrap_or((reference, ""));
    let schema = if file.is_empty() {
        owner
    } else {
        let base = file.rsplit('/').next().unwrap_or(file);
        match base.strip_suffix(".schema.json") {
            Some(other) if names.contains(other) => other,
            _ => return reference.to_owned(),
        }
    };
    let fragment = fragment.trim_end_matches('/');
    for defs in ["/$defs/", "/definitions/"] {
        if let Some(rest) = fragment.strip_prefix(defs) {
            let (def, deeper) = rest.split_once('/').map_or((rest, ""), |(d, r)| (d, r));
            let deeper = if deeper.is_empty() {
                String::new()
            } else {
                format!("/{deeper}")
            };
            return format!("{}{deeper}", schema_pointer(&format!("{schema}.{def}")));
        }
    }
    format!("{}{fragment}", schema_pointer(schema))
}

/// The fixtures as named examples: `components.examples["SCHEMA.NAME"]`,
/// and for each schema the names of its examples.
struct Examples {
    components: Map<String, Value>,
    by_schema: BTreeMap<String, Vec<(String, String)>>,
}

impl Examples {
    fn of(contract: &Contract) -> Self {
        let mut components = Map::new();
        let mut by_schema: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for (rel, bytes) in contract.fixtures() {
            let Some((schema, file)) = rel.split_once('/') else {
                continue;
            };
            let Some(stem) = file.strip_suffix(".json") else {
                continue;
            };
            let Ok(value) = serde_json::from_slice::<Value>(bytes) else {
                continue;
            };
            let key: String = stem
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "._-".contains(c) {
                        c
                    } else {
                        '-'
                    }
                })
                .collect();
            let id = format!("{schema}.{key}");
            let summary = match stem.split_once('/') {
                Some((scenario, step)) => format!("scenario {scenario}, step {step}"),
                None => stem.to_owned(),
            };
            components.insert(
                id.clone(),
                json!({ "summary": summary, "description": format!("fixtures/{rel}"), "value": value }),
            );
            by_schema.entry(schema.to_owned()).or_default().push((key, id));
        }
        Self { components, by_schema }
    }

    /// `application/json` content of one schema, or any of several, with
    /// their examples.
    fn content(&self, schemas: &[&str]) -> Value {
        let schema = match schemas {
            [one] => schema_ref(one),
            many => json!({ "anyOf": many.iter().map(|s| schema_ref(s)).collect::<Vec<_>>() }),
        };
        let mut media = json!({ "schema": schema });
        let mut examples = Map::new();
        for name in schemas {
            for (key, id) in self.by_schema.get(*name).into_iter().flatten() {
                let key = if schemas.len() > 1 {
                    format!("{name}.{key}")
                } else {
                    key.clone()
                };
                examples.insert(key, json!({ "$ref": format!("#/components/examples/{id}") }));
            }
        }
        if !examples.is_empty() {
            media["examples"] = Value::Object(examples);
        }
        json!({ "application/json": media })
    }
}

fn method_not_allowed() -> Value {
    json!({ "$ref": "#/components/responses/method_not_allowed" })
}

/// The three APIs and the download links.
struct Api<'a> {
    examples: &'a Examples,
    options: &'a Options,
}

/// Which API a path belongs to: its tag and its error body.
#[derive(Clone, Copy)]
enum Dialect {
    Gateway,
    Native,
    V2,
    /// new-api's OpenAI-compatible video API.
    OpenAi,
}

impl Dialect {
    fn tag(self) -> &'static str {
        match self {
            Dialect::Gateway => "gateway",
            Dialect::Native => "native",
            Dialect::V2 => "v2",
            Dialect::OpenAi => "openai",
        }
    }

    fn error(self) -> &'static str {
        match self {
            Dialect::Gateway | Dialect::OpenAi => ERROR,
            Dialect::Native => NATIVE_ERROR,
            Dialect::V2 => V2_ERROR,
        }
    }

    /// The body of a 401 (`--require-auth`): new-api's token check answers
    /// OpenAI's error shape; the other APIs their error body.
    fn unauthorized(self) -> &'static str {
        match self {
            Dialect::OpenAi => super::OPENAI_ERROR,
            other => other.error(),
        }
    }
}

impl Api<'_> {
    fn response(&self, description: &str, schemas: &[&str]) -> Value {
        json!({ "description": description, "content": self.examples.content(schemas) })
    }

    /// An operation's common parts: tag, id, summary, and `security` and 401
    /// with `--require-auth`.
    fn operation(&self, dialect: Dialect, id: &str, summary: &str, description: &str, responses: Value) -> Value {
        let mut op = json!({
            "tags": [dialect.tag()],
            "operationId": id,
            "summary": summary,
            "description": description,
            "responses": responses,
        });
        if self.options.require_auth {
            op["security"] = json!([{ "bearer": [] }]);
            op["responses"]["401"] = self.response(
                "No `Authorization: Bearer …` (`--require-auth`), in the API's error body.",
                &[dialect.unauthorized()],
            );
        }
        op["responses"]["405"] = method_not_allowed();
        op
    }

    /// The statuses a scripted fault answers a query with, in the API's error body.
    fn faults(&self, responses: &mut Value, dialect: Dialect) {
        let error = dialect.error();
        responses["429"] = json!({
            "description": "A scripted fault: rate limited, in the API's error body.",
            "headers": { "Retry-After": { "description": "Seconds to wait.", "schema": { "type": "integer" } } },
            "content": self.examples.content(&[error]),
        });
        responses["4XX"] = self.response(
            "A scripted fault's other 4xx status, in the API's error body.",
            &[error],
        );
        responses["5XX"] = self.response(
            "A scripted fault's 5xx status (500, 502, 503, 504, …), in the API's error body.",
            &[error],
        );
    }

    fn prefer() -> Value {
        json!({
            "name": "Prefer",
            "in": "header",
            "required": false,
            "description": "`scenario=NAME` chooses the task's scenario (RFC 7240 preferences; others are ignored). An unknown name is refused as the API refuses a body.",
            "schema": { "type": "string" },
            "example": "scenario=success-polls"
        })
    }

    fn request_body(&self, schema: &str) -> Value {
        json!({ "required": true, "content": self.examples.content(&[schema]) })
    }

    fn too_large(&self, dialect: Dialect) -> Value {
        self.response(
            "The body is larger than `--max-body` (1 MiB by default), in the API's error body.",
            &[dialect.error()],
        )
    }

    fn paths(&self, paths: &mut Map<String, Value>) {
        self.gateway(paths);
        self.native(paths);
        self.v2(paths);
        self.openai(paths);
        self.downloads(paths);
    }

    fn v1_submit(&self, dialect: Dialect) -> Value {
        let (id, refused) = match dialect {
            Dialect::Gateway => ("gateway_submit", None),
            _ => ("native_submit", Some(())),
        };
        let mut responses = json!({
            "200": self.response(
                if refused.is_some() {
                    "The task id, or (MiniMax's way) a refusal: HTTP 200, `task_id` \"\" and `base_resp.status_code` 2013 naming the field, for a body the model table refuses, an unknown scenario in `Prefer`, or a callback_url that does not echo the challenge."
                } else {
                    "The task id and `base_resp` 0."
                },
                &[SUBMIT_RESPONSE],
            ),
            "413": self.too_large(dialect),
        });
        if refused.is_none() {
            responses["400"] = self.response(
                "Refused: a body the model table refuses or a callback_url that does not echo the challenge (`task_id` \"\", `base_resp.status_code` 2013 naming the field), or an unknown scenario in `Prefer` (the gateway's envelope, `invalid_request`).",
                &[SUBMIT_RESPONSE, ERROR],
            );
        }
        let mut op = self.operation(
            dialect,
            id,
            "Submit a video task",
            "The same body at the gateway and at MiniMax. The scenario comes from `Prefer`, the control API's next-submits scenario, a scenarios-file rule on the model or prompt, or the default. With `callback_url` (http, loopback unless allowed) the URL must echo a challenge first.",
            responses,
        );
        op["parameters"] = json!([Self::prefer()]);
        op["requestBody"] = self.request_body(SUBMIT_REQUEST);
        json!({ "post": op })
    }

    fn gateway(&self, paths: &mut Map<String, Value>) {
        paths.insert(SUBMIT_PATH.to_owned(), self.v1_submit(Dialect::Gateway));
        let mut responses = if self.options.gateway_query_native {
            json!({
                "200": self.response(
                    "`--gateway-query native`: MiniMax's query body passed through, errors included (HTTP 200, base_resp 2013).",
                    &[NATIVE_QUERY_RESPONSE, NATIVE_ERROR],
                )
            })
        } else {
            json!({
                "200": self.response(
                    "The documented envelope: the gateway's status, progress and times, MiniMax's status and file inside. The documentation's task id 306792606023824 answers its example byte for byte.",
                    &[QUERY_RESPONSE],
                ),
                "400": self.response("No `task_id`, or no such task: `task_not_exist`.", &[ERROR]),
            })
        };
        // Faults and 401 answer in the gateway's envelope on its path, passthrough or not.
        self.faults(&mut responses, Dialect::Gateway);
        let mut op = self.operation(
            Dialect::Gateway,
            "gateway_query",
            "Poll a task",
            "Each call counts as a poll (poll-driven steps move on it); the step shown is the scenario's at the mock's clock and this poll count.",
            responses,
        );
        op["parameters"] = json!([task_id_query(
            "A task id from a submit, a scripted one, or one a scenarios-file rule names."
        )]);
        paths.insert(QUERY_PATH.to_owned(), json!({ "get": op }));
        paths.insert(
            GATEWAY_FILES_RETRIEVE_PATH.to_owned(),
            self.files(Dialect::Gateway, "gateway_files_retrieve"),
        );
    }

    fn files(&self, dialect: Dialect, id: &str) -> Value {
        let mut op = self.operation(
            dialect,
            id,
            "A finished task's file record",
            "The file of a task whose last poll (or, for time-driven steps, whose time) shows Success: the same download links the query shows. Not a poll: it moves no lifecycle. The gateway's path passes MiniMax's answer through.",
            json!({
                "200": self.response(
                    "The file record, or (HTTP 200, MiniMax's way) `base_resp.status_code` 2013 for a missing, non-integer or unknown `file_id`, or a task that has not succeeded.",
                    &[FILES_RETRIEVE_RESPONSE, NATIVE_ERROR],
                )
            }),
        );
        op["parameters"] = json!([{
            "name": "file_id",
            "in": "query",
            "required": true,
            "description": "The file id of a successful task (`file.file_id` in the gateway's query, `file_id` in MiniMax's).",
            "schema": { "type": "integer", "minimum": 0 }
        }]);
        json!({ "get": op })
    }

    fn native(&self, paths: &mut Map<String, Value>) {
        paths.insert(NATIVE_SUBMIT_PATH.to_owned(), self.v1_submit(Dialect::Native));
        let mut responses = json!({
            "200": self.response(
                "MiniMax's query body; or (HTTP 200, MiniMax's way) `base_resp.status_code` 2013 for a missing or unknown `task_id`.",
                &[NATIVE_QUERY_RESPONSE, NATIVE_ERROR],
            )
        });
        self.faults(&mut responses, Dialect::Native);
        let mut op = self.operation(
            Dialect::Native,
            "native_query",
            "Poll a task (MiniMax's body)",
            "The same tasks and poll count as the gateway's query (a v2 task is unknown here). `file_id`, `video_width` and `video_height` appear on Success only.",
            responses,
        );
        op["parameters"] = json!([task_id_query(
            "A task id from a submit through the gateway or MiniMax's v1."
        )]);
        paths.insert(NATIVE_QUERY_PATH.to_owned(), json!({ "get": op }));
        paths.insert(
            FILES_RETRIEVE_PATH.to_owned(),
            self.files(Dialect::Native, "native_files_retrieve"),
        );
    }

    fn v2(&self, paths: &mut Map<String, Value>) {
        let mut op = self.operation(
            Dialect::V2,
            "v2_submit",
            "Submit a v2 (MiniMax-H3, MiniMax-H3-Max) task",
            "`content` holds one text item (the prompt) and the images, reference videos and reference audios; `resolution` and `duration` are required. With text alone `ratio` is required and may not be `adaptive`; with a frame image it is taken as `adaptive`.",
            json!({
                "200": self.response("The task id.", &[V2_SUBMIT_RESPONSE]),
                "400": self.response(V2_REFUSED, &[V2_ERROR]),
                "413": self.too_large(Dialect::V2),
            }),
        );
        op["parameters"] = json!([Self::prefer()]);
        op["requestBody"] = self.request_body(V2_SUBMIT_REQUEST);
        paths.insert(V2_SUBMIT_PATH.to_owned(), json!({ "post": op }));
        let unknown = "No v2 task of that id in the last 7 days on the mock's clock (a v1 task is unknown here too): 400 `invalid params, invalid task_id (2013)`.";
        let mut responses = json!({
            "200": self.response("The task: `queued`, `running`, `succeeded` (with `content.url` and `usage`), `failed` (with `error`) or `cancelled`.", &[V2_QUERY_RESPONSE]),
            "400": self.response(unknown, &[V2_ERROR]),
        });
        self.faults(&mut responses, Dialect::V2);
        let mut op = self.operation(
            Dialect::V2,
            "v2_query",
            "Poll a v2 task",
            "Each call counts as a poll, as on v1.",
            responses,
        );
        op["parameters"] = json!([task_id_path(
            "The id `POST /v2/video_generation` or `/v2/video_regeneration` answered."
        )]);
        paths.insert(format!("{V2_QUERY_PREFIX}{{task_id}}"), json!({ "get": op }));
        self.v2_tasks(paths, unknown);
    }

    /// The list, cancel-or-delete and regeneration; `unknown` says what an unknown task gets.
    fn v2_tasks(&self, paths: &mut Map<String, Value>, unknown: &str) {
        let mut op = self.operation(
            Dialect::V2,
            "v2_list",
            "List v2 tasks",
            "The v2 tasks of the last 7 days that pass the filters, newest first, a page at a time; `total` counts them all. Not a poll: each task shows what its last query showed.",
            json!({
                "200": self.response("A page of tasks and how many match.", &[V2_LIST_RESPONSE]),
                "400": self.response("A page or filter out of range, naming the parameter (2013).", &[V2_ERROR]),
            }),
        );
        op["parameters"] = json!([
            { "name": "page_num", "in": "query", "required": false, "description": "The page, from 1.", "schema": { "type": "integer", "minimum": 1, "default": 1 } },
            { "name": "page_size", "in": "query", "required": false, "description": "Tasks a page.", "schema": { "type": "integer", "minimum": 1, "maximum": 100, "default": 20 } },
            { "name": "filter.status", "in": "query", "required": false, "schema": { "type": "string", "enum": ["queued", "running", "succeeded", "failed", "cancelled"] } },
            { "name": "filter.task_ids", "in": "query", "required": false, "description": "Task ids, comma-joined (the parameter may also be repeated).", "style": "form", "explode": false, "schema": { "type": "array", "items": { "type": "string" } } },
            { "name": "filter.model", "in": "query", "required": false, "schema": { "type": "string" }, "example": "MiniMax-H3" },
            { "name": "filter.task_type", "in": "query", "required": false, "schema": { "type": "string", "enum": ["generation", "h3_context_ir", "regeneration"] } }
        ]);
        paths.insert(V2_LIST_PATH.to_owned(), json!({ "get": op }));
        let mut op = self.operation(
            Dialect::V2,
            "v2_delete",
            "Cancel or delete a v2 task",
            "By the task's status now: `queued` is cancelled (it shows `cancelled` from then on, in queries, the list and callbacks), `succeeded` or `failed` deleted (then unknown). A `running` or `cancelled` task is refused.",
            json!({
                "200": self.response("What was done: `cancelled` or `deleted`.", &[V2_DELETE_RESPONSE]),
                "400": self.response(&format!("{unknown} Or a running or cancelled task: `invalid params, task ID is running: a task can be cancelled only while queued (2013)`, `... is already cancelled (2013)`."), &[V2_ERROR]),
            }),
        );
        op["parameters"] = json!([task_id_path("The task to cancel or delete.")]);
        paths.insert(format!("{V2_TASK_PREFIX}{{task_id}}"), json!({ "delete": op }));
        let mut op = self.operation(
            Dialect::V2,
            "v2_regenerate",
            "Regenerate a 768P MiniMax-H3 output at 2K",
            "Exactly one of `source_task_id` (a succeeded MiniMax-H3 768P generation of the last 7 days) or `content` with one `base_video` item. The new task has `task_type` `regeneration` and `ratio` \"\".",
            json!({
                "200": self.response("The task id.", &[V2_SUBMIT_RESPONSE]),
                "400": self.response(&format!("{V2_REFUSED} Also a source task that is unknown, not succeeded, or not a MiniMax-H3 768P generation."), &[V2_ERROR]),
                "413": self.too_large(Dialect::V2),
            }),
        );
        op["parameters"] = json!([Self::prefer()]);
        op["requestBody"] = self.request_body(V2_REGENERATION_REQUEST);
        paths.insert(V2_REGENERATION_PATH.to_owned(), json!({ "post": op }));
    }

    fn downloads(&self, paths: &mut Map<String, Value>) {
        for (prefix, id, which) in [
            ("/inference_output", "download", "download_url"),
            ("/backup/inference_output", "download_backup", "backup_download_url"),
        ] {
            let description = format!(
                "The `{which}` of a finished task: the object path (`/video/<date>/<uuid>/<W>x<H>/output.mp4`, percent-encoded into one path segment) names the frame size, and the clip of that size is served, whatever `bytes` says. `Range` is honoured; past `Expires` on the mock's clock the bucket's 403 answers. The signature is not checked."
            );
            let op = json!({
                "tags": ["downloads"],
                "operationId": id,
                "summary": "Download a task's video",
                "description": description,
                "parameters": [
                    {
                        "name": "object",
                        "in": "path",
                        "required": true,
                        "description": "The rest of the object path after `inference_output`, one path segment: its slashes are sent as `%2F`.",
                        "schema": { "type": "string" },
                        "example": "/video/2026-11-24/afc3cdcc-4490-441c-8d65-cd1f019614e9/1920x1080/output.mp4"
                    },
                    { "name": "Expires", "in": "query", "required": false, "description": "Unix seconds; past it (on the mock's clock) the link answers 403.", "schema": { "type": "integer", "minimum": 0 } },
                    { "name": "OSSAccessKeyId", "in": "query", "required": false, "schema": { "type": "string" } },
                    { "name": "Signature", "in": "query", "required": false, "description": "Not checked.", "schema": { "type": "string" } },
                    { "name": "Range", "in": "header", "required": false, "description": "`bytes=START-END`, `bytes=START-` or `bytes=-SUFFIX`; anything else serves the whole clip.", "schema": { "type": "string" } }
                ],
                "responses": {
                    "200": {
                        "description": "The whole clip (H.264 MP4).",
                        "headers": { "Accept-Ranges": { "schema": { "type": "string", "const": "bytes" } } },
                        "content": { "video/mp4": { "schema": { "type": "string", "contentMediaType": "video/mp4" } } }
                    },
                    "206": {
                        "description": "The range asked for.",
                        "headers": {
                            "Accept-Ranges": { "schema": { "type": "string", "const": "bytes" } },
                            "Content-Range": { "schema": { "type": "string" } }
                        },
                        "content": { "video/mp4": { "schema": { "type": "string", "contentMediaType": "video/mp4" } } }
                    },
                    "400": {
                        "description": "`Expires` is not a number of seconds (the bucket's XML error, `InvalidArgument`).",
                        "content": { "application/xml": { "schema": { "type": "string" } } }
                    },
                    "403": {
                        "description": "The link has expired (the bucket's XML error, `AccessDenied`).",
                        "content": { "application/xml": { "schema": { "type": "string" } } }
                    },
                    "416": {
                        "description": "A range past the end; `Content-Range: bytes */LENGTH`.",
                        "headers": { "Content-Range": { "schema": { "type": "string" } } }
                    },
                    "405": method_not_allowed()
                }
            });
            paths.insert(format!("{prefix}{{object}}"), json!({ "get": op }));
        }
    }
}

/// What a refused v2 body gets.
const V2_REFUSED: &str = "Refused, in v2's envelope: 400 `bad_request_error`, the message naming the field and ending `(2013)` (a body the rules refuse, an unknown scenario in `Prefer`, a callback_url that does not echo the challenge).";

fn task_id_path(description: &str) -> Value {
    json!({
        "name": "task_id",
        "in": "path",
        "required": true,
        "description": description,
        "schema": { "type": "string" }
    })
}

fn task_id_query(description: &str) -> Value {
    json!({
        "name": "task_id",
        "in": "query",
        "required": true,
        "description": description,
        "schema": { "type": "string" }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn references_are_rewritten_into_the_document() {
        let n = names(&["a", "b"]);
        assert_eq!(reference_target("#/$defs/x", "a", &n), "#/components/schemas/a.x");
        assert_eq!(
            reference_target("#/$defs/x/properties/y", "a", &n),
            "#/components/schemas/a.x/properties/y"
        );
        assert_eq!(reference_target("#", "a", &n), "#/components/schemas/a");
        assert_eq!(
            reference_target("#/properties/p", "a", &n),
            "#/components/schemas/a/properties/p"
        );
        assert_eq!(
            reference_target("b.schema.json#/$defs/z", "a", &n),
            "#/components/schemas/b.z"
        );
        assert_eq!(
            reference_target("https://minimax-mock.invalid/schemas/b.schema.json", "a", &n),
            "#/components/schemas/b"
        );
        assert_eq!(reference_target("other.json#/x", "a", &n), "other.json#/x");
    }

    #[test]
    fn embedding_lifts_defs_and_drops_ids() {
        let source = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://minimax-mock.invalid/schemas/s.schema.json",
            "$defs": { "t": { "const": { "$ref": "data, not a reference" } } },
            "properties": { "a": { "$ref": "#/$defs/t" } }
        });
        let mut out = Map::new();
        embed("s", &source, &names(&["s"]), &mut out);
        assert_eq!(
            Value::Object(out),
            json!({
                "s": { "properties": { "a": { "$ref": "#/components/schemas/s.t" } } },
                "s.t": { "const": { "$ref": "data, not a reference" } }
            })
        );
    }

    #[test]
    fn every_embedded_reference_resolves() {
        let doc = document(&Contract::embedded(), &Options::default());
        let mut refs = Vec::new();
        collect_refs(&doc, &mut refs);
        assert!(refs.len() > 50, "{}", refs.len());
        for reference in refs {
            let pointer = reference
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("{reference} is not local"));
            assert!(doc.pointer(pointer).is_some(), "{reference} points nowhere");
        }
    }

    fn collect_refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    match (k.as_str(), v) {
                        ("$ref", Value::String(r)) => out.push(r.clone()),
                        ("value", _) => {}
                        _ => collect_refs(v, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
            _ => {}
        }
    }
}

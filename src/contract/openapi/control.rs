//! The control API under `/__mock/` and the dashboard, in the document's
//! `control` tag. These shapes have no schema files (they are the mock's
//! own, not MiniMax's), so they are written here; `tests/openapi.rs` checks
//! the server's answers against them.
//!
//! Request bodies are exactly as strict as the server: it refuses unknown
//! members, and takes `null` for an optional one, so the schemas say both.

use serde_json::{json, Map, Value};

use super::{method_not_allowed, schema_ref};
use crate::contract::{CONTROL_PREFIX, ERROR};

fn path(rest: &str) -> String {
    format!("{CONTROL_PREFIX}{rest}")
}

/// A JSON response of schema `name`.
fn ok(description: &str, name: &str) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": schema_ref(name) } } })
}

fn refused(description: &str) -> Value {
    ok(description, ERROR)
}

fn no_content(description: &str) -> Value {
    json!({ "description": description })
}

fn op(id: &str, summary: &str, description: &str, mut responses: Value) -> Value {
    responses["405"] = method_not_allowed();
    json!({
        "tags": ["control"],
        "operationId": id,
        "summary": summary,
        "description": description,
        "responses": responses,
    })
}

/// An operation that takes a JSON body of schema `body` (optional: an empty
/// body is `{}`).
fn with_body(mut operation: Value, body: &str) -> Value {
    operation["requestBody"] = json!({
        "required": false,
        "description": "A JSON object; an empty body counts as `{}`.",
        "content": { "application/json": { "schema": schema_ref(body) } }
    });
    operation["responses"]["400"] =
        refused("A mistake, named by its JSON pointer (`invalid_request`); nothing changed.");
    operation["responses"]["413"] = refused("The body is larger than `--max-body` (`request_too_large`).");
    operation
}

fn u32_or_null() -> Value {
    json!({ "type": ["integer", "null"], "minimum": 0, "maximum": 4_294_967_295u64 })
}

fn string_or_null() -> Value {
    json!({ "type": ["string", "null"] })
}

const GATEWAY_STATUSES: [&str; 6] = ["NOT_START", "SUBMITTED", "QUEUED", "IN_PROGRESS", "SUCCESS", "FAILURE"];
const MINIMAX_STATUSES: [&str; 5] = ["Preparing", "Queueing", "Processing", "Success", "Fail"];
const OPENAI_STATUSES: [&str; 5] = ["unknown", "queued", "in_progress", "completed", "failed"];
const PHASES: [&str; 4] = ["PENDING", "PROCESSING", "SUCCESS", "FAIL"];

/// The control API's schemas, under `control.NAME`.
fn schemas() -> Vec<(&'static str, Value)> {
    let base_resp = json!({
        "type": "object",
        "properties": {
            "status_code": { "type": "integer" },
            "status_msg": { "type": "string" }
        },
        "required": ["status_code", "status_msg"],
        "additionalProperties": false
    });
    vec![
        (
            "control.fault",
            json!({
                "description": "What goes wrong on the wire while the step is current: `delay` combines with one of `status` (400..599, with `retry_after` seconds), `body` (`truncated`, `malformed`), `reset`, `break` (JSON pointers to remove, and to set to a value).",
                "type": "object",
                "properties": {
                    "delay": {
                        "anyOf": [
                            { "type": "string" },
                            { "type": "array", "prefixItems": [{ "type": "string" }, { "type": "string" }], "minItems": 2, "maxItems": 2 },
                            { "type": "null" }
                        ]
                    },
                    "status": { "type": ["integer", "null"], "minimum": 0, "maximum": 65535 },
                    "retry_after": u32_or_null(),
                    "body": { "enum": ["truncated", "malformed", null] },
                    "reset": { "type": "boolean" },
                    "break": {
                        "type": ["object", "null"],
                        "properties": {
                            "remove": { "type": "array", "items": { "type": "string" } },
                            "set": { "type": "object" }
                        },
                        "additionalProperties": false
                    }
                },
                "additionalProperties": false
            }),
        ),
        (
            "control.callback_fault",
            json!({
                "description": "What goes wrong with the status update sent on entering the step: `delay` (sent that long after the change, on the mock's clock), `drop` (never sent), `duplicate` (sent 2..100 times in a row); `delay` combines with `duplicate`. Only on a step whose entry changes MiniMax's status.",
                "type": "object",
                "properties": {
                    "delay": string_or_null(),
                    "drop": { "type": "boolean" },
                    "duplicate": u32_or_null()
                },
                "additionalProperties": false
            }),
        ),
        (
            "control.step",
            json!({
                "description": "A step as the mock shows it (the scenarios-file format): `for` (a duration) or `polls` (a count), or neither for the terminal step.",
                "type": "object",
                "properties": {
                    "status": { "enum": GATEWAY_STATUSES },
                    "minimax_status": { "enum": MINIMAX_STATUSES },
                    "openai_status": { "enum": OPENAI_STATUSES, "description": "Only where a step chose it (`unknown`): otherwise what the status implies." },
                    "progress": { "type": "array", "prefixItems": [{ "type": "integer" }, { "type": "integer" }], "minItems": 2, "maxItems": 2 },
                    "base_resp": base_resp,
                    "for": { "type": "string", "pattern": "^[0-9]+ms$" },
                    "polls": { "type": "integer", "minimum": 1 },
                    "fail_reason": { "type": "string" },
                    "fault": schema_ref("control.fault"),
                    "callback": schema_ref("control.callback_fault")
                },
                "required": ["status", "minimax_status", "progress", "base_resp"]
            }),
        ),
        (
            "control.step_spec",
            json!({
                "description": "A step as written in a scenarios file or a control request: `status` or `phase` (or both), `for` or `polls` unless terminal.",
                "type": "object",
                "properties": {
                    "phase": { "enum": [PHASES[0], PHASES[1], PHASES[2], PHASES[3], null] },
                    "status": { "enum": [GATEWAY_STATUSES[0], GATEWAY_STATUSES[1], GATEWAY_STATUSES[2], GATEWAY_STATUSES[3], GATEWAY_STATUSES[4], GATEWAY_STATUSES[5], null] },
                    "minimax_status": { "enum": [MINIMAX_STATUSES[0], MINIMAX_STATUSES[1], MINIMAX_STATUSES[2], MINIMAX_STATUSES[3], MINIMAX_STATUSES[4], null] },
                    "openai_status": { "enum": [OPENAI_STATUSES[0], OPENAI_STATUSES[1], OPENAI_STATUSES[2], OPENAI_STATUSES[3], OPENAI_STATUSES[4], null] },
                    "progress": {
                        "anyOf": [
                            { "type": "integer" },
                            { "type": "array", "prefixItems": [{ "type": "integer" }, { "type": "integer" }], "minItems": 2, "maxItems": 2 },
                            { "type": "null" }
                        ]
                    },
                    "fail_reason": string_or_null(),
                    "base_resp": { "anyOf": [base_resp, { "type": "null" }] },
                    "for": string_or_null(),
                    "polls": u32_or_null(),
                    "fault": { "anyOf": [schema_ref("control.fault"), { "type": "null" }] },
                    "callback": { "anyOf": [schema_ref("control.callback_fault"), { "type": "null" }] }
                },
                "additionalProperties": false
            }),
        ),
        (
            "control.script",
            json!({
                "description": "How to script a task: a scenario by name, or inline `steps`, and what the submission asked for.",
                "type": "object",
                "properties": {
                    "scenario": string_or_null(),
                    "steps": { "type": ["array", "null"], "items": schema_ref("control.step_spec") },
                    "resolution": { "type": ["string", "null"], "description": "512P, 720P, 768P (default), 1080P; for v2 480P, 768P or 2K." },
                    "duration": u32_or_null(),
                    "surface": { "enum": ["gateway", "native", "v2", "openai", null] },
                    "ratio": { "type": ["string", "null"], "description": "A v2 task's ratio (default 16:9)." }
                },
                "additionalProperties": false,
                "examples": [{ "scenario": "fail" }, { "steps": [{ "status": "QUEUED", "polls": 2 }, { "status": "FAILURE", "fail_reason": "input sensitive" }] }]
            }),
        ),
        (
            "control.next_spec",
            json!({
                "type": "object",
                "properties": {
                    "scenario": string_or_null(),
                    "steps": { "type": ["array", "null"], "items": schema_ref("control.step_spec") },
                    "count": { "type": "integer", "minimum": 0, "maximum": 4_294_967_295u64, "default": 1 }
                },
                "additionalProperties": false,
                "examples": [{ "scenario": "fail", "count": 2 }]
            }),
        ),
        (
            "control.clock_change",
            json!({
                "type": "object",
                "properties": {
                    "advance": { "type": ["string", "null"], "description": "A duration: 1.5s, 500ms, 2m, 1h, or seconds; the clock goes up to the end of year 9999." },
                    "freeze": { "type": "boolean" },
                    "resume": { "type": "boolean" }
                },
                "additionalProperties": false,
                "examples": [{ "advance": "30s" }, { "freeze": true }]
            }),
        ),
        (
            "control.clock",
            json!({
                "type": "object",
                "properties": {
                    "now": { "type": "integer", "description": "Unix milliseconds on the mock's clock." },
                    "now_unix": { "type": "integer" },
                    "frozen": { "type": "boolean" }
                },
                "required": ["now", "now_unix", "frozen"]
            }),
        ),
        (
            "control.task",
            json!({
                "description": "A task now (without counting a poll) and its whole timeline.",
                "type": "object",
                "properties": {
                    "task_id": { "type": "string" },
                    "scenario": { "type": "string" },
                    "submitted_at": { "type": "integer", "description": "Unix milliseconds." },
                    "surface": { "enum": ["gateway", "native", "v2", "openai"] },
                    "model": { "type": "string", "description": "An `openai` task's model, as its video object shows it." },
                    "resolution": { "type": "string" },
                    "ratio": string_or_null(),
                    "video_width": { "type": "integer" },
                    "video_height": { "type": "integer" },
                    "duration": { "type": "integer" },
                    "callback_url": string_or_null(),
                    "polls": { "type": "integer", "minimum": 0 },
                    "v2": {
                        "description": "A v2 task only: its model, task type and v2 status (`cancelled` once a DELETE cancelled it, with when).",
                        "type": "object",
                        "properties": {
                            "model": { "type": "string" },
                            "task_type": { "enum": ["generation", "regeneration"] },
                            "status": { "enum": ["queued", "running", "succeeded", "failed", "cancelled"] },
                            "cancelled_at": { "type": ["integer", "null"], "description": "Unix milliseconds." }
                        },
                        "required": ["model", "task_type", "status", "cancelled_at"]
                    },
                    "current": {
                        "type": "object",
                        "properties": {
                            "index": { "type": "integer", "minimum": 0 },
                            "phase": { "enum": PHASES },
                            "status": { "enum": GATEWAY_STATUSES },
                            "minimax_status": { "enum": MINIMAX_STATUSES },
                            "openai_status": { "enum": OPENAI_STATUSES, "description": "An `openai` task's status word on its routes." },
                            "progress": { "type": "string", "pattern": "^[0-9]{1,3}%$" }
                        },
                        "required": ["index", "phase", "status", "minimax_status", "progress"]
                    },
                    "timeline": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "allOf": [
                                schema_ref("control.step"),
                                {
                                    "properties": {
                                        "index": { "type": "integer", "minimum": 0 },
                                        "phase": { "enum": PHASES },
                                        "starts_at": { "type": "integer", "description": "Unix milliseconds: when the step starts, if it waits on time." },
                                        "starts_after_polls": { "type": "integer", "minimum": 0, "description": "Polls before the step starts, if it waits on polls." },
                                        "terminal": { "const": true }
                                    },
                                    "required": ["index", "phase", "starts_at", "starts_after_polls"]
                                }
                            ]
                        }
                    }
                },
                "required": ["task_id", "scenario", "submitted_at", "surface", "resolution", "ratio", "video_width", "video_height", "duration", "callback_url", "polls", "current", "timeline"]
            }),
        ),
        (
            "control.tasks",
            json!({
                "type": "object",
                "properties": { "tasks": { "type": "array", "items": schema_ref("control.task") } },
                "required": ["tasks"]
            }),
        ),
        (
            "control.scenarios",
            json!({
                "description": "The catalog: built-in scenarios and those of --scenarios, by name.",
                "type": "object",
                "properties": {
                    "default": { "type": "string", "description": "The scenario a task gets when nothing else chooses." },
                    "scenarios": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "name": { "type": "string" },
                                "description": string_or_null(),
                                "steps": { "type": "array", "minItems": 1, "items": schema_ref("control.step") }
                            },
                            "required": ["name", "description", "steps"]
                        }
                    }
                },
                "required": ["default", "scenarios"]
            }),
        ),
        (
            "control.next",
            json!({
                "type": "object",
                "properties": {
                    "scenario": string_or_null(),
                    "count": { "type": "integer", "minimum": 0 }
                },
                "required": ["scenario", "count"]
            }),
        ),
        (
            "control.requests",
            json!({
                "description": "The journal, oldest first (the last 10,000 requests).",
                "type": "object",
                "properties": {
                    "requests": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "seq": { "type": "integer", "minimum": 0 },
                                "time": { "type": "integer", "description": "Unix milliseconds on the mock's clock." },
                                "method": { "type": "string" },
                                "path": { "type": "string" },
                                "query": string_or_null(),
                                "task_id": string_or_null(),
                                "headers": { "type": "object", "additionalProperties": { "type": "string" } },
                                "body": { "type": "string" },
                                "status": { "type": ["integer", "null"], "description": "null when the connection was reset (or a callback got no answer)." },
                                "reset": { "type": "boolean" },
                                "direction": { "enum": ["incoming", "outgoing"] }
                            },
                            "required": ["seq", "time", "method", "path", "query", "task_id", "headers", "body", "status", "reset", "direction"]
                        }
                    }
                },
                "required": ["requests"]
            }),
        ),
        (
            "control.callbacks",
            json!({
                "description": "Every callback request the mock sent, oldest first.",
                "type": "object",
                "properties": {
                    "callbacks": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "time": { "type": "integer" },
                                "task_id": string_or_null(),
                                "url": { "type": "string" },
                                "kind": { "enum": ["challenge", "update"] },
                                "status": string_or_null(),
                                "attempt": { "type": "integer", "minimum": 1 },
                                "delivered": { "type": "boolean" },
                                "http_status": { "type": ["integer", "null"] },
                                "error": string_or_null(),
                                "body": {},
                                "dropped": { "type": "boolean", "description": "Not sent: the step's callback fault drops it." },
                                "delayed": { "type": "string", "description": "Held this long after the status change by the step's callback fault." },
                                "copy": { "type": "integer", "minimum": 1, "description": "Which copy of a duplicated update." },
                                "copies": { "type": "integer", "minimum": 2 }
                            },
                            "required": ["time", "task_id", "url", "kind", "status", "attempt", "delivered", "http_status", "error", "body"]
                        }
                    }
                },
                "required": ["callbacks"]
            }),
        ),
        (
            "control.health",
            json!({
                "type": "object",
                "properties": {
                    "status": { "const": "ok" },
                    "tasks": { "type": "integer", "minimum": 0 },
                    "max_tasks": { "type": "integer", "minimum": 1 },
                    "forgotten": { "type": "integer", "minimum": 0 },
                    "namespace": { "type": ["string", "null"], "description": "The namespace asked about (`/ns/{name}/__mock/health`); null for the default one." },
                    "namespaces": { "type": "integer", "minimum": 0, "description": "Named namespaces now (the default namespace's health only)." },
                    "max_namespaces": { "type": "integer", "minimum": 0 },
                    "namespaces_forgotten": { "type": "integer", "minimum": 0 }
                },
                "required": ["status"]
            }),
        ),
        (
            "control.namespaces",
            json!({
                "description": "Every named namespace, by name.",
                "type": "object",
                "properties": {
                    "namespaces": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "name": { "type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$" },
                                "tasks": { "type": "integer", "minimum": 0 },
                                "now": { "type": "integer", "description": "The namespace's clock, Unix milliseconds." },
                                "idle_ms": { "type": "integer", "minimum": 0, "description": "Milliseconds since its last request." }
                            },
                            "required": ["name", "tasks", "now", "idle_ms"]
                        }
                    },
                    "max_namespaces": { "type": "integer", "minimum": 0 },
                    "forgotten": { "type": "integer", "minimum": 0, "description": "Namespaces forgotten so far to stay within --max-namespaces." }
                },
                "required": ["namespaces", "max_namespaces", "forgotten"]
            }),
        ),
    ]
}

/// Adds the control API's paths and schemas.
pub(super) fn paths(paths: &mut Map<String, Value>, components: &mut Map<String, Value>) {
    for (name, schema) in schemas() {
        components.insert(name.to_owned(), schema);
    }
    let mut dashboard = op(
        "dashboard",
        "The dashboard",
        "A page that shows the tasks, their timelines and the request journal live, and drives the clock and scripts tasks, through this control API only. Nothing is loaded from other hosts.",
        json!({
            "200": { "description": "The page.", "content": { "text/html": { "schema": { "type": "string" } } } }
        }),
    );
    dashboard["parameters"] = json!([{
        "name": "token",
        "in": "query",
        "required": false,
        "description": "A control-API token, taken once: the page keeps it in sessionStorage, drops it from the address bar and sends it as `Authorization: Bearer` on its requests.",
        "schema": { "type": "string" }
    }]);
    paths.insert(path(""), json!({ "get": dashboard }));
    paths.insert(
        path("health"),
        json!({ "get": op("control_health", "Ready?", "200 once the mock serves.", json!({ "200": ok("Ready.", "control.health") })) }),
    );
    paths.insert(
        path("tasks"),
        json!({ "get": op("control_list_tasks", "Every task", "Each with its current step and whole timeline, without counting a poll.", json!({ "200": ok("The tasks.", "control.tasks") })) }),
    );
    let task_id = json!([{ "name": "task_id", "in": "path", "required": true, "schema": { "type": "string" } }]);
    let mut task = json!({
        "get": op("control_get_task", "One task", "Its current step and whole timeline, without counting a poll.", json!({
            "200": ok("The task.", "control.task"),
            "404": refused("No such task (`task_not_exist`).")
        })),
        "put": with_body(op("control_script_task", "Script a task", "The task follows the scenario (or inline steps) from now on, replacing any task of that id; its polls start from zero.", json!({
            "200": ok("The task as scripted.", "control.task")
        })), "control.script"),
        "delete": op("control_delete_task", "Forget a task", "The task is gone; its id is unknown to the queries from now on.", json!({
            "204": no_content("Forgotten."),
            "404": refused("No such task (`task_not_exist`).")
        })),
    });
    task["parameters"] = task_id;
    paths.insert(path("tasks/{task_id}"), task);
    paths.insert(
        path("scenarios"),
        json!({ "get": op("control_scenarios", "The scenario catalog", "Every scenario a task can be scripted with, built in or from --scenarios, with its steps.", json!({ "200": ok("The catalog.", "control.scenarios") })) }),
    );
    paths.insert(
        path("clock"),
        json!({
            "get": op("control_get_clock", "The mock's clock", "Every lifecycle reads this clock.", json!({ "200": ok("Now.", "control.clock") })),
            "post": with_body(op("control_change_clock", "Move, freeze or resume the clock", "`advance` combines with `freeze` or `resume`. Callback updates that became due go out at once.", json!({ "200": ok("The clock after the change.", "control.clock") })), "control.clock_change"),
        }),
    );
    let filters = json!([
        { "name": "path", "in": "query", "required": false, "description": "Only requests to this path.", "schema": { "type": "string" } },
        { "name": "task_id", "in": "query", "required": false, "description": "Only requests about this task.", "schema": { "type": "string" } },
        { "name": "method", "in": "query", "required": false, "description": "Only requests with this method (any case).", "schema": { "type": "string" } },
        { "name": "limit", "in": "query", "required": false, "description": "Only the newest this many (still oldest first).", "schema": { "type": "integer", "minimum": 0 } }
    ]);
    let mut list_requests = op(
        "control_requests",
        "The request journal",
        "What clients sent and were answered, and the callbacks the mock sent; control requests are not recorded.",
        json!({ "200": ok("The journal.", "control.requests") }),
    );
    list_requests["parameters"] = filters;
    list_requests["responses"]["400"] = refused("`limit` is not a number (`invalid_request`).");
    paths.insert(
        path("requests"),
        json!({
            "get": list_requests,
            "delete": op("control_clear_requests", "Clear the journal", "", json!({ "204": no_content("Cleared.") })),
        }),
    );
    paths.insert(
        path("reset"),
        json!({ "post": op("control_reset", "Start over", "Tasks, clock, journal, callbacks, the next-submits scenario and the task-id sequence back to the start.", json!({ "204": no_content("Reset.") })) }),
    );
    paths.insert(
        path("next"),
        json!({
            "get": op("control_get_next", "The next submits' scenario", "What is left of it.", json!({ "200": ok("The scenario and how many submits it still applies to.", "control.next") })),
            "put": with_body(op("control_set_next", "Set the next submits' scenario", "Whatever API the submits come through: for clients that cannot send Prefer.", json!({ "200": ok("What was set.", "control.next") })), "control.next_spec"),
            "delete": op("control_clear_next", "Drop the next submits' scenario", "", json!({ "204": no_content("Dropped.") })),
        }),
    );
    paths.insert(
        path("metrics"),
        json!({ "get": op("control_metrics", "Metrics", "Counters for soak and load runs in the Prometheus text format: requests by API, route and status, their durations, submits, polls, faults, callbacks, and the tasks by status now. Guarded like the rest of the control API.", json!({
            "200": { "description": "The metrics.", "content": { "text/plain": { "schema": { "type": "string" } } } }
        })) }),
    );
    let mut list_callbacks = op(
        "control_callbacks",
        "Callbacks sent",
        "Every challenge and update the mock sent, with each attempt's outcome.",
        json!({ "200": ok("The attempts.", "control.callbacks") }),
    );
    list_callbacks["parameters"] =
        json!([{ "name": "task_id", "in": "query", "required": false, "schema": { "type": "string" } }]);
    paths.insert(
        path("callbacks"),
        json!({
            "get": list_callbacks,
            "delete": op("control_clear_callbacks", "Clear the callback record", "", json!({ "204": no_content("Cleared.") })),
        }),
    );
    paths.insert(
        path("namespaces"),
        json!({ "get": op("control_namespaces", "The namespaces", "Every named namespace (`/ns/{name}/...`), with its task count, its clock and how long it has been idle. Answered outside any namespace only.", json!({ "200": ok("The namespaces.", "control.namespaces") })) }),
    );
    let mut namespace = json!({
        "delete": op("control_delete_namespace", "Forget a namespace", "Its tasks, clock, journal and callbacks record are gone; its next request starts a new one.", json!({
            "204": no_content("Forgotten."),
            "404": refused("No such namespace (`not_found`).")
        })),
    });
    namespace["parameters"] =
        json!([{ "name": "name", "in": "path", "required": true, "schema": { "type": "string" } }]);
    paths.insert(path("namespaces/{name}"), namespace);
}

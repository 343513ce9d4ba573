//! The control API under `/__mock/`: script tasks, move the clock, read the
//! request journal, reset. The operations are plain functions on [`App`], so
//! the HTTP handlers here and the in-process [`crate::mock_server::MockServer`]
//! do exactly the same thing.
//!
//! A bad control request is answered 400 with a message naming the field or
//! JSON pointer, and changes nothing.
//!
//! Owns the control plane: this API, its gate (`guard`), what it shows of
//! credentials (`redact`) and the `dashboard`. May use `store`, `api::render`
//! (a task's timeline), `callbacks`, `metrics`, `http` and the pure core; the
//! API surfaces never use it.

pub mod dashboard;
pub mod guard;
pub mod redact;
pub mod shared;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::http::request::Parts;
use hyper::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::lifecycle::artifact::Resolution;
use crate::lifecycle::clock::LATEST;
use crate::lifecycle::duration::parse_duration;
use crate::lifecycle::scenarios::StepSpec;
use crate::lifecycle::scenarios::{step_json, steps_json};
use crate::lifecycle::Scenario;
use crate::lifecycle::Span;
use crate::server::app::App;
use crate::server::control::redact::Secrets;
use crate::server::http::{percent_decode, query_param};
use crate::server::store::journal::{Entry, Filter};
use crate::server::store::remote::ClockOp;
use crate::server::store::tasks::{v2_ratio, Request, Surface, Task, V2_RATIOS};

/// The prefix of every control route.
pub const PREFIX: &str = crate::contract::CONTROL_PREFIX;

/// Why a control request changed nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{pointer}: {reason}")]
pub struct ControlError {
    /// JSON pointer (or field) of what is wrong; `/` for the whole request.
    pub pointer: String,
    pub reason: String,
}

fn bad(pointer: impl Into<String>, reason: impl Into<String>) -> ControlError {
    let pointer = pointer.into();
    ControlError {
        pointer: if pointer.is_empty() { "/".to_owned() } else { pointer },
        reason: reason.into(),
    }
}

/// How to script a task: a scenario by name, or inline steps (the
/// scenarios-file format), and optionally what the submission asked for.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptSpec {
    pub scenario: Option<String>,
    pub steps: Option<Vec<StepSpec>>,
    pub resolution: Option<String>,
    pub duration: Option<u32>,
    /// The API the task belongs to: `gateway` (the default) and `native`
    /// answer on both v1 queries, `v2` on the v2 query, `openai` on new-api's
    /// OpenAI-compatible routes (`/v1/videos/{id}`).
    pub surface: Option<Surface>,
    /// A v2 task's aspect ratio (default `16:9`).
    pub ratio: Option<String>,
}

/// The scenario of the next `count` submits, through any API:
/// `{"scenario": "fail", "count": 2}` (or inline `steps`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NextSpec {
    pub scenario: Option<String>,
    pub steps: Option<Vec<StepSpec>>,
    #[serde(default = "one")]
    pub count: u32,
}

fn one() -> u32 {
    1
}

/// A clock change: `{"advance": "30s"}`, `{"freeze": true}`, `{"resume": true}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockSpec {
    pub advance: Option<String>,
    #[serde(default)]
    pub freeze: bool,
    #[serde(default)]
    pub resume: bool,
}

/// Scripts `task_id` to follow a scenario from now on, replacing any task
/// of that id (its polls start again from zero).
pub fn script(app: &App, task_id: &str, spec: &ScriptSpec) -> Result<Arc<Task>, ControlError> {
    let task = scripted(app, task_id, spec)?;
    let task = app.store.tasks().insert(task);
    app.note_task(&task);
    Ok(task)
}

/// The task [`script`] puts in, not yet stored.
fn scripted(app: &App, task_id: &str, spec: &ScriptSpec) -> Result<Task, ControlError> {
    if task_id.is_empty() {
        return Err(bad("task_id", "a task id is needed"));
    }
    let scenario = scenario_of(app, spec.scenario.as_deref(), spec.steps.as_deref())?;
    let surface = spec.surface.unwrap_or_default();
    let mut request = Request {
        surface,
        ..Request::default()
    };
    if surface == Surface::V2 {
        let ratio = spec.ratio.as_deref().unwrap_or("16:9");
        request.ratio =
            Some(v2_ratio(ratio).ok_or_else(|| bad("/ratio", format!("{ratio:?} is not one of {V2_RATIOS:?}")))?);
        request.duration_s = 5;
    } else if spec.ratio.is_some() {
        return Err(bad("/ratio", "only a v2 task has a ratio"));
    }
    let label = spec.resolution.as_deref().unwrap_or("768P");
    request.resolution = match surface {
        Surface::V2 => Resolution::for_v2(label, request.ratio.unwrap_or("16:9"))
            .ok_or_else(|| bad("/resolution", format!("{label:?} is not one of 480P, 768P, 2K")))?,
        _ => Resolution::from_label(label).ok_or_else(|| {
            bad(
                "/resolution",
                format!("{label:?} is not one of 512P, 720P, 768P, 1080P"),
            )
        })?,
    };
    if let Some(d) = spec.duration {
        if d == 0 {
            return Err(bad("/duration", "a video lasts at least a second"));
        }
        request.duration_s = d;
    }
    Ok(Task::new(
        task_id.to_owned(),
        scenario,
        app.store.clock().now(),
        request,
        app.store.tasks().seed(),
    ))
}

/// A scenario by name, or built from inline steps, or the default.
fn scenario_of(app: &App, name: Option<&str>, steps: Option<&[StepSpec]>) -> Result<Arc<Scenario>, ControlError> {
    match (name, steps) {
        (Some(_), Some(_)) => Err(bad("/steps", "give either `scenario` or `steps`, not both")),
        (Some(name), None) => app.catalog.get(name).cloned().ok_or_else(|| {
            let known = app.catalog.names().collect::<Vec<_>>().join(", ");
            bad("/scenario", format!("unknown scenario {name:?}; known: {known}"))
        }),
        (None, Some(steps)) => {
            let spec = crate::lifecycle::scenarios::ScenarioSpec {
                description: None,
                steps: steps.to_vec(),
            };
            Ok(Arc::new(spec.build("inline").map_err(|e| bad(e.pointer, e.reason))?))
        }
        (None, None) => Ok(app.catalog.default_scenario().clone()),
    }
}

/// Sets the scenario of the next submits.
pub fn next(app: &App, spec: &NextSpec) -> Result<(), ControlError> {
    if spec.scenario.is_none() && spec.steps.is_none() {
        return Err(bad("/scenario", "say which `scenario` (or inline `steps`)"));
    }
    let scenario = scenario_of(app, spec.scenario.as_deref(), spec.steps.as_deref())?;
    app.store.next_submits().set(scenario, spec.count);
    Ok(())
}

/// The scenario set for the next submits, as JSON.
pub fn next_json(app: &App) -> Value {
    match app.store.next_submits().peek() {
        Some((scenario, count)) => json!({"scenario": scenario, "count": count}),
        None => json!({"scenario": null, "count": 0}),
    }
}

/// Applies a clock change.
pub fn clock(app: &App, spec: &ClockSpec) -> Result<(), ControlError> {
    for op in clock_ops(app, spec)? {
        let clock = app.store.clock();
        match op {
            ClockOp::Freeze => clock.set_frozen(true),
            ClockOp::Resume => clock.set_frozen(false),
            ClockOp::Advance(ms) => clock.advance(Duration::from_millis(ms)),
            ClockOp::Read | ClockOp::Reset => {}
        }
    }
    app.note_clock();
    // Callback updates that became due go out now.
    app.callbacks.changed.notify_waiters();
    Ok(())
}

/// The steps of a clock change, in order, once it is checked.
fn clock_ops(app: &App, spec: &ClockSpec) -> Result<Vec<ClockOp>, ControlError> {
    if spec.freeze && spec.resume {
        return Err(bad("/resume", "freeze and resume at once"));
    }
    let advance = spec
        .advance
        .as_deref()
        .map(parse_duration)
        .transpose()
        .map_err(|e| bad("/advance", e))?;
    if advance.is_none() && !spec.freeze && !spec.resume {
        return Err(bad("/", "say `advance`, `freeze` or `resume`"));
    }
    if let Some(d) = advance {
        let now = app.store.clock().now();
        if u128::from(now) + d.as_millis() > u128::from(LATEST) {
            return Err(bad(
                "/advance",
                format!(
                    "the clock shows times up to the end of year 9999 ({} ms from now)",
                    LATEST.saturating_sub(now)
                ),
            ));
        }
    }
    let mut ops = Vec::new();
    if spec.freeze {
        ops.push(ClockOp::Freeze);
    }
    if spec.resume {
        ops.push(ClockOp::Resume);
    }
    if let Some(d) = advance {
        ops.push(ClockOp::Advance(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)));
    }
    Ok(ops)
}

/// Tasks, clock and journal back to how the server started.
pub fn reset(app: &App) {
    app.store.tasks().clear();
    app.store.clock().reset();
    app.store.journal().clear();
    app.callbacks.clear();
    app.store.next_submits().clear();
    app.note_reset();
    app.note_clock();
}

/// The catalog as JSON: every scenario by name with its steps (the
/// scenarios-file format), and the default.
pub fn scenarios_json(app: &App) -> Value {
    let scenarios: Vec<Value> = app
        .catalog
        .scenarios()
        .map(|s| json!({"name": s.name(), "description": s.description(), "steps": steps_json(s)}))
        .collect();
    json!({"default": app.catalog.default_scenario().name(), "scenarios": scenarios})
}

/// The clock as JSON.
pub fn clock_json(app: &App) -> Value {
    let now = app.store.clock().now();
    json!({"now": now, "now_unix": now / 1000, "frozen": app.store.clock().is_frozen()})
}

/// A task: its state now (without counting a poll) and its whole timeline;
/// its callback URL as sent (for in-process tests).
pub fn task_json(app: &App, task: &Task) -> Value {
    task_json_for(app, task, Secrets::Keep)
}

/// [`task_json`] as the control API serves it, credentials in the callback
/// URL shortened unless `--keep-secrets`.
fn task_json_for(app: &App, task: &Task, secrets: Secrets) -> Value {
    let now = app.store.clock().now();
    let polls = task.polls();
    let moment = task.moment(now, polls);
    let mut time = Duration::ZERO;
    let mut after_polls = 0u64;
    let timeline: Vec<Value> = task
        .scenario
        .steps()
        .iter()
        .enumerate()
        .map(|(index, step)| {
            let mut entry = step_json(step);
            entry["index"] = json!(index);
            entry["phase"] = json!(step.phase());
            let offset = u64::try_from(time.as_millis()).unwrap_or(u64::MAX);
            entry["starts_at"] = json!(task.submitted_at.saturating_add(offset));
            entry["starts_after_polls"] = json!(after_polls);
            match step.span {
                Span::For(d) => time = time.saturating_add(d),
                Span::Polls(n) => after_polls = after_polls.saturating_add(u64::from(n)),
                Span::Terminal => entry["terminal"] = json!(true),
            }
            entry
        })
        .collect();
    let mut shown = json!({
        "task_id": task.id,
        "scenario": task.scenario.name(),
        "submitted_at": task.submitted_at,
        "surface": task.request.surface,
        "resolution": task.request.resolution.label,
        "ratio": task.request.ratio,
        "video_width": task.request.resolution.width,
        "video_height": task.request.resolution.height,
        "duration": task.request.duration_s,
        "callback_url": task.callback.as_deref().map(|url| match secrets {
            Secrets::Redact => redact::url(url),
            Secrets::Keep => url.into(),
        }),
        "polls": polls,
        "current": {
            "index": moment.index,
            "phase": moment.phase(),
            "status": moment.step.status.as_str(),
            "minimax_status": moment.step.minimax.as_str(),
            "progress": format!("{}%", moment.progress),
        },
        "timeline": timeline,
    });
    // A v2 task: its model, task type, and v2's status (`cancelled` once a DELETE cancelled it).
    if task.request.surface == Surface::V2 {
        let v2 = &task.request.v2;
        shown["v2"] = json!({
            "model": v2.model.as_str(),
            "task_type": v2.task_type.as_str(),
            "status": match task.cancelled_at() {
                Some(_) => "cancelled",
                None => crate::server::api::render::v2::status(moment.phase()),
            },
            "cancelled_at": task.cancelled_at(),
        });
    }
    // An OpenAI-surface task: what its routes say, and the model they show.
    if task.request.surface == Surface::OpenAi {
        shown["current"]["openai_status"] = json!(moment.step.openai.as_str());
        shown["model"] = json!(task
            .request
            .model
            .map_or(crate::server::api::render::openai::DEFAULT_MODEL, |m| m.name()));
    }
    // A replayed task answers from its recording: say how many answers per API.
    if let Some(replay) = &task.replay {
        shown["replay"] = json!({
            "gateway": replay.answers(Surface::Gateway).len(),
            "native": replay.answers(Surface::Native).len(),
            "v2": replay.answers(Surface::V2).len(),
        });
    }
    shown
}

/// The answer to a control request.
pub struct Answer {
    pub status: StatusCode,
    pub body: Option<Value>,
    /// For 405.
    pub allow: Option<&'static str>,
}

fn ok(body: Value) -> Answer {
    Answer {
        status: StatusCode::OK,
        body: Some(body),
        allow: None,
    }
}

fn no_content() -> Answer {
    Answer {
        status: StatusCode::NO_CONTENT,
        body: None,
        allow: None,
    }
}

fn error(status: StatusCode, code: &str, message: String) -> Answer {
    Answer {
        status,
        body: Some(json!({"code": code, "message": message, "data": null})),
        allow: None,
    }
}

fn invalid(e: ControlError) -> Answer {
    error(StatusCode::BAD_REQUEST, "invalid_request", e.to_string())
}

fn not_allowed(allow: &'static str) -> Answer {
    Answer {
        allow: Some(allow),
        ..error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("allowed: {allow}"),
        )
    }
}

/// Parses a JSON body, naming the pointer and line of a mistake. Only an
/// object is taken (serde would also read a struct from an array, by
/// position); an empty body is `{}`, but blanks alone are not JSON.
fn parse<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, ControlError> {
    let text = std::str::from_utf8(body).map_err(|_| bad("/", "the body is not UTF-8"))?;
    let text = if text.is_empty() { "{}" } else { text };
    if !text.trim_start().starts_with('{') {
        return Err(bad("/", "the body must be a JSON object"));
    }
    crate::contract::jsonpos::deserialize(text)
        .map_err(|m| bad(m.pointer, format!("{} (line {} column {})", m.reason, m.line, m.column)))
}

/// The methods a control path serves, for `Allow` on a preflight.
pub fn allowed(path: &str) -> &'static str {
    let route = path.strip_prefix(PREFIX).unwrap_or_default();
    match route.split_once('/') {
        Some(("tasks", _)) => "GET, PUT, DELETE, OPTIONS",
        Some(("namespaces", _)) => "DELETE, OPTIONS",
        Some(_) => "OPTIONS",
        None => match route {
            "health" | "tasks" | "scenarios" | "metrics" | "namespaces" => "GET, OPTIONS",
            "clock" => "GET, POST, OPTIONS",
            "requests" | "callbacks" => "GET, DELETE, OPTIONS",
            "reset" => "POST, OPTIONS",
            "next" => "GET, PUT, DELETE, OPTIONS",
            _ => "OPTIONS",
        },
    }
}

/// Serves one control request; `path` is the one it answers (what follows
/// `/ns/{name}` in a namespace).
pub fn handle(app: &App, parts: &Parts, path: &str, body: &Bytes) -> Answer {
    let route = path.strip_prefix(PREFIX).unwrap_or_default();
    let method = &parts.method;
    match route.split_once('/') {
        None => match (route, method) {
            ("health", &Method::GET) => ok(health_json(app)),
            ("health", _) => not_allowed("GET"),
            ("tasks", &Method::GET) => match page(parts) {
                Ok((after, limit)) => {
                    let page = app.store.tasks().page(after, limit);
                    let next = (page.len() == limit).then(|| page.last().map(|t| t.created.to_string()));
                    let tasks: Vec<Value> = page.iter().map(|t| task_json_for(app, t, app.secrets)).collect();
                    ok(json!({ "tasks": tasks, "next": next.flatten() }))
                }
                Err(e) => invalid(e),
            },
            ("tasks", _) => not_allowed("GET"),
            ("scenarios", &Method::GET) => ok(scenarios_json(app)),
            ("scenarios", _) => not_allowed("GET"),
            ("clock", &Method::GET) => ok(clock_json(app)),
            ("clock", &Method::POST) => match parse::<ClockSpec>(body).and_then(|spec| clock(app, &spec)) {
                Ok(()) => ok(clock_json(app)),
                Err(e) => invalid(e),
            },
            ("clock", _) => not_allowed("GET, POST"),
            ("requests", &Method::GET) => requests(app, parts, |filter, after, limit| {
                app.store.journal().page(filter, after, limit)
            }),
            ("requests", &Method::DELETE) => {
                app.store.journal().clear();
                no_content()
            }
            ("requests", _) => not_allowed("GET, DELETE"),
            ("reset", &Method::POST) => {
                reset(app);
                no_content()
            }
            ("reset", _) => not_allowed("POST"),
            ("next", &Method::GET) => ok(next_json(app)),
            ("next", &Method::PUT) => match parse::<NextSpec>(body).and_then(|spec| next(app, &spec)) {
                Ok(()) => ok(next_json(app)),
                Err(e) => invalid(e),
            },
            ("next", &Method::DELETE) => {
                app.store.next_submits().clear();
                no_content()
            }
            ("next", _) => not_allowed("GET, PUT, DELETE"),
            ("callbacks", &Method::GET) => {
                let q = parts.uri.query().unwrap_or("");
                let task_id = query_param(q, "task_id");
                let mut callbacks = app.callbacks.list(task_id.as_deref());
                if app.secrets == Secrets::Redact {
                    for attempt in &mut callbacks {
                        if let std::borrow::Cow::Owned(url) = redact::url(&attempt.url) {
                            // An error message names the URL too.
                            if let Some(error) = &mut attempt.error {
                                *error = error.replace(&attempt.url, &url);
                            }
                            attempt.url = url;
                        }
                    }
                }
                ok(json!({ "callbacks": callbacks }))
            }
            ("callbacks", &Method::DELETE) => {
                app.callbacks.clear();
                no_content()
            }
            ("callbacks", _) => not_allowed("GET, DELETE"),
            ("namespaces", _) if app.namespace_name().is_some() => outside_namespaces(parts, path),
            ("namespaces", &Method::GET) => ok(namespaces_json(app)),
            ("namespaces", _) => not_allowed("GET"),
            _ => unknown(parts, path),
        },
        Some(("namespaces", _)) if app.namespace_name().is_some() => outside_namespaces(parts, path),
        Some(("namespaces", name)) => match *method {
            Method::DELETE if app.namespaces.remove(&percent_decode(name)) => no_content(),
            Method::DELETE => error(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no namespace {:?}", percent_decode(name)),
            ),
            _ => not_allowed("DELETE"),
        },
        Some(("tasks", id)) => {
            let id = percent_decode(id);
            match *method {
                Method::PUT => match parse::<ScriptSpec>(body).and_then(|spec| script(app, &id, &spec)) {
                    Ok(task) => ok(task_json_for(app, &task, app.secrets)),
                    Err(e) => invalid(e),
                },
                Method::GET => match app.store.tasks().get(&id) {
                    Some(task) => ok(task_json_for(app, &task, app.secrets)),
                    None => error(StatusCode::NOT_FOUND, "task_not_exist", format!("no task {id:?}")),
                },
                Method::DELETE => {
                    if app.store.tasks().remove(&id) {
                        app.note_removed(&id);
                        no_content()
                    } else {
                        error(StatusCode::NOT_FOUND, "task_not_exist", format!("no task {id:?}"))
                    }
                }
                _ => not_allowed("GET, PUT, DELETE"),
            }
        }
        _ => unknown(parts, path),
    }
}

/// `GET /__mock/requests`: the journal, filtered, paged (`?after`,
/// `?limit`) or the newest `?last=N`; `page` lists it (a filter, a cursor
/// and a limit), from this process or from the shared store.
fn requests(app: &App, parts: &Parts, page_of: impl Fn(&Filter, Option<u64>, usize) -> Vec<Entry>) -> Answer {
    let q = parts.uri.query().unwrap_or("");
    let filter = Filter {
        path: query_param(q, "path").map(|p| p.into_owned()),
        task_id: query_param(q, "task_id").map(|p| p.into_owned()),
        method: query_param(q, "method").map(|p| p.into_owned()),
    };
    // `?last=N`: only the newest N (the dashboard shows the last 200).
    if let Some(last) = query_param(q, "last") {
        let Ok(last) = last.parse::<usize>() else {
            return invalid(bad("?last", "a number of requests, 0 or more"));
        };
        let listed = page_of(&filter, None, usize::MAX);
        let newest = &listed[listed.len().saturating_sub(last)..];
        let requests: Vec<Value> = newest.iter().map(|e| e.to_json(app.secrets)).collect();
        return ok(json!({ "requests": requests, "next": null }));
    }
    match page(parts) {
        Ok((after, limit)) => {
            let entries = page_of(&filter, after, limit);
            let next = (entries.len() == limit).then(|| entries.last().map(|e| e.id.to_string()));
            let requests: Vec<Value> = entries.iter().map(|e| e.to_json(app.secrets)).collect();
            ok(json!({ "requests": requests, "next": next.flatten() }))
        }
        Err(e) => invalid(e),
    }
}

/// `GET /__mock/health`: ready, and how full the namespace is; the
/// default namespace's also counts the named ones.
fn health_json(app: &App) -> Value {
    let mut health = json!({
        "status": "ok",
        "tasks": app.store.tasks().len(),
        "max_tasks": app.store.tasks().max_tasks(),
        "forgotten": app.store.tasks().forgotten(),
        "namespace": app.namespace_name(),
    });
    if app.namespace_name().is_none() {
        health["namespaces"] = json!(app.namespaces.len());
        health["max_namespaces"] = json!(app.namespaces.max());
        health["namespaces_forgotten"] = json!(app.namespaces.evicted());
    }
    health
}

/// `GET /__mock/namespaces`: every named namespace, by name, with its
/// task count, its clock and how long since its last request.
pub fn namespaces_json(app: &App) -> Value {
    let namespaces: Vec<Value> = app
        .namespaces
        .list()
        .into_iter()
        .map(|listed| {
            json!({
                "name": listed.name,
                "tasks": listed.value.store.tasks().len(),
                "now": listed.value.store.clock().now(),
                "idle_ms": listed.idle_ms,
            })
        })
        .collect();
    json!({
        "namespaces": namespaces,
        "max_namespaces": app.namespaces.max(),
        "forgotten": app.namespaces.evicted(),
    })
}

/// The namespaces are the instance's: listed and removed outside any of them.
fn outside_namespaces(parts: &Parts, path: &str) -> Answer {
    error(
        StatusCode::NOT_FOUND,
        "not_found",
        format!(
            "no control route {} {} in a namespace: namespaces are listed at /__mock/namespaces, without a /ns/ prefix",
            parts.method, path
        ),
    )
}

/// How many tasks or journal entries a page holds when `limit` is not given.
pub const DEFAULT_PAGE: usize = 1000;

/// `?after=CURSOR&limit=N` of a listing: the cursor is the `next` of the
/// previous page.
fn page(parts: &Parts) -> Result<(Option<u64>, usize), ControlError> {
    let q = parts.uri.query().unwrap_or("");
    let number = |name: &str| {
        query_param(q, name)
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|_| bad(format!("?{name}"), format!("{v:?} is not a whole number")))
            })
            .transpose()
    };
    let after = number("after")?;
    let limit = number("limit")?.map_or(DEFAULT_PAGE, |l| l.clamp(1, 100_000) as usize);
    Ok((after, limit))
}

fn unknown(parts: &Parts, path: &str) -> Answer {
    error(
        StatusCode::NOT_FOUND,
        "not_found",
        format!(
            "no control route {} {}; see /__mock/ (the dashboard), /__mock/health, /__mock/tasks, /__mock/scenarios, /__mock/clock, /__mock/requests, /__mock/next, /__mock/callbacks, /__mock/metrics, /__mock/namespaces, /__mock/reset",
            parts.method,
            path
        ),
    )
}

//! The control API with `--store`: what it reads is brought up to date
//! from the shared store first, and what it changes is changed there, so
//! that any replica's `/__mock/` shows and moves every replica's state. A
//! store that cannot be reached is a 503 (and `/__mock/health` says not
//! ready); nothing is answered from a stale copy.

use bytes::Bytes;
use hyper::http::request::Parts;
use hyper::{Method, StatusCode};
use serde_json::{json, Value};

use super::{
    bad, clock_json, clock_ops, error, health_json, invalid, no_content, ok, parse, percent_decode, requests,
    scenario_of, scripted, task_json_for, Answer, ClockSpec, NextSpec, ScriptSpec, PREFIX,
};
use crate::server::app::App;
use crate::server::control::redact::{self, Secrets};
use crate::server::http::query_param;
use crate::server::store::journal::{self, Filter};
use crate::server::store::Unavailable;

/// Serves one control request: in this process, or with `--store`
/// through the shared store.
pub async fn handle(app: &App, parts: &Parts, path: &str, body: &Bytes) -> Answer {
    if app.store.remote().is_none() {
        return super::handle(app, parts, path, body);
    }
    match serve(app, parts, path, body).await {
        Ok(answer) => answer,
        Err(e) => unavailable(&e),
    }
}

fn unavailable(e: &Unavailable) -> Answer {
    error(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable", e.to_string())
}

async fn serve(app: &App, parts: &Parts, path: &str, body: &Bytes) -> Result<Answer, Unavailable> {
    let route = path.strip_prefix(PREFIX).unwrap_or_default();
    let store = &app.store;
    let method = &parts.method;
    Ok(match (route.split_once('/'), route, method) {
        (None, "health", &Method::GET) => return Ok(health(app).await),
        (None, "clock", &Method::POST) => {
            let ops = match parse::<ClockSpec>(body).and_then(|spec| clock_ops(app, &spec)) {
                Ok(ops) => ops,
                Err(e) => return Ok(invalid(e)),
            };
            for op in ops {
                store.change_clock(op).await?;
            }
            app.callbacks.changed.notify_waiters();
            ok(clock_json(app))
        }
        (None, "reset", &Method::POST) => {
            store.reset().await?;
            app.callbacks.clear();
            no_content()
        }
        (None, "next", &Method::GET) => ok(next_json(app).await?),
        (None, "next", &Method::PUT) => {
            let spec = match parse::<NextSpec>(body) {
                Ok(spec) if spec.scenario.is_none() && spec.steps.is_none() => {
                    return Ok(invalid(bad("/scenario", "say which `scenario` (or inline `steps`)")))
                }
                Ok(spec) => spec,
                Err(e) => return Ok(invalid(e)),
            };
            let scenario = match scenario_of(app, spec.scenario.as_deref(), spec.steps.as_deref()) {
                Ok(scenario) => scenario,
                Err(e) => return Ok(invalid(e)),
            };
            store.set_next(scenario, spec.count).await?;
            ok(next_json(app).await?)
        }
        (None, "next", &Method::DELETE) => {
            store.clear_next().await?;
            no_content()
        }
        (None, "requests", &Method::GET) => {
            let all = store.journal_list(&Filter::default()).await?;
            requests(app, parts, |filter, after, limit| {
                journal::listed(all.clone(), filter, after, limit)
            })
        }
        (None, "requests", &Method::DELETE) => {
            store.clear_journal().await?;
            no_content()
        }
        (None, "callbacks", &Method::GET) => ok(json!({ "callbacks": callbacks(app, parts).await? })),
        (None, "callbacks", &Method::DELETE) => {
            if let Some(space) = store.remote() {
                space.clear(&["callbacks"]).await?;
            }
            no_content()
        }
        (None, "namespaces", &Method::GET) if app.namespace_name().is_none() => ok(namespaces(app).await?),
        (Some(("namespaces", name)), _, &Method::DELETE) if app.namespace_name().is_none() => {
            let name = percent_decode(name);
            let known = match store.remote() {
                Some(space) => space.remote.namespaces().await?.contains(&name.to_string()),
                None => false,
            };
            let local = app.namespaces.get(&name);
            if let (Some(space), true) = (store.remote(), known || local.is_some()) {
                space.remote.space(Some(&name)).delete(&name).await?;
            }
            if app.namespaces.remove(&name) || known {
                no_content()
            } else {
                error(StatusCode::NOT_FOUND, "not_found", format!("no namespace {name:?}"))
            }
        }
        (Some(("tasks", id)), _, &Method::PUT) => {
            let id = percent_decode(id);
            let task = match parse::<ScriptSpec>(body).and_then(|spec| scripted(app, &id, &spec)) {
                Ok(task) => task,
                Err(e) => return Ok(invalid(e)),
            };
            let task = store.insert(task).await?;
            ok(task_json_for(app, &task, app.secrets))
        }
        (Some(("tasks", id)), _, &Method::DELETE) => {
            let id = percent_decode(id);
            if store.remove(&id).await? {
                no_content()
            } else {
                error(StatusCode::NOT_FOUND, "task_not_exist", format!("no task {id:?}"))
            }
        }
        // What only reads tasks and the clock (and every refusal) is the
        // in-process answer over an up-to-date copy.
        _ => {
            store.pull().await?;
            super::handle(app, parts, path, body)
        }
    })
}

/// `GET /__mock/health` with a store: ready only while the store answers.
async fn health(app: &App) -> Answer {
    let ready = async {
        let space = app.store.remote().expect("a store");
        space.remote.ping().await?;
        app.store.pull().await?;
        space.forgotten().await
    };
    match ready.await {
        Ok(forgotten) => {
            let mut health = health_json(app);
            health["store"] = json!("redis");
            health["ready"] = json!(true);
            health["forgotten"] = json!(forgotten);
            ok(health)
        }
        Err(e) => super::Answer {
            status: StatusCode::SERVICE_UNAVAILABLE,
            body: Some(json!({
                "status": "unavailable",
                "ready": false,
                "store": "redis",
                "error": e.to_string(),
                "namespace": app.namespace_name(),
            })),
            allow: None,
        },
    }
}

async fn next_json(app: &App) -> Result<Value, Unavailable> {
    Ok(match app.store.peek_next().await? {
        Some((scenario, count)) => json!({"scenario": scenario, "count": count}),
        None => json!({"scenario": null, "count": 0}),
    })
}

/// The callback attempts every replica recorded (of `?task_id`'s), oldest
/// first, credentials shortened unless `--keep-secrets`.
async fn callbacks(app: &App, parts: &Parts) -> Result<Vec<Value>, Unavailable> {
    let q = parts.uri.query().unwrap_or("");
    let task_id = query_param(q, "task_id");
    let Some(space) = app.store.remote() else {
        return Ok(Vec::new());
    };
    let mut attempts: Vec<Value> = space
        .callbacks()
        .await?
        .iter()
        .filter_map(|record| serde_json::from_slice(record).ok())
        .filter(|a: &Value| task_id.as_deref().is_none_or(|t| a["task_id"] == t))
        .collect();
    if app.secrets == Secrets::Redact {
        for attempt in &mut attempts {
            let Some(url) = attempt["url"].as_str().map(str::to_owned) else {
                continue;
            };
            if let std::borrow::Cow::Owned(short) = redact::url(&url) {
                if let Some(error) = attempt["error"].as_str().map(|e| e.replace(&url, &short)) {
                    attempt["error"] = json!(error);
                }
                attempt["url"] = json!(short);
            }
        }
    }
    Ok(attempts)
}

/// `GET /__mock/namespaces` with a store: every namespace any replica
/// used, with its task count and clock from the store.
async fn namespaces(app: &App) -> Result<Value, Unavailable> {
    let Some(space) = app.store.remote() else {
        return Ok(json!({}));
    };
    let names = space.remote.namespaces().await?;
    let mut listed = Vec::new();
    for name in names {
        let Some(namespace) = app.namespace(&name) else {
            continue;
        };
        namespace.store.pull().await?;
        let idle_ms = app
            .namespaces
            .list()
            .into_iter()
            .find(|l| l.name == name)
            .map_or(0, |l| l.idle_ms);
        listed.push(json!({
            "name": name,
            "tasks": namespace.store.tasks().len(),
            "now": namespace.store.clock().now(),
            "idle_ms": idle_ms,
        }));
    }
    Ok(json!({
        "namespaces": listed,
        "max_namespaces": app.namespaces.max(),
        "forgotten": app.namespaces.evicted(),
    }))
}

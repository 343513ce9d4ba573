//! The control API: a sequence of requests to `/__mock/...` on a fresh
//! `App`, through `control::handle` as the server calls it. Never a panic; a
//! refused request (4xx) changes nothing; the clock goes backwards only on
//! reset; after each request every task renders bodies that validate on
//! every surface.
//!
//! Input: requests separated by NUL; each is `METHOD PATH` on its first
//! line (a path not starting with `/` is taken below `/__mock/`), then the
//! body.

#![no_main]

mod common;

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use hyper::{Method, Request};
use libfuzzer_sys::fuzz_target;
use minimax_mock::lifecycle::clock::Clock;
use minimax_mock::lifecycle::scenarios::Catalog;
use minimax_mock::server::app::App;
use minimax_mock::server::control::{self, PREFIX};
use minimax_mock::server::store::tasks::Surface;
use minimax_mock::server::Config;

const EPOCH: u64 = 1_756_453_472_000;

fn app() -> Arc<App> {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    let catalog = CATALOG
        .get_or_init(|| {
            Catalog::from_text("scenarios.json", include_str!("../../examples/scenarios.json"))
                .expect("the example scenarios load")
        })
        .clone();
    let config = Config {
        contract: common::shared_contract().clone(),
        catalog,
        clock: Clock::new(Some(EPOCH), true),
        public_url: Some("http://127.0.0.1:8080".to_owned()),
        ..Config::default()
    };
    minimax_mock::server::app(config, ([127, 0, 0, 1], 8080).into(), 0)
}

/// What a control request may change. A running clock moves on by itself,
/// so its time and what tasks show now are compared only while it stands.
fn observable(app: &App) -> (Vec<serde_json::Value>, serde_json::Value, serde_json::Value) {
    let frozen = app.store.clock().is_frozen();
    let tasks = app
        .store
        .tasks()
        .list()
        .iter()
        .map(|t| {
            let mut task = control::task_json(app, t);
            if !frozen {
                task.as_object_mut().expect("a task is an object").remove("current");
            }
            task
        })
        .collect();
    let mut clock = control::clock_json(app);
    if !frozen {
        clock = serde_json::json!({ "frozen": false });
    }
    (tasks, clock, control::next_json(app))
}

fuzz_target!(|data: &[u8]| {
    let app = app();
    for request in data.split(|&b| b == 0).take(16) {
        let (head, body) = match request.iter().position(|&b| b == b'\n') {
            Some(i) => (&request[..i], &request[i + 1..]),
            None => (request, &b""[..]),
        };
        let Ok(head) = std::str::from_utf8(head) else {
            continue;
        };
        let (method, path) = head.split_once(' ').unwrap_or((head, "health"));
        let Ok(method) = Method::from_bytes(method.as_bytes()) else {
            continue;
        };
        let uri = if path.starts_with('/') {
            path.to_owned()
        } else {
            format!("{PREFIX}{path}")
        };
        let Ok(request) = Request::builder().method(method).uri(uri).body(()) else {
            continue;
        };
        let (parts, ()) = request.into_parts();
        let before = observable(&app);
        let clock_before = app.store.clock().now();
        let answer = control::handle(&app, &parts, parts.uri.path(), &Bytes::copy_from_slice(body));
        if parts.uri.path() != "/__mock/reset" {
            assert!(app.store.clock().now() >= clock_before, "the clock went backwards");
        }
        if answer.status.is_client_error() {
            assert_eq!(before, observable(&app), "a refused request changed something");
            let body = answer.body.expect("an error has a body");
            assert!(body["code"].is_string() && body["message"].is_string(), "{body}");
        }
        let now = app.store.clock().now();
        for task in app.store.tasks().list() {
            let v2_task = task.request.surface == Surface::V2;
            common::check_view(&task.view(now, task.polls(), &app.base_url), v2_task);
        }
    }
});

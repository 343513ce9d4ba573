//! The dashboard at `/__mock/`: served by the control API (and gone with
//! `--no-control`), self-contained, and, in a real browser, showing what the
//! mock does and driving it.
//!
//! The browser tests need Chromium, which a fresh machine lacks, so they are
//! `#[ignore]`d in a plain `cargo test`; `.ci/run` installs Chromium and runs
//! them with `cargo test --test dashboard -- --ignored`, where a missing
//! browser fails them. Each test starts its own mock (frozen clock, fixed
//! epoch) and its own headless Chromium; the page polls the control API, so
//! the tests wait for what it shows instead of sleeping.

use crate::common::browser::Browser;
use crate::common::{config, start, EPOCH_MS};
use minimax_mock::lifecycle::scenarios::Catalog;
use minimax_mock::server::Config;
use minimax_mock::MockServer;
use serde_json::{json, Value};

const QUERY: &str = "/minimax/v1/query/video_generation";

/// The page is one self-contained document: nothing from other hosts, and
/// a policy that would stop the browser fetching anything if it tried.
#[tokio::test]
async fn the_page_is_served_under_the_control_prefix_and_loads_nothing_from_elsewhere() {
    let server = start(config()).await;
    let page = server.get("/__mock/").await;
    assert_eq!(page.status, 200);
    assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
    let policy = page.header("content-security-policy").expect("a CSP");
    assert!(policy.contains("default-src 'none'"), "{policy}");
    assert!(policy.contains("connect-src 'self'"), "{policy}");
    assert!(!page.body.contains("://"), "the page names another host");
    assert!(page.body.contains("<svg id=\"timeline-svg\""));
    assert_eq!(page.body, minimax_mock::server::control::dashboard::PAGE);

    let bare = server.get("/__mock?token=abc").await;
    assert_eq!(bare.status, 308);
    assert_eq!(bare.header("location"), Some("/__mock/?token=abc"));
    assert_eq!(server.send("POST", "/__mock/", &[], "").await.status, 405);
    // The page is not a request of the app under test: the journal skips it.
    assert_eq!(server.get("/__mock/requests").await.json()["requests"], json!([]));
}

#[tokio::test]
async fn no_control_means_no_dashboard() {
    let server = start(Config {
        control: false,
        ..config()
    })
    .await;
    assert_eq!(server.get("/__mock/").await.status, 404);
    assert_eq!(server.get("/__mock").await.status, 404);
}

/// The page's scenario list: built-in scenarios and a file's, with their steps.
#[tokio::test]
async fn scenarios_lists_the_catalog_with_its_steps() {
    let server = start(Config {
        catalog: rejected_catalog(),
        ..config()
    })
    .await;
    let r = server.get("/__mock/scenarios").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let catalog = r.json();
    assert_eq!(catalog["default"], "success");
    let names: Vec<&str> = catalog["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"rejected") && names.contains(&"flaky"), "{names:?}");
    let rejected = catalog["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "rejected")
        .unwrap();
    assert_eq!(rejected["description"], "Refused at once");
    assert_eq!(
        rejected["steps"],
        json!([{"status": "FAILURE", "minimax_status": "Fail", "progress": [100, 100],
                "base_resp": {"status_code": 1026, "status_msg": "input sensitive"}, "fail_reason": "input sensitive"}])
    );
    assert_eq!(server.send("POST", "/__mock/scenarios", &[], "").await.status, 405);
}

/// A scenarios file with one scenario of its own: FAILURE from the first poll.
fn rejected_catalog() -> Catalog {
    let file = r#"{"scenarios": {"rejected": {"description": "Refused at once", "steps": [
        {"status": "FAILURE", "base_resp": {"status_code": 1026, "status_msg": "input sensitive"}}
    ]}}}"#;
    Catalog::from_text("rejected.json", file).unwrap()
}

fn mock(config: Config) -> MockServer {
    MockServer::builder().config(|c| *c = config).start_blocking()
}

fn get(server: &MockServer, target: &str) -> Value {
    ureq::get(&format!("{}{target}", server.uri()))
        .call()
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap()
}

/// A poll whatever it is answered (a fault's 429 or 502 too); the status.
fn poll(server: &MockServer, target: &str) -> u16 {
    ureq::get(&format!("{}{target}", server.uri()))
        .config()
        .http_status_as_error(false)
        .build()
        .call()
        .unwrap()
        .status()
        .as_u16()
}

fn submit(server: &MockServer, scenario: &str) -> String {
    let answer: Value = ureq::post(&format!("{}/minimax/v1/video_generation", server.uri()))
        .header("Prefer", &format!("scenario={scenario}"))
        .send_json(json!({"model": "MiniMax-Hailuo-02", "prompt": "A cat plays the piano", "duration": 6, "resolution": "1080P"}))
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    answer["task_id"].as_str().unwrap().to_owned()
}

/// A cell of the task's row, as text (`c-status`, `c-polls`, ...).
fn cell(task: &str, class: &str) -> String {
    format!(
        "(() => {{ const r = document.querySelector('tr[data-task-id=\"{task}\"] .{class}'); return r ? r.innerText.trim() : null; }})()"
    )
}

fn cell_is(task: &str, class: &str, expected: &str) -> String {
    format!("{} === {}", cell(task, class), serde_json::to_string(expected).unwrap())
}

fn open(server: &MockServer) -> Browser {
    let mut browser = Browser::launch();
    browser.goto(&format!("{}/__mock/", server.uri()));
    browser.wait_for(
        "the page to reach the control API",
        "document.getElementById('conn').textContent === 'live'",
    );
    browser
}

#[test]
#[ignore = "needs Chromium: cargo test --test dashboard -- --ignored"]
fn shows_submitted_and_scripted_tasks_with_their_status_and_keeps_up_by_itself() {
    let server = mock(config());
    let submitted = submit(&server, "success-polls");
    // A v2 task, scripted through the control API.
    let scripted: Value = ureq::put(&format!("{}/__mock/tasks/job-v2", server.uri()))
        .send_json(json!({"scenario": "fail", "surface": "v2", "ratio": "9:16"}))
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    assert_eq!(scripted["surface"], "v2");

    let mut page = open(&server);
    page.wait_for(
        "the submitted task",
        &cell_is(&submitted, "c-status", "NOT_START Preparing"),
    );
    assert_eq!(page.eval(&cell(&submitted, "c-surface")), "gateway");
    assert_eq!(page.eval(&cell(&submitted, "c-scenario")), "success-polls");
    assert_eq!(page.eval(&cell(&submitted, "c-polls")), "0");
    assert_eq!(page.eval(&cell(&submitted, "c-progress")), "0%");
    assert_eq!(page.eval(&cell(&submitted, "c-next")), "SUBMITTED after 1 more poll");
    page.wait_for(
        "the scripted task",
        &cell_is("job-v2", "c-status", "NOT_START Preparing"),
    );
    assert_eq!(page.eval(&cell("job-v2", "c-surface")), "v2");
    assert_eq!(
        page.eval(&cell("job-v2", "c-next")),
        "SUBMITTED in 1\u{a0}s (clock frozen)"
    );

    // The app polls; the page follows without being reloaded.
    page.eval("window.notReloaded = true");
    get(&server, &format!("{QUERY}?task_id={submitted}"));
    get(&server, &format!("{QUERY}?task_id={submitted}"));
    page.wait_for("the polls to show", &cell_is(&submitted, "c-status", "QUEUED Queueing"));
    assert_eq!(page.eval(&cell(&submitted, "c-polls")), "2");
    assert_eq!(page.eval("window.notReloaded"), true);

    // The journal, newest first, with the API's filters.
    page.wait_for(
        "the journal to show the polls",
        "document.querySelectorAll('#journal tbody tr[data-key]').length === 3",
    );
    let first = page.eval("document.querySelector('#journal tbody tr[data-key] .path').innerText");
    assert_eq!(first, format!("{QUERY}?task_id={submitted}"));
    page.eval("(() => { const s = document.getElementById('filter-method'); s.value = 'POST'; s.dispatchEvent(new Event('input', {bubbles: true})); })()");
    page.wait_for(
        "the method filter",
        "document.querySelectorAll('#journal tbody tr[data-key]').length === 1",
    );
    assert_eq!(
        page.eval("document.querySelector('#journal tbody tr[data-key] .path').innerText"),
        "/minimax/v1/video_generation"
    );

    // Choosing a task draws its timeline: one bar a step, the position marked.
    page.click(&format!("tr[data-task-id=\"{submitted}\"] .c-id"));
    page.wait_for(
        "the timeline of the chosen task",
        &format!("document.getElementById('timeline-task').textContent === '{submitted}'"),
    );
    assert_eq!(page.eval("document.querySelectorAll('#timeline-svg g.step').length"), 5);
    assert_eq!(
        page.eval("document.querySelector('#timeline-svg g.step.current').dataset.status"),
        "QUEUED"
    );
    assert_eq!(page.eval("document.getElementById('timeline-now').dataset.index"), "2");
}

#[test]
#[ignore = "needs Chromium: cargo test --test dashboard -- --ignored"]
fn follows_the_clock_after_the_advance_buttons_are_pressed() {
    let server = mock(config());
    server.script("job-time", "success").unwrap();
    let mut page = open(&server);
    page.wait_for("the task", &cell_is("job-time", "c-status", "NOT_START Preparing"));
    assert_eq!(
        page.eval("document.getElementById('clock-now').dataset.now"),
        EPOCH_MS.to_string()
    );

    page.click("button[data-advance='1s']");
    page.wait_for(
        "the clock to move one second",
        &format!(
            "document.getElementById('clock-now').dataset.now === '{}'",
            EPOCH_MS + 1_000
        ),
    );
    page.wait_for(
        "the task to follow",
        &cell_is("job-time", "c-status", "SUBMITTED Preparing"),
    );
    assert_eq!(server.app().store.clock().now(), EPOCH_MS + 1_000);

    page.click("button[data-advance='10s']");
    page.wait_for(
        "the task to finish",
        &cell_is("job-time", "c-status", "SUCCESS Success"),
    );
    assert_eq!(page.eval(&cell("job-time", "c-progress")), "100%");
    assert_eq!(page.eval(&cell("job-time", "c-next")), "finished");
    assert_eq!(server.app().store.clock().now(), EPOCH_MS + 11_000);

    page.click("button[data-advance='1m']");
    page.type_into("#advance-input", "90s");
    page.click("#advance-form button[type=submit]");
    page.wait_for(
        "a minute and a typed 90 s",
        &format!(
            "document.getElementById('clock-now').dataset.now === '{}'",
            EPOCH_MS + 161_000
        ),
    );
    assert_eq!(server.app().store.clock().now(), EPOCH_MS + 161_000);

    assert_eq!(
        page.eval("document.getElementById('clock-state').textContent"),
        "frozen"
    );
    page.click("#freeze-toggle");
    page.wait_for(
        "the clock to run",
        "document.getElementById('clock-state').textContent === 'running'",
    );
    assert!(!server.app().store.clock().is_frozen());
    page.click("#freeze-toggle");
    page.wait_for(
        "the clock to stop",
        "document.getElementById('clock-state').textContent === 'frozen'",
    );
    assert!(server.app().store.clock().is_frozen());
}

#[test]
#[ignore = "needs Chromium: cargo test --test dashboard -- --ignored"]
fn scripting_a_failure_from_the_page_makes_the_next_poll_fail() {
    let server = mock(Config {
        catalog: rejected_catalog(),
        ..config()
    });
    let mut page = open(&server);
    page.wait_for(
        "the file's scenario in the list",
        "[...document.querySelectorAll('#script-scenario option')].some(o => o.value === 'rejected')",
    );
    page.type_into("#script-id", "job-r");
    page.eval("document.getElementById('script-scenario').value = 'rejected'");
    page.eval("document.getElementById('script-scenario').dispatchEvent(new Event('change'))");
    assert!(page
        .eval("document.getElementById('scenario-preview').innerText")
        .as_str()
        .unwrap()
        .contains("FAILURE"));
    page.click("#script-form button[type=submit]");
    page.wait_for("the scripted task", &cell_is("job-r", "c-status", "FAILURE Fail"));
    let polled = get(&server, &format!("{QUERY}?task_id=job-r"));
    assert_eq!(polled["data"]["status"], "FAILURE");
    assert_eq!(polled["data"]["fail_reason"], "input sensitive");
    assert_eq!(polled["data"]["data"]["base_resp"]["status_code"], 1026);

    // A built-in one, on MiniMax's native surface, replacing the task.
    page.type_into("#script-id", "job-r");
    page.eval("document.getElementById('script-scenario').value = 'fail-polls'");
    page.eval("document.getElementById('script-surface').value = 'native'");
    page.click("#script-form button[type=submit]");
    page.wait_for("the task replaced", &cell_is("job-r", "c-scenario", "fail-polls"));
    assert_eq!(page.eval(&cell("job-r", "c-surface")), "native");
    let task = server.task("job-r").unwrap();
    assert_eq!(task["scenario"], "fail-polls");
    assert_eq!(task["polls"], 0);

    page.click("tr[data-task-id=\"job-r\"] button[data-action=delete]");
    page.wait_for("the task gone", "!document.querySelector('tr[data-task-id=\"job-r\"]')");
    assert!(server.task("job-r").is_none());

    // A refusal is said, and changes nothing.
    page.type_into("#script-id", "job-bad");
    page.eval("document.getElementById('script-surface').value = 'v2'");
    page.eval("document.getElementById('script-scenario').value = 'success'");
    page.eval("(() => { const o = document.createElement('option'); o.value = 'nope'; document.getElementById('script-scenario').append(o); document.getElementById('script-scenario').value = 'nope'; })()");
    page.click("#script-form button[type=submit]");
    page.wait_for(
        "the refusal",
        "document.getElementById('toast').classList.contains('error') && document.getElementById('toast').innerText.includes('unknown scenario')",
    );
    assert!(server.task("job-bad").is_none());
}

/// `?token=` is taken once, dropped from the address bar, and sent on every
/// request the page makes (as the control API's token on other branches).
#[test]
#[ignore = "needs Chromium: cargo test --test dashboard -- --ignored"]
fn a_token_given_once_is_sent_as_a_bearer_on_every_request() {
    let server = mock(config());
    server.script("job-1", "success").unwrap();
    let mut page = Browser::launch();
    page.call("Network.enable", json!({}));
    page.goto(&format!("{}/__mock/?token=s3cret", server.uri()));
    page.wait_for(
        "the page to reach the control API",
        "document.getElementById('conn').textContent === 'live'",
    );
    assert_eq!(page.eval("location.search"), "");
    assert_eq!(page.eval("sessionStorage.getItem('minimax-mock.token')"), "s3cret");
    page.click("button[data-advance='1s']");
    page.wait_for(
        "the clock to move",
        &format!(
            "document.getElementById('clock-now').dataset.now === '{}'",
            EPOCH_MS + 1_000
        ),
    );
    let fetched: Vec<(String, Value)> = page
        .events
        .iter()
        .filter(|e| e["method"] == "Network.requestWillBeSent")
        .map(|e| {
            (
                e["params"]["request"]["url"].as_str().unwrap_or_default().to_owned(),
                e["params"]["request"]["headers"].clone(),
            )
        })
        .filter(|(url, _)| url.contains("/__mock/") && !url.ends_with("/__mock/") && !url.contains("token="))
        .collect();
    let paths: Vec<&str> = fetched
        .iter()
        .map(|(u, _)| u.split('?').next().unwrap_or_default())
        .collect();
    for wanted in [
        "/__mock/clock",
        "/__mock/tasks",
        "/__mock/requests",
        "/__mock/scenarios",
    ] {
        assert!(
            paths.iter().any(|p| p.ends_with(wanted)),
            "no request to {wanted}: {paths:?}"
        );
    }
    for (url, headers) in &fetched {
        assert_eq!(headers["Authorization"], "Bearer s3cret", "{url}");
    }
}

#[test]
#[ignore = "needs Chromium: cargo test --test dashboard -- --ignored"]
fn the_timeline_marks_faults_on_their_steps_and_where_the_task_is() {
    let server = mock(config());
    let id = submit(&server, "flaky");
    assert_eq!(poll(&server, &format!("{QUERY}?task_id={id}")), 200);
    let mut page = open(&server);
    page.wait_for(
        "the task's timeline",
        "document.querySelectorAll('#timeline-svg g.step').length === 10",
    );
    let faults = page.eval("[...document.querySelectorAll('#timeline-svg g.step')].map(g => g.dataset.fault || '')");
    assert_eq!(
        faults,
        json!([
            "",
            "429",
            "502",
            "delay 100ms–400ms",
            "truncated",
            "503",
            "malformed",
            "reset",
            "broken body",
            ""
        ])
    );
    assert_eq!(
        page.eval("document.querySelectorAll('#timeline-svg rect.fault').length"),
        8
    );
    assert_eq!(
        page.eval("document.querySelector('#timeline-svg g.step.current').dataset.step"),
        "1"
    );
}

#[test]
#[ignore = "needs Chromium: cargo test --test dashboard -- --ignored"]
fn the_timeline_marks_callback_faults_where_their_updates_are_sent() {
    let server = mock(config());
    let id = submit(&server, "rough-delivery");
    let mut page = open(&server);
    page.wait_for(
        "the task's timeline",
        "document.querySelectorAll('#timeline-svg g.step').length === 5",
    );
    let marks = page.eval("[...document.querySelectorAll('#timeline-svg g.step')].map(g => g.dataset.callback || '')");
    assert_eq!(marks, json!(["late 15\u{a0}s", "", "×2", "dropped", "×2"]), "{id}");
    assert_eq!(
        page.eval("document.querySelectorAll('#timeline-svg text.callback').length"),
        4
    );
}

/// The namespace picker: the page shows and drives the namespace it is
/// switched to (its control calls go under `/ns/NAME/__mock/`), lists the
/// instance's namespaces, and opens in the one its address names.
#[test]
#[ignore = "needs Chromium: cargo test --test dashboard -- --ignored"]
fn the_namespace_picker_switches_what_the_page_shows_and_drives() {
    let server = mock(config());
    server.script("job-default", "success").unwrap();
    let t1 = server.namespace("t1");
    t1.script("job-t1", "fail").unwrap();
    let mut page = open(&server);
    page.wait_for(
        "the default namespace's task",
        &cell_is("job-default", "c-scenario", "success"),
    );
    page.wait_for(
        "the namespaces listed",
        "document.querySelector('#ns-list option[value=\"t1\"]') !== null",
    );
    page.eval("(() => { const i = document.getElementById('ns-input'); i.value = 't1'; i.dispatchEvent(new Event('change')); })()");
    page.wait_for("t1's task", &cell_is("job-t1", "c-scenario", "fail"));
    assert_eq!(page.eval(&cell("job-default", "c-scenario")), Value::Null);
    assert_eq!(page.eval("location.pathname"), "/ns/t1/__mock/");
    // The buttons drive t1's clock, not the default one's.
    page.click("button[data-advance='1m']");
    page.wait_for("t1's task to fail", &cell_is("job-t1", "c-status", "FAILURE Fail"));
    assert_eq!(t1.app().store.clock().now(), EPOCH_MS + 60_000);
    assert_eq!(server.app().store.clock().now(), EPOCH_MS);
    // Back to the default namespace.
    page.eval("(() => { const i = document.getElementById('ns-input'); i.value = ''; i.dispatchEvent(new Event('change')); })()");
    page.wait_for(
        "the default task again",
        &cell_is("job-default", "c-scenario", "success"),
    );
    assert_eq!(page.eval("location.pathname"), "/__mock/");
    // Opened at a namespace's address, the page is in that namespace.
    page.goto(&format!("{}/__mock/", t1.uri()));
    page.wait_for("t1's task", &cell_is("job-t1", "c-scenario", "fail"));
    assert_eq!(page.eval("document.getElementById('ns-input').value"), "t1");
}

/// The README's picture, taken by the same browser: set
/// `MINIMAX_MOCK_SCREENSHOT=docs/dashboard.png` to write it.
#[test]
#[ignore = "needs Chromium: cargo test --test dashboard -- --ignored"]
fn screenshot_for_the_readme() {
    let server = mock(config());
    let first = submit(&server, "success");
    let flaky = submit(&server, "flaky");
    server.script("job-fail", "fail").unwrap();
    let v2: Value = ureq::post(&format!("{}/v2/video_generation", server.uri()))
        .header("Prefer", "scenario=success-polls")
        .send_json(json!({"model": "MiniMax-H3", "content": [{"type": "text", "text": "A lighthouse at dusk"}], "resolution": "768P", "duration": 6, "ratio": "9:16"}))
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    let v2 = v2["task_id"].as_str().unwrap().to_owned();
    server.advance(std::time::Duration::from_millis(6_500));
    for _ in 0..2 {
        poll(&server, &format!("{QUERY}?task_id={flaky}"));
        poll(&server, &format!("/v2/query/video_generation/{v2}"));
    }
    poll(&server, &format!("{QUERY}?task_id={first}"));
    poll(&server, "/v1/query/video_generation?task_id=job-fail");
    let mut page = open(&server);
    page.wait_for("the tasks", "document.querySelectorAll('#tasks tbody tr').length === 4");
    page.click(&format!("tr[data-task-id=\"{flaky}\"] .c-id"));
    page.wait_for(
        "the flaky timeline",
        "document.querySelectorAll('#timeline-svg g.step').length === 10",
    );
    page.eval("document.getElementById('script-id').value = 'job-2'; document.getElementById('script-scenario').value = 'fail'; document.getElementById('script-scenario').dispatchEvent(new Event('change'))");
    let png = page.screenshot(860);
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(png.len() < 200 * 1024, "{} bytes", png.len());
    if let Some(path) = std::env::var_os("MINIMAX_MOCK_SCREENSHOT") {
        std::fs::write(&path, &png).unwrap();
    }
}

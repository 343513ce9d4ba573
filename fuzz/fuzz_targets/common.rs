//! What the lifecycle targets share: a scenario's moments, checked against
//! the lifecycle's promises, and every surface's body of each, checked
//! against its schema.

#![allow(dead_code)]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use minimax_mock::contract::Contract;
use minimax_mock::lifecycle::artifact::{Artifact, Resolution};
use minimax_mock::lifecycle::clock::UnixMillis;
use minimax_mock::lifecycle::{Moment, Phase, Scenario, Span};
use minimax_mock::server::api::render::{self, native, openai, v2, TaskView};
use minimax_mock::server::callbacks::StatusWords;

/// The built-in contract, compiled once.
pub fn shared_contract() -> &'static Arc<Contract> {
    static CONTRACT: OnceLock<Arc<Contract>> = OnceLock::new();
    CONTRACT.get_or_init(|| Arc::new(Contract::embedded()))
}

pub fn contract() -> &'static Contract {
    shared_contract()
}

/// Times worth looking at: every step boundary, a millisecond either side,
/// and the ends of the range.
pub fn probe_times(scenario: &Scenario) -> Vec<Duration> {
    let mut times = vec![
        Duration::ZERO,
        Duration::from_millis(1),
        Duration::from_millis(u64::MAX),
    ];
    let mut end = Duration::ZERO;
    for step in scenario.steps() {
        if let Span::For(d) = step.span {
            end = end.saturating_add(d);
            for t in [
                end.saturating_sub(Duration::from_millis(1)),
                end,
                end.saturating_add(Duration::from_millis(1)),
            ] {
                times.push(t);
            }
        }
    }
    times.sort();
    times.dedup();
    times
}

/// Poll counts worth looking at: every step boundary and either side.
pub fn probe_polls(scenario: &Scenario) -> Vec<u64> {
    let mut polls = vec![0, 1, u64::MAX];
    let mut end = 0u64;
    for step in scenario.steps() {
        if let Span::Polls(n) = step.span {
            end = end.saturating_add(u64::from(n));
            polls.extend([end.saturating_sub(1), end, end.saturating_add(1)]);
        }
    }
    polls.sort();
    polls.dedup();
    polls
}

/// (step, progress): what must never go backwards.
fn rank(m: &Moment<'_>) -> (usize, u8) {
    (m.index, m.progress)
}

/// The lifecycle's promises over a grid of (time, polls), both rising:
/// never backwards, terminal stays terminal, progress within the step's
/// range; `entering(i)` is the moment step i begins.
pub fn check_lifecycle(scenario: &Scenario) {
    let times = probe_times(scenario);
    let polls = probe_polls(scenario);
    let mut previous_row: Vec<Option<(usize, u8)>> = vec![None; times.len()];
    for &p in &polls {
        let mut left: Option<Moment<'_>> = None;
        for (j, &t) in times.iter().enumerate() {
            let m = scenario.at(t, p);
            let (from, to) = m.step.progress;
            assert!(
                from <= m.progress && m.progress <= to,
                "progress {} outside {from}..{to}",
                m.progress
            );
            if let Some(l) = &left {
                assert!(rank(&m) >= rank(l), "backwards in time at {t:?}, poll {p}");
                if l.phase().is_terminal() {
                    assert_eq!(rank(&m), rank(l), "left a terminal step at {t:?}, poll {p}");
                }
            }
            if let Some(above) = previous_row[j] {
                assert!(rank(&m) >= above, "backwards in polls at {t:?}, poll {p}");
            }
            previous_row[j] = Some(rank(&m));
            left = Some(m);
        }
    }
    for i in 0..scenario.steps().len() {
        let e = scenario.entering(i);
        assert_eq!(e.index, i);
        // The time and polls at which step i begins.
        let (mut time, mut polls) = (Duration::ZERO, 0u64);
        for step in &scenario.steps()[..i] {
            match step.span {
                Span::For(d) => time += d,
                Span::Polls(n) => polls += u64::from(n),
                Span::Terminal => {}
            }
        }
        let at = scenario.at(time, polls);
        assert_eq!(at.index, i, "step {i} is not current at its start");
        assert_eq!(
            (at.entered, at.processing_started),
            (e.entered, e.processing_started),
            "step {i}"
        );
        if !e.phase().is_terminal() {
            assert_eq!(at.progress, e.progress, "step {i}");
        }
    }
}

/// Every surface's body for `moment` of a task of `task_id`.
pub fn check_bodies(task_id: &str, submitted_at: UnixMillis, moment: Moment<'_>, v2_task: bool) {
    let resolution = if v2_task {
        Resolution::for_v2("2K", "21:9").expect("a v2 resolution")
    } else {
        Resolution::from_label("768P").expect("a v1 resolution")
    };
    let artifact = Artifact::generate(0, task_id, resolution, 6);
    let view = TaskView {
        task_id,
        submitted_at,
        moment,
        artifact: &artifact,
        base_url: "http://127.0.0.1:8080",
        duration_s: 6,
        ratio: v2_task.then_some("21:9"),
        v2: Default::default(),
    };
    check_view(&view, v2_task);
}

/// The bodies of `view` on the surfaces that answer for its task (the
/// gateway and MiniMax's v1 for a v1 task, v2 for a v2 task), parsed and
/// checked against their schemas.
pub fn check_view(view: &TaskView<'_>, v2_task: bool) {
    let c = contract();
    let parse = |what: &str, body: Vec<u8>| -> serde_json::Value {
        serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {}", String::from_utf8_lossy(&body)))
    };
    let check = |what: &str, schema: &minimax_mock::contract::Schema, v: &serde_json::Value| {
        let violations = schema.violations(v);
        assert!(violations.is_empty(), "{what}: {violations:?}\n{v}");
    };
    if v2_task {
        check(
            "v2 query",
            c.v2_query_response(),
            &parse("v2", v2::query_response(view)),
        );
        return;
    }
    check(
        "gateway query",
        c.query_response(),
        &parse("gateway", render::query_response(view)),
    );
    check(
        "native query",
        c.native_query_response(),
        &parse("native", native::query_response(view)),
    );
    for words in [StatusWords::Query, StatusWords::Lowercase] {
        let word = words.word(view.moment.step.minimax);
        check(
            "callback update",
            c.callback_update(),
            &parse("callback", native::callback_update(view, word)),
        );
    }
    if view.moment.phase() == Phase::Success {
        check(
            "files/retrieve",
            c.files_retrieve_response(),
            &parse("file", native::file_response(view)),
        );
    }
    check(
        "openai video",
        c.schema(minimax_mock::contract::OPENAI_VIDEO_RESPONSE)
            .expect("a built-in schema"),
        &parse("openai", openai::video(view, openai::DEFAULT_MODEL)),
    );
}

//! The lifecycle's invariants as properties, over arbitrary valid scenario
//! files, seeds, clocks and poll sequences: the status never goes backwards,
//! progress never falls within a task, SUCCESS and FAILURE are terminal, and
//! every body each surface renders (new-api's OpenAI-compatible one too)
//! validates against its schema. Pure: the render functions are called
//! directly, as the render unit tests do; no server is started.
//!
//! Scenarios are generated as scenarios-file text and loaded through
//! `Catalog::from_text`, so what is checked is what a user can write.

use std::sync::OnceLock;
use std::time::Duration;

use proptest::prelude::*;
use serde_json::{json, Value};

use minimax_mock::contract::Contract;
use minimax_mock::lifecycle::artifact::{Artifact, Resolution};
use minimax_mock::lifecycle::scenarios::{steps_json, Catalog, ScenarioSpec};
use minimax_mock::lifecycle::{GatewayStatus, Moment, Phase, Scenario, Span};
use minimax_mock::server::api::render::{self, native, openai, v2, TaskView};
use minimax_mock::server::callbacks::StatusWords;

/// Cases per property: enough to meet every shape of step list, fast enough
/// (a few seconds in all) for every `cargo test`.
const CASES: u32 = 256;

fn contract() -> &'static Contract {
    static CONTRACT: OnceLock<Contract> = OnceLock::new();
    CONTRACT.get_or_init(Contract::embedded)
}

// ---------------------------------------------------------------------------
// Generating scenario files.

const PENDING: [&str; 3] = ["NOT_START", "SUBMITTED", "QUEUED"];

/// A step's span as written: `for` in ms (some with a fraction) or `polls`.
fn span() -> impl Strategy<Value = Value> {
    prop_oneof![
        (1u64..20_000).prop_map(|ms| json!({"for": format!("{ms}ms")})),
        (1u64..600).prop_map(|s| json!({"for": format!("{s}s")})),
        (1u32..5).prop_map(|n| json!({"polls": n})),
    ]
}

/// One non-terminal step as written, for a status rank 0..=3 (NOT_START,
/// SUBMITTED, QUEUED, IN_PROGRESS), the MiniMax status it must show and a
/// progress range: by status, by status and phase, or (for QUEUED and
/// IN_PROGRESS, which a phase implies) by phase alone; the MiniMax status
/// written when it is not the status's own, and sometimes when it is.
fn step(rank: usize, minimax: &'static str, progress: (u8, u8)) -> impl Strategy<Value = Value> {
    (span(), 0usize..3, any::<bool>(), any::<bool>()).prop_map(move |(mut s, spelling, spell_minimax, fixed)| {
        let (status, phase, own) = match rank {
            0 | 1 => (PENDING[rank], "PENDING", "Preparing"),
            2 => (PENDING[rank], "PENDING", "Queueing"),
            _ => ("IN_PROGRESS", "PROCESSING", "Processing"),
        };
        match spelling {
            1 => {
                s["status"] = json!(status);
                s["phase"] = json!(phase);
            }
            2 if rank >= 2 => s["phase"] = json!(phase),
            _ => s["status"] = json!(status),
        }
        if minimax != own || spell_minimax {
            s["minimax_status"] = json!(minimax);
        }
        s["progress"] = if fixed && progress.0 == progress.1 {
            json!(progress.0)
        } else {
            json!([progress.0, progress.1])
        };
        s
    })
}

/// The last step: SUCCESS, or FAILURE with a reason, a code or both.
fn terminal() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!({"status": "SUCCESS"})),
        Just(json!({"phase": "SUCCESS", "minimax_status": "Success"})),
        "[a-z ]{1,20}".prop_map(|r| json!({"status": "FAILURE", "fail_reason": r})),
        (1000i64..3000, "[a-z ]{0,20}").prop_map(|(code, msg)| json!({
            "phase": "FAIL",
            "base_resp": {"status_code": code, "status_msg": msg},
        })),
        (1000i64..3000, "[a-z ]{1,20}").prop_map(|(code, r)| json!({
            "status": "FAILURE",
            "fail_reason": r,
            "base_resp": {"status_code": code, "status_msg": "failed"},
        })),
    ]
}

/// The steps of a valid scenario: statuses in order, progress ranges that
/// rise within 0..99 and from step to step, then one terminal step.
fn steps() -> impl Strategy<Value = Vec<Value>> {
    (0usize..7)
        .prop_flat_map(|n| {
            (
                prop::collection::vec(0usize..4, n),
                prop::collection::vec(0u8..100, 2 * n),
                0..=n,
            )
        })
        .prop_flat_map(|(mut ranks, mut bounds, queueing_from)| {
            ranks.sort_unstable();
            bounds.sort_unstable();
            // MiniMax's status rises too: Preparing, then Queueing from step
            // `queueing_from` (or the first QUEUED step), then Processing.
            let queueing_from = ranks
                .iter()
                .position(|&r| r >= 2)
                .unwrap_or(ranks.len())
                .min(queueing_from);
            let steps: Vec<_> = ranks
                .iter()
                .enumerate()
                .map(|(i, &rank)| {
                    let minimax = match (rank, i >= queueing_from) {
                        (3, _) => "Processing",
                        (_, true) => "Queueing",
                        (_, false) => "Preparing",
                    };
                    step(rank, minimax, (bounds[2 * i], bounds[2 * i + 1]))
                })
                .collect();
            (steps, terminal())
        })
        .prop_map(|(mut steps, last)| {
            steps.push(last);
            steps
        })
}

/// A scenarios file defining `s` with `steps`, loaded as `--scenarios` loads it.
fn load(steps: &[Value]) -> Catalog {
    let file = json!({"scenarios": {"s": {"steps": steps}}, "default": "s"});
    let text = serde_json::to_string_pretty(&file).unwrap();
    Catalog::from_text("generated.json", &text).unwrap_or_else(|e| panic!("a valid file was refused: {e}\n{text}"))
}

/// A poll sequence: before each poll, the clock moves on by 0..5 s.
fn polls() -> impl Strategy<Value = Vec<u64>> {
    prop::collection::vec(prop_oneof![Just(0u64), 1u64..500, 500u64..5_000], 1..40)
}

// ---------------------------------------------------------------------------
// What a client sees.

/// What a client sees of one moment: the step, and on the wire the
/// gateway's `data.status` and `data.progress` and v2's `task.status`, as
/// ranks that must never fall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Seen {
    status: GatewayStatus,
    index: usize,
    progress: u8,
    gateway: (usize, u64),
    native: usize,
    v2: usize,
    openai: usize,
}

const GATEWAY_ORDER: [&str; 6] = ["NOT_START", "SUBMITTED", "QUEUED", "IN_PROGRESS", "SUCCESS", "FAILURE"];
const NATIVE_ORDER: [&str; 5] = ["Preparing", "Queueing", "Processing", "Success", "Fail"];
const V2_ORDER: [&str; 4] = ["queued", "running", "succeeded", "failed"];
const OPENAI_ORDER: [&str; 5] = ["unknown", "queued", "in_progress", "completed", "failed"];

fn rank(order: &[&str], value: &Value) -> usize {
    let text = value.as_str().unwrap_or_else(|| panic!("not a string: {value}"));
    order
        .iter()
        .position(|s| *s == text)
        .unwrap_or_else(|| panic!("unknown status {text}"))
}

/// Renders `moment` on every surface (v1 bodies with a v1 task's artifact,
/// v2's with a v2 task's), checks each body against its schema, and says
/// what a client sees.
fn seen(moment: Moment<'_>, v1: &TaskView<'_>, v2_task: &TaskView<'_>) -> Seen {
    let c = contract();
    let parse = |body: Vec<u8>| -> Value { serde_json::from_slice(&body).expect("a rendered body is JSON") };
    let valid = |what: &str, schema: &minimax_mock::contract::Schema, v: &Value| {
        let violations = schema.violations(v);
        assert!(
            violations.is_empty(),
            "{what} at step {}: {violations:?}\n{v}",
            moment.index
        );
    };
    let (v1, v2_task) = (TaskView { moment, ..*v1 }, TaskView { moment, ..*v2_task });
    let gateway = parse(render::query_response(&v1));
    valid("gateway query", c.query_response(), &gateway);
    let native = parse(native::query_response(&v1));
    valid("native query", c.native_query_response(), &native);
    for words in [StatusWords::Query, StatusWords::Lowercase] {
        let word = words.word(moment.step.minimax);
        valid(
            "callback update",
            c.callback_update(),
            &parse(native::callback_update(&v1, word)),
        );
    }
    if moment.phase() == Phase::Success {
        valid(
            "files/retrieve",
            c.files_retrieve_response(),
            &parse(native::file_response(&v1)),
        );
    }
    let v2_body = parse(v2::query_response(&v2_task));
    valid("v2 query", c.v2_query_response(), &v2_body);
    let video = parse(openai::video(&v1, openai::DEFAULT_MODEL));
    let openai_schema = c.schema(minimax_mock::contract::OPENAI_VIDEO_RESPONSE).unwrap();
    valid("openai video", openai_schema, &video);

    let data = &gateway["data"];
    let progress = data["progress"]
        .as_str()
        .unwrap()
        .trim_end_matches('%')
        .parse()
        .unwrap();
    Seen {
        status: moment.step.status,
        index: moment.index,
        progress: moment.progress,
        gateway: (rank(&GATEWAY_ORDER, &data["status"]), progress),
        native: rank(&NATIVE_ORDER, &native["status"]),
        v2: rank(&V2_ORDER, &v2_body["task"]["status"]),
        openai: rank(&OPENAI_ORDER, &video["status"]),
    }
}

fn task_id() -> impl Strategy<Value = String> {
    prop_oneof![
        (300_000_000_000_000u64..400_000_000_000_000).prop_map(|n| n.to_string()),
        "[ -~]{1,24}",
        any::<String>().prop_filter("not empty", |s| !s.is_empty()),
    ]
}

fn v1_resolution() -> impl Strategy<Value = Resolution> {
    prop::sample::select(vec!["512P", "720P", "768P", "1080P"]).prop_map(|l| Resolution::from_label(l).unwrap())
}

fn v2_resolution() -> impl Strategy<Value = (Resolution, &'static str)> {
    (
        prop::sample::select(vec!["480P", "768P", "2K"]),
        prop::sample::select(minimax_mock::server::store::tasks::V2_RATIOS.to_vec()),
    )
        .prop_map(|(l, r)| (Resolution::for_v2(l, r).unwrap(), r))
}

/// What a v2 task asked for: either model, either task type, any inputs.
fn v2_view() -> impl Strategy<Value = minimax_mock::server::api::render::V2View> {
    use minimax_mock::lifecycle::artifact::{TaskType, V2Model, V2Request};
    (
        prop::sample::select(V2Model::ALL.to_vec()),
        prop::sample::select(vec![TaskType::Generation, TaskType::Regeneration]),
        (0u8..=11, 0u8..=3, 0u8..=3),
    )
        .prop_map(
            |(model, task_type, (images, videos, audios))| minimax_mock::server::api::render::V2View {
                request: V2Request {
                    model,
                    task_type,
                    images,
                    videos,
                    audios,
                },
                cancelled_at: None,
            },
        )
}

proptest! {
    // No regressions file: what a property finds becomes a regular test
    // beside the code it fixes.
    #![proptest_config(ProptestConfig { cases: CASES, failure_persistence: None, ..ProptestConfig::default() })]

    /// A task polled with the clock moving on: never backwards, terminal
    /// stays put, every body of every surface validates.
    #[test]
    fn a_task_never_goes_backwards_and_every_body_validates(
        steps in steps(),
        seed in any::<u64>(),
        id in task_id(),
        v1_resolution in v1_resolution(),
        (v2_resolution, ratio) in v2_resolution(),
        v2_view in v2_view(),
        duration_s in 1u32..=10,
        // Submission times from 1970 to 2100.
        submitted_at in 0u64..4_102_444_800_000,
        gaps in polls(),
    ) {
        let catalog = load(&steps);
        let scenario = catalog.default_scenario();
        let v1_artifact = Artifact::generate(seed, &id, v1_resolution, duration_s);
        let v2_artifact = Artifact::generate(seed, &id, v2_resolution, duration_s);
        let first = scenario.at(Duration::ZERO, 0);
        let v1 = TaskView {
            task_id: &id,
            submitted_at,
            moment: first,
            artifact: &v1_artifact,
            base_url: "http://127.0.0.1:8080",
            duration_s,
            ratio: None,
            v2: Default::default(),
        };
        let v2_task = TaskView { artifact: &v2_artifact, ratio: Some(ratio), v2: v2_view, ..v1 };
        let mut elapsed = 0u64;
        let mut last: Option<Seen> = None;
        for (polls, gap) in gaps.iter().enumerate() {
            elapsed += gap;
            let moment = scenario.at(Duration::from_millis(elapsed), polls as u64);
            let now = seen(moment, &v1, &v2_task);
            if let Some(before) = last {
                prop_assert!(now.status >= before.status, "status {} after {}", now.status, before.status);
                prop_assert!(now.index >= before.index, "step {} after {}", now.index, before.index);
                prop_assert!(now.progress >= before.progress, "progress {} after {}", now.progress, before.progress);
                prop_assert!(now.gateway >= before.gateway, "gateway {:?} after {:?}", now.gateway, before.gateway);
                prop_assert!(now.native >= before.native, "native {} after {}", now.native, before.native);
                prop_assert!(now.v2 >= before.v2, "v2 {} after {}", now.v2, before.v2);
                prop_assert!(now.openai >= before.openai, "openai {} after {}", now.openai, before.openai);
                if before.status >= GatewayStatus::Success {
                    prop_assert_eq!(now, before, "left a terminal step");
                }
            }
            last = Some(now);
        }
    }

    /// `entering(i)` is the moment step i begins, as `at` sees it then.
    #[test]
    fn entering_agrees_with_at_at_the_start_of_each_step(steps in steps()) {
        let catalog = load(&steps);
        let scenario = catalog.default_scenario();
        let (mut time, mut polls) = (Duration::ZERO, 0u64);
        for (i, step) in scenario.steps().iter().enumerate() {
            let entering = scenario.entering(i);
            let at = scenario.at(time, polls);
            prop_assert_eq!(entering, at, "step {}", i);
            match step.span {
                Span::For(d) => time += d,
                Span::Polls(n) => polls += u64::from(n),
                Span::Terminal => {}
            }
        }
        let last = scenario.steps().len() - 1;
        prop_assert_eq!(scenario.entering(last + 1), scenario.entering(last));
    }

    /// What `--state` saves of a scenario (`steps_json`) loads back the same.
    #[test]
    fn saved_steps_load_back_the_same(steps in steps()) {
        let catalog = load(&steps);
        let scenario: &Scenario = catalog.default_scenario();
        let spec: ScenarioSpec = serde_json::from_value(json!({"steps": steps_json(scenario)})).unwrap();
        let back = spec.build(scenario.name()).unwrap();
        prop_assert_eq!(back.steps(), scenario.steps());
    }
}

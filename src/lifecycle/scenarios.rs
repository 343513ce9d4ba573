//! The scenario catalog: built-in lifecycles, scenarios from a file, and
//! the rules that map task ids to scenarios.
//!
//! The file format is JSON, checked as a whole when loaded: a mistake is
//! reported with the file, line, column and JSON pointer, and nothing of a
//! bad file is used.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

use super::duration::{format_duration, parse_duration};
use super::faults::{CallbackFault, CallbackFaultSpec, Effect, Fault, FaultSpec};
use crate::contract::jsonpos;
use crate::lifecycle::{BaseResp, GatewayStatus, MinimaxStatus, OpenAiStatus, Phase, Scenario, Span, Step, StepError};

/// MiniMax's code for an error it does not name: a FAILURE given only a
/// `fail_reason` carries it.
pub const UNKNOWN_ERROR: i64 = 1000;

/// The scenario tasks get when nothing else is asked for.
pub const DEFAULT_SCENARIO: &str = "success";

/// Why a scenarios file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioFileError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{mistake}")]
    Invalid { path: String, mistake: jsonpos::Mistake },
}

/// One step as written in a scenarios file or a control request.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    /// PENDING, PROCESSING, SUCCESS or FAIL; implied by `status` when absent.
    pub phase: Option<Phase>,
    /// Gateway status; implied by `phase` when absent.
    pub status: Option<GatewayStatus>,
    pub minimax_status: Option<MinimaxStatus>,
    /// What the OpenAI-compatible routes say; implied by `status` when
    /// absent (`unknown` is the one choice a status leaves open).
    pub openai_status: Option<OpenAiStatus>,
    pub progress: Option<ProgressSpec>,
    pub fail_reason: Option<String>,
    pub base_resp: Option<BaseResp>,
    /// How long the step lasts (`"2s"`, `"500ms"`).
    #[serde(rename = "for")]
    pub duration: Option<String>,
    /// How many polls the step lasts.
    pub polls: Option<u32>,
    /// What goes wrong on the wire during the step (see [`FaultSpec`]).
    pub fault: Option<FaultSpec>,
    /// What goes wrong with the update sent on entering the step (see [`CallbackFaultSpec`]).
    pub callback: Option<CallbackFaultSpec>,
}

/// `50` or `[30, 99]` (rising through the step). Read as any integer, so
/// that a value out of range gets a message saying so.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(untagged)]
pub enum ProgressSpec {
    Fixed(i64),
    Range([i64; 2]),
}

/// A scenario as written: its steps.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioSpec {
    #[serde(default)]
    pub description: Option<String>,
    pub steps: Vec<StepSpec>,
}

/// Maps tasks to a scenario by globs (`*` any run, `?` one character) on
/// the task id, and on the submit's `model` and `prompt`: clients of
/// MiniMax's own API cannot send a `Prefer` header, but choose their model
/// and prompt. Every pattern given must match.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub task_id: Option<String>,
    pub model: Option<String>,
    pub prompt: Option<String>,
    pub scenario: String,
}

/// A rule as loaded: its patterns and its scenario.
#[derive(Debug, Clone)]
pub struct Rule {
    pub task_id: Option<String>,
    pub model: Option<String>,
    pub prompt: Option<String>,
    pub scenario: Arc<Scenario>,
}

/// What a rule can look at: the task id, and for a submit its model and prompt.
#[derive(Debug, Clone, Copy, Default)]
pub struct Subject<'a> {
    pub task_id: &'a str,
    /// `None` when the task comes into being by a query, not a submit.
    pub model: Option<&'a str>,
    pub prompt: Option<&'a str>,
}

impl Rule {
    /// Whether every pattern of the rule matches; a rule on the model or the
    /// prompt matches only submits.
    pub fn matches(&self, subject: &Subject<'_>) -> bool {
        let fits = |pattern: &Option<String>, value: Option<&str>| match pattern {
            None => true,
            Some(p) => value.is_some_and(|v| glob_match(p, v)),
        };
        fits(&self.task_id, Some(subject.task_id))
            && fits(&self.model, subject.model)
            && fits(&self.prompt, subject.prompt)
    }
}

/// The whole scenarios file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    /// The scenario for tasks nothing else chooses for; `success` if absent.
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub scenarios: BTreeMap<String, ScenarioSpec>,
    #[serde(default)]
    pub rules: Vec<RuleSpec>,
}

impl StepSpec {
    /// Turns the written step into a [`Step`]; the error's pointer is relative to the step.
    pub fn build(&self) -> Result<Step, StepError> {
        let err = |field: &str, reason: String| StepError {
            pointer: if field.is_empty() {
                String::new()
            } else {
                format!("/{field}")
            },
            reason,
        };
        let status = match (self.status, self.phase) {
            (Some(status), Some(phase)) if status.phase() != phase => {
                return Err(err("phase", format!("phase {phase} does not go with status {status}")))
            }
            (Some(status), _) => status,
            (None, Some(phase)) => GatewayStatus::for_phase(phase),
            (None, None) => return Err(err("", "a step needs a `status` or a `phase`".to_owned())),
        };
        let span = match (&self.duration, self.polls) {
            (Some(_), Some(_)) => return Err(err("polls", "give either `for` or `polls`, not both".to_owned())),
            (Some(text), None) => Span::For(parse_duration(text).map_err(|e| err("for", e))?),
            (None, Some(n)) => Span::Polls(n),
            (None, None) => Span::Terminal,
        };
        let mut step = Step::new(status, span);
        if let Some(m) = self.minimax_status {
            step.minimax = m;
        }
        if let Some(o) = self.openai_status {
            step.openai = o;
        }
        let percent = |p: i64| {
            u8::try_from(p)
                .ok()
                .filter(|p| *p <= 100)
                .ok_or_else(|| err("progress", format!("progress is a percentage, 0..100, not {p}")))
        };
        match self.progress {
            Some(ProgressSpec::Fixed(p)) => step.progress = (percent(p)?, percent(p)?),
            Some(ProgressSpec::Range([from, to])) => step.progress = (percent(from)?, percent(to)?),
            None => {}
        }
        if let Some(b) = &self.base_resp {
            step.base_resp = b.clone();
        }
        step.fail_reason = self.fail_reason.clone();
        if let Some(fault) = &self.fault {
            step.fault = Some(
                fault
                    .build()
                    .map_err(|(pointer, reason)| err(&format!("fault{pointer}"), reason))?,
            );
        }
        if let Some(callback) = &self.callback {
            step.callback = Some(
                callback
                    .build()
                    .map_err(|(pointer, reason)| err(&format!("callback{pointer}"), reason))?,
            );
        }
        if status == GatewayStatus::Failure {
            match (step.fail_reason.as_deref(), step.base_resp.status_code) {
                (None | Some(""), 0) => {
                    return Err(err(
                        "fail_reason",
                        "a FAILURE needs a fail_reason or a non-zero base_resp.status_code".to_owned(),
                    ))
                }
                // A reason alone: MiniMax's own APIs still need a code to say
                // the task failed, so it is 1000 (unknown error) with the
                // reason as its message. Files saved by earlier versions
                // wrote `{"status_code": 0, "status_msg": "success"}` here.
                (Some(reason), 0) => {
                    step.base_resp = BaseResp {
                        status_code: UNKNOWN_ERROR,
                        status_msg: reason.to_owned(),
                    }
                }
                // The gateway copies a failed upstream's status_msg into fail_reason.
                (None, _) => step.fail_reason = Some(step.base_resp.status_msg.clone()),
                (Some(_), _) => {}
            }
        }
        Ok(step)
    }
}

impl ScenarioSpec {
    /// Builds and checks the scenario; the error's pointer is relative to it.
    pub fn build(&self, name: &str) -> Result<Scenario, StepError> {
        let steps = self
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                s.build().map_err(|e| StepError {
                    pointer: format!("/steps/{i}{}", e.pointer),
                    reason: e.reason,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let scenario = Scenario::new(name, steps)?;
        Ok(match &self.description {
            Some(d) => scenario.described(d.clone()),
            None => scenario,
        })
    }
}

/// Every scenario a task can follow, and how one is chosen.
#[derive(Debug, Clone)]
pub struct Catalog {
    scenarios: BTreeMap<String, Arc<Scenario>>,
    rules: Vec<Rule>,
    default: Arc<Scenario>,
}

fn step(status: GatewayStatus, secs: f64) -> Step {
    Step::new(status, Span::For(Duration::from_secs_f64(secs)))
}

fn success_steps(scale: f64) -> Vec<Step> {
    use GatewayStatus::*;
    vec![
        step(NotStart, 1.0 * scale),
        step(Submitted, 1.0 * scale),
        step(Queued, 2.0 * scale),
        step(InProgress, 6.0 * scale),
        Step::new(Success, Span::Terminal),
    ]
}

/// The built-in scenarios, in the order `scenarios` lists them.
pub fn builtin() -> Vec<Scenario> {
    use GatewayStatus::*;
    let build = |name: &str, steps| Scenario::new(name, steps).expect("built-in scenarios are valid");
    let mut processing = step(InProgress, 4.0);
    processing.progress = (30, 60);
    // MiniMax's wording for 1027 (its error-code table's, and what clients
    // compare `status_msg` with).
    let reason = "output new_sensitive";
    let mut failure = Step::new(Failure, Span::Terminal);
    failure.base_resp = BaseResp {
        status_code: 1027,
        status_msg: reason.to_owned(),
    };
    failure.fail_reason = Some(reason.to_owned());
    let success = build("success", success_steps(1.0)).described(
        "The default: NOT_START, SUBMITTED, QUEUED, then IN_PROGRESS from 30% to 99%, then SUCCESS; 10 s in all.",
    );
    let fail = build(
        "fail",
        vec![
            step(NotStart, 1.0),
            step(Submitted, 1.0),
            step(Queued, 2.0),
            processing,
            failure,
        ],
    )
    .described("Like success, but IN_PROGRESS stops at 60% and the task ends in FAILURE (MiniMax Fail, 1027).");
    // new-api answers `unknown` for a task its poller has not seen yet
    // (NOT_START): the openai SDK's create_and_poll stops polling on it.
    let mut unseen = success_steps(1.0);
    unseen[0].openai = OpenAiStatus::Unknown;
    let openai_unknown = build("openai-unknown", unseen).described(
        "Like success, but the OpenAI-compatible routes say `unknown` while the task is NOT_START, as new-api does before its poller has seen it.",
    );
    vec![
        flaky(),
        rough_delivery(),
        success.poll_driven("success-polls"),
        fail.poll_driven("fail-polls"),
        success,
        fail,
        build("slow", success_steps(12.0)).described("Like success, two minutes long, as a busy upstream is."),
        build("instant", vec![Step::new(Success, Span::Terminal)]).described("SUCCESS from the first poll."),
        openai_unknown,
    ]
}

/// A poll-driven lifecycle that meets every fault once on its way to SUCCESS:
/// for testing a client's retries and error handling deterministically.
fn flaky() -> Scenario {
    use GatewayStatus::*;
    let faulty = |status: GatewayStatus, progress: u8, delay: Option<(u64, u64)>, effect: Option<Effect>| {
        let mut step = Step::new(status, Span::Polls(1));
        if status == InProgress {
            step.progress = (progress, progress);
        }
        step.fault = Some(Fault {
            delay: delay.map(|(a, b)| (Duration::from_millis(a), Duration::from_millis(b))),
            effect,
        });
        step
    };
    let status = |code| {
        Some(Effect::Status {
            code,
            retry_after: (code == 429).then_some(1),
        })
    };
    let steps = vec![
        Step::new(NotStart, Span::Polls(1)),
        faulty(Submitted, 10, None, status(429)),
        faulty(Queued, 20, None, status(502)),
        faulty(Queued, 20, Some((100, 400)), None),
        faulty(InProgress, 35, None, Some(Effect::Truncated)),
        faulty(InProgress, 50, None, status(503)),
        faulty(InProgress, 65, None, Some(Effect::Malformed)),
        faulty(InProgress, 80, None, Some(Effect::Reset)),
        faulty(
            InProgress,
            90,
            None,
            Some(Effect::Break {
                remove: vec!["/data/progress".to_owned()],
                set: vec![("/data/submit_time".to_owned(), serde_json::json!("1756453472"))],
            }),
        ),
        Step::new(Success, Span::Terminal),
    ];
    Scenario::new("flaky", steps)
        .expect("the flaky scenario is valid")
        .described("Meets every fault once, one a poll, then SUCCESS: 429, 502, a delay, truncated, 503, malformed, reset, a contract-breaking body.")
}

/// `success`, with its status updates delivered as real delivery does at
/// its worst: one late (overtaken by every later one), one twice, one
/// never. Each fault sits on a step that sends an update on every API.
fn rough_delivery() -> Scenario {
    let fault = |delay: Option<u64>, drop: bool, copies: u32| {
        Some(CallbackFault {
            delay: delay.map(Duration::from_secs),
            drop,
            copies,
        })
    };
    let mut steps = success_steps(1.0);
    steps[0].callback = fault(Some(15), false, 1);
    steps[2].callback = fault(None, false, 2);
    steps[3].callback = fault(None, true, 1);
    steps[4].callback = fault(None, false, 2);
    Scenario::new("rough-delivery", steps)
        .expect("the rough-delivery scenario is valid")
        .described("Like success, its callbacks delivered badly: the first update 15 s late (after SUCCESS), Queueing twice, Processing never, SUCCESS twice.")
}

impl Default for Catalog {
    fn default() -> Self {
        Self::builtin()
    }
}

impl Catalog {
    /// Only the built-in scenarios.
    pub fn builtin() -> Self {
        let scenarios: BTreeMap<_, _> = builtin()
            .into_iter()
            .map(|s| (s.name().to_owned(), Arc::new(s)))
            .collect();
        let default = scenarios[DEFAULT_SCENARIO].clone();
        Self {
            scenarios,
            rules: Vec::new(),
            default,
        }
    }

    /// Reads a scenarios file on top of the built-ins.
    pub fn from_file(path: &std::path::Path) -> Result<Self, ScenarioFileError> {
        let display = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioFileError::Io {
            path: display.clone(),
            source,
        })?;
        Self::from_text(&display, &text)
    }

    /// Parses a scenarios file (`path` only names it in errors). Pure.
    pub fn from_text(path: &str, text: &str) -> Result<Self, ScenarioFileError> {
        let invalid = |mistake| ScenarioFileError::Invalid {
            path: path.to_owned(),
            mistake,
        };
        let spec: FileSpec = jsonpos::deserialize(text).map_err(invalid)?;
        let invalid = |pointer: String, reason: String| invalid(jsonpos::Mistake::at(text, pointer, reason));

        let mut catalog = Self::builtin();
        for (name, scenario) in &spec.scenarios {
            let built = scenario
                .build(name)
                .map_err(|e| invalid(format!("/scenarios/{}{}", escape(name), e.pointer), e.reason))?;
            catalog.scenarios.insert(name.clone(), Arc::new(built));
        }
        let known = |catalog: &Self, name: &str| {
            catalog.get(name).cloned().ok_or_else(|| {
                format!(
                    "unknown scenario {name:?}; known: {}",
                    catalog.names().collect::<Vec<_>>().join(", ")
                )
            })
        };
        for (i, rule) in spec.rules.iter().enumerate() {
            let scenario = known(&catalog, &rule.scenario).map_err(|r| invalid(format!("/rules/{i}/scenario"), r))?;
            let patterns = [
                ("task_id", &rule.task_id),
                ("model", &rule.model),
                ("prompt", &rule.prompt),
            ];
            if patterns.iter().all(|(_, p)| p.is_none()) {
                return Err(invalid(
                    format!("/rules/{i}"),
                    "a rule needs a pattern: `task_id`, `model` or `prompt`".to_owned(),
                ));
            }
            if let Some((field, _)) = patterns.iter().find(|(_, p)| p.as_deref() == Some("")) {
                return Err(invalid(
                    format!("/rules/{i}/{field}"),
                    "the pattern is empty".to_owned(),
                ));
            }
            catalog.rules.push(Rule {
                task_id: rule.task_id.clone(),
                model: rule.model.clone(),
                prompt: rule.prompt.clone(),
                scenario,
            });
        }
        // A file may redefine a built-in: the default is looked up by name again.
        catalog.default = catalog.scenarios[DEFAULT_SCENARIO].clone();
        if let Some(name) = &spec.default {
            catalog.default = known(&catalog, name).map_err(|r| invalid("/default".to_owned(), r))?;
        }
        Ok(catalog)
    }

    pub fn get(&self, name: &str) -> Option<&Arc<Scenario>> {
        self.scenarios.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.scenarios.keys().map(String::as_str)
    }

    pub fn scenarios(&self) -> impl Iterator<Item = &Arc<Scenario>> {
        self.scenarios.values()
    }

    pub fn default_scenario(&self) -> &Arc<Scenario> {
        &self.default
    }

    /// The scenario of the first rule whose pattern matches `task_id`.
    pub fn rule_for(&self, task_id: &str) -> Option<&Arc<Scenario>> {
        self.rule_matching(&Subject {
            task_id,
            ..Subject::default()
        })
    }

    /// Whether a rule can bring a task into being by its id alone (at a query).
    pub fn has_task_id_rules(&self) -> bool {
        self.rules
            .iter()
            .any(|r| r.task_id.is_some() && r.model.is_none() && r.prompt.is_none())
    }

    /// The scenario of the first rule that matches `subject`.
    pub fn rule_matching(&self, subject: &Subject<'_>) -> Option<&Arc<Scenario>> {
        self.rules.iter().find(|r| r.matches(subject)).map(|r| &r.scenario)
    }
}

fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// `*` matches any run of characters, `?` exactly one.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                backtrack = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match backtrack {
                Some((bp, bt)) => {
                    pi = bp + 1;
                    ti = bt + 1;
                    backtrack = Some((bp, bt + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// A fault in the scenarios-file format.
pub fn fault_json(fault: &Fault) -> Value {
    let mut out = serde_json::Map::new();
    if let Some((min, max)) = fault.delay {
        out.insert(
            "delay".into(),
            if min == max {
                json!(format_duration(min))
            } else {
                json!([format_duration(min), format_duration(max)])
            },
        );
    }
    match &fault.effect {
        Some(Effect::Status { code, retry_after }) => {
            out.insert("status".into(), json!(code));
            if let Some(r) = retry_after {
                out.insert("retry_after".into(), json!(r));
            }
        }
        Some(Effect::Truncated) => drop(out.insert("body".into(), json!("truncated"))),
        Some(Effect::Malformed) => drop(out.insert("body".into(), json!("malformed"))),
        Some(Effect::Reset) => drop(out.insert("reset".into(), json!(true))),
        Some(Effect::Break { remove, set }) => {
            let set: serde_json::Map<String, Value> = set.iter().cloned().collect();
            out.insert("break".into(), json!({"remove": remove, "set": set}));
        }
        None => {}
    }
    Value::Object(out)
}

/// A scenario's steps in the scenarios-file format (to save and restore it).
pub fn steps_json(scenario: &Scenario) -> Value {
    Value::Array(scenario.steps().iter().map(step_json).collect())
}

/// One step in the scenarios-file format.
pub fn step_json(step: &Step) -> Value {
    let mut s = json!({
        "status": step.status.as_str(),
        "minimax_status": step.minimax.as_str(),
        "progress": [step.progress.0, step.progress.1],
        "base_resp": step.base_resp,
    });
    // Only when a step chose it: files and answers of earlier versions stay as they were.
    if step.openai != OpenAiStatus::for_gateway(step.status) {
        s["openai_status"] = json!(step.openai.as_str());
    }
    match step.span {
        Span::For(d) => s["for"] = json!(format_duration(d)),
        Span::Polls(n) => s["polls"] = json!(n),
        Span::Terminal => {}
    }
    if let Some(reason) = &step.fail_reason {
        s["fail_reason"] = json!(reason);
    }
    if let Some(fault) = &step.fault {
        s["fault"] = fault_json(fault);
    }
    if let Some(callback) = &step.callback {
        s["callback"] = callback_json(callback);
    }
    s
}

/// A callback fault in the scenarios-file format.
pub fn callback_json(fault: &CallbackFault) -> Value {
    let mut out = serde_json::Map::new();
    if let Some(d) = fault.delay {
        out.insert("delay".into(), json!(format_duration(d)));
    }
    if fault.drop {
        out.insert("drop".into(), json!(true));
    }
    if fault.copies > 1 {
        out.insert("duplicate".into(), json!(fault.copies));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_exist_and_success_takes_about_ten_seconds() {
        let c = Catalog::builtin();
        let names: Vec<_> = c.names().collect();
        assert_eq!(
            names,
            [
                "fail",
                "fail-polls",
                "flaky",
                "instant",
                "openai-unknown",
                "rough-delivery",
                "slow",
                "success",
                "success-polls"
            ]
        );
        assert_eq!(c.default_scenario().name(), "success");
        assert_eq!(c.get("success").unwrap().total_time(), Duration::from_secs(10));
        let fail = c.get("fail").unwrap();
        let last = fail.steps().last().unwrap();
        assert_eq!(
            (last.status, last.minimax),
            (GatewayStatus::Failure, MinimaxStatus::Fail)
        );
        assert_eq!(last.fail_reason.as_deref(), Some(last.base_resp.status_msg.as_str()));
    }

    #[test]
    fn file_adds_scenarios_rules_and_default() {
        let text = r#"{
          "default": "quick",
          "scenarios": {
            "quick": {"steps": [
              {"status": "QUEUED", "for": "1s"},
              {"phase": "PROCESSING", "progress": [40, 80], "polls": 3},
              {"status": "FAILURE", "base_resp": {"status_code": 1026, "status_msg": "input sensitive"}}
            ]}
          },
          "rules": [{"task_id": "fail-*", "scenario": "fail"}, {"task_id": "q?", "scenario": "quick"}]
        }"#;
        let c = Catalog::from_text("s.json", text).unwrap();
        assert_eq!(c.default_scenario().name(), "quick");
        assert_eq!(c.rule_for("fail-42").unwrap().name(), "fail");
        assert_eq!(c.rule_for("q1").unwrap().name(), "quick");
        assert!(c.rule_for("q12").is_none());
        let quick = c.get("quick").unwrap();
        assert_eq!(quick.steps()[2].fail_reason.as_deref(), Some("input sensitive"));
    }

    fn error(text: &str) -> String {
        Catalog::from_text("s.json", text).unwrap_err().to_string()
    }

    #[test]
    fn file_errors_name_line_column_and_pointer() {
        assert_eq!(
            error("{\n \"scenarios\": {\"x\": {\"steps\": [\n  {\"status\": \"DONE\"}]}}}"),
            "s.json:3:19: /scenarios/x/steps/0/status: unknown variant `DONE`, expected one of `NOT_START`, `SUBMITTED`, `QUEUED`, `IN_PROGRESS`, `SUCCESS`, `FAILURE`"
        );
        assert_eq!(
            error("{\"scenarios\": {\"x\": {\"steps\": [\n {\"status\": \"QUEUED\", \"for\": \"1s\"},\n {\"status\": \"NOT_START\", \"for\": \"1s\"},\n {\"status\": \"SUCCESS\"}]}}}"),
            "s.json:3:13: /scenarios/x/steps/1/status: status goes backwards: NOT_START after QUEUED"
        );
        assert_eq!(
            error("{\"rules\": [{\"task_id\": \"a*\", \"scenario\": \"nope\"}]}"),
            "s.json:1:42: /rules/0/scenario: unknown scenario \"nope\"; known: fail, fail-polls, flaky, instant, openai-unknown, rough-delivery, slow, success, success-polls"
        );
        let unknown = error("{\"scenario\": {}}");
        assert!(
            unknown.starts_with("s.json:1:11: /scenario: unknown field `scenario`"),
            "{unknown}"
        );
        assert!(error("{} x").starts_with("s.json:1:4: /: trailing characters"));
        assert!(
            error("{\"scenarios\": {\"x\": {\"steps\": [{\"status\": \"QUEUED\", \"for\": \"soon\"}]}}}")
                .contains("/scenarios/x/steps/0/for: \"soon\" is not a duration")
        );
    }

    /// MiniMax's Fail carries an error code and its Success none; a step
    /// that said otherwise rendered native and v2 bodies that broke their
    /// schemas (Schemathesis found it through the control API).
    #[test]
    fn a_failure_carries_an_error_code_and_a_success_none() {
        let c = Catalog::from_text(
            "s.json",
            r#"{"scenarios": {"x": {"steps": [{"status": "FAILURE", "fail_reason": "boom"}]}}}"#,
        )
        .unwrap();
        let last = c.get("x").unwrap().steps()[0].clone();
        assert_eq!(
            last.base_resp,
            BaseResp {
                status_code: UNKNOWN_ERROR,
                status_msg: "boom".to_owned()
            }
        );
        assert_eq!(last.fail_reason.as_deref(), Some("boom"));
        assert_eq!(
            error(
                r#"{"scenarios": {"x": {"steps": [{"status": "SUCCESS", "base_resp": {"status_code": 1002, "status_msg": "x"}}]}}}"#
            ),
            "s.json:1:83: /scenarios/x/steps/0/base_resp/status_code: a SUCCESS has base_resp.status_code 0, not 1002"
        );
    }

    #[test]
    fn a_failure_gets_a_code_and_a_success_keeps_zero() {
        let load =
            |steps: &str| Catalog::from_text("s.json", &format!(r#"{{"scenarios": {{"x": {{"steps": {steps}}}}}}}"#));
        let last = |c: Catalog| c.get("x").unwrap().steps().last().unwrap().clone();
        // A reason alone, or with the `{0, "success"}` earlier state files saved.
        for steps in [
            r#"[{"status": "FAILURE", "fail_reason": "boom"}]"#,
            r#"[{"status": "FAILURE", "fail_reason": "boom", "base_resp": {"status_code": 0, "status_msg": "success"}}]"#,
        ] {
            let step = last(load(steps).unwrap());
            assert_eq!(
                (step.base_resp.status_code, step.base_resp.status_msg.as_str()),
                (1000, "boom")
            );
            assert_eq!(step.fail_reason.as_deref(), Some("boom"));
        }
        let e = load(r#"[{"status": "SUCCESS", "base_resp": {"status_code": 1027, "status_msg": "x"}}]"#)
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with("/scenarios/x/steps/0/base_resp/status_code: a SUCCESS has base_resp.status_code 0, not 1027"),
            "{e}"
        );
    }

    /// What `--state` saves of a scenario (`steps_json`) loads back the
    /// same, sub-millisecond durations and delays included: `0.5ms` was
    /// saved as `0ms`, which the loader refuses.
    #[test]
    fn saved_steps_load_back_the_same() {
        let c = Catalog::from_text(
            "s.json",
            r#"{"scenarios": {"x": {"steps": [
                {"status": "QUEUED", "for": "0.5ms", "fault": {"delay": ["0.25ms", "1.0005s"]}},
                {"status": "IN_PROGRESS", "for": "1.5ms"},
                {"status": "SUCCESS"}]}}}"#,
        )
        .unwrap();
        let x = c.get("x").unwrap();
        let saved = json!({ "steps": steps_json(x) });
        assert_eq!(saved["steps"][0]["for"], "0.000500000s");
        let spec: ScenarioSpec = serde_json::from_value(saved).unwrap();
        assert_eq!(spec.build("x").unwrap().steps(), x.steps());
    }

    /// A callback fault sits on a step whose entry sends an update; a
    /// mistake names the line and pointer; what is saved loads back.
    #[test]
    fn callback_faults_are_checked_and_saved() {
        assert_eq!(
            error("{\"scenarios\": {\"x\": {\"steps\": [\n {\"status\": \"NOT_START\", \"polls\": 1},\n {\"status\": \"SUBMITTED\", \"polls\": 1, \"callback\": {\"drop\": true}},\n {\"status\": \"SUCCESS\"}]}}}"),
            "s.json:3:50: /scenarios/x/steps/1/callback: entering this step sends no status update (MiniMax's status stays Preparing), so it has no callback to fault"
        );
        assert_eq!(
            error("{\"scenarios\": {\"x\": {\"steps\": [\n {\"status\": \"SUCCESS\", \"callback\": {\"duplicate\": 0}}]}}}"),
            "s.json:2:50: /scenarios/x/steps/0/callback/duplicate: the number of times the update is sent, 2..100, not 0"
        );
        assert!(
            error(r#"{"scenarios": {"x": {"steps": [{"status": "SUCCESS", "callback": {"late": "1s"}}]}}}"#)
                .contains("/scenarios/x/steps/0/callback/late: unknown field `late`")
        );
        let c = Catalog::from_text(
            "s.json",
            r#"{"scenarios": {"x": {"steps": [
                {"status": "QUEUED", "for": "1s", "callback": {"delay": "1.5s", "duplicate": 3}},
                {"status": "IN_PROGRESS", "for": "1s", "callback": {"drop": true}},
                {"status": "SUCCESS"}]}}}"#,
        )
        .unwrap();
        let x = c.get("x").unwrap();
        let saved = json!({ "steps": steps_json(x) });
        assert_eq!(
            saved["steps"][0]["callback"],
            json!({"delay": "1500ms", "duplicate": 3})
        );
        assert_eq!(saved["steps"][1]["callback"], json!({"drop": true}));
        let spec: ScenarioSpec = serde_json::from_value(saved).unwrap();
        assert_eq!(spec.build("x").unwrap().steps(), x.steps());
        // The built-in one faults only steps that send an update, and
        // answers queries as success does.
        let rough = c.get("rough-delivery").unwrap();
        for (i, step) in rough.steps().iter().enumerate() {
            assert!(step.callback.is_none() || rough.sends_update(i), "step {i}");
        }
        let without: Vec<Step> = rough
            .steps()
            .iter()
            .map(|s| Step {
                callback: None,
                ..s.clone()
            })
            .collect();
        assert_eq!(without, c.get("success").unwrap().steps());
    }

    #[test]
    fn a_redefined_builtin_is_the_default_it_names() {
        let c = Catalog::from_text(
            "s.json",
            r#"{"scenarios": {"success": {"steps": [{"status": "QUEUED", "polls": 1}, {"status": "SUCCESS"}]}}}"#,
        )
        .unwrap();
        assert_eq!(c.default_scenario().steps().len(), 2);
    }

    #[test]
    fn mistakes_in_values_say_what_is_wrong_and_where() {
        // An absent member is placed at its nearest parent: here, the step.
        let text = "{\"scenarios\": {\"x\": {\"steps\": [\n  {\"status\": \"FAILURE\"}]}}}";
        assert_eq!(
            error(text),
            "s.json:2:3: /scenarios/x/steps/0/fail_reason: a FAILURE needs a fail_reason or a non-zero base_resp.status_code"
        );
        let text = r#"{"scenarios": {"x": {"steps": [{"status": "QUEUED", "progress": 300, "polls": 1}, {"status": "SUCCESS"}]}}}"#;
        assert!(error(text).ends_with("/scenarios/x/steps/0/progress: progress is a percentage, 0..100, not 300"));
        let text = r#"{"scenarios": {"x": {"steps": [{"status": "QUEUED", "phase": "PROCESSING", "polls": 1}]}}}"#;
        assert!(
            error(text).ends_with("phase PROCESSING does not go with status QUEUED"),
            "{}",
            error(text)
        );
    }

    #[test]
    fn globs() {
        assert!(glob_match("*", ""));
        assert!(glob_match("a*c", "abbbc"));
        assert!(glob_match("*-fail-*", "job-fail-7"));
        assert!(!glob_match("a?c", "ac"));
        assert!(!glob_match("abc", "abcd"));
    }
}

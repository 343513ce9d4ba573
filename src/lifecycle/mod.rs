//! Task lifecycles: a scenario is an ordered list of steps, and a task's
//! state is a pure function of its scenario, the time since it was submitted
//! and how often it was polled. No I/O and no clock here, so every step of
//! every scenario can be tested directly and deterministically.
//!
//! Time-driven steps (`for`) use up elapsed time and poll-driven steps
//! (`polls`) use up polls, each budget counted from submission. The current
//! step is the first one whose budget is not yet used up; since both inputs
//! only grow, a task never goes backwards.
//!
//! This folder is the pure core: scenarios and their file format
//! ([`scenarios`]), faults as data ([`faults`]), durations ([`duration`]),
//! the mock's clock ([`clock`], the one place time comes from) and the
//! generated result of a task ([`artifact`]). It uses [`crate::contract`]
//! only for JSON positions in error messages, and never `server` or
//! `validate`.

pub mod artifact;
pub mod clock;
pub mod duration;
pub mod faults;
pub mod scenarios;

use std::fmt;
use std::time::Duration;

/// Where a task is in its life; SUCCESS and FAIL are terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Phase {
    Pending,
    Processing,
    Success,
    Fail,
}

impl Phase {
    pub fn is_terminal(self) -> bool {
        matches!(self, Phase::Success | Phase::Fail)
    }
}

impl fmt::Display for Phase {
    /// As the scenarios file spells it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Pending => "PENDING",
            Phase::Processing => "PROCESSING",
            Phase::Success => "SUCCESS",
            Phase::Fail => "FAIL",
        })
    }
}

/// The gateway's task status (`data.status`), in lifecycle order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum GatewayStatus {
    NotStart,
    Submitted,
    Queued,
    InProgress,
    Success,
    Failure,
}

impl GatewayStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            GatewayStatus::NotStart => "NOT_START",
            GatewayStatus::Submitted => "SUBMITTED",
            GatewayStatus::Queued => "QUEUED",
            GatewayStatus::InProgress => "IN_PROGRESS",
            GatewayStatus::Success => "SUCCESS",
            GatewayStatus::Failure => "FAILURE",
        }
    }

    pub fn phase(self) -> Phase {
        match self {
            GatewayStatus::NotStart | GatewayStatus::Submitted | GatewayStatus::Queued => Phase::Pending,
            GatewayStatus::InProgress => Phase::Processing,
            GatewayStatus::Success => Phase::Success,
            GatewayStatus::Failure => Phase::Fail,
        }
    }

    /// new-api's progress for the status, as a (from, to) range in percent.
    pub fn default_progress(self) -> (u8, u8) {
        match self {
            GatewayStatus::NotStart => (0, 0),
            GatewayStatus::Submitted => (10, 10),
            GatewayStatus::Queued => (20, 20),
            GatewayStatus::InProgress => (30, 99),
            GatewayStatus::Success | GatewayStatus::Failure => (100, 100),
        }
    }

    /// The MiniMax status the gateway shows beside this one.
    pub fn default_minimax(self) -> MinimaxStatus {
        match self {
            GatewayStatus::NotStart | GatewayStatus::Submitted => MinimaxStatus::Preparing,
            GatewayStatus::Queued => MinimaxStatus::Queueing,
            GatewayStatus::InProgress => MinimaxStatus::Processing,
            GatewayStatus::Success => MinimaxStatus::Success,
            GatewayStatus::Failure => MinimaxStatus::Fail,
        }
    }

    /// The status a step of `phase` shows when a scenario names only the phase.
    pub fn for_phase(phase: Phase) -> Self {
        match phase {
            Phase::Pending => GatewayStatus::Queued,
            Phase::Processing => GatewayStatus::InProgress,
            Phase::Success => GatewayStatus::Success,
            Phase::Fail => GatewayStatus::Failure,
        }
    }
}

impl fmt::Display for GatewayStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// MiniMax's own status (inner `data.status`); spelled `Fail`, not `Failed`.
/// In lifecycle order (Success and Fail both end it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub enum MinimaxStatus {
    Preparing,
    Queueing,
    Processing,
    Success,
    Fail,
}

impl MinimaxStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MinimaxStatus::Preparing => "Preparing",
            MinimaxStatus::Queueing => "Queueing",
            MinimaxStatus::Processing => "Processing",
            MinimaxStatus::Success => "Success",
            MinimaxStatus::Fail => "Fail",
        }
    }

    pub fn phase(self) -> Phase {
        match self {
            MinimaxStatus::Preparing | MinimaxStatus::Queueing => Phase::Pending,
            MinimaxStatus::Processing => Phase::Processing,
            MinimaxStatus::Success => Phase::Success,
            MinimaxStatus::Fail => Phase::Fail,
        }
    }
}

impl fmt::Display for MinimaxStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What new-api's OpenAI-compatible video API (`/v1/videos`) says of a
/// task: its `status` word. By default it follows the gateway's status
/// ([`OpenAiStatus::for_gateway`]); a step may say `unknown` instead, as
/// new-api does for a task its poller has not seen yet. In lifecycle order
/// (completed and failed both end it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpenAiStatus {
    Unknown,
    Queued,
    InProgress,
    Completed,
    Failed,
}

impl OpenAiStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OpenAiStatus::Unknown => "unknown",
            OpenAiStatus::Queued => "queued",
            OpenAiStatus::InProgress => "in_progress",
            OpenAiStatus::Completed => "completed",
            OpenAiStatus::Failed => "failed",
        }
    }

    /// The word for a gateway status: its first steps (NOT_START,
    /// SUBMITTED, QUEUED) read `queued`. new-api itself says `unknown` for
    /// NOT_START, which ends the openai SDK's `create_and_poll` at once; the
    /// built-in `openai-unknown` scenario shows that.
    pub fn for_gateway(status: GatewayStatus) -> Self {
        match status {
            GatewayStatus::NotStart | GatewayStatus::Submitted | GatewayStatus::Queued => OpenAiStatus::Queued,
            GatewayStatus::InProgress => OpenAiStatus::InProgress,
            GatewayStatus::Success => OpenAiStatus::Completed,
            GatewayStatus::Failure => OpenAiStatus::Failed,
        }
    }

    /// Whether a step of `phase` may show this word: `unknown` only before
    /// the task ends, the others in their own phase.
    pub fn fits(self, phase: Phase) -> bool {
        match self {
            OpenAiStatus::Unknown => !phase.is_terminal(),
            other => other == Self::for_gateway(GatewayStatus::for_phase(phase)),
        }
    }
}

impl fmt::Display for OpenAiStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// MiniMax's `base_resp`: the status of the upstream call.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaseResp {
    pub status_code: i64,
    pub status_msg: String,
}

impl BaseResp {
    pub fn success() -> Self {
        Self {
            status_code: 0,
            status_msg: "success".to_owned(),
        }
    }
}

/// How long a step lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    /// For this long after the previous time-driven step ended.
    For(Duration),
    /// For this many polls after the previous poll-driven step ended.
    Polls(u32),
    /// Forever: SUCCESS and FAIL.
    Terminal,
}

/// One step of a scenario and the wire values it shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub status: GatewayStatus,
    pub minimax: MinimaxStatus,
    /// What the OpenAI-compatible routes say (`/v1/videos`).
    pub openai: OpenAiStatus,
    /// Progress in percent at the start and at the end of the step.
    pub progress: (u8, u8),
    /// Shown on FAILURE; on SUCCESS the gateway puts the file id there instead.
    pub fail_reason: Option<String>,
    pub base_resp: BaseResp,
    pub span: Span,
    /// What goes wrong on the wire while this step is current.
    pub fault: Option<faults::Fault>,
    /// What goes wrong with the status update sent on entering this step.
    pub callback: Option<faults::CallbackFault>,
}

impl Step {
    /// A step with the gateway's usual wire values for `status`.
    pub fn new(status: GatewayStatus, span: Span) -> Self {
        Self {
            status,
            minimax: status.default_minimax(),
            openai: OpenAiStatus::for_gateway(status),
            progress: status.default_progress(),
            fail_reason: None,
            base_resp: BaseResp::success(),
            span,
            fault: None,
            callback: None,
        }
    }

    pub fn phase(&self) -> Phase {
        self.status.phase()
    }
}

/// A named, checked lifecycle.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    name: String,
    description: Option<String>,
    steps: Vec<Step>,
}

/// Why a scenario is not usable; `pointer` is relative to the scenario.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{pointer}: {reason}")]
pub struct StepError {
    pub pointer: String,
    pub reason: String,
}

fn step_error(index: usize, field: &str, reason: impl Into<String>) -> StepError {
    let pointer = if field.is_empty() {
        format!("/steps/{index}")
    } else {
        format!("/steps/{index}/{field}")
    };
    StepError {
        pointer,
        reason: reason.into(),
    }
}

impl Scenario {
    /// Checks that the steps make a lifecycle a client can follow: it ends in
    /// exactly one terminal step, and status and progress never go backwards.
    pub fn new(name: impl Into<String>, steps: Vec<Step>) -> Result<Self, StepError> {
        if steps.is_empty() {
            return Err(StepError {
                pointer: "/steps".to_owned(),
                reason: "a scenario needs at least one step".to_owned(),
            });
        }
        let last = steps.len() - 1;
        let mut previous: Option<&Step> = None;
        for (i, step) in steps.iter().enumerate() {
            let phase = step.phase();
            if step.minimax.phase() != phase {
                return Err(step_error(
                    i,
                    "minimax_status",
                    format!(
                        "MiniMax status {} does not go with gateway status {} (phase {phase})",
                        step.minimax, step.status
                    ),
                ));
            }
            if !step.openai.fits(phase) {
                return Err(step_error(
                    i,
                    "openai_status",
                    format!(
                        "OpenAI status {} does not go with gateway status {} (phase {phase})",
                        step.openai, step.status
                    ),
                ));
            }
            match (phase.is_terminal(), step.span, i == last) {
                (true, Span::Terminal, true) | (false, Span::For(_) | Span::Polls(_), false) => {}
                (true, Span::Terminal, false) => {
                    return Err(step_error(
                        i,
                        "status",
                        format!("{} is terminal, so it must be the last step", step.status),
                    ))
                }
                (true, _, _) => {
                    return Err(step_error(
                        i,
                        "",
                        format!(
                            "{} is terminal: it lasts forever, so it takes neither `for` nor `polls`",
                            step.status
                        ),
                    ))
                }
                (false, Span::Terminal, _) => {
                    return Err(step_error(
                        i,
                        "",
                        format!(
                            "{} is not terminal: give it `for` (a duration) or `polls` (a count)",
                            step.status
                        ),
                    ))
                }
                (false, _, true) => {
                    return Err(step_error(
                        i,
                        "status",
                        format!("the last step must be SUCCESS or FAILURE, not {}", step.status),
                    ))
                }
            }
            match step.span {
                Span::For(d) if d.is_zero() => return Err(step_error(i, "for", "a duration must be more than zero")),
                Span::Polls(0) => return Err(step_error(i, "polls", "a step must last at least one poll")),
                _ => {}
            }
            let (from, to) = step.progress;
            if from > to || to > 100 {
                return Err(step_error(
                    i,
                    "progress",
                    format!("progress must rise within 0..100, got {from}..{to}"),
                ));
            }
            if phase.is_terminal() && (from, to) != (100, 100) {
                return Err(step_error(
                    i,
                    "progress",
                    format!("{} shows 100%, got {from}%", step.status),
                ));
            }
            if !phase.is_terminal() && to > 99 {
                return Err(step_error(i, "progress", "only SUCCESS and FAILURE show 100%"));
            }
            // MiniMax's own APIs tell success and failure by this code alone:
            // their schemas require 0 on Success and anything else on Fail.
            match (phase, step.base_resp.status_code) {
                (Phase::Fail, 0) => {
                    return Err(step_error(
                        i,
                        "base_resp/status_code",
                        "a FAILURE has a non-zero base_resp.status_code (MiniMax's APIs say a task failed by it)",
                    ))
                }
                (Phase::Success, code) if code != 0 => {
                    return Err(step_error(
                        i,
                        "base_resp/status_code",
                        format!("a SUCCESS has base_resp.status_code 0, not {code}"),
                    ))
                }
                _ => {}
            }
            // MiniMax's Fail carries its error code, and its Success none: a
            // step that says otherwise would render bodies that break the
            // native and v2 schemas.
            if phase == Phase::Fail && step.base_resp.status_code == 0 {
                return Err(step_error(
                    i,
                    "base_resp/status_code",
                    "a FAILURE carries MiniMax's error code: base_resp.status_code must not be 0 (leave base_resp out to get 1000 with the fail_reason)",
                ));
            }
            if phase == Phase::Success && step.base_resp.status_code != 0 {
                return Err(step_error(
                    i,
                    "base_resp/status_code",
                    format!(
                        "a SUCCESS has base_resp.status_code 0, not {}",
                        step.base_resp.status_code
                    ),
                ));
            }
            if let Some(prev) = previous {
                if step.status < prev.status {
                    return Err(step_error(
                        i,
                        "status",
                        format!("status goes backwards: {} after {}", step.status, prev.status),
                    ));
                }
                // MiniMax's APIs show this one: Queueing then Preparing would
                // go backwards there while the gateway's status does not.
                if step.minimax < prev.minimax {
                    return Err(step_error(
                        i,
                        "minimax_status",
                        format!("MiniMax status goes backwards: {} after {}", step.minimax, prev.minimax),
                    ));
                }
                if step.openai < prev.openai {
                    return Err(step_error(
                        i,
                        "openai_status",
                        format!("OpenAI status goes backwards: {} after {}", step.openai, prev.openai),
                    ));
                }
                // An update is sent when MiniMax's status word changes
                // (v2's and the lowercase words fold more steps together).
                if step.callback.is_some() && step.minimax == prev.minimax {
                    return Err(step_error(
                        i,
                        "callback",
                        format!(
                            "entering this step sends no status update (MiniMax's status stays {}), so it has no callback to fault",
                            step.minimax
                        ),
                    ));
                }
                if from < prev.progress.1 {
                    return Err(step_error(
                        i,
                        "progress",
                        format!("progress goes backwards: {from}% after {}%", prev.progress.1),
                    ));
                }
            }
            previous = Some(step);
        }
        Ok(Self {
            name: name.into(),
            description: None,
            steps,
        })
    }

    /// The same scenario, described (shown by `minimax-mock scenarios`).
    pub fn described(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// Whether entering step `index` changes MiniMax's status word (the
    /// first step always does: a task reports its first status), which is
    /// what sends a v1 status update.
    pub fn sends_update(&self, index: usize) -> bool {
        index == 0
            || self
                .steps
                .get(index)
                .zip(self.steps.get(index - 1))
                .is_some_and(|(s, p)| s.minimax != p.minimax)
    }

    /// The same steps, each lasting one poll: the deterministic twin for tests.
    pub fn poll_driven(&self, name: impl Into<String>) -> Self {
        let steps = self
            .steps
            .iter()
            .map(|s| Step {
                span: if s.span == Span::Terminal {
                    Span::Terminal
                } else {
                    Span::Polls(1)
                },
                ..s.clone()
            })
            .collect();
        Self {
            name: name.into(),
            description: Some(format!("Like {}, one step a poll.", self.name)),
            steps,
        }
    }

    /// Total time of the time-driven steps: when a time-only scenario ends.
    pub fn total_time(&self) -> Duration {
        self.steps
            .iter()
            .filter_map(|s| match s.span {
                Span::For(d) => Some(d),
                _ => None,
            })
            .fold(Duration::ZERO, Duration::saturating_add)
    }

    /// The task's state `elapsed` after submission, after `polls` earlier polls.
    pub fn at(&self, elapsed: Duration, polls: u64) -> Moment<'_> {
        let mut time_end = Duration::ZERO;
        let mut polls_end: u64 = 0;
        let mut processing_started = None;
        for (index, step) in self.steps.iter().enumerate() {
            let entered = time_end;
            if step.phase() >= Phase::Processing && processing_started.is_none() {
                processing_started = Some(entered);
            }
            // How far into the step we are, as (done, of); None once used up.
            let fraction = match step.span {
                Span::For(d) => {
                    // Saturating: steps may be as long as a Duration can be.
                    time_end = time_end.saturating_add(d);
                    (elapsed < time_end).then(|| ((elapsed - entered).as_millis(), d.as_millis()))
                }
                Span::Polls(n) => {
                    let start = polls_end;
                    polls_end = polls_end.saturating_add(u64::from(n));
                    (polls < polls_end).then(|| (u128::from(polls - start), u128::from(n)))
                }
                Span::Terminal => Some((1, 1)),
            };
            if let Some((done, of)) = fraction {
                let (from, to) = step.progress;
                let width = u128::from(to - from) + 1;
                let progress = (u128::from(from) + width * done / of.max(1)).min(u128::from(to)) as u8;
                return Moment {
                    index,
                    step,
                    progress,
                    entered,
                    processing_started,
                };
            }
        }
        unreachable!("Scenario::new guarantees a terminal last step")
    }

    /// The moment a task enters step `index` (clamped to the last step): what
    /// a status update sent for that step shows, even when the task has
    /// already moved past it (a clock that jumped sends every update due).
    pub fn entering(&self, index: usize) -> Moment<'_> {
        let index = index.min(self.steps.len() - 1);
        let mut entered = Duration::ZERO;
        let mut processing_started = None;
        for step in &self.steps[..index] {
            if step.phase() >= Phase::Processing && processing_started.is_none() {
                processing_started = Some(entered);
            }
            if let Span::For(d) = step.span {
                entered = entered.saturating_add(d);
            }
        }
        let step = &self.steps[index];
        if step.phase() >= Phase::Processing && processing_started.is_none() {
            processing_started = Some(entered);
        }
        Moment {
            index,
            step,
            progress: if step.phase().is_terminal() {
                step.progress.1
            } else {
                step.progress.0
            },
            entered,
            processing_started,
        }
    }
}

/// A task's state at one instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Moment<'a> {
    /// Index of the current step.
    pub index: usize,
    pub step: &'a Step,
    /// Progress in percent, rising steadily through the step.
    pub progress: u8,
    /// When the current step began, as time since submission (poll-driven
    /// steps take no time).
    pub entered: Duration,
    /// When processing began, once it has.
    pub processing_started: Option<Duration>,
}

impl Moment<'_> {
    pub fn phase(&self) -> Phase {
        self.step.phase()
    }

    /// When the task finished, as time since submission, once it has.
    pub fn finished(&self) -> Option<Duration> {
        self.phase().is_terminal().then_some(self.entered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    fn simple() -> Scenario {
        Scenario::new(
            "t",
            vec![
                Step::new(GatewayStatus::Queued, Span::For(secs(2.0))),
                Step::new(GatewayStatus::InProgress, Span::For(secs(7.0))),
                Step::new(GatewayStatus::Success, Span::Terminal),
            ],
        )
        .unwrap()
    }

    #[test]
    fn time_moves_through_steps_and_progress_rises() {
        let s = simple();
        assert_eq!(s.at(secs(0.0), 0).step.status, GatewayStatus::Queued);
        assert_eq!(s.at(secs(1.9), 0).progress, 20);
        let m = s.at(secs(2.0), 0);
        assert_eq!(
            (m.step.status, m.progress, m.entered),
            (GatewayStatus::InProgress, 30, secs(2.0))
        );
        assert_eq!(s.at(secs(5.5), 0).progress, 65);
        assert_eq!(s.at(secs(8.99), 0).progress, 99);
        let done = s.at(secs(9.0), 0);
        assert_eq!((done.step.status, done.progress), (GatewayStatus::Success, 100));
        assert_eq!(done.finished(), Some(secs(9.0)));
        assert_eq!(done.processing_started, Some(secs(2.0)));
        assert_eq!(s.at(secs(1e6), 1000).index, 2);
    }

    #[test]
    fn never_goes_backwards() {
        let s = simple();
        let mut last = (0, 0);
        for ms in (0..12_000).step_by(7) {
            let m = s.at(Duration::from_millis(ms), 0);
            let now = (m.index, m.progress);
            assert!(now >= last, "{now:?} after {last:?} at {ms} ms");
            last = now;
        }
    }

    #[test]
    fn poll_twin_moves_one_step_per_poll() {
        let s = simple().poll_driven("t-polls");
        let seen: Vec<_> = (0..5).map(|p| s.at(Duration::from_secs(3600), p).step.status).collect();
        use GatewayStatus::*;
        assert_eq!(seen, [Queued, InProgress, Success, Success, Success]);
        assert_eq!(s.at(Duration::ZERO, 2).finished(), Some(Duration::ZERO));
    }

    #[test]
    fn mixed_budgets_are_counted_separately() {
        let s = Scenario::new(
            "mixed",
            vec![
                Step::new(GatewayStatus::Queued, Span::Polls(2)),
                Step::new(GatewayStatus::InProgress, Span::For(secs(10.0))),
                Step::new(GatewayStatus::Success, Span::Terminal),
            ],
        )
        .unwrap();
        assert_eq!(s.at(secs(60.0), 1).step.status, GatewayStatus::Queued);
        assert_eq!(s.at(secs(5.0), 2).step.status, GatewayStatus::InProgress);
        assert_eq!(s.at(secs(10.0), 2).step.status, GatewayStatus::Success);
    }

    /// Found writing the scenarios fuzz target: steps whose durations add up
    /// past what a Duration holds panicked ("overflow when adding
    /// durations") at the first poll.
    #[test]
    fn steps_too_long_to_add_up_saturate() {
        let long = Duration::new(u64::MAX / 2 + 1, 0);
        let s = Scenario::new(
            "long",
            vec![
                Step::new(GatewayStatus::Queued, Span::For(long)),
                Step::new(GatewayStatus::InProgress, Span::For(long)),
                Step::new(GatewayStatus::Success, Span::Terminal),
            ],
        )
        .unwrap();
        assert_eq!(s.total_time(), Duration::MAX);
        assert_eq!(s.at(Duration::ZERO, 0).index, 0);
        assert_eq!(s.at(long, 0).index, 1);
        let just_before_the_end = Duration::MAX - Duration::from_nanos(1);
        assert_eq!(s.at(just_before_the_end, u64::MAX).index, 1);
        assert_eq!(s.at(Duration::MAX, 0).index, 2);
        assert_eq!(s.entering(2).entered, Duration::MAX);
    }

    #[test]
    fn bad_scenarios_are_refused_with_a_pointer() {
        let err = |steps: Vec<Step>| Scenario::new("x", steps).unwrap_err();
        assert_eq!(err(vec![]).pointer, "/steps");
        let e = err(vec![Step::new(GatewayStatus::Queued, Span::For(secs(1.0)))]);
        assert_eq!(e.pointer, "/steps/0/status");
        let e = err(vec![
            Step::new(GatewayStatus::InProgress, Span::For(secs(1.0))),
            Step::new(GatewayStatus::Queued, Span::For(secs(1.0))),
            Step::new(GatewayStatus::Success, Span::Terminal),
        ]);
        assert!(e.reason.contains("backwards"), "{e}");
        let e = err(vec![Step::new(GatewayStatus::Success, Span::For(secs(1.0)))]);
        assert_eq!(e.pointer, "/steps/0");
        let e = err(vec![Step::new(GatewayStatus::Failure, Span::Terminal)]);
        assert_eq!(e.pointer, "/steps/0/base_resp/status_code");
        let mut refused = Step::new(GatewayStatus::Success, Span::Terminal);
        refused.base_resp.status_code = 1027;
        assert_eq!(err(vec![refused]).pointer, "/steps/0/base_resp/status_code");
        // Found by tests/properties.rs: the native query went Queueing, Preparing.
        let mut queueing = Step::new(GatewayStatus::NotStart, Span::Polls(1));
        queueing.minimax = MinimaxStatus::Queueing;
        let e = err(vec![
            queueing,
            Step::new(GatewayStatus::Submitted, Span::Polls(1)),
            Step::new(GatewayStatus::Success, Span::Terminal),
        ]);
        assert_eq!(e.pointer, "/steps/1/minimax_status");
        assert_eq!(e.reason, "MiniMax status goes backwards: Preparing after Queueing");
        // SUBMITTED is Preparing as NOT_START is: no update to fault.
        let mut submitted = Step::new(GatewayStatus::Submitted, Span::Polls(1));
        submitted.callback = Some(faults::CallbackFault {
            delay: None,
            drop: true,
            copies: 1,
        });
        let e = err(vec![
            Step::new(GatewayStatus::NotStart, Span::Polls(1)),
            submitted,
            Step::new(GatewayStatus::Success, Span::Terminal),
        ]);
        assert_eq!(e.pointer, "/steps/1/callback");
        let mut wrong = Step::new(GatewayStatus::Queued, Span::Polls(0));
        wrong.minimax = MinimaxStatus::Success;
        assert_eq!(err(vec![wrong]).pointer, "/steps/0/minimax_status");
    }
}

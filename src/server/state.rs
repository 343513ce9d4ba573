//! `--state FILE`: scripted and submitted tasks and the clock survive a
//! restart.
//!
//! The file is JSON, written atomically (a temporary file beside it, synced,
//! then renamed over it), so a crash mid-write leaves the last good state. A
//! file that cannot be read or understood stops start-up with the file, line,
//! column and JSON pointer, and is left untouched: nothing is written until a
//! load has succeeded.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::contract::jsonpos;
use crate::lifecycle::artifact::Resolution;
use crate::lifecycle::clock::{system_now, UnixMillis};
use crate::lifecycle::scenarios::ScenarioSpec;
use crate::server::app::App;
use crate::server::tasks::{v2_ratio, Request, Surface, Task, V2_RATIOS};

const VERSION: u32 = 1;

/// Why a state file was refused.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{path}: cannot read the state file: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{mistake} (the state file is left as it is; fix or remove it)")]
    Invalid { path: String, mistake: jsonpos::Mistake },
}

/// The saved state, as in the file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Saved {
    pub version: u32,
    pub clock: SavedClock,
    /// Submissions so far, so new ids continue the sequence.
    pub submissions: u64,
    pub tasks: Vec<SavedTask>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedClock {
    /// Mock time when saved.
    pub now: UnixMillis,
    pub frozen: bool,
    /// Mock time minus system time when saved: a running clock goes on
    /// from there, as if the server had never stopped.
    pub offset: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedTask {
    pub task_id: String,
    pub scenario: String,
    /// The whole scenario, so a scripted or inline one survives too.
    pub steps: Value,
    pub submitted_at: UnixMillis,
    pub polls: u64,
    pub resolution: String,
    pub duration: u32,
    /// Which API submitted it (absent in files of earlier versions: the gateway).
    #[serde(default, skip_serializing_if = "is_gateway")]
    pub surface: Surface,
    /// A v2 task's ratio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio: Option<String>,
    /// Where its status updates go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
}

fn is_gateway(surface: &Surface) -> bool {
    *surface == Surface::Gateway
}

/// Writes the state file now, if there is one; a failure is reported, not
/// fatal (the next change tries again).
pub fn save(app: &App) {
    if let Some(path) = &app.state {
        app.dirty.store(false, std::sync::atomic::Ordering::Relaxed);
        if let Err(e) = write(path, &snapshot(app)) {
            eprintln!("minimax-mock: {}: cannot save the state: {e}", path.display());
        }
    }
}

/// The state of `app` now.
pub fn snapshot(app: &App) -> Saved {
    let now = app.clock.now();
    Saved {
        version: VERSION,
        clock: SavedClock {
            now,
            frozen: app.clock.is_frozen(),
            offset: now as i64 - system_now() as i64,
        },
        submissions: app.tasks.submissions(),
        tasks: app
            .tasks
            .list()
            .iter()
            .map(|task| SavedTask {
                task_id: task.id.clone(),
                scenario: task.scenario.name().to_owned(),
                steps: crate::lifecycle::scenarios::steps_json(&task.scenario),
                submitted_at: task.submitted_at,
                polls: task.polls(),
                resolution: task.request.resolution.label.to_owned(),
                duration: task.request.duration_s,
                surface: task.request.surface,
                ratio: task.request.ratio.map(str::to_owned),
                callback_url: task.callback.as_deref().map(str::to_owned),
            })
            .collect(),
    }
}

/// The tasks of a saved state, checked, ready to be put in the store.
#[derive(Debug)]
pub struct Restored {
    pub saved: Saved,
    pub tasks: Vec<Task>,
}

/// Reads `path`; `Ok(None)` if there is no such file yet.
pub fn load(path: &Path, seed: u64) -> Result<Option<Restored>, StateError> {
    let display = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(StateError::Io { path: display, source }),
    };
    parse(&display, &text, seed).map(Some)
}

/// Parses and checks a state file's text (`path` names it in errors). Pure.
pub fn parse(path: &str, text: &str, seed: u64) -> Result<Restored, StateError> {
    let invalid = |mistake| StateError::Invalid {
        path: path.to_owned(),
        mistake,
    };
    let saved: Saved = jsonpos::deserialize(text).map_err(invalid)?;
    let invalid = |pointer: String, reason: String| invalid(jsonpos::Mistake::at(text, pointer, reason));
    if saved.version != VERSION {
        return Err(invalid(
            "/version".to_owned(),
            format!("version {} is not one this build reads ({VERSION})", saved.version),
        ));
    }
    let mut tasks = Vec::with_capacity(saved.tasks.len());
    for (i, t) in saved.tasks.iter().enumerate() {
        let spec: ScenarioSpec = serde_json::from_value(serde_json::json!({ "steps": t.steps }))
            .map_err(|e| invalid(format!("/tasks/{i}/steps"), e.to_string()))?;
        let scenario = spec
            .build(&t.scenario)
            .map_err(|e| invalid(format!("/tasks/{i}{}", e.pointer), e.reason))?;
        let ratio = match &t.ratio {
            None => None,
            Some(r) => Some(v2_ratio(r).ok_or_else(|| {
                invalid(
                    format!("/tasks/{i}/ratio"),
                    format!("{r:?} is not one of {V2_RATIOS:?}"),
                )
            })?),
        };
        let resolution = match t.surface {
            Surface::V2 => Resolution::for_v2(&t.resolution, ratio.unwrap_or("16:9")),
            _ => Resolution::from_label(&t.resolution),
        };
        let resolution = resolution.ok_or_else(|| {
            invalid(
                format!("/tasks/{i}/resolution"),
                format!(
                    "{:?} is not a resolution of the {} API",
                    t.resolution,
                    t.surface.as_str()
                ),
            )
        })?;
        let request = Request {
            resolution,
            duration_s: t.duration,
            surface: t.surface,
            ratio,
        };
        let task = Task::new(t.task_id.clone(), Arc::new(scenario), t.submitted_at, request, seed)
            .with_polls(t.polls)
            .with_callback(t.callback_url.as_deref());
        tasks.push(task);
    }
    Ok(Restored { saved, tasks })
}

/// Puts a restored state into `app`: its tasks, its clock, its id sequence.
pub fn restore(app: &App, restored: Restored) {
    let Restored { saved, tasks } = restored;
    for task in tasks {
        let task = app.tasks.insert(task);
        // Updates already sent before the restart are not sent again.
        crate::server::notifier::watch(app, &task, true);
    }
    app.tasks.set_submissions(saved.submissions);
    let now = if saved.clock.frozen {
        saved.clock.now
    } else {
        (system_now() as i64).saturating_add(saved.clock.offset).max(0) as u64
    };
    app.clock.set(now, saved.clock.frozen);
}

/// Writes `saved` to `path` atomically: a temporary file beside it, synced,
/// then renamed over it.
pub fn write(path: &Path, saved: &Saved) -> std::io::Result<()> {
    let mut text = serde_json::to_vec_pretty(saved).expect("the state always serializes");
    text.push(b'\n');
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary: PathBuf = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(&text)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_files_name_line_and_pointer() {
        let err = |text: &str| parse("state.json", text, 0).err().unwrap().to_string();
        assert!(
            err("{").starts_with("state.json:1:1: /: EOF while parsing"),
            "{}",
            err("{")
        );
        let wrong_version =
            r#"{"version": 9, "clock": {"now": 1, "frozen": true, "offset": 0}, "submissions": 0, "tasks": []}"#;
        assert!(
            err(wrong_version).starts_with("state.json:1:13: /version: version 9"),
            "{}",
            err(wrong_version)
        );
        let bad_steps = r#"{"version": 1, "clock": {"now": 1, "frozen": true, "offset": 0}, "submissions": 0, "tasks": [
  {"task_id": "a", "scenario": "x", "steps": [{"status": "QUEUED", "polls": 1}], "submitted_at": 0, "polls": 0, "resolution": "768P", "duration": 6}]}"#;
        let e = err(bad_steps);
        assert!(e.starts_with("state.json:2:"), "{e}");
        assert!(
            e.contains("/tasks/0/steps/0/status: the last step must be SUCCESS or FAILURE"),
            "{e}"
        );
        let bad_type =
            r#"{"version": 1, "clock": {"now": "soon", "frozen": true, "offset": 0}, "submissions": 0, "tasks": []}"#;
        assert!(err(bad_type).contains("/clock/now: invalid type"), "{}", err(bad_type));
    }
}

//! `--state FILE`: what is saved and how it is read back. The format of a
//! snapshot (`FILE`) and of the change log beside it (`FILE.log`, one JSON
//! change a line); `persist` decides when to write them.
//!
//! A snapshot is written atomically (a temporary file beside it, synced,
//! then renamed over it); the log only grows by whole lines, and a last line
//! cut short by a crash is ignored. So a crash at any moment leaves the old
//! state or the new one. A file that cannot be read or understood stops
//! start-up with the file, line, column and JSON pointer, and is left
//! untouched: nothing is written until a load has succeeded.
//!
//! A task whose scenario is the catalog's (by name) is saved without its
//! steps, which are the catalog's to give back: a million tasks stay small.
//! Files of earlier versions (steps always written, no log) load as they are.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::contract::jsonpos;
use crate::lifecycle::artifact::{Resolution, TaskType, V2Model, V2Request};
use crate::lifecycle::clock::{system_now, Clock, UnixMillis};
use crate::lifecycle::scenarios::{steps_json, Catalog, ScenarioSpec};
use crate::server::store::tasks::{v2_ratio, Model, Request, Surface, Task, TaskStore, MODELS, V2_RATIOS};

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
    /// Which change log goes with this snapshot: a log of another
    /// generation is already in it (a crash between the two writes).
    #[serde(default)]
    pub generation: u64,
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
    /// The whole scenario, so a scripted or inline one survives too; absent
    /// when it is the catalog's scenario of that name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<Value>,
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
    /// The model: a v2 task's (absent in files of earlier versions:
    /// MiniMax-H3), or the one an OpenAI-surface task asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// A v2 task's type (absent in files of earlier versions: generation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_type: Option<String>,
    /// A v2 task's images, reference videos and reference audios (absent: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<[u8; 3]>,
    /// When a v2 `DELETE` cancelled it (mock time, ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_at: Option<UnixMillis>,
}

fn is_gateway(surface: &Surface) -> bool {
    *surface == Surface::Gateway
}

/// One line of the change log: what changed, in order. Every change is
/// absolute (a task as it is, a poll count), so replaying a log over a
/// snapshot that already holds some of it gives the same state.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Change {
    /// The first line: the snapshot generation the log continues.
    Generation(u64),
    /// A task created or replaced.
    Task(Box<SavedTask>),
    Remove(String),
    /// Poll counts by task id.
    Polls(HashMap<String, u64>),
    Clock(SavedClock),
    Submissions(u64),
    /// Every task forgotten (the control API's reset).
    Reset(bool),
}

/// A task as saved.
pub fn saved_task(task: &Task, catalog: &Catalog) -> SavedTask {
    let name = task.scenario.name();
    let own = catalog.get(name).is_some_and(|s| Arc::ptr_eq(s, &task.scenario));
    let v2 = (task.request.surface == Surface::V2).then_some(&task.request.v2);
    SavedTask {
        task_id: task.id.to_string(),
        scenario: name.to_owned(),
        steps: (!own).then(|| steps_json(&task.scenario)),
        submitted_at: task.submitted_at,
        polls: task.polls(),
        resolution: task.request.resolution.label.to_owned(),
        duration: task.request.duration_s,
        surface: task.request.surface,
        ratio: task.request.ratio.map(str::to_owned),
        callback_url: task.callback.as_deref().map(str::to_owned),
        model: match task.request.surface {
            Surface::OpenAi => task.request.model.map(|m| m.name().to_owned()),
            _ => v2.map(|v2| v2.model.as_str().to_owned()),
        },
        task_type: v2.map(|v2| v2.task_type.as_str().to_owned()),
        inputs: v2
            .map(|v2| [v2.images, v2.videos, v2.audios])
            .filter(|inputs| *inputs != [0; 3]),
        cancelled_at: task.cancelled_at(),
    }
}

/// The clock as saved.
pub fn saved_clock(clock: &Clock) -> SavedClock {
    let now = clock.now();
    SavedClock {
        now,
        frozen: clock.is_frozen(),
        offset: now as i64 - system_now() as i64,
    }
}

/// Everything now, as a snapshot of `generation`.
pub fn snapshot(tasks: &TaskStore, clock: &Clock, catalog: &Catalog, generation: u64) -> Saved {
    Saved {
        version: VERSION,
        generation,
        clock: saved_clock(clock),
        submissions: tasks.submissions(),
        tasks: tasks
            .list()
            .iter()
            // A replayed task comes from its recording (`--replay`), not from the state.
            .filter(|task| task.replay.is_none())
            .map(|task| saved_task(task, catalog))
            .collect(),
    }
}

/// The tasks of a saved state, checked, ready to be put in the store.
#[derive(Debug)]
pub struct Restored {
    pub clock: SavedClock,
    pub submissions: u64,
    pub generation: u64,
    pub tasks: Vec<Task>,
    /// Said once at start (a last change cut short by a crash).
    pub notes: Vec<String>,
}

/// The change log beside a snapshot.
pub fn log_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".log");
    PathBuf::from(name)
}

/// Reads the snapshot at `path` and its change log; `Ok(None)` if there is
/// neither yet.
pub fn load(path: &Path, seed: u64, catalog: &Catalog) -> Result<Option<Restored>, StateError> {
    let read = |path: &Path| match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(StateError::Io {
            path: path.display().to_string(),
            source,
        }),
    };
    let log = log_path(path);
    let (snapshot, changes) = (read(path)?, read(&log)?);
    if snapshot.is_none() && changes.is_none() {
        return Ok(None);
    }
    let mut restored = match &snapshot {
        Some(text) => parse(&path.display().to_string(), text, seed, catalog)?,
        None => Restored {
            clock: saved_clock(&Clock::new(None, false)),
            submissions: 0,
            generation: 0,
            tasks: Vec::new(),
            notes: Vec::new(),
        },
    };
    if let Some(text) = changes {
        replay(&log.display().to_string(), &text, seed, catalog, &mut restored)?;
    }
    Ok(Some(restored))
}

/// Parses and checks a snapshot's text (`path` names it in errors). Pure.
pub fn parse(path: &str, text: &str, seed: u64, catalog: &Catalog) -> Result<Restored, StateError> {
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
        let task =
            task_of(t, seed, catalog).map_err(|(pointer, reason)| invalid(format!("/tasks/{i}{pointer}"), reason))?;
        tasks.push(task);
    }
    Ok(Restored {
        clock: saved.clock,
        submissions: saved.submissions,
        generation: saved.generation,
        tasks,
        notes: Vec::new(),
    })
}

/// Applies a change log's text to `restored`, if it continues its
/// generation. A last line cut short (no newline, or not JSON) is what a
/// crash mid-append leaves: it is ignored, and said so.
pub fn replay(path: &str, text: &str, seed: u64, catalog: &Catalog, restored: &mut Restored) -> Result<(), StateError> {
    let complete = text.rfind('\n').map_or("", |end| &text[..=end]);
    let mut lines = complete.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let cut = &text[complete.len()..];
    if !cut.trim().is_empty() {
        restored.notes.push(format!(
            "{path}: the last change was cut short (a crash while writing) and is ignored"
        ));
    }
    let invalid = |line: usize, mistake: jsonpos::Mistake| StateError::Invalid {
        path: format!("{path}:{}", line + 1),
        mistake,
    };
    match lines.next() {
        Some((i, line)) => match jsonpos::deserialize::<Change>(line).map_err(|m| invalid(i, m))? {
            Change::Generation(g) if g == restored.generation => {}
            // The snapshot was rewritten after this log: it holds all of it.
            Change::Generation(_) => return Ok(()),
            _ => {
                return Err(invalid(
                    i,
                    jsonpos::Mistake::at(
                        line,
                        "/".to_owned(),
                        "a change log starts with its generation".to_owned(),
                    ),
                ))
            }
        },
        None => return Ok(()),
    }
    let mut index: HashMap<String, usize> = restored
        .tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (t.id.to_string(), i))
        .collect();
    let mut tasks: Vec<Option<Task>> = std::mem::take(&mut restored.tasks).into_iter().map(Some).collect();
    for (i, line) in lines {
        let change: Change = jsonpos::deserialize(line).map_err(|m| invalid(i, m))?;
        match change {
            Change::Generation(_) => {}
            Change::Task(t) => {
                let task = task_of(&t, seed, catalog).map_err(|(pointer, reason)| {
                    invalid(i, jsonpos::Mistake::at(line, format!("/task{pointer}"), reason))
                })?;
                if let Some(old) = index.insert(t.task_id.clone(), tasks.len()) {
                    tasks[old] = None;
                }
                tasks.push(Some(task));
            }
            Change::Remove(id) => {
                if let Some(old) = index.remove(&id) {
                    tasks[old] = None;
                }
            }
            Change::Polls(polls) => {
                for (id, n) in polls {
                    if let Some(task) = index.get(&id).and_then(|&i| tasks[i].as_ref()) {
                        task.set_polls(n);
                    }
                }
            }
            Change::Clock(clock) => restored.clock = clock,
            Change::Submissions(n) => restored.submissions = n,
            Change::Reset(_) => {
                tasks.clear();
                index.clear();
            }
        }
    }
    restored.tasks = tasks.into_iter().flatten().collect();
    Ok(())
}

/// A saved task, checked; the error is (pointer within the task, reason).
pub fn task_of(t: &SavedTask, seed: u64, catalog: &Catalog) -> Result<Task, (String, String)> {
    let scenario = match &t.steps {
        Some(steps) => {
            let spec: ScenarioSpec = serde_json::from_value(serde_json::json!({ "steps": steps }))
                .map_err(|e| ("/steps".to_owned(), e.to_string()))?;
            Arc::new(spec.build(&t.scenario).map_err(|e| (e.pointer, e.reason))?)
        }
        None => catalog.get(&t.scenario).cloned().ok_or_else(|| {
            (
                "/scenario".to_owned(),
                format!(
                    "no scenario {:?} in the catalog now (was the scenarios file changed?)",
                    t.scenario
                ),
            )
        })?,
    };
    let ratio = match &t.ratio {
        None => None,
        Some(r) => {
            Some(v2_ratio(r).ok_or_else(|| ("/ratio".to_owned(), format!("{r:?} is not one of {V2_RATIOS:?}")))?)
        }
    };
    let resolution = match t.surface {
        Surface::V2 => Resolution::for_v2(&t.resolution, ratio.unwrap_or("16:9")),
        _ => Resolution::from_label(&t.resolution),
    };
    let resolution = resolution.ok_or_else(|| {
        (
            "/resolution".to_owned(),
            format!(
                "{:?} is not a resolution of the {} API",
                t.resolution,
                t.surface.as_str()
            ),
        )
    })?;
    let model = match &t.model {
        None => V2Model::default(),
        Some(_) if t.surface == Surface::OpenAi => V2Model::default(),
        Some(m) => V2Model::parse(m).ok_or_else(|| {
            let known: Vec<_> = V2Model::ALL.iter().map(|m| m.as_str()).collect();
            ("/model".to_owned(), format!("{m:?} is not one of {known:?}"))
        })?,
    };
    let openai_model = match &t.model {
        Some(m) if t.surface == Surface::OpenAi => {
            Some(Model::named(m).ok_or_else(|| ("/model".to_owned(), format!("{m:?} is not one of {MODELS:?}")))?)
        }
        _ => None,
    };
    let task_type = match &t.task_type {
        None => TaskType::default(),
        Some(k) => TaskType::parse(k).ok_or_else(|| {
            (
                "/task_type".to_owned(),
                format!("{k:?} is not one of generation, regeneration"),
            )
        })?,
    };
    let [images, videos, audios] = t.inputs.unwrap_or_default();
    let request = Request {
        resolution,
        duration_s: t.duration,
        surface: t.surface,
        ratio,
        v2: V2Request {
            model,
            task_type,
            images,
            videos,
            audios,
        },
        model: openai_model,
    };
    Ok(Task::new(t.task_id.clone(), scenario, t.submitted_at, request, seed)
        .with_polls(t.polls)
        .with_callback(t.callback_url.as_deref())
        .with_cancelled(t.cancelled_at))
}

/// Puts a restored state into the store and the clock; the tasks as stored.
pub fn restore(tasks: &TaskStore, clock: &Clock, restored: Restored) -> Vec<Arc<Task>> {
    let Restored {
        clock: saved_clock,
        submissions,
        tasks: restored_tasks,
        ..
    } = restored;
    let stored = restored_tasks.into_iter().map(|task| tasks.insert(task)).collect();
    tasks.set_submissions(submissions);
    let now = if saved_clock.frozen {
        saved_clock.now
    } else {
        (system_now() as i64).saturating_add(saved_clock.offset).max(0) as u64
    };
    clock.set(now, saved_clock.frozen);
    stored
}

/// Writes `saved` to `path` atomically: a temporary file beside it, synced,
/// then renamed over it. Returns its size.
pub fn write(path: &Path, saved: &Saved) -> std::io::Result<u64> {
    let mut text = serde_json::to_vec(saved).expect("the state always serializes");
    text.push(b'\n');
    let temporary = temporary_beside(path);
    let result = (|| {
        let mut file = std::fs::File::create(&temporary)?;
        if test_pause("snapshot") {
            file.write_all(&text[..text.len() / 2])?;
            file.sync_all()?;
            pause_forever();
        }
        file.write_all(&text)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result.map(|()| text.len() as u64)
}

/// A temporary file beside `path`, for writing it atomically.
pub fn temporary_beside(path: &Path) -> PathBuf {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dir.join(format!(".{name}.{}.tmp", std::process::id()))
}

/// Whether the crash-safety test hook (`MINIMAX_MOCK_TEST_PAUSE_WRITE`,
/// see `persist`) asks to stop in the middle of this write of `kind`.
pub fn test_pause(kind: &str) -> bool {
    static COUNTS: [std::sync::atomic::AtomicU64; 2] = [
        std::sync::atomic::AtomicU64::new(0),
        std::sync::atomic::AtomicU64::new(0),
    ];
    let Ok(hook) = std::env::var("MINIMAX_MOCK_TEST_PAUSE_WRITE") else {
        return false;
    };
    let Some((which, n)) = hook.split_once(':') else {
        return false;
    };
    if which != kind {
        return false;
    }
    let slot = usize::from(kind == "log");
    let this = COUNTS[slot].fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
    n.parse::<u64>().is_ok_and(|n| n == this)
}

/// Says so on stderr and never returns: the test kills the process here.
pub fn pause_forever() -> ! {
    eprintln!("minimax-mock: state write paused (test hook)");
    loop {
        std::thread::park();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_files_name_line_and_pointer() {
        let catalog = Catalog::builtin();
        let err = |text: &str| parse("state.json", text, 0, &catalog).err().unwrap().to_string();
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

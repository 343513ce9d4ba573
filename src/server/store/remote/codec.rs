//! What the store holds, as bytes: a task's immutable record (the state
//! file's task, so there is one format for a task at rest), and the
//! next-submits scenario (by name when it is the catalog's, with its steps
//! otherwise).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::lifecycle::scenarios::{steps_json, Catalog, ScenarioSpec};
use crate::lifecycle::Scenario;
use crate::server::persist::state::{self, SavedTask};
use crate::server::store::tasks::{Surface, Task};

use super::Held;

/// A task's record: everything but what changes (polls, cancellation) and
/// the submission time, which the store's clock sets.
pub fn task_record(task: &Task, catalog: &Catalog) -> Vec<u8> {
    let mut saved = state::saved_task(task, catalog);
    saved.polls = 0;
    saved.cancelled_at = None;
    saved.submitted_at = 0;
    serde_json::to_vec(&saved).expect("a saved task serializes")
}

/// The task a record and its mutable parts describe; `None` for a record
/// this replica cannot read (written by a replica with other flags, which
/// the agreement check keeps out).
pub fn task_of(record: &[u8], held: &Held, seed: u64, catalog: &Catalog) -> Option<Task> {
    let mut saved: SavedTask = serde_json::from_slice(record).ok()?;
    saved.polls = held.polls;
    saved.submitted_at = held.submitted_at;
    saved.cancelled_at = (held.cancelled_at != 0).then_some(held.cancelled_at);
    let mut task = state::task_of(&saved, seed, catalog).ok()?;
    task.created = held.uid;
    Some(task)
}

/// Which queries answer a task: the gateway and v1 share theirs.
pub fn family(surface: Surface) -> u8 {
    match surface {
        Surface::Gateway | Surface::Native => 0,
        Surface::V2 => 1,
        Surface::OpenAi => 2,
    }
}

#[derive(Serialize, Deserialize)]
struct SavedScenario {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    steps: Option<Value>,
}

/// A scenario as the store keeps it.
pub fn scenario_record(scenario: &Arc<Scenario>, catalog: &Catalog) -> Vec<u8> {
    let name = scenario.name();
    let own = catalog.get(name).is_some_and(|s| Arc::ptr_eq(s, scenario));
    let saved = SavedScenario {
        name: name.to_owned(),
        steps: (!own).then(|| steps_json(scenario)),
    };
    serde_json::to_vec(&saved).expect("a scenario serializes")
}

/// The scenario a record names; `None` if it cannot be read here.
pub fn scenario_of(record: &[u8], catalog: &Catalog) -> Option<Arc<Scenario>> {
    let saved: SavedScenario = serde_json::from_slice(record).ok()?;
    match saved.steps {
        None => catalog.get(&saved.name).cloned(),
        Some(steps) => {
            let spec: ScenarioSpec = serde_json::from_value(serde_json::json!({ "steps": steps })).ok()?;
            spec.build(&saved.name).ok().map(Arc::new)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::store::tasks::Request;

    #[test]
    fn a_task_comes_back_as_it_was_with_the_stores_parts() {
        let catalog = Catalog::builtin();
        let scenario = catalog.get("success").unwrap().clone();
        let task = Task::new("123", scenario.clone(), 5_000, Request::default(), 7).with_callback(Some("http://x/cb"));
        let record = task_record(&task, &catalog);
        let held = Held {
            uid: 9,
            polls: 3,
            cancelled_at: 0,
            data: None,
            submitted_at: 6_000,
            journaled: None,
        };
        let back = task_of(&record, &held, 7, &catalog).unwrap();
        assert_eq!(&*back.id, "123");
        assert!(Arc::ptr_eq(&back.scenario, &scenario));
        assert_eq!((back.polls(), back.submitted_at, back.created), (3, 6_000, 9));
        assert_eq!(back.callback.as_deref(), Some("http://x/cb"));
        assert_eq!(back.file_id, task.file_id);
    }

    #[test]
    fn inline_scenarios_keep_their_steps() {
        let catalog = Catalog::builtin();
        let spec: ScenarioSpec = serde_json::from_value(
            serde_json::json!({"steps": [{"phase": "PENDING", "for": "2s"}, {"phase": "SUCCESS"}]}),
        )
        .unwrap();
        let inline = Arc::new(spec.build("inline").unwrap());
        let back = scenario_of(&scenario_record(&inline, &catalog), &catalog).unwrap();
        assert_eq!(back.name(), "inline");
        assert_eq!(steps_json(&back), steps_json(&inline));
        let named = catalog.get("fail").unwrap();
        assert!(Arc::ptr_eq(
            &scenario_of(&scenario_record(named, &catalog), &catalog).unwrap(),
            named
        ));
    }
}

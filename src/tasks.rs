//! The task store: every task the mock knows, with its scenario, submission
//! time, poll count and generated artifact.
//!
//! The map's lock is held only for the lookup; the poll count is an atomic,
//! so concurrent polls of one task never wait on each other.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::artifact::{self, Artifact, Resolution};
use crate::clock::UnixMillis;
use crate::contract::DOCUMENTED_TASK_ID;
use crate::lifecycle::{Moment, Scenario};
use crate::render::TaskView;

/// One video task.
#[derive(Debug)]
pub struct Task {
    pub id: String,
    pub scenario: Arc<Scenario>,
    pub submitted_at: UnixMillis,
    pub artifact: Artifact,
    polls: AtomicU64,
}

impl Task {
    pub fn new(id: String, scenario: Arc<Scenario>, submitted_at: UnixMillis, artifact: Artifact) -> Self {
        Self {
            id,
            scenario,
            submitted_at,
            artifact,
            polls: AtomicU64::new(0),
        }
    }

    /// Counts a poll; returns how many came before it.
    pub fn poll(&self) -> u64 {
        self.polls.fetch_add(1, Ordering::Relaxed)
    }

    /// How often the task has been polled.
    pub fn polls(&self) -> u64 {
        self.polls.load(Ordering::Relaxed)
    }

    /// The state at mock time `now`, after `polls` earlier polls.
    pub fn moment(&self, now: UnixMillis, polls: u64) -> Moment<'_> {
        let elapsed = Duration::from_millis(now.saturating_sub(self.submitted_at));
        self.scenario.at(elapsed, polls)
    }

    /// What the query response shows at `now` after `polls` earlier polls.
    pub fn view<'a>(&'a self, now: UnixMillis, polls: u64, base_url: &'a str) -> TaskView<'a> {
        TaskView {
            task_id: &self.id,
            submitted_at: self.submitted_at,
            moment: self.moment(now, polls),
            artifact: &self.artifact,
            base_url,
        }
    }
}

/// What a submission asked for that shapes the result.
#[derive(Debug, Clone, Copy)]
pub struct Request {
    pub resolution: Resolution,
    pub duration_s: u32,
}

/// All tasks, by id.
#[derive(Debug)]
pub struct TaskStore {
    tasks: RwLock<HashMap<String, Arc<Task>>>,
    seed: u64,
    submitted: AtomicU64,
}

impl TaskStore {
    pub fn new(seed: u64) -> Self {
        Self {
            tasks: RwLock::new(HashMap::new()),
            seed,
            submitted: AtomicU64::new(0),
        }
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn get(&self, id: &str) -> Option<Arc<Task>> {
        self.read().get(id).cloned()
    }

    /// Runs `f` on the task under the map's read lock: the poll hot path,
    /// which so needs no reference count traffic between the workers.
    pub fn with<R>(&self, id: &str, f: impl FnOnce(&Task) -> R) -> Option<R> {
        self.read().get(id).map(|task| f(task))
    }

    pub fn len(&self) -> usize {
        self.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Creates a task with a fresh MiniMax-style id: the n-th submission
    /// under a seed always gets the same id.
    pub fn submit(&self, scenario: impl FnOnce(&str) -> Arc<Scenario>, now: UnixMillis, request: Request) -> Arc<Task> {
        let mut tasks = self.write();
        let id = loop {
            let n = self.submitted.fetch_add(1, Ordering::Relaxed);
            let id = artifact::numeric_id(&mut artifact::rng_for(self.seed, &format!("submission-{n}"))).to_string();
            if id != DOCUMENTED_TASK_ID && !tasks.contains_key(&id) {
                break id;
            }
        };
        let scenario = scenario(&id);
        let artifact = Artifact::generate(self.seed, &id, request.resolution, request.duration_s);
        let task = Arc::new(Task::new(id.clone(), scenario, now, artifact));
        tasks.insert(id, task.clone());
        task
    }

    /// The task `id`, created now with `scenario` if it does not exist yet.
    pub fn get_or_create(&self, id: &str, scenario: &Arc<Scenario>, now: UnixMillis) -> Arc<Task> {
        if let Some(task) = self.get(id) {
            return task;
        }
        let mut tasks = self.write();
        tasks
            .entry(id.to_owned())
            .or_insert_with(|| {
                let resolution = Resolution::from_label("768P").expect("known label");
                let artifact = Artifact::generate(self.seed, id, resolution, 6);
                Arc::new(Task::new(id.to_owned(), scenario.clone(), now, artifact))
            })
            .clone()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<Task>>> {
        self.tasks.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Arc<Task>>> {
        self.tasks.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::Catalog;

    fn request() -> Request {
        Request {
            resolution: Resolution::from_label("1080P").unwrap(),
            duration_s: 6,
        }
    }

    #[test]
    fn ids_are_deterministic_per_seed_and_unique() {
        let catalog = Catalog::builtin();
        let success = catalog.get("success").unwrap().clone();
        let ids = |seed| {
            let store = TaskStore::new(seed);
            (0..3)
                .map(|_| store.submit(|_| success.clone(), 0, request()).id.clone())
                .collect::<Vec<_>>()
        };
        let a = ids(1);
        assert_eq!(a, ids(1));
        assert_ne!(a, ids(2));
        assert!(a[0] != a[1] && a[1] != a[2]);
        assert!(a.iter().all(|id| id.len() == 15));
    }

    #[test]
    fn polls_are_counted() {
        let store = TaskStore::new(0);
        let scenario = Catalog::builtin().get("success-polls").unwrap().clone();
        let task = store.get_or_create("x", &scenario, 0);
        assert_eq!((task.poll(), task.poll(), task.polls()), (0, 1, 2));
        assert!(Arc::ptr_eq(&task, &store.get_or_create("x", &scenario, 99)));
    }
}

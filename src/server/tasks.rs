//! The task store: every task the mock knows, with its scenario, submission
//! time, poll count and generated artifact.
//!
//! The map's lock is held only for the lookup; the poll count is an atomic,
//! so concurrent polls of one task never wait on each other.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use hyper::header::HeaderValue;
use hyper::StatusCode;

use crate::contract::DOCUMENTED_TASK_ID;
use crate::lifecycle::artifact::{self, Artifact, Resolution};
use crate::lifecycle::clock::UnixMillis;
use crate::lifecycle::{Moment, Scenario};
use crate::server::render::TaskView;

/// One video task.
#[derive(Debug)]
pub struct Task {
    pub id: String,
    pub scenario: Arc<Scenario>,
    pub submitted_at: UnixMillis,
    pub request: Request,
    pub artifact: Artifact,
    /// Creation order, so listings read like a history.
    pub created: u64,
    /// Where status updates go (`callback_url` of the submit).
    pub callback: Option<Box<str>>,
    /// The recorded answers of a replayed task (`serve --replay`); boxed so
    /// that the tasks that are not replayed stay small.
    pub replay: Option<Box<Replay>>,
    polls: AtomicU64,
}

impl Task {
    /// A task as the store makes it; `seed` keys its generated data.
    pub fn new(id: String, scenario: Arc<Scenario>, submitted_at: UnixMillis, request: Request, seed: u64) -> Self {
        let artifact = Artifact::generate(seed, &id, request.resolution, request.duration_s);
        Self {
            id,
            scenario,
            submitted_at,
            request,
            artifact,
            created: 0,
            callback: None,
            replay: None,
            polls: AtomicU64::new(0),
        }
    }

    /// The same task, sending its status updates to `url`.
    pub fn with_callback(mut self, url: Option<&str>) -> Self {
        self.callback = url.map(Into::into);
        self
    }

    /// The same task, answering its queries from a recording.
    pub fn with_replay(mut self, replay: Replay) -> Self {
        self.replay = Some(Box::new(replay));
        self
    }

    /// The same task having been polled `polls` times (restoring saved state).
    pub fn with_polls(self, polls: u64) -> Self {
        self.polls.store(polls, Ordering::Relaxed);
        self
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
            duration_s: self.request.duration_s,
            ratio: self.request.ratio,
        }
    }
}

/// One recorded answer (`serve --replay`, loaded by `server::replay`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub status: StatusCode,
    pub content_type: HeaderValue,
    pub body: Bytes,
}

/// The index of `surface` in per-API arrays.
pub fn slot(surface: Surface) -> usize {
    match surface {
        Surface::Gateway => 0,
        Surface::Native => 1,
        Surface::V2 => 2,
    }
}

/// A replayed task's recorded query answers, per API, and how far each has
/// been played.
#[derive(Debug, Default)]
pub struct Replay {
    answers: [Vec<Recorded>; 3],
    played: [AtomicUsize; 3],
}

impl Replay {
    /// The answer to the next poll through `surface`'s query; `None` when
    /// the recording has none for that API (the task is then served as usual).
    pub fn next(&self, surface: Surface) -> Option<Recorded> {
        let answers = &self.answers[slot(surface)];
        let last = answers.len().checked_sub(1)?;
        let n = self.played[slot(surface)].fetch_add(1, Ordering::Relaxed);
        Some(answers[n.min(last)].clone())
    }

    /// Adds a recorded answer to `surface`'s query.
    pub fn push(&mut self, surface: Surface, answer: Recorded) {
        self.answers[slot(surface)].push(answer);
    }

    /// The recorded answers of `surface`'s query, in order.
    pub fn answers(&self, surface: Surface) -> &[Recorded] {
        &self.answers[slot(surface)]
    }
}

/// Which API a task was submitted through. The gateway and MiniMax's
/// native v1 share their tasks (a gateway relays the native API), so either
/// query answers a task of either; v2 tasks answer on the v2 query only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Surface {
    #[default]
    Gateway,
    Native,
    V2,
}

impl Surface {
    pub fn as_str(self) -> &'static str {
        match self {
            Surface::Gateway => "gateway",
            Surface::Native => "native",
            Surface::V2 => "v2",
        }
    }

    /// Whether a query of `self`'s API may answer a task submitted through `submitted`.
    pub fn answers(self, submitted: Surface) -> bool {
        (self == Surface::V2) == (submitted == Surface::V2)
    }
}

/// What a submission asked for that shapes the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    pub resolution: Resolution,
    pub duration_s: u32,
    pub surface: Surface,
    /// The aspect ratio a v2 task asked for (`16:9`, `adaptive`, ...).
    pub ratio: Option<&'static str>,
}

impl Default for Request {
    /// MiniMax-Hailuo-02's defaults: 768P, 6 s, through the gateway.
    fn default() -> Self {
        Self {
            resolution: Resolution::from_label("768P").expect("a known label"),
            duration_s: 6,
            surface: Surface::Gateway,
            ratio: None,
        }
    }
}

/// v2's ratios, as `&'static str` so a task stores no string of its own.
pub const V2_RATIOS: [&str; 7] = ["adaptive", "21:9", "16:9", "4:3", "1:1", "3:4", "9:16"];

/// The static spelling of a v2 ratio.
pub fn v2_ratio(ratio: &str) -> Option<&'static str> {
    V2_RATIOS.iter().copied().find(|r| *r == ratio)
}

/// A fast hash for the short task ids every poll looks up. SipHash, the
/// default, resists crafted collisions; a mock on a developer's or CI's
/// loopback does not need that, and every poll pays for it (~240
/// instructions measured, of ~13k a request).
#[derive(Default)]
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type Ids = std::hash::BuildHasherDefault<IdHasher>;

/// The store's maps, under one lock so they always agree.
#[derive(Debug, Default)]
struct Maps {
    by_id: HashMap<String, Arc<Task>, Ids>,
    /// Tasks by the id of their file, for `files/retrieve`.
    by_file: HashMap<u64, Arc<Task>>,
}

/// All tasks, by id.
#[derive(Debug)]
pub struct TaskStore {
    tasks: RwLock<Maps>,
    seed: u64,
    /// Submissions so far: the n-th submission's id derives from n.
    submitted: AtomicU64,
    created: AtomicU64,
}

impl TaskStore {
    pub fn new(seed: u64) -> Self {
        Self {
            tasks: RwLock::new(Maps::default()),
            seed,
            submitted: AtomicU64::new(0),
            created: AtomicU64::new(0),
        }
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn get(&self, id: &str) -> Option<Arc<Task>> {
        self.read().by_id.get(id).cloned()
    }

    /// The task whose file has id `file_id`.
    pub fn by_file(&self, file_id: u64) -> Option<Arc<Task>> {
        self.read().by_file.get(&file_id).cloned()
    }

    /// Runs `f` on the task under the map's read lock: the poll hot path,
    /// which so needs no reference count traffic between the workers.
    pub fn with<R>(&self, id: &str, f: impl FnOnce(&Task) -> R) -> Option<R> {
        self.read().by_id.get(id).map(|task| f(task))
    }

    pub fn len(&self) -> usize {
        self.read().by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Creates a task with a fresh MiniMax-style id: the n-th submission
    /// under a seed always gets the same id.
    pub fn submit(
        &self,
        scenario: impl FnOnce(&str) -> Arc<Scenario>,
        now: UnixMillis,
        request: Request,
        callback: Option<&str>,
    ) -> Arc<Task> {
        let mut tasks = self.write();
        let id = loop {
            let n = self.submitted.fetch_add(1, Ordering::Relaxed);
            let id = artifact::numeric_id(&mut artifact::rng_for(self.seed, &format!("submission-{n}"))).to_string();
            if id != DOCUMENTED_TASK_ID && !tasks.by_id.contains_key(&id) {
                break id;
            }
        };
        let scenario = scenario(&id);
        let task = Task::new(id, scenario, now, request, self.seed).with_callback(callback);
        self.insert_locked(&mut tasks, task)
    }

    /// The task `id`, created now with `scenario` if it does not exist yet.
    pub fn get_or_create(&self, id: &str, scenario: &Arc<Scenario>, now: UnixMillis, request: Request) -> Arc<Task> {
        if let Some(task) = self.get(id) {
            return task;
        }
        let mut tasks = self.write();
        if let Some(task) = tasks.by_id.get(id) {
            return task.clone();
        }
        let task = Task::new(id.to_owned(), scenario.clone(), now, request, self.seed);
        self.insert_locked(&mut tasks, task)
    }

    /// Adds `task`, replacing any task with its id (scripting, restoring).
    pub fn insert(&self, task: Task) -> Arc<Task> {
        let mut tasks = self.write();
        self.insert_locked(&mut tasks, task)
    }

    fn insert_locked(&self, tasks: &mut Maps, mut task: Task) -> Arc<Task> {
        task.created = self.created.fetch_add(1, Ordering::Relaxed);
        let task = Arc::new(task);
        if let Some(old) = tasks.by_id.insert(task.id.clone(), task.clone()) {
            tasks.by_file.remove(&old.artifact.file_id);
        }
        tasks.by_file.insert(task.artifact.file_id, task.clone());
        task
    }

    /// Removes a task; whether it existed.
    pub fn remove(&self, id: &str) -> bool {
        let mut tasks = self.write();
        match tasks.by_id.remove(id) {
            Some(task) => {
                tasks.by_file.remove(&task.artifact.file_id);
                true
            }
            None => false,
        }
    }

    /// Every task, in the order they were created.
    pub fn list(&self) -> Vec<Arc<Task>> {
        let mut all: Vec<_> = self.read().by_id.values().cloned().collect();
        all.sort_by_key(|t| t.created);
        all
    }

    /// Forgets every task; ids start again from the first submission's.
    pub fn clear(&self) {
        *self.write() = Maps::default();
        self.submitted.store(0, Ordering::Relaxed);
    }

    /// How many submissions ids have been drawn for (saved with the state).
    pub fn submissions(&self) -> u64 {
        self.submitted.load(Ordering::Relaxed)
    }

    /// Continues numbering submissions after `n` (restoring saved state).
    pub fn set_submissions(&self, n: u64) {
        self.submitted.store(n, Ordering::Relaxed);
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Maps> {
        self.tasks.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Maps> {
        self.tasks.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::scenarios::Catalog;

    fn request() -> Request {
        Request {
            resolution: Resolution::from_label("1080P").unwrap(),
            ..Request::default()
        }
    }

    #[test]
    fn ids_are_deterministic_per_seed_and_unique() {
        let catalog = Catalog::builtin();
        let success = catalog.get("success").unwrap().clone();
        let ids = |seed| {
            let store = TaskStore::new(seed);
            (0..3)
                .map(|_| store.submit(|_| success.clone(), 0, request(), None).id.clone())
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
        let task = store.get_or_create("x", &scenario, 0, Request::default());
        assert_eq!((task.poll(), task.poll(), task.polls()), (0, 1, 2));
        assert!(Arc::ptr_eq(
            &task,
            &store.get_or_create("x", &scenario, 99, Request::default())
        ));
    }
}

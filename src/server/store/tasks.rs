//! The task store: every task the mock knows, with its scenario, submission
//! time, poll count and what was asked for.
//!
//! A task is small (about 250 bytes with its share of the indexes), so a
//! million fit in a few hundred megabytes: the generated artifact (file
//! record, links) is made from the seed and the id when a task is first
//! shown, the id is stored once (the index hashes the task's own id), and
//! prompts are not kept. The store is bounded: past `--max-tasks` the oldest
//! task is forgotten.
//!
//! The maps' lock is held only for the lookup; the poll count is an atomic,
//! so concurrent polls of one task never wait on each other.

use std::collections::{HashSet, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use bytes::Bytes;
use hashbrown::HashTable;
use hyper::header::HeaderValue;
use hyper::StatusCode;

use crate::contract::DOCUMENTED_TASK_ID;
use crate::lifecycle::artifact::{self, Artifact, Resolution, V2Request};
use crate::lifecycle::clock::UnixMillis;
use crate::lifecycle::{Moment, Scenario};
use crate::server::api::render::{LastBody, TaskView, V2View};

/// The default of `--max-tasks`.
pub const DEFAULT_MAX_TASKS: usize = 1_000_000;

/// How long MiniMax's v2 keeps a task: its query, list, delete and
/// regeneration see only the tasks of the last 7 days (`[T-7d, T)`).
pub const V2_WINDOW_MS: u64 = 7 * 24 * 60 * 60 * 1000;

/// One video task.
#[derive(Debug)]
pub struct Task {
    pub id: Box<str>,
    pub scenario: Arc<Scenario>,
    pub submitted_at: UnixMillis,
    pub request: Request,
    /// The id of its file (the artifact's), for `files/retrieve`.
    pub file_id: u64,
    /// Creation order, so listings read like a history and pages have a cursor.
    pub created: u64,
    /// Where status updates go (`callback_url` of the submit).
    pub callback: Option<Box<str>>,
    seed: u64,
    /// Made when first needed: most tasks of a large run are never shown.
    artifact: OnceLock<Box<Artifact>>,
    /// The recorded answers of a replayed task (`serve --replay`); boxed so
    /// that the tasks that are not replayed stay small.
    pub replay: Option<Box<Replay>>,
    polls: AtomicU64,
    /// When a v2 `DELETE` cancelled it (mock time, ms); 0 while it is not.
    cancelled: AtomicU64,
    /// What the last poll showed, for the next poll that shows the same.
    pub last_body: LastBody,
}

impl Task {
    /// A task as the store makes it; `seed` keys its generated data.
    pub fn new(
        id: impl Into<Box<str>>,
        scenario: Arc<Scenario>,
        submitted_at: UnixMillis,
        request: Request,
        seed: u64,
    ) -> Self {
        let id = id.into();
        Self {
            file_id: Artifact::file_id_of(seed, &id),
            id,
            scenario,
            submitted_at,
            request,
            created: 0,
            callback: None,
            seed,
            artifact: OnceLock::new(),
            replay: None,
            polls: AtomicU64::new(0),
            cancelled: AtomicU64::new(0),
            last_body: LastBody::default(),
        }
    }

    /// What the task produced (made on first use, the same every time).
    pub fn artifact(&self) -> &Artifact {
        self.artifact.get_or_init(|| {
            Box::new(Artifact::generate(
                self.seed,
                &self.id,
                self.request.resolution,
                self.request.duration_s,
            ))
        })
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

    /// Sets the poll count (replaying a saved state).
    pub fn set_polls(&self, polls: u64) {
        self.polls.store(polls, Ordering::Relaxed);
    }

    /// The same task, cancelled at `at` (restoring saved state).
    pub fn with_cancelled(self, at: Option<UnixMillis>) -> Self {
        if let Some(at) = at {
            self.cancel(at);
        }
        self
    }

    /// Cancels the task at mock time `at` (a v2 `DELETE` of a queued task):
    /// from then on it shows `cancelled`, whatever its scenario says.
    /// Whether this call cancelled it (not an earlier one).
    pub fn cancel(&self, at: UnixMillis) -> bool {
        self.cancelled
            .compare_exchange(0, at.max(1), Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }

    /// When the task was cancelled, if it was.
    pub fn cancelled_at(&self) -> Option<UnixMillis> {
        Some(self.cancelled.load(Ordering::Relaxed)).filter(|&at| at != 0)
    }

    /// Whether a v2 task is within v2's window at `now` (submitted at most
    /// 7 days before); every v1 task is.
    pub fn in_window(&self, now: UnixMillis) -> bool {
        self.request.surface != Surface::V2 || now.saturating_sub(self.submitted_at) <= V2_WINDOW_MS
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
            artifact: self.artifact(),
            base_url,
            duration_s: self.request.duration_s,
            ratio: self.request.ratio,
            v2: V2View {
                request: self.request.v2,
                cancelled_at: self.cancelled_at(),
            },
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

/// How many APIs per-API arrays hold.
pub const SURFACES: usize = 4;

/// The index of `surface` in per-API arrays.
pub fn slot(surface: Surface) -> usize {
    match surface {
        Surface::Gateway => 0,
        Surface::Native => 1,
        Surface::V2 => 2,
        Surface::OpenAi => 3,
    }
}

/// A replayed task's recorded query answers, per API, and how far each has
/// been played.
#[derive(Debug, Default)]
pub struct Replay {
    answers: [Vec<Recorded>; SURFACES],
    played: [AtomicUsize; SURFACES],
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

    /// Every recorded answer, to rewrite (the download links of a replay).
    pub fn answers_mut(&mut self) -> impl Iterator<Item = &mut Recorded> {
        self.answers.iter_mut().flatten()
    }
}

/// Which API a task was submitted through. The gateway and MiniMax's
/// native v1 share their tasks (a gateway relays the native API), so either
/// query answers a task of either; v2 tasks answer on the v2 query only,
/// and tasks of new-api's OpenAI-compatible video API (`openai`) on its
/// routes only (their ids are new-api's own `task_…` ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Surface {
    #[default]
    Gateway,
    Native,
    V2,
    OpenAi,
}

impl Surface {
    pub fn as_str(self) -> &'static str {
        match self {
            Surface::Gateway => "gateway",
            Surface::Native => "native",
            Surface::V2 => "v2",
            Surface::OpenAi => "openai",
        }
    }

    /// Whether a query of `self`'s API may answer a task submitted through `submitted`.
    pub fn answers(self, submitted: Surface) -> bool {
        let family = |s: Surface| match s {
            Surface::Gateway | Surface::Native => 0,
            Surface::V2 => 1,
            Surface::OpenAi => 2,
        };
        family(self) == family(submitted)
    }
}

/// The models a submit may name whose name a task keeps (the OpenAI
/// surface shows it): MiniMax's v1 models, then v2's. Kept as an index, one
/// byte in the task's padding, so tasks stay as small as before.
pub const MODELS: [&str; 11] = [
    "MiniMax-Hailuo-2.3",
    "MiniMax-Hailuo-2.3-Fast",
    "MiniMax-Hailuo-02",
    "T2V-01-Director",
    "T2V-01",
    "I2V-01",
    "I2V-01-Director",
    "I2V-01-live",
    "S2V-01",
    "MiniMax-H3",
    "MiniMax-H3-Max",
];

/// A model of [`MODELS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Model(u8);

impl Model {
    /// The model called `name`, if it is one of [`MODELS`].
    pub fn named(name: &str) -> Option<Self> {
        MODELS.iter().position(|m| *m == name).map(|i| Self(i as u8))
    }

    pub fn name(self) -> &'static str {
        MODELS[usize::from(self.0)]
    }
}

/// The id of the `n`-th submission under `seed` through `surface`: the same
/// on every replica of a shared store, which share the sequence.
pub fn submission_id(seed: u64, n: u64, surface: Surface) -> String {
    match surface {
        Surface::OpenAi => openai_id(seed, n),
        _ => artifact::numeric_id(&mut artifact::rng_for(seed, &format!("submission-{n}"))).to_string(),
    }
}

/// The id of the `n`-th submission through new-api's OpenAI-compatible
/// API: `task_` and 32 letters and digits, as new-api makes its public ids,
/// drawn from the seed and `n` like every other id.
pub fn openai_id(seed: u64, n: u64) -> String {
    use fake::Fake;
    let mut rng = artifact::rng_for(seed, &format!("openai-submission-{n}"));
    let key: String = fake::StringFaker::with(OPENAI_ID_CHARS.to_vec(), 32).fake_with_rng(&mut rng);
    format!("task_{key}")
}

const OPENAI_ID_CHARS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// What a submission asked for that shapes the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    pub resolution: Resolution,
    pub duration_s: u32,
    pub surface: Surface,
    /// The aspect ratio a v2 task asked for (`16:9`, `adaptive`, ...).
    pub ratio: Option<&'static str>,
    /// A v2 task's model, task type and inputs.
    pub v2: V2Request,
    /// The model asked for, where the API shows it (the OpenAI surface).
    pub model: Option<Model>,
}

impl Default for Request {
    /// MiniMax-Hailuo-02's defaults: 768P, 6 s, through the gateway.
    fn default() -> Self {
        Self {
            resolution: Resolution::from_label("768P").expect("a known label"),
            duration_s: 6,
            surface: Surface::Gateway,
            ratio: None,
            v2: V2Request::default(),
            model: None,
        }
    }
}

/// v2's ratios, as `&'static str` so a task stores no string of its own.
pub const V2_RATIOS: [&str; 7] = ["adaptive", "21:9", "16:9", "4:3", "1:1", "3:4", "9:16"];

/// The static spelling of a v2 ratio.
pub fn v2_ratio(ratio: &str) -> Option<&'static str> {
    V2_RATIOS.iter().copied().find(|r| *r == ratio)
}

/// A fast hash for the short task ids every poll looks up (and the
/// namespace names every namespaced request does). SipHash, the default,
/// resists crafted collisions; a mock on a developer's or CI's loopback
/// does not need that, and every poll pays for it (~240 instructions
/// measured, of ~13k a request).
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
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

pub(crate) type Ids = std::hash::BuildHasherDefault<IdHasher>;

fn id_hash(id: &str) -> u64 {
    Ids::default().hash_one(id)
}

fn file_hash(file_id: u64) -> u64 {
    file_id.wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// The store's indexes, under one lock so they always agree. Each holds the
/// task itself (an `Arc`), hashed by the task's own id or file id: the id is
/// stored once.
#[derive(Debug, Default)]
struct Maps {
    by_id: HashTable<Arc<Task>>,
    by_file: HashTable<Arc<Task>>,
    /// Creation order, for eviction and listing. A replaced or removed task
    /// stays here until the next compaction (`stale` counts them).
    order: VecDeque<Arc<Task>>,
    stale: usize,
    /// Hashes of forgotten ids, so a rule does not bring them back (only
    /// kept when there are task-id rules).
    forgotten: HashSet<u64>,
}

impl Maps {
    fn get(&self, id: &str) -> Option<&Arc<Task>> {
        self.by_id.find(id_hash(id), |t| &*t.id == id)
    }

    fn is_live(&self, task: &Arc<Task>) -> bool {
        self.get(&task.id).is_some_and(|t| Arc::ptr_eq(t, task))
    }

    /// Takes `id` out of the indexes (not out of `order`).
    fn unindex(&mut self, id: &str) -> Option<Arc<Task>> {
        let task = self.by_id.find_entry(id_hash(id), |t| &*t.id == id).ok()?.remove().0;
        if let Ok(entry) = self
            .by_file
            .find_entry(file_hash(task.file_id), |t| Arc::ptr_eq(t, &task))
        {
            entry.remove();
        }
        self.stale += 1;
        Some(task)
    }

    /// Drops stale entries from `order` once they are half of it.
    fn compact(&mut self) {
        if self.stale > 1024 && self.stale * 2 > self.order.len() {
            let order = std::mem::take(&mut self.order);
            self.order = order.into_iter().filter(|t| self.is_live(t)).collect();
            self.stale = 0;
        }
    }
}

/// All tasks, by id.
#[derive(Debug)]
pub struct TaskStore {
    tasks: RwLock<Maps>,
    seed: u64,
    max_tasks: usize,
    /// Whether forgotten ids are remembered (a task-id rule could re-create them).
    remember_forgotten: bool,
    /// Submissions so far: the n-th submission's id derives from n.
    submitted: AtomicU64,
    created: AtomicU64,
    forgotten: AtomicU64,
    /// Error answers so far that carry a request id (v2's): the n-th gets the n-th id.
    request_ids: AtomicU64,
}

impl TaskStore {
    /// An unbounded-for-tests store ([`DEFAULT_MAX_TASKS`]).
    pub fn new(seed: u64) -> Self {
        Self::bounded(seed, DEFAULT_MAX_TASKS, false)
    }

    /// A store that forgets its oldest task past `max_tasks`;
    /// `remember_forgotten` keeps forgotten ids from being re-created by a rule.
    pub fn bounded(seed: u64, max_tasks: usize, remember_forgotten: bool) -> Self {
        Self {
            tasks: RwLock::new(Maps::default()),
            seed,
            max_tasks: max_tasks.max(1),
            remember_forgotten,
            submitted: AtomicU64::new(0),
            created: AtomicU64::new(0),
            forgotten: AtomicU64::new(0),
            request_ids: AtomicU64::new(0),
        }
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn max_tasks(&self) -> usize {
        self.max_tasks
    }

    /// How many tasks were forgotten to stay within `--max-tasks`.
    pub fn forgotten(&self) -> u64 {
        self.forgotten.load(Ordering::Relaxed)
    }

    /// Whether `id` was forgotten (and so must not be re-created by a rule).
    pub fn was_forgotten(&self, id: &str) -> bool {
        self.remember_forgotten && self.read().forgotten.contains(&id_hash(id))
    }

    pub fn get(&self, id: &str) -> Option<Arc<Task>> {
        self.read().get(id).cloned()
    }

    /// The task whose file has id `file_id`.
    pub fn by_file(&self, file_id: u64) -> Option<Arc<Task>> {
        self.read()
            .by_file
            .find(file_hash(file_id), |t| t.file_id == file_id)
            .cloned()
    }

    /// Runs `f` on the task under the map's read lock: the poll hot path,
    /// which so needs no reference count traffic between the workers.
    pub fn with<R>(&self, id: &str, f: impl FnOnce(&Task) -> R) -> Option<R> {
        self.read().get(id).map(|task| f(task))
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
            let id = submission_id(self.seed, n, request.surface);
            if id != DOCUMENTED_TASK_ID && tasks.get(&id).is_none() {
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
        if let Some(task) = tasks.get(id) {
            return task.clone();
        }
        let task = Task::new(id, scenario.clone(), now, request, self.seed);
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
        tasks.unindex(&task.id);
        tasks.forgotten.remove(&id_hash(&task.id));
        tasks
            .by_id
            .insert_unique(id_hash(&task.id), task.clone(), |t| id_hash(&t.id));
        tasks
            .by_file
            .insert_unique(file_hash(task.file_id), task.clone(), |t| file_hash(t.file_id));
        tasks.order.push_back(task.clone());
        while tasks.by_id.len() > self.max_tasks {
            self.forget_oldest(tasks);
        }
        tasks.compact();
        task
    }

    fn forget_oldest(&self, tasks: &mut Maps) {
        while let Some(oldest) = tasks.order.pop_front() {
            if !tasks.is_live(&oldest) {
                tasks.stale = tasks.stale.saturating_sub(1);
                continue;
            }
            tasks.unindex(&oldest.id);
            tasks.stale = tasks.stale.saturating_sub(1);
            if self.remember_forgotten {
                tasks.forgotten.insert(id_hash(&oldest.id));
            }
            self.forgotten.fetch_add(1, Ordering::Relaxed);
            return;
        }
    }

    /// Removes a task; whether it existed.
    pub fn remove(&self, id: &str) -> bool {
        let mut tasks = self.write();
        let removed = tasks.unindex(id).is_some();
        tasks.compact();
        removed
    }

    /// The tasks `keep` accepts, in the order they were created; the
    /// others are not copied.
    pub fn filter(&self, mut keep: impl FnMut(&Task) -> bool) -> Vec<Arc<Task>> {
        let tasks = self.read();
        tasks
            .order
            .iter()
            .filter(|t| tasks.is_live(t) && keep(t))
            .cloned()
            .collect()
    }

    /// A request id (32 hex digits) for the next answer that carries one:
    /// the n-th under a seed is always the same.
    pub fn next_request_id(&self) -> String {
        use fake::Fake;
        let n = self.request_ids.fetch_add(1, Ordering::Relaxed);
        let mut rng = artifact::rng_for(self.seed, &format!("request-{n}"));
        let (hi, lo): (u64, u64) = (fake::Faker.fake_with_rng(&mut rng), fake::Faker.fake_with_rng(&mut rng));
        format!("{hi:016x}{lo:016x}")
    }

    /// Every task, in the order they were created.
    pub fn list(&self) -> Vec<Arc<Task>> {
        self.page(None, usize::MAX)
    }

    /// Up to `limit` tasks created after the task whose `created` is `after`,
    /// in creation order: pages through a million tasks without copying them all.
    pub fn page(&self, after: Option<u64>, limit: usize) -> Vec<Arc<Task>> {
        let tasks = self.read();
        let start = after.map_or(0, |after| tasks.order.partition_point(|t| t.created <= after));
        tasks
            .order
            .range(start..)
            .filter(|t| tasks.is_live(t))
            .take(limit)
            .cloned()
            .collect()
    }

    /// Forgets every task; ids start again from the first submission's.
    pub fn clear(&self) {
        *self.write() = Maps::default();
        self.submitted.store(0, Ordering::Relaxed);
        self.request_ids.store(0, Ordering::Relaxed);
    }

    /// Puts in a task as a shared store holds it, its creation order
    /// (`created`) kept: a replica's copy.
    pub fn insert_mirrored(&self, task: Task) -> Arc<Task> {
        let mut tasks = self.write();
        // insert_locked numbers it from this counter: the store's number
        // is the one every replica shows (and pages by).
        self.created.store(task.created, Ordering::Relaxed);
        self.insert_locked(&mut tasks, task)
    }

    /// Replaces every task with `tasks` (in creation order, as a shared
    /// store lists them): a replica's copy brought up to date.
    pub fn mirror(&self, tasks: Vec<Arc<Task>>) {
        let mut maps = Maps::default();
        for task in tasks {
            maps.by_id
                .insert_unique(id_hash(&task.id), task.clone(), |t| id_hash(&t.id));
            maps.by_file
                .insert_unique(file_hash(task.file_id), task.clone(), |t| file_hash(t.file_id));
            maps.order.push_back(task);
        }
        *self.write() = maps;
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
    fn openai_submissions_get_new_apis_public_ids() {
        let catalog = Catalog::builtin();
        let success = catalog.get("success").unwrap().clone();
        let openai = Request {
            surface: Surface::OpenAi,
            ..request()
        };
        let ids = |seed| {
            let store = TaskStore::new(seed);
            let first = store.submit(|_| success.clone(), 0, openai, None).id.clone();
            let second = store.submit(|_| success.clone(), 0, request(), None).id.clone();
            (first, second)
        };
        let (first, second) = ids(1);
        assert_eq!((first.clone(), second.clone()), ids(1));
        assert_ne!(first, ids(2).0);
        assert!(first.starts_with("task_") && first.len() == 37, "{first}");
        assert!(first[5..].bytes().all(|b| b.is_ascii_alphanumeric()), "{first}");
        // One sequence: the second submission's numeric id is the one it would have been anyway.
        assert_eq!(second.len(), 15);
        assert_eq!(openai_id(1, 0), first.to_string());
    }

    #[test]
    fn each_api_family_answers_its_own_tasks() {
        use Surface::*;
        for (query, submitted, answers) in [
            (Gateway, Native, true),
            (Native, Gateway, true),
            (V2, V2, true),
            (OpenAi, OpenAi, true),
            (Gateway, OpenAi, false),
            (OpenAi, Gateway, false),
            (OpenAi, V2, false),
            (V2, OpenAi, false),
        ] {
            assert_eq!(query.answers(submitted), answers, "{query:?} {submitted:?}");
        }
        assert_eq!(Model::named("T2V-01").map(Model::name), Some("T2V-01"));
        assert_eq!(Model::named("sora-2"), None);
    }

    #[test]
    fn the_oldest_task_is_forgotten_past_the_limit() {
        let success = Catalog::builtin().get("success").unwrap().clone();
        let store = TaskStore::bounded(0, 3, true);
        for id in ["a", "b", "c", "d"] {
            store.insert(Task::new(id, success.clone(), 0, request(), 0));
        }
        assert_eq!(store.len(), 3);
        assert!(store.get("a").is_none() && store.was_forgotten("a"));
        assert_eq!(store.forgotten(), 1);
        // Replacing "b" makes it the newest: "c" goes next.
        store.insert(Task::new("b", success.clone(), 0, request(), 0));
        store.insert(Task::new("e", success.clone(), 0, request(), 0));
        let ids: Vec<_> = store.list().iter().map(|t| t.id.to_string()).collect();
        assert_eq!(ids, ["d", "b", "e"]);
        assert!(store.by_file(store.get("b").unwrap().file_id).is_some());
        assert!(store.by_file(Artifact::file_id_of(0, "c")).is_none());
        // Scripting a forgotten id again brings it back.
        store.insert(Task::new("a", success, 0, request(), 0));
        assert!(!store.was_forgotten("a"));
    }

    #[test]
    fn pages_follow_creation_order() {
        let success = Catalog::builtin().get("success").unwrap().clone();
        let store = TaskStore::new(0);
        for i in 0..10 {
            store.insert(Task::new(i.to_string(), success.clone(), 0, request(), 0));
        }
        store.remove("3");
        let first = store.page(None, 4);
        let ids = |page: &[Arc<Task>]| page.iter().map(|t| t.id.to_string()).collect::<Vec<_>>();
        assert_eq!(ids(&first), ["0", "1", "2", "4"]);
        let second = store.page(Some(first.last().unwrap().created), 4);
        assert_eq!(ids(&second), ["5", "6", "7", "8"]);
        assert_eq!(ids(&store.page(Some(second[3].created), 4)), ["9"]);
    }

    #[test]
    fn a_task_is_small() {
        // The budget: at most 300 bytes a plain submitted task, indexes
        // included. 184 (with its last body's slot) and the 16 of the Arc's
        // counts take the same 208-byte malloc chunk as the 176 before did.
        assert!(std::mem::size_of::<Task>() <= 184, "{}", std::mem::size_of::<Task>());
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

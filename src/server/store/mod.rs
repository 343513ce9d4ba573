//! The task store, the one seam between the API surfaces and the state they
//! change: tasks and their poll counts, the clock, the task-id sequence,
//! the next-submits setting and the journal.
//!
//! The request path goes through [`Store`]'s `async` methods, so that a
//! store across the network (a round trip per step) can stand behind them
//! without the surfaces changing. The in-memory store answers them with
//! ready futures: no lock beyond the task table's, no box, no allocation
//! that the surfaces did not make before. The control plane, the state file
//! and the callbacks' watchers read the in-memory parts directly
//! ([`Store::tasks`], [`Store::journal`], [`Store::next_submits`]).
//!
//! Owns all state a request changes. May use `lifecycle`, `contract` and
//! `api::render` (a task's view); every other subsystem reaches tasks
//! through it.

pub mod journal;
pub mod namespaces;
pub mod next;
pub mod remote;
pub mod tasks;

use std::sync::Arc;

use crate::contract::DOCUMENTED_TASK_ID;
use crate::lifecycle::clock::{Clock, UnixMillis};
use crate::lifecycle::Scenario;
use bytes::Bytes;
use hyper::StatusCode;
use journal::{Draft, Entry, Filter, Journal};
use next::NextSubmits;
use remote::lease::Lease;
pub use remote::Unavailable;
use remote::{codec, ClockOp, ClockReading, Held, NewTask, Space};
use tasks::{Request, Surface, Task, TaskStore};

/// Everything a request reads or changes.
#[derive(Debug)]
pub struct Store {
    clock: Clock,
    tasks: TaskStore,
    next: NextSubmits,
    journal: Journal,
    /// `--store`: the shared store this namespace's state lives in; the
    /// parts above are then this replica's copy of what it has seen.
    remote: Option<Space>,
    /// The callback leases this replica took with its submits, until its
    /// watchers pick them up.
    leases: std::sync::Mutex<std::collections::HashMap<Box<str>, Lease>>,
}

/// What a v2 `DELETE` does to a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deletion {
    /// A queued task: cancelled, it shows `cancelled` from now on.
    Cancel,
    /// A succeeded or failed task: its record is removed.
    Remove,
    /// A running or cancelled task: left as it is.
    Refuse,
}

/// One counted poll: how many came before it, and the clock's reading
/// taken with the count (one step in a shared store, so that whichever
/// replica answers, a task never goes backwards).
#[derive(Debug, Clone, Copy)]
pub struct Poll {
    pub before: u64,
    pub now: UnixMillis,
}

impl Store {
    /// The in-memory store: the embedded default.
    pub fn memory(clock: Clock, tasks: TaskStore) -> Self {
        Self {
            clock,
            tasks,
            next: NextSubmits::default(),
            journal: Journal::default(),
            remote: None,
            leases: Default::default(),
        }
    }

    /// The same store, its state in the shared store `space` (`--store`).
    pub fn shared(mut self, space: Option<Space>) -> Self {
        self.remote = space;
        self
    }

    /// The shared store, with `--store`.
    pub fn remote(&self) -> Option<&Space> {
        self.remote.as_ref()
    }

    // The request path. In memory every step is ready at once; with
    // `--store` each is a round trip (one script), and fails with
    // [`Unavailable`] when the store cannot be reached.

    /// Counts a poll of task `id` through `surface` and shows it to `f` with
    /// the poll's count and time; `None` if there is no such task for that
    /// surface, or it is a v2 task older than v2's 7 days (nothing is
    /// counted then).
    pub async fn poll<R>(
        &self,
        id: &str,
        surface: Surface,
        f: impl FnOnce(&Task, Poll) -> R,
    ) -> Result<Option<R>, Unavailable> {
        let Some(space) = &self.remote else {
            let now = self.clock.now();
            return Ok(self
                .tasks
                .with(id, |task| {
                    if !surface.answers(task.request.surface) || !task.in_window(now) {
                        return None;
                    }
                    let before = task.poll();
                    Some(f(task, Poll { before, now }))
                })
                .flatten());
        };
        Box::pin(self.poll_shared(space, id, surface, f)).await
    }

    /// [`Store::poll`] in the shared store. Boxed by its callers: its
    /// round trips are futures of a kilobyte and more, which every
    /// `.await` above them would copy (and the in-memory poll with them)
    /// on every request if they were held inline.
    async fn poll_shared<R>(
        &self,
        space: &Space,
        id: &str,
        surface: Surface,
        f: impl FnOnce(&Task, Poll) -> R,
    ) -> Result<Option<R>, Unavailable> {
        let cached = self.tasks.with(id, |t| t.created).unwrap_or(0);
        // The request's journal entry goes with the poll (one round trip).
        let record = journal::DRAFT
            .try_with(|d| d.borrow_mut().as_mut().and_then(|d| d.record.take()))
            .ok()
            .flatten();
        let (clock, held) = space
            .poll(id, codec::family(surface), cached, record.as_deref())
            .await?;
        let journaled = held.as_ref().and_then(|h| h.journaled.clone());
        if record.is_some() {
            let _ = journal::DRAFT.try_with(|d| {
                if let Some(draft) = d.borrow_mut().as_mut() {
                    match journaled {
                        Some(id) => draft.written = Some(id),
                        // Not written (no task): the next poll or the end of the request writes it.
                        None => draft.record = record,
                    }
                }
            });
        }
        self.mirror_clock(clock);
        let Some(held) = held else { return Ok(None) };
        let before = held.polls;
        let Some(task) = self.copy_of(space, id, held).await? else {
            return Ok(None);
        };
        task.set_polls(before + 1);
        Ok(Some(f(&task, Poll { before, now: clock.now })))
    }

    /// The task `id`, created now with `scenario` if it does not exist (a
    /// scenarios-file rule naming the id); `None` for an id forgotten to
    /// stay within `--max-tasks`, which stays forgotten.
    pub async fn create_named(
        &self,
        id: &str,
        scenario: &Arc<Scenario>,
        request: Request,
    ) -> Result<Option<Arc<Task>>, Unavailable> {
        let Some(space) = &self.remote else {
            if self.tasks.was_forgotten(id) {
                return Ok(None);
            }
            return Ok(Some(self.tasks.get_or_create(id, scenario, self.clock.now(), request)));
        };
        let task = Task::new(id, scenario.clone(), 0, request, self.tasks.seed());
        // Boxed, as in [`Store::poll_shared`].
        Box::pin(self.create_shared(space, task, false)).await
    }

    /// Creates a task under the next id of the sequence; `scenario` chooses
    /// its scenario knowing the id.
    pub async fn submit(
        &self,
        scenario: impl FnOnce(&str) -> Arc<Scenario>,
        request: Request,
        callback: Option<&str>,
    ) -> Result<Arc<Task>, Unavailable> {
        let Some(space) = &self.remote else {
            return Ok(self.tasks.submit(scenario, self.clock.now(), request, callback));
        };
        // Boxed, as in [`Store::poll_shared`].
        Box::pin(self.submit_shared(space, scenario, request, callback)).await
    }

    /// [`Store::submit`] in the shared store.
    async fn submit_shared(
        &self,
        space: &Space,
        scenario: impl FnOnce(&str) -> Arc<Scenario>,
        request: Request,
        callback: Option<&str>,
    ) -> Result<Arc<Task>, Unavailable> {
        let seed = self.tasks.seed();
        // The sequence is shared: ids are unique across replicas. An id
        // already taken (by a rule's or a script's task) takes the next number.
        let mut scenario = Some(scenario);
        let mut chosen: Option<Arc<Scenario>> = None;
        loop {
            let n = space.next_submission().await?;
            let id = tasks::submission_id(seed, n, request.surface);
            if id == DOCUMENTED_TASK_ID {
                continue;
            }
            let pick = match (scenario.take(), &chosen) {
                (Some(choose), _) => choose(&id),
                (None, Some(s)) => s.clone(),
                (None, None) => unreachable!("a scenario is chosen on the first try"),
            };
            chosen = Some(pick.clone());
            let task = Task::new(id, pick, 0, request, seed).with_callback(callback);
            let data = codec::task_record(&task, &space.remote.catalog);
            let (clock, made) = space.create(&self.new_task(&task, &data, false)).await?;
            self.mirror_clock(clock);
            if let Some((true, held, lease)) = made {
                let task = self.mirror_new(task, &held);
                if let Some(lease) = lease {
                    self.hold(&task.id, lease);
                }
                return Ok(task);
            }
        }
    }

    /// The scenario the control API set for the next submit, counting it.
    pub async fn take_next(&self) -> Result<Option<Arc<Scenario>>, Unavailable> {
        let Some(space) = &self.remote else {
            return Ok(self.next.take());
        };
        let record = Box::pin(space.take_next()).await?;
        Ok(record.and_then(|r| codec::scenario_of(&r, &space.remote.catalog)))
    }

    /// The v2 task `id` if it is within v2's 7 days, with the clock's
    /// reading; not a poll.
    pub async fn v2_task(&self, id: &str) -> Result<Option<(Arc<Task>, UnixMillis)>, Unavailable> {
        let (task, now) = self.peek(id).await?;
        Ok(task
            .filter(|task| task.request.surface == Surface::V2 && task.in_window(now))
            .map(|task| (task, now)))
    }

    /// The v2 tasks of the last 7 days that `keep` accepts, in creation
    /// order, with the clock's reading (v2's list).
    pub async fn v2_tasks(
        &self,
        mut keep: impl FnMut(&Task, UnixMillis) -> bool,
    ) -> Result<(Vec<Arc<Task>>, UnixMillis), Unavailable> {
        self.pull().await?;
        let now = self.clock.now();
        let tasks = self
            .tasks
            .filter(|task| task.request.surface == Surface::V2 && task.in_window(now) && keep(task, now));
        Ok((tasks, now))
    }

    /// v2's `DELETE` of task `id`: `decide` looks at the task as it is now
    /// and says whether to cancel it, remove it or leave it; `None` if
    /// there is no v2 task `id` in v2's 7 days.
    pub async fn delete_v2(
        &self,
        id: &str,
        decide: impl FnOnce(&Task, UnixMillis) -> Deletion,
    ) -> Result<Option<(Deletion, Arc<Task>)>, Unavailable> {
        let Some((task, now)) = self.v2_task(id).await? else {
            return Ok(None);
        };
        let deletion = match decide(&task, now) {
            Deletion::Cancel => {
                let cancelled = match &self.remote {
                    None => task.cancel(now),
                    Some(space) => {
                        let (ours, at) = space.cancel(id).await?;
                        ours && {
                            task.cancel(at);
                            true
                        }
                    }
                };
                // Lost a race with another cancel: it is cancelled, not by us.
                if cancelled {
                    Deletion::Cancel
                } else {
                    Deletion::Refuse
                }
            }
            Deletion::Remove if !self.remove(id).await? => return Ok(None),
            other => other,
        };
        Ok(Some((deletion, task)))
    }

    /// The request id of an answer that carries one (v2's errors): a
    /// sequence per server, from the seed, so no round trip is needed.
    pub fn request_id(&self) -> String {
        self.tasks.next_request_id()
    }

    /// The task `id`, if `surface`'s API answers it, without counting a
    /// poll (a download: it moves no lifecycle).
    pub async fn get(&self, id: &str, surface: Surface) -> Result<Option<Arc<Task>>, Unavailable> {
        let (task, _) = self.peek(id).await?;
        Ok(task.filter(|task| surface.answers(task.request.surface)))
    }

    /// The task whose file is `file_id` (`files/retrieve`).
    pub async fn by_file(&self, file_id: u64) -> Result<Option<Arc<Task>>, Unavailable> {
        let Some(space) = &self.remote else {
            return Ok(self.tasks.by_file(file_id));
        };
        match Box::pin(space.by_file(file_id)).await? {
            Some(id) => Ok(self.peek(&id).await?.0),
            None => Ok(None),
        }
    }

    /// Records a request in the journal, stamped with the mock's time.
    /// With `--store`, an entry the store cannot take is not kept: the
    /// answer has been given, and nothing falls back to memory.
    pub async fn record(&self, entry: Entry) {
        self.record_at(entry, std::time::Instant::now()).await;
    }

    /// [`Store::record`] stamped with the mock's time at `at`, a clock
    /// reading the caller took (a request's end, for its metrics).
    pub async fn record_at(&self, entry: Entry, at: std::time::Instant) {
        if let Some(entry) = self.record_here(entry, at) {
            self.record_shared(entry).await;
        }
    }

    /// [`Store::record_at`] when the journal is this process's, at once;
    /// the entry back, stamped, for [`Store::record_shared`] when it is the
    /// shared store's. The request path calls this without a future of its
    /// own for the in-memory journal.
    pub fn record_here(&self, mut entry: Entry, at: std::time::Instant) -> Option<Entry> {
        entry.time = self.clock.at(at);
        if self.remote.is_some() {
            return Some(entry);
        }
        self.journal.record(entry);
        None
    }

    /// Writes a stamped entry to the shared store's journal.
    pub async fn record_shared(&self, entry: Entry) {
        if let Some(space) = &self.remote {
            // Boxed, as in [`Store::poll_shared`].
            let _ = Box::pin(space.record(&entry.to_record())).await;
        }
    }

    /// Writes the journal entry of a request answered with a [`Draft`]:
    /// nothing more when a poll wrote it and the answer is the one it
    /// foresaw, else the entry of the answer given (replacing the poll's).
    pub async fn settle(&self, draft: Draft, status: Option<StatusCode>, task_id: Option<String>, body: Bytes) {
        if draft.written.is_some() && draft.foresaw(status, task_id.as_deref(), &body) {
            return;
        }
        let Draft { mut entry, written, .. } = draft;
        entry.status = status;
        entry.named_task = task_id;
        entry.body = body;
        match (written, &self.remote) {
            (Some(id), Some(space)) => {
                entry.time = self.clock.now();
                let _ = space.rerecord(&id, &entry.to_record()).await;
            }
            _ => self.record(entry).await,
        }
    }

    // The shared store's side of the request path.

    /// The task `id` and the clock, without counting a poll.
    async fn peek(&self, id: &str) -> Result<(Option<Arc<Task>>, UnixMillis), Unavailable> {
        let Some(space) = &self.remote else {
            return Ok((self.tasks.get(id), self.clock.now()));
        };
        // Boxed, as in [`Store::poll_shared`].
        Box::pin(self.peek_shared(space, id)).await
    }

    /// [`Store::peek`] in the shared store.
    async fn peek_shared(&self, space: &Space, id: &str) -> Result<(Option<Arc<Task>>, UnixMillis), Unavailable> {
        let cached = self.tasks.with(id, |t| t.created).unwrap_or(0);
        let (clock, held) = space.peek(id, cached).await?;
        self.mirror_clock(clock);
        let task = match held {
            Some(held) => self.copy_of(space, id, held).await?,
            None => None,
        };
        Ok((task, clock.now))
    }

    /// This replica's copy of task `id` as the store holds it: the cached
    /// one if it is of the same task (`uid`), else made from the record.
    async fn copy_of(&self, space: &Space, id: &str, mut held: Held) -> Result<Option<Arc<Task>>, Unavailable> {
        if held.data.is_none() {
            if let Some(task) = self.tasks.get(id).filter(|t| t.created == held.uid) {
                // The poll count others made too, for poll-driven steps.
                task.set_polls(held.polls);
                if held.cancelled_at != 0 {
                    task.cancel(held.cancelled_at);
                }
                return Ok(Some(task));
            }
            // The copy was replaced meanwhile: read the record.
            match space.peek(id, 0).await?.1 {
                Some(fresh) => held = fresh,
                None => return Ok(None),
            }
        }
        let Some(data) = held.data.take() else { return Ok(None) };
        let Some(task) = codec::task_of(&data, &held, self.tasks.seed(), &space.remote.catalog) else {
            return Ok(None);
        };
        Ok(Some(self.tasks.insert_mirrored(task)))
    }

    fn new_task<'a>(&self, task: &'a Task, data: &'a [u8], replace: bool) -> NewTask<'a> {
        NewTask {
            id: &task.id,
            data,
            family: codec::family(task.request.surface),
            v2: task.request.surface == Surface::V2,
            file_id: task.file_id,
            replace,
            callback: task.callback.is_some(),
            submitted_at: replace.then_some(task.submitted_at),
            polls: task.polls(),
            cancelled_at: task.cancelled_at().unwrap_or(0),
        }
    }

    /// Creates `task` in the store (`replace`: over any of its id); the
    /// task there if one was (not replacing), `None` if its id stays forgotten.
    async fn create_shared(&self, space: &Space, task: Task, replace: bool) -> Result<Option<Arc<Task>>, Unavailable> {
        let data = codec::task_record(&task, &space.remote.catalog);
        let (clock, made) = space.create(&self.new_task(&task, &data, replace)).await?;
        self.mirror_clock(clock);
        match made {
            None => Ok(None),
            Some((true, held, lease)) => {
                let task = self.mirror_new(task, &held);
                if let Some(lease) = lease {
                    self.hold(&task.id, lease);
                }
                Ok(Some(task))
            }
            Some((false, held, _)) => self.copy_of(space, &task.id.clone(), held).await,
        }
    }

    fn hold(&self, id: &str, lease: Lease) {
        self.leases
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.into(), lease);
    }

    /// The callback lease this replica took with task `id`'s submit, for
    /// its watcher.
    pub fn take_lease(&self, id: &str) -> Option<Lease> {
        self.leases.lock().unwrap_or_else(|e| e.into_inner()).remove(id)
    }

    /// Task `id` as the store holds it now (a watcher's look: it counts
    /// no poll), with the clock's reading.
    pub async fn task(&self, id: &str) -> Result<(Option<Arc<Task>>, UnixMillis), Unavailable> {
        self.peek(id).await
    }

    /// A task this replica just created in the store, numbered and timed by it.
    fn mirror_new(&self, mut task: Task, held: &Held) -> Arc<Task> {
        task.created = held.uid;
        task.submitted_at = held.submitted_at;
        self.tasks.insert_mirrored(task)
    }

    /// The local clock set to the store's reading, so that what reads it
    /// between two steps (download links, the watchers) agrees.
    fn mirror_clock(&self, clock: ClockReading) {
        self.clock.set(clock.now, clock.frozen);
    }

    // The control plane's steps: with `--store`, what it reads is brought
    // up to date first ([`Store::pull`]), and what it changes is changed
    // in the store.

    /// Brings this replica's copy of the tasks and the clock up to date.
    pub async fn pull(&self) -> Result<(), Unavailable> {
        let Some(space) = &self.remote else { return Ok(()) };
        self.mirror_clock(space.clock(ClockOp::Read).await?);
        let listed = space.tasks(|id| self.tasks.with(id, |t| t.created)).await?;
        let mut copies = Vec::with_capacity(listed.len());
        for (id, held) in listed {
            let cached = self.tasks.get(&id).filter(|t| t.created == held.uid);
            let task = match (cached, &held.data) {
                (Some(task), _) => task,
                (None, Some(data)) => match codec::task_of(data, &held, self.tasks.seed(), &space.remote.catalog) {
                    Some(task) => Arc::new(task),
                    None => continue,
                },
                (None, None) => continue,
            };
            task.set_polls(held.polls);
            if held.cancelled_at != 0 {
                task.cancel(held.cancelled_at);
            }
            copies.push(task);
        }
        self.tasks.mirror(copies);
        Ok(())
    }

    /// Moves, freezes, resumes or resets the clock.
    pub async fn change_clock(&self, op: ClockOp) -> Result<(), Unavailable> {
        match &self.remote {
            Some(space) => self.mirror_clock(space.clock(op).await?),
            None => match op {
                ClockOp::Read => {}
                ClockOp::Advance(ms) => self.clock.advance(std::time::Duration::from_millis(ms)),
                ClockOp::Freeze => self.clock.set_frozen(true),
                ClockOp::Resume => self.clock.set_frozen(false),
                ClockOp::Reset => self.clock.reset(),
            },
        }
        Ok(())
    }

    /// Adds `task`, replacing any task of its id (the control API's script).
    pub async fn insert(&self, task: Task) -> Result<Arc<Task>, Unavailable> {
        let Some(space) = &self.remote else {
            return Ok(self.tasks.insert(task));
        };
        let id = task.id.clone();
        match self.create_shared(space, task, true).await? {
            Some(task) => Ok(task),
            None => Err(space.remote.unavailable(format!("task {id} was not created"))),
        }
    }

    /// Removes task `id`; whether it existed.
    pub async fn remove(&self, id: &str) -> Result<bool, Unavailable> {
        let removed = match &self.remote {
            Some(space) => space.remove(id).await?,
            None => false,
        };
        Ok(self.tasks.remove(id) || removed)
    }

    /// Sets the scenario of the next `count` submits (0: none).
    pub async fn set_next(&self, scenario: Arc<Scenario>, count: u32) -> Result<(), Unavailable> {
        match &self.remote {
            Some(space) => {
                let record = codec::scenario_record(&scenario, &space.remote.catalog);
                space.set_next(Some((&record, count))).await
            }
            None => {
                self.next.set(scenario, count);
                Ok(())
            }
        }
    }

    /// The next-submits scenario's name and how many submits it applies to.
    pub async fn peek_next(&self) -> Result<Option<(String, u32)>, Unavailable> {
        let Some(space) = &self.remote else {
            return Ok(self.next.peek());
        };
        Ok(space.peek_next().await?.and_then(|(record, count)| {
            codec::scenario_of(&record, &space.remote.catalog).map(|s| (s.name().to_owned(), count))
        }))
    }

    pub async fn clear_next(&self) -> Result<(), Unavailable> {
        self.next.clear();
        match &self.remote {
            Some(space) => space.clear(&["next"]).await,
            None => Ok(()),
        }
    }

    /// The journal's entries that `filter` matches, numbered, oldest first.
    pub async fn journal_list(&self, filter: &Filter) -> Result<Vec<Entry>, Unavailable> {
        self.journal_page(filter, None, usize::MAX).await
    }

    /// Up to `limit` journal entries with an id above `after`, oldest first.
    pub async fn journal_page(
        &self,
        filter: &Filter,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Entry>, Unavailable> {
        let Some(space) = &self.remote else {
            return Ok(self.journal.page(filter, after, limit));
        };
        let entries = space
            .journal()
            .await?
            .into_iter()
            .filter_map(|(id, record)| Entry::from_record(&record, id))
            .collect();
        Ok(journal::listed(entries, filter, after, limit))
    }

    pub async fn clear_journal(&self) -> Result<(), Unavailable> {
        self.journal.clear();
        match &self.remote {
            Some(space) => space.clear(&["journal"]).await,
            None => Ok(()),
        }
    }

    /// Forgets every task, the journal, the next-submits setting and the
    /// callbacks record, and puts the clock back to how it started (the
    /// control API's reset).
    pub async fn reset(&self) -> Result<(), Unavailable> {
        if let Some(space) = &self.remote {
            self.mirror_clock(space.reset().await?);
        } else {
            self.clock.reset();
        }
        self.clear();
        Ok(())
    }

    // What the control plane, the state file and the watchers use.

    /// The mock's clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The task table.
    pub fn tasks(&self) -> &TaskStore {
        &self.tasks
    }

    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    pub fn next_submits(&self) -> &NextSubmits {
        &self.next
    }

    /// Forgets every task, the journal and the next-submits setting (the
    /// control API's reset; the clock is the caller's to reset).
    pub fn clear(&self) {
        self.tasks.clear();
        self.journal.clear();
        self.next.clear();
    }
}

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
pub mod tasks;

use std::sync::Arc;

use crate::lifecycle::clock::{Clock, UnixMillis};
use crate::lifecycle::Scenario;
use journal::{Entry, Journal};
use next::NextSubmits;
use tasks::{Request, Surface, Task, TaskStore};

/// Everything a request reads or changes.
#[derive(Debug)]
pub struct Store {
    clock: Clock,
    tasks: TaskStore,
    next: NextSubmits,
    journal: Journal,
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
        }
    }

    // The request path.

    /// Counts a poll of task `id` through `surface` and shows it to `f` with
    /// the poll's count and time; `None` if there is no such task for that
    /// surface, or it is a v2 task older than v2's 7 days (nothing is
    /// counted then).
    pub async fn poll<R>(&self, id: &str, surface: Surface, f: impl FnOnce(&Task, Poll) -> R) -> Option<R> {
        let now = self.clock.now();
        self.tasks
            .with(id, |task| {
                if !surface.answers(task.request.surface) || !task.in_window(now) {
                    return None;
                }
                let before = task.poll();
                Some(f(task, Poll { before, now }))
            })
            .flatten()
    }

    /// The task `id`, created now with `scenario` if it does not exist (a
    /// scenarios-file rule naming the id); `None` for an id forgotten to
    /// stay within `--max-tasks`, which stays forgotten.
    pub async fn create_named(&self, id: &str, scenario: &Arc<Scenario>, request: Request) -> Option<Arc<Task>> {
        if self.tasks.was_forgotten(id) {
            return None;
        }
        Some(self.tasks.get_or_create(id, scenario, self.clock.now(), request))
    }

    /// Creates a task under the next id of the sequence; `scenario` chooses
    /// its scenario knowing the id.
    pub async fn submit(
        &self,
        scenario: impl FnOnce(&str) -> Arc<Scenario>,
        request: Request,
        callback: Option<&str>,
    ) -> Arc<Task> {
        self.tasks.submit(scenario, self.clock.now(), request, callback)
    }

    /// The scenario the control API set for the next submit, counting it.
    pub async fn take_next(&self) -> Option<Arc<Scenario>> {
        self.next.take()
    }

    /// The v2 task `id` if it is within v2's 7 days, with the clock's
    /// reading; not a poll.
    pub async fn v2_task(&self, id: &str) -> Option<(Arc<Task>, UnixMillis)> {
        let now = self.clock.now();
        self.tasks
            .get(id)
            .filter(|task| task.request.surface == Surface::V2 && task.in_window(now))
            .map(|task| (task, now))
    }

    /// The v2 tasks of the last 7 days that `keep` accepts, in creation
    /// order, with the clock's reading (v2's list).
    pub async fn v2_tasks(&self, mut keep: impl FnMut(&Task, UnixMillis) -> bool) -> (Vec<Arc<Task>>, UnixMillis) {
        let now = self.clock.now();
        let tasks = self
            .tasks
            .filter(|task| task.request.surface == Surface::V2 && task.in_window(now) && keep(task, now));
        (tasks, now)
    }

    /// v2's `DELETE` of task `id`: `decide` looks at the task as it is now
    /// and says whether to cancel it, remove it or leave it; `None` if
    /// there is no v2 task `id` in v2's 7 days.
    pub async fn delete_v2(
        &self,
        id: &str,
        decide: impl FnOnce(&Task, UnixMillis) -> Deletion,
    ) -> Option<(Deletion, Arc<Task>)> {
        let (task, now) = self.v2_task(id).await?;
        let deletion = match decide(&task, now) {
            // Lost a race with another cancel: it is cancelled, not by us.
            Deletion::Cancel if !task.cancel(now) => Deletion::Refuse,
            Deletion::Remove if !self.tasks.remove(id) => return None,
            other => other,
        };
        Some((deletion, task))
    }

    /// The request id of an answer that carries one (v2's errors): a
    /// sequence per server, from the seed, so no round trip is needed.
    pub fn request_id(&self) -> String {
        self.tasks.next_request_id()
    }

    /// The task `id`, if `surface`'s API answers it, without counting a
    /// poll (a download: it moves no lifecycle).
    pub async fn get(&self, id: &str, surface: Surface) -> Option<Arc<Task>> {
        self.tasks.get(id).filter(|task| surface.answers(task.request.surface))
    }

    /// The task whose file is `file_id` (`files/retrieve`).
    pub async fn by_file(&self, file_id: u64) -> Option<Arc<Task>> {
        self.tasks.by_file(file_id)
    }

    /// Records a request in the journal, stamped with the mock's time.
    pub async fn record(&self, mut entry: Entry) {
        entry.time = self.clock.now();
        self.journal.record(entry);
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

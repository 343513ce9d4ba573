//! The task store: tasks and their poll counts, the task-id sequence, the
//! next-submits setting and the journal.
//!
//! Owns all state a request changes. May use `lifecycle` and `contract`
//! (and `api::render` for a task's view); every other subsystem reaches
//! tasks through it.

pub mod journal;
pub mod tasks;

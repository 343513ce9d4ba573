//! The scenario the control API chose for the next submits.

use std::sync::{Arc, Mutex};

use crate::lifecycle::Scenario;

/// A scenario for the next N submits, whatever API they come through: the
/// way to choose the scenario of clients that cannot send `Prefer`.
#[derive(Debug, Default)]
pub struct NextSubmits(Mutex<Option<(Arc<Scenario>, u32)>>);

impl NextSubmits {
    pub fn set(&self, scenario: Arc<Scenario>, count: u32) {
        *self.lock() = (count > 0).then_some((scenario, count));
    }

    /// The scenario for one submit, counting it.
    pub fn take(&self) -> Option<Arc<Scenario>> {
        let mut next = self.lock();
        let (scenario, left) = next.as_mut()?;
        let scenario = scenario.clone();
        *left -= 1;
        if *left == 0 {
            *next = None;
        }
        Some(scenario)
    }

    /// The scenario's name and how many submits it still applies to.
    pub fn peek(&self) -> Option<(String, u32)> {
        self.lock().as_ref().map(|(s, n)| (s.name().to_owned(), *n))
    }

    pub fn clear(&self) {
        *self.lock() = None;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(Arc<Scenario>, u32)>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

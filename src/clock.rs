//! The mock's clock. Every lifecycle reads time from here, never from the
//! system directly, so tests can start it at a fixed instant, freeze it and
//! move it forward instead of sleeping.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch on the mock's clock.
pub type UnixMillis = u64;

#[derive(Debug)]
struct State {
    /// The mock time at `since`.
    base: UnixMillis,
    since: Instant,
    frozen: bool,
}

/// A clock that runs with real time from a chosen start, or stands still.
#[derive(Debug)]
pub struct Clock {
    state: Mutex<State>,
}

impl Clock {
    /// Starts at `start` (default: the system time now) and runs.
    pub fn new(start: Option<UnixMillis>, frozen: bool) -> Self {
        let base = start.unwrap_or_else(system_now);
        Self {
            state: Mutex::new(State {
                base,
                since: Instant::now(),
                frozen,
            }),
        }
    }

    /// The current mock time.
    pub fn now(&self) -> UnixMillis {
        let s = self.lock();
        if s.frozen {
            s.base
        } else {
            s.base + s.since.elapsed().as_millis() as u64
        }
    }

    /// Moves the clock forward by `by`, whether it runs or not.
    pub fn advance(&self, by: Duration) {
        let mut s = self.lock();
        s.base += by.as_millis() as u64;
    }

    /// Stops (true) or restarts (false) the clock where it is now.
    pub fn set_frozen(&self, frozen: bool) {
        let now = self.now();
        let mut s = self.lock();
        s.base = now;
        s.since = Instant::now();
        s.frozen = frozen;
    }

    pub fn is_frozen(&self) -> bool {
        self.lock().frozen
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is always consistent, so a panic elsewhere cannot poison it meaningfully.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The system's wall-clock time.
pub fn system_now() -> UnixMillis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_clock_moves_only_when_advanced() {
        let c = Clock::new(Some(1_000), true);
        assert_eq!(c.now(), 1_000);
        c.advance(Duration::from_secs(30));
        assert_eq!(c.now(), 31_000);
        assert!(c.is_frozen());
    }

    #[test]
    fn running_clock_starts_at_the_given_time() {
        let c = Clock::new(Some(5_000), false);
        let now = c.now();
        assert!((5_000..6_000).contains(&now), "{now}");
        c.set_frozen(true);
        let frozen = c.now();
        assert_eq!(c.now(), frozen);
    }
}

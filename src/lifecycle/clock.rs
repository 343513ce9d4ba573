//! The mock's clock. Every lifecycle reads time from here, never from the
//! system directly, so tests can start it at a fixed instant, freeze it and
//! move it forward instead of sleeping.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch on the mock's clock.
pub type UnixMillis = u64;

const RUNNING: u64 = u64::MAX;

/// The last instant the clock shows: 9999-12-31T23:59:59.999Z, the end of
/// four-digit years (and well inside what a browser's `Date` can show).
pub const LATEST: UnixMillis = 253_402_300_799_999;

/// A clock that runs with real time from a chosen start, or stands still.
///
/// Every poll reads it, from both worker threads, so a read is two atomic
/// loads and no lock; the rare changes (advance, freeze) take a mutex so they
/// never interleave with each other.
#[derive(Debug)]
pub struct Clock {
    origin: Instant,
    /// Mock time at `origin`: while running, now = offset + origin.elapsed().
    offset: AtomicU64,
    /// The mock time the clock stands at, or `RUNNING`.
    frozen_at: AtomicU64,
    changing: Mutex<()>,
    /// How it was started, for [`Clock::reset`].
    initial: (Option<UnixMillis>, bool),
}

impl Clock {
    /// Starts at `start` (default: the system time now), running or frozen.
    pub fn new(start: Option<UnixMillis>, frozen: bool) -> Self {
        let first = start.unwrap_or_else(system_now);
        Self {
            origin: Instant::now(),
            offset: AtomicU64::new(first),
            frozen_at: AtomicU64::new(if frozen { first } else { RUNNING }),
            changing: Mutex::new(()),
            initial: (start, frozen),
        }
    }

    /// The time it was started at (`None`: the system time then): what a
    /// clock made like this one starts from.
    pub fn start(&self) -> Option<UnixMillis> {
        self.initial.0
    }

    /// Back to how it was started: the same start (or the system time now,
    /// if it started at the system time), running or frozen as it was.
    pub fn reset(&self) {
        let (start, frozen) = self.initial;
        self.set(start.unwrap_or_else(system_now), frozen);
    }

    /// Sets the time, and whether it stands still.
    pub fn set(&self, now: UnixMillis, frozen: bool) {
        let _guard = self.lock();
        self.set_locked(now, frozen);
    }

    /// Offset first, so a reader that sees RUNNING also sees the new offset.
    fn set_locked(&self, now: UnixMillis, frozen: bool) {
        let elapsed = self.origin.elapsed().as_millis() as u64;
        self.offset.store(now.saturating_sub(elapsed), Ordering::Release);
        self.frozen_at
            .store(if frozen { now.min(LATEST) } else { RUNNING }, Ordering::Release);
    }

    /// The current mock time.
    pub fn now(&self) -> UnixMillis {
        match self.frozen_at.load(Ordering::Acquire) {
            RUNNING => self
                .offset
                .load(Ordering::Acquire)
                .saturating_add(self.origin.elapsed().as_millis() as u64)
                .min(LATEST),
            frozen => frozen,
        }
    }

    /// The mock time at `instant`, a reading of the monotonic clock the
    /// caller took anyway (a request's, for its metrics): [`Clock::now`]
    /// without a second reading.
    pub fn at(&self, instant: Instant) -> UnixMillis {
        match self.frozen_at.load(Ordering::Acquire) {
            RUNNING => self
                .offset
                .load(Ordering::Acquire)
                .saturating_add(instant.saturating_duration_since(self.origin).as_millis() as u64)
                .min(LATEST),
            frozen => frozen,
        }
    }

    /// Moves the clock forward by `by`, whether it runs or not, at most to
    /// [`LATEST`]: time never wraps around and goes back.
    pub fn advance(&self, by: Duration) {
        let _guard = self.lock();
        let by = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        let now = self.now();
        let to = now.saturating_add(by).min(LATEST.max(now));
        if self.frozen_at.load(Ordering::Acquire) == RUNNING {
            self.offset.fetch_add(to - now, Ordering::AcqRel);
        } else {
            self.frozen_at.store(to, Ordering::Release);
        }
    }

    /// Stops (true) or restarts (false) the clock where it is now.
    pub fn set_frozen(&self, frozen: bool) {
        let _guard = self.lock();
        self.set_locked(self.now(), frozen);
    }

    pub fn is_frozen(&self) -> bool {
        self.frozen_at.load(Ordering::Acquire) != RUNNING
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.changing.lock().unwrap_or_else(|e| e.into_inner())
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

    /// Found writing the control API fuzz target: advancing past the
    /// clock's range wrapped it around to 1970 (every task back at its
    /// first step), and a frozen clock advanced to exactly u64::MAX started
    /// running.
    #[test]
    fn advancing_past_the_end_stops_there() {
        let frozen = Clock::new(Some(1_000), true);
        frozen.advance(Duration::MAX);
        assert_eq!(frozen.now(), LATEST);
        assert!(frozen.is_frozen());
        frozen.advance(Duration::from_secs(1));
        assert_eq!(frozen.now(), LATEST);
        let exact = Clock::new(Some(1_000), true);
        exact.advance(Duration::from_millis(u64::MAX - 1_000));
        assert!(exact.is_frozen());
        let running = Clock::new(Some(1_000), false);
        running.advance(Duration::MAX);
        assert_eq!(running.now(), LATEST);
        running.set_frozen(true);
        assert_eq!(running.now(), LATEST);
    }

    #[test]
    fn the_clock_stops_at_the_end_of_year_9999_and_never_wraps() {
        let c = Clock::new(Some(1_000), true);
        c.advance(Duration::MAX);
        assert_eq!(c.now(), LATEST);
        c.advance(Duration::from_secs(1));
        assert_eq!(c.now(), LATEST);
    }

    #[test]
    fn running_clock_starts_at_the_given_time() {
        let c = Clock::new(Some(5_000), false);
        let now = c.now();
        assert!((5_000..6_000).contains(&now), "{now}");
        c.set_frozen(true);
        let frozen = c.now();
        assert_eq!(c.now(), frozen);
        c.advance(Duration::from_secs(1));
        c.set_frozen(false);
        assert!(c.now() >= frozen + 1000 && c.now() < frozen + 2000);
        c.advance(Duration::from_secs(60));
        assert!(c.now() >= frozen + 61_000);
    }
}

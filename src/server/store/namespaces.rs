//! Namespaces: `/ns/{name}/...` gives a client a mock of its own on a
//! shared instance (its own tasks, clock, task-id sequence, next-submits,
//! journal, callbacks record and reset), so that parallel tests do not
//! move each other's clocks or reset each other's tasks.
//!
//! This is the registry and the path rule, generic over what a namespace
//! holds (the server's per-namespace state), so that it needs nothing of
//! the server. A namespace exists from its first request; past the bound
//! (`--max-namespaces`) the one idle longest is forgotten, and with it
//! everything it held. Unprefixed requests never come here: the default
//! namespace is not in the registry, so its requests pay for no lock or
//! lookup.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use super::tasks::Ids;

/// What a namespaced path starts with.
pub const PREFIX: &str = "/ns/";

/// The default of `--max-namespaces`.
pub const DEFAULT_MAX_NAMESPACES: usize = 1000;

/// The longest namespace name.
pub const MAX_NAME: usize = 64;

/// Why a `/ns/...` path names no namespace.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("a namespace is named after /ns/: /ns/NAME/... (NAME of 1 to 64 letters, digits, '.', '_' or '-')")]
    Empty,
    #[error("namespace {0:?} is not a name of 1 to 64 letters, digits, '.', '_' or '-' (and not '.' or '..')")]
    Invalid(String),
}

/// Whether `name` may name a namespace: 1 to 64 of `[A-Za-z0-9._-]`, and
/// not `.` or `..` (which clients fold out of paths).
pub fn valid_name(name: &str) -> bool {
    (1..=MAX_NAME).contains(&name.len()) && name.bytes().all(is_name_byte) && name != "." && name != ".."
}

fn is_name_byte(b: u8) -> bool {
    NAME_BYTES[usize::from(b)]
}

/// The bytes a name may hold, by value: one load a byte, on every
/// namespaced request.
const NAME_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-');
        b += 1;
    }
    table
};

/// Splits `/ns/{name}/rest` into the name and `/rest` (`/` when nothing
/// follows the name); `None` for a path that does not start with `/ns/`.
pub fn split(path: &str) -> Option<Result<(&str, &str), NameError>> {
    let after = path.strip_prefix(PREFIX)?;
    // A byte search: `str::find` with a char pattern cost about 130
    // instructions on every namespaced request.
    let (name, rest) = match after.bytes().position(|b| b == b'/') {
        Some(i) => after.split_at(i),
        None => (after, "/"),
    };
    Some(if name.is_empty() {
        Err(NameError::Empty)
    } else if !valid_name(name) {
        Err(NameError::Invalid(name.to_owned()))
    } else {
        Ok((name, rest))
    })
}

/// One namespace and when it was last used: the registry's use count then
/// (what orders eviction, ties impossible) and milliseconds since the
/// registry was made (what the listing shows).
#[derive(Debug)]
struct Slot<T> {
    value: Arc<T>,
    last_use: AtomicU64,
    last_ms: AtomicU64,
}

impl<T> Slot<T> {
    fn touch(&self, at: (u64, u64)) -> Arc<T> {
        self.last_use.store(at.0, Ordering::Relaxed);
        self.last_ms.store(at.1, Ordering::Relaxed);
        self.value.clone()
    }
}

/// The named namespaces, at most `max` of them; the one idle longest goes
/// first when a new one would be one too many.
#[derive(Debug)]
pub struct Namespaces<T> {
    slots: RwLock<HashMap<Box<str>, Slot<T>, Ids>>,
    max: usize,
    started: Instant,
    uses: AtomicU64,
    evicted: AtomicU64,
}

/// What [`Namespaces::list`] shows of one namespace.
#[derive(Debug, Clone)]
pub struct Listed<T> {
    pub name: String,
    pub value: Arc<T>,
    /// Milliseconds since its last request.
    pub idle_ms: u64,
}

impl<T> Namespaces<T> {
    /// A registry of at most `max` namespaces (0: namespaces are off).
    pub fn new(max: usize) -> Self {
        Self {
            slots: RwLock::new(HashMap::default()),
            max,
            started: Instant::now(),
            uses: AtomicU64::new(0),
            evicted: AtomicU64::new(0),
        }
    }

    pub fn max(&self) -> usize {
        self.max
    }

    pub fn len(&self) -> usize {
        self.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many namespaces were forgotten to stay within the bound.
    pub fn evicted(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }

    fn ms(&self) -> u64 {
        self.ms_at(Instant::now())
    }

    fn ms_at(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.started).as_millis()).unwrap_or(u64::MAX)
    }

    /// A use at `at`: the next use count and the time.
    fn use_at(&self, at: Instant) -> (u64, u64) {
        (self.uses.fetch_add(1, Ordering::Relaxed), self.ms_at(at))
    }

    /// The namespace `name`, made by `make` if it does not exist (and, if
    /// that makes one too many, the one idle longest forgotten); `None`
    /// when namespaces are off. Counts as a use of it.
    pub fn get_or_make(&self, name: &str, make: impl FnOnce() -> Arc<T>) -> Option<Arc<T>> {
        self.get_or_make_at(name, Instant::now(), make)
    }

    /// [`Namespaces::get_or_make`], used at `at`: a clock reading the
    /// caller took anyway (a request's), not a second one.
    pub fn get_or_make_at(&self, name: &str, at: Instant, make: impl FnOnce() -> Arc<T>) -> Option<Arc<T>> {
        if self.max == 0 {
            return None;
        }
        let now = self.use_at(at);
        if let Some(slot) = self.read().get(name) {
            return Some(slot.touch(now));
        }
        let mut slots = self.write();
        if let Some(slot) = slots.get(name) {
            return Some(slot.touch(now));
        }
        while slots.len() >= self.max {
            let Some(idlest) = slots
                .iter()
                .min_by_key(|(_, slot)| slot.last_use.load(Ordering::Relaxed))
                .map(|(name, _)| name.clone())
            else {
                break;
            };
            slots.remove(&idlest);
            self.evicted.fetch_add(1, Ordering::Relaxed);
        }
        let value = make();
        slots.insert(
            name.into(),
            Slot {
                value: value.clone(),
                last_use: AtomicU64::new(now.0),
                last_ms: AtomicU64::new(now.1),
            },
        );
        Some(value)
    }

    /// The namespace `name` if it exists; not a use of it.
    pub fn get(&self, name: &str) -> Option<Arc<T>> {
        self.read().get(name).map(|slot| slot.value.clone())
    }

    /// Forgets the namespace `name`; whether it existed.
    pub fn remove(&self, name: &str) -> bool {
        self.write().remove(name).is_some()
    }

    /// Every namespace, by name.
    pub fn list(&self) -> Vec<Listed<T>> {
        let now = self.ms();
        let mut listed: Vec<Listed<T>> = self
            .read()
            .iter()
            .map(|(name, slot)| Listed {
                name: name.to_string(),
                value: slot.value.clone(),
                idle_ms: now.saturating_sub(slot.last_ms.load(Ordering::Relaxed)),
            })
            .collect();
        listed.sort_by(|a, b| a.name.cmp(&b.name));
        listed
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<Box<str>, Slot<T>, Ids>> {
        self.slots.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<Box<str>, Slot<T>, Ids>> {
        self.slots.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_short_and_plain() {
        assert!(valid_name("run-42") && valid_name("a.b_c") && valid_name(&"x".repeat(64)));
        for bad in ["", ".", "..", "a b", "a/b", "é", "a%20", &"x".repeat(65)] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn a_path_splits_into_the_name_and_the_rest() {
        assert_eq!(split("/minimax/v1/x"), None);
        assert_eq!(split("/nsx/a"), None);
        assert_eq!(split("/ns/t1/__mock/clock"), Some(Ok(("t1", "/__mock/clock"))));
        assert_eq!(split("/ns/t1"), Some(Ok(("t1", "/"))));
        assert_eq!(split("/ns/t1/"), Some(Ok(("t1", "/"))));
        assert_eq!(split("/ns/"), Some(Err(NameError::Empty)));
        assert_eq!(split("/ns//x"), Some(Err(NameError::Empty)));
        assert!(matches!(split("/ns/a%2Fb/x"), Some(Err(NameError::Invalid(_)))));
        let long = format!("/ns/{}/x", "x".repeat(65));
        for bad in ["/ns/./x", "/ns/..", "/ns/a b/x", "/ns/é/x", &long] {
            assert!(matches!(split(bad), Some(Err(NameError::Invalid(_)))), "{bad:?}");
        }
        assert_eq!(split(&format!("/ns/{}", "x".repeat(64))).map(|r| r.is_ok()), Some(true));
    }

    #[test]
    fn the_one_idle_longest_goes_first() {
        let spaces = Namespaces::new(2);
        let a = spaces.get_or_make("a", || Arc::new(1)).unwrap();
        spaces.get_or_make("b", || Arc::new(2));
        // Using "a" again makes "b" the idlest.
        assert!(Arc::ptr_eq(&a, &spaces.get_or_make("a", || Arc::new(9)).unwrap()));
        spaces.get_or_make("c", || Arc::new(3));
        let names: Vec<_> = spaces.list().into_iter().map(|l| l.name).collect();
        assert_eq!(names, ["a", "c"]);
        assert_eq!(spaces.evicted(), 1);
        // "b" comes back new.
        assert_eq!(*spaces.get_or_make("b", || Arc::new(4)).unwrap(), 4);
        assert!(spaces.remove("b") && !spaces.remove("b"));
        assert!(Namespaces::<u8>::new(0).get_or_make("a", || Arc::new(1)).is_none());
    }
}

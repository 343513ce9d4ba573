//! Faults: what can go wrong on the wire at a scripted step of a lifecycle,
//! so a client's retries, timeouts and own validation can be tested.
//!
//! The data and the body transformations are pure; the server applies the
//! delay, the status and the connection reset. Callback faults
//! ([`CallbackFault`]) are data too; the notifier applies them.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::duration::parse_duration;

/// Faults of one step. `delay` combines with any one of the others.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// Wait this long (a random time between the two) before answering.
    pub delay: Option<(Duration, Duration)>,
    pub effect: Option<Effect>,
}

/// What the answer becomes.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// An HTTP error status with the gateway's error body.
    Status { code: u16, retry_after: Option<u32> },
    /// The body cut in half: valid HTTP, JSON that ends too early.
    Truncated,
    /// A body that is not JSON (a trailing comma).
    Malformed,
    /// The connection is reset instead of answered.
    Reset,
    /// A body that breaks the contract on purpose.
    Break {
        remove: Vec<String>,
        set: Vec<(String, Value)>,
    },
}

/// A fault as written in a scenario step: `{"delay": "2s"}`,
/// `{"delay": ["100ms", "3s"]}`, `{"status": 429, "retry_after": 5}`,
/// `{"body": "truncated" | "malformed"}`, `{"reset": true}`,
/// `{"break": {"remove": ["/data/progress"], "set": {"/data/status": 7}}}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    pub delay: Option<DelaySpec>,
    pub status: Option<u16>,
    pub retry_after: Option<u32>,
    pub body: Option<BodySpec>,
    #[serde(default)]
    pub reset: bool,
    #[serde(rename = "break")]
    pub breaks: Option<BreakSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum DelaySpec {
    Fixed(String),
    Between([String; 2]),
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BodySpec {
    Truncated,
    Malformed,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakSpec {
    #[serde(default)]
    pub remove: Vec<String>,
    #[serde(default)]
    pub set: serde_json::Map<String, Value>,
}

impl FaultSpec {
    /// Checks and builds the fault; the error names the field (relative to the fault).
    pub fn build(&self) -> Result<Fault, (String, String)> {
        let delay = match &self.delay {
            None => None,
            Some(DelaySpec::Fixed(d)) => {
                let d = parse_duration(d).map_err(|e| ("/delay".to_owned(), e))?;
                Some((d, d))
            }
            Some(DelaySpec::Between([a, b])) => {
                let a = parse_duration(a).map_err(|e| ("/delay/0".to_owned(), e))?;
                let b = parse_duration(b).map_err(|e| ("/delay/1".to_owned(), e))?;
                if a > b {
                    return Err(("/delay".to_owned(), "the shorter delay comes first".to_owned()));
                }
                Some((a, b))
            }
        };
        let mut effects = Vec::new();
        if let Some(code) = self.status {
            if !(400..=599).contains(&code) {
                return Err((
                    "/status".to_owned(),
                    format!("{code} is not an error status (400..599)"),
                ));
            }
            effects.push(Effect::Status {
                code,
                retry_after: self.retry_after.or((code == 429).then_some(1)),
            });
        } else if self.retry_after.is_some() {
            return Err(("/retry_after".to_owned(), "retry_after goes with a status".to_owned()));
        }
        match self.body {
            Some(BodySpec::Truncated) => effects.push(Effect::Truncated),
            Some(BodySpec::Malformed) => effects.push(Effect::Malformed),
            None => {}
        }
        if self.reset {
            effects.push(Effect::Reset);
        }
        if let Some(b) = &self.breaks {
            for (i, pointer) in b.remove.iter().enumerate() {
                check_pointer(pointer).map_err(|e| (format!("/break/remove/{i}"), e))?;
            }
            for pointer in b.set.keys() {
                check_pointer(pointer).map_err(|e| {
                    (
                        format!("/break/set/{}", pointer.replace('~', "~0").replace('/', "~1")),
                        e,
                    )
                })?;
            }
            if b.remove.is_empty() && b.set.is_empty() {
                return Err(("/break".to_owned(), "say what to `remove` or `set`".to_owned()));
            }
            effects.push(Effect::Break {
                remove: b.remove.clone(),
                set: b.set.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            });
        }
        if effects.len() > 1 {
            return Err((
                String::new(),
                "a fault has at most one of status, body, reset and break (delay goes with any)".to_owned(),
            ));
        }
        if delay.is_none() && effects.is_empty() {
            return Err((
                String::new(),
                "an empty fault: give delay, status, body, reset or break".to_owned(),
            ));
        }
        Ok(Fault {
            delay,
            effect: effects.pop(),
        })
    }
}

/// The most copies a `duplicate` sends: enough to test idempotence, few
/// enough that a typo cannot flood a receiver.
pub const MAX_COPIES: u32 = 100;

/// What goes wrong with the status update a task sends when it enters a
/// step (a step's `callback`): late, never, or more than once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallbackFault {
    /// Sent this long after the status change, on the mock's clock: later
    /// updates overtake it.
    pub delay: Option<Duration>,
    /// Never sent (recorded as dropped).
    pub drop: bool,
    /// How many times it is sent in a row (1: once).
    pub copies: u32,
}

/// A callback fault as written in a scenario step: `{"delay": "10s"}`,
/// `{"drop": true}`, `{"duplicate": 3}`, or a delay with a duplicate.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallbackFaultSpec {
    pub delay: Option<String>,
    #[serde(default)]
    pub drop: bool,
    pub duplicate: Option<u32>,
}

impl CallbackFaultSpec {
    /// Checks and builds the fault; the error names the field (relative to it).
    pub fn build(&self) -> Result<CallbackFault, (String, String)> {
        let delay = match &self.delay {
            None => None,
            Some(text) => {
                let d = parse_duration(text).map_err(|e| ("/delay".to_owned(), e))?;
                if d.is_zero() {
                    return Err(("/delay".to_owned(), "a delay must be more than zero".to_owned()));
                }
                Some(d)
            }
        };
        let copies = match self.duplicate {
            None => 1,
            Some(n) if !(2..=MAX_COPIES).contains(&n) => {
                return Err((
                    "/duplicate".to_owned(),
                    format!("the number of times the update is sent, 2..{MAX_COPIES}, not {n}"),
                ))
            }
            Some(n) => n,
        };
        if self.drop && (delay.is_some() || copies > 1) {
            return Err((
                "/drop".to_owned(),
                "a dropped update is never sent: it takes neither delay nor duplicate".to_owned(),
            ));
        }
        if !self.drop && delay.is_none() && copies == 1 {
            return Err((
                String::new(),
                "an empty callback fault: give delay, drop or duplicate".to_owned(),
            ));
        }
        Ok(CallbackFault {
            delay,
            drop: self.drop,
            copies,
        })
    }
}

fn check_pointer(pointer: &str) -> Result<(), String> {
    if pointer.starts_with('/') {
        Ok(())
    } else {
        Err(format!("{pointer:?} is not a JSON pointer (it starts with /)"))
    }
}

/// The body a body-changing effect makes of `body`; other effects leave it.
pub fn mangle(body: Vec<u8>, effect: &Effect) -> Vec<u8> {
    match effect {
        Effect::Truncated => {
            let mut body = body;
            body.truncate(body.len() / 2);
            body
        }
        Effect::Malformed => {
            let mut body = body;
            let last = body.iter().rposition(|&b| b == b'}').unwrap_or(body.len());
            body.insert(last, b',');
            body
        }
        Effect::Break { remove, set } => {
            let Ok(mut doc) = serde_json::from_slice::<Value>(&body) else {
                return body;
            };
            for pointer in remove {
                remove_at(&mut doc, pointer);
            }
            for (pointer, value) in set {
                set_at(&mut doc, pointer, value.clone());
            }
            serde_json::to_vec(&doc).expect("a Value always serializes")
        }
        Effect::Status { .. } | Effect::Reset => body,
    }
}

fn split_last(pointer: &str) -> Option<(&str, String)> {
    let (parent, last) = pointer.rsplit_once('/')?;
    Some((parent, last.replace("~1", "/").replace("~0", "~")))
}

fn remove_at(doc: &mut Value, pointer: &str) {
    let Some((parent, key)) = split_last(pointer) else {
        return;
    };
    match doc.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.remove(&key);
        }
        Some(Value::Array(items)) => {
            if let Ok(i) = key.parse::<usize>() {
                if i < items.len() {
                    items.remove(i);
                }
            }
        }
        _ => {}
    }
}

fn set_at(doc: &mut Value, pointer: &str, value: Value) {
    if let Some(slot) = doc.pointer_mut(pointer) {
        *slot = value;
        return;
    }
    let Some((parent, key)) = split_last(pointer) else {
        return;
    };
    if let Some(Value::Object(map)) = doc.pointer_mut(parent) {
        map.insert(key, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> Result<Fault, (String, String)> {
        serde_json::from_str::<FaultSpec>(json).unwrap().build()
    }

    #[test]
    fn specs_build_and_refuse() {
        let f = spec(r#"{"status": 429}"#).unwrap();
        assert_eq!(
            f.effect,
            Some(Effect::Status {
                code: 429,
                retry_after: Some(1)
            })
        );
        let f = spec(r#"{"delay": ["100ms", "2s"], "body": "truncated"}"#).unwrap();
        assert_eq!(f.delay, Some((Duration::from_millis(100), Duration::from_secs(2))));
        assert_eq!(spec(r#"{"status": 200}"#).unwrap_err().0, "/status");
        assert_eq!(spec(r#"{"delay": ["2s", "1s"]}"#).unwrap_err().0, "/delay");
        assert_eq!(spec(r#"{"reset": true, "status": 500}"#).unwrap_err().0, "");
        assert_eq!(spec(r#"{}"#).unwrap_err().0, "");
        assert_eq!(
            spec(r#"{"break": {"remove": ["data"]}}"#).unwrap_err().0,
            "/break/remove/0"
        );
        assert_eq!(spec(r#"{"retry_after": 3}"#).unwrap_err().0, "/retry_after");
    }

    #[test]
    fn callback_faults_build_and_refuse() {
        let spec = |json: &str| serde_json::from_str::<CallbackFaultSpec>(json).unwrap().build();
        let f = spec(r#"{"delay": "10s", "duplicate": 2}"#).unwrap();
        assert_eq!((f.delay, f.drop, f.copies), (Some(Duration::from_secs(10)), false, 2));
        assert!(spec(r#"{"drop": true}"#).unwrap().drop);
        assert_eq!(spec(r#"{"drop": true, "delay": "1s"}"#).unwrap_err().0, "/drop");
        assert_eq!(spec(r#"{"duplicate": 1}"#).unwrap_err().0, "/duplicate");
        assert_eq!(spec(r#"{"duplicate": 101}"#).unwrap_err().0, "/duplicate");
        assert_eq!(spec(r#"{"delay": "0s"}"#).unwrap_err().0, "/delay");
        assert_eq!(spec(r#"{"delay": "soon"}"#).unwrap_err().0, "/delay");
        assert_eq!(spec(r#"{"drop": false}"#).unwrap_err().0, "");
    }

    #[test]
    fn bodies_are_mangled_as_asked() {
        let body = br#"{"code":"success","data":{"progress":"50%","status":"IN_PROGRESS"}}"#.to_vec();
        assert!(serde_json::from_slice::<Value>(&mangle(body.clone(), &Effect::Truncated)).is_err());
        let malformed = mangle(body.clone(), &Effect::Malformed);
        assert!(serde_json::from_slice::<Value>(&malformed).is_err());
        let broken = mangle(
            body,
            &Effect::Break {
                remove: vec!["/data/progress".to_owned()],
                set: vec![("/data/status".to_owned(), serde_json::json!(7))],
            },
        );
        let v: Value = serde_json::from_slice(&broken).unwrap();
        assert_eq!(v, serde_json::json!({"code": "success", "data": {"status": 7}}));
    }
}

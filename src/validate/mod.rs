//! The `validate` command: judges captured responses against the contract.
//!
//! People capture what the real gateway said (saved bodies, logs, browser HAR
//! exports, `curl -i` output) and need an exact answer: does it match the
//! documented contract, and if not, where and why. This module reads those
//! inputs, tells each file's kind from its content, and turns every document
//! into a [`Verdict`]: every schema violation (not only the first) plus the
//! consistency checks a schema cannot express.
//!
//! Judging is pure ([`Judge`], [`detect`](fn@detect), [`parse_http`]);
//! [`run`](fn@run) adds the I/O: it walks the inputs, streams large NDJSON
//! and HAR files in chunks to one worker per core, and hands [`Event`]s, in
//! input order, to a sink that does not know how they are shown ([`report`]
//! does).
//!
//! With `--schema auto` (the default) each document is judged against the
//! contract it claims to follow: a HAR entry's by its endpoint and status,
//! a saved body's by its top-level members, and a body that fits no shape
//! against the nearest, saying so.
//!
//! Captures in, verdicts out. Besides the standard library and serde, this
//! module uses [`crate::contract`] (schemas, endpoint paths),
//! [`crate::contract::jsonpos`] (positions in a file) and the statuses of
//! [`crate::lifecycle`]; it never uses `server`: a checker that took its idea
//! of the contract from the mock could not catch the mock being wrong.
//!
//! One file per concept; dependencies point one way, each file using only
//! the files listed after it and the shared types here:
//! - [`report`]: renders events for people and machines;
//! - `run`: the I/O: walks the inputs, streams large files in chunks to the
//!   workers, keeps input order;
//! - `judge`: turns a document, or a file of any kind, into verdicts,
//!   judged against the schema `pick` chose;
//! - `checks`: the consistency checks a schema cannot express, each about
//!   one contract;
//! - readers: `har` (HAR, streamed entry by entry), `curl` (`curl -i`
//!   output), `ndjson` (finding lines fast);
//! - `pick`: which contract a document answers to: by endpoint, method and
//!   status, by its shape, or the nearest ([`Endpoint`]);
//! - `detect`: a file's kind from its first bytes, and the byte helpers every
//!   reader uses;
//! - here: what they all share: verdicts, findings, events, the summary,
//!   the errors and [`excerpt`].

pub mod report;

mod checks;
mod curl;
mod detect;
mod har;
mod judge;
mod ndjson;
mod pick;
mod run;

use std::fmt;
use std::io;
use std::sync::Arc;

use serde_json::Value;

use crate::contract::jsonpos::Position;
use crate::contract::ContractError;

pub use curl::{parse_http, HttpResponse};
pub use detect::{detect, Kind};
pub use har::{base64_decode, HarContent, HarEntry, HarRequest, HarResponse};
pub use judge::{Judge, Pick};
pub use pick::Endpoint;
pub use run::run;

/// The `--schema` that picks each document's contract by its shape (and
/// each HAR entry's by its endpoint): the default.
pub const AUTO: &str = "auto";

/// Excerpts of found values are cut to this many characters.
const EXCERPT: usize = 48;

// ---------------------------------------------------------------------------
// Verdicts: the data a report renders.

/// Where a document came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The file as named on the command line (or found below a directory).
    pub file: Arc<str>,
    pub at: Locator,
}

/// Which part of a file a document is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Locator {
    /// The whole file (one JSON document, or the body of a `curl -i` capture).
    Whole,
    /// One line of an NDJSON file (1-based).
    Line(usize),
    /// The response body of a HAR entry: its index in `log.entries` (from 0) and URL.
    Entry { index: usize, url: String },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.at {
            Locator::Whole => write!(f, "{}", self.file),
            Locator::Line(line) => write!(f, "{}:{line}", self.file),
            Locator::Entry { index, url } => write!(f, "{}#{index} {url}", self.file),
        }
    }
}

/// One thing wrong (or suspicious) in a document.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// JSON pointer of the value (for a missing member: of the member).
    pub pointer: String,
    /// The schema keyword that failed, or the name of the consistency check.
    pub keyword: String,
    /// What was expected and a short excerpt of what was found.
    pub message: String,
    /// Where the value starts in the file, when the file has lines to point at.
    #[serde(skip)]
    pub position: Option<Position>,
}

/// The judgement of one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub origin: Origin,
    /// Name of the schema the document was judged against.
    pub schema: Arc<str>,
    /// How that schema was chosen.
    pub basis: Basis,
    /// Schema violations (and, with `--strict`, failed consistency checks).
    pub errors: Vec<Finding>,
    /// Failed consistency checks (always empty with `--strict`).
    pub warnings: Vec<Finding>,
}

impl Verdict {
    pub fn valid(&self) -> bool {
        self.errors.is_empty()
    }
}

/// How the schema of a document was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// Named with `--schema`.
    Named,
    /// By endpoint, method and HTTP status: a HAR entry's, or the status of
    /// a `curl -i` capture with the endpoint of the schema `--schema` named.
    Endpoint,
    /// By the document's shape, its top-level members (`--schema auto`).
    Shape,
    /// No shape matched: the contract sharing the most member names.
    Nearest,
}

impl Basis {
    /// The word the machine formats use.
    pub fn as_str(self) -> &'static str {
        match self {
            Basis::Named => "schema",
            Basis::Endpoint => "endpoint",
            Basis::Shape => "shape",
            Basis::Nearest => "nearest",
        }
    }
}

/// HAR entries that were not judged, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Skipped {
    /// The URL is not an endpoint of this contract.
    pub other_url: usize,
    /// A preflight, a HEAD, a redirect, a blocked request (status 0) and the like.
    pub not_a_response: usize,
    /// The browser did not record the body.
    pub no_body: usize,
}

impl Skipped {
    pub fn total(&self) -> usize {
        self.other_url + self.not_a_response + self.no_body
    }
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.total();
        write!(f, "skipped {total} HAR entr{}: ", if total == 1 { "y" } else { "ies" })?;
        let parts: Vec<String> = [
            (self.other_url, "for other URLs"),
            (
                self.not_a_response,
                "not a response to judge (preflight, HEAD, redirect or blocked)",
            ),
            (self.no_body, "without a recorded body"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, why)| format!("{n} {why}"))
        .collect();
        f.write_str(&parts.join(", "))
    }
}

/// Why an input could not be judged. Each names the file and, where it
/// helps, the line and column.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{file}: cannot read: {source}")]
    Io {
        file: String,
        #[source]
        source: io::Error,
    },
    #[error("{file}: no JSON document: the input is empty")]
    Empty { file: String },
    #[error("{file}: nothing to check: no *.json, *.ndjson, *.jsonl, *.har or *.txt file below this directory")]
    NothingToRead { file: String },
    #[error("{file}:{line}:{column}: not valid JSON: {reason}")]
    NotJson {
        file: String,
        line: usize,
        column: usize,
        reason: String,
    },
    #[error("{file}:{line}: not a usable HTTP response: {reason}")]
    BadHttp { file: String, line: usize, reason: String },
    #[error("{file}:{line}:{column}: not a usable HAR file: {reason}")]
    BadHar {
        file: String,
        line: usize,
        column: usize,
        reason: String,
    },
    #[error("{file}#{index} {url}: the response body is not valid JSON (body line {line}, column {column}): {reason}")]
    BadHarBody {
        file: String,
        index: usize,
        url: String,
        line: usize,
        column: usize,
        reason: String,
    },
    #[error("{file}#{index} {url}: the response body is not valid base64")]
    BadHarBase64 { file: String, index: usize, url: String },
}

impl InputError {
    /// The file the problem is in.
    pub fn file(&self) -> &str {
        match self {
            InputError::Io { file, .. }
            | InputError::Empty { file }
            | InputError::NothingToRead { file }
            | InputError::NotJson { file, .. }
            | InputError::BadHttp { file, .. }
            | InputError::BadHar { file, .. }
            | InputError::BadHarBody { file, .. }
            | InputError::BadHarBase64 { file, .. } => file,
        }
    }

    /// Line and column in the file, where known.
    pub fn position(&self) -> Option<Position> {
        match *self {
            InputError::NotJson { line, column, .. } | InputError::BadHar { line, column, .. } => {
                Some(Position { line, column })
            }
            InputError::BadHttp { line, .. } => Some(Position { line, column: 1 }),
            _ => None,
        }
    }
}

/// What [`run`](fn@run) hands to its sink, in input order.
#[derive(Debug)]
pub enum Event {
    Verdict(Verdict),
    /// An input that could not be judged: exit status 2.
    Problem(InputError),
    /// HAR entries of `file` that were counted but not judged.
    Skipped {
        file: Arc<str>,
        skipped: Skipped,
    },
}

/// Counts over a whole run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub valid: usize,
    pub invalid: usize,
    /// Warnings over all documents (not documents with warnings).
    pub warnings: usize,
    /// HAR entries not judged.
    pub skipped: usize,
    /// Inputs that could not be judged.
    pub problems: usize,
}

/// The outcome of a run, which the binary maps to its exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Every document is valid (exit 0).
    Valid,
    /// Some document is invalid (exit 1).
    Invalid,
    /// Some input could not be read or parsed (exit 2).
    Error,
}

impl Summary {
    pub fn add(&mut self, event: &Event) {
        match event {
            Event::Verdict(v) => {
                if v.valid() {
                    self.valid += 1;
                } else {
                    self.invalid += 1;
                }
                self.warnings += v.warnings.len();
            }
            Event::Problem(_) => self.problems += 1,
            Event::Skipped { skipped, .. } => self.skipped += skipped.total(),
        }
    }

    pub fn status(&self) -> Status {
        if self.problems > 0 {
            Status::Error
        } else if self.invalid > 0 {
            Status::Invalid
        } else {
            Status::Valid
        }
    }
}

// ---------------------------------------------------------------------------
// Choosing the schema.

/// Why `--schema` names nothing usable.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("unknown schema {name:?}: neither auto, a shipped schema ({known}), nor a file")]
    Unknown { name: String, known: String },
    #[error("{path}: cannot read the schema: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Contract(#[from] ContractError),
}

/// Why `validate` could not run at all (as opposed to finding bad input).
#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    #[error(transparent)]
    Contract(#[from] ContractError),
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error("cannot write the report: {0}")]
    Output(#[source] io::Error),
}

// ---------------------------------------------------------------------------
// Excerpts: how every finding quotes what it found.

/// A value as JSON, cut to [`EXCERPT`] characters. Serialisation stops
/// soon after the cut, so a huge value costs no more than a small one.
pub fn excerpt(value: &Value) -> String {
    /// Takes bytes until it has enough, then refuses the rest.
    struct Enough(Vec<u8>);
    impl io::Write for Enough {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            // EXCERPT characters take at most 4 bytes each.
            let room = (EXCERPT * 4 + 4).saturating_sub(self.0.len());
            if room == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            let taken = room.min(buf.len());
            self.0.extend_from_slice(&buf[..taken]);
            Ok(taken)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut out = Enough(Vec::new());
    let _ = serde_json::to_writer(&mut out, value);
    let text = String::from_utf8_lossy(&out.0);
    match text.char_indices().nth(EXCERPT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn excerpts_are_short() {
        assert_eq!(excerpt(&json!("abc")), "\"abc\"");
        let long = json!({"a": "é".repeat(10_000)});
        let cut = excerpt(&long);
        assert_eq!(cut.chars().count(), EXCERPT + 1);
        assert!(cut.starts_with("{\"a\":\"éé") && cut.ends_with("é…"), "{cut}");
    }
}

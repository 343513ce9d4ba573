//! The run: a reader thread, one worker per core, results in input order.
//!
//! The only I/O of `validate`, kept apart so judging stays pure: files are
//! walked and read here, large ones streamed in chunks so memory stays
//! bounded, and events reach the sink in the order of the inputs.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};

use super::detect::{detect, is_blank, Kind};
use super::har::{fate, har_doc, har_entries, Fate, HarDoc};
use super::judge::Judge;
use super::ndjson::count_newlines;
use super::{Event, InputError, Skipped, Summary};

/// Files up to this size are read whole by a worker; larger ones are
/// streamed by the reader thread in chunks, so memory stays bounded.
const SMALL_FILE: u64 = 1024 * 1024;
/// Size of an NDJSON chunk handed to a worker: large enough to amortise the
/// hand-over, small enough to keep both cores busy to the end of a file.
const CHUNK: usize = 512 * 1024;
/// Small files handed to a worker at once.
const FILE_BATCH: usize = 32;
/// HAR entries handed to a worker at once.
const HAR_BATCH: usize = 64;
/// What a directory walk picks up.
const EXTENSIONS: [&str; 5] = ["json", "ndjson", "jsonl", "har", "txt"];

/// A small file, read and judged whole by a worker.
struct SmallFile {
    path: PathBuf,
    file: Arc<str>,
    lines_hint: bool,
}

/// A piece of work for a worker.
enum Unit {
    /// Small files, several at once: one hand-over per file would cost more
    /// than reading it.
    Files(Vec<SmallFile>),
    /// A large file (or standard input) of a kind that cannot be split.
    Bytes {
        file: Arc<str>,
        bytes: Vec<u8>,
        lines_hint: bool,
    },
    /// Whole lines of an NDJSON file, the first being line `first_line`.
    Lines {
        file: Arc<str>,
        first_line: usize,
        bytes: Vec<u8>,
    },
    /// HAR entries worth judging.
    Har { file: Arc<str>, docs: Vec<HarDoc> },
    /// Events already known (read errors, skip counts).
    Events(Vec<Event>),
}

impl Judge<'_> {
    fn work(&self, unit: Unit) -> Vec<Event> {
        match unit {
            Unit::Files(files) => {
                let mut events = Vec::with_capacity(files.len());
                for SmallFile { path, file, lines_hint } in files {
                    match fs::read(&path) {
                        Ok(bytes) => events.extend(self.judge_file(&file, &bytes, lines_hint)),
                        Err(source) => events.push(Event::Problem(InputError::Io {
                            file: file.to_string(),
                            source,
                        })),
                    }
                }
                events
            }
            Unit::Bytes {
                file,
                bytes,
                lines_hint,
            } => self.judge_file(&file, &bytes, lines_hint),
            Unit::Lines {
                file,
                first_line,
                bytes,
            } => {
                let mut events = Vec::new();
                self.judge_lines(&file, first_line, &bytes, &mut events);
                events
            }
            Unit::Har { file, docs } => docs.into_iter().map(|d| self.judge_har_doc(&file, d)).collect(),
            Unit::Events(events) => events,
        }
    }
}

/// The receiving end went away: stop producing.
struct Stopped;

struct Producer {
    tx: mpsc::SyncSender<(u64, Unit)>,
    seq: u64,
    /// Small files waiting to be handed over together.
    batch: Vec<SmallFile>,
    batch_bytes: u64,
}

impl Producer {
    fn new(tx: mpsc::SyncSender<(u64, Unit)>) -> Self {
        Self {
            tx,
            seq: 0,
            batch: Vec::new(),
            batch_bytes: 0,
        }
    }

    /// Hands over `unit`, after the small files before it (order is kept).
    fn send(&mut self, unit: Unit) -> Result<(), Stopped> {
        self.flush()?;
        self.send_now(unit)
    }

    fn send_now(&mut self, unit: Unit) -> Result<(), Stopped> {
        self.tx.send((self.seq, unit)).map_err(|_| Stopped)?;
        self.seq += 1;
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Stopped> {
        if self.batch.is_empty() {
            return Ok(());
        }
        self.batch_bytes = 0;
        let files = std::mem::take(&mut self.batch);
        self.send_now(Unit::Files(files))
    }

    fn problem(&mut self, problem: InputError) -> Result<(), Stopped> {
        self.send(Unit::Events(vec![Event::Problem(problem)]))
    }

    fn produce(&mut self, paths: &[PathBuf]) -> Result<(), Stopped> {
        for path in paths {
            let name = path.display().to_string();
            if name == "-" {
                let stdin = io::stdin();
                self.stream(stdin.lock(), "<stdin>".into(), false)?;
                continue;
            }
            match fs::metadata(path) {
                Err(source) => self.problem(InputError::Io { file: name, source })?,
                Ok(meta) if meta.is_dir() => {
                    let mut files = Vec::new();
                    if let Err(source) = walk(path, &mut files) {
                        self.problem(InputError::Io { file: name, source })?;
                        continue;
                    }
                    if files.is_empty() {
                        self.problem(InputError::NothingToRead { file: name })?;
                    }
                    for (file, size) in files {
                        self.file(file, size)?;
                    }
                }
                Ok(meta) => self.file(path.clone(), meta.len())?,
            }
        }
        self.flush()
    }

    fn file(&mut self, path: PathBuf, size: u64) -> Result<(), Stopped> {
        let file: Arc<str> = path.display().to_string().into();
        let lines_hint = has_lines_extension(&path);
        if size <= SMALL_FILE {
            self.batch.push(SmallFile { path, file, lines_hint });
            self.batch_bytes += size;
            if self.batch.len() >= FILE_BATCH || self.batch_bytes >= SMALL_FILE {
                self.flush()?;
            }
            return Ok(());
        }
        match fs::File::open(&path) {
            Ok(f) => self.stream(f, file, lines_hint),
            Err(source) => self.problem(InputError::Io {
                file: file.to_string(),
                source,
            }),
        }
    }

    /// Reads a large file or standard input: NDJSON in chunks of whole
    /// lines, HAR entry by entry, anything else whole.
    fn stream(&mut self, reader: impl Read, file: Arc<str>, lines_hint: bool) -> Result<(), Stopped> {
        let io_problem = |source| InputError::Io {
            file: file.to_string(),
            source,
        };
        let mut reader = BufReader::with_capacity(CHUNK, reader);
        let mut head = Vec::new();
        // Enough to tell the kind: the first two non-blank lines.
        let mut non_blank = 0;
        while non_blank < 2 {
            let start = head.len();
            match reader.read_until(b'\n', &mut head) {
                Ok(0) => break,
                Ok(_) => non_blank += usize::from(!is_blank(&head[start..])),
                Err(e) => return self.problem(io_problem(e)),
            }
        }
        match detect(&head, lines_hint) {
            Kind::Ndjson => self.ndjson(reader, head, file),
            Kind::Har => self.har(io::Cursor::new(head).chain(reader), file),
            Kind::Empty | Kind::Json | Kind::Http => match reader.read_to_end(&mut head) {
                Ok(_) => self.send(Unit::Bytes {
                    file,
                    bytes: head,
                    lines_hint,
                }),
                Err(e) => self.problem(io_problem(e)),
            },
        }
    }

    fn ndjson(&mut self, mut reader: impl Read, mut buf: Vec<u8>, file: Arc<str>) -> Result<(), Stopped> {
        let mut first_line = 1;
        loop {
            let want = CHUNK.saturating_sub(buf.len()).max(64 * 1024);
            let eof = match (&mut reader).take(want as u64).read_to_end(&mut buf) {
                Ok(n) => n == 0,
                Err(source) => {
                    return self.problem(InputError::Io {
                        file: file.to_string(),
                        source,
                    })
                }
            };
            let cut = if eof {
                buf.len()
            } else {
                match buf.iter().rposition(|&b| b == b'\n') {
                    Some(i) if buf.len() >= CHUNK => i + 1,
                    _ => continue,
                }
            };
            if cut > 0 {
                let rest = buf.split_off(cut);
                let lines = count_newlines(&buf);
                let bytes = std::mem::replace(&mut buf, rest);
                self.send(Unit::Lines {
                    file: file.clone(),
                    first_line,
                    bytes,
                })?;
                first_line += lines;
            }
            if eof {
                return Ok(());
            }
        }
    }

    fn har(&mut self, reader: impl Read, file: Arc<str>) -> Result<(), Stopped> {
        let mut skipped = Skipped::default();
        let mut batch = Vec::new();
        let mut stopped = false;
        let de = serde_json::Deserializer::from_reader(reader);
        let streamed = har_entries(&file, de, |index, entry| {
            match fate(&entry) {
                Fate::Skip(reason) => *reason(&mut skipped) += 1,
                Fate::Judge(endpoint, status) => {
                    batch.push(har_doc(index, endpoint, status, entry));
                    if batch.len() >= HAR_BATCH {
                        let docs = std::mem::take(&mut batch);
                        if self
                            .send(Unit::Har {
                                file: file.clone(),
                                docs,
                            })
                            .is_err()
                        {
                            stopped = true;
                            return Err("stopped".to_owned());
                        }
                    }
                }
            }
            Ok(())
        });
        if stopped {
            return Err(Stopped);
        }
        if !batch.is_empty() {
            self.send(Unit::Har {
                file: file.clone(),
                docs: batch,
            })?;
        }
        let mut events = Vec::new();
        if let Err(e) = streamed {
            events.push(Event::Problem(e));
        }
        if skipped.total() > 0 {
            events.push(Event::Skipped { file, skipped });
        }
        if !events.is_empty() {
            self.send(Unit::Events(events))?;
        }
        Ok(())
    }
}

fn has_lines_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("ndjson") || e.eq_ignore_ascii_case("jsonl"))
}

/// Files below `dir` with a checked extension, sorted by path, with their
/// sizes. Symbolic links to files are followed; to directories, not (no loops).
fn walk(dir: &Path, out: &mut Vec<(PathBuf, u64)>) -> io::Result<()> {
    let mut entries: Vec<fs::DirEntry> = fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(&path, out)?;
            continue;
        }
        let wanted = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)));
        if !wanted {
            continue;
        }
        let meta = if kind.is_symlink() {
            match fs::metadata(&path) {
                Ok(m) if m.is_file() => m,
                _ => continue,
            }
        } else {
            entry.metadata()?
        };
        out.push((path, meta.len()));
    }
    Ok(())
}

/// Judges every document of `paths` (files, directories, `-` for standard
/// input) and hands each event to `sink` in input order. Stops early only if
/// the sink fails (its error is returned); bad input is reported as events.
pub fn run<E>(
    paths: &[PathBuf],
    judge: &Judge<'_>,
    mut sink: impl FnMut(&Event) -> Result<(), E>,
) -> Result<Summary, E> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 16);
    let (unit_tx, unit_rx) = mpsc::sync_channel::<(u64, Unit)>(workers * 4);
    let unit_rx = Arc::new(Mutex::new(unit_rx));
    // Bounded too: when standard output is slow, the workers wait for it.
    let (done_tx, done_rx) = mpsc::sync_channel::<(u64, Vec<Event>)>(workers * 4);
    let mut summary = Summary::default();
    std::thread::scope(|s| {
        s.spawn(move || {
            let _ = Producer::new(unit_tx).produce(paths);
        });
        for _ in 0..workers {
            let (unit_rx, done_tx) = (Arc::clone(&unit_rx), done_tx.clone());
            s.spawn(move || loop {
                let next = unit_rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                let Ok((seq, unit)) = next else { return };
                if done_tx.send((seq, judge.work(unit))).is_err() {
                    return;
                }
            });
        }
        // Only the workers hold these now: when they stop, the channels close.
        drop((unit_rx, done_tx));
        let mut pending = BTreeMap::new();
        let mut next = 0;
        for (seq, events) in done_rx {
            pending.insert(seq, events);
            while let Some(events) = pending.remove(&next) {
                for event in &events {
                    summary.add(event);
                    sink(event)?;
                }
                next += 1;
            }
        }
        Ok(summary)
    })
}

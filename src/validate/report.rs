//! Verdicts rendered for people and machines: human, JSON Lines, JUnit XML
//! and GitHub workflow annotations.
//!
//! The validate code hands over [`Event`]s and knows nothing of how they are
//! shown; each format is one [`Report`]. Each says which contract a document
//! was judged against: the human and GitHub formats after each finding
//! (`(as native_error)`), the human one also in all before the summary, the
//! JSON one in `schema` and `chosen_by`, JUnit in each test case's properties. Problems with the input (unreadable
//! files, text that is not JSON) always go to standard error as well, so
//! standard output stays machine-readable in the machine formats.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::sync::Arc;

use super::{Event, Finding, InputError, Locator, Summary, Verdict};

/// An output format of `validate --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Compiler-style lines for invalid documents and warnings, then the
    /// contracts judged against and a summary.
    Human,
    /// JSON Lines: one object per document.
    Json,
    /// JUnit XML: a test case per document, for CI dashboards.
    Junit,
    /// GitHub Actions workflow commands: an annotation per finding.
    Github,
}

/// Renders events as they come, then the summary.
pub trait Report {
    fn event(&mut self, event: &Event) -> io::Result<()>;
    fn finish(&mut self, summary: &Summary) -> io::Result<()>;
}

/// A report in `format`, writing to `out`; input problems also go to `err`.
/// `color` applies to the human format only.
pub fn new<'w>(format: Format, out: impl Write + 'w, err: impl Write + 'w, color: bool) -> Box<dyn Report + 'w> {
    match format {
        Format::Human => Box::new(Human {
            out,
            err,
            paint: Paint(color),
            judged_as: BTreeMap::new(),
        }),
        Format::Json => Box::new(Json { out, err }),
        Format::Junit => Box::new(Junit {
            out,
            err,
            cases: String::new(),
            skipped: 0,
        }),
        Format::Github => Box::new(Github { out, err }),
    }
}

/// Colour for people at a terminal, unless `NO_COLOR` is set (no-color.org)
/// or the terminal is dumb.
pub fn color_wanted(is_terminal: bool) -> bool {
    color_for(is_terminal, std::env::var_os("NO_COLOR"), std::env::var_os("TERM"))
}

fn color_for(is_terminal: bool, no_color: Option<OsString>, term: Option<OsString>) -> bool {
    is_terminal && no_color.is_none_or(|v| v.is_empty()) && term.is_none_or(|t| t != "dumb")
}

/// `N valid, M invalid, K warnings` (and input errors, when there were some).
pub fn summary_line(summary: &Summary) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let mut line = format!(
        "{} valid, {} invalid, {}",
        summary.valid,
        summary.invalid,
        plural(summary.warnings, "warning")
    );
    if summary.problems > 0 {
        line.push_str(&format!(", {}", plural(summary.problems, "input error")));
    }
    line
}

/// Where a finding is: `file:LINE:COLUMN` when the file has lines to point
/// at, else the document's origin (`file#3 URL` for a HAR entry).
fn location(verdict: &Verdict, finding: &Finding) -> String {
    match (&verdict.origin.at, finding.position) {
        (Locator::Whole | Locator::Line(_), Some(p)) => format!("{}:{}:{}", verdict.origin.file, p.line, p.column),
        _ => verdict.origin.to_string(),
    }
}

fn shown_pointer(pointer: &str) -> &str {
    if pointer.is_empty() {
        "(root)"
    } else {
        pointer
    }
}

// ---------------------------------------------------------------------------

#[derive(Clone, Copy)]
struct Paint(bool);

impl Paint {
    fn paint(self, code: &str, text: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
}

struct Human<W, E> {
    out: W,
    err: E,
    paint: Paint,
    /// Documents per schema judged against.
    judged_as: BTreeMap<Arc<str>, usize>,
}

/// `judged as: 12 query_video_generation.response, 3 error`: most first.
fn judged_as_line(counts: &BTreeMap<Arc<str>, usize>) -> Option<String> {
    let mut counts: Vec<(&Arc<str>, &usize)> = counts.iter().collect();
    counts.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    let parts: Vec<String> = counts.iter().map(|(name, n)| format!("{n} {name}")).collect();
    (!parts.is_empty()).then(|| format!("judged as: {}", parts.join(", ")))
}

impl<W: Write, E: Write> Human<W, E> {
    fn finding(&mut self, verdict: &Verdict, finding: &Finding, level: &str, code: &str) -> io::Result<()> {
        let p = self.paint;
        writeln!(
            self.out,
            "{}: {}: {}: {} {}",
            p.paint("1", &location(verdict, finding)),
            p.paint(code, &format!("{level}[{}]", finding.keyword)),
            p.paint("36", shown_pointer(&finding.pointer)),
            finding.message,
            p.paint("2", &format!("(as {})", verdict.schema))
        )
    }
}

impl<W: Write, E: Write> Report for Human<W, E> {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        match event {
            Event::Verdict(v) => {
                *self.judged_as.entry(v.schema.clone()).or_default() += 1;
                for f in &v.errors {
                    self.finding(v, f, "error", "1;31")?;
                }
                for f in &v.warnings {
                    self.finding(v, f, "warning", "1;33")?;
                }
                Ok(())
            }
            Event::Problem(e) => {
                self.out.flush()?;
                writeln!(self.err, "minimax-mock: {e}")
            }
            Event::Skipped { file, skipped } => writeln!(self.out, "{file}: {skipped}"),
        }
    }

    fn finish(&mut self, summary: &Summary) -> io::Result<()> {
        let line = summary_line(summary);
        let code = if summary.problems > 0 || summary.invalid > 0 {
            "1;31"
        } else if summary.warnings > 0 {
            "1;33"
        } else {
            "1;32"
        };
        if let Some(judged_as) = judged_as_line(&self.judged_as) {
            writeln!(self.out, "{judged_as}")?;
        }
        writeln!(self.out, "{}", self.paint.paint(code, &line))?;
        self.out.flush()
    }
}

// ---------------------------------------------------------------------------

struct Json<W, E> {
    out: W,
    err: E,
}

/// One line of `--format json`: the keys the issue specifies, and the
/// schema judged against with how it was chosen (`schema`, `endpoint`,
/// `shape`, `nearest`).
#[derive(serde::Serialize)]
struct JsonLine<'a> {
    source: String,
    schema: &'a str,
    chosen_by: &'static str,
    valid: bool,
    errors: &'a [Finding],
    warnings: &'a [Finding],
}

impl<W: Write, E: Write> Report for Json<W, E> {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        match event {
            Event::Verdict(v) => {
                let line = JsonLine {
                    source: v.origin.to_string(),
                    schema: &v.schema,
                    chosen_by: v.basis.as_str(),
                    valid: v.valid(),
                    errors: &v.errors,
                    warnings: &v.warnings,
                };
                serde_json::to_writer(&mut self.out, &line)?;
                self.out.write_all(b"\n")
            }
            Event::Problem(e) => {
                self.out.flush()?;
                writeln!(self.err, "minimax-mock: {e}")
            }
            Event::Skipped { file, skipped } => {
                self.out.flush()?;
                writeln!(self.err, "minimax-mock: {file}: {skipped}")
            }
        }
    }

    fn finish(&mut self, _: &Summary) -> io::Result<()> {
        self.out.flush()
    }
}

// ---------------------------------------------------------------------------

/// Collects test cases: the counts go in attributes before them.
struct Junit<W, E> {
    out: W,
    err: E,
    cases: String,
    skipped: usize,
}

fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

fn finding_line(verdict: &Verdict, f: &Finding) -> String {
    format!(
        "{}: {}: {}: {}",
        location(verdict, f),
        f.keyword,
        shown_pointer(&f.pointer),
        f.message
    )
}

impl<W: Write, E: Write> Report for Junit<W, E> {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        let c = &mut self.cases;
        match event {
            Event::Verdict(v) => {
                let _ = writeln!(
                    c,
                    "    <testcase classname=\"{}\" name=\"{}\">\n      <properties><property name=\"schema\" value=\"{}\"/><property name=\"chosen_by\" value=\"{}\"/></properties>",
                    xml(&v.origin.file),
                    xml(&v.origin.to_string()),
                    xml(&v.schema),
                    v.basis.as_str()
                );
                if !v.valid() {
                    let n = v.errors.len();
                    let message = format!("{n} violation{} of {}", if n == 1 { "" } else { "s" }, v.schema);
                    let body: Vec<String> = v.errors.iter().map(|f| finding_line(v, f)).collect();
                    let _ = writeln!(
                        c,
                        "      <failure message=\"{}\" type=\"invalid\">{}</failure>",
                        xml(&message),
                        xml(&body.join("\n"))
                    );
                }
                if !v.warnings.is_empty() {
                    let body: Vec<String> = v
                        .warnings
                        .iter()
                        .map(|f| format!("warning: {}", finding_line(v, f)))
                        .collect();
                    let _ = writeln!(c, "      <system-out>{}</system-out>", xml(&body.join("\n")));
                }
                c.push_str("    </testcase>\n");
                Ok(())
            }
            Event::Problem(e) => {
                let _ = writeln!(
                    c,
                    "    <testcase classname=\"{}\" name=\"{}\">\n      <error message=\"{}\" type=\"input\"/>\n    </testcase>",
                    xml(e.file()),
                    xml(e.file()),
                    xml(&e.to_string())
                );
                writeln!(self.err, "minimax-mock: {e}")
            }
            Event::Skipped { file, skipped } => {
                self.skipped += 1;
                let _ = writeln!(
                    c,
                    "    <testcase classname=\"{}\" name=\"{} (entries not judged)\">\n      <skipped message=\"{}\"/>\n    </testcase>",
                    xml(file),
                    xml(file),
                    xml(&skipped.to_string())
                );
                Ok(())
            }
        }
    }

    fn finish(&mut self, s: &Summary) -> io::Result<()> {
        let tests = s.valid + s.invalid + s.problems + self.skipped;
        let counts = format!(
            "tests=\"{tests}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\"",
            s.invalid, s.problems, self.skipped
        );
        writeln!(self.out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>")?;
        writeln!(self.out, "<testsuites name=\"minimax-mock validate\" {counts}>")?;
        writeln!(self.out, "  <testsuite name=\"minimax-mock validate\" {counts}>")?;
        self.out.write_all(self.cases.as_bytes())?;
        writeln!(self.out, "  </testsuite>\n</testsuites>")?;
        self.out.flush()
    }
}

// ---------------------------------------------------------------------------

struct Github<W, E> {
    out: W,
    err: E,
}

/// Workflow-command escaping of a message.
fn gh_data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Workflow-command escaping of a property value.
fn gh_property(text: &str) -> String {
    gh_data(text).replace(':', "%3A").replace(',', "%2C")
}

fn gh_file_props(file: &str, position: Option<crate::contract::jsonpos::Position>) -> String {
    let mut props = format!("file={}", gh_property(file));
    if let Some(p) = position {
        let _ = write!(props, ",line={},col={}", p.line, p.column);
    }
    props
}

impl<W: Write, E: Write> Github<W, E> {
    fn finding(&mut self, v: &Verdict, f: &Finding, level: &str) -> io::Result<()> {
        let position = match v.origin.at {
            Locator::Entry { .. } => None,
            _ => f.position,
        };
        let title = format!("{} at {}", f.keyword, shown_pointer(&f.pointer));
        let message = match &v.origin.at {
            Locator::Entry { .. } => format!("{}: {} (as {})", v.origin, f.message, v.schema),
            _ => format!("{} (as {})", f.message, v.schema),
        };
        writeln!(
            self.out,
            "::{level} {},title={}::{}",
            gh_file_props(&v.origin.file, position),
            gh_property(&title),
            gh_data(&message)
        )
    }
}

impl<W: Write, E: Write> Report for Github<W, E> {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        match event {
            Event::Verdict(v) => {
                for f in &v.errors {
                    self.finding(v, f, "error")?;
                }
                for f in &v.warnings {
                    self.finding(v, f, "warning")?;
                }
                Ok(())
            }
            Event::Problem(e) => problem_annotation(&mut self.out, e),
            Event::Skipped { file, skipped } => writeln!(
                self.out,
                "::notice {}::{}",
                gh_file_props(file, None),
                gh_data(&skipped.to_string())
            ),
        }
    }

    fn finish(&mut self, summary: &Summary) -> io::Result<()> {
        writeln!(self.out, "{}", summary_line(summary))?;
        self.out.flush()?;
        self.err.flush()
    }
}

fn problem_annotation(out: &mut impl Write, e: &InputError) -> io::Result<()> {
    writeln!(
        out,
        "::error {},title=cannot check this input::{}",
        gh_file_props(e.file(), e.position()),
        gh_data(&e.to_string())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(xml("a<b & \"c\"\u{1}"), "a&lt;b &amp; &quot;c&quot;\u{FFFD}");
        assert_eq!(gh_data("50%\nx"), "50%25%0Ax");
        assert_eq!(gh_property("a:b,c"), "a%3Ab%2Cc");
    }

    #[test]
    fn summary_counts_in_words() {
        let mut s = Summary {
            valid: 3,
            invalid: 1,
            warnings: 1,
            ..Summary::default()
        };
        assert_eq!(summary_line(&s), "3 valid, 1 invalid, 1 warning");
        s.problems = 2;
        s.warnings = 0;
        assert_eq!(summary_line(&s), "3 valid, 1 invalid, 0 warnings, 2 input errors");
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        let os = |s: &str| Some(OsString::from(s));
        assert!(color_for(true, None, os("xterm-256color")));
        assert!(color_for(true, os(""), None), "an empty NO_COLOR does not count");
        assert!(!color_for(false, None, os("xterm")));
        assert!(!color_for(true, os("1"), os("xterm")));
        assert!(!color_for(true, None, os("dumb")));
    }

    #[test]
    fn human_colours_levels_and_locations() {
        use crate::validate::{Origin, Verdict};
        let verdict = Verdict {
            origin: Origin {
                file: "a.json".into(),
                at: Locator::Whole,
            },
            schema: "s".into(),
            basis: crate::validate::Basis::Named,
            errors: vec![Finding {
                pointer: "/code".to_owned(),
                keyword: "type".to_owned(),
                message: "expected string, found integer 0".to_owned(),
                position: Some(crate::contract::jsonpos::Position { line: 2, column: 11 }),
            }],
            warnings: vec![],
        };
        let mut out = Vec::new();
        let mut report = new(Format::Human, &mut out, io::sink(), true);
        let event = Event::Verdict(verdict);
        report.event(&event).unwrap();
        let mut summary = Summary::default();
        summary.add(&event);
        report.finish(&summary).unwrap();
        drop(report);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\x1b[1ma.json:2:11\x1b[0m: \x1b[1;31merror[type]\x1b[0m: \x1b[36m/code\x1b[0m: expected string, found integer 0 \x1b[2m(as s)\x1b[0m\n\
             judged as: 1 s\n\
             \x1b[1;31m0 valid, 1 invalid, 0 warnings\x1b[0m\n"
        );
    }
}

//! Input kinds, told from content rather than the file name, since captures
//! are saved under any name; and the byte helpers every reader shares.

use serde::de::IgnoredAny;

/// What a file holds, told from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Empty,
    /// One JSON document.
    Json,
    /// One JSON document a line.
    Ndjson,
    /// A browser's HAR export.
    Har,
    /// A raw HTTP response as `curl -i` prints it.
    Http,
}

pub(super) fn strip_bom(text: &[u8]) -> &[u8] {
    text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text)
}

pub(super) fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

/// Tells a file's kind from `head`: its start, at least the first two
/// non-blank lines (or the whole file). `lines` says the file's name ends in
/// `.ndjson` or `.jsonl`, which makes a one-line file NDJSON too.
pub fn detect(head: &[u8], lines: bool) -> Kind {
    let text = strip_bom(head).trim_ascii_start();
    if text.is_empty() {
        return Kind::Empty;
    }
    if text.starts_with(b"HTTP/") {
        return Kind::Http;
    }
    if is_har(text) {
        return Kind::Har;
    }
    let (first, rest) = split_line(text);
    if is_blank(rest) {
        return if lines { Kind::Ndjson } else { Kind::Json };
    }
    let whole = |line: &[u8]| serde_json::from_slice::<IgnoredAny>(line).is_ok();
    // A lone `{` or `[` opens a pretty-printed document; otherwise a whole
    // value on the second line means lines, even if the first was cut off
    // (a log captured with `tail -c`).
    let opener = matches!(trim_cr(first).trim_ascii(), b"{" | b"[");
    let second = || split_line(rest.trim_ascii_start()).0;
    if whole(first) || (!opener && second().starts_with(b"{") && whole(second())) {
        Kind::Ndjson
    } else {
        Kind::Json
    }
}

/// The first line (without its newline) and the rest.
fn split_line(text: &[u8]) -> (&[u8], &[u8]) {
    match text.iter().position(|&b| b == b'\n') {
        Some(i) => (&text[..i], &text[i + 1..]),
        None => (text, &b""[..]),
    }
}

/// `{"log": ...` (HAR files always start so).
fn is_har(text: &[u8]) -> bool {
    let Some(rest) = text.strip_prefix(b"{") else {
        return false;
    };
    let Some(rest) = rest.trim_ascii_start().strip_prefix(b"\"log\"") else {
        return false;
    };
    rest.trim_ascii_start().starts_with(b":")
}

pub(super) fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_told_from_content() {
        assert_eq!(detect(b"", false), Kind::Empty);
        assert_eq!(detect(b" \n\t", false), Kind::Empty);
        assert_eq!(detect(b"{\"a\": 1}\n", false), Kind::Json);
        assert_eq!(detect(b"{\"a\": 1}\n", true), Kind::Ndjson);
        assert_eq!(detect(b"{\n  \"a\": 1\n}\n", false), Kind::Json);
        assert_eq!(detect(b"{\"a\": 1}\n\n{\"a\": 2}\n", false), Kind::Ndjson);
        assert_eq!(detect(b"\xEF\xBB\xBF{\"a\": 1}\r\n{\"a\": 2}", false), Kind::Ndjson);
        assert_eq!(detect(b"{\n  \"log\": {\n", false), Kind::Har);
        assert_eq!(detect(b"HTTP/1.1 200 OK\r\n", false), Kind::Http);
        assert_eq!(detect(b"{\"a\": \n 1}\n{}", false), Kind::Json);
        // A log whose first line was cut off is still lines.
        assert_eq!(detect(b"ode\":1}\n{\"code\": 2}\n", false), Kind::Ndjson);
        assert_eq!(detect(b"[\n  {\"a\": 1}\n]\n", false), Kind::Json);
        assert_eq!(detect(b"{\n  \"a\": {}\n}\n", false), Kind::Json);
    }
}

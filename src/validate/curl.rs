//! `curl -i` output: the body of the last response, with its status (which
//! picks the schema) and the line it starts on (so positions point into the
//! file, not into the body).

use super::detect::{is_blank, trim_cr};
use super::EXCERPT;

/// The last response of a `curl -i` capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse<'a> {
    pub status: u16,
    pub body: &'a [u8],
    /// The 1-based line of the file the body starts on.
    pub body_line: usize,
}

/// Splits `curl -i` output into status, headers and body. Interim responses
/// (`100 Continue`, a proxy's `200 Connection established`, redirects
/// followed with `-L`) are skipped: the last response is the one judged.
/// On error, the line and why.
pub fn parse_http(text: &[u8]) -> Result<HttpResponse<'_>, (usize, String)> {
    let mut at = 0;
    let mut line_no = 1;
    // Leading blank lines before the status line.
    while let Some(end) = next_line(text, at) {
        if !is_blank(&text[at..end]) {
            break;
        }
        at = end + 1;
        line_no += 1;
    }
    loop {
        let end = next_line(text, at).unwrap_or(text.len());
        let status_line = String::from_utf8_lossy(trim_cr(&text[at..end]));
        let status = parse_status_line(&status_line).ok_or_else(|| {
            (
                line_no,
                format!(
                    "expected a status line like \"HTTP/1.1 200 OK\", found {:?}",
                    cut(&status_line)
                ),
            )
        })?;
        at = end + 1;
        line_no += 1;
        // Headers, up to the blank line.
        loop {
            let Some(end) = next_line(text, at) else {
                if at >= text.len() || is_blank(&text[at..]) {
                    return Err((line_no, "the headers end without a blank line and body".to_owned()));
                }
                return Err((line_no, "no blank line after the headers".to_owned()));
            };
            let line = trim_cr(&text[at..end]);
            at = end + 1;
            line_no += 1;
            if line.is_empty() {
                break;
            }
        }
        let rest = &text[at.min(text.len())..];
        if rest.starts_with(b"HTTP/") {
            continue;
        }
        return Ok(HttpResponse {
            status,
            body: rest,
            body_line: line_no,
        });
    }
}

fn next_line(text: &[u8], from: usize) -> Option<usize> {
    text.get(from..)?.iter().position(|&b| b == b'\n').map(|i| from + i)
}

fn cut(text: &str) -> String {
    match text.char_indices().nth(EXCERPT) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

/// `HTTP/1.1 200 OK`, `HTTP/2 404`: the status code.
fn parse_status_line(line: &str) -> Option<u16> {
    let mut parts = line.split_ascii_whitespace();
    parts.next().filter(|v| v.starts_with("HTTP/"))?;
    let code = parts.next().filter(|c| c.len() == 3)?;
    code.parse().ok().filter(|c| (100..600).contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curl_output_is_split() {
        let text = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/2 400 \r\ncontent-type: application/json\r\n\r\n{\"code\": 1}";
        let r = parse_http(text).unwrap();
        assert_eq!((r.status, r.body, r.body_line), (400, &b"{\"code\": 1}"[..], 6));
        assert_eq!(parse_http(b"HTTP/1.1 200 OK\nx: y\n").unwrap_err().0, 3);
        assert_eq!(parse_http(b"\nHTTP/1.1 abc\n\n{}").unwrap_err().0, 2);
    }
}

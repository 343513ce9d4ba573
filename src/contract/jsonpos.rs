//! Where a JSON pointer's value starts in the source text.
//!
//! serde_json parses into values without positions, but a person fixing a
//! file wants `file:line:column`, not only `/scenarios/x/steps/2`. This scans
//! the text once, without building values, and stops at the target.

/// A mistake in a JSON text: where (pointer, line, column) and why. Every
/// file and request this program reads reports its mistakes this way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mistake {
    /// JSON pointer of the offending value; `/` for the whole document.
    pub pointer: String,
    pub line: usize,
    pub column: usize,
    pub reason: String,
}

impl Mistake {
    /// A mistake found after parsing, at `pointer`: its position is looked up in `text`.
    /// A member that is absent from the text is placed at its nearest parent.
    pub fn at(text: &str, pointer: impl Into<String>, reason: impl Into<String>) -> Self {
        let pointer = pointer.into();
        let at = locate_nearest(text, &pointer).unwrap_or(Position { line: 1, column: 1 });
        Self::new(pointer, at, reason.into())
    }

    fn new(pointer: String, at: Position, reason: String) -> Self {
        Self {
            pointer: if pointer.is_empty() { "/".to_owned() } else { pointer },
            line: at.line,
            column: at.column,
            reason,
        }
    }
}

impl std::fmt::Display for Mistake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}: {}", self.line, self.column, self.pointer, self.reason)
    }
}

/// Deserializes the whole of `text`, naming the pointer and position of the
/// first mistake (serde_json alone gives the position, not the pointer).
pub fn deserialize<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, Mistake> {
    let position = |e: &serde_json::Error| Position {
        line: e.line().max(1),
        column: e.column().max(1),
    };
    let reason = |e: &serde_json::Error| crate::contract::strip_position(&e.to_string());
    let mut de = serde_json::Deserializer::from_str(text);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let mut pointer = String::new();
        for segment in e.path().iter() {
            match segment {
                serde_path_to_error::Segment::Seq { index } => pointer.push_str(&format!("/{index}")),
                serde_path_to_error::Segment::Map { key } => {
                    pointer.push('/');
                    pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
                }
                serde_path_to_error::Segment::Enum { .. } | serde_path_to_error::Segment::Unknown => {}
            }
        }
        let inner = e.into_inner();
        Mistake::new(pointer, position(&inner), reason(&inner))
    })?;
    de.end()
        .map_err(|e| Mistake::new(String::new(), position(&e), reason(&e)))?;
    Ok(value)
}

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// The position of the value at `pointer` in `text`, if the text is JSON and
/// has such a value. The empty pointer is the whole document.
pub fn locate(text: &str, pointer: &str) -> Option<Position> {
    let tokens: Vec<String> = if pointer.is_empty() {
        Vec::new()
    } else {
        pointer
            .strip_prefix('/')?
            .split('/')
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect()
    };
    let mut scanner = Scanner {
        text: text.as_bytes(),
        at: 0,
    };
    let offset = scanner.find(&tokens)?;
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Some(Position { line, column })
}

/// [`locate`], or for a member absent from the text, where its nearest
/// parent starts: where a person would add it.
pub fn locate_nearest(text: &str, pointer: &str) -> Option<Position> {
    let mut pointer = pointer;
    loop {
        if let Some(p) = locate(text, pointer) {
            return Some(p);
        }
        pointer = &pointer[..pointer.rfind('/')?];
    }
}

struct Scanner<'a> {
    text: &'a [u8],
    at: usize,
}

impl Scanner<'_> {
    fn skip_ws(&mut self) {
        while self.text.get(self.at).is_some_and(u8::is_ascii_whitespace) {
            self.at += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.text.get(self.at).copied()
    }

    /// Descends along `path` from the value at the cursor; the offset of the target.
    fn find(&mut self, path: &[String]) -> Option<usize> {
        let start = {
            self.skip_ws();
            self.at
        };
        let Some((head, rest)) = path.split_first() else {
            return Some(start);
        };
        match self.peek()? {
            b'{' => {
                self.at += 1;
                loop {
                    match self.peek()? {
                        b'}' => return None,
                        b',' => self.at += 1,
                        b'"' => {
                            let key = self.string()?;
                            if self.peek()? != b':' {
                                return None;
                            }
                            self.at += 1;
                            if key == *head {
                                return self.find(rest);
                            }
                            self.skip_value()?;
                        }
                        _ => return None,
                    }
                }
            }
            b'[' => {
                let wanted: usize = head.parse().ok()?;
                self.at += 1;
                let mut index = 0;
                loop {
                    match self.peek()? {
                        b']' => return None,
                        b',' => self.at += 1,
                        _ if index == wanted => return self.find(rest),
                        _ => {
                            self.skip_value()?;
                            index += 1;
                        }
                    }
                }
            }
            _ => None,
        }
    }

    /// Reads a string at the cursor and decodes it.
    fn string(&mut self) -> Option<String> {
        let start = self.at;
        self.at += 1;
        loop {
            match self.text.get(self.at)? {
                b'\\' => self.at += 2,
                b'"' => {
                    self.at += 1;
                    let raw = std::str::from_utf8(&self.text[start..self.at]).ok()?;
                    return serde_json::from_str(raw).ok();
                }
                _ => self.at += 1,
            }
        }
    }

    fn skip_value(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match self.text.get(self.at)? {
                        b'"' => {
                            self.string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.at += 1;
                                return Some(());
                            }
                        }
                        _ => {}
                    }
                    self.at += 1;
                }
            }
            _ => {
                while !matches!(self.text.get(self.at), None | Some(b',' | b'}' | b']')) {
                    self.at += 1;
                }
                Some(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "{\n  \"a\": {\"x\": [1, {\"y\": \"}\"}, 3]},\n  \"b/c\": [\n    true,\n    \"tilde~\"\n  ]\n}";

    #[test]
    fn finds_nested_values() {
        let at = |p| locate(DOC, p).map(|p| (p.line, p.column));
        assert_eq!(at(""), Some((1, 1)));
        assert_eq!(at("/a"), Some((2, 8)));
        assert_eq!(at("/a/x/1/y"), Some((2, 24)));
        assert_eq!(at("/a/x/2"), Some((2, 30)));
        assert_eq!(at("/b~1c/1"), Some((5, 5)));
    }

    #[test]
    fn missing_paths_and_bad_text_give_none() {
        assert_eq!(locate(DOC, "/nope"), None);
        assert_eq!(locate(DOC, "/a/x/9"), None);
        assert_eq!(locate(DOC, "/a/x/first"), None);
        assert_eq!(locate("{\"a\": ", "/a/b"), None);
        assert_eq!(locate("nope", "x"), None);
    }
}

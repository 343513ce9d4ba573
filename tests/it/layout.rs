//! The layout rules of ARCHITECTURE.md, checked over the source: no
//! dependency cycle between source files, and no file over the line limit
//! before its test module.
//!
//! An edge is a path in code (not in comments) that names another file's
//! module: `crate::a::b`, `super::x`, `self::x`, `minimax_mock::a` (in the
//! binary), or a child module by its bare name in a `mod.rs`. The target is
//! the longest prefix of the path that is a file's module. A child naming
//! its own parent (or any ancestor) is not an edge: `super::Item` is how a
//! module reaches what its folder shares.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Lines a file may have before its `#[cfg(test)]` module.
const MAX_LINES: usize = 900;

/// Source files a folder of `src/` may hold directly.
const MAX_FILES_PER_FOLDER: usize = 12;

/// Entries (files and folders) `src/` itself may hold.
const MAX_SRC_ENTRIES: usize = 10;

/// A source file and the module path it defines (`crate::server::api::gateway`).
struct File {
    path: PathBuf,
    module: String,
    code: String,
}

fn files() -> Vec<File> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    walk(&root, &root, &mut out);
    out.sort_by(|a, b| a.module.cmp(&b.module));
    out
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<File>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(root, &path, out);
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let rel = path.strip_prefix(root).unwrap().with_extension("");
        let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
        let module = match parts.last().map(String::as_str) {
            Some("lib") if parts.len() == 1 => "crate".to_owned(),
            Some("main") if parts.len() == 1 => "main".to_owned(),
            Some("mod") => {
                parts.pop();
                format!("crate::{}", parts.join("::"))
            }
            _ => format!("crate::{}", parts.join("::")),
        };
        let text = std::fs::read_to_string(&path).unwrap();
        out.push(File {
            path,
            module,
            code: before_tests(&text),
        });
    }
}

/// The text before the first `#[cfg(test)]` at the start of a line.
fn before_tests(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        if line.starts_with("#[cfg(test)]") {
            break;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Code without comments and string literals (a path in a message is not a use).
fn code_only(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' => {
                // Raw strings are rare here and hold no paths; skip plain ones.
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
                out.push_str("\"\"");
            }
            b'\'' if bytes.get(i + 2) == Some(&b'\'') => {
                i += 3;
            }
            b => {
                out.push(b as char);
                i += 1;
            }
        }
    }
    out
}

/// Every path written in `code`, with `a::{b, c::{d}}` groups expanded.
fn paths(code: &str) -> Vec<String> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_alphabetic() || chars[i] == '_' {
            let at_word_start =
                i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_' || chars[i - 1] == ':');
            let (path, end) = read_path(&chars, i);
            if at_word_start && path.contains("::") {
                expand(&path, &mut out);
            }
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

/// Reads `ident(::ident|::{...})*` from `start`; the path text and where it ends.
fn read_path(chars: &[char], start: usize) -> (String, usize) {
    let mut i = start;
    let mut text = String::new();
    loop {
        while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
            text.push(chars[i]);
            i += 1;
        }
        if chars.get(i) == Some(&':') && chars.get(i + 1) == Some(&':') {
            text.push_str("::");
            i += 2;
            if chars.get(i) == Some(&'{') {
                let mut depth = 0;
                while i < chars.len() {
                    text.push(chars[i]);
                    match chars[i] {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                i += 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
                return (text, i);
            }
            continue;
        }
        return (text, i);
    }
}

fn expand(path: &str, out: &mut Vec<String>) {
    let Some(open) = path.find('{') else {
        out.push(path.to_owned());
        return;
    };
    let prefix = &path[..open];
    let inner = &path[open + 1..path.len() - 1];
    let mut depth = 0;
    let mut item = String::new();
    let mut items = Vec::new();
    for c in inner.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(std::mem::take(&mut item));
                continue;
            }
            _ => {}
        }
        item.push(c);
    }
    items.push(item);
    for item in items {
        let item: String = item.split_whitespace().collect::<Vec<_>>().join(" ");
        let item = item.split(" as ").next().unwrap_or("").trim();
        if item.is_empty() || item == "self" {
            out.push(prefix.trim_end_matches("::").to_owned());
        } else {
            expand(&format!("{prefix}{item}"), out);
        }
    }
}

fn parent(module: &str) -> &str {
    module.rsplit_once("::").map_or("crate", |(p, _)| p)
}

fn is_ancestor(ancestor: &str, module: &str) -> bool {
    ancestor == "crate" || module.starts_with(&format!("{ancestor}::"))
}

/// The file modules each file's code names.
fn edges(files: &[File]) -> BTreeMap<String, BTreeSet<String>> {
    let modules: BTreeSet<&str> = files.iter().map(|f| f.module.as_str()).collect();
    let mut graph = BTreeMap::new();
    for file in files {
        let me = file.module.as_str();
        // `super` of a folder's mod.rs is the folder's parent.
        let is_folder = file.path.ends_with("mod.rs") || me == "crate";
        let here = if is_folder { me } else { parent(me) };
        let mut targets = BTreeSet::new();
        for path in paths(&code_only(&file.code)) {
            let mut segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
            let mut base = match segments.first().copied() {
                Some("crate" | "minimax_mock") => "crate".to_owned(),
                Some("super") => {
                    let mut base = here.to_owned();
                    while segments.first() == Some(&"super") {
                        segments.remove(0);
                        base = parent(&base).to_owned();
                    }
                    segments.insert(0, "super");
                    base
                }
                Some("self") => here.to_owned(),
                Some(first) if is_folder && modules.contains(format!("{here}::{first}").as_str()) => {
                    segments.insert(0, "self");
                    here.to_owned()
                }
                _ => continue,
            };
            // The longest prefix that is a file's module.
            let mut target = None;
            for segment in &segments[1..] {
                base = format!("{base}::{segment}");
                if modules.contains(base.as_str()) {
                    target = Some(base.clone());
                }
            }
            let target = target.unwrap_or_else(|| {
                let first = segments[0];
                if first == "crate" || first == "minimax_mock" {
                    "crate".to_owned()
                } else {
                    here.to_owned()
                }
            });
            if target != me && !is_ancestor(&target, me) && modules.contains(target.as_str()) {
                targets.insert(target);
            }
        }
        graph.insert(me.to_owned(), targets);
    }
    graph
}

/// A cycle in `graph`, as the list of modules around it.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        marks: &mut BTreeMap<String, Mark>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        marks.insert(node.to_owned(), Mark::Open);
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            match marks.get(next.as_str()).copied().unwrap_or(Mark::New) {
                Mark::Open => {
                    let from = stack.iter().position(|n| n == next).unwrap();
                    let mut cycle = stack[from..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Mark::New => {
                    if let Some(cycle) = visit(next, graph, marks, stack) {
                        return Some(cycle);
                    }
                }
                Mark::Done => {}
            }
        }
        stack.pop();
        marks.insert(node.to_owned(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for node in graph.keys() {
        if marks.get(node.as_str()).copied().unwrap_or(Mark::New) == Mark::New {
            if let Some(cycle) = visit(node, graph, &mut marks, &mut Vec::new()) {
                return Some(cycle);
            }
        }
    }
    None
}

#[test]
fn no_dependency_cycle_between_source_files() {
    let graph = edges(&files());
    if let Some(cycle) = find_cycle(&graph) {
        panic!("dependency cycle between source files: {}", cycle.join(" -> "));
    }
}

#[test]
fn no_source_file_over_the_limit_before_its_tests() {
    let long: Vec<String> = files()
        .iter()
        .map(|f| (f.path.display().to_string(), f.code.lines().count()))
        .filter(|(_, n)| *n > MAX_LINES)
        .map(|(p, n)| format!("{p}: {n} lines"))
        .collect();
    assert!(long.is_empty(), "over {MAX_LINES} lines before the tests: {long:#?}");
}

#[test]
fn no_folder_holds_too_many_source_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let entries = std::fs::read_dir(&root).unwrap().count();
    assert!(
        entries <= MAX_SRC_ENTRIES,
        "src/ holds {entries} entries; at most {MAX_SRC_ENTRIES}: give a concept a folder"
    );
    let mut per_folder: BTreeMap<PathBuf, usize> = BTreeMap::new();
    for file in files() {
        *per_folder.entry(file.path.parent().unwrap().to_owned()).or_default() += 1;
    }
    let crowded: Vec<String> = per_folder
        .iter()
        .filter(|(_, n)| **n > MAX_FILES_PER_FOLDER)
        .map(|(dir, n)| format!("{}: {n} source files", dir.display()))
        .collect();
    assert!(
        crowded.is_empty(),
        "over {MAX_FILES_PER_FOLDER} source files in one folder: {crowded:#?}"
    );
}

/// The checker itself finds what it should.
#[test]
fn the_checker_sees_edges_and_cycles() {
    let file = |path: &str, module: &str, code: &str| File {
        path: PathBuf::from(path),
        module: module.to_owned(),
        code: code.to_owned(),
    };
    let files = [
        file("src/lib.rs", "crate", "pub mod a; pub mod b;"),
        file("src/a/mod.rs", "crate::a", "mod x; use x::Thing; // crate::b::nope\n"),
        file(
            "src/a/x.rs",
            "crate::a::x",
            "use super::Shared; use crate::{b::{self, y}};",
        ),
        file("src/b/mod.rs", "crate::b", "let s = \"crate::a::x\";"),
        file("src/b/y.rs", "crate::b::y", "fn f() { crate::a::x::go() }"),
    ];
    let graph = edges(&files);
    assert_eq!(graph["crate::a"], BTreeSet::from(["crate::a::x".to_owned()]));
    assert_eq!(
        graph["crate::a::x"],
        BTreeSet::from(["crate::b".to_owned(), "crate::b::y".to_owned()])
    );
    assert!(graph["crate::b"].is_empty(), "strings and comments are not uses");
    let cycle = find_cycle(&graph).expect("a::x -> b::y -> a::x");
    assert!(cycle.contains(&"crate::a::x".to_owned()) && cycle.contains(&"crate::b::y".to_owned()));
}

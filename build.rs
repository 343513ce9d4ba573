//! Embeds `schemas/` and `fixtures/` into the binary, so an installed
//! `minimax-mock` carries its contract and works from any directory.
//! Generated instead of listed by hand so a new fixture cannot be forgotten.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

fn main() {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let mut out = String::new();
    for dir in ["schemas", "fixtures"] {
        println!("cargo:rerun-if-changed={dir}");
        let mut files = Vec::new();
        collect(&root.join(dir), &mut files);
        files.sort();
        writeln!(out, "pub const {}: &[(&str, &str)] = &[", dir.to_uppercase()).unwrap();
        for file in files {
            let rel = file.strip_prefix(root.join(dir)).unwrap();
            let rel = rel.to_str().expect("UTF-8 file names").replace('\\', "/");
            writeln!(out, "    ({rel:?}, include_str!({:?})),", file.display().to_string()).unwrap();
        }
        out.push_str("];\n");
    }
    let dest = PathBuf::from(env::var("OUT_DIR").expect("set by cargo")).join("embedded.rs");
    fs::write(dest, out).expect("write embedded.rs");
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        println!("cargo:rerun-if-changed={}", path.display());
        if path.is_dir() {
            collect(&path, files);
        } else if path.extension().is_some_and(|e| e == "json") {
            files.push(path);
        }
    }
}

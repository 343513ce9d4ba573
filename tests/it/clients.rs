//! The client tier: real client libraries, unmodified, against the real
//! binary (`tests/clients/*_flow.py`): the `openai` SDK through the
//! OpenAI-compatible video API, LiteLLM through MiniMax's v2, and MiniMax's
//! own MCP server through v1. Each flow only changes the client's base URL.
//!
//! The Python comes from `MINIMAX_MOCK_CLIENTS_PYTHON` (`.ci/run` makes a
//! venv with the pinned clients and sets it). Without it, or when that
//! Python lacks a client, the tier is skipped, unless
//! `MINIMAX_MOCK_REQUIRE_CLIENTS=1` (CI), which fails instead.

use std::path::Path;
use std::process::Command;

use crate::common::process::{serve, stop};

/// The Python to run `module`'s flow with, or `None` to skip.
fn python(module: &str) -> Option<String> {
    let required = std::env::var("MINIMAX_MOCK_REQUIRE_CLIENTS").is_ok_and(|v| v == "1");
    let Ok(python) = std::env::var("MINIMAX_MOCK_CLIENTS_PYTHON") else {
        assert!(
            !required,
            "MINIMAX_MOCK_REQUIRE_CLIENTS=1 but MINIMAX_MOCK_CLIENTS_PYTHON is not set"
        );
        eprintln!("client tier skipped: MINIMAX_MOCK_CLIENTS_PYTHON is not set (see .ci/run)");
        return None;
    };
    let found = Command::new(&python)
        .args(["-c", &format!("import {module}")])
        .env("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(!required, "{python} cannot import {module}");
        eprintln!("client tier skipped: {python} cannot import {module}");
        return None;
    }
    Some(python)
}

/// Runs `tests/clients/{flow}.py` against a fresh mock.
fn run(module: &str, flow: &str) {
    let Some(python) = python(module) else { return };
    let (child, addr) = serve(&["serve", "--quiet"]);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients");
    let out = Command::new(&python)
        .arg(dir.join(format!("{flow}.py")))
        .arg(format!("http://{addr}"))
        .current_dir(&dir)
        .env("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        .output()
        .expect("run the flow");
    let _ = stop(child, "TERM");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{flow} failed:\n{stdout}\n{stderr}");
    eprint!("{stdout}");
}

#[test]
fn the_openai_python_sdk_creates_polls_and_downloads() {
    run("openai", "openai_flow");
}

#[test]
fn litellm_drives_the_v2_api() {
    run("litellm", "litellm_flow");
}

#[test]
fn minimax_mcp_drives_the_v1_api() {
    run("minimax_mcp", "minimax_mcp_flow");
}

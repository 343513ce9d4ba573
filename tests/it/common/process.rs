//! The real binary as a child process: start it on a free port, read the
//! ready line, stop it with a signal.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_minimax-mock");

/// Runs `minimax-mock ARGS --port 0` and waits for its ready line; the
/// child and its `HOST:PORT`.
pub fn serve(args: &[&str]) -> (Child, String) {
    start(args).unwrap_or_else(|why| panic!("{why}"))
}

/// [`serve`], but a mock that does not start is an `Err` saying why: its
/// exit status, what it printed and what it logged.
pub fn start<S: AsRef<std::ffi::OsStr> + std::fmt::Debug>(args: &[S]) -> Result<(Child, String), String> {
    let mut child = command(args).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let Some(addr) = line.trim().strip_prefix("minimax-mock listening on http://") else {
        let _ = child.kill();
        let status = child.wait().unwrap();
        let mut err = String::new();
        child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        return Err(format!("{args:?} did not start ({status}): {line:?}\n{err}"));
    };
    let addr = addr.to_owned();
    Ok((child, addr))
}

/// `minimax-mock ARGS --port 0`, its output piped, ready to spawn.
pub fn command<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .args(["--port", "0"])
        // A token in the developer's environment would guard the control API.
        .env_remove("MINIMAX_MOCK_CONTROL_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Sends `signal` (`TERM`, `INT`) and waits; the exit code and what was logged.
pub fn stop(mut child: Child, signal: &str) -> (Option<i32>, String) {
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let code = child.wait().unwrap().code();
    let mut log = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        stderr.read_to_string(&mut log).unwrap();
    }
    (code, log)
}

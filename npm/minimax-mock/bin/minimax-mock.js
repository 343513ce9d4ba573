#!/usr/bin/env node
"use strict";
// `npx minimax-mock ARGS`: runs this platform's binary with ARGS, passing
// signals on (so stopping this process stops the server) and its exit status back.

const { spawn } = require("node:child_process");
const { binaryPath } = require("../lib/binary.cjs");

let binary;
try {
  binary = binaryPath();
} catch (e) {
  console.error(`minimax-mock: ${e.message}`);
  process.exit(2);
}

const child = spawn(binary, process.argv.slice(2), { stdio: "inherit", windowsHide: true });
const signals = ["SIGINT", "SIGTERM", "SIGHUP"];
for (const signal of signals) {
  process.on(signal, () => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  });
}
child.on("error", (e) => {
  console.error(`minimax-mock: cannot run ${binary}: ${e.message}`);
  process.exit(2);
});
child.on("exit", (code, signal) => {
  if (signal) {
    for (const s of signals) process.removeAllListeners(s);
    process.kill(process.pid, signal);
    return;
  }
  process.exit(code ?? 1);
});

"use strict";
// startMock(): the real minimax-mock binary as a child process on a free
// loopback port, with a frozen clock, and its control API (docs/control-api.md)
// as methods; connectMock(): the same methods for a mock already running
// (a Vitest globalSetup's, a container). Node's own fetch, no dependency.

const { spawn } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { binaryPath } = require("./binary.cjs");

/** The clock's start by default: the documented example's submit time. */
const EPOCH = 1756453472;
/** The variable the control token is taken from, by the server and here. */
const TOKEN_ENV = "MINIMAX_MOCK_CONTROL_TOKEN";

const READY = /^minimax-mock listening on (http:\/\/\S+)\r?$/m;
const MADE_UP_TOKEN = /^minimax-mock: control token: (\S+)\r?$/m;

/** A control request the mock refused, or a server that did not start. */
class MockError extends Error {
  constructor(message, status = null, code = null) {
    super(message);
    this.name = "MockError";
    this.status = status;
    this.code = code;
  }
}

function duration(value) {
  if (typeof value === "string") return value;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new TypeError(`a duration is a string like "30s" or a number of seconds: ${value}`);
  }
  return `${Math.round(value * 1000)}ms`;
}

/**
 * The control API of the mock at `baseUrl`.
 * @param {string} baseUrl
 * @param {{ token?: string, stop?: () => Promise<number | null>, pid?: number, logFile?: string }} [extra]
 */
function connectMock(baseUrl, extra = {}) {
  const base = new URL(baseUrl);
  if (base.protocol !== "http:") throw new TypeError(`the mock's base URL is http://HOST:PORT, not ${baseUrl}`);
  // A path is a namespace's prefix (http://HOST:PORT/ns/NAME): every
  // request, control ones included, goes under it.
  const root = base.origin;
  const origin = root + base.pathname.replace(/\/+$/, "");
  const token = extra.token ?? process.env[TOKEN_ENV] ?? null;
  const under = (route) => new URL(origin + (route.startsWith("/") ? route : `/${route}`));

  async function call(method, route, body, query) {
    const url = under(route);
    for (const [key, value] of Object.entries(query || {})) {
      if (value !== undefined && value !== null) url.searchParams.set(key, String(value));
    }
    const headers = { accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (token) headers.authorization = `Bearer ${token}`;
    let response;
    try {
      response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      throw new MockError(`${method} ${url}: ${e.cause?.message ?? e.message}`);
    }
    const text = await response.text();
    if (!response.ok) {
      let code = null;
      let message = text;
      try {
        ({ code, message } = JSON.parse(text));
      } catch {}
      throw new MockError(`${method} ${url.pathname}: ${response.status} ${code}: ${message}`, response.status, code);
    }
    return text ? JSON.parse(text) : undefined;
  }

  async function pages(route, key, filters) {
    const all = [];
    const query = { ...filters };
    for (;;) {
      const page = await call("GET", route, undefined, query);
      all.push(...page[key]);
      if (!page.next) return all;
      query.after = page.next;
    }
  }

  const withScenario = (scenario, fields) =>
    scenario !== null && typeof scenario === "object"
      ? { ...scenario }
      : { ...fields, ...(scenario == null ? {} : { scenario }) };

  const mock = {
    baseUrl: origin,
    pid: extra.pid,
    logFile: extra.logFile,
    url: (route = "/") => under(route).href,
    namespace: (name) => connectMock(`${root}/ns/${encodeURIComponent(name)}`, { token }),
    script: (taskId, scenario, fields = {}) =>
      call("PUT", `/__mock/tasks/${encodeURIComponent(taskId)}`, withScenario(scenario, fields)),
    next: (scenario, count = 1, fields = {}) =>
      call("PUT", "/__mock/next", { count, ...withScenario(scenario, fields) }),
    advance: (by) => call("POST", "/__mock/clock", { advance: duration(by) }),
    freeze: () => call("POST", "/__mock/clock", { freeze: true }),
    resume: () => call("POST", "/__mock/clock", { resume: true }),
    clock: () => call("GET", "/__mock/clock"),
    requests: async (filters = {}) =>
      "last" in filters || "limit" in filters || "after" in filters
        ? (await call("GET", "/__mock/requests", undefined, filters)).requests
        : pages("/__mock/requests", "requests", filters),
    callbacks: async (filters = {}) => (await call("GET", "/__mock/callbacks", undefined, filters)).callbacks,
    tasks: () => pages("/__mock/tasks", "tasks", {}),
    task: (taskId) => call("GET", `/__mock/tasks/${encodeURIComponent(taskId)}`),
    reset: async () => {
      await call("POST", "/__mock/reset");
    },
    stop: extra.stop ?? (async () => null),
  };
  if (Symbol.asyncDispose) mock[Symbol.asyncDispose] = () => mock.stop();
  return mock;
}

let started = 0;

/**
 * Runs `minimax-mock serve` on a free loopback port with a frozen clock at
 * EPOCH, and resolves once it is ready.
 * @param {import("./index").StartOptions} [options]
 */
async function startMock(options = {}) {
  const args = [...(options.args ?? [])];
  const given = (flag) => args.some((a) => a === flag || a.startsWith(`${flag}=`));
  const command = ["serve"];
  if (!given("--host")) command.push("--host", "127.0.0.1");
  if (!given("--port")) command.push("--port", String(options.port ?? 0));
  const epoch = options.epoch === undefined ? EPOCH : options.epoch;
  if (epoch !== null && !given("--epoch")) command.push("--epoch", String(epoch));
  if ((options.frozen ?? true) && !given("--frozen")) command.push("--frozen");
  command.push(...args);

  const env = { ...(options.env ?? process.env) };
  let token = env[TOKEN_ENV] || null;
  args.forEach((arg, i) => {
    if (arg === "--control-token" && i + 1 < args.length) token = args[i + 1];
    else if (arg.startsWith("--control-token=")) token = arg.slice("--control-token=".length);
  });

  const logFile =
    options.logFile ??
    path.join(fs.mkdtempSync(path.join(os.tmpdir(), "minimax-mock-")), `server-${process.pid}-${++started}.log`);
  const log = fs.openSync(logFile, "a");
  let child;
  try {
    child = spawn(options.binary ?? binaryPath(), command, {
      cwd: options.cwd,
      env,
      // stdout is read for the ready line, then copied to the log; stderr
      // goes straight to it: nothing waits on a pipe nobody reads.
      stdio: ["ignore", "pipe", log],
      windowsHide: true,
    });
  } finally {
    fs.closeSync(log);
  }
  const logStream = fs.createWriteStream(logFile, { flags: "a" });
  child.stdout.pipe(logStream);

  // A test that forgets stop() must not keep Node alive, nor leave the server behind.
  const killOnExit = () => child.kill();
  process.once("exit", killOnExit);
  child.unref();
  child.stdout.unref?.();

  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal)));
  const timeoutMs = options.readyTimeoutMs ?? 30000;
  const baseUrl = await new Promise((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new MockError(`minimax-mock printed no ready line within ${timeoutMs} ms (its log: ${logFile})`));
    }, timeoutMs);
    const onData = (chunk) => {
      seen += chunk;
      const ready = READY.exec(seen);
      if (ready) {
        clearTimeout(timer);
        child.stdout.off("data", onData);
        resolve(ready[1]);
      }
    };
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", onData);
    child.once("error", (e) => {
      clearTimeout(timer);
      reject(new MockError(`cannot run minimax-mock: ${e.message}`));
    });
    exited.then((status) => {
      clearTimeout(timer);
      const text = fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8").trim() : "";
      reject(new MockError(`minimax-mock exited with status ${status} before it was ready:\n${text}`));
    });
  });

  if (!token) {
    const madeUp = MADE_UP_TOKEN.exec(fs.readFileSync(logFile, "utf8"));
    if (madeUp) token = madeUp[1];
  }
  let stopping = null;
  const stop = () => {
    stopping ??= (async () => {
      process.off("exit", killOnExit);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), options.stopTimeoutMs ?? 10000);
        const status = await exited;
        clearTimeout(timer);
        await new Promise((resolve) => logStream.end(resolve));
        return typeof status === "number" ? status : null;
      }
      await new Promise((resolve) => logStream.end(resolve));
      return child.exitCode;
    })();
    return stopping;
  };
  // Bound to every address: ask through loopback.
  const local = baseUrl.replace("//0.0.0.0:", "//127.0.0.1:").replace("//[::]:", "//[::1]:");
  return connectMock(local, { token, stop, pid: child.pid, logFile });
}

module.exports = { startMock, connectMock, binaryPath, MockError, EPOCH, TOKEN_ENV };

// Types of the minimax-mock launcher: startMock() and connectMock().

/** What startMock() starts: `minimax-mock serve` with these settings. */
export interface StartOptions {
  /** More `serve` flags (`["--scenarios", "s.json", "--seed", "7"]`); a `--host`, `--port` or `--epoch` here replaces the default. */
  args?: string[];
  /** The port (default 0: a free one; the ready line tells which). */
  port?: number;
  /** Where the clock starts, Unix seconds (default EPOCH); `null` for now. */
  epoch?: number | null;
  /** Keep the clock still until `advance` (default true). */
  frozen?: boolean;
  /** The binary to run (default: this platform's package, or MINIMAX_MOCK_BINARY). */
  binary?: string;
  /** The server's environment (default process.env). */
  env?: Record<string, string | undefined>;
  /** The server's working directory: relative `--scenarios` paths start here. */
  cwd?: string;
  /** Where the server's stdout and stderr go (default: a new temporary file). */
  logFile?: string;
  /** How long to wait for the ready line (default 30000). */
  readyTimeoutMs?: number;
  /** How long `stop()` waits after SIGTERM before SIGKILL (default 10000). */
  stopTimeoutMs?: number;
}

/** A step in the scenarios-file format (docs/scenarios.md). */
export interface Step {
  status?: string;
  phase?: string;
  minimax_status?: string;
  progress?: number | [number, number];
  for?: string;
  polls?: number;
  fail_reason?: string;
  base_resp?: { status_code: number; status_msg: string };
  fault?: Record<string, unknown>;
  [field: string]: unknown;
}

/** `PUT /__mock/tasks/{id}` besides the scenario. */
export interface ScriptFields {
  scenario?: string;
  steps?: Step[];
  resolution?: string;
  duration?: number;
  surface?: "gateway" | "native" | "v2";
  ratio?: string;
}

/** `PUT /__mock/next` besides the scenario and count. */
export interface NextFields {
  scenario?: string;
  steps?: Step[];
  count?: number;
}

/** `GET /__mock/clock`. */
export interface Clock {
  /** Unix milliseconds. */
  now: number;
  now_unix: number;
  frozen: boolean;
}

/** A task as the control API shows it: current step and whole timeline. */
export interface Task {
  task_id: string;
  scenario: string;
  submitted_at: number;
  surface: "gateway" | "native" | "v2";
  resolution: string;
  duration: number;
  polls: number;
  current: { index: number; phase: string; status: string; minimax_status: string; progress: string };
  timeline: Array<Record<string, unknown>>;
  [field: string]: unknown;
}

/** One journal entry: a request the app made (or a callback the mock sent). */
export interface JournalEntry {
  /** The cursor of `after`. */
  id: number;
  seq: number;
  method: string;
  path: string;
  query: string | null;
  task_id: string | null;
  headers: Record<string, string>;
  body: string;
  /** `null` (and `reset: true`) for a connection the mock reset. */
  status: number | null;
  reset: boolean;
  /** Mock time, Unix milliseconds. */
  time: number;
  direction: "incoming" | "outgoing";
  [field: string]: unknown;
}

/** One callback request the mock sent. */
export interface Callback {
  time: number;
  task_id: string | null;
  url: string;
  kind: "challenge" | "update";
  status: string | null;
  attempt: number;
  delivered: boolean;
  http_status: number | null;
  error: string | null;
  body: unknown;
}

/** `GET /__mock/requests` filters. */
export interface RequestFilters {
  path?: string;
  task_id?: string;
  method?: string;
  /** Only the newest N. */
  last?: number;
  limit?: number;
  after?: string;
}

/** The control API of a running mock (docs/control-api.md). */
export interface Mock {
  /** `http://127.0.0.1:PORT`: point the app under test here. */
  readonly baseUrl: string;
  /** The server's process id (started mocks only). */
  readonly pid?: number;
  /** Where the server logs (started mocks only). */
  readonly logFile?: string;
  /** An absolute URL on the mock. */
  url(path?: string): string;
  /**
   * The namespace `name` of the same server, a mock of its own (its tasks,
   * clock, journal, reset), for tests that run in parallel against one
   * shared server: its `baseUrl` is `http://HOST:PORT/ns/NAME`.
   */
  namespace(name: string): Mock;
  /** Scripts a task id: a scenario by name, or `{ steps }` and other fields. */
  script(taskId: string, scenario?: string | null | ScriptFields, fields?: ScriptFields): Promise<Task>;
  /** The scenario of the next `count` submits, whatever API they come through. */
  next(scenario: string | NextFields, count?: number, fields?: NextFields): Promise<{ scenario: string | null; count: number }>;
  /** Moves the clock on: `"30s"`, `"500ms"`, or seconds. Due callback updates go out. */
  advance(duration: string | number): Promise<Clock>;
  freeze(): Promise<Clock>;
  resume(): Promise<Clock>;
  clock(): Promise<Clock>;
  /** The journal, oldest first (every page). */
  requests(filters?: RequestFilters): Promise<JournalEntry[]>;
  callbacks(filters?: { task_id?: string }): Promise<Callback[]>;
  tasks(): Promise<Task[]>;
  task(taskId: string): Promise<Task>;
  /** Tasks, clock, journal, callbacks, next submits and the task-id sequence back to the start. */
  reset(): Promise<void>;
  /** Stops a started server (SIGTERM, graceful): its exit status. A no-op for connectMock(). */
  stop(): Promise<number | null>;
}

/** Starts `minimax-mock serve` on a free loopback port (frozen clock at EPOCH) and resolves once it is ready. */
export function startMock(options?: StartOptions): Promise<Mock>;
/** The control API of a mock that is already running (another process, a container). */
export function connectMock(baseUrl: string, options?: { token?: string }): Mock;
/** The binary npm installed for this platform. */
export function binaryPath(): string;

/** A control request the mock refused (status and the envelope's code), or a server that did not start. */
export class MockError extends Error {
  readonly status: number | null;
  readonly code: string | null;
}

/** 2025-08-29 07:44:32 UTC, the documented example's submit time. */
export const EPOCH: number;
/** `MINIMAX_MOCK_CONTROL_TOKEN`. */
export const TOKEN_ENV: string;

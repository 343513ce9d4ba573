// The installed npm packages, used as an app's tests use them: startMock()
// starts the binary of this platform's package, the API is reached with
// fetch as an app would, time moves through the control API instead of
// sleeping. Run by .ci/run from a fresh project where the tarballs of
// npm/pack.sh were installed with --offline: `node --test`.

import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { setTimeout as delay } from "node:timers/promises";
import { once } from "node:events";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { after, before, beforeEach, test } from "node:test";
import { dirname, join } from "node:path";

import { EPOCH, MockError, binaryPath, connectMock, startMock } from "minimax-mock";

const SUBMIT = "/minimax/v1/video_generation";
const QUERY = "/minimax/v1/query/video_generation?task_id=";
const JOB = { model: "MiniMax-Hailuo-02", prompt: "A cat plays piano", duration: 6, resolution: "768P" };

async function call(url, body) {
  const init = body === undefined ? {} : { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
  const response = await fetch(url, init);
  assert.equal(response.status, 200, await response.clone().text());
  return response.json();
}

let mock;
before(async () => {
  mock = await startMock();
});
after(async () => {
  assert.equal(await mock.stop(), 0, "a graceful stop");
});
beforeEach(() => mock.reset());

test("the binary of this platform's package, on a free port with a frozen clock", async () => {
  assert.match(binaryPath(), /node_modules[\\/]@minimax-mock[\\/][a-z0-9-]+[\\/]bin[\\/]minimax-mock(\.exe)?$/);
  assert.match(mock.baseUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.notEqual(mock.baseUrl, "http://127.0.0.1:8080");
  assert.deepEqual(await mock.clock(), { now: EPOCH * 1000, now_unix: EPOCH, frozen: true });
  assert.equal(typeof mock.pid, "number");
});

test("submit, poll, advance and the journal", async () => {
  const { task_id } = await call(mock.url(SUBMIT), JOB);
  assert.equal((await call(mock.url(QUERY + task_id))).data.status, "NOT_START");
  const clock = await mock.advance("30s");
  assert.equal(clock.now_unix, EPOCH + 30);
  const done = (await call(mock.url(QUERY + task_id))).data;
  assert.deepEqual([done.status, done.progress], ["SUCCESS", "100%"]);
  const journal = await mock.requests();
  assert.deepEqual(
    journal.map((r) => [r.method, r.path, r.status]),
    [
      ["POST", SUBMIT, 200],
      ["GET", "/minimax/v1/query/video_generation", 200],
      ["GET", "/minimax/v1/query/video_generation", 200],
    ],
  );
  assert.equal(JSON.parse(journal[0].body).prompt, "A cat plays piano");
  assert.equal((await mock.requests({ method: "POST" })).length, 1);
  assert.equal((await mock.requests({ last: 1 })).length, 1);
});

test("every test starts clean", async () => {
  assert.deepEqual(await mock.requests(), []);
  assert.deepEqual(await mock.tasks(), []);
  assert.deepEqual(await mock.callbacks(), []);
  assert.equal((await mock.clock()).now_unix, EPOCH);
});

test("a namespace is a mock of its own on the same server", async () => {
  const worker = mock.namespace("worker-1");
  assert.equal(worker.baseUrl, `${mock.baseUrl}/ns/worker-1`);
  const submitted = await (
    await fetch(worker.url("/minimax/v1/video_generation"), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "MiniMax-Hailuo-02", prompt: "A cat" }),
    })
  ).json();
  await worker.advance("30s");
  const done = await (await fetch(worker.url(`/minimax/v1/query/video_generation?task_id=${submitted.task_id}`))).json();
  assert.equal(done.data.status, "SUCCESS");
  // Its clock and tasks are its own: the default namespace's did not move.
  assert.equal((await mock.clock()).now_unix, EPOCH);
  assert.deepEqual(await mock.tasks(), []);
  assert.equal((await worker.tasks()).length, 1);
  await worker.reset();
  assert.deepEqual(await worker.tasks(), []);
});

test("script a failure, inline steps, the next submits", async () => {
  const task = await mock.script("job-1", "fail");
  assert.deepEqual([task.task_id, task.scenario, task.current.status], ["job-1", "fail", "NOT_START"]);
  await mock.advance(30);
  const failed = (await call(mock.url(QUERY + "job-1"))).data;
  assert.equal(failed.status, "FAILURE");
  assert.match(failed.fail_reason, /sensitive/);

  await mock.script("job-2", { steps: [{ status: "QUEUED", polls: 1 }, { status: "FAILURE", fail_reason: "boom" }] });
  assert.equal((await call(mock.url(QUERY + "job-2"))).data.status, "QUEUED");
  assert.equal((await call(mock.url(QUERY + "job-2"))).data.fail_reason, "boom");

  assert.deepEqual(await mock.next("instant", 2), { scenario: "instant", count: 2 });
  const { task_id } = await call(mock.url(SUBMIT), JOB);
  assert.equal((await mock.task(task_id)).scenario, "instant");
  assert.equal((await mock.resume()).frozen, false);
  assert.equal((await mock.freeze()).frozen, true);
});

test("a refused control request rejects with the mock's message", async () => {
  await assert.rejects(mock.script("job-1", "no-such-scenario"), (e) => {
    assert.ok(e instanceof MockError);
    assert.deepEqual([e.status, e.code], [400, "invalid_request"]);
    assert.match(e.message, /unknown scenario "no-such-scenario"/);
    return true;
  });
  await assert.rejects(mock.task("nope"), { code: "task_not_exist", status: 404 });
  assert.throws(() => mock.advance(-1), TypeError);
});

test("callbacks follow the clock", async () => {
  const updates = [];
  let arrived = () => {};
  const receiver = createServer(async (req, res) => {
    let text = "";
    for await (const chunk of req) text += chunk;
    const body = JSON.parse(text);
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify("challenge" in body ? { challenge: body.challenge } : {}));
    if (!("challenge" in body)) {
      updates.push(body.status);
      arrived();
    }
  });
  receiver.listen(0, "127.0.0.1");
  await once(receiver, "listening");
  const until = async (status) => {
    while (updates.at(-1) !== status) await new Promise((resolve) => (arrived = resolve));
  };
  try {
    const hook = `http://127.0.0.1:${receiver.address().port}/hook`;
    const { task_id } = await call(mock.url("/v1/video_generation"), { ...JOB, callback_url: hook });
    await until("Preparing");
    await mock.advance("30s");
    await until("Success");
    assert.deepEqual(updates, ["Preparing", "Queueing", "Processing", "Success"]);
    // The receiver has an update before the mock has read its answer and
    // recorded it delivered: wait (bounded) for the record to catch up.
    let sent = await mock.callbacks({ task_id });
    for (let i = 0; i < 500 && sent.length < updates.length; i++) {
      await new Promise((resolve) => setTimeout(resolve, 2));
      sent = await mock.callbacks({ task_id });
    }
    assert.deepEqual(
      sent.map((c) => [c.kind, c.status, c.delivered]),
      updates.map((status) => ["update", status, true]),
    );
  } finally {
    receiver.close();
  }
});

test("connectMock drives a mock started elsewhere; CommonJS gets the same functions", async () => {
  const other = connectMock(mock.baseUrl);
  await other.script("x", "instant");
  assert.deepEqual((await mock.tasks()).map((t) => t.task_id), ["x"]);
  assert.equal(await other.stop(), null, "not its server to stop");
  const require = createRequire(import.meta.url);
  assert.equal(require("minimax-mock").startMock, startMock);
});

test("a script that forgets stop() exits, and its server with it", async (t) => {
  if (process.platform !== "linux") return t.skip("reads /proc");
  const script = 'import { startMock } from "minimax-mock"; console.log((await startMock()).pid);';
  const pid = Number(execFileSync(process.execPath, ["--input-type=module", "-e", script], { timeout: 30000 }));
  // Sent SIGTERM as Node exited; gone (or a zombie for init to reap) within moments.
  const state = () => (existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0] : "gone");
  for (let i = 0; i < 500 && !["gone", "Z", undefined].includes(state()); i++) await delay(10);
  assert.ok(["gone", "Z", undefined].includes(state()), `the server ${pid} is still running`);
});

test("a server that cannot start says why", async () => {
  await assert.rejects(startMock({ args: ["--scenarios", "/no/such/file.json"] }), (e) => {
    assert.match(e.message, /exited with status 2 before it was ready:\n.*\/no\/such\/file\.json/s);
    return true;
  });
});

test("the minimax-mock command: serve, and a signal to the launcher stops the server", async () => {
  const launcher = join(dirname(createRequire(import.meta.url).resolve("minimax-mock/package.json")), "bin", "minimax-mock.js");
  const child = spawn(process.execPath, [launcher, "serve", "--port", "0", "--quiet"], { stdio: ["ignore", "pipe", "inherit"] });
  child.stdout.setEncoding("utf8");
  let line = "";
  for await (const chunk of child.stdout) {
    line += chunk;
    if (line.includes("\n")) break;
  }
  const url = line.match(/^minimax-mock listening on (http:\/\/\S+)/)[1];
  assert.equal(await (await fetch(`${url}/__mock/live`)).text(), "ok\n");
  const [code] = await Promise.all([once(child, "exit").then(([c]) => c), Promise.resolve(child.kill("SIGTERM"))]);
  assert.equal(code, 0);
  await assert.rejects(fetch(`${url}/__mock/live`));
});

// Compiled with `tsc --noEmit --strict` against the installed package (ES
// module side): the documented calls type-check, a wrong one does not.
import { startMock, connectMock, MockError, EPOCH, type Mock, type Task, type JournalEntry } from "minimax-mock";

async function use(): Promise<void> {
  const mock: Mock = await startMock({ args: ["--seed", "7"], epoch: EPOCH, frozen: true });
  const task: Task = await mock.script("job-1", "fail");
  await mock.script("job-2", { steps: [{ status: "QUEUED", polls: 1 }, { status: "FAILURE" }] });
  await mock.script("job-3", null, { surface: "v2", ratio: "9:16" });
  await mock.next("instant", 2);
  const now: number = (await mock.advance("30s")).now_unix;
  await mock.advance(1.5);
  const journal: JournalEntry[] = await mock.requests({ path: "/minimax/v1/video_generation", last: 5 });
  const statuses: (number | null)[] = journal.map((entry) => entry.status);
  const kinds: string[] = (await mock.callbacks({ task_id: task.task_id })).map((c) => c.kind);
  await mock.freeze();
  await mock.resume();
  await mock.reset();
  const code: number | null = await mock.stop();
  const other = connectMock("http://127.0.0.1:8080", { token: "t" });
  const url: string = other.url("/__mock/live");
  // @ts-expect-error advance takes a string or seconds
  await mock.advance({ seconds: 1 });
  try {
    await other.task("nope");
  } catch (e) {
    if (e instanceof MockError) console.log(e.status, e.code);
  }
  console.log(now, statuses, kinds, code, url, other.baseUrl);
}
void use;

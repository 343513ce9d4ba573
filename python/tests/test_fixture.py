"""The installed wheel, used as an app's tests use it: the `minimax_mock`
fixture (loaded by its entry point, no conftest), the API reached with
urllib as an app would, time moved by the control API instead of sleeping.

Run by .ci/run in a fresh venv where the wheel was installed with
--no-index: `pytest python/tests/test_fixture.py`.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import sysconfig
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import minimax_mock
import minimax_mock as package
from minimax_mock import EPOCH, Mock, MockError

pytest_plugins = ["pytester"]

SUBMIT = "/minimax/v1/video_generation"
QUERY = "/minimax/v1/query/video_generation?task_id="
JOB = {"model": "MiniMax-Hailuo-02", "prompt": "A cat plays piano", "duration": 6, "resolution": "768P"}

# What earlier tests saw, for the tests that check sharing and resets.
seen: dict = {}


def call(url: str, body: dict | None = None, headers: dict | None = None) -> dict:
    """One request as an app makes it (urllib, no proxy)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json", **(headers or {})})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=10) as response:
        return json.loads(response.read())


def test_the_fixture_is_the_installed_binary_on_a_free_port(minimax_mock: Mock):
    assert minimax_mock.base_url.startswith("http://127.0.0.1:")
    assert not minimax_mock.base_url.endswith(":8080")
    installed = Path(sysconfig.get_path("purelib")).resolve()
    assert installed in Path(package.__file__).resolve().parents, "the installed package, not the checkout"
    scripts = Path(sysconfig.get_path("scripts")).resolve()
    binary = Path(minimax_mock.process.args[0]).resolve()
    assert binary.parent == scripts, f"{binary} is not this environment's own"
    assert minimax_mock.clock() == {"now": EPOCH * 1000, "now_unix": EPOCH, "frozen": True}
    seen["pid"] = minimax_mock.process.pid


def test_submit_poll_and_the_journal(minimax_mock: Mock):
    submitted = call(minimax_mock.url(SUBMIT), JOB, {"Authorization": "Bearer sk-test-key-0123456789"})
    task_id = submitted["task_id"]
    assert submitted["base_resp"] == {"status_code": 0, "status_msg": "success"}
    seen["first_task_id"] = task_id

    first = call(minimax_mock.url(QUERY + task_id))
    assert first["code"] == "success"
    assert first["data"]["status"] == "NOT_START"
    # The clock is frozen: only advance moves the task on.
    assert call(minimax_mock.url(QUERY + task_id))["data"]["status"] == "NOT_START"
    minimax_mock.advance("30s")
    done = call(minimax_mock.url(QUERY + task_id))["data"]
    assert (done["status"], done["progress"]) == ("SUCCESS", "100%")

    journal = minimax_mock.requests()
    assert [(r["method"], r["path"], r["status"]) for r in journal] == [
        ("POST", SUBMIT, 200),
        ("GET", "/minimax/v1/query/video_generation", 200),
        ("GET", "/minimax/v1/query/video_generation", 200),
        ("GET", "/minimax/v1/query/video_generation", 200),
    ]
    assert json.loads(journal[0]["body"])["prompt"] == "A cat plays piano"
    # Credentials are shortened in what the control API serves.
    assert journal[0]["headers"]["authorization"] == "Bearer sk-t…6789"
    assert [r["method"] for r in minimax_mock.requests(method="POST")] == ["POST"]
    assert len(minimax_mock.requests(task_id=task_id)) == 4
    assert len(minimax_mock.requests(last=1)) == 1


def test_every_test_starts_clean_on_the_same_process(minimax_mock: Mock):
    assert minimax_mock.process.pid == seen["pid"], "one server for the session"
    assert minimax_mock.requests() == []
    assert minimax_mock.tasks() == []
    assert minimax_mock.callbacks() == []
    assert minimax_mock.clock()["now_unix"] == EPOCH
    # The task-id sequence starts again too: the same first id.
    assert call(minimax_mock.url(SUBMIT), JOB)["task_id"] == seen["first_task_id"]


def test_a_namespace_is_a_mock_of_its_own_on_the_same_server(minimax_mock: Mock):
    worker = minimax_mock.namespace("worker-1")
    assert worker.base_url == minimax_mock.base_url + "/ns/worker-1"
    submitted = call(worker.url(SUBMIT), JOB)
    worker.advance("30s")
    done = call(worker.url(QUERY + submitted["task_id"]))["data"]
    assert done["status"] == "SUCCESS"
    # Its clock, tasks and journal are its own: the default namespace's did not move.
    assert minimax_mock.clock()["now_unix"] == EPOCH
    assert minimax_mock.tasks() == [] and minimax_mock.requests() == []
    assert [r["path"] for r in worker.requests()] == [
        "/ns/worker-1" + SUBMIT,
        "/ns/worker-1/minimax/v1/query/video_generation",
    ]
    worker.reset()
    assert worker.tasks() == []


def test_script_a_failure_and_advance(minimax_mock: Mock):
    task = minimax_mock.script("job-1", "fail")
    assert (task["task_id"], task["scenario"], task["current"]["status"]) == ("job-1", "fail", "NOT_START")
    assert call(minimax_mock.url(QUERY + "job-1"))["data"]["status"] == "NOT_START"
    clock = minimax_mock.advance(30)
    assert clock["now_unix"] == EPOCH + 30
    failed = call(minimax_mock.url(QUERY + "job-1"))["data"]
    assert failed["status"] == "FAILURE"
    assert "sensitive" in failed["fail_reason"]
    # Inline steps, and the other fields of a scripted task.
    steps = [{"status": "QUEUED", "polls": 1}, {"status": "FAILURE", "fail_reason": "boom"}]
    task = minimax_mock.script("job-2", steps=steps, resolution="1080P", duration=10)
    assert (task["video_width"], task["duration"]) == (1920, 10)
    assert call(minimax_mock.url(QUERY + "job-2"))["data"]["status"] == "QUEUED"
    assert call(minimax_mock.url(QUERY + "job-2"))["data"]["fail_reason"] == "boom"


def test_next_submits_freeze_and_resume(minimax_mock: Mock):
    assert minimax_mock.next("instant", count=2) == {"scenario": "instant", "count": 2}
    task_id = call(minimax_mock.url(SUBMIT), JOB)["task_id"]
    assert minimax_mock.task(task_id)["scenario"] == "instant"
    assert call(minimax_mock.url(QUERY + task_id))["data"]["status"] == "SUCCESS"
    assert minimax_mock.resume()["frozen"] is False
    assert minimax_mock.freeze()["frozen"] is True


def test_a_refused_control_request_raises_with_the_mocks_message(minimax_mock: Mock):
    with pytest.raises(MockError) as refused:
        minimax_mock.script("job-1", "no-such-scenario")
    assert (refused.value.status, refused.value.code) == (400, "invalid_request")
    assert 'unknown scenario "no-such-scenario"' in str(refused.value)
    with pytest.raises(MockError) as missing:
        minimax_mock.task("nope")
    assert missing.value.code == "task_not_exist"
    with pytest.raises(ValueError):
        minimax_mock.advance(-1)


class Receiver(BaseHTTPRequestHandler):
    """Echoes the challenge; hands every update to the test."""

    updates: "queue.Queue[dict]" = queue.Queue()

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        # Handed over before answering: the mock sends the next update only
        # once this one is answered, so the queue keeps the mock's order
        # (each request has a thread of its own, which could put late).
        if "challenge" not in body:
            self.updates.put(body)
        answer = json.dumps({"challenge": body["challenge"]} if "challenge" in body else {}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


def test_callbacks_follow_the_clock(minimax_mock: Mock):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        hook = f"http://127.0.0.1:{server.server_address[1]}/hook"
        task_id = call(minimax_mock.url("/v1/video_generation"), {**JOB, "callback_url": hook})["task_id"]
        statuses = [Receiver.updates.get(timeout=10)["status"]]
        minimax_mock.advance("30s")
        while statuses[-1] != "Success":
            statuses.append(Receiver.updates.get(timeout=10)["status"])
        assert statuses == ["Preparing", "Queueing", "Processing", "Success"]
        sent = minimax_mock.callbacks()
        # The challenge comes before the task exists: it has no task id.
        assert [(c["kind"], c["task_id"]) for c in sent[:2]] == [("challenge", None), ("update", task_id)]
        # The receiver has an update before the mock has read its answer and
        # recorded it delivered: wait (bounded) for the record to catch up.
        updates = minimax_mock.callbacks(task_id=task_id)
        for _ in range(500):
            if len(updates) >= len(statuses):
                break
            time.sleep(0.002)
            updates = minimax_mock.callbacks(task_id=task_id)
        assert [(c["kind"], c["status"], c["delivered"]) for c in updates] == [
            ("update", "Preparing", True),
            ("update", "Queueing", True),
            ("update", "Processing", True),
            ("update", "Success", True),
        ]
    finally:
        server.shutdown()
        server.server_close()


def test_python_m_minimax_mock_runs_the_binary_without_path():
    env = {k: v for k, v in os.environ.items() if k != "PATH"}
    out = subprocess.run(
        [sys.executable, "-m", "minimax_mock", "--version"], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout == f"minimax-mock {minimax_mock.__version__}\n"
    assert minimax_mock.binary_path() == str(Path(sysconfig.get_path("scripts")) / Path(minimax_mock.binary_path()).name)


def test_a_server_of_its_own_and_one_already_running():
    with Mock.start(["--seed", "7"], frozen=False) as mock:
        assert mock.clock()["frozen"] is False
        other = Mock(mock.base_url)  # drives a server it did not start
        other.script("x", "instant")
        assert [t["task_id"] for t in mock.tasks()] == ["x"]
        assert other.stop() is None
        process = mock.process
    assert process.poll() is not None, "stopped when the block ends"


@pytest.mark.skipif(os.name == "nt", reason="signal 0 probes a process on POSIX")
def test_a_server_left_running_stops_when_python_exits():
    started = "from minimax_mock import Mock; print(Mock.start().process.pid)"
    out = subprocess.run([sys.executable, "-c", started], capture_output=True, text=True, check=True, timeout=30)
    with pytest.raises(ProcessLookupError):
        os.kill(int(out.stdout), 0)


def test_a_server_that_cannot_start_says_why(tmp_path):
    with pytest.raises(MockError, match=r"exited with status 2 before it was ready:\n.*no-such\.json"):
        Mock.start(["--scenarios", str(tmp_path / "no-such.json")])


def test_ini_flags_and_the_log_of_a_failed_test(pytester: pytest.Pytester):
    pytester.makeini("[pytest]\nminimax_mock_args = --scenarios scenarios.json\n")
    pytester.makefile(
        ".json",
        scenarios=json.dumps({"scenarios": {"twice": {"steps": [{"status": "QUEUED", "polls": 2}, {"status": "SUCCESS"}]}}}),
    )
    pytester.makepyfile(
        """
        import urllib.request

        def test_uses_the_file_scenario(minimax_mock):
            assert minimax_mock.script("t", "twice")["scenario"] == "twice"

        def test_fails_after_a_request(minimax_mock):
            minimax_mock.script("t", "twice")
            urllib.request.urlopen(minimax_mock.url("/minimax/v1/query/video_generation?task_id=t"))
            assert False, "on purpose"
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*minimax-mock log (call)*", "GET /minimax/v1/query/video_generation task_id=t 200 *"])


def test_the_readmes_example(minimax_mock: Mock):
    """The README's first Python block, as it is there."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = readme.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)
    tests = [f for name, f in namespace.items() if name.startswith("test_")]
    assert len(tests) == 1
    tests[0](minimax_mock)

"""The real server as a child process, and its control API.

Everything goes through the documented control API under ``/__mock/``
(docs/control-api.md), so what a test does here it could do with curl.
HTTP is the standard library's ``http.client``: no dependency, and no proxy
settings from the environment can divert requests meant for loopback.
"""

from __future__ import annotations

import datetime
import http.client
import json
import os
import re
import subprocess
import tempfile
import time
import weakref
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union
from urllib.parse import quote, urlencode, urlsplit

from ._binary import binary_path

#: The clock's start when none is given: the documented example's submit
#: time (2025-08-29 07:44:32 UTC), as the project's own tests use.
EPOCH = 1_756_453_472

#: The variable the control token is taken from, by the server and here.
TOKEN_ENV = "MINIMAX_MOCK_CONTROL_TOKEN"

_READY = re.compile(rb"^minimax-mock listening on (http://\S+)\r?$", re.MULTILINE)
_MADE_UP_TOKEN = re.compile(rb"^minimax-mock: control token: (\S+)\r?$", re.MULTILINE)

Duration = Union[str, int, float, datetime.timedelta]


class MockError(Exception):
    """A control request the mock refused, or a server that did not start.

    ``status`` is the HTTP status (``None`` when the server did not start),
    ``code`` the error envelope's code (``invalid_request``,
    ``task_not_exist``, …).
    """

    def __init__(self, message: str, status: Optional[int] = None, code: Optional[str] = None):
        super().__init__(message)
        self.status = status
        self.code = code


def _duration(value: Duration) -> str:
    """The mock's duration syntax: strings as they are, numbers as seconds."""
    if isinstance(value, str):
        return value
    if isinstance(value, datetime.timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"a duration is a string like '30s', seconds, or a timedelta: {value!r}")
    return f"{round(value * 1000)}ms"


class Mock:
    """A running minimax-mock: its ``base_url`` and its control API.

    :meth:`start` runs one; ``Mock(base_url)`` drives one that is already
    running (a container, another process). Every method is one control
    request (``requests`` may page through several).
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: Optional[str] = None,
        timeout: float = 10.0,
        process: Optional[subprocess.Popen] = None,
        log_path: Optional[Path] = None,
    ):
        url = urlsplit(base_url)
        if url.scheme != "http" or not url.hostname:
            raise ValueError(f"the mock's base URL is http://HOST:PORT, not {base_url!r}")
        # A path is a namespace's prefix (http://HOST:PORT/ns/NAME): every
        # request, control ones included, goes under it.
        self._prefix = url.path.rstrip("/")
        self._root = f"http://{url.netloc}"
        self.base_url = self._root + self._prefix
        self.token = token
        self.timeout = timeout
        self.process = process
        #: Where the server's stdout and stderr go (for a started server).
        self.log_path = log_path
        self._host = url.hostname
        self._port = url.port or 80
        self._finalizer: Optional[weakref.finalize] = None

    # -- starting and stopping ---------------------------------------------

    @classmethod
    def start(
        cls,
        args: Sequence[str] = (),
        *,
        binary: Optional[str] = None,
        epoch: Optional[int] = EPOCH,
        frozen: bool = True,
        env: Optional[Mapping[str, str]] = None,
        cwd: Optional[Union[str, Path]] = None,
        log_path: Optional[Union[str, Path]] = None,
        ready_timeout: float = 30.0,
    ) -> "Mock":
        """Runs ``minimax-mock serve`` on a free loopback port and waits until
        it is ready.

        By default the clock starts at :data:`EPOCH` and stands still
        (``--epoch``, ``--frozen``), so a test moves time with
        :meth:`advance`. ``args`` are more ``serve`` flags (``--scenarios
        FILE``, ``--seed 7``, …); a ``--port``, ``--host`` or ``--epoch`` in
        them replaces the default. The server writes to ``log_path`` (a new
        temporary file by default), never to a pipe nobody reads.
        """
        args = list(args)

        def given(flag: str) -> bool:
            return any(a == flag or a.startswith(flag + "=") for a in args)

        command = [binary or binary_path(), "serve"]
        if not given("--host"):
            command += ["--host", "127.0.0.1"]
        if not given("--port"):
            command += ["--port", "0"]
        if epoch is not None and not given("--epoch"):
            command += ["--epoch", str(epoch)]
        if frozen and not given("--frozen"):
            command.append("--frozen")
        command += args
        environment = dict(os.environ if env is None else env)
        token = environment.get(TOKEN_ENV) or None
        for i, arg in enumerate(args):
            if arg == "--control-token" and i + 1 < len(args):
                token = args[i + 1]
            elif arg.startswith("--control-token="):
                token = arg.split("=", 1)[1]
        if log_path is None:
            fd, name = tempfile.mkstemp(prefix="minimax-mock-", suffix=".log")
            os.close(fd)
            log_path = name
        log_path = Path(log_path)
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=environment,
                cwd=cwd,
            )
        try:
            base_url, made_up = _wait_ready(process, log_path, ready_timeout)
        except BaseException:
            process.kill()
            process.wait()
            raise
        # Bound to every address: ask through loopback.
        base_url = base_url.replace("//0.0.0.0:", "//127.0.0.1:").replace("//[::]:", "//[::1]:")
        mock = cls(base_url, token=token or made_up, process=process, log_path=log_path)
        # Never left running: stopped when this object goes, or at exit.
        mock._finalizer = weakref.finalize(mock, _terminate, process, 5.0)
        return mock

    def stop(self, timeout: float = 10.0) -> Optional[int]:
        """Stops a started server (SIGTERM, then a kill after ``timeout``);
        its exit status. Does nothing for a server this object did not start."""
        process, self.process = self.process, None
        if process is None:
            return None
        if self._finalizer is not None:
            self._finalizer.detach()
        return _terminate(process, timeout)

    def __enter__(self) -> "Mock":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"Mock({self.base_url!r})"

    # -- the control API -----------------------------------------------------

    def namespace(self, name: str) -> "Mock":
        """The namespace ``name`` of the same server, a mock of its own (its
        tasks, clock, journal, reset): for tests that run in parallel against
        one shared server (pytest-xdist workers, CI shards). Made by its
        first request; ``base_url`` is ``http://HOST:PORT/ns/NAME``."""
        return Mock(f"{self._root}/ns/{quote(name, safe='')}", token=self.token, timeout=self.timeout)

    def url(self, path: str = "/") -> str:
        """An absolute URL on the mock: ``mock.url("/v1/video_generation")``."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def script(self, task_id: str, scenario: Optional[str] = None, **fields: Any) -> Dict[str, Any]:
        """Scripts ``task_id`` to follow ``scenario`` (or inline ``steps=[…]``);
        other fields: ``resolution``, ``duration``, ``surface`` (``gateway``,
        ``native``, ``v2``), ``ratio``. The task as the control API shows it."""
        body = dict(fields)
        if scenario is not None:
            body["scenario"] = scenario
        return self._call("PUT", "/__mock/tasks/" + quote(task_id, safe=""), body)

    def next(self, scenario: Optional[str] = None, count: int = 1, **fields: Any) -> Dict[str, Any]:
        """The scenario (or inline ``steps=[…]``) of the next ``count``
        submits, whatever API they come through."""
        body = dict(fields, count=count)
        if scenario is not None:
            body["scenario"] = scenario
        return self._call("PUT", "/__mock/next", body)

    def advance(self, duration: Duration) -> Dict[str, Any]:
        """Moves the clock on: ``"30s"``, ``"500ms"``, seconds, or a
        ``timedelta``. Callback updates that became due go out. The clock."""
        return self._call("POST", "/__mock/clock", {"advance": _duration(duration)})

    def freeze(self) -> Dict[str, Any]:
        """Stops the clock; the clock."""
        return self._call("POST", "/__mock/clock", {"freeze": True})

    def resume(self) -> Dict[str, Any]:
        """Lets the clock run; the clock."""
        return self._call("POST", "/__mock/clock", {"resume": True})

    def clock(self) -> Dict[str, Any]:
        """``{"now", "now_unix", "frozen"}``."""
        return self._call("GET", "/__mock/clock")

    def requests(self, **filters: Any) -> List[Dict[str, Any]]:
        """The journal: the requests the app made (control requests are not
        in it), oldest first. Filters: ``path``, ``task_id``, ``method``;
        ``last=N`` for the newest N only. Pages are followed to the end."""
        if "last" in filters or "limit" in filters or "after" in filters:
            return self._call("GET", "/__mock/requests", query=filters)["requests"]
        entries: List[Dict[str, Any]] = []
        query = dict(filters)
        while True:
            page = self._call("GET", "/__mock/requests", query=query)
            entries += page["requests"]
            if not page.get("next"):
                return entries
            query["after"] = page["next"]

    def callbacks(self, **filters: Any) -> List[Dict[str, Any]]:
        """Every callback request the mock sent (challenges and updates);
        filter with ``task_id``."""
        return self._call("GET", "/__mock/callbacks", query=filters)["callbacks"]

    def tasks(self) -> List[Dict[str, Any]]:
        """Every task, with its current step and whole timeline."""
        tasks: List[Dict[str, Any]] = []
        query: Dict[str, Any] = {}
        while True:
            page = self._call("GET", "/__mock/tasks", query=query)
            tasks += page["tasks"]
            if not page.get("next"):
                return tasks
            query["after"] = page["next"]

    def task(self, task_id: str) -> Dict[str, Any]:
        """One task; :class:`MockError` with code ``task_not_exist`` if none."""
        return self._call("GET", "/__mock/tasks/" + quote(task_id, safe=""))

    def reset(self) -> None:
        """Tasks, clock, journal, callbacks, the next-submits scenario and
        the task-id sequence back to the start."""
        self._call("POST", "/__mock/reset")

    def _call(
        self,
        method: str,
        path: str,
        body: Optional[Dict[str, Any]] = None,
        query: Optional[Mapping[str, Any]] = None,
    ) -> Any:
        path = self._prefix + path
        if query:
            path += "?" + urlencode({k: v for k, v in query.items() if v is not None})
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        connection = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)
        try:
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            raw = response.read()
        except OSError as e:
            raise MockError(f"{method} {self.base_url}{path}: {e}") from e
        finally:
            connection.close()
        if response.status >= 400:
            code, message = None, raw.decode("utf-8", "replace")
            try:
                envelope = json.loads(raw)
                code, message = envelope.get("code"), envelope.get("message", message)
            except (ValueError, AttributeError):
                pass
            raise MockError(f"{method} {path}: {response.status} {code}: {message}", response.status, code)
        return json.loads(raw) if raw else None


def _terminate(process: subprocess.Popen, timeout: float) -> Optional[int]:
    """SIGTERM (a graceful stop), then a kill after ``timeout``; the exit status."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def _wait_ready(process: subprocess.Popen, log_path: Path, timeout: float) -> "tuple[str, Optional[str]]":
    """The URL of the ready line, the first line the server prints on stdout
    once it listens, read from the log file as it grows; and the control
    token it made up, if it printed one (off loopback, none given)."""
    deadline = time.monotonic() + timeout
    while True:
        text = log_path.read_bytes()
        found = _READY.search(text)
        if found:
            token = _MADE_UP_TOKEN.search(text)
            return found.group(1).decode(), token.group(1).decode() if token else None
        code = process.poll()
        if code is not None:
            log = text.decode("utf-8", "replace").strip()
            raise MockError(f"minimax-mock exited with status {code} before it was ready:\n{log}")
        if time.monotonic() > deadline:
            raise MockError(f"minimax-mock printed no ready line within {timeout} s (its log: {log_path})")
        time.sleep(0.005)

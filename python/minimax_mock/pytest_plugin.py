"""The pytest plugin (entry point ``pytest11``, so it loads by itself).

``minimax_mock``: the real server, one process for the whole session on a
free loopback port with a frozen clock at :data:`minimax_mock.EPOCH`, reset
before each test (tasks, clock, journal, callbacks, the next submits and the
task-id sequence: one control request, well under a millisecond), so every
test starts clean.

Configure in ``pytest.ini`` / ``pyproject.toml`` (``[tool.pytest.ini_options]``)::

    minimax_mock_args = --scenarios tests/scenarios.json --seed 7

(paths are relative to the rootdir). When a test that used the fixture
fails, what the server logged during it is added to the report.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from ._mock import Mock

#: Where the server's log stood when the test started (an attribute, not
#: a StashKey, so pytest 6 works too).
_LOG_START = "_minimax_mock_log_start"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "minimax_mock_args",
        type="args",
        default=[],
        help="more flags for `minimax-mock serve` in the minimax_mock fixture (e.g. --scenarios FILE)",
    )


@pytest.fixture(scope="session")
def minimax_mock_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mock]:
    """The session's server, as it is: not reset (use ``minimax_mock``)."""
    args = request.config.getini("minimax_mock_args")
    log = tmp_path_factory.mktemp("minimax-mock") / "server.log"
    mock = Mock.start(args, cwd=request.config.rootpath, log_path=log)
    try:
        yield mock
    finally:
        mock.stop()


@pytest.fixture
def minimax_mock(request: pytest.FixtureRequest, minimax_mock_server: Mock) -> Mock:
    """A running minimax-mock, reset for this test: ``base_url``,
    ``script``, ``next``, ``advance``, ``freeze``, ``resume``, ``requests``,
    ``callbacks``, ``reset`` (see :class:`minimax_mock.Mock`)."""
    minimax_mock_server.reset()
    log = minimax_mock_server.log_path
    if log is not None:
        setattr(request.node, _LOG_START, log.stat().st_size)
    return minimax_mock_server


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    start = getattr(item, _LOG_START, None)
    if start is None or not report.failed:
        return
    mock = getattr(item, "funcargs", {}).get("minimax_mock")
    if mock is None or mock.log_path is None:
        return
    with open(mock.log_path, "rb") as log:
        log.seek(start)
        text = log.read().decode("utf-8", "replace")
    if text:
        report.sections.append((f"minimax-mock log ({report.when})", text))

"""minimax-mock for Python: the mock server's binary, a client for its
control API, and a pytest plugin.

>>> from minimax_mock import Mock
>>> with Mock.start() as mock:                        # doctest: +SKIP
...     mock.script("job-1", "fail")
...     mock.advance("30s")

In pytest, use the ``minimax_mock`` fixture (loaded with the package, no
configuration): one server for the session, reset before every test.
See https://github.com/minimax-mock/minimax-mock/blob/main/docs/install.md
"""

from __future__ import annotations

from ._binary import BINARY_ENV, binary_path
from ._mock import EPOCH, TOKEN_ENV, Mock, MockError


def _version() -> str:
    try:
        from importlib.metadata import version
    except ImportError:  # pragma: no cover - Python 3.7
        return "unknown"
    try:
        return version("minimax-mock")
    except Exception:  # not installed (run from a checkout)
        return "unknown"


__version__ = _version()

__all__ = ["BINARY_ENV", "EPOCH", "TOKEN_ENV", "Mock", "MockError", "binary_path", "__version__"]

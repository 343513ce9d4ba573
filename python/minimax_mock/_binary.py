"""Where the installed ``minimax-mock`` binary is, without looking at PATH.

The wheel installs the binary as a script of the environment it goes into
(``bin/`` or ``Scripts/``); PATH may name another environment, an older
copy, or nothing at all (a venv used without activating it), so the places
are worked out from this interpreter and this file.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from pathlib import Path

#: Overrides every other place: a binary built from source, for example.
BINARY_ENV = "MINIMAX_MOCK_BINARY"

_NAME = "minimax-mock" + (".exe" if os.name == "nt" else "")


def _user_scheme() -> str:
    if sys.version_info >= (3, 10):
        return sysconfig.get_preferred_scheme("user")
    if os.name == "nt":
        return "nt_user"
    if sys.platform == "darwin" and getattr(sys, "_framework", None):
        return "osx_framework_user"
    return "posix_user"


def candidates() -> list[Path]:
    """The places looked at, in order."""
    places = [Path(sysconfig.get_path("scripts"))]
    try:
        places.append(Path(sysconfig.get_path("scripts", scheme=_user_scheme())))
    except KeyError:
        pass
    # `pip install --target DIR`: DIR/minimax_mock/ beside DIR/bin/.
    package = Path(__file__).resolve().parent
    places.append(package.parent / "bin")
    # An interpreter other than the environment's own (uv, pipx, a Python
    # started by full path): PREFIX/lib/pythonX.Y/site-packages/minimax_mock
    # or PREFIX/Lib/site-packages/minimax_mock, beside PREFIX/bin or Scripts.
    for parent in package.parents:
        if parent.name == "site-packages":
            prefix = parent.parent.parent if parent.parent.name.lower() == "lib" else parent.parent.parent.parent
            places += [prefix / "bin", prefix / "Scripts"]
            break
    seen: list[Path] = []
    for place in places:
        if place not in seen:
            seen.append(place)
    return [place / _NAME for place in seen]


def binary_path() -> str:
    """The path of the ``minimax-mock`` binary this package installed.

    ``MINIMAX_MOCK_BINARY`` wins when set. Raises ``FileNotFoundError``
    naming every place looked at.
    """
    override = os.environ.get(BINARY_ENV)
    if override:
        if not os.path.isfile(override):
            raise FileNotFoundError(f"{BINARY_ENV}={override!r} is not a file")
        return override
    places = candidates()
    for place in places:
        if place.is_file():
            return str(place)
    looked = ", ".join(str(p) for p in places)
    raise FileNotFoundError(
        f"the minimax-mock binary is not installed beside this package (looked at {looked}); "
        f"reinstall minimax-mock, or set {BINARY_ENV}"
    )

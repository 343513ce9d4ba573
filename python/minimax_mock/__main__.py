"""``python -m minimax_mock ARGS``: runs the installed binary with ARGS."""

from __future__ import annotations

import os
import subprocess
import sys

from ._binary import binary_path


def main() -> int:
    try:
        binary = binary_path()
    except FileNotFoundError as e:
        print(f"minimax-mock: {e}", file=sys.stderr)
        return 2
    args = [binary, *sys.argv[1:]]
    if os.name != "nt":
        # The binary takes this process's place: signals reach it directly.
        os.execv(binary, args)
    try:
        return subprocess.call(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

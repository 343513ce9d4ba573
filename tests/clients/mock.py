"""What the client flows share: the mock's control API (stdlib only) and
the frame size of an MP4, read from its video track's header."""

import json
import struct
import sys
import urllib.request


class Mock:
    """The control API of the mock at `base` (`http://127.0.0.1:PORT`)."""

    def __init__(self, base):
        self.base = base.rstrip("/")

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def next(self, scenario, count=1):
        """The scenario of the next `count` submits, whatever API they use."""
        self.call("PUT", "/__mock/next", {"scenario": scenario, "count": count})

    def reset(self):
        self.call("POST", "/__mock/reset")

    def requests(self, **filters):
        query = "&".join(f"{k}={v}" for k, v in filters.items())
        return self.call("GET", "/__mock/requests" + ("?" + query if query else ""))["requests"]


def mp4_size(data):
    """(width, height) of the first video track: the `tkhd` box whose
    16.16 fixed-point width is not zero (audio tracks have zero)."""
    at = 0
    while True:
        at = data.find(b"tkhd", at)
        if at < 0:
            raise AssertionError("no video track header (tkhd) in the MP4")
        version = data[at + 4]
        # version, flags; times, track id, reserved, duration; reserved,
        # layer, group, volume, reserved; the 3x3 matrix; then the size.
        offset = at + 4 + 4 + (32 if version == 1 else 20) + 8 + 8 + 36
        width, height = struct.unpack(">II", data[offset : offset + 8])
        if width:
            return width >> 16, height >> 16
        at += 4


def check(condition, message):
    """An assertion that still runs under `python -O`, with the flow's words."""
    if not condition:
        print(f"FAILED: {message}", file=sys.stderr)
        sys.exit(1)

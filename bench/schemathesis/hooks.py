"""Schemathesis hooks for bench/schemathesis.sh.

One check: MiniMax's native API says no the way MiniMax does, with HTTP 200
and a non-zero base_resp.status_code (its clients read base_resp, not the
status; docs/apis.md). Schemathesis's negative_data_rejection expects a 4xx,
so schemathesis.toml turns it off for those four operations only, and this
check takes its place there: a schema-violating request must come back as a
4xx or as HTTP 200 with a non-zero base_resp.status_code; anything else is
judged by the built-in check itself.
"""

import json

import schemathesis
from schemathesis.specs.openapi.checks import negative_data_rejection

# Where the mock answers MiniMax's own API (the gateway relays files/retrieve).
NATIVE = {
    "/v1/video_generation",
    "/v1/query/video_generation",
    "/v1/files/retrieve",
    "/minimax/v1/files/retrieve",
}


def refused_the_minimax_way(response):
    if response.status_code != 200:
        return False
    try:
        code = json.loads(response.text)["base_resp"]["status_code"]
    except (ValueError, KeyError, TypeError):
        return False
    return isinstance(code, int) and code != 0


@schemathesis.check
def native_negative_data_rejection(ctx, response, case):
    """negative_data_rejection for MiniMax's native API: HTTP 200 with a non-zero base_resp.status_code rejects too."""
    if case.operation.path not in NATIVE:
        return None
    if refused_the_minimax_way(response):
        return None
    return negative_data_rejection(ctx, response, case)

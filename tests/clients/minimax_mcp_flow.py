"""MiniMax's own MCP server (`minimax-mcp`, v1 API) against the mock,
unmodified: `MINIMAX_API_HOST` is the mock's address. Its tools are called
as the MCP client would: submit (async mode), then query, which retrieves
the file and downloads the clip.

    python tests/clients/minimax_mcp_flow.py http://127.0.0.1:PORT
"""

import os
import sys
import tempfile

base = sys.argv[1].rstrip("/")
out = tempfile.mkdtemp(prefix="minimax-mcp-")
os.environ["MINIMAX_API_HOST"] = base
os.environ.setdefault("MINIMAX_API_KEY", "mock-key")
os.environ["MINIMAX_MCP_BASE_PATH"] = out
os.environ["MINIMAX_API_RESOURCE_MODE"] = "local"

from minimax_mcp import server  # noqa: E402

from mock import Mock, check, mp4_size  # noqa: E402

mock = Mock(base)


def text(result):
    return getattr(result, "text", str(result))


# Success: submitted, then queried once done: the clip is saved.
mock.next("instant")
submitted = text(server.generate_video(model="MiniMax-Hailuo-02", prompt="a cat", async_mode=True))
check("Task ID:" in submitted, f"submit: {submitted}")
task_id = submitted.split("Task ID:")[1].split(".")[0].strip()
queried = text(server.query_video_generation(task_id=task_id, output_directory=out))
check("saved" in queried.lower() or "success" in queried.lower(), f"query: {queried}")
clips = [os.path.join(d, f) for d, _, fs in os.walk(out) for f in fs if f.endswith(".mp4")]
check(len(clips) == 1, f"download: {clips} in {out}")
with open(clips[0], "rb") as f:
    size = mp4_size(f.read())
check(size == (1366, 768), f"download: frame size {size} (768P)")

# Failure: the tool reports it.
mock.next("fail", 1)
submitted = text(server.generate_video(model="MiniMax-Hailuo-02", prompt="a storm", async_mode=True))
task_id = submitted.split("Task ID:")[1].split(".")[0].strip()
mock.call("POST", "/__mock/clock", {"advance": "1m"})
queried = text(server.query_video_generation(task_id=task_id, output_directory=out))
check("fail" in queried.lower(), f"failed task: {queried}")

# An unknown id: MiniMax's 2013 in base_resp, reported by the tool.
queried = text(server.query_video_generation(task_id="999999999999999", output_directory=out))
check("2013" in queried or "fail" in queried.lower(), f"unknown id: {queried}")

print("minimax-mcp (v1): success with download, failure, unknown id: ok")

"""LiteLLM's MiniMax video provider (v2, MiniMax-H3) against the mock,
unmodified: `api_base` is the mock's address. Offline it needs the local
cost map, and a loopback download needs `litellm.user_url_validation`
turned off (both are LiteLLM's settings, not the mock's).

    python tests/clients/litellm_flow.py http://127.0.0.1:PORT
"""

import os
import sys

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm  # noqa: E402

from mock import Mock, check, mp4_size  # noqa: E402

litellm.user_url_validation = False
base = sys.argv[1].rstrip("/")
mock = Mock(base)
auth = {"api_base": base, "api_key": "mock-key", "custom_llm_provider": "minimax"}


def wait(video_id, want):
    """Polls until the status leaves queued/running (a poll-counted scenario)."""
    for _ in range(20):
        video = litellm.video_status(video_id=video_id, **auth)
        if video.status not in ("queued", "in_progress"):
            break
    check(video.status == want, f"{video_id}: status {video.status!r}, wanted {want!r}: {video}")
    return video


# Success: created, polled to completion, the clip downloaded (768P 16:9).
mock.next("success-polls")
created = litellm.video_generation(model="minimax/MiniMax-H3", prompt="a cat", seconds="5", size="16:9", **auth)
check(created.id, f"create: no id: {created}")
done = wait(created.id, "completed")
data = litellm.video_content(video_id=created.id, **auth)
check(mp4_size(data) == (1344, 768), f"download: frame size {mp4_size(data)}")

# Failure: a failed task is an answer, not an exception (error.code is a string).
mock.next("fail-polls")
failing = litellm.video_generation(model="minimax/MiniMax-H3", prompt="a storm", seconds="5", size="16:9", **auth)
failed = wait(failing.id, "failed")
check(failed.error is not None, f"fail: no error: {failed}")

# An unknown id: MiniMax's 400 invalid task_id, raised by LiteLLM.
try:
    litellm.video_status(video_id="999999999999999", **auth)
    check(False, "unknown id: no error raised")
except Exception as e:  # LiteLLM maps provider errors to its own classes
    check(getattr(e, "status_code", None) == 400, f"unknown id: {type(e).__name__}: {e}")

# Listing: both tasks are there.
listed = litellm.video_list(limit=20, **auth)
items = listed if isinstance(listed, list) else getattr(listed, "data", None) or listed.get("data", [])
ids = {getattr(v, "id", None) or v.get("id") for v in items}
check({created.id, failing.id} <= ids, f"list: {ids} lacks {created.id}, {failing.id}")

print("litellm (v2): success with download, failure, unknown id, list: ok")

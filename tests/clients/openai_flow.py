"""The official `openai` Python SDK against the mock, unmodified: only its
base URL changes (`http://HOST:PORT/v1`, as for a new-api gateway).

    python tests/clients/openai_flow.py http://127.0.0.1:PORT

Each flow chooses its scenario with `PUT /__mock/next`: a task that
succeeds (created and polled by `create_and_poll`, the clip downloaded and
its frame size checked), one that fails, an unknown id, and a download
before the task is done."""

import sys

import openai
from openai import OpenAI

from mock import Mock, check, mp4_size

base = sys.argv[1].rstrip("/")
mock = Mock(base)
client = OpenAI(base_url=f"{base}/v1", api_key="sk-mock", max_retries=0)

# Success: create_and_poll walks queued → in_progress → completed.
mock.next("success-polls")
video = client.videos.create_and_poll(
    model="MiniMax-Hailuo-02", prompt="a cat on a skateboard", seconds="6", size="1920x1080", poll_interval_ms=1
)
check(video.status == "completed", f"success: status {video.status!r}: {video}")
check(video.progress == 100, f"success: progress {video.progress!r}")
check(video.id.startswith("task_"), f"success: id {video.id!r}")
content = client.videos.download_content(video.id)
data = content.read()
check(mp4_size(data) == (1920, 1080), f"download: frame size {mp4_size(data)} for 1920x1080")
again = client.videos.retrieve(video.id)
check(again.status == "completed" and again.completed_at, f"retrieve: {again}")
# The SDK sends multipart/form-data, which the mock read as new-api does.
posts = mock.requests(path="/v1/videos", method="POST")
check(posts and "multipart/form-data" in posts[-1]["headers"].get("content-type", ""), f"journal: {posts}")

# Failure: the task ends failed, with new-api's error (a string code).
mock.next("fail-polls")
failed = client.videos.create_and_poll(model="MiniMax-Hailuo-02", prompt="a storm", poll_interval_ms=1)
check(failed.status == "failed", f"fail: status {failed.status!r}")
check(failed.error is not None and isinstance(failed.error.code, str) and failed.error.message, f"fail: {failed.error}")

# An unknown id: 400, which the SDK raises as BadRequestError.
try:
    client.videos.retrieve("task_doesnotexist00000000000000000")
    check(False, "unknown id: no error raised")
except openai.BadRequestError as e:
    check(e.status_code == 400, f"unknown id: {e}")

# The content of a task that is not done yet: 400 invalid_request_error.
mock.next("slow")
pending = client.videos.create(model="MiniMax-Hailuo-02", prompt="later")
check(pending.status == "queued", f"pending: status {pending.status!r}")
try:
    client.videos.download_content(pending.id).read()
    check(False, "content before success: no error raised")
except openai.BadRequestError as e:
    check(e.status_code == 400, f"content before success: {e}")

print("openai (Python): success, failure, unknown id, early download: ok")

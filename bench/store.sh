#!/usr/bin/env bash
# The shared store (`serve --store redis://…`) beside the in-memory one, on
# the same live task: one replica of each with the same flags (journal on,
# the clock running), wrk on each task's gateway query in turn at each
# connection count of CONNECTIONS, req/s, p50 and p99 of both and their
# ratio; the goal (the store keeps ≥ 0.5× the in-memory req/s) is judged on
# each side's best req/s over the connection counts, its throughput: the
# store's round trip needs more requests in flight to keep the cores busy.
# Then TASKS submits through the store replica and Redis's used_memory per
# task. Needs wrk and redis-server (Debian's packages, installed if
# missing). Not part of CI.
#   DURATION=10s CONNECTIONS="32 128 256" THREADS=2 TASKS=100000 bench/store.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-32 128 256}"
THREADS="${THREADS:-2}"
TASKS="${TASKS:-100000}"

missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v redis-server >/dev/null || [ -x /usr/bin/redis-server ] || missing+=(redis-server)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "bench: installing ${missing[*]}" >&2
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
redis_server="$(command -v redis-server || echo /usr/bin/redis-server)"
cargo build --release --quiet --bin minimax-mock
mock="${CARGO_TARGET_DIR:-target}/release/minimax-mock"

work="$(mktemp -d "${TMPDIR:-/tmp}/minimax-mock-bench-store.XXXXXX")"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Redis: a free port, nothing saved, in the work directory.
redis_port="$(free_port)"
"$redis_server" --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
  --daemonize no >"$work/redis.log" 2>&1 &
pids+=($!)
rcli() { redis-cli -p "$redis_port" "$@"; }
for _ in $(seq 200); do [ "$(rcli ping 2>/dev/null)" = PONG ] && break; sleep 0.05; done
[ "$(rcli ping)" = PONG ] || { echo "bench: redis-server did not start" >&2; cat "$work/redis.log" >&2; exit 1; }

# A lifecycle that stays IN_PROGRESS for the whole load, so every answer renders.
cat >"$work/scenarios.json" <<'EOF'
{"scenarios": {"bench": {"steps": [
  {"status": "QUEUED", "for": "1ms"},
  {"status": "IN_PROGRESS", "for": "1h"},
  {"status": "SUCCESS"}]}}}
EOF

# start NAME FLAGS...: a mock on a free port, its base URL in $NAME_url.
start() {
  local name="$1"
  shift
  "$mock" serve --quiet --port 0 --scenarios "$work/scenarios.json" "$@" >"$work/$name.out" 2>"$work/$name.log" &
  pids+=($!)
  for _ in $(seq 400); do grep -q listening "$work/$name.out" 2>/dev/null && break; sleep 0.05; done
  grep -q listening "$work/$name.out" || { echo "bench: $name did not start" >&2; cat "$work/$name.log" >&2; exit 1; }
  printf -v "${name}_url" '%s' "$(sed -n 's/^minimax-mock listening on //p' "$work/$name.out")"
}
start store --store "redis://127.0.0.1:$redis_port/0"
start memory
# shellcheck disable=SC2154 # set by start
echo "store replica: $store_url (redis 127.0.0.1:$redis_port); in memory: $memory_url"

submit() { # BASE_URL: a live task's id
  curl -sf "$1/minimax/v1/video_generation" -H 'Prefer: scenario=bench' \
    -d '{"model": "MiniMax-Hailuo-02", "prompt": "A cat plays piano", "duration": 6, "resolution": "768P"}' |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["task_id"])'
}
store_task="$(submit "$store_url")"
memory_task="$(submit "$memory_url")"

# load NAME CONNECTIONS URL: wrk on the task's gateway query, its output in
# $work/wrk-NAME-CONNECTIONS.txt for the summary below.
load() {
  wrk -t "$THREADS" -c "$2" -d "$DURATION" --latency "$3" >"$work/wrk-$1-$2.txt"
}
query="/minimax/v1/query/video_generation?task_id="
for c in $CONNECTIONS; do
  echo "== wrk -t$THREADS -c$c -d$DURATION --latency on each task's gateway query (memory first, then the store)"
  load memory "$c" "$memory_url$query$memory_task"
  load store "$c" "$store_url$query$store_task"
done
# Each side's req/s, p50 and p99 at each count, the ratio, and the goal
# judged on each side's best req/s.
# shellcheck disable=SC2086 # one argument a connection count
python3 - "$work" $CONNECTIONS <<'EOF'
import re, sys
work, counts = sys.argv[1], sys.argv[2:]
def ms(v):
    n, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", v).groups()
    return float(n) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
def run(side, c):
    text = open(f"{work}/wrk-{side}-{c}.txt").read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    p50, p99 = (ms(re.search(rf"^\s+{q}%\s+(\S+)", text, re.M).group(1)) for q in (50, 99))
    errors = "; ".join(l.strip() for l in text.splitlines() if "Non-2xx" in l or "Socket errors" in l)
    return rps, p50, p99, errors or "none"
print(f"{'conns':<6} {'':<10} {'req/s':>12} {'p50 ms':>10} {'p99 ms':>10}  errors")
best = {"memory": 0.0, "store": 0.0}
for c in counts:
    rps = {}
    for side in ("memory", "store"):
        rps[side], p50, p99, errors = run(side, c)
        best[side] = max(best[side], rps[side])
        print(f"{c:<6} {side:<10} {rps[side]:>12.0f} {p50:>10.3f} {p99:>10.3f}  {errors}")
    print(f"       ratio store/memory at {c} connections: {rps['store'] / rps['memory']:.2f}")
r = best["store"] / best["memory"]
print(f"best req/s: store {best['store']:.0f}, memory {best['memory']:.0f}; "
      f"ratio {r:.2f} (goal >= 0.5: {'met' if r >= 0.5 else 'NOT met'})")
EOF
polls="$(curl -sf "$store_url/__mock/tasks/$store_task" | python3 -c 'import json, sys; print(json.load(sys.stdin)["polls"])')"
echo "polls the store counted for its task: $polls"

# Memory per task: TASKS submits through the store replica (16 keep-alive
# connections at once), Redis's used_memory before and after, with the
# journal (a capped stream, full after the load above) cleared on both sides
# so that only tasks are counted.
echo "== $TASKS submits through the store replica"
used_memory() { rcli info memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p'; }
curl -sf -X DELETE "$store_url/__mock/requests" >/dev/null
before="$(used_memory)"
python3 - "$store_url" "$TASKS" >"$work/submits.txt" <<'EOF'
import asyncio, sys, time
from urllib.parse import urlsplit
url, total = urlsplit(sys.argv[1]), int(sys.argv[2])
body = b'{"model": "MiniMax-Hailuo-02", "prompt": "A cat plays piano", "duration": 6, "resolution": "768P"}'
request = (b"POST /minimax/v1/video_generation HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
           b"Content-Length: %d\r\n\r\n%s" % (url.netloc.encode(), len(body), body))
left, statuses = total, {}
async def worker():
    global left
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    while left > 0:
        left -= 1
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = next(int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:"))
        await reader.readexactly(length)
        statuses[status] = statuses.get(status, 0) + 1
    writer.close()
async def main():
    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(16)))
    seconds = time.monotonic() - started
    others = ",".join(f"{k}:{v}" for k, v in sorted(statuses.items()) if k != 200) or "none"
    print(statuses.get(200, 0), f"{seconds:.1f}", f"{total / seconds:.0f}", others)
asyncio.run(main())
EOF
curl -sf -X DELETE "$store_url/__mock/requests" >/dev/null
after="$(used_memory)"
read -r created seconds rate others <"$work/submits.txt"
echo "submits answered 200: $created of $TASKS in $seconds s ($rate/s; other statuses: $others)"
python3 -c "import sys; b, a, n = map(int, sys.argv[1:]); print(f'redis used_memory: {b} -> {a} bytes: {(a - b) / max(n, 1):.0f} bytes per task')" \
  "$before" "$after" "$created"
echo "redis keys: $(rcli dbsize); $(rcli info memory | grep -E '^used_memory_human' | tr -d '\r')"

#!/usr/bin/env bash
# docker/check-static.sh: the static (musl) binary the Dockerfile ships runs
# from an empty root, as in a `FROM scratch` image, where no container
# engine is at hand. It builds the binary for x86_64-unknown-linux-musl (with
# `cargo zigbuild`: zig from PyPI is the C compiler and linker ring needs),
# checks it loads nothing (no interpreter, no dynamic section), and runs it
# in a root that holds only the binary, /dev/urandom and /etc/hosts (what
# every container runtime provides), in its own network and PID namespaces
# (unshare), as nobody (65534), as the image's USER. Then, from outside the
# root but inside the namespace, like a client of the container:
#   - `minimax-mock probe` (the image's HEALTHCHECK) and `probe
#     http://localhost:8080` (a name resolved through /etc/hosts) exit 0;
#   - the control API needs the token, and works with it;
#   - a task is submitted, polled to SUCCESS and its video downloaded;
#   - SIGTERM stops the server with status 0.
#
# Needs root (unshare, chroot, mknod), rustup (the musl target), and
# cargo-zigbuild with ziglang on PATH (pip install cargo-zigbuild ziglang).
# Prints the build time and the binary's size. Usage: docker/check-static.sh
set -euo pipefail
cd "$(dirname "$0")/.."

target=x86_64-unknown-linux-musl
fail() {
  echo "check-static: $*" >&2
  exit 1
}
[ "$(id -u)" = 0 ] || fail "needs root (unshare, chroot, mknod)"
for tool in cargo rustup cargo-zigbuild unshare chroot ip curl readelf; do
  command -v "$tool" >/dev/null || fail "$tool is not installed"
done
if ! rustup target list --installed | grep -qx "$target"; then
  echo "check-static: rustup target add $target"
  rustup target add "$target" || fail "the Rust standard library for $target cannot be installed"
fi

echo "== cargo zigbuild --release --target $target"
started=$(date +%s)
cargo zigbuild --release --locked --target "$target" --bin minimax-mock
built=$(($(date +%s) - started))
binary="${CARGO_TARGET_DIR:-target}/$target/release/minimax-mock"
size=$(stat -c %s "$binary")
echo "check-static: built in ${built} s, $size bytes"
if readelf -l "$binary" | grep -q INTERP; then fail "$binary asks for a dynamic loader"; fi
if readelf -d "$binary" | grep -q NEEDED; then fail "$binary needs shared libraries"; fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
root="$work/root"
mkdir -p "$root/dev" "$root/etc"
cp "$binary" "$root/minimax-mock"
mknod -m 444 "$root/dev/urandom" c 1 9
printf '127.0.0.1 localhost\n::1 localhost\n' >"$root/etc/hosts"
echo "check-static: the root holds: $(cd "$root" && find . -mindepth 1 -not -type d | sort | tr '\n' ' ')"

# Inside new network and PID namespaces: only loopback, nothing else to reach.
export ROOT="$root" LOG="$work/server.log" TOKEN="check-static-token-0001"
unshare --net --pid --fork --mount-proc bash -euo pipefail -c '
  ip link set lo up
  MINIMAX_MOCK_CONTROL_TOKEN="$TOKEN" chroot --userspec=65534:65534 "$ROOT" \
    /minimax-mock serve --host 0.0.0.0 --port 8080 --public-url http://localhost:8080 >"$LOG" 2>&1 &
  server=$!
  for _ in $(seq 200); do
    grep -q "^minimax-mock listening on " "$LOG" && break
    kill -0 "$server" 2>/dev/null || { cat "$LOG"; echo "check-static: the server exited" >&2; exit 1; }
    sleep 0.05
  done
  grep -q "^minimax-mock listening on http://0.0.0.0:8080$" "$LOG" || { cat "$LOG"; exit 1; }

  probe() { chroot --userspec=65534:65534 "$ROOT" /minimax-mock probe "$@"; }
  probe && echo "check-static: probe (the HEALTHCHECK) exit 0"
  probe http://localhost:8080 && echo "check-static: probe http://localhost:8080 exit 0 (/etc/hosts)"
  if probe http://localhost:8080/__mock/health 2>/dev/null; then
    echo "check-static: /__mock/health answered without the token" >&2; exit 1
  fi

  mock=http://127.0.0.1:8080
  code=$(curl -s -o /dev/null -w "%{http_code}" "$mock/__mock/tasks")
  [ "$code" = 401 ] || { echo "check-static: the control API without token: $code" >&2; exit 1; }
  curl -sf -H "Authorization: Bearer $TOKEN" "$mock/__mock/tasks/job-1" -X PUT -d "{\"scenario\": \"instant\"}" >/dev/null
  body=$(curl -sf "$mock/minimax/v1/query/video_generation?task_id=job-1")
  case "$body" in *"\"status\":\"SUCCESS\""*) ;; *) echo "check-static: $body" >&2; exit 1 ;; esac
  task=$(curl -sf "$mock/minimax/v1/video_generation" -H "Prefer: scenario=instant" \
    -d "{\"model\": \"MiniMax-Hailuo-02\", \"prompt\": \"x\"}" | sed -n "s/.*\"task_id\":\"\([0-9]*\)\".*/\1/p")
  [ -n "$task" ] || { echo "check-static: no task id" >&2; exit 1; }
  video=$(curl -sf "$mock/minimax/v1/query/video_generation?task_id=$task" | sed -n "s/.*\"download_url\":\"\([^\"]*\)\".*/\1/p")
  case "$video" in http://localhost:8080/*) ;; *) echo "check-static: download_url $video" >&2; exit 1 ;; esac
  bytes=$(curl -sf -o /dev/null -w "%{size_download}" "${video/localhost/127.0.0.1}")
  [ "$bytes" -gt 1000 ] || { echo "check-static: the video has $bytes bytes" >&2; exit 1; }
  echo "check-static: control API with the token, a task polled to SUCCESS, its video ($bytes bytes) downloaded"

  kill -TERM "$server"
  status=0
  wait "$server" || status=$?
  [ "$status" = 0 ] || { cat "$LOG"; echo "check-static: exit status $status after SIGTERM" >&2; exit 1; }
  echo "check-static: SIGTERM: exit status 0"
'
echo "check-static: ok: the static binary serves from an empty root"

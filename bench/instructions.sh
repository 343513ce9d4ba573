#!/usr/bin/env bash
# Instructions per request under callgrind, for every API surface beside a
# bare hyper server, in one run (examples/bench_instructions.rs). Needs
# valgrind (installed from Debian's packages if missing). Not part of CI.
#   MEASURED=3000 ONLY=v2 bench/instructions.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v valgrind >/dev/null; then
  echo "bench: installing valgrind" >&2
  apt-get update -qq && apt-get install -y -qq valgrind >/dev/null
fi
cargo build --release --quiet --bin minimax-mock --example bare --example bench_instructions
target="${CARGO_TARGET_DIR:-target}/release"
TARGET_DIR="$target" exec "$target/examples/bench_instructions"

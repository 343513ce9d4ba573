#!/usr/bin/env bash
# See examples/bench_tasks.rs. Needs wrk (installed from Debian's packages if missing). Not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null; then
  echo "bench: installing wrk" >&2
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
cargo build --release --quiet --bin minimax-mock --example bench_tasks
exec target/release/examples/bench_tasks

#!/usr/bin/env bash
# Benchmark of `minimax-mock serve` against a bare hyper server in the same run.
# Needs wrk (installed from Debian's packages if missing). Not part of CI.
#   DURATION=10s CONNECTIONS=50 THREADS=2 bench/serve.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null; then
  echo "bench: installing wrk" >&2
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
cargo build --release --quiet --bin minimax-mock --example bare --example bench_serve
exec target/release/examples/bench_serve

#!/usr/bin/env bash
# Benchmark of `minimax-mock proxy` against the same upstream (`serve`) asked
# directly, in the same run: p50/p99 at a fixed rate well below saturation
# (open-loop, latency from when each request was due), then saturated req/s.
# Load generator, proxy and upstream share the machine's cores. Not part of CI.
#   RATE=1000 DURATION=10 ROUNDS=3 CONNECTIONS=32 bench/proxy.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin minimax-mock --example bench_proxy
target="${CARGO_TARGET_DIR:-target}"
BIN="${BIN:-$target/release/minimax-mock}" exec "$target/release/examples/bench_proxy"

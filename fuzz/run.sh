#!/usr/bin/env bash
# Runs the fuzz targets one after the other, each for SECONDS (default 60):
#
#   fuzz/run.sh SECONDS [TARGET...]
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`); runs on the stable toolchain
# with RUSTC_BOOTSTRAP=1 (cargo-fuzz passes nightly-only sanitizer flags).
# Each target starts from its seeds in fuzz/corpus/TARGET (kept in git), with
# the tokens of fuzz/dict/TARGET.dict if there is one, and grows its own
# corpus in fuzz/work/TARGET (not kept); a crash is written to
# fuzz/artifacts/TARGET/ and stops the run with the reproducing command.
# A log per target is left in fuzz/logs/.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(RUSTC_BOOTSTRAP=1 cargo fuzz list)
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "run.sh: cargo-fuzz is not installed: cargo install cargo-fuzz" >&2
  exit 1
fi
export RUSTC_BOOTSTRAP=1
mkdir -p logs
for target in "${targets[@]}"; do
  mkdir -p "work/$target" "corpus/$target"
  echo "== $target: ${seconds}s"
  dict=()
  if [ -f "dict/$target.dict" ]; then dict=(-dict="dict/$target.dict"); fi
  # One job: the machine's other core is for whatever else is building.
  if ! cargo fuzz run "$target" "work/$target" "corpus/$target" -- \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 "${dict[@]}" \
      >"logs/$target.log" 2>&1; then
    tail -n 40 "logs/$target.log" >&2
    echo "run.sh: $target failed; reproduce with: cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run $target artifacts/$target/FILE" >&2
    exit 1
  fi
  grep -E '^stat::number_of_executed_units|^stat::new_units_added|Done [0-9]+ runs' "logs/$target.log" | tr '\n' ' '
  echo
done

#!/usr/bin/env bash
# npm/pack.sh OUTDIR: writes the launcher package (minimax-mock) and this
# machine's platform package (@minimax-mock/linux-x64-gnu, …) into OUTDIR
# as `npm pack` tarballs, ready for `npm install OUTDIR/*.tgz`.
#
# The binary: MINIMAX_MOCK_BINARY if set; else a release build already in
# the target directory (CARGO_TARGET_DIR, default target/) that is newer
# than every source file: maturin's (target/<triple>/release) or cargo's
# (target/release); else `cargo build --release --locked` makes one.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: npm/pack.sh OUTDIR" >&2
  exit 2
fi
root="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$1"
out="$(cd "$1" && pwd)"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
case "$target_dir" in /*) ;; *) target_dir="$PWD/$target_dir" ;; esac

for tool in node npm; do
  if ! command -v "$tool" >/dev/null; then
    echo "npm/pack.sh: $tool is not installed" >&2
    exit 1
  fi
done
key="$(node "$root/npm/generate.mjs" host)"
rust_target="$(node "$root/npm/generate.mjs" list | awk -v key="$key" '$1 == key { print $2 }')"
if [ -z "$rust_target" ]; then
  echo "npm/pack.sh: no platform package for $key (see npm/generate.mjs)" >&2
  exit 1
fi
exe=minimax-mock
case "$key" in win32-*) exe=minimax-mock.exe ;; esac

# Built from the sources as they are: nothing that goes into it is newer.
fresh() {
  [ -x "$1" ] || return 1
  [ -z "$(cd "$root" && find src schemas fixtures build.rs Cargo.toml Cargo.lock -newer "$1" -print -quit)" ]
}

binary="${MINIMAX_MOCK_BINARY:-}"
if [ -z "$binary" ]; then
  for candidate in "$target_dir/$rust_target/release/$exe" "$target_dir/release/$exe"; do
    if fresh "$candidate" && { [ -z "$binary" ] || [ "$candidate" -nt "$binary" ]; }; then
      binary="$candidate"
    fi
  done
fi
if [ -z "$binary" ]; then
  echo "npm/pack.sh: no fresh release binary in $target_dir: cargo build --release --locked" >&2
  (cd "$root" && cargo build --release --locked)
  binary="$target_dir/release/$exe"
fi
echo "npm/pack.sh: $key package with $binary" >&2

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
node "$root/npm/generate.mjs" platforms "$stage/platforms" "$key" >/dev/null
cp "$binary" "$stage/platforms/$key/bin/$exe"
chmod 755 "$stage/platforms/$key/bin/$exe"
node "$root/npm/generate.mjs" launcher "$stage/launcher" >/dev/null
for dir in "$stage/platforms/$key" "$stage/launcher"; do
  (cd "$dir" && npm pack --silent --pack-destination "$out" >/dev/null)
done
ls -l "$out"/*.tgz | awk '{ print $5, $NF }'

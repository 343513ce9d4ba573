#!/usr/bin/env bash
# The OpenAPI document against the live mock, with Python's tools (not part of CI):
#   1. openapi-spec-validator: every variant of the document is valid OpenAPI 3.1;
#   2. Schemathesis: the mock, started on a free port, answers as its own
#      /openapi.json says, once as `serve` starts by default and once with
#      --require-auth (and a token sent).
# Every check runs but positive_data_acceptance (schema-valid requests being
# accepted): the model table and the control API's rules refuse bodies that a
# schema allows. MiniMax's native API refuses with HTTP 200 and a non-zero
# base_resp.status_code, so negative_data_rejection there is the one in
# bench/schemathesis/hooks.py, which accepts that answer too. In the
# --require-auth run ignored_auth is off as well: --require-auth asks for a
# token, any token (docs/flags.md), and that check wants a made-up one refused;
# a missing one is answered 401, as tests/it/openapi.rs checks.
#
# Installs schemathesis and openapi-spec-validator from PyPI into a venv
# ($VENV, default target/schemathesis-venv) the first time.
#   MAX_EXAMPLES=100 SEED=1 bench/schemathesis.sh
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-target}
VENV=${VENV:-$TARGET/schemathesis-venv}
MAX_EXAMPLES=${MAX_EXAMPLES:-100}
SEED=${SEED:-1}
OUT=$TARGET/schemathesis
mkdir -p "$OUT"
VENV=$(realpath -m "$VENV")
OUT=$(realpath -m "$OUT")

if [ ! -x "$VENV/bin/schemathesis" ] || [ ! -x "$VENV/bin/openapi-spec-validator" ]; then
  echo "schemathesis: installing schemathesis and openapi-spec-validator into $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
  "$VENV/bin/pip" install --quiet schemathesis openapi-spec-validator
fi
echo "== $("$VENV/bin/schemathesis" --version), openapi-spec-validator $("$VENV/bin/pip" show openapi-spec-validator | sed -n 's/^Version: //p')"

cargo build --release --quiet --bin minimax-mock
BIN=$TARGET/release/minimax-mock

echo "== openapi-spec-validator (OpenAPI 3.1)"
for flags in "" "--require-auth" "--no-control" "--gateway-query native"; do
  # shellcheck disable=SC2086
  "$BIN" openapi $flags > "$OUT/openapi.json"
  printf 'minimax-mock openapi %-24s ' "$flags"
  "$VENV/bin/openapi-spec-validator" "$OUT/openapi.json"
done

MOCK_PID=
stop_mock() {
  if [ -n "$MOCK_PID" ]; then
    kill "$MOCK_PID" 2>/dev/null || true
    wait "$MOCK_PID" 2>/dev/null || true
    MOCK_PID=
  fi
}
trap stop_mock EXIT

# run NAME EXCLUDED_CHECKS [serve flags...] -- [schemathesis flags...]
run() {
  local name=$1 excluded=$2
  shift 2
  local serve=() extra=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do serve+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  extra=("$@")
  "$BIN" serve --port 0 --quiet "${serve[@]}" > "$OUT/$name.ready" 2> "$OUT/$name.log" &
  MOCK_PID=$!
  for _ in $(seq 200); do grep -q listening "$OUT/$name.ready" 2>/dev/null && break; sleep 0.05; done
  local mock
  mock=$(sed 's/.* //' "$OUT/$name.ready")
  echo "== schemathesis, serve ${serve[*]:-(defaults)}: $mock/openapi.json"
  # One worker: CPython 3.11.7's ast.parse is not thread-safe under
  # Hypothesis ("AST constructor recursion depth mismatch").
  # From $OUT, where Schemathesis keeps its cache.
  local status=0 here
  here=$(pwd)
  (cd "$OUT" && SCHEMATHESIS_HOOKS=hooks PYTHONPATH="$here/bench/schemathesis" PYTHONDONTWRITEBYTECODE=1 \
    "$VENV/bin/schemathesis" --config-file "$here/bench/schemathesis/schemathesis.toml" run "$mock/openapi.json" \
    --exclude-checks "$excluded" \
    --max-examples "$MAX_EXAMPLES" --seed "$SEED" --workers 1 \
    --report junit --report-junit-path "$name.junit.xml" \
    "${extra[@]}") || status=$?
  stop_mock
  return $status
}

failed=0
run defaults positive_data_acceptance || failed=1
run require-auth positive_data_acceptance,ignored_auth --require-auth -- \
  --header "Authorization: Bearer schemathesis" || failed=1
exit $failed

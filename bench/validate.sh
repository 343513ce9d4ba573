#!/usr/bin/env bash
# Benchmark of `minimax-mock validate` against the I/O floor (`cat`) and its
# peers. Not part of CI or `cargo test`: run it by hand, on a quiet machine.
#
#   bench/validate.sh             # ours and cat, plus the peers already installed
#   bench/validate.sh --install   # first install the peers into $PEERS_DIR (default:
#                                 # the temp dir): check-jsonschema and jsonschema-rs
#                                 # from PyPI, ajv-cli and ajv-formats from npm
#
# It generates its own corpus in a temp dir: 10,000 query responses, one a
# file (10% invalid), and an NDJSON file of 100,000 of them (10% invalid).
# Every tool's verdicts are checked: the count of invalid documents it finds
# must be the expected one, or the run fails. Timings come from hyperfine when
# it is installed (apt-get install hyperfine), else from plain timing; either
# way the targets are judged on the fastest of $RUNS runs (the machine is
# shared: the minimum is what the tool can do, the mean is printed beside it).
#
# Targets (issue 3): the 10,000 files in at most 1.5x the `cat` time, and at
# least 300,000 NDJSON lines a second.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=${RUNS:-5}
INSTALL=0
[[ ${1:-} == --install ]] && INSTALL=1

WORK=$(mktemp -d "${TMPDIR:-/tmp}/validate-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
echo "work dir: $WORK"

echo "== building (release)"
cargo build --release --quiet
BIN=$ROOT/target/release/minimax-mock

echo "== generating the corpus"
python3 - "$WORK" "$ROOT/fixtures/query_video_generation.response" <<'PY'
import copy, json, os, random, sys
work, fixtures = sys.argv[1], sys.argv[2]
random.seed(3)
bases = []
for scenario in ("success", "fail", "slow"):
    d = os.path.join(fixtures, scenario)
    for name in sorted(os.listdir(d)):
        with open(os.path.join(d, name)) as f:
            bases.append(json.load(f))

def corrupt(doc, how):
    t = doc["data"]
    if how == 0:
        t["data"]["file"]["file_id"] = str(t["data"]["file"]["file_id"])
    elif how == 1:
        del t["progress"]
    elif how == 2:
        t["submit_time"] = str(t["submit_time"])
    elif how == 3:
        del t["data"]["base_resp"]
    else:
        doc["code"] = 0

def document(i, invalid):
    doc = copy.deepcopy(bases[i % len(bases)])
    task_id = str(325075426377387 + i)
    doc["data"]["task_id"] = task_id
    doc["data"]["data"]["task_id"] = task_id
    doc["data"]["submit_time"] += i
    if doc["data"]["start_time"]:
        doc["data"]["start_time"] += i
    if doc["data"]["finish_time"]:
        doc["data"]["finish_time"] += i
    if invalid:
        corrupt(doc, i % 5)
    return doc

files = os.path.join(work, "files")
os.makedirs(files)
for i in range(10_000):
    with open(os.path.join(files, f"{i:05d}.json"), "w") as f:
        json.dump(document(i, i % 10 == 0), f, indent=2)
with open(os.path.join(work, "lines.ndjson"), "w") as f:
    for i in range(100_000):
        f.write(json.dumps(document(i, i % 10 == 0), separators=(",", ":")))
        f.write("\n")
PY
FILES=$WORK/files
NDJSON=$WORK/lines.ndjson
SCHEMA=$ROOT/schemas/query_video_generation.response.schema.json
echo "files: $(ls "$FILES" | wc -l), $(du -sh "$FILES" | cut -f1); ndjson: $(wc -l <"$NDJSON") lines, $(du -h "$NDJSON" | cut -f1)"

# ---------------------------------------------------------------- the peers
# PEERS_DIR keeps the installed peers between runs (default: the temp dir).
PEERS=${PEERS_DIR:-$WORK/peers}
if ((INSTALL)); then
  echo "== installing the peers into $PEERS"
  python3 -m venv "$PEERS/venv"
  "$PEERS/venv/bin/pip" install --quiet check-jsonschema jsonschema-rs
  npm install --silent --prefix "$PEERS/npm" ajv-cli ajv-formats >/dev/null
fi
CHECK_JSONSCHEMA=$(command -v check-jsonschema || true)
[[ -x $PEERS/venv/bin/check-jsonschema ]] && CHECK_JSONSCHEMA=$PEERS/venv/bin/check-jsonschema
AJV=$(command -v ajv || true)
[[ -x $PEERS/npm/node_modules/.bin/ajv ]] && AJV=$PEERS/npm/node_modules/.bin/ajv
PYTHON=python3
[[ -x $PEERS/venv/bin/python ]] && PYTHON=$PEERS/venv/bin/python
HAVE_JSONSCHEMA_RS=0
"$PYTHON" -c 'import jsonschema_rs' 2>/dev/null && HAVE_JSONSCHEMA_RS=1

# jsonschema-rs, the Python binding: the same work as ours, one process.
cat >"$WORK/jsonschema_rs_bench.py" <<'PY'
import glob, json, sys, time
import jsonschema_rs
schema_path, mode, target = sys.argv[1:4]
with open(schema_path) as f:
    validator = jsonschema_rs.validator_for(json.load(f))
invalid = 0
if mode == "files":
    for path in sorted(glob.glob(target + "/*.json")):
        with open(path, "rb") as f:
            invalid += not validator.is_valid(json.loads(f.read()))
else:
    with open(target, "rb") as f:
        for line in f:
            if line.strip():
                invalid += not validator.is_valid(json.loads(line))
print(invalid)
PY

# ------------------------------------------------------------ verdict checks
fail=0
expect() { # name got want
  if [[ $2 == "$3" ]]; then
    echo "  verdicts ok: $1 found $2 invalid"
  else
    echo "  WRONG VERDICTS: $1 found $2 invalid, expected $3" >&2
    fail=1
  fi
}
echo "== checking verdicts"
expect "minimax-mock (files)" "$("$BIN" validate --format json "$FILES" | grep -c '"valid":false' || true)" 1000
expect "minimax-mock (ndjson)" "$("$BIN" validate --format json "$NDJSON" | grep -c '"valid":false' || true)" 10000
if [[ -n $AJV ]]; then
  expect "ajv-cli (files)" "$("$AJV" validate --spec=draft2020 -c ajv-formats -s "$SCHEMA" -d "$FILES/*.json" 2>&1 | grep -c ' invalid$' || true)" 1000
fi
if [[ -n $CHECK_JSONSCHEMA ]]; then
  # One "file::$.path: message" line per error; every corrupt file has exactly one.
  expect "check-jsonschema (files)" "$("$CHECK_JSONSCHEMA" --schemafile "$SCHEMA" "$FILES"/*.json 2>&1 | grep -o "^  $FILES/[0-9]*.json" | sort -u | wc -l)" 1000
fi
if ((HAVE_JSONSCHEMA_RS)); then
  expect "jsonschema-rs (files)" "$("$PYTHON" "$WORK/jsonschema_rs_bench.py" "$SCHEMA" files "$FILES")" 1000
  expect "jsonschema-rs (ndjson)" "$("$PYTHON" "$WORK/jsonschema_rs_bench.py" "$SCHEMA" ndjson "$NDJSON")" 10000
fi

# ------------------------------------------------------------------ timings
declare -A NAMES=() SECONDS_OF=()
ORDER=()
add() { ORDER+=("$1"); NAMES[$1]=$2; }
add cat "cat $FILES/*.json > /dev/null"
add ours "$BIN validate $FILES > /dev/null"
[[ -n $AJV ]] && add ajv "$AJV validate --spec=draft2020 -c ajv-formats -s $SCHEMA -d '$FILES/*.json' > /dev/null 2>&1"
[[ -n $CHECK_JSONSCHEMA ]] && add check-jsonschema "$CHECK_JSONSCHEMA --schemafile $SCHEMA $FILES/*.json > /dev/null 2>&1"
((HAVE_JSONSCHEMA_RS)) && add jsonschema-rs "$PYTHON $WORK/jsonschema_rs_bench.py $SCHEMA files $FILES > /dev/null"
add ours-ndjson "$BIN validate $NDJSON > /dev/null"
((HAVE_JSONSCHEMA_RS)) && add jsonschema-rs-ndjson "$PYTHON $WORK/jsonschema_rs_bench.py $SCHEMA ndjson $NDJSON > /dev/null"

measure() { # key -> "min mean" in seconds
  local cmd=${NAMES[$1]}
  if command -v hyperfine >/dev/null; then
    # -i: a validator exits 1 on this corpus (10% invalid); its verdicts were checked above.
    hyperfine --style none --warmup 1 --runs "$RUNS" -i --export-json "$WORK/$1.json" "bash -c \"$cmd\"" >/dev/null 2>"$WORK/$1.err"
    python3 -c 'import json,sys; r = json.load(open(sys.argv[1]))["results"][0]; print("%.4f %.4f" % (r["min"], r["mean"]))' "$WORK/$1.json"
  else
    local best=999999 sum=0 t
    bash -c "$cmd" || true # warm-up
    for ((r = 0; r < RUNS; r++)); do
      local start end
      start=$(date +%s.%N)
      bash -c "$cmd" || true
      end=$(date +%s.%N)
      t=$(echo "$end - $start" | bc -l)
      sum=$(echo "$sum + $t" | bc -l)
      (($(echo "$t < $best" | bc -l))) && best=$t
    done
    printf '%.4f %.4f\n' "$best" "$(echo "$sum / $RUNS" | bc -l)"
  fi
}

echo "== timing ($(command -v hyperfine >/dev/null && echo hyperfine || echo "plain timing"), $RUNS runs)"
printf '  %-22s %8s %8s\n' "" "min" "mean"
for key in "${ORDER[@]}"; do
  read -r min mean < <(measure "$key")
  SECONDS_OF[$key]=$min
  printf '  %-22s %8.3f %8.3f s\n' "$key" "$min" "$mean"
done

echo "== against the targets"
ratio=$(echo "${SECONDS_OF[ours]} / ${SECONDS_OF[cat]}" | bc -l)
printf '  10,000 files: %.3f s, %.2fx cat (target <= 1.5x)\n' "${SECONDS_OF[ours]}" "$ratio"
(($(echo "$ratio <= 1.5" | bc -l))) || { echo "  MISSED: files slower than 1.5x cat" >&2; fail=1; }
if [[ -n ${SECONDS_OF[ajv]:-} ]]; then
  printf '  ajv-cli / ours: %.2fx (target >= 2.5x)\n' "$(echo "${SECONDS_OF[ajv]} / ${SECONDS_OF[ours]}" | bc -l)"
fi
[[ -n ${SECONDS_OF[check-jsonschema]:-} ]] &&
  printf '  check-jsonschema / ours: %.2fx\n' "$(echo "${SECONDS_OF[check-jsonschema]} / ${SECONDS_OF[ours]}" | bc -l)"
rate=$(echo "100000 / ${SECONDS_OF[ours-ndjson]}" | bc -l)
printf '  NDJSON: %.0f lines/s (target >= 300,000)\n' "$rate"
(($(echo "$rate >= 300000" | bc -l))) || { echo "  MISSED: NDJSON under 300,000 lines/s" >&2; fail=1; }
[[ -n ${SECONDS_OF[jsonschema-rs-ndjson]:-} ]] &&
  printf '  jsonschema-rs (Python) NDJSON: %.0f lines/s\n' "$(echo "100000 / ${SECONDS_OF[jsonschema-rs-ndjson]}" | bc -l)"
exit "$fail"

#!/usr/bin/env bash
# Runs every exported CSV under bench/results/torch-csv (compute_only) and
# torch-csv/comms (compute_comms) on PyTorch's own pipeline runtime through
# torch_csv_check_placed.py, TORCH_CSV_CHECK_JOBS (default 4) checks at a time, each with a time limit so
# a hung gloo exchange cannot eat the whole device lease.
#   TORCH_CSV_CHECK_DIR=<dir with torch_csv_check.py> bash bench/torch/run-all.sh OUT_DIR [SECONDS_PER_CHECK]
# Writes OUT_DIR/results.jsonl (one line per CSV and format) and
# OUT_DIR/logs/<csv>.<format>/ (stderr, per-rank tracebacks and action lists).
set -u
here=$(cd "$(dirname "$0")" && pwd)
csv_dir=$(cd "$here/../results/torch-csv" && pwd)
out=${1:?usage: run-all.sh OUT_DIR [SECONDS_PER_CHECK]}
limit=${2:-150}
mkdir -p "$out/logs"
out=$(cd "$out" && pwd)

check_one() {
  local format=$1 csv=$2 name log rc
  name=$(basename "$csv" .csv)
  log="$out/logs/$name.$format"
  mkdir -p "$log"
  TORCH_CSV_CHECK_LOG_DIR="$log" PYTHONUNBUFFERED=1 timeout -k 5 "$limit" \
    python3 "$here/torch_csv_check_placed.py" "$csv" --format "$format" >"$log/result.json" 2>"$log/stderr.txt"
  rc=$?
  # A check killed at its limit prints nothing; record it as a hang rather than losing the row.
  if [ ! -s "$log/result.json" ]; then
    printf '{"csv": "%s", "format": "%s", "ok": false, "error": ["no result (exit %s%s)"]}\n' \
      "$name.csv" "$format" "$rc" "$([ "$rc" = 124 ] && echo ", stopped after ${limit} s")" >"$log/result.json"
  fi
}
export -f check_one
export out limit here

{
  for f in "$csv_dir"/*.csv; do echo "compute_only $f"; done
  for f in "$csv_dir"/comms/*.csv; do echo "compute_comms $f"; done
} | xargs -P "${TORCH_CSV_CHECK_JOBS:-4}" -L 1 bash -c 'check_one "$0" "$1"'

for d in "$out"/logs/*/; do
  format=$(basename "$d"); format=${format##*.}
  # Tag each line with its format (the checker's JSON does not carry it).
  python3 -c 'import json,sys; r=json.loads(open(sys.argv[1]).read().strip().splitlines()[-1]); r.setdefault("format", sys.argv[2]); r["csv"]=sys.argv[3]; print(json.dumps(r))' \
    "$d/result.json" "$format" "$(basename "$d" ".$format").csv" || echo "{\"csv\": \"$d\", \"ok\": false, \"error\": [\"unreadable result\"]}"
done >"$out/results.jsonl"
cat "$out/results.jsonl"

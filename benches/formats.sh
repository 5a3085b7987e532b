#!/usr/bin/env bash
# Input containers against plain JSONL: the same posts as JSONL, gzip-compressed JSONL, Parquet
# (written by pyarrow, snappy, as Spark and pandas write it) and CSV, classified with the release
# binary in alternating rounds, so each format's cost shows against the same run's JSONL.
#   benches/formats.sh [ROWS] [ROUNDS]     (default: 100000 2; needs python3 with pyarrow)
. "$(dirname "$0")/common.sh"
n=${1:-100000}
rounds=${2:-2}
posts "$n" "$work/in.jsonl"
gzip -k -6 "$work/in.jsonl"
python3 - "$work" <<'PY'
import sys, pyarrow.json as pj, pyarrow.parquet as pq, pyarrow.csv as pc
work = sys.argv[1]
t = pj.read_json(f"{work}/in.jsonl")
pq.write_table(t, f"{work}/in.parquet", compression="snappy")
pc.write_csv(t, f"{work}/in.csv")
PY
printf '%-14s %8s' input MB; for r in $(seq "$rounds"); do printf ' %10s' "round $r s"; done; echo
declare -A times
for r in $(seq "$rounds"); do
  for f in in.jsonl in.jsonl.gz in.parquet in.csv; do
    timed "$bin" classify "$work/$f" -o "$work/out.jsonl" --quiet
    [ "$(wc -l < "$work/out.jsonl")" -eq "$n" ] || { echo "$f: expected $n rows" >&2; exit 1; }
    times[$f]="${times[$f]:-} $secs"
  done
done
for f in in.jsonl in.jsonl.gz in.parquet in.csv; do
  printf '%-14s %8.1f' "$f" "$(echo "$(stat -c %s "$work/$f") / 1000000" | bc -l)"
  for s in ${times[$f]}; do printf ' %10s' "$s"; done; echo
done

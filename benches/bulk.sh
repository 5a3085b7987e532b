#!/usr/bin/env bash
# Bulk run: classifies generated dumps of 10k and 1M rows with the release binary and reports
# rows/s and peak RSS, to show that memory stays flat however long the input is.
#   benches/bulk.sh [ROWS...]       (default: 10000 1000000)
. "$(dirname "$0")/common.sh"
sizes=("${@:-10000 1000000}")
# shellcheck disable=SC2206
sizes=(${sizes[*]})
printf '%-10s %12s %12s %14s\n' rows seconds rows/s "peak RSS (MB)"
for n in "${sizes[@]}"; do
  posts "$n" "$work/in.jsonl"
  timed "$bin" classify "$work/in.jsonl" -o "$work/out.jsonl" --quiet
  rows=$(wc -l < "$work/out.jsonl")
  [ "$rows" -eq "$n" ] || { echo "expected $n output rows, got $rows" >&2; exit 1; }
  printf '%-10s %12s %12.0f %14.1f\n' "$n" "$secs" "$(echo "$n / $secs" | bc -l)" "$rss_mb"
done

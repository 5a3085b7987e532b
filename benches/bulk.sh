#!/usr/bin/env bash
# Bulk run: classifies generated dumps of 10k and 1M rows with the release binary and reports
# rows/s and peak RSS, to show that memory stays flat however long the input is.
#   benches/bulk.sh [ROWS...]       (default: 10000 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=target/release/pantau
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sizes=("${@:-10000 1000000}")
# shellcheck disable=SC2206
sizes=(${sizes[*]})
printf '%-10s %12s %12s %14s\n' rows seconds rows/s "peak RSS (MB)"
for n in "${sizes[@]}"; do
  # Real posts from all splits, cycled, each with a row id: a realistic mix of lengths.
  python3 - "$n" "$work/in.jsonl" <<'PY'
import json, sys, itertools
n, out = int(sys.argv[1]), sys.argv[2]
texts = [json.loads(l)["text"] for f in ("data/train.jsonl", "data/dev.jsonl", "data/test.jsonl") for l in open(f, encoding="utf-8")]
with open(out, "w", encoding="utf-8") as f:
    for i, t in zip(range(n), itertools.cycle(texts)):
        f.write(json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n")
PY
  /usr/bin/time -f '%e %M' -o "$work/time" "$bin" classify "$work/in.jsonl" -o "$work/out.jsonl" --quiet
  read -r secs kb < "$work/time"
  rows=$(wc -l < "$work/out.jsonl")
  [ "$rows" -eq "$n" ] || { echo "expected $n output rows, got $rows" >&2; exit 1; }
  printf '%-10s %12s %12.0f %14.1f\n' "$n" "$secs" "$(echo "$n / $secs" | bc -l)" "$(echo "$kb / 1024" | bc -l)"
done

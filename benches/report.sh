#!/usr/bin/env bash
# `pantau report` on a 1,000,000-row classified file: wall time and peak RSS (the report is one
# streaming pass, so memory should not grow with the file).
#   benches/report.sh [ROWS]
. "$(dirname "$0")/common.sh"
n=${1:-1000000}
# Classify 20,000 posts once (one in ten flagged-like, with explanations), then repeat the rows
# with accounts and dates to n rows.
mixed 20000 "$work/in.jsonl"
"$bin" classify "$work/in.jsonl" -o "$work/classified.jsonl" --explain --quiet
python3 - "$work/classified.jsonl" "$work/big.jsonl" "$n" <<'PY'
import json, sys
rows = open(sys.argv[1], encoding="utf-8").read().splitlines()
with open(sys.argv[2], "w", encoding="utf-8") as f:
    for i in range(int(sys.argv[3])):
        r = json.loads(rows[i % len(rows)])
        r.update(row=i + 1, akun=f"akun{i % 5000}", waktu=f"2024-02-{1 + i % 28:02d}T10:00")
        f.write(json.dumps(r, ensure_ascii=False) + "\n")
PY
timed "$bin" report "$work/big.jsonl" --by akun --date-field waktu -o "$work/report.html"
printf 'rows %s, %s MB in, %s s, peak RSS %.1f MB\n' "$n" "$(( $(stat -c %s "$work/big.jsonl") / 1000000 ))" "$secs" "$rss_mb"

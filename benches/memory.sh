#!/usr/bin/env bash
# Peak memory on huge rows: one 200 MB line (text and JSONL) and 4,096 posts of 200 KB, classified
# with the release binary. Rows are capped in bytes while read (--max-row-bytes, default 4 MiB) and
# windows in bytes as well as rows, so neither case should cost more than ~100 MB.
#   benches/memory.sh
. "$(dirname "$0")/common.sh"
python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
word = "kampanye damai ayo jaga netralitas asn "
line = (word * (200_000_000 // len(word)))[:200_000_000]
with open(f"{work}/one_line.txt", "w") as f:
    f.write(line + "\nSelamat pagi\n")
with open(f"{work}/one_line.jsonl", "w") as f:
    f.write(json.dumps({"text": line}) + "\n" + json.dumps({"text": "Selamat pagi"}) + "\n")
post = (word * (200_000 // len(word)))[:200_000]
with open(f"{work}/long_posts.jsonl", "w") as f:
    for i in range(4096):
        f.write(json.dumps({"id": i, "text": post}) + "\n")
PY
printf '%-34s %8s %10s %14s\n' input "MB" seconds "peak RSS (MB)"
for f in one_line.txt one_line.jsonl long_posts.jsonl; do
  timed "$bin" classify "$work/$f" -o "$work/out.jsonl" --quiet
  mb=$(( $(stat -c %s "$work/$f") / 1000000 ))
  printf '%-34s %8s %10s %14.1f\n' "$f ($(wc -l < "$work/out.jsonl") rows out)" "$mb" "$secs" "$rss_mb"
done

# Shared by the bench scripts (sourced): run from the project root with the release binary built,
# a scratch directory in $work removed on exit, and timed runs through `timed`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --release --quiet
bin=target/release/pantau
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# timed CMD...: runs CMD, leaving its wall seconds in $secs, its CPU seconds (user + system, which
# a busy shared machine disturbs less than wall time) in $cpu and peak RSS (MB) in $rss_mb.
timed() {
  /usr/bin/time -f '%e %M %U %S' -o "$work/time" "$@"
  local kb user sys
  read -r secs kb user sys < "$work/time"
  cpu=$(echo "$user + $sys" | bc -l)
  rss_mb=$(echo "$kb / 1024" | bc -l)
}

# posts N FILE: N posts cycled from every split, each with a row id, as JSONL.
posts() {
  python3 - "$1" "$2" <<'PY'
import json, sys, itertools
n, out = int(sys.argv[1]), sys.argv[2]
texts = [json.loads(l)["text"] for f in ("data/train.jsonl", "data/dev.jsonl", "data/test.jsonl") for l in open(f, encoding="utf-8")]
with open(out, "w", encoding="utf-8") as f:
    for i, t in zip(range(n), itertools.cycle(texts)):
        f.write(json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n")
PY
}

# mixed N FILE: N posts from train and dev, one in ten drawn from promotional or campaigning rows
# (so about a tenth are flagged), the rest neutral, seeded, as JSONL with a row id.
mixed() {
  python3 - "$1" "$2" <<'PY'
import json, random, sys
n, out = int(sys.argv[1]), sys.argv[2]
rows = [json.loads(l) for f in ("data/train.jsonl", "data/dev.jsonl") for l in open(f, encoding="utf-8")]
neutral = [r["text"] for r in rows if r["label"] == "neutral"]
flag = [r["text"] for r in rows if r["label"] != "neutral"]
random.seed(1)
with open(out, "w", encoding="utf-8") as f:
    for i in range(n):
        t = random.choice(flag) if i % 10 == 0 else random.choice(neutral)
        f.write(json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n")
PY
}

#!/usr/bin/env bash
# What `classify --explain` costs: 20,000 posts, one in ten drawn from promotional or campaigning
# rows (so about a tenth are flagged), classified without explanations, with the default gradient
# explanations and with word occlusion, in alternating rounds.
#   benches/explain.sh [ROUNDS]
. "$(dirname "$0")/common.sh"
rounds=${1:-2}
mixed 20000 "$work/in.jsonl"
for r in $(seq "$rounds"); do
  for run in plain gradient occlusion; do
    case $run in
      plain) args=() ;;
      gradient) args=(--explain) ;;
      occlusion) args=(--explain --explain-method occlusion) ;;
    esac
    timed "$bin" classify "$work/in.jsonl" -o "$work/out.jsonl" --quiet "${args[@]}"
    flagged=$(grep -c '"flagged":true' "$work/out.jsonl")
    printf 'round %s  %-10s %6.2f s  %6.0f rows/s  cpu %6.2f s  (%s flagged)\n' "$r" "$run" \
      "$secs" "$(echo "20000 / $secs" | bc -l)" "$cpu" "$flagged"
    echo "$run $secs $cpu" >> "$work/times"
  done
done
# Totals over the rounds, and each run against plain classification.
awk '{ wall[$1] += $2; cpu[$1] += $3 }
     END { for (r in wall) printf "total %-10s wall %7.2f s (%.2fx)  cpu %7.2f s (%.2fx)\n",
           r, wall[r], wall[r] / wall["plain"], cpu[r], cpu[r] / cpu["plain"] }' "$work/times" | sort

# Fidelity on the flagged posts of data/test.jsonl: how often removing each method's top word
# lowers the label's probability, the mean fall in log-odds, and how often the two methods agree.
for m in gradient occlusion; do
  "$bin" classify data/test.jsonl --participants data/participants-corpus.csv --explain \
    --explain-method "$m" -o "$work/test-$m.jsonl" --quiet
done
python3 - "$work" <<'PY'
import json, math, sys
work = sys.argv[1]
def rows(path):
    return [json.loads(l) for l in open(path, encoding="utf-8")]
def without(text, unit):
    ws, parts = text.split(), unit.split(" ")
    for i in range(len(ws)):
        if ws[i:i + len(parts)] == parts:
            return " ".join(ws[:i] + ws[i + len(parts):])
    return None
def logit(p):
    p = min(max(p, 1e-7), 1 - 1e-7)
    return math.log(p / (1 - p))
tops = {}
for m in ("gradient", "occlusion"):
    probe, keep = [], []
    for r in rows(f"{work}/test-{m}.jsonl"):
        if r["explanation"]:
            rest = without(r["text"], r["explanation"][0]["word"])
            if rest and rest.strip():
                probe.append(rest)
                keep.append(r)
    tops[m] = {r["id"]: r["explanation"][0]["word"] for r in keep}
    with open(f"{work}/probe.txt", "w", encoding="utf-8") as f:
        f.write("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in probe))
    import subprocess
    out = subprocess.run(["target/release/pantau", "classify", f"{work}/probe.txt", "--format", "jsonl",
                          "--participants", "data/participants-corpus.csv", "--quiet"],
                         capture_output=True, check=True, text=True).stdout.splitlines()
    lowered, drop = 0, 0.0
    for r, o in zip(keep, map(json.loads, out)):
        key = "p_" + r["label"]
        lowered += o[key] < r[key]
        drop += logit(r[key]) - logit(o[key])
    print(f"{m:10s} {len(keep)} flagged posts: removing the top word lowers the label for "
          f"{lowered} ({100 * lowered / len(keep):.1f}%), mean log-odds fall {drop / len(keep):.2f}")
same = [i for i in tops["gradient"] if tops["occlusion"].get(i) == tops["gradient"][i]]
print(f"top word the same in both: {len(same)} of {len(tops['gradient'])}")
PY

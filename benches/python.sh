#!/usr/bin/env bash
# The Python package and Spark against the CLI, on the same posts and threads: the CLI on a JSONL
# file and on its Parquet twin, the package classifying the posts as a list (after reading them),
# and examples/spark_classify.py in local[2] on the Parquet file (its wall time includes Spark's
# start). Run with the package installed (pip install ./bindings/python) and, for Spark, pyspark
# and Java.   benches/python.sh [ROWS]   (default 60000)
. "$(dirname "$0")/common.sh"
n=${1:-60000}
posts "$n" "$work/in.jsonl"
python3 -c "import pyarrow.json as pj, pyarrow.parquet as pq, sys; pq.write_table(pj.read_json(sys.argv[1]), sys.argv[2])" "$work/in.jsonl" "$work/in.parquet"
printf '%-36s %10s %10s\n' run seconds posts/s
row() { printf '%-36s %10.2f %10.0f\n' "$1" "$2" "$(echo "$n / $2" | bc -l)"; }
timed "$bin" classify "$work/in.jsonl" -o "$work/out.jsonl" --quiet
row "CLI, JSONL" "$secs"
timed "$bin" classify "$work/in.parquet" -o "$work/out.parquet" --quiet
row "CLI, Parquet" "$secs"
python3 - "$work/in.jsonl" "$n" <<'PY'
import json, sys, time
import pantau
texts = [json.loads(l)["text"] for l in open(sys.argv[1], encoding="utf-8")]
clf = pantau.Classifier()
t = time.perf_counter()
rows = clf.classify(texts)
s = time.perf_counter() - t
assert len(rows) == int(sys.argv[2])
print(f"{'Python package, list of str':<36} {s:10.2f} {len(rows) / s:10.0f}")
PY
if python3 -c "import pyspark" 2>/dev/null && command -v java >/dev/null; then
  timed python3 examples/spark_classify.py "$work/in.parquet" "$work/spark_out" --master 'local[2]'
  row "Spark local[2] (mapInPandas)" "$secs"
else
  echo "Spark: skipped (needs pyspark and java)"
fi

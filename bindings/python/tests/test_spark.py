"""examples/spark_classify.py in Spark local mode gives the package's rows for every input row."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import pantau

ROOT = Path(__file__).resolve().parents[3]


def test_spark_example_classifies_a_parquet_dump_like_the_package(tmp_path):
    pytest.importorskip("pyspark", reason="pyspark is not installed (pip install pyspark)")
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    if shutil.which("java") is None:
        pytest.skip("no java on PATH: Spark needs Java 17 (apt-get install openjdk-17-jre-headless)")
    rows = [json.loads(l) for l in (ROOT / "data" / "test.jsonl").open(encoding="utf-8")][:300]
    dump = tmp_path / "dump.parquet"
    pq.write_table(pa.table({"id": [r["id"] for r in rows], "text": [r["text"] for r in rows],
                             "label": [r["label"] for r in rows]}), dump)
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, str(ROOT / "examples" / "spark_classify.py"), str(dump),
                          str(out), "--master", "local[2]"], capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    got = pq.read_table(out).to_pandas().sort_values("id")
    assert len(got) == len(rows)
    assert "label_input" in got.columns
    want = pantau.Classifier().classify([r["text"] for r in sorted(rows, key=lambda r: r["id"])])
    assert list(got["label"]) == [w["label"] for w in want]
    assert all(abs(a - w["p_campaigning"]) < 1e-6 for a, w in zip(got["p_campaigning"], want))

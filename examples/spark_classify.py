"""Classify a Parquet or JSONL dump on Spark with pantau, one classifier per executor process.

    python examples/spark_classify.py DUMP OUT [--text-column text] [--master local[2]]

DUMP is a Parquet file or directory (or JSONL, by extension); OUT is written as Parquet: the
input columns (one named like an output column gets a ``_input`` suffix, as in the CLI), then
pantau's columns. Rows go through ``mapInPandas`` in Arrow batches; each Python worker loads the
model once (``_classifier``) and classifies a batch in Rust with the GIL released.

Needs ``pip install pyspark pandas pyarrow ./bindings/python`` and Java 17 (Debian:
``apt-get install openjdk-17-jre-headless``).
"""

import argparse
import json

import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql.types import (ArrayType, BooleanType, DoubleType, IntegerType, StringType,
                               StructField, StructType)

OUTPUT = StructType([
    StructField("label", StringType()),
    StructField("p_neutral", DoubleType()),
    StructField("p_promotional", DoubleType()),
    StructField("p_campaigning", DoubleType()),
    StructField("flagged", BooleanType()),
    StructField("review", BooleanType()),
    StructField("participants", ArrayType(StringType())),
    StructField("windows", IntegerType()),
    StructField("truncated", BooleanType()),
    # [[word, weight], ...] as JSON text, when explanations are asked for.
    StructField("explanation", StringType()),
    StructField("error", StringType()),
])
OUTPUT_NAMES = {f.name for f in OUTPUT.fields}

_CLF = None


def _classifier(explain):
    """The worker process's classifier, loaded on its first batch."""
    global _CLF
    if _CLF is None:
        import pantau
        _CLF = pantau.Classifier(explain=explain)
    return _CLF


def classify_batches(batches, text_column, explain=0):
    """mapInPandas body: each input batch with pantau's columns appended."""
    clf = _classifier(explain)
    for pdf in batches:
        out = clf.classify(pdf[text_column].reset_index(drop=True))
        out["explanation"] = out["explanation"].map(lambda e: None if e is None else json.dumps(e))
        out["windows"] = out["windows"].astype("Int32")
        pdf = pdf.reset_index(drop=True).rename(
            columns={c: f"{c}_input" for c in pdf.columns if c in OUTPUT_NAMES})
        yield pd.concat([pdf, out], axis=1)


def classify(spark, dump, out, text_column="text", explain=0):
    """Reads DUMP, classifies every row, writes OUT as Parquet; returns the row count."""
    reader = spark.read.json if dump.endswith((".jsonl", ".json", ".ndjson")) else spark.read.parquet
    df = reader(dump)
    if text_column not in df.columns:
        raise SystemExit(f"{dump}: no column {text_column!r} ({', '.join(df.columns)}); "
                         "choose one with --text-column")
    inputs = [StructField(f"{f.name}_input" if f.name in OUTPUT_NAMES else f.name, f.dataType)
              for f in df.schema.fields]
    schema = StructType(inputs + OUTPUT.fields)
    result = df.mapInPandas(lambda it: classify_batches(it, text_column, explain), schema)
    result.write.mode("overwrite").parquet(out)
    return spark.read.parquet(out).count()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dump")
    ap.add_argument("out")
    ap.add_argument("--text-column", default="text")
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--explain", type=int, default=0)
    a = ap.parse_args()
    spark = (SparkSession.builder.master(a.master).appName("pantau")
             .config("spark.sql.execution.arrow.maxRecordsPerBatch", "4096")
             .config("spark.ui.enabled", "false").getOrCreate())
    try:
        n = classify(spark, a.dump, a.out, a.text_column, a.explain)
        print(f"pantau on Spark: {n} rows written to {a.out}")
    finally:
        spark.stop()


if __name__ == "__main__":
    main()

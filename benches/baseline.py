#!/usr/bin/env python3
"""Linear baseline for the model card: TF-IDF + logistic regression on the same data as pantau.

The baseline reads exactly what pantau's model reads: every text goes through `pantau normalize`
(normalization and participant marking), and the real corpora rows come from `pantau corpora`, so
the only difference from the shipped model is the classifier. It is trained on the training sets,
tuned on nothing but its regularization constant against dev, and scored on every evaluation set:
macro-F1 on labeled sets, the false-alarm rate (share labeled promotional or campaigning) on
all-neutral sets.

    pip install scikit-learn
    cargo build --release
    python3 benches/baseline.py --participants data/participants-corpus.csv \
        --corpora ../shared/corpora --corpora-participants data/participants-history.csv \
        --eval data/test.jsonl \
        --false-alarm ../shared/realworld/everyday_dev.jsonl --json benches/baseline.json \
        --model models/pantau-small

Word 1-2-grams and character 2-5-grams (within word boundaries), sublinear TF, balanced classes.

With `--model M`, the same run also classifies every set with that pantau model (its participant
files as for the baseline) and reports, per set, the model's figure next to the baseline's and a
paired bootstrap 95% interval of the difference (model − baseline; rows resampled together, so
both systems see the same resample). The real held-out sets are small (11 campaigning posts): an
interval that spans 0 says the two are not told apart on that set.
"""
import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

LABELS = ["neutral", "promotional", "campaigning"]


def run(cmd, stdin=None):
    out = subprocess.run(cmd, input=stdin, capture_output=True, check=True)
    return out.stdout


def read_jsonl(data: bytes):
    return [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]


def normalized(bin_, rows, participants=()):
    """`pantau normalize` on the rows' text, in order, with these extra participant files."""
    payload = "".join(json.dumps({"text": r["text"]}, ensure_ascii=False) + "\n" for r in rows)
    extra = [a for f in participants for a in ("--participants", str(f))]
    out = run([bin_, "normalize", "-", *extra], payload.encode("utf-8"))
    texts = out.decode("utf-8").split("\n")[:-1]
    if len(texts) != len(rows):
        sys.exit(f"pantau normalize returned {len(texts)} rows for {len(rows)}")
    return texts


def load(path: Path):
    return read_jsonl(path.read_bytes())


def model_labels(bin_, model, rows, participants=()):
    """The labels `pantau classify --model MODEL` gives the rows' text, in order."""
    extra = [a for f in participants for a in ("--participants", str(f))]
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps({"text": r["text"]}, ensure_ascii=False) + "\n")
        f.flush()
        out = read_jsonl(run([bin_, "classify", "--model", str(model), "-q", *extra, f.name,
                              "-o", "-"]))
    if len(out) != len(rows):
        sys.exit(f"pantau classify returned {len(out)} rows for {len(rows)}")
    return [r["label"] for r in out]


def macro_f1(gold, pred):
    """Macro-F1 over LABELS of integer label arrays (rows × resamples allowed on axis 0)."""
    import numpy as np
    f1s = []
    for k in range(len(LABELS)):
        tp = ((pred == k) & (gold == k)).sum(axis=0)
        fp = ((pred == k) & (gold != k)).sum(axis=0)
        fn = ((pred != k) & (gold == k)).sum(axis=0)
        denom = 2 * tp + fp + fn
        f1s.append(np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0))
    return np.mean(f1s, axis=0)


def paired_interval(gold, ours, theirs, stat, resamples=2000, seed=13):
    """Bootstrap 95% interval of stat(ours) − stat(theirs), resampling rows jointly."""
    import numpy as np
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(gold), size=(len(gold), resamples))
    diff = stat(gold[idx], ours[idx]) - stat(gold[idx], theirs[idx])
    lo, hi = np.percentile(diff, [2.5, 97.5])
    return round(float(lo), 4), round(float(hi), 4)


def false_alarm_rate(gold, pred):
    return (pred != 0).mean(axis=0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default="target/release/pantau")
    ap.add_argument("--train", action="append", type=Path, default=None,
                    help="labeled JSONL training files (default: data/train.jsonl)")
    ap.add_argument("--dev", type=Path, default=Path("data/dev.jsonl"))
    ap.add_argument("--corpora", type=Path, help="also train on `pantau corpora DIR --part train`")
    ap.add_argument("--corpora-labels", type=Path, default=Path("data/corpora/labels.tsv"))
    ap.add_argument("--corpora-neutral", type=int, help="as pantau train --corpora-neutral")
    ap.add_argument("--participants", action="append", type=Path, default=[],
                    help="participant files for the training, dev and --eval sets (as pantau train)")
    ap.add_argument("--corpora-participants", action="append", type=Path, default=[],
                    help="participant files added for the corpora rows (as pantau train)")
    ap.add_argument("--eval", action="append", type=Path, default=[], help="labeled JSONL sets")
    ap.add_argument("--false-alarm", action="append", type=Path, default=[],
                    help="all-neutral JSONL sets: report the share flagged")
    ap.add_argument("--json", type=Path, help="write the figures here as JSON")
    ap.add_argument("--model", type=Path,
                    help="also score this pantau model on every set, side by side, with paired "
                         "bootstrap intervals of the difference")
    args = ap.parse_args()

    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.pipeline import make_pipeline, make_union

    own = args.participants
    old = [*args.participants, *args.corpora_participants]
    train_rows = [r for p in (args.train or [Path("data/train.jsonl")]) for r in load(p)]
    x_train = normalized(args.bin, train_rows, own)
    # Each set with the participant files its texts are read with.
    eval_sets = {str(p): (load(p), own) for p in args.eval}
    fa_sets = {str(p): (load(p), ()) for p in args.false_alarm}
    if args.corpora:
        base = [args.bin, "corpora", str(args.corpora), "--labels", str(args.corpora_labels)]
        cap = ["--neutral", str(args.corpora_neutral)] if args.corpora_neutral else []
        corpus_rows = read_jsonl(run(base + ["--part", "train", *cap]))
        train_rows += corpus_rows
        x_train += normalized(args.bin, corpus_rows, old)
        held = read_jsonl(run(base + ["--part", "holdout"]))
        eval_sets["corpora holdout (labeled)"] = (held, old)
        fa_sets["corpora holdout (kept neutral)"] = ([r for r in held if r["label"] == "neutral"], old)
    y_train = [r["label"] for r in train_rows]
    dev_rows = load(args.dev)
    x_dev, y_dev = normalized(args.bin, dev_rows, own), [r["label"] for r in dev_rows]

    def model(c):
        features = make_union(
            TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2, token_pattern=r"\S+"),
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2),
        )
        return make_pipeline(features, LogisticRegression(C=c, max_iter=2000, class_weight="balanced"))

    best = None
    for c in (1.0, 4.0, 16.0):
        m = model(c).fit(x_train, y_train)
        f1 = f1_score(y_dev, m.predict(x_dev), average="macro", labels=LABELS)
        print(f"C={c}: dev macro-F1 {f1:.3f}", file=sys.stderr)
        if best is None or f1 > best[0]:
            best = (f1, c, m)
    _, c, clf = best

    import numpy as np

    def ids(labels):
        return np.array([LABELS.index(l) for l in labels])

    def side_by_side(entry, rows, files, pred, stat, key):
        """Adds the model's figure and the paired interval to a set's entry."""
        if not args.model:
            return ""
        # All-neutral sets may carry no label field.
        gold = ids([r.get("label", "neutral") for r in rows])
        ours = ids(model_labels(args.bin, args.model, rows, files))
        theirs = ids(pred)
        mine = float(stat(gold, ours))
        lo, hi = paired_interval(gold, ours, theirs, stat)
        entry["pantau"] = {key: round(mine, 4), "difference_95": [lo, hi]}
        return f"; pantau {mine:.4f}, difference 95% [{lo:+.4f}, {hi:+.4f}]"

    report = {"model": "tfidf word 1-2 + char_wb 2-5, logistic regression", "C": c,
              "train_rows": len(train_rows), "sets": {}}
    if args.model:
        report["pantau_model"] = str(args.model)
    for name, (rows, files) in {"dev": (dev_rows, own), **eval_sets}.items():
        pred = clf.predict(normalized(args.bin, rows, files))
        gold = [r["label"] for r in rows]
        f1 = f1_score(gold, pred, average="macro", labels=LABELS)
        per = f1_score(gold, pred, average=None, labels=LABELS)
        entry = {"rows": len(rows), "macro_f1": round(float(f1), 4),
                 "f1": {l: round(float(v), 4) for l, v in zip(LABELS, per)}}
        more = side_by_side(entry, rows, files, pred, macro_f1, "macro_f1")
        report["sets"][name] = entry
        print(f"{name}: {len(rows)} rows, macro-F1 {f1:.4f}{more}")
    for name, (rows, files) in fa_sets.items():
        pred = clf.predict(normalized(args.bin, rows, files))
        fa = sum(p != "neutral" for p in pred) / max(len(rows), 1)
        entry = {"rows": len(rows), "false_alarm_rate": round(fa, 4)}
        more = side_by_side(entry, rows, files, pred, false_alarm_rate, "false_alarm_rate")
        report["sets"][name] = entry
        print(f"{name}: {len(rows)} rows, false alarms {fa:.4f}{more}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Build the pantau train/dev/test splits from data/raw/*.jsonl (Python 3.11, stdlib only).

    python3 data/tools/build_corpus.py            # from the repository root

Steps (all deterministic for a given --seed):
 1. read data/raw/*.jsonl in file-name order; validate every row (exact fields
    text,label,source,kind; known label; kind belonging to that label; known
    source; non-empty text); report FILE:LINE of each bad row and skip it;
 2. normalize text for comparison (see `normalize`) and drop exact duplicates
    of the normalized text (the first occurrence is kept);
 3. cluster near-duplicates: Jaccard similarity of character 5-gram shingle
    sets >= 0.6, found exactly with prefix filtering (an inverted index over
    the rarest shingles of each row), joined with union-find;
 4. stratified split by (label, kind), whole clusters assigned to a single split:
    rows of the files in FROZEN_FILES are split 70/15/15 train/dev/test exactly
    as when the test split was frozen; rows of later files go to train or dev
    only (70:15), in generations split one after another (w17-w26 together, then
    each later file on its own) so that a new file never moves an earlier row
    between train and dev; a row that is a near-duplicate of an earlier dev/test
    row is dropped, so neither held-out split changes as the corpus grows;
 5. add template rows from generate.py to TRAIN ONLY (at most --gen-ratio of
    the final train size), dropping generated rows that are exact duplicates of
    any row or near-duplicates (Jaccard >= 0.5) of any dev/test row;
 6. shuffle each split with its own seed, assign ids train-00001 / dev-00001 / test-00001 and write
    data/{train,dev,test}.jsonl with fields id,text,label,source,kind;
 7. print counts and rewrite the block between <!-- counts:start --> and
    <!-- counts:end --> in data/README.md.
"""
from __future__ import annotations

import argparse
import json
import math
import random
import re
import sys
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parent
sys.path.insert(0, str(HERE))
sys.dont_write_bytecode = True  # keep data/tools free of __pycache__
import generate  # noqa: E402  (sibling module)

FIELDS = ("text", "label", "source", "kind")
OUT_FIELDS = ("id", "text", "label", "source", "kind")
LABELS = generate.LABELS
LABEL_KINDS = generate.LABEL_KINDS
KIND_LABEL = generate.KIND_LABEL
SOURCES = ("tweet", "fb", "ig", "wa", "tiktok", "news")
SPLITS = ("train", "dev", "test")
RATIOS = {"train": 0.70, "dev": 0.15, "test": 0.15}
SHINGLE = 5
NEAR_DUP = 0.6       # clustering threshold among hand-written rows
GEN_NEAR_DUP = 0.5   # generated rows this close to a dev/test row are dropped
START, END = "<!-- counts:start -->", "<!-- counts:end -->"
# The test split was frozen with corpus v2 (raw files w1-w16). Rows of these files are split as they
# were then; rows of any later file go to train or dev only, so test-split figures stay comparable
# across corpus versions and nobody can re-draw the test set until the model happens to pass it.
FROZEN_FILES = frozenset(f"w{i}.jsonl" for i in range(1, 17))
GROWTH_RATIOS = {"train": 0.70, "dev": 0.15}
# Later rows are split in generations, each on its own, so that adding a file never moves a row of an
# earlier file between train and dev (which would leak rows a model trained on into its dev set):
# w17-w26 (corpus v3 and v4) together, as they were split then, and every later file by itself.
V4_FILES = frozenset(f"w{i}.jsonl" for i in range(17, 27))


def generation(file: str) -> str:
    """The split generation of a raw file (see V4_FILES)."""
    if file in FROZEN_FILES:
        return "frozen"
    return "v4" if file in V4_FILES else file

# ---------------------------------------------------------------------------
# Normalization
# ---------------------------------------------------------------------------
URL_RE = re.compile(r"(?:https?://|www\.)\S+|\b(?:[a-z0-9-]+\.)+(?:ly|co|id|com|me|io|net|org)/\S*")
MENTION_RE = re.compile(r"@[\w.]+")
REPEAT_RE = re.compile(r"([^\W\d_])\1{2,}")
SPACE_RE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Comparison key: NFKC -> lowercase -> remove URLs -> remove @mentions ->
    drop '#' -> collapse 3+ identical letters to one -> every character that is
    not a letter, digit, whitespace or emoji-like symbol (Unicode category So)
    becomes a space (punctuation, math/currency symbols, '_', variation
    selectors, ZWJ) -> collapse whitespace and trim. Emoji are kept on purpose:
    "#X ✌️" (number cue) and "#X 💙" (support) must not collapse into one row."""
    t = unicodedata.normalize("NFKC", text).lower()
    t = URL_RE.sub(" ", t)
    t = MENTION_RE.sub(" ", t)
    t = t.replace("#", "")
    t = REPEAT_RE.sub(r"\1", t)
    t = "".join(c if (c.isspace() or unicodedata.category(c)[0] in "LN" or unicodedata.category(c) == "So")
                else " " for c in t)
    return SPACE_RE.sub(" ", t).strip()


def dedup_key(text: str) -> str:
    k = normalize(text)
    if not k:  # emoji-only posts etc.: compare the raw characters instead
        k = "\u0000" + SPACE_RE.sub("", unicodedata.normalize("NFKC", text))
    return k


def shingles(norm: str) -> set[str]:
    if len(norm) <= SHINGLE:
        return {norm}
    return {norm[i:i + SHINGLE] for i in range(len(norm) - SHINGLE + 1)}


# ---------------------------------------------------------------------------
# Exact set-similarity join (prefix filtering), Jaccard >= t
# ---------------------------------------------------------------------------
def _order(sets: list[set[str]]) -> dict[str, int]:
    df = Counter(s for st in sets for s in st)
    return {s: i for i, s in enumerate(sorted(df, key=lambda s: (df[s], s)))}


def _prefix_len(n: int, t: float) -> int:
    return n - math.ceil(t * n - 1e-9) + 1


def similar_pairs(sets: list[set[str]], t: float) -> list[tuple[int, int, float]]:
    """All pairs (i < j) with Jaccard(sets[i], sets[j]) >= t."""
    rank = _order(sets)
    toks = [sorted(rank[s] for s in st) for st in sets]
    ints = [set(x) for x in toks]
    index: dict[int, list[int]] = defaultdict(list)
    out = []
    for j, tj in enumerate(toks):
        nj = len(tj)
        cands: set[int] = set()
        for tok in tj[:_prefix_len(nj, t)]:
            cands.update(index[tok])
        for i in sorted(cands):
            ni = len(toks[i])
            if min(ni, nj) < t * max(ni, nj) - 1e-9:
                continue
            inter = len(ints[i] & ints[j])
            jac = inter / (ni + nj - inter)
            if jac >= t - 1e-12:
                out.append((i, j, jac))
        for tok in tj[:_prefix_len(nj, t)]:
            index[tok].append(j)
    return out


def near_any(queries: list[set[str]], targets: list[set[str]], t: float) -> list[bool]:
    """For each query set: is there a target set with Jaccard >= t?"""
    rank = _order(targets + queries)
    ttoks = [sorted(rank[s] for s in st) for st in targets]
    tints = [set(x) for x in ttoks]
    index: dict[int, list[int]] = defaultdict(list)
    for i, tt in enumerate(ttoks):
        for tok in tt[:_prefix_len(len(tt), t)]:
            index[tok].append(i)
    res = []
    for q in queries:
        qt = sorted(rank[s] for s in q)
        qs, nq = set(qt), len(qt)
        hit = False
        cands: set[int] = set()
        for tok in qt[:_prefix_len(nq, t)]:
            cands.update(index.get(tok, ()))
        for i in sorted(cands):
            ni = len(ttoks[i])
            if min(ni, nq) < t * max(ni, nq) - 1e-9:
                continue
            inter = len(tints[i] & qs)
            if inter / (ni + nq - inter) >= t - 1e-12:
                hit = True
                break
        res.append(hit)
    return res


def cluster(n: int, pairs: list[tuple[int, int, float]]) -> list[list[int]]:
    """Connected components of rows 0..n-1 joined by `pairs`, ordered by their smallest row."""
    uf = UnionFind(n)
    for i, j, _ in pairs:
        uf.union(i, j)
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(n):
        groups[uf.find(i)].append(i)
    return [groups[k] for k in sorted(groups)]


class UnionFind:
    def __init__(self, n: int):
        self.p = list(range(n))

    def find(self, x: int) -> int:
        while self.p[x] != x:
            self.p[x] = self.p[self.p[x]]
            x = self.p[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.p[max(ra, rb)] = min(ra, rb)


# ---------------------------------------------------------------------------
# Reading / validation
# ---------------------------------------------------------------------------
def read_raw(raw_dir: Path) -> tuple[list[dict], list[str], Counter]:
    rows, bad, per_file = [], [], Counter()
    files = sorted(raw_dir.glob("*.jsonl"))
    for f in files:
        rel = f.relative_to(DATA.parent) if f.is_relative_to(DATA.parent) else f
        with f.open(encoding="utf-8", errors="replace") as fh:
            for ln, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                why = None
                try:
                    r = json.loads(line)
                except json.JSONDecodeError as e:
                    r, why = None, f"invalid JSON ({e.msg})"
                if why is None and not isinstance(r, dict):
                    why = "not a JSON object"
                if why is None:
                    keys = set(r)
                    if keys != set(FIELDS):
                        miss, extra = set(FIELDS) - keys, keys - set(FIELDS)
                        why = "fields: " + ", ".join(
                            ([f"missing {sorted(miss)}"] if miss else []) + ([f"extra {sorted(extra)}"] if extra else []))
                    elif not all(isinstance(r[k], str) for k in FIELDS):
                        why = "non-string field"
                    elif not r["text"].strip():
                        why = "empty text"
                    elif r["label"] not in LABELS:
                        why = f"unknown label {r['label']!r}"
                    elif r["kind"] not in KIND_LABEL:
                        why = f"unknown kind {r['kind']!r}"
                    elif KIND_LABEL[r["kind"]] != r["label"]:
                        why = f"kind {r['kind']!r} belongs to {KIND_LABEL[r['kind']]!r}, not {r['label']!r}"
                    elif r["source"] not in SOURCES:
                        why = f"unknown source {r['source']!r}"
                if why:
                    bad.append(f"{rel}:{ln}: {why}")
                    continue
                rows.append({"text": r["text"].strip(), "label": r["label"], "source": r["source"],
                             "kind": r["kind"], "_file": f.name, "_line": ln})
                per_file[f.name] += 1
    return rows, bad, per_file


# ---------------------------------------------------------------------------
# Split
# ---------------------------------------------------------------------------
def split_clusters(rows: list[dict], clusters: list[list[int]], seed: int,
                   ratios: dict[str, float] = RATIOS) -> dict[str, list[int]]:
    strata: dict[tuple[str, str], list[list[int]]] = defaultdict(list)
    for members in clusters:
        c = Counter((rows[i]["label"], rows[i]["kind"]) for i in members)
        top = max(c.values())
        key = next((rows[i]["label"], rows[i]["kind"]) for i in members
                   if c[(rows[i]["label"], rows[i]["kind"])] == top)
        strata[key].append(members)
    rng = random.Random(seed)
    out: dict[str, list[int]] = {s: [] for s in SPLITS}
    names = [s for s in SPLITS if s in ratios]
    for key in sorted(strata):
        units = strata[key]
        rng.shuffle(units)
        units.sort(key=len, reverse=True)  # stable: big clusters first, random among equals
        total = sum(len(u) for u in units)
        have = {s: 0 for s in SPLITS}
        for u in units:
            s = max(names, key=lambda s: (ratios[s] * total - have[s], -SPLITS.index(s)))
            have[s] += len(u)
            out[s].extend(u)
    return out


# ---------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------
def md_table(header: list[str], body: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(str(x) for x in r) + " |" for r in body]
    return "\n".join(lines)


def count_tables(out: dict[str, list[dict]]) -> str:
    def tot(rows, f=lambda r: True):
        return sum(1 for r in rows if f(r))
    allrows = [r for s in SPLITS for r in out[s]]
    t1 = md_table(["split", *LABELS, "total"],
                  [[s, *[tot(out[s], lambda r, l=l: r["label"] == l) for l in LABELS], len(out[s])] for s in SPLITS]
                  + [["**all**", *[tot(allrows, lambda r, l=l: r["label"] == l) for l in LABELS], len(allrows)]])
    body = []
    for lab in LABELS:
        for k in LABEL_KINDS[lab]:
            body.append([f"{k} ({lab})", *[tot(out[s], lambda r, k=k: r["kind"] == k) for s in SPLITS],
                         tot(allrows, lambda r, k=k: r["kind"] == k)])
    t2 = md_table(["kind (label)", *SPLITS, "total"], body)
    t3 = md_table(["split", "hand-written", "generated", "total"],
                  [[s, tot(out[s], lambda r: r["source"] != "generated"),
                    tot(out[s], lambda r: r["source"] == "generated"), len(out[s])] for s in SPLITS]
                  + [["**all**", tot(allrows, lambda r: r["source"] != "generated"),
                      tot(allrows, lambda r: r["source"] == "generated"), len(allrows)]])
    return (f"Rows per split and label:\n\n{t1}\n\nRows per split and kind:\n\n{t2}\n\n"
            f"Hand-written vs generated rows:\n\n{t3}\n")


def update_readme(path: Path, block: str) -> str:
    new_block = f"{START}\n{block}{END}"
    if not path.exists():
        path.write_text(f"# pantau corpus\n\n{new_block}\n", encoding="utf-8")
        return "created"
    txt = path.read_text(encoding="utf-8")
    if START in txt and END in txt and txt.index(START) < txt.index(END):
        a, b = txt.index(START), txt.index(END) + len(END)
        path.write_text(txt[:a] + new_block + txt[b:], encoding="utf-8")
        return "updated"
    path.write_text(txt.rstrip("\n") + f"\n\n## Counts\n\n{new_block}\n", encoding="utf-8")
    return "appended (markers were missing)"


# ---------------------------------------------------------------------------
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--raw-dir", type=Path, default=DATA / "raw")
    ap.add_argument("--out-dir", type=Path, default=DATA)
    ap.add_argument("--readme", type=Path, default=DATA / "README.md")
    ap.add_argument("--seed", type=int, default=20240214)
    ap.add_argument("--gen-ratio", type=float, default=0.20,
                    help="max share of generated rows in the final train split (0 disables)")
    ap.add_argument("--gen-seed", type=int, default=2024)
    ap.add_argument("--no-readme", action="store_true")
    a = ap.parse_args()
    if not 0 <= a.gen_ratio < 1:
        ap.error("--gen-ratio must be in [0, 1)")

    rows, bad, per_file = read_raw(a.raw_dir)
    print(f"read {sum(per_file.values())} valid rows from {len(per_file)} file(s) in {a.raw_dir}")
    for f, n in sorted(per_file.items()):
        print(f"  {f}: {n}")
    if bad:
        print(f"skipped {len(bad)} bad row(s):")
        for b in bad:
            print("  " + b)
    if not rows:
        print("no valid rows; nothing written")
        return 1

    # frozen rows first, in the order they were read when the test split was frozen
    rows = [r for r in rows if r["_file"] in FROZEN_FILES] + [r for r in rows if r["_file"] not in FROZEN_FILES]

    # exact duplicates
    seen: dict[str, int] = {}
    kept, dup_conflicts, n_dup = [], [], 0
    for r in rows:
        k = dedup_key(r["text"])
        if k in seen:
            n_dup += 1
            first = kept[seen[k]]
            if first["label"] != r["label"]:
                dup_conflicts.append(f"{r['_file']}:{r['_line']} ({r['label']}) duplicates "
                                     f"{first['_file']}:{first['_line']} ({first['label']})")
            continue
        seen[k] = len(kept)
        r["_norm"] = k
        kept.append(r)
    rows = kept
    print(f"dropped {n_dup} exact duplicate(s) of normalized text; {len(rows)} rows remain")
    for c in dup_conflicts[:20]:
        print("  label conflict: " + c)

    # near-duplicate clusters
    n_frozen = sum(1 for r in rows if r["_file"] in FROZEN_FILES)
    sets = [shingles(r["_norm"]) for r in rows]
    pairs = similar_pairs(sets, NEAR_DUP)
    clusters = cluster(len(rows), pairs)
    multi = [c for c in clusters if len(c) > 1]
    mixed = [c for c in multi if len({rows[i]["label"] for i in c}) > 1]
    print(f"near-duplicate pairs (Jaccard>={NEAR_DUP}): {len(pairs)}; clusters with >1 row: {len(multi)} "
          f"({sum(len(c) for c in multi)} rows, largest {max((len(c) for c in multi), default=1)}); "
          f"clusters with mixed labels: {len(mixed)}")
    for c in mixed[:10]:
        print("  mixed-label cluster: " + "; ".join(f"{rows[i]['_file']}:{rows[i]['_line']}={rows[i]['label']}"
                                                      for i in c[:6]))

    # split: the frozen rows exactly as before (clusters among themselves only), then each later
    # generation in file order, its clusters taken among the rows up to its own
    frozen_clusters = cluster(n_frozen, [(i, j, x) for i, j, x in pairs if j < n_frozen])
    idx = split_clusters(rows[:n_frozen], frozen_clusters, a.seed)
    split_of = {i: s for s in SPLITS for i in idx[s]}
    n_held_close = 0
    start = n_frozen
    for g, gen in enumerate(dict.fromkeys(generation(r["_file"]) for r in rows[n_frozen:])):
        end = start
        while end < len(rows) and generation(rows[end]["_file"]) == gen:
            end += 1
        later: list[list[int]] = []
        for c in cluster(end, [(i, j, x) for i, j, x in pairs if j < end]):
            new_rows = [i for i in c if i >= start]
            if not new_rows:
                continue
            old_splits = {split_of[i] for i in c if i < start}
            if old_splits - {"train"}:
                n_held_close += len(new_rows)  # would leak into (or out of) an earlier dev/test cluster
                for i in new_rows:
                    print(f"  dropped {rows[i]['_file']}:{rows[i]['_line']}: near-duplicate of an earlier dev/test row")
            elif old_splits:
                idx["train"].extend(new_rows)
                split_of.update((i, "train") for i in new_rows)
            else:
                later.append(c)
        # v4 keeps the seed it was split with; each later file gets its own
        grown = split_clusters(rows, later, a.seed + 2 + g, GROWTH_RATIOS)
        for s in SPLITS:
            idx[s].extend(grown[s])
            split_of.update((i, s) for i in grown[s])
        start = end
    print(f"frozen rows: {n_frozen}; later rows: {len(rows) - n_frozen} "
          f"({n_held_close} dropped as near-duplicates of earlier dev/test rows)")
    out = {s: [rows[i] for i in sorted(idx[s])] for s in SPLITS}

    # generated rows (train only)
    n_hand_train = len(out["train"])
    cap = math.floor(a.gen_ratio / (1 - a.gen_ratio) * n_hand_train + 1e-9) if a.gen_ratio > 0 else 0
    gen_kept: list[dict] = []
    if cap:
        pool = list(generate.generate(2 * cap + 200, a.gen_seed))
        held_sets = [shingles(r["_norm"]) for s in ("dev", "test") for r in out[s]]
        keys_seen = set(seen)
        fresh, fresh_norm = [], []
        n_exact = 0
        for g in pool:
            k = dedup_key(g["text"])
            if k in keys_seen:
                n_exact += 1
                continue
            keys_seen.add(k)
            fresh.append(g)
            fresh_norm.append(k)
        close = near_any([shingles(k) for k in fresh_norm], held_sets, GEN_NEAR_DUP)
        n_close = sum(close)
        gen_kept = [g for g, c in zip(fresh, close) if not c][:cap]
        print(f"generated: pool {len(pool)}, exact dups dropped {n_exact}, near dev/test (>= {GEN_NEAR_DUP}) "
              f"dropped {n_close}, added {len(gen_kept)} to train (cap {cap} = {a.gen_ratio:.0%} of final train)")
    out["train"] = out["train"] + [dict(g) for g in gen_kept]

    # shuffle, ids, write; each split has its own seed, so growing one never reorders another
    a.out_dir.mkdir(parents=True, exist_ok=True)
    for s in SPLITS:
        out[s].sort(key=lambda r: (r["_norm"] if "_norm" in r else dedup_key(r["text"]), r["label"]))
        random.Random(f"{a.seed}:{s}").shuffle(out[s])
        with (a.out_dir / f"{s}.jsonl").open("w", encoding="utf-8") as fh:
            for n, r in enumerate(out[s], 1):
                r["id"] = f"{s}-{n:05d}"
                fh.write(json.dumps({k: r[k] for k in OUT_FIELDS}, ensure_ascii=False) + "\n")
        print(f"wrote {a.out_dir / (s + '.jsonl')}: {len(out[s])} rows")

    # counts
    block = count_tables(out)
    print()
    print(block)

    # participant coverage (what the Rust test counts)
    parts = generate.load_participants()
    cov = {nm: {s: Counter() for s in SPLITS} for nm, _ in parts}
    for s in SPLITS:
        for r in out[s]:
            for nm in generate.find_participants(r["text"], parts):
                cov[nm][s][r["label"]] += 1
    print("participant mentions per label (all splits; train in brackets):")
    weak = []
    for nm, _ in parts:
        tot = Counter()
        for s in SPLITS:
            tot.update(cov[nm][s])
        cells = "  ".join(f"{l[:4]} {tot[l]:3d} [{cov[nm]['train'][l]:3d}]" for l in LABELS)
        print(f"  {nm:36s} {cells}")
        if any(cov[nm]["train"][l] == 0 for l in LABELS):
            weak.append(nm)
    if weak:
        print(f"WARNING: {len(weak)} participant(s) missing a label in train: {', '.join(weak)}")

    if not a.no_readme:
        print(f"{a.readme}: counts block {update_readme(a.readme, block)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

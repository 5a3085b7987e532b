#!/usr/bin/env python3
"""Lists the rows of the third-party corpora that may be election talk, for hand labeling.

Reads ../shared/corpora/indonlu/*.jsonl by path (their text is never copied into this repository)
and prints `source<TAB>split<TAB>line<TAB>text` for every row whose text matches a broad list of
election words and political names. Labels are then written by hand, by row reference, into
data/corpora/labels.tsv (see data/corpora/README.md). The list errs on the side of recall: a
labeler marks the false hits `neutral`.

    python3 data/tools/corpora_candidates.py [--corpora ../shared/corpora] > /tmp/candidates.tsv
"""
import argparse
import json
import re
from pathlib import Path

WORDS = r"""
pemilu pilpres pilkada pileg pilgub pilwalkot pilbup capres cawapres cagub cawagub caleg paslon
calon\s+(?:presiden|gubernur|bupati|walikota|wali\s+kota|legislatif) kampanye golput coblos nyoblos
tps kpu bawaslu partai parpol koalisi oposisi petahana incumbent nomor\s+urut dapil
jokowi jokowidodo joko\s+widodo prabowo sandi sandiaga uno ma'?ruf amin ahok basuki djarot anies
agus\s+(?:harimurti|yudhoyono) ahy sylvi sby yudhoyono megawati puan ridwan\s+kamil emil\s+dardak
khofifah gus\s+ipul ganjar sudirman\s+said deddy\s+mizwar dedi\s+mulyadi sudrajat syaikhu
edy\s+rahmayadi tb\s+hasanuddin hanura gerindra golkar nasdem pdip pdi\s*-?\s*p pks pkb ppp perindo
psi demokrat \bpan\b cebong kampret kecebong 2019gantipresiden gantipresiden 2periode jokowi2periode
prabowosandi \bpresiden\b wapres dpr dprd mpr menteri gubernur bupati walikota wali\s+kota
""".split()
PATTERN = re.compile(r"(?:^|[^a-z0-9])(?:" + "|".join(WORDS) + r")", re.IGNORECASE)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpora", default="../shared/corpora", type=Path)
    args = ap.parse_args()
    for path in sorted((args.corpora / "indonlu").glob("*.jsonl")):
        with path.open(encoding="utf-8") as f:
            for line_no, line in enumerate(f, 1):
                row = json.loads(line)
                if PATTERN.search(row["text"]):
                    text = row["text"].replace("\t", " ").replace("\n", " ")
                    print(f"{row['source']}\t{row['split']}\t{line_no}\t{text}")


if __name__ == "__main__":
    main()

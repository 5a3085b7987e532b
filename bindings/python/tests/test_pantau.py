"""The Python package against the CLI: same rows, same errors, safe across threads."""

import json
import os
import subprocess
import threading
from pathlib import Path

import pytest

import pantau

ROOT = Path(__file__).resolve().parents[3]
CLI = Path(os.environ.get("PANTAU_BIN", ROOT / "target" / "release" / "pantau"))


@pytest.fixture(scope="module")
def clf():
    return pantau.Classifier()


def cli(*args, stdin=None):
    return subprocess.run([str(CLI), *args], input=stdin, capture_output=True, check=False)


def test_probabilities_match_the_cli_on_the_test_split(clf):
    if not CLI.exists():
        pytest.skip(f"no CLI binary at {CLI}: build it with cargo build --release")
    data = ROOT / "data" / "test.jsonl"
    texts = [json.loads(line)["text"] for line in data.open(encoding="utf-8")]
    out = cli("classify", str(data), "-q")
    assert out.returncode == 0, out.stderr.decode()
    want = [json.loads(line) for line in out.stdout.decode().splitlines()]
    got = clf.classify(texts)
    assert len(got) == len(want) == len(texts)
    for g, w in zip(got, want):
        assert g["label"] == w["label"]
        for c in ("p_neutral", "p_promotional", "p_campaigning"):
            # The CLI writes six decimals.
            assert abs(g[c] - w[c]) <= 5e-7 + 1e-9, (g, w)
        for c in ("flagged", "review", "participants", "windows", "truncated", "error"):
            assert g[c] == w[c], (c, g, w)


def test_rows_have_every_column_and_empty_posts_are_error_rows(clf):
    rows = clf.classify(["Ayo coblos nomor 2 tanggal 14 Februari!", "", None, "Selamat pagi warga"])
    assert [list(r) for r in rows] == [list(pantau.COLUMNS)] * 4
    assert rows[0]["label"] == "campaigning" and rows[0]["flagged"] is True
    assert rows[1]["label"] is None and rows[1]["error"].startswith("empty text")
    assert rows[2]["error"] == "no text (a missing value)"
    assert rows[3]["label"] == "neutral" and rows[3]["error"] is None
    assert clf.classify_one("Selamat pagi warga") == rows[3]
    assert clf.classify([]) == []


def test_threads_share_one_classifier_and_get_the_same_rows(clf):
    texts = ["Ayo coblos nomor 2!", "Selamat pagi", "Prabowo pemimpin hebat", "Promo diskon 50%"] * 50
    want = clf.classify(texts)
    results = [None] * 8
    errors = []

    def work(i):
        try:
            results[i] = clf.classify(texts)
        except Exception as e:  # surfaced below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(r == want for r in results)


def test_bad_input_raises_with_the_cli_message(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(ValueError) as e:
        pantau.Classifier(str(missing))
    if CLI.exists():
        out = cli("info", str(missing))
        assert out.returncode == 1
        assert str(e.value) in out.stderr.decode(), (str(e.value), out.stderr.decode())
    bad = tmp_path / "p.csv"
    bad.write_text("name,kind\nSiti,alien\n", encoding="utf-8")
    with pytest.raises(ValueError, match="p.csv"):
        pantau.Classifier(participants=[bad])
    with pytest.raises(ValueError, match="not between 0 and 1"):
        pantau.Classifier(flag_threshold=1.5)
    with pytest.raises(TypeError, match="post 1 is int"):
        pantau.Classifier().classify(["ok", 3])
    with pytest.raises(TypeError, match="not one string"):
        pantau.Classifier().classify("satu post")


def test_participant_files_extend_the_registry_without_retraining(tmp_path):
    post = "Pak Darmaji orangnya merakyat banget, programnya keren"
    reg = tmp_path / "mine.csv"
    reg.write_text("name,kind,aliases\nDarmaji Santoso,person,pak darmaji\n", encoding="utf-8")
    row = pantau.Classifier(participants=[reg]).classify_one(post)
    assert row["participants"] == ["Darmaji Santoso"]
    assert pantau.Classifier().classify_one(post)["participants"] == []


def test_pandas_series_and_arrow_arrays_come_back_as_their_own_kind(clf):
    pd = pytest.importorskip("pandas")
    pa = pytest.importorskip("pyarrow")
    texts = ["Ayo coblos nomor 2!", None, "Selamat pagi"]
    s = pd.Series(texts, index=[10, 20, 30])
    df = clf.classify(s)
    assert list(df.index) == [10, 20, 30] and list(df.columns) == list(pantau.COLUMNS)
    assert df.loc[10, "label"] == "campaigning" and df.loc[20, "error"] is not None
    table = clf.classify(pa.array(texts))
    assert table.num_rows == 3 and table.column_names == list(pantau.COLUMNS)
    assert table.column("label").to_pylist() == [r["label"] for r in clf.classify(texts)]


@pytest.mark.parametrize("method", ["gradient", "occlusion"])
def test_explanations_match_the_cli(method):
    if not CLI.exists():
        pytest.skip(f"no CLI binary at {CLI}: build it with cargo build --release")
    texts = ["Ayo coblos nomor 2 tanggal 14 Februari!", "Selamat pagi warga",
             "Pak Prabowo memang pemimpin tegas dan merakyat, bangga sama beliau"]
    rows = pantau.Classifier(explain=5, explain_method=method).classify(texts)
    stdin = "".join(json.dumps({"text": t}) + "\n" for t in texts).encode()
    out = cli("classify", "--format", "jsonl", "--explain", "--explain-method", method, "-q",
              stdin=stdin)
    assert out.returncode == 0, out.stderr.decode()
    want = [json.loads(line) for line in out.stdout.decode().splitlines()]
    for g, w in zip(rows, want):
        if w["explanation"] is None:
            assert g["explanation"] is None
            continue
        # (word, weight) pairs here, {"word", "weight"} objects in the CLI's JSON.
        assert [x[0] for x in g["explanation"]] == [x["word"] for x in w["explanation"]]
        for (_, weight), y in zip(g["explanation"], w["explanation"]):
            assert abs(weight - y["weight"]) <= 5e-7 + 1e-6 * abs(y["weight"])
    assert rows[0]["explanation"], "a flagged post is explained"


def test_an_unknown_explain_method_is_a_value_error():
    with pytest.raises(ValueError, match="explain_method"):
        pantau.Classifier(explain=3, explain_method="shap")

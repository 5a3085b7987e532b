//! Runs the real `pantau` binary on files and stdin.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;

#[test]
fn classify_jsonl_keeps_every_field_and_row() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let o = run(
        &["classify", "data/sample.jsonl", "-o", out.to_str().unwrap()],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let input = jsonl(&read(&root().join("data/sample.jsonl")));
    let rows = jsonl(&read(&out));
    assert_eq!(rows.len(), input.len());
    for (i, r) in input.iter().zip(&rows) {
        for (k, v) in i {
            assert_eq!(&r[k], v, "field {k} kept");
        }
        assert_prediction(r);
    }
    let summary = format!("{} rows ({} classified, ", input.len(), input.len());
    assert!(stderr(&o).contains(&summary), "{}", stderr(&o));
    assert!(stderr(&o).contains("flagged, 0 errors)"), "{}", stderr(&o));
    assert!(!dir.path().join("out.jsonl.partial").exists());
    assert!(!dir.path().join("out.jsonl.partial.ckpt").exists());
}

#[test]
fn classify_csv_with_a_named_column() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("posts.csv");
    std::fs::write(
        &input,
        "no,isi,sumber\n1,\"Ayo coblos nomor 2, jangan lupa!\",wa\n2,Promo diskon 50% hari ini,ig\n3,\"Pak Bupati meresmikan\njembatan baru\",news\n",
    )
    .unwrap();
    let out = dir.path().join("out.csv");
    let o = run(
        &[
            "classify",
            input.to_str().unwrap(),
            "--text-column",
            "isi",
            "-o",
            out.to_str().unwrap(),
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let mut r = csv::Reader::from_path(&out).unwrap();
    let headers: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        &headers[..9],
        [
            "no",
            "isi",
            "sumber",
            "row",
            "offset",
            "label",
            "p_neutral",
            "p_promotional",
            "p_campaigning"
        ]
    );
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(&rows[2][1], "Pak Bupati meresmikan\njembatan baru");
    let error = headers.iter().position(|h| h == "error").unwrap();
    for row in &rows {
        let p: f64 = (6..9).map(|i| row[i].parse::<f64>().unwrap()).sum();
        assert!((p - 1.0).abs() < 1e-4);
        assert!(row[error].is_empty(), "no error");
    }
}

#[test]
fn classify_tsv_to_jsonl() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("posts.tsv");
    std::fs::write(
        &input,
        "id\ttext\na\tSelamat pagi semua\nb\tJangan golput ya!\n",
    )
    .unwrap();
    let o = run(
        &[
            "classify",
            input.to_str().unwrap(),
            "--output-format",
            "jsonl",
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = jsonl(&o.stdout);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1]["id"], "b");
    rows.iter().for_each(assert_prediction);
}

#[test]
fn classify_plain_text_from_stdin() {
    let o = run(
        &["classify"],
        Some("Ayo ke TPS!\nPromo pulsa murah\nsalam dua jari ✌️ 02\n".as_bytes()),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = jsonl(&o.stdout);
    assert_eq!(rows.len(), 3);
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r["row"], (i + 1) as u64);
        assert_prediction(r);
    }
    assert_eq!(rows[1]["text"], "Promo pulsa murah");
}

#[test]
fn classify_jsonl_from_stdin_is_sniffed() {
    let o = run(
        &["classify", "--text-field", "isi"],
        Some(b"{\"isi\":\"Jangan lupa coblos!\",\"n\":1}\n"),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = jsonl(&o.stdout);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["n"], 1);
    assert_prediction(&rows[0]);
}

/// (file, rows, error rows) for every file of the broken-input corpus.
const BROKEN: &[(&str, usize, usize)] = &[
    ("bad_utf8.jsonl", 3, 1),
    ("malformed.jsonl", 5, 3),
    ("missing_field.jsonl", 6, 5),
    ("wrong_columns.csv", 4, 2),
    ("quoted_newlines.csv", 3, 0),
    ("bom_crlf.csv", 2, 0),
    ("bom_crlf.jsonl", 2, 0),
    ("nul_bytes.txt", 3, 1),
    ("nul_bytes.jsonl", 2, 1),
    ("empty_lines.txt", 4, 2),
    ("empty.jsonl", 0, 0),
    ("only_header.csv", 0, 0),
    ("invalid_utf8.csv", 2, 1),
];

#[test]
fn every_broken_input_row_is_accounted_for() {
    let listed: Vec<&str> = BROKEN.iter().map(|b| b.0).collect();
    for entry in std::fs::read_dir(root().join("tests/data/broken")).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            continue; // broken model files: tests/reliability.rs
        }
        let name = entry.file_name().into_string().unwrap();
        assert!(
            listed.contains(&name.as_str()),
            "tests/data/broken/{name} is not checked"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    for &(file, rows, errors) in BROKEN {
        let input = root().join("tests/data/broken").join(file);
        let out = dir.path().join(format!("{file}.out.jsonl"));
        let o = run(
            &[
                "classify",
                input.to_str().unwrap(),
                "-o",
                out.to_str().unwrap(),
            ],
            None,
        );
        assert!(o.status.success(), "{file}: {}", stderr(&o));
        let got = jsonl(&read(&out));
        assert_eq!(got.len(), rows, "{file}: one output row per input row");
        // Every row has every output column; an error row is one whose `error` is set.
        assert!(got
            .iter()
            .all(|r| r.contains_key("error") && r.contains_key("flagged")));
        let errs: Vec<_> = got.iter().filter(|r| !r["error"].is_null()).collect();
        assert_eq!(errs.len(), errors, "{file}: {got:?}");
        for e in &errs {
            assert!(
                e["row"].as_u64().unwrap() >= 1,
                "{file}: error rows carry their row number"
            );
            assert!(!e["error"].as_str().unwrap().is_empty());
            assert!(e["label"].is_null());
        }
        got.iter()
            .filter(|r| r["error"].is_null())
            .for_each(assert_prediction);
        assert!(
            stderr(&o).contains(&format!("{rows} rows ({} classified, ", rows - errors))
                && stderr(&o).contains(&format!("flagged, {errors} errors)")),
            "{file}: {}",
            stderr(&o)
        );
    }
}

#[test]
fn error_rows_say_why() {
    let o = run(&["classify", "tests/data/broken/malformed.jsonl"], None);
    let rows = jsonl(&o.stdout);
    assert!(rows[1]["error"]
        .as_str()
        .unwrap()
        .contains("malformed JSON"));
    assert_eq!(rows[1]["raw"], "{\"id\":2,\"text\":\"kurang kurung\"");
    assert!(rows[2]["error"]
        .as_str()
        .unwrap()
        .contains("expected a JSON object"));
    let o = run(&["classify", "tests/data/broken/wrong_columns.csv"], None);
    let mut r = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(&o.stdout[..]);
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    assert!(
        rows[1]
            .iter()
            .any(|c| c.contains("expected 3 columns, found 5")),
        "{rows:?}"
    );
}

#[test]
fn strict_mode_fails_on_row_errors_but_writes_everything() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.jsonl");
    let o = run(
        &[
            "classify",
            "tests/data/broken/malformed.jsonl",
            "--strict",
            "-o",
            out.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(jsonl(&read(&out)).len(), 5);
    let o = run(
        &["classify", "tests/data/broken/bom_crlf.jsonl", "--strict"],
        None,
    );
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn a_missing_text_column_is_a_clear_error() {
    let o = run(
        &[
            "classify",
            "tests/data/broken/bom_crlf.csv",
            "--text-column",
            "isi",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("bom_crlf.csv") && e.contains("--text-column") && e.contains("id, text"),
        "{e}"
    );
}

#[test]
fn a_one_megabyte_post_is_truncated_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("long.jsonl");
    let text = "coblos nomor dua sekarang juga ".repeat(35_000);
    assert!(text.len() > 1_000_000);
    std::fs::write(
        &input,
        format!("{{\"text\":\"{text}\"}}\n{{\"text\":\"pendek\"}}\n"),
    )
    .unwrap();
    let o = run(&["classify", input.to_str().unwrap()], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = jsonl(&o.stdout);
    assert_eq!(rows.len(), 2);
    rows.iter().for_each(assert_prediction);
}

#[test]
fn resume_after_sigkill_loses_and_repeats_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("big.jsonl");
    let sample: Vec<String> = String::from_utf8(read(&root().join("data/sample.jsonl")))
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let mut body = String::new();
    for i in 0..24_000 {
        let mut obj: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&sample[i % sample.len()]).unwrap();
        obj.insert("n".into(), i.into());
        body.push_str(&serde_json::to_string(&obj).unwrap());
        body.push('\n');
    }
    std::fs::write(&input, body).unwrap();
    let args = |out: &Path| {
        vec![
            "classify".to_string(),
            input.display().to_string(),
            "-o".into(),
            out.display().to_string(),
            "--window".into(),
            "256".into(),
        ]
    };

    let reference = dir.path().join("ref.jsonl");
    let o = pantau().args(args(&reference)).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));

    let out = dir.path().join("out.jsonl");
    let ckpt = dir.path().join("out.jsonl.partial.ckpt");
    let mut child = pantau()
        .args(args(&out))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        let rows = std::fs::read_to_string(&ckpt)
            .ok()
            .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
            .and_then(|v| v["rows"].as_u64())
            .unwrap_or(0);
        if rows >= 1024 {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run finished before it could be killed"
        );
        assert!(start.elapsed() < Duration::from_secs(120), "no progress");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    assert!(
        !out.exists(),
        "an interrupted run never leaves a final output"
    );
    let partial_rows = read(&dir.path().join("out.jsonl.partial"))
        .iter()
        .filter(|&&b| b == b'\n')
        .count();
    assert!((1024..24_000).contains(&partial_rows), "{partial_rows}");

    let mut resume = args(&out);
    resume.push("--resume".into());
    let o = pantau().args(&resume).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("resumed after"), "{}", stderr(&o));
    let got = read(&out);
    let want = read(&reference);
    let rows = jsonl(&got);
    assert_eq!(rows.len(), 24_000);
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r["n"], i as u64, "row order and uniqueness");
    }
    assert!(got == want, "resumed output equals an uninterrupted run");
}

#[test]
fn resume_without_a_partial_output_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.jsonl");
    let o = run(
        &[
            "classify",
            "data/sample.jsonl",
            "-o",
            out.to_str().unwrap(),
            "--resume",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("nothing to resume"), "{}", stderr(&o));
    let o = run(&["classify", "data/sample.jsonl", "--resume"], None);
    assert!(
        stderr(&o).contains("--resume needs --output"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn info_prints_the_model_card() {
    let o = run(&["info"], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = String::from_utf8(o.stdout).unwrap();
    assert!(s.contains("neutral, promotional, campaigning"));
    assert!(s.contains("parameters"));
    assert!(s.contains("macro-F1"), "the card reports metrics");
    // The calibration the probabilities go through, as config.json has it.
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(model_dir().join("config.json")).unwrap()).unwrap();
    let t = config["temperature"].as_f64().unwrap();
    let line = s.lines().find(|l| l.starts_with("calibration")).unwrap();
    assert!(line.contains(&format!("temperature {t:.4}")), "{line}");
    assert_eq!(
        line.contains("top stretch above p"),
        config.get("top_stretch").is_some()
    );
}

#[test]
fn a_copied_binary_classifies_offline_from_any_directory_with_the_built_in_model() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("pantau");
    std::fs::copy(env!("CARGO_BIN_EXE_pantau"), &bin).unwrap();
    let posts = dir.path().join("posts.txt");
    std::fs::write(
        &posts,
        "Ayo coblos nomor 2 tanggal 14 Februari!\nSelamat pagi warga\n",
    )
    .unwrap();
    let sh = |args: &[&str]| {
        std::process::Command::new(&bin)
            .args(args)
            .current_dir(dir.path())
            .env_remove("PANTAU_MODEL")
            .env("HF_HUB_OFFLINE", "1")
            .output()
            .unwrap()
    };
    let o = sh(&["classify", "posts.txt"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = jsonl(&o.stdout);
    assert_eq!(rows.len(), 2);
    // The same scores as the model directory the binary was built from.
    let from_dir = run(
        &["classify", "--format", "text", "-m", "models/pantau-small"],
        Some(b"Ayo coblos nomor 2 tanggal 14 Februari!\nSelamat pagi warga\n"),
    );
    assert_eq!(
        jsonl(&from_dir.stdout)
            .iter()
            .map(|r| r["p_campaigning"].clone())
            .collect::<Vec<_>>(),
        rows.iter()
            .map(|r| r["p_campaigning"].clone())
            .collect::<Vec<_>>()
    );
    let o = sh(&["info"]);
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("model       built-in pantau-small"));
    // A typo of a local path is a missing directory, never a hub id to download.
    let o = sh(&["classify", "posts.txt", "-m", "./models/pantau-smal"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("no such directory") && !err.contains("huggingface-cli"),
        "{err}"
    );
    // The built-in model is read-only: commands that write into a model say what to pass.
    let o = sh(&["calibrate", "--data", posts.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("the built-in model has none: pass --model models/pantau-small"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn eval_reports_metrics_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("slice.jsonl");
    let test: Vec<String> = String::from_utf8(read(&root().join("data/test.jsonl")))
        .unwrap()
        .lines()
        .take(120)
        .map(String::from)
        .collect();
    std::fs::write(&data, test.join("\n")).unwrap();
    let o = run(&["eval", "--data", data.to_str().unwrap(), "--json"], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["n"], 120);
    let f1 = r["macro_f1"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&f1));
    let confusion_total: u64 = r["confusion"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row.as_array().unwrap().iter().map(|v| v.as_u64().unwrap()))
        .sum();
    assert_eq!(confusion_total, 120);
    assert!(!r["per_kind"].as_object().unwrap().is_empty());
    assert!(r["ece"].as_f64().unwrap() >= 0.0);
}

#[test]
fn cuda_without_the_feature_is_a_clear_error() {
    if cfg!(feature = "cuda") {
        eprintln!("skipped: built with cuda");
        return;
    }
    let o = run(&["classify", "data/sample.jsonl", "--device", "cuda"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--features cuda"), "{}", stderr(&o));
}

#[test]
fn a_hub_id_resolves_from_a_local_cache_offline() {
    let cache = tempfile::tempdir().unwrap();
    let commit = "1111111111111111111111111111111111111111";
    let repo = cache.path().join("models--pantau-test--small");
    let snap = repo.join("snapshots").join(commit);
    std::fs::create_dir_all(&snap).unwrap();
    for f in ["config.json", "tokenizer.json", "model.safetensors"] {
        std::fs::copy(model_dir().join(f), snap.join(f)).unwrap();
    }
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), commit).unwrap();
    let o = pantau()
        .args([
            "classify",
            "data/sample.jsonl",
            "--model",
            "pantau-test/small",
        ])
        .env("HF_HUB_CACHE", cache.path())
        .env("HF_HUB_OFFLINE", "1")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(jsonl(&o.stdout).len(), 40);
    let o = pantau()
        .args([
            "classify",
            "data/sample.jsonl",
            "--model",
            "pantau-test/absent",
        ])
        .env("HF_HUB_CACHE", cache.path())
        .env("HF_HUB_OFFLINE", "1")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("not in the Hugging Face cache"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn train_cli_writes_a_loadable_model() {
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<String> = String::from_utf8(read(&root().join("data/train.jsonl")))
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let train = dir.path().join("train.jsonl");
    let dev = dir.path().join("dev.jsonl");
    std::fs::write(&train, lines[..240].join("\n")).unwrap();
    std::fs::write(&dev, lines[240..300].join("\n")).unwrap();
    let out = dir.path().join("tiny");
    let o = run(
        &[
            "train",
            "--train",
            train.to_str().unwrap(),
            "--dev",
            dev.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--epochs",
            "2",
            "--hidden-size",
            "32",
            "--layers",
            "1",
            "--heads",
            "2",
            "--intermediate-size",
            "64",
            "--vocab-size",
            "600",
            "--max-len",
            "48",
            "--label-smoothing",
            "0.1",
            "--token-dropout",
            "0.1",
            "--ema-decay",
            "0.9",
            "--pretrain-epochs",
            "1",
            "--unlabeled",
            "data/sample.jsonl",
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("epoch   2"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("pretraining epoch   1"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("40 unlabeled posts"), "{}", stderr(&o));
    let report: serde_json::Value =
        serde_json::from_slice(&read(&out.join("training.json"))).unwrap();
    let config = &report["config"];
    assert_eq!(config["label_smoothing"], 0.1);
    assert_eq!(config["ema_decay"], 0.9);
    assert_eq!(config["hidden_size"], 32);
    assert_eq!(
        config["learning_rate"], 1e-3,
        "the default when --lr is not given"
    );
    for f in [
        "config.json",
        "tokenizer.json",
        "model.safetensors",
        "README.md",
        "training.json",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let o = run(
        &[
            "classify",
            "data/sample.jsonl",
            "--model",
            out.to_str().unwrap(),
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    jsonl(&o.stdout).iter().for_each(assert_prediction);
}

#[test]
fn train_cli_rejects_out_of_range_settings_before_reading_data() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("never");
    let o = run(
        &[
            "train",
            "--train",
            "data/train.jsonl",
            "--dev",
            "data/dev.jsonl",
            "--out",
            out.to_str().unwrap(),
            "--token-dropout",
            "1.5",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--token-dropout must be in [0, 1)"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());
}

#[test]
fn average_writes_a_model_that_classifies_like_its_inputs() {
    // The shipped model averaged with itself has its weights; only the calibration is reset,
    // which moves no label.
    let tmp = tempfile::tempdir().unwrap();
    let soup = tmp.path().join("soup");
    let soup_s = soup.to_str().unwrap();
    let m = model_dir();
    let m_s = m.to_str().unwrap();
    let o = run(&["average", m_s, m_s, "--out", soup_s], None);
    assert!(o.status.success(), "{}", stderr(&o));
    // The shipped model's lexical head is not averaged, and the message says how to fit one.
    assert!(String::from_utf8_lossy(&o.stdout).contains("--epochs 0"));
    let soup_config: serde_json::Value =
        serde_json::from_slice(&read(&soup.join("config.json"))).unwrap();
    assert!(soup_config.get("lexical").is_none(), "{soup_config}");
    let input = b"{\"text\":\"Ayo coblos nomor 2, jangan golput!\"}\n{\"text\":\"Makan siang enak banget hari ini\"}\n";
    let ours = run(
        &["classify", "--model", soup_s, "-q", "-", "-o", "-"],
        Some(input),
    );
    let theirs = run(
        &["classify", "--model", m_s, "-q", "-", "-o", "-"],
        Some(input),
    );
    assert!(
        ours.status.success() && theirs.status.success(),
        "{}",
        stderr(&ours)
    );
    assert_eq!(labels(&ours), labels(&theirs));
    // Refused input is an error naming the file, and nothing is written.
    let o = run(
        &[
            "average",
            m_s,
            "no-such-model",
            "--out",
            tmp.path().join("x").to_str().unwrap(),
        ],
        None,
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("no-such-model"), "{}", stderr(&o));
    assert!(!tmp.path().join("x").exists());
    // A mistyped --out that names a folder of other files is refused before anything is written.
    let docs = tmp.path().join("docs");
    std::fs::create_dir(&docs).unwrap();
    std::fs::write(docs.join("thesis.md"), b"keep me").unwrap();
    let o = run(
        &["average", m_s, m_s, "--out", docs.to_str().unwrap()],
        None,
    );
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("not a model directory"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read(docs.join("thesis.md")).unwrap(), b"keep me");
}

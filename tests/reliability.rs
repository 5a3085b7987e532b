//! Faults that must never damage output or pass silently: special output files, concurrent runs,
//! resumes of a different run, broken models, closed or broken standard streams, huge rows.
//! One test per failure class of the reliability probe (issue "Never corrupt, never mix").

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// A JSONL input of `n` numbered rows drawn from the sample.
fn numbered_input(path: &Path, n: usize) {
    let sample: Vec<String> = String::from_utf8(read(&root().join("data/sample.jsonl")))
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let mut body = String::new();
    for i in 0..n {
        let mut obj: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&sample[i % sample.len()]).unwrap();
        obj.insert("n".into(), i.into());
        body.push_str(&serde_json::to_string(&obj).unwrap());
        body.push('\n');
    }
    std::fs::write(path, body).unwrap();
}

fn classify_args(input: &Path, out: &Path, extra: &[&str]) -> Vec<String> {
    let mut a = vec![
        "classify".to_string(),
        input.display().to_string(),
        "-o".into(),
        out.display().to_string(),
        "--window".into(),
        "32".into(),
    ];
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

fn checkpoint_rows(out: &Path) -> u64 {
    let mut ckpt = out.as_os_str().to_owned();
    ckpt.push(".partial.ckpt");
    std::fs::read_to_string(PathBuf::from(ckpt))
        .ok()
        .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
        .and_then(|v| v["rows"].as_u64())
        .unwrap_or(0)
}

/// Waits until the run writing `out` has checkpointed at least `rows` rows.
fn wait_for_rows(child: &mut Child, out: &Path, rows: u64) {
    let start = Instant::now();
    while checkpoint_rows(out) < rows {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run finished before the test could act on it"
        );
        assert!(start.elapsed() < Duration::from_secs(120), "no progress");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Starts a run of `input` into `out` in the background (stderr kept for its message).
fn start(input: &Path, out: &Path) -> Child {
    pantau()
        .args(classify_args(input, out, &[]))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Starts a run of `input` into `out`, kills it after its first checkpoints, and returns the
/// partial output's bytes at that point.
fn interrupted(input: &Path, out: &Path) -> Vec<u8> {
    let mut child = start(input, out);
    wait_for_rows(&mut child, out, 64);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!out.exists());
    read(&partial(out))
}

fn partial(out: &Path) -> PathBuf {
    let mut p = out.as_os_str().to_owned();
    p.push(".partial");
    PathBuf::from(p)
}

fn sh(script: &str) -> std::process::Output {
    std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .env("PANTAU", env!("CARGO_BIN_EXE_pantau"))
        .current_dir(root())
        .env_remove("PANTAU_MODEL")
        .output()
        .unwrap()
}

#[cfg(unix)]
#[test]
fn devices_and_fifos_are_written_in_place_never_replaced() {
    use std::os::unix::fs::FileTypeExt;
    let o = run(&["classify", "data/sample.jsonl", "-o", "/dev/null"], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let m = std::fs::metadata("/dev/null").unwrap();
    assert!(
        m.file_type().is_char_device(),
        "/dev/null is still a device"
    );
    assert!(!Path::new("/dev/null.partial").exists());

    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("rows.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(&fifo).unwrap())
    };
    let o = run(
        &[
            "classify",
            "data/sample.jsonl",
            "-o",
            fifo.to_str().unwrap(),
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = jsonl(&reader.join().unwrap());
    let want = read(&root().join("data/sample.jsonl"))
        .iter()
        .filter(|&&b| b == b'\n')
        .count();
    assert_eq!(rows.len(), want);
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());

    let o = run(
        &[
            "classify",
            "data/sample.jsonl",
            "-o",
            "/dev/null",
            "--resume",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("never resumable"), "{}", stderr(&o));
}

#[test]
fn a_second_run_on_the_same_output_is_refused_and_the_first_finishes_intact() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    numbered_input(&input, 10_000);
    let out = dir.path().join("out.jsonl");
    let mut first = start(&input, &out);
    wait_for_rows(&mut first, &out, 32);
    let second = pantau()
        .args(classify_args(&input, &out, &[]))
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(1));
    assert!(
        stderr(&second).contains("another pantau run is writing this output"),
        "{}",
        stderr(&second)
    );
    let resumed = pantau()
        .args(classify_args(&input, &out, &["--resume"]))
        .output()
        .unwrap();
    assert_eq!(resumed.status.code(), Some(1), "{}", stderr(&resumed));
    let first = first.wait_with_output().unwrap();
    assert!(first.status.success(), "{}", stderr(&first));
    let rows = jsonl(&read(&out));
    assert_eq!(rows.len(), 10_000);
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r["n"], i as u64);
        assert_prediction(r);
    }
}

#[test]
fn resume_refuses_another_input_model_or_option_and_then_continues_the_right_one() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.jsonl");
    numbered_input(&a, 6000);
    let reference = dir.path().join("ref.jsonl");
    let o = pantau()
        .args(classify_args(&a, &reference, &[]))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));

    let out = dir.path().join("out.jsonl");
    let before = interrupted(&a, &out);

    // Another input, the same input edited inside the part already read, another model, and
    // options that change the rows: each is refused, naming what differs, and nothing is touched.
    let b = dir.path().join("b.jsonl");
    let text = String::from_utf8(read(&a)).unwrap();
    std::fs::write(&b, text.replacen("\"n\":0", "\"n\":9", 1)).unwrap();
    let other_model = dir.path().join("model");
    std::fs::create_dir_all(&other_model).unwrap();
    for f in ["config.json", "tokenizer.json", "model.safetensors"] {
        std::fs::copy(model_dir().join(f), other_model.join(f)).unwrap();
    }
    let mut config = read(&other_model.join("config.json"));
    config.push(b'\n');
    std::fs::write(other_model.join("config.json"), config).unwrap();
    let om = other_model.display().to_string();
    let cases: Vec<(PathBuf, Vec<&str>, &str)> = vec![
        (b.clone(), vec![], "is not the input of the interrupted run"),
        (a.clone(), vec!["--model", &om], "model was"),
        (
            a.clone(),
            vec!["--text-field", "isi"],
            "text_field was \"text\" and is now \"isi\"",
        ),
        (
            a.clone(),
            vec!["--output-format", "csv"],
            "output_format was \"jsonl\"",
        ),
    ];
    for (input, extra, why) in cases {
        let mut flags = extra.clone();
        flags.push("--resume");
        let o = pantau()
            .args(classify_args(&input, &out, &flags))
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{extra:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(why), "{extra:?}: {}", stderr(&o));
        assert_eq!(
            read(&partial(&out)),
            before,
            "{extra:?} touched the partial output"
        );
    }

    let o = pantau()
        .args(classify_args(&a, &out, &["--resume"]))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        read(&out) == read(&reference),
        "resumed output equals an uninterrupted run"
    );
}

#[test]
fn a_resume_from_stdin_checks_the_stream_it_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.jsonl");
    numbered_input(&a, 6000);
    let out = dir.path().join("out.jsonl");
    let reference = dir.path().join("ref.jsonl");
    let o = pantau()
        .args(classify_args(&a, &reference, &[]))
        .output()
        .unwrap();
    assert!(o.status.success());
    let stdin_args = |extra: &str| {
        format!(
            "\"$PANTAU\" classify -o '{}' --window 32 {extra}",
            out.display()
        )
    };
    // Interrupted while reading stdin.
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("exec {} < '{}'", stdin_args(""), a.display()))
        .env("PANTAU", env!("CARGO_BIN_EXE_pantau"))
        .current_dir(root())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_rows(&mut child, &out, 64);
    child.kill().unwrap();
    child.wait().unwrap();
    let before = read(&partial(&out));

    let edited = dir.path().join("edited.jsonl");
    let text = String::from_utf8(read(&a)).unwrap();
    std::fs::write(&edited, text.replacen("\"n\":1", "\"n\":7", 1)).unwrap();
    let o = sh(&format!(
        "cat '{}' | {}",
        edited.display(),
        stdin_args("--resume")
    ));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("not the input of the interrupted run"),
        "{}",
        stderr(&o)
    );
    assert_eq!(read(&partial(&out)), before);

    let o = sh(&format!(
        "cat '{}' | {}",
        a.display(),
        stdin_args("--resume")
    ));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(read(&out) == read(&reference));
}

#[test]
fn a_run_stopped_before_its_first_row_can_be_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    numbered_input(&input, 300);
    let reference = dir.path().join("ref.jsonl");
    assert!(pantau()
        .args(classify_args(&input, &reference, &[]))
        .output()
        .unwrap()
        .status
        .success());
    // Killed after creating the partial file, before its checkpoint: an empty partial alone.
    let out = dir.path().join("out.jsonl");
    std::fs::write(partial(&out), b"").unwrap();
    let o = pantau()
        .args(classify_args(&input, &out, &["--resume"]))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(read(&out) == read(&reference));

    // Killed right after start: the checkpoint is written before the first row.
    let out = dir.path().join("early.jsonl");
    let mut child = start(&input, &out);
    let mut ckpt = out.as_os_str().to_owned();
    ckpt.push(".partial.ckpt");
    let start = Instant::now();
    while !Path::new(&ckpt).exists() && child.try_wait().unwrap().is_none() {
        assert!(start.elapsed() < Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(1));
    }
    let _ = child.kill();
    child.wait().unwrap();
    if !out.exists() {
        let o = pantau()
            .args(classify_args(&input, &out, &["--resume"]))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
    }
    assert!(read(&out) == read(&reference));
}

#[cfg(unix)]
#[test]
fn closed_full_and_broken_standard_streams_never_pass_silently_or_panic() {
    // Closed stdout: the rows would be lost, so it is an error, said once.
    let o = sh("\"$PANTAU\" classify data/sample.jsonl >&-");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("stdout is closed"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    for cmd in [
        "info",
        "eval --data data/test.jsonl",
        "normalize data/sample.jsonl",
    ] {
        let o = sh(&format!("\"$PANTAU\" {cmd} >&-"));
        assert_eq!(o.status.code(), Some(1), "{cmd}: {}", stderr(&o));
    }
    // A full disk is an error with one message naming it.
    let o = sh("\"$PANTAU\" info > /dev/full");
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("No space left"), "{err}");
    assert_eq!(err.matches("No space left").count(), 1, "{err}");
    // A consumer that stops early ends pantau quietly: no panic, with stderr in the pipe or not.
    for cmd in [
        "classify data/test.jsonl 2>&1 | head -1",
        "classify data/test.jsonl | head -1",
        "eval --data data/test.jsonl | head -1",
        "eval --data data/test.jsonl 2>&1 | head -1",
        "normalize data/test.jsonl | head -1",
        "info | head -1",
    ] {
        let o = sh(&format!("\"$PANTAU\" {cmd}"));
        let all = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
        assert!(!all.contains("panicked"), "{cmd}: {all}");
        assert!(!all.contains("Broken pipe"), "{cmd}: {all}");
        assert_eq!(
            String::from_utf8_lossy(&o.stdout).lines().count(),
            1,
            "{cmd}: {all}"
        );
    }
    // A closed stderr cannot stop a run that writes its rows to a file.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.jsonl");
    let o = sh(&format!(
        "\"$PANTAU\" classify data/sample.jsonl -o '{}' 2>&-",
        out.display()
    ));
    assert!(o.status.success());
    assert!(!jsonl(&read(&out)).is_empty());
}

#[test]
fn io_errors_are_said_once_and_unreadable_model_files_are_not_called_missing() {
    let o = run(
        &[
            "classify",
            "data/sample.jsonl",
            "-o",
            "/nonexistent-dir/out.jsonl",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
    assert!(err.contains("/nonexistent-dir/out.jsonl"), "{err}");

    #[cfg(unix)]
    {
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join("model");
        std::fs::create_dir_all(&m).unwrap();
        for f in ["tokenizer.json", "model.safetensors"] {
            std::fs::copy(model_dir().join(f), m.join(f)).unwrap();
        }
        std::os::unix::fs::symlink(m.join("loop.json"), m.join("config.json")).unwrap();
        std::os::unix::fs::symlink(m.join("config.json"), m.join("loop.json")).unwrap();
        let o = run(&["info", m.to_str().unwrap()], None);
        assert_eq!(o.status.code(), Some(1));
        let err = stderr(&o);
        assert!(err.contains("config.json cannot be read"), "{err}");
        assert!(!err.contains("missing"), "{err}");
    }
}

/// A copy of the shipped model in `dir`, with `edit` applied to its files.
fn broken_model(dir: &Path, edit: impl FnOnce(&Path)) -> String {
    std::fs::create_dir_all(dir).unwrap();
    for f in ["config.json", "tokenizer.json", "model.safetensors"] {
        std::fs::copy(model_dir().join(f), dir.join(f)).unwrap();
    }
    edit(dir);
    dir.display().to_string()
}

fn edit_json(path: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let mut v: serde_json::Value = serde_json::from_slice(&read(path)).unwrap();
    f(&mut v);
    std::fs::write(path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
}

/// The safetensors header and where the data region starts.
fn safetensors_header(bytes: &[u8]) -> (serde_json::Map<String, serde_json::Value>, usize) {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    (serde_json::from_slice(&bytes[8..8 + n]).unwrap(), 8 + n)
}

fn rewrite_header(path: &Path, f: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>)) {
    let bytes = read(path);
    let (mut header, start) = safetensors_header(&bytes);
    f(&mut header);
    let mut h = serde_json::to_vec(&header).unwrap();
    while h.len() % 8 != 0 {
        h.push(b' ');
    }
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&h);
    out.extend_from_slice(&bytes[start..]);
    std::fs::write(path, out).unwrap();
}

/// Byte range of one tensor's data in the file.
fn tensor_bytes(path: &Path, name: &str) -> std::ops::Range<usize> {
    let bytes = read(path);
    let (header, start) = safetensors_header(&bytes);
    let offsets = header[name]["data_offsets"].as_array().unwrap();
    start + offsets[0].as_u64().unwrap() as usize..start + offsets[1].as_u64().unwrap() as usize
}

/// A change that breaks a copy of the model directory.
type Edit<'a> = Box<dyn FnOnce(&Path) + 'a>;

#[test]
fn broken_or_inconsistent_models_are_refused_at_load_naming_the_file_and_the_fix() {
    let tmp = tempfile::tempdir().unwrap();
    let weights = |d: &Path| d.join("model.safetensors");
    let cases: Vec<(&str, Edit<'_>, &[&str])> = vec![
        (
            "nan_weight",
            Box::new(|d| {
                let w = weights(d);
                let r = tensor_bytes(&w, "encoder.layers.0.ffn.up.weight");
                let mut b = read(&w);
                b[r.start..r.start + 2].copy_from_slice(&0x7E00u16.to_le_bytes());
                std::fs::write(&w, b).unwrap();
            }),
            &[
                "model.safetensors",
                "encoder.layers.0.ffn.up.weight",
                "non-finite",
            ],
        ),
        (
            "inf_weight",
            Box::new(|d| {
                let w = weights(d);
                let r = tensor_bytes(&w, "classifier.weight");
                let mut b = read(&w);
                b[r.end - 2..r.end].copy_from_slice(&0x7C00u16.to_le_bytes());
                std::fs::write(&w, b).unwrap();
            }),
            &["classifier.weight", "non-finite"],
        ),
        (
            "garbled_data",
            Box::new(|d| {
                let w = weights(d);
                let r = tensor_bytes(&w, "embeddings.word_embeddings.weight");
                let mut b = read(&w);
                b[r.start + 1000..r.start + 3000].fill(0xFF);
                std::fs::write(&w, b).unwrap();
            }),
            &["embeddings.word_embeddings.weight", "non-finite"],
        ),
        (
            "negative_eps",
            Box::new(|d| {
                edit_json(&d.join("config.json"), |v| {
                    v["layer_norm_eps"] = (-1.0).into()
                })
            }),
            &["config.json", "layer_norm_eps"],
        ),
        (
            "fewer_layers_in_config",
            Box::new(|d| {
                edit_json(&d.join("config.json"), |v| {
                    v["num_hidden_layers"] = 1.into()
                })
            }),
            &[
                "num_hidden_layers 1",
                "the weights have 2 layers",
                "unexpected tensors",
            ],
        ),
        (
            "more_layers_in_config",
            Box::new(|d| {
                edit_json(&d.join("config.json"), |v| {
                    v["num_hidden_layers"] = 3.into()
                })
            }),
            &["num_hidden_layers 3", "the weights have 2 layers"],
        ),
        (
            "integer_dtype",
            Box::new(|d| {
                rewrite_header(&weights(d), |h| {
                    h["classifier.bias"]["dtype"] = "I16".into();
                })
            }),
            &["classifier.bias", "I16", "float16"],
        ),
        (
            "string_hidden_size",
            Box::new(|d| edit_json(&d.join("config.json"), |v| v["hidden_size"] = "64".into())),
            &["field hidden_size", "invalid type: string"],
        ),
        (
            "duplicate_token_ids",
            Box::new(|d| {
                edit_json(&d.join("tokenizer.json"), |v| {
                    let vocab = v["model"]["vocab"].as_object_mut().unwrap();
                    vocab.insert("zzzduplikat".into(), 40.into());
                })
            }),
            &["tokenizer.json gives tokens", "the same id 40"],
        ),
        (
            "token_id_out_of_range",
            Box::new(|d| {
                let c: serde_json::Value =
                    serde_json::from_slice(&read(&d.join("config.json"))).unwrap();
                let v = c["vocab_size"].as_u64().unwrap();
                edit_json(&d.join("tokenizer.json"), |t| {
                    let vocab = t["model"]["vocab"].as_object_mut().unwrap();
                    let (k, _) = vocab
                        .iter()
                        .find(|(_, id)| id.as_u64() == Some(v - 1))
                        .map(|(k, id)| (k.clone(), id.clone()))
                        .unwrap();
                    vocab.insert(k, v.into());
                })
            }),
            &["tokenizer.json", "not below config.json's vocab_size"],
        ),
        (
            "no_unk",
            Box::new(|d| {
                edit_json(&d.join("tokenizer.json"), |t| {
                    let vocab = t["model"]["vocab"].as_object_mut().unwrap();
                    vocab.remove("[UNK]");
                    let added = t["added_tokens"].as_array_mut().unwrap();
                    added.retain(|a| a["content"] != "[UNK]");
                })
            }),
            &["tokenizer.json", "unknown-word token"],
        ),
        (
            "lexical_entry_removed",
            Box::new(|d| {
                edit_json(&d.join("config.json"), |v| {
                    v.as_object_mut().unwrap().remove("lexical");
                })
            }),
            &["model.safetensors", "lexical.* tensors", "no lexical entry"],
        ),
        (
            "lexical_buckets_changed",
            Box::new(|d| {
                edit_json(&d.join("config.json"), |v| {
                    v["lexical"]["buckets"] = 1024.into()
                })
            }),
            &["model.safetensors", "1024 buckets", "lexical.idf (2048)"],
        ),
        (
            "lexical_tensor_renamed",
            Box::new(|d| {
                rewrite_header(&weights(d), |h| {
                    let t = h.remove("lexical.bias").unwrap();
                    h.insert("lexical.bias_old".into(), t);
                })
            }),
            &["model.safetensors", "lexical.bias is missing"],
        ),
        (
            "lexical_weight_negative",
            Box::new(|d| {
                edit_json(&d.join("config.json"), |v| {
                    v["lexical"]["weight"] = (-1.0).into()
                })
            }),
            &["config.json", "lexical.weight is -1"],
        ),
    ];
    for (name, edit, wanted) in cases {
        let dir = broken_model(&tmp.path().join(name), edit);
        let o = run(&["info", "--check", &dir], None);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{name} was accepted: {err}");
        for w in wanted {
            assert!(err.contains(w), "{name}: {err:?} lacks {w:?}");
        }
        assert!(err.contains(&dir), "{name}: {err}");
        // classify refuses it too, before writing a row.
        let o = run(&["classify", "-m", &dir, "data/sample.jsonl"], None);
        assert_eq!(o.status.code(), Some(1), "{name}");
        assert!(o.stdout.is_empty(), "{name} wrote rows");
        // No backtrace dressed as a crash, even when backtraces are asked for.
        let o = pantau()
            .args(["info", "--check", &dir])
            .env("RUST_BACKTRACE", "1")
            .output()
            .unwrap();
        assert!(stderr(&o).lines().count() <= 2, "{name}: {}", stderr(&o));
    }
    let o = run(&["info", "--check"], None);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("ok: "));
}

#[test]
fn an_empty_post_is_an_error_in_the_library_as_on_the_command_line() {
    let clf = pantau::Classifier::load_dir(&model_dir(), &candle_core::Device::Cpu).unwrap();
    for text in ["", "   ", "\u{0}\u{7}"] {
        let e = clf.classify(text).unwrap_err();
        assert!(
            matches!(e, pantau::Error::EmptyText { index: 0 }),
            "{text:?}: {e:?}"
        );
        assert!(e.to_string().contains("empty text"));
    }
    let e = clf.classify_batch(&["halo semua", ""]).unwrap_err();
    assert!(matches!(e, pantau::Error::EmptyText { index: 1 }), "{e:?}");
    let o = run(&["classify", "--format", "text"], Some(b"\x07\n"));
    let rows = jsonl(&o.stdout);
    assert!(rows[0]["error"].as_str().unwrap().contains("empty text"));
}

#[test]
fn rows_over_the_byte_cap_are_cut_while_read_and_the_rows_after_them_are_whole() {
    let dir = tempfile::tempdir().unwrap();
    let long = format!("Ayo coblos nomor 2 besok! {}", "kata ".repeat(20_000));
    let txt = dir.path().join("long.txt");
    std::fs::write(&txt, format!("{long}\nSelamat pagi semua\n")).unwrap();
    let o = run(
        &["classify", txt.to_str().unwrap(), "--max-row-bytes", "4096"],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = jsonl(&o.stdout);
    assert_eq!(rows.len(), 2);
    rows.iter().for_each(assert_prediction);
    assert!(rows[0]["text"].as_str().unwrap().len() <= 4096);
    assert_eq!(rows[1]["text"], "Selamat pagi semua");

    let js = dir.path().join("long.jsonl");
    std::fs::write(
        &js,
        format!("{{\"text\":\"{long}\"}}\n{{\"text\":\"Selamat pagi\"}}\n"),
    )
    .unwrap();
    let o = run(
        &["classify", js.to_str().unwrap(), "--max-row-bytes", "4096"],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = jsonl(&o.stdout);
    assert_eq!(rows.len(), 2);
    let err = rows[0]["error"].as_str().unwrap();
    assert!(err.contains("--max-row-bytes"), "{err}");
    assert_prediction(&rows[1]);
}

#[test]
fn every_broken_model_file_in_the_fixtures_is_refused_with_its_reason() {
    let expected = [
        ("string_hidden_size", "field hidden_size"),
        ("negative_eps", "layer_norm_eps"),
        ("fewer_layers", "the weights have 2 layers"),
        ("pad_out_of_range", "pad_token_id"),
        ("no_unk", "unknown-word token"),
        ("duplicate_ids", "the same id 7"),
        ("id_out_of_range", "not below config.json's vocab_size"),
        // Found by the model_dir fuzz target: `tokenizers` panicked on it instead of erring.
        ("invalid_json", "not valid JSON"),
    ];
    let tmp = tempfile::tempdir().unwrap();
    let fixtures = root().join("tests/data/broken/models");
    let mut seen = 0;
    for entry in std::fs::read_dir(&fixtures).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let (case, file) = name.split_once('.').unwrap();
        let (_, why) = expected
            .iter()
            .find(|(c, _)| *c == case)
            .unwrap_or_else(|| panic!("{name} has no expected reason"));
        let dir = broken_model(&tmp.path().join(case), |d| {
            std::fs::copy(&path, d.join(file)).unwrap();
        });
        let e = match pantau::Classifier::load_dir(Path::new(&dir), &candle_core::Device::Cpu) {
            Ok(_) => panic!("{name} loaded"),
            Err(e) => e.to_string(),
        };
        assert!(e.contains(why) && e.contains(file), "{name}: {e}");
        seen += 1;
    }
    assert_eq!(seen, expected.len());
}

#[test]
fn a_parquet_input_is_read_in_place_and_resumes_only_when_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("a.jsonl");
    numbered_input(&jsonl, 3000);
    // A Parquet dump written by pantau itself (its text column is `text`).
    let input = dir.path().join("in.parquet");
    let o = run(
        &[
            "classify",
            jsonl.to_str().unwrap(),
            "-o",
            input.to_str().unwrap(),
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let reference = dir.path().join("ref.jsonl");
    let o = pantau()
        .args(classify_args(&input, &reference, &[]))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));

    let out = dir.path().join("out.jsonl");
    interrupted(&input, &out);
    // The same file name with other content is refused: the whole file was hashed at the start.
    let saved = read(&input);
    let mut other = saved.clone();
    let mid = other.len() / 2;
    other[mid] ^= 1;
    std::fs::write(&input, &other).unwrap();
    let o = pantau()
        .args(classify_args(&input, &out, &["--resume"]))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("is not the input of the interrupted run"),
        "{}",
        stderr(&o)
    );
    std::fs::write(&input, &saved).unwrap();
    let o = pantau()
        .args(classify_args(&input, &out, &["--resume"]))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(read(&out), read(&reference));
}

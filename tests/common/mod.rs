//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn model_dir() -> PathBuf {
    root().join("models/pantau-small")
}

pub fn pantau() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pantau"));
    c.current_dir(root()).env_remove("PANTAU_MODEL");
    c
}

/// Runs pantau with `args`, feeding `stdin`.
pub fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = pantau();
    cmd.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("pantau starts");
    if let Some(input) = stdin {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    child.wait_with_output().unwrap()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Parses JSONL output into objects.
pub fn jsonl(bytes: &[u8]) -> Vec<serde_json::Map<String, serde_json::Value>> {
    String::from_utf8(bytes.to_vec())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad output line {l:?}: {e}")))
        .collect()
}

/// Asserts a classified row has a label and probabilities that sum to 1.
pub fn assert_prediction(row: &serde_json::Map<String, serde_json::Value>) {
    let label = row["label"].as_str().expect("label is a string");
    assert!(
        ["neutral", "promotional", "campaigning"].contains(&label),
        "{label}"
    );
    let sum: f64 = ["p_neutral", "p_promotional", "p_campaigning"]
        .iter()
        .map(|k| row[*k].as_f64().expect("probability is a number"))
        .sum();
    assert!((sum - 1.0).abs() < 1e-4, "probabilities sum to {sum}");
    let best = ["p_neutral", "p_promotional", "p_campaigning"]
        .iter()
        .max_by(|a, b| row[**a].as_f64().partial_cmp(&row[**b].as_f64()).unwrap())
        .unwrap();
    assert_eq!(format!("p_{label}"), *best);
}

pub fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The `label` of each JSONL row a command printed, in order.
pub fn labels(o: &Output) -> Vec<String> {
    jsonl(&o.stdout)
        .iter()
        .map(|r| r["label"].as_str().unwrap().to_string())
        .collect()
}

//! `pantau eval`: a model's metrics on labeled data, optionally written into its model card.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;

use pantau::eval::{evaluate, Report};
use pantau::io::read_examples;
use pantau::train::CARD_EVAL_MARKER;
use pantau::Label;

use crate::cli::common::{load, Common};

#[derive(Args)]
pub struct EvalArgs {
    /// Labeled data (JSONL or CSV with text, label and optionally kind).
    #[arg(long)]
    pub data: PathBuf,
    #[command(flatten)]
    pub common: Common,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Write the report into the model card (README.md) of the model directory.
    #[arg(long)]
    pub update_card: bool,
}

pub fn run(a: EvalArgs) -> Result<()> {
    let clf = load(&a.common)?;
    let examples = read_examples(&a.data)?;
    let texts: Vec<&str> = examples.iter().map(|e| e.text.as_str()).collect();
    let preds = clf.classify_batch(&texts)?;
    let gold: Vec<Label> = examples.iter().map(|e| e.label).collect();
    let kinds: Vec<Option<String>> = examples.iter().map(|e| e.kind.clone()).collect();
    let has_kinds = kinds.iter().any(Option::is_some);
    let report = evaluate(&gold, &preds, has_kinds.then_some(&kinds[..]));
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{report}");
    }
    if a.update_card {
        update_card(clf.dir(), &a.data, &report)?;
    }
    Ok(())
}

/// Replaces everything after the card's evaluation marker with this report.
fn update_card(dir: &Path, data: &Path, report: &Report) -> Result<()> {
    let path = dir.join("README.md");
    let card =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let Some(at) = card.find(CARD_EVAL_MARKER) else {
        bail!(
            "{} has no {CARD_EVAL_MARKER} line to write the evaluation after",
            path.display()
        );
    };
    let mut out = card[..at + CARD_EVAL_MARKER.len()].to_string();
    out.push_str(&format!(
        "\n`pantau eval --model {} --data {}`:\n\n```text\n{report}```\n",
        dir.display(),
        data.display()
    ));
    std::fs::write(&path, out).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{parse, Command};
    use pantau::Prediction;

    #[test]
    fn data_is_required_and_the_output_flags_default_off() {
        assert!(parse(&["eval"]).is_err());
        let Ok(Command::Eval(a)) = parse(&["eval", "--data", "test.jsonl"]) else {
            panic!("eval --data does not parse");
        };
        assert_eq!(a.data, Path::new("test.jsonl"));
        assert!(!a.json && !a.update_card);
        assert_eq!(a.common.device, "cpu");
        let Ok(Command::Eval(a)) = parse(&["eval", "--data", "d", "--json", "--update-card"])
        else {
            panic!("eval flags do not parse");
        };
        assert!(a.json && a.update_card);
    }

    #[test]
    fn the_card_keeps_everything_up_to_the_marker_and_gets_the_new_report() {
        let dir = tempfile::tempdir().unwrap();
        let card = dir.path().join("README.md");
        let report = evaluate(
            &[Label::Neutral],
            &[Prediction::from_probabilities([0.8, 0.1, 0.1])],
            None,
        );
        std::fs::write(&card, format!("# m\n\n{CARD_EVAL_MARKER}\nold numbers\n")).unwrap();
        update_card(dir.path(), Path::new("test.jsonl"), &report).unwrap();
        let text = std::fs::read_to_string(&card).unwrap();
        assert!(text.starts_with(&format!("# m\n\n{CARD_EVAL_MARKER}\n`pantau eval --model ")));
        assert!(text.contains("--data test.jsonl`") && text.contains("accuracy   1.0000"));
        assert!(!text.contains("old numbers"), "{text}");

        std::fs::write(&card, "# a card without the marker\n").unwrap();
        let err = update_card(dir.path(), Path::new("t"), &report).unwrap_err();
        assert!(err.to_string().contains(CARD_EVAL_MARKER), "{err}");
    }
}

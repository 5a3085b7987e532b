//! `pantau eval`: a model's metrics on labeled data, optionally written into its model card.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;

use pantau::eval::{evaluate, Report};
use pantau::io::corpora::{read_corpora, Part};
use pantau::io::{read_examples, Example};
use pantau::train::CARD_EVAL_MARKER;
use pantau::Label;

use crate::cli::common::{load, model_dir, Common};
use crate::cli::out::stdout;

#[derive(Args)]
pub struct EvalArgs {
    /// Labeled data (JSONL or CSV with text, label and optionally kind). A file whose rows are all
    /// neutral (ordinary traffic) measures the false-alarm rate.
    #[arg(long, required_unless_present = "corpora")]
    pub data: Option<PathBuf>,
    /// Evaluate on the held-out rows of the real corpora in DIR instead (data/corpora/README.md):
    /// recall on real election posts and false alarms on real ordinary ones.
    #[arg(long, value_name = "DIR", conflicts_with = "data")]
    pub corpora: Option<PathBuf>,
    /// Hand labels of the corpora rows.
    #[arg(long, value_name = "FILE", default_value = "data/corpora/labels.tsv")]
    pub corpora_labels: PathBuf,
    /// Participants of the elections the corpora talk about, added to the registry. Repeatable.
    #[arg(long, value_name = "FILE")]
    pub corpora_participants: Vec<PathBuf>,
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
    let mut clf = load(&a.common)?;
    let (examples, source): (Vec<Example>, PathBuf) = match (&a.data, &a.corpora) {
        (Some(data), _) => (read_examples(data)?, data.clone()),
        (None, Some(dir)) => {
            let mut registry = clf.registry().clone();
            registry.extend_from_paths(&a.corpora_participants)?;
            clf = clf.with_registry(registry);
            let rows = read_corpora(dir, &a.corpora_labels, Part::Holdout)?;
            (
                rows.into_iter().map(|r| r.example).collect(),
                dir.join("(held-out rows)"),
            )
        }
        (None, None) => bail!("give --data FILE or --corpora DIR"),
    };
    let texts: Vec<&str> = examples.iter().map(|e| e.text.as_str()).collect();
    let preds = clf.classify_batch(&texts)?;
    let gold: Vec<Label> = examples.iter().map(|e| e.label).collect();
    let kinds: Vec<Option<String>> = examples.iter().map(|e| e.kind.clone()).collect();
    let has_kinds = kinds.iter().any(Option::is_some);
    let report = evaluate(&gold, &preds, has_kinds.then_some(&kinds[..]));
    let mut out = stdout()?;
    if a.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        write!(out, "{report}")?;
    }
    out.flush()?;
    if a.update_card {
        // The card quotes the command that reproduces it, participant files included: without
        // them the test split's invented candidates are unknown names.
        let mut flags = String::new();
        for f in &a.common.participants.files {
            flags.push_str(&format!(" --participants {}", f.display()));
        }
        if a.common.participants.only {
            flags.push_str(" --only-participants");
        }
        for f in &a.corpora_participants {
            flags.push_str(&format!(" --corpora-participants {}", f.display()));
        }
        update_card(model_dir(&clf, "--update-card")?, &flags, &source, &report)?;
    }
    Ok(())
}

/// Writes this report into the card after its evaluation marker: the section for the same model and
/// data is replaced, the sections for other data are kept (a card reports the test split next to
/// real-traffic sets).
fn update_card(dir: &Path, flags: &str, data: &Path, report: &Report) -> Result<()> {
    let path = dir.join("README.md");
    let card =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let Some(at) = card.find(CARD_EVAL_MARKER) else {
        bail!(
            "{} has no {CARD_EVAL_MARKER} line to write the evaluation after",
            path.display()
        );
    };
    let header = format!(
        "`pantau eval --model {}{flags} --data {}`:",
        dir.display(),
        data.display()
    );
    let section = format!("\n{header}\n\n```text\n{report}```\n");
    // Sections start with a "`pantau eval" line; text before the first one is dropped.
    let rest = &card[at + CARD_EVAL_MARKER.len()..];
    let mut sections: Vec<String> = Vec::new();
    for part in rest.split("\n`pantau eval ").skip(1) {
        let part = format!("\n`pantau eval {part}");
        if !part.starts_with(&format!("\n{header}")) {
            sections.push(part.trim_end().to_string() + "\n");
        }
    }
    sections.push(section);
    let mut out = card[..at + CARD_EVAL_MARKER.len()].to_string();
    for s in sections {
        out.push_str(&s);
    }
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
        assert_eq!(a.data.as_deref(), Some(Path::new("test.jsonl")));
        assert!(!a.json && !a.update_card);
        assert_eq!(a.common.device, "cpu");
        let Ok(Command::Eval(a)) = parse(&["eval", "--data", "d", "--json", "--update-card"])
        else {
            panic!("eval flags do not parse");
        };
        assert!(a.json && a.update_card);
        let Ok(Command::Eval(a)) = parse(&["eval", "--corpora", "../shared/corpora"]) else {
            panic!("eval --corpora does not parse");
        };
        assert!(a.data.is_none());
        assert_eq!(a.corpora_labels, Path::new("data/corpora/labels.tsv"));
        assert!(parse(&["eval", "--data", "d", "--corpora", "c"]).is_err());
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
        update_card(dir.path(), "", Path::new("test.jsonl"), &report).unwrap();
        let text = std::fs::read_to_string(&card).unwrap();
        assert!(text.starts_with(&format!("# m\n\n{CARD_EVAL_MARKER}\n`pantau eval --model ")));
        assert!(text.contains("--data test.jsonl`") && text.contains("accuracy   1.0000"));
        assert!(!text.contains("old numbers"), "{text}");

        // A second data set gets its own section; re-running the first replaces only its own.
        update_card(dir.path(), "", Path::new("real.jsonl"), &report).unwrap();
        update_card(dir.path(), "", Path::new("test.jsonl"), &report).unwrap();
        let text = std::fs::read_to_string(&card).unwrap();
        assert_eq!(text.matches("--data test.jsonl`").count(), 1, "{text}");
        assert_eq!(text.matches("--data real.jsonl`").count(), 1, "{text}");
        assert!(text.find("real.jsonl").unwrap() < text.find("test.jsonl`").unwrap());

        std::fs::write(&card, "# a card without the marker\n").unwrap();
        let err = update_card(dir.path(), "", Path::new("t"), &report).unwrap_err();
        assert!(err.to_string().contains(CARD_EVAL_MARKER), "{err}");
    }
}

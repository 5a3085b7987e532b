//! `pantau corpora`: the rows of the real corpora as pantau trains and measures on them, as JSONL
//! on stdout (for the linear baseline and for inspection; the text stays out of the repository).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use pantau::io::corpora::{keep_mask, read_corpora, Part};

#[derive(Args)]
pub struct CorporaArgs {
    /// The folder that holds indonlu/ (e.g. ../shared/corpora).
    pub dir: PathBuf,
    /// Hand labels of the corpora rows.
    #[arg(long, default_value = "data/corpora/labels.tsv")]
    pub labels: PathBuf,
    /// Which rows: the training rows, the held-out rows, or all.
    #[arg(long, value_enum, default_value = "train")]
    pub part: Part,
    /// Keep at most N of the unlabeled (neutral) rows, chosen as `train --corpora-neutral N` does.
    #[arg(long, value_name = "N")]
    pub neutral: Option<usize>,
}

pub fn run(a: CorporaArgs) -> Result<()> {
    let rows = read_corpora(&a.dir, &a.labels, a.part)?;
    let keep = keep_mask(&rows, a.neutral);
    let mut out = std::io::BufWriter::new(crate::cli::out::stdout()?);
    for (r, _) in rows.into_iter().zip(keep).filter(|(_, k)| *k) {
        let row = serde_json::json!({
            "ref": r.reference,
            "text": r.example.text,
            "label": r.example.label.as_str(),
            "kind": r.example.kind,
            "hand_labeled": r.hand_labeled,
        });
        writeln!(out, "{row}")?;
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::cli::{parse, Command};

    #[test]
    fn the_part_defaults_to_train_and_takes_holdout() {
        let Ok(Command::Corpora(a)) = parse(&["corpora", "c"]) else {
            panic!("corpora does not parse");
        };
        assert_eq!(a.part, pantau::io::corpora::Part::Train);
        let Ok(Command::Corpora(a)) = parse(&["corpora", "c", "--part", "holdout"]) else {
            panic!("--part holdout does not parse");
        };
        assert_eq!(a.part, pantau::io::corpora::Part::Holdout);
        assert!(parse(&["corpora", "c", "--part", "test"]).is_err());
    }
}

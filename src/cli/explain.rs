//! `pantau explain`: the words that drove a post's label, by a gradient or by word occlusion.

use std::io::Write;

use anyhow::Result;
use clap::Args;

use pantau::classify::explain::Method;

use crate::cli::common::{load, Common};
use crate::cli::out::stdout;

#[derive(Args)]
pub struct ExplainArgs {
    /// Posts to explain.
    #[arg(required = true)]
    pub texts: Vec<String>,
    #[command(flatten)]
    pub common: Common,
    /// Words shown per post.
    #[arg(long, default_value_t = 5)]
    pub top: usize,
    /// How words are weighed.
    #[arg(long, value_enum, default_value_t = Method::Gradient)]
    pub method: Method,
    /// Print JSON lines instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: ExplainArgs) -> Result<()> {
    let mut out = stdout()?;
    let clf = load(&a.common)?;
    for e in clf.explain_batch(&a.texts, a.top.max(1), a.method)? {
        let p = e.prediction.probability(e.label);
        if a.json {
            let row = serde_json::json!({
                "label": e.label.as_str(),
                "probability": p,
                "participants": e.prediction.participants,
                "words": e.words,
            });
            writeln!(out, "{row}")?;
        } else {
            writeln!(out, "{} ({p:.3})", e.label)?;
            for w in &e.words {
                writeln!(out, "  {:>7.3}  {}", w.weight, w.word)?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::cli::{parse, Command};

    #[test]
    fn texts_are_required_and_top_defaults_to_five() {
        assert!(parse(&["explain"]).is_err());
        let Ok(Command::Explain(a)) = parse(&["explain", "satu", "dua"]) else {
            panic!("explain does not parse");
        };
        assert_eq!((a.texts.len(), a.top, a.json), (2, 5, false));
    }
}

//! `pantau average`: one model from the mean of several models' weights (a model soup), e.g.
//! the same fine-tuning run with three seeds.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use pantau::train::average_models;

use crate::cli::out::stdout;

#[derive(Args)]
pub struct AverageArgs {
    /// The model directories to average (two or more, fine-tuned from one start: one
    /// architecture, tokenizer and normalization version).
    #[arg(required = true, num_args = 2..)]
    pub models: Vec<PathBuf>,
    /// Where to write the averaged model (replaced atomically; it may be one of the inputs).
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(a: AverageArgs) -> Result<()> {
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let report = average_models(&a.models, &a.out, Some(command))?;
    let mut out = stdout()?;
    let m = a.out.display();
    let next = if report.lexical_dropped {
        format!(
            "lexical heads are not averaged and the calibration is reset: fit a head and the \
             calibration with `pantau train --init {m} --epochs 0` and the training data, --dev \
             and --participants the models were trained with"
        )
    } else {
        format!(
            "its calibration is reset: refit it with `pantau calibrate --model {m} --data DEV` \
             (and the --participants the models were trained with)"
        )
    };
    writeln!(
        out,
        "averaged {} tensors of {} models into {m}; {next}",
        report.tensors,
        report.inputs.len(),
    )?;
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::cli::{parse, Command};

    #[test]
    fn two_models_and_an_output_are_required() {
        assert!(parse(&["average", "a", "--out", "o"]).is_err());
        assert!(parse(&["average", "a", "b"]).is_err());
        match parse(&["average", "a", "b", "c", "--out", "o"]) {
            Ok(Command::Average(a)) => {
                assert_eq!(a.models.len(), 3);
                assert_eq!(a.out, std::path::PathBuf::from("o"));
            }
            _ => panic!("average with three models parses"),
        }
    }
}

//! The `pantau` command line: a thin layer over the library, one file per subcommand, each holding
//! its flags, its `run` and its tests. [`common`] has what several subcommands share (model,
//! device and thread flags).

use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

pub mod average;
pub mod calibrate;
pub mod classify;
pub mod common;
pub mod corpora;
pub mod eval;
pub mod explain;
pub mod info;
pub mod normalize;
pub mod out;
pub mod report;
pub mod train;

#[derive(Parser)]
#[command(
    name = "pantau",
    version,
    about = "Classify Indonesian social-media posts as neutral, promotional or campaigning"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Classify posts from JSONL, CSV/TSV or plain text (file or stdin).
    Classify(classify::ClassifyArgs),
    /// Fit the model's calibration (temperature and top stretch) on labeled data.
    Calibrate(calibrate::CalibrateArgs),
    /// Show the words that drove a post's label, with their weights.
    Explain(explain::ExplainArgs),
    /// Print a model's card: sizes, labels, metrics.
    Info(info::InfoArgs),
    /// Summarize a classified file for a supervisor: HTML with charts, or Markdown.
    Report(report::ReportArgs),
    /// Train a model on labeled data.
    Train(Box<train::TrainArgs>),
    /// Average the weights of models fine-tuned from one start (a model soup).
    Average(average::AverageArgs),
    /// Evaluate a model on labeled data.
    Eval(eval::EvalArgs),
    /// Print each post's normalized text, one line per input row (what the tokenizer sees).
    Normalize(normalize::NormalizeArgs),
    /// Print the rows of the real corpora as pantau trains and measures on them (JSONL).
    Corpora(corpora::CorporaArgs),
}

/// Runs the parsed command; the exit code is 0 unless a subcommand chooses another
/// (`classify --strict`).
pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Classify(a) => classify::run(a),
        Command::Calibrate(a) => calibrate::run(a).map(|_| ExitCode::SUCCESS),
        Command::Explain(a) => explain::run(a).map(|_| ExitCode::SUCCESS),
        Command::Info(a) => info::run(a).map(|_| ExitCode::SUCCESS),
        Command::Report(a) => report::run(a).map(|_| ExitCode::SUCCESS),
        Command::Train(a) => train::run(*a).map(|_| ExitCode::SUCCESS),
        Command::Average(a) => average::run(a).map(|_| ExitCode::SUCCESS),
        Command::Eval(a) => eval::run(a).map(|_| ExitCode::SUCCESS),
        Command::Normalize(a) => normalize::run(a).map(|_| ExitCode::SUCCESS),
        Command::Corpora(a) => corpora::run(a).map(|_| ExitCode::SUCCESS),
    }
}

/// Parses `pantau ARGS…` as the binary would (for the subcommands' tests).
#[cfg(test)]
pub(crate) fn parse(args: &[&str]) -> Result<Command, clap::Error> {
    Cli::try_parse_from(std::iter::once("pantau").chain(args.iter().copied())).map(|c| c.command)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn a_subcommand_is_required_and_unknown_ones_are_rejected() {
        assert!(parse(&[]).is_err());
        let err = parse(&["classfy"]).err().unwrap();
        assert_eq!(err.kind(), clap::error::ErrorKind::InvalidSubcommand);
    }

    #[test]
    fn every_subcommand_is_wired_to_its_arguments() {
        assert!(matches!(parse(&["classify"]), Ok(Command::Classify(_))));
        assert!(matches!(parse(&["info"]), Ok(Command::Info(_))));
        assert!(matches!(
            parse(&["train", "--train", "a", "--dev", "b", "--out", "c"]),
            Ok(Command::Train(_))
        ));
        assert!(matches!(
            parse(&["eval", "--data", "d"]),
            Ok(Command::Eval(_))
        ));
        assert!(matches!(parse(&["normalize"]), Ok(Command::Normalize(_))));
    }
}

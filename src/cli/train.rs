//! `pantau train`: reads the data, trains with progress lines, reports the best epoch.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use pantau::io::corpora::{cap_unlisted, read_corpora, repeat_election_rows, Part};
use pantau::io::{read_examples, read_texts};
use pantau::parse_device;
use pantau::train::{train, Event, TrainConfig, TrainData};

use crate::cli::common::{set_threads, ParticipantArgs};
use crate::cli::out::say;

#[derive(Args)]
pub struct TrainArgs {
    /// Training data (JSONL or CSV with text and label).
    #[arg(long)]
    pub train: PathBuf,
    /// Development data for early stopping.
    #[arg(long)]
    pub dev: PathBuf,
    /// Directory to write the model to (replaced atomically).
    #[arg(long)]
    pub out: PathBuf,
    /// Unlabeled posts (JSONL/CSV/TSV with a `text` field or column, or plain text, one post per
    /// line) for `--pretrain-epochs`; they also shape a newly learned vocabulary.
    #[arg(long)]
    pub unlabeled: Option<PathBuf>,
    #[command(flatten)]
    pub participants: ParticipantArgs,
    /// Real corpora to train on, read where they lie (the folder that holds indonlu/, e.g.
    /// ../shared/corpora): their training rows join --train (hand labels from --corpora-labels,
    /// every other row neutral) and all their training text joins the pretraining text.
    #[arg(long, value_name = "DIR")]
    pub corpora: Option<PathBuf>,
    /// Hand labels of the corpora rows, by reference (data/corpora/README.md).
    #[arg(long, value_name = "FILE", default_value = "data/corpora/labels.tsv")]
    pub corpora_labels: PathBuf,
    /// Participants of the elections the corpora talk about (e.g. data/participants-history.csv),
    /// added to the registry for the corpora rows only. Repeatable.
    #[arg(long, value_name = "FILE")]
    pub corpora_participants: Vec<PathBuf>,
    /// At most this many of the corpora's unlabeled (neutral) rows train the classifier, spread
    /// evenly; the rest are pretraining text only. Default: all.
    #[arg(long, value_name = "N")]
    pub corpora_neutral: Option<usize>,
    /// Each hand-labeled promotional or campaigning corpora row trains N times (the corpora's real
    /// election posts are few against their neutral rows).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub corpora_repeat: usize,
    #[command(flatten)]
    pub config: TrainConfig,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Quotes a command-line argument for a POSIX shell when it needs it, for the model card.
fn quote(arg: String) -> String {
    if arg
        .chars()
        .any(|c| c.is_whitespace() || "'\"$`\\".contains(c))
    {
        format!("'{}'", arg.replace('\'', "'\\''"))
    } else {
        arg
    }
}

pub fn run(mut a: TrainArgs) -> Result<()> {
    a.config.validate()?;
    a.config.command = Some(
        std::iter::once("pantau".to_string())
            .chain(std::env::args().skip(1).map(quote))
            .collect::<Vec<_>>()
            .join(" "),
    );
    set_threads(a.threads)?;
    let device = parse_device(&a.device)?;
    let registry = a.participants.registry()?;
    let mut data = TrainData {
        train: read_examples(&a.train)?,
        dev: read_examples(&a.dev)?,
        unlabeled: match &a.unlabeled {
            Some(p) => read_texts(p)?,
            None => Vec::new(),
        },
        background_registry: registry.clone(),
        registry,
        background: Vec::new(),
    };
    data.background_registry
        .extend_from_paths(&a.corpora_participants)?;
    if let Some(dir) = &a.corpora {
        let rows = read_corpora(dir, &a.corpora_labels, Part::Train)?;
        let (kept, rest) = cap_unlisted(rows, a.corpora_neutral);
        eprintln!(
            "pantau: {} corpora rows train the classifier, {} more are pretraining text",
            kept.len(),
            rest.len()
        );
        data.unlabeled.extend(rest);
        data.background = repeat_election_rows(kept, a.corpora_repeat);
    } else if !a.corpora_participants.is_empty() {
        anyhow::bail!("--corpora-participants needs --corpora");
    }
    eprintln!(
        "pantau: training on {} examples ({} from the corpora), early stopping on {} dev examples{}",
        data.train.len() + data.background.len(),
        data.background.len(),
        data.dev.len(),
        if data.unlabeled.is_empty() {
            String::new()
        } else {
            format!(", {} unlabeled posts", data.unlabeled.len())
        }
    );
    if !data.unlabeled.is_empty() && a.config.pretrain_epochs() == 0 {
        eprintln!(
            "pantau: note: without pretraining (--pretrain-epochs) --unlabeled only shapes a newly learned vocabulary"
        );
    }
    let show = !a.quiet && std::io::stderr().is_terminal();
    let bar = if show {
        let b = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        b.set_style(
            ProgressStyle::with_template("epoch {prefix} {bar:30} {pos}/{len} loss {msg}")
                .expect("valid"),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    let report = train(&a.config, &data, &a.out, &device, |e| {
        match e {
        Event::Step {
            pretraining,
            epoch,
            step,
            of,
            loss,
        } => {
            bar.set_length(of as u64);
            bar.set_position(step as u64);
            bar.set_prefix(if pretraining {
                format!("{epoch} (pretraining)")
            } else {
                epoch.to_string()
            });
            bar.set_message(format!("{loss:.4}"));
        }
        Event::Pretrained(r) => bar.suspend(|| {
            eprintln!(
                "pretraining epoch {:>3}  masked-LM loss {:.4}  lr {:.2e}  {:.1}s",
                r.epoch, r.loss, r.learning_rate, r.seconds
            )
        }),
        Event::Epoch(r) => bar.suspend(|| {
            eprintln!(
                "epoch {:>3}  loss {:.4}  dev acc {:.4}  dev macro-F1 {:.4}  lr {:.2e}  {:.1}s{}",
                r.epoch,
                r.train_loss,
                r.dev_accuracy,
                r.dev_macro_f1,
                r.learning_rate,
                r.seconds,
                if r.saved { "  saved" } else { "" }
            )
        }),
        Event::Lexical(r) => bar.suspend(|| {
            eprintln!(
                "lexical head: {} rows, {} buckets kept, {} L-BFGS iterations; dev macro-F1 {:.4} alone, {:.4} encoder alone, {:.4} with weight {}",
                r.train_rows,
                r.kept_buckets,
                r.iterations,
                r.dev_macro_f1_alone,
                r.dev_macro_f1_at(0.0),
                r.dev_macro_f1_at(r.weight),
                r.weight
            )
        }),
    }
    })?;
    bar.finish_and_clear();
    // Temperature scaling on dev: label smoothing compresses the probabilities, and dev is the
    // data early stopping already looked at, so the test split stays unseen.
    let clf = pantau::Classifier::load_dir(&a.out, &device)?.with_registry(data.registry.clone());
    let texts: Vec<&str> = data.dev.iter().map(|e| e.text.as_str()).collect();
    let gold: Vec<pantau::Label> = data.dev.iter().map(|e| e.label).collect();
    let f = crate::cli::calibrate::fit(
        clf.config().temperature,
        &gold,
        &clf.classify_batch(&texts)?,
        true,
    );
    crate::cli::calibrate::write_calibration(&a.out, &f)?;
    say(format!(
        "pantau: best epoch {} (dev macro-F1 {:.4}); {} fitted on dev (ECE {:.4} -> {:.4}); model written to {}",
        report.best_epoch,
        report.best_dev.as_ref().map_or(0.0, |d| d.macro_f1),
        crate::cli::calibrate::describe(&f),
        f.before.ece,
        f.after.ece,
        a.out.display()
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{parse, Command};

    const REQUIRED: [&str; 7] = [
        "train", "--train", "t.jsonl", "--dev", "d.jsonl", "--out", "m",
    ];

    fn args(flags: &[&str]) -> TrainArgs {
        let mut all = REQUIRED.to_vec();
        all.extend_from_slice(flags);
        match parse(&all) {
            Ok(Command::Train(a)) => *a,
            Ok(_) => unreachable!("train parses as train"),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn train_dev_and_out_are_required() {
        for missing in [1, 3, 5] {
            let mut flags = REQUIRED.to_vec();
            flags.drain(missing..missing + 2);
            assert!(parse(&flags).is_err(), "{flags:?} was accepted");
        }
        let a = args(&[]);
        assert_eq!(a.train, PathBuf::from("t.jsonl"));
        assert_eq!(a.dev, PathBuf::from("d.jsonl"));
        assert_eq!(a.out, PathBuf::from("m"));
        assert!(a.unlabeled.is_none() && a.threads.is_none() && !a.quiet);
        assert_eq!(a.device, "cpu");
    }

    #[test]
    fn flag_defaults_are_the_library_defaults() {
        let from_flags = serde_json::to_value(&args(&[]).config).unwrap();
        let library = serde_json::to_value(TrainConfig::default()).unwrap();
        assert_eq!(from_flags, library);
        assert_eq!(args(&[]).config.pretrain_epochs(), 10);
    }

    #[test]
    fn training_flags_reach_the_config() {
        let c = args(&[
            "--lr",
            "0.01",
            "--layers",
            "3",
            "--heads",
            "2",
            "--epochs",
            "4",
            "--init",
            "models/pantau-small",
            "--class-weights",
        ])
        .config;
        assert_eq!(c.learning_rate, 0.01);
        assert_eq!((c.num_layers, c.num_heads, c.epochs), (3, 2, 4));
        assert!(c.class_weights);
        assert_eq!(c.init.as_deref(), Some("models/pantau-small"));
        assert_eq!(
            c.pretrain_epochs(),
            0,
            "fine-tuning skips pretraining by default"
        );
        assert!(
            c.command.is_none(),
            "the command is set when the run starts"
        );
        assert!(parse(&[&REQUIRED[..], &["--epochs", "x"]].concat()).is_err());
    }

    #[test]
    fn arguments_are_quoted_for_the_shell_only_when_needed() {
        assert_eq!(quote("--lr".into()), "--lr");
        assert_eq!(quote("data/train.jsonl".into()), "data/train.jsonl");
        assert_eq!(quote("my data.jsonl".into()), "'my data.jsonl'");
        assert_eq!(quote("it's".into()), "'it'\\''s'");
        assert_eq!(quote("$HOME".into()), "'$HOME'");
    }
}

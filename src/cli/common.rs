//! What several subcommands share: the model, device and thread flags, and loading the model.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;

use pantau::text::participants::Registry;
use pantau::{parse_device, Classifier};

#[derive(Args)]
pub struct Common {
    /// Model directory or Hugging Face repo id in the local cache (default: `$PANTAU_MODEL`, else
    /// the model built into pantau).
    #[arg(long, short)]
    pub model: Option<String>,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub participants: ParticipantArgs,
}

/// Who is running: the shipped registry, extended or replaced by an analyst's files.
#[derive(Args, Clone, Debug, Default)]
pub struct ParticipantArgs {
    /// Participant file (CSV/TSV with name, kind person/pair/party, and optionally aliases, race,
    /// region, number, party; format in data/README.md) that extends the shipped registry: its
    /// names win on a clash. Repeatable.
    #[arg(long = "participants", value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Use only the --participants files, not the shipped registry of 2024 participants.
    #[arg(long = "only-participants", requires = "files")]
    pub only: bool,
}

impl ParticipantArgs {
    /// The registry these flags describe.
    pub fn registry(&self) -> Result<Registry> {
        Ok(Registry::for_run(&self.files, self.only)?)
    }
}

/// An input path, or stdin for none or `-`: the stream, its name for messages, and its size when
/// it is a regular file.
pub fn open_input(path: Option<&Path>) -> Result<(Box<dyn std::io::Read>, String, Option<u64>)> {
    match path.filter(|p| *p != Path::new("-")) {
        None => Ok((Box::new(std::io::stdin().lock()), "<stdin>".into(), None)),
        Some(p) => {
            let f = std::fs::File::open(p)
                .with_context(|| format!("cannot open input {}", p.display()))?;
            let len = f.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
            Ok((Box::new(f), p.display().to_string(), len))
        }
    }
}

/// The model directory a command that writes into the model (`calibrate`, `eval --update-card`)
/// needs; the built-in model is read-only.
pub fn model_dir<'c>(clf: &'c Classifier, what: &str) -> Result<&'c Path> {
    clf.dir().with_context(|| {
        format!("{what} writes into the model directory, and the built-in model has none: pass --model {}", pantau::DEFAULT_MODEL)
    })
}

/// Sizes rayon's pool, which candle's CPU matmuls also read through `RAYON_NUM_THREADS`. Batches run in
/// parallel on that pool and candle's matmuls split their work into tasks on the same pool, so the
/// cores are never oversubscribed; forcing matmuls to one thread measured the same at the default
/// batch budget (benches/README.md), so the simpler single pool stays.
pub fn set_threads(threads: Option<usize>) -> Result<()> {
    if let Some(n) = threads {
        if n == 0 {
            bail!("--threads must be at least 1");
        }
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .context("setting up the thread pool")?;
    }
    Ok(())
}

/// Sets the thread count, then loads the chosen (or shipped) model on the chosen device.
pub fn load(common: &Common) -> Result<Classifier> {
    set_threads(common.threads)?;
    let device = parse_device(&common.device)?;
    let registry = common.participants.registry()?;
    Ok(Classifier::open(common.model.as_deref(), &device)?.with_registry(registry))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn participant_files_extend_or_replace_the_shipped_registry() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("mine.csv");
        std::fs::write(&f, "name,kind,aliases\nSiti Rahma,person,bu siti rahma\n").unwrap();
        let builtin = Registry::builtin().len();
        let extended = ParticipantArgs {
            files: vec![f.clone()],
            only: false,
        };
        assert_eq!(extended.registry().unwrap().len(), builtin + 1);
        let only = ParticipantArgs {
            files: vec![f],
            only: true,
        };
        assert_eq!(only.registry().unwrap().len(), 1);
        assert_eq!(
            ParticipantArgs::default().registry().unwrap().len(),
            builtin
        );
        let missing = ParticipantArgs {
            files: vec![dir.path().join("nope.csv")],
            only: false,
        };
        assert!(missing
            .registry()
            .unwrap_err()
            .to_string()
            .contains("nope.csv"));
    }

    #[test]
    fn zero_threads_are_rejected_and_none_leaves_the_pool_alone() {
        let err = set_threads(Some(0)).unwrap_err().to_string();
        assert_eq!(err, "--threads must be at least 1");
        assert!(set_threads(None).is_ok());
    }
}

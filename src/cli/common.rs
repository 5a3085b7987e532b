//! What several subcommands share: the model, device and thread flags, and loading the model.

use std::path::Path;

use anyhow::{bail, Context, Result};
use clap::Args;

use pantau::{parse_device, Classifier};

#[derive(Args)]
pub struct Common {
    /// Model directory or Hugging Face repo id in the local cache (default: the shipped model).
    #[arg(long, short)]
    pub model: Option<String>,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// The shipped model: `$PANTAU_MODEL`, else `models/pantau-small` under the current directory, else the
/// one in the source tree this binary was built from.
pub fn default_model() -> String {
    if let Ok(m) = std::env::var("PANTAU_MODEL") {
        return m;
    }
    if Path::new(pantau::DEFAULT_MODEL).is_dir() {
        return pantau::DEFAULT_MODEL.into();
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(pantau::DEFAULT_MODEL)
        .display()
        .to_string()
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
    let model = common.model.clone().unwrap_or_else(default_model);
    Ok(Classifier::load(&model, &device)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_threads_are_rejected_and_none_leaves_the_pool_alone() {
        let err = set_threads(Some(0)).unwrap_err().to_string();
        assert_eq!(err, "--threads must be at least 1");
        assert!(set_threads(None).is_ok());
    }
}

//! Reading a model directory's `config.json` and `model.safetensors`, each checked against the other.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device};
use candle_nn::VarBuilder;

use crate::error::{Error, Result};
use crate::model::config::Config;
use crate::model::encoder::EncoderClassifier;

/// `dir/file`, or an error naming the missing file and what a model directory holds.
pub(crate) fn existing(dir: &Path, file: &str) -> Result<PathBuf> {
    let p = dir.join(file);
    if p.is_file() {
        Ok(p)
    } else {
        Err(Error::invalid_model(
            dir,
            format!("{file} is missing: a model directory needs config.json, tokenizer.json and model.safetensors"),
        ))
    }
}

/// Reads and validates `config.json`.
pub fn read_config(dir: &Path) -> Result<Config> {
    let p = existing(dir, "config.json")?;
    let text = std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?;
    let config: Config = serde_json::from_str(&text)
        .map_err(|e| Error::invalid_model(dir, format!("config.json: {e}")))?;
    config
        .validate()
        .map_err(|e| Error::invalid_model(dir, format!("config.json: {e}")))?;
    Ok(config)
}

/// Loads `path` (the directory's `model.safetensors`) into a model frozen for inference.
pub(crate) fn load_weights(
    dir: &Path,
    path: &Path,
    config: &Config,
    device: &Device,
) -> Result<EncoderClassifier> {
    let bad = |reason: String| Error::invalid_model(dir, format!("model.safetensors: {reason}"));
    // Safety: the file is memory-mapped read-only; pantau never writes to a model it has loaded
    // (training writes a new directory and renames it into place).
    let tensors = unsafe { candle_core::safetensors::MmapedSafetensors::new(path) }
        .map_err(|e| bad(format!("{e} (is the file truncated or not safetensors?)")))?;
    for (name, rows) in [
        ("embeddings.word_embeddings.weight", config.vocab_size),
        (
            "embeddings.position_embeddings.weight",
            config.max_position_embeddings,
        ),
    ] {
        let view = tensors
            .get(name)
            .map_err(|_| bad(format!("tensor {name} is missing")))?;
        let shape = view.shape();
        if shape != [rows, config.hidden_size] {
            return Err(bad(format!(
                "{name} has shape {shape:?} but config.json implies [{rows}, {}]",
                config.hidden_size
            )));
        }
    }
    let vb = VarBuilder::from_backend(Box::new(tensors), DType::F32, device.clone());
    EncoderClassifier::new(config, vb)
        .and_then(EncoderClassifier::for_inference)
        .map_err(|e| bad(e.to_string()))
}

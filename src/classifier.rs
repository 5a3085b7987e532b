//! Loading a model directory and classifying posts with it.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use rayon::prelude::*;
use serde::Serialize;

use crate::batch::{plan_batches, BatchOptions};
use crate::error::{Error, Result};
use crate::hub;
use crate::label::Label;
use crate::model::{pad_batch, Config, EncoderClassifier};
use crate::normalize::normalize;
use crate::tokenizer::TextEncoder;

/// The model's verdict on one post.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Prediction {
    /// The most probable label.
    pub label: Label,
    /// Probabilities in [`Label::ALL`] order; they sum to 1.
    pub probabilities: [f32; 3],
}

impl Prediction {
    /// Builds a prediction from a probability vector (ties go to the earlier label).
    pub fn from_probabilities(probabilities: [f32; 3]) -> Self {
        let mut best = 0;
        for i in 1..3 {
            if probabilities[i] > probabilities[best] {
                best = i;
            }
        }
        Prediction {
            label: Label::ALL[best],
            probabilities,
        }
    }

    /// Probability of one label.
    pub fn probability(&self, label: Label) -> f32 {
        self.probabilities[label.index()]
    }
}

/// A loaded model: normalizer, tokenizer and encoder classifier on one device.
///
/// ```no_run
/// use pantau::{Classifier, Label};
/// use candle_core::Device;
///
/// let clf = Classifier::load("models/pantau-small", &Device::Cpu)?;
/// let p = clf.classify("Ayo coblos nomor 2 tanggal 14 Februari!")?;
/// assert_eq!(p.label, Label::Campaigning);
/// let all = clf.classify_batch(&["Promo diskon akhir tahun 50%", "Pak Hendra tadi meresmikan pasar"])?;
/// assert_eq!(all.len(), 2);
/// # Ok::<(), pantau::Error>(())
/// ```
pub struct Classifier {
    model: EncoderClassifier,
    encoder: TextEncoder,
    device: Device,
    dir: PathBuf,
    batching: BatchOptions,
}

impl Classifier {
    /// Loads a model from a directory, or from a Hugging Face repo id found in the local hub cache.
    /// Every file is checked against the others; mismatches are reported with the file and the fix.
    pub fn load(path_or_id: &str, device: &Device) -> Result<Self> {
        let dir = hub::resolve(path_or_id)?;
        Self::load_dir(&dir, device)
    }

    /// Loads a model directory.
    pub fn load_dir(dir: &Path, device: &Device) -> Result<Self> {
        let config = read_config(dir)?;
        let tok_path = existing(dir, "tokenizer.json")?;
        let encoder = TextEncoder::from_file(&tok_path, config.max_position_embeddings)
            .map_err(|e| Error::invalid_model(dir, format!("tokenizer.json: {e}")))?;
        if encoder.vocab_size() > config.vocab_size {
            return Err(Error::invalid_model(
                dir,
                format!(
                    "tokenizer.json has {} tokens but config.json says vocab_size {}: they come from different models",
                    encoder.vocab_size(),
                    config.vocab_size
                ),
            ));
        }
        let weights = existing(dir, "model.safetensors")?;
        let model = load_weights(dir, &weights, &config, device)?;
        Ok(Classifier {
            model,
            encoder,
            device: device.clone(),
            dir: dir.to_path_buf(),
            batching: BatchOptions::for_device(device),
        })
    }

    /// Wraps an in-memory model (used by training to evaluate checkpoints).
    pub fn from_parts(
        model: EncoderClassifier,
        encoder: TextEncoder,
        device: Device,
        dir: PathBuf,
    ) -> Self {
        let batching = BatchOptions::for_device(&device);
        Classifier {
            model,
            encoder,
            device,
            dir,
            batching,
        }
    }

    /// Changes how inputs are grouped into batches.
    pub fn with_batching(mut self, batching: BatchOptions) -> Self {
        self.batching = batching;
        self
    }

    /// The model configuration.
    pub fn config(&self) -> &Config {
        self.model.config()
    }

    /// The directory the model was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The device the model runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The tokenizer.
    pub fn encoder(&self) -> &TextEncoder {
        &self.encoder
    }

    /// The batching options in use.
    pub fn batching(&self) -> BatchOptions {
        self.batching
    }

    /// Normalizes and tokenizes one post.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        self.encoder.encode(&normalize(text))
    }

    /// Classifies one post.
    pub fn classify(&self, text: &str) -> Result<Prediction> {
        let ids = self.encode(text)?;
        Ok(self.predict_batch(&[&ids])?[0])
    }

    /// Classifies many posts; the result is in input order. Tokenization and batches run in parallel
    /// on the current rayon pool.
    pub fn classify_batch<S: AsRef<str> + Sync>(&self, texts: &[S]) -> Result<Vec<Prediction>> {
        let ids = texts
            .par_iter()
            .map(|t| self.encode(t.as_ref()))
            .collect::<Result<Vec<_>>>()?;
        self.predict_ids(&ids)
    }

    /// Classifies already tokenized posts: sorts them by length, cuts token-budget batches, runs them
    /// (in parallel on CPU) and returns predictions in input order.
    pub fn predict_ids(&self, ids: &[Vec<u32>]) -> Result<Vec<Prediction>> {
        let lengths: Vec<usize> = ids.iter().map(Vec::len).collect();
        let plan = plan_batches(&lengths, self.batching);
        let run = |batch: &Vec<usize>| -> Result<Vec<(usize, Prediction)>> {
            let seqs: Vec<&[u32]> = batch.iter().map(|&i| ids[i].as_slice()).collect();
            let preds = self.predict_batch(&seqs)?;
            Ok(batch.iter().copied().zip(preds).collect())
        };
        let done: Vec<Vec<(usize, Prediction)>> =
            if self.device.is_cpu() && self.batching.parallel_batches {
                plan.par_iter().map(run).collect::<Result<_>>()?
            } else {
                plan.iter().map(run).collect::<Result<_>>()?
            };
        let mut out = vec![None; ids.len()];
        for (i, p) in done.into_iter().flatten() {
            out[i] = Some(p);
        }
        Ok(out
            .into_iter()
            .map(|p| p.expect("every index is planned once"))
            .collect())
    }

    /// Runs one padded batch through the model.
    pub fn predict_batch(&self, seqs: &[&[u32]]) -> Result<Vec<Prediction>> {
        if seqs.is_empty() {
            return Ok(Vec::new());
        }
        let (ids, mask) = pad_batch(seqs, self.encoder.pad_id(), &self.device)?;
        let logits = self.model.forward(&ids, &mask, None)?;
        probabilities(&logits)
    }
}

/// Softmax over the label axis, copied to the host.
pub(crate) fn probabilities(logits: &Tensor) -> Result<Vec<Prediction>> {
    let probs = candle_nn::ops::softmax_last_dim(&logits.to_dtype(DType::F32)?)?;
    Ok(probs
        .to_vec2::<f32>()?
        .into_iter()
        .map(|row| Prediction::from_probabilities([row[0], row[1], row[2]]))
        .collect())
}

fn existing(dir: &Path, file: &str) -> Result<PathBuf> {
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

fn load_weights(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_prefers_the_largest_probability() {
        let p = Prediction::from_probabilities([0.2, 0.7, 0.1]);
        assert_eq!(p.label, Label::Promotional);
        assert_eq!(p.probability(Label::Campaigning), 0.1);
        assert_eq!(
            Prediction::from_probabilities([0.4, 0.2, 0.4]).label,
            Label::Neutral
        );
    }
}

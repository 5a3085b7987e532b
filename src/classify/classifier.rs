//! Loading a model directory and classifying posts with it.

use std::path::{Path, PathBuf};

use candle_core::Device;
use rayon::prelude::*;

use crate::classify::batch::{plan_batches, BatchOptions};
use crate::error::{Error, Result};
use crate::hub;
use crate::model::config::Config;
use crate::model::encoder::EncoderClassifier;
use crate::model::load::{existing, load_weights, read_config};
use crate::model::tensors::{pad_batch, probabilities};
use crate::prediction::Prediction;
use crate::text::normalize::normalize;
use crate::text::tokenizer::TextEncoder;

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

//! Loading a model directory and classifying posts with it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::Device;
use rayon::prelude::*;

use crate::classify::batch::{plan_batches, BatchOptions};
use crate::error::{Error, Result};
use crate::hub;
use crate::model::builtin;
use crate::model::config::{Config, TopStretch};
use crate::model::encoder::EncoderClassifier;
use crate::model::lexical::LexicalHead;
use crate::model::load::{existing, load_weights, parse_config, read_config, Loaded, Weights};
use crate::model::tensors::{pad_batch, probabilities};
use crate::prediction::Prediction;
use crate::text::participants::{prepare, Marked, Registry, MARKING_VERSION};
use crate::text::tokenizer::{TextEncoder, Windows};

/// Windows a long post is read in at most (with 128-token windows overlapping by 32, about 800
/// tokens: a long Facebook post); text past them is reported as `truncated`.
pub const MAX_WINDOWS: usize = 8;

/// One sequence's token scores for explanations ([`Classifier::token_saliency`]) and the
/// prediction of the same pass.
#[derive(Clone, Debug)]
pub struct TokenSaliency {
    /// One score per token of the sequence, special tokens included.
    pub scores: Vec<f32>,
    pub prediction: Prediction,
}

/// The token scores of the window a post took its verdict from
/// ([`Classifier::predict_windows_saliency`]).
pub(crate) struct WindowScores {
    pub(crate) window: usize,
    pub(crate) scores: Vec<f32>,
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
    /// The model directory; `None` for the built-in model.
    dir: Option<PathBuf>,
    batching: BatchOptions,
    registry: Arc<Registry>,
    /// Applied after the temperature; from `config.json` unless replaced.
    top_stretch: Option<TopStretch>,
    /// Adds its logits to the encoder's; from `model.safetensors` unless replaced.
    lexical: Option<LexicalHead>,
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
        let text = std::fs::read_to_string(&tok_path).map_err(|e| Error::io(&tok_path, e))?;
        let weights = Weights::File(existing(dir, "model.safetensors")?);
        Self::from_files(dir, config, &text, weights, device, Some(dir.to_path_buf()))
    }

    /// The model a run uses: `model` (a directory or cached hub id), else `$PANTAU_MODEL`, else
    /// the built-in model ([`Classifier::builtin`]).
    pub fn open(model: Option<&str>, device: &Device) -> Result<Self> {
        let chosen = model
            .map(String::from)
            .or_else(|| std::env::var("PANTAU_MODEL").ok().filter(|m| !m.is_empty()));
        match chosen {
            Some(m) => Self::load(&m, device),
            None => Self::builtin(device),
        }
    }

    /// Loads the model built into pantau (`models/pantau-small` when pantau was compiled): what
    /// runs when no `--model` or `PANTAU_MODEL` is given, from any directory, offline.
    pub fn builtin(device: &Device) -> Result<Self> {
        let name = Path::new(builtin::NAME);
        let config = parse_config(builtin::CONFIG, name)?;
        let weights = Weights::Bytes(builtin::WEIGHTS);
        Self::from_files(name, config, builtin::TOKENIZER, weights, device, None)
    }

    fn from_files(
        name: &Path,
        config: Config,
        tokenizer: &str,
        weights: Weights,
        device: &Device,
        dir: Option<PathBuf>,
    ) -> Result<Self> {
        let tok_path = name.join("tokenizer.json");
        let encoder = TextEncoder::from_json(tokenizer, &tok_path, config.max_position_embeddings)
            .map_err(|e| Error::invalid_model(name, format!("tokenizer.json: {e}")))?;
        encoder
            .validate(config.vocab_size, config.pad_token_id)
            .map_err(|e| Error::invalid_model(name, format!("tokenizer.json {e}")))?;
        let Loaded {
            encoder: model,
            lexical,
        } = load_weights(name, weights, &config, device)?;
        Ok(Classifier {
            top_stretch: config.top_stretch,
            lexical,
            model,
            encoder,
            device: device.clone(),
            dir,
            batching: BatchOptions::for_device(device),
            registry: Arc::new(Registry::builtin().clone()),
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
            top_stretch: model.config().top_stretch,
            lexical: None,
            model,
            encoder,
            device,
            dir: Some(dir),
            batching,
            registry: Arc::new(Registry::builtin().clone()),
        }
    }

    /// Uses `registry` instead of the shipped one (see [`Registry::builtin`]) to find participants:
    /// an analyst's race is monitored without retraining.
    pub fn with_registry(mut self, registry: Registry) -> Self {
        self.registry = Arc::new(registry);
        self
    }

    /// Uses this stretch of the top probability instead of the model's (`None`: the temperature
    /// alone, as calibration needs to refit it).
    pub fn with_top_stretch(mut self, stretch: Option<TopStretch>) -> Self {
        self.top_stretch = stretch;
        self
    }

    /// Uses this lexical head instead of the model's (`None`: the encoder alone).
    pub fn with_lexical(mut self, head: Option<LexicalHead>) -> Self {
        self.lexical = head;
        self
    }

    /// The lexical head in use, if any.
    pub fn lexical(&self) -> Option<&LexicalHead> {
        self.lexical.as_ref()
    }

    /// What the lexical head adds to the logits of every window of this prepared post.
    pub fn lexical_offset(&self, prepared: &str) -> Option<[f32; 3]> {
        self.lexical.as_ref().map(|h| h.offset(prepared))
    }

    /// The participant registry in use.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Whether the model reads registered mentions as role tokens (models trained with
    /// `normalization_version` 2 and later); older models read names as they are, and the
    /// registry then only fills [`Prediction::participants`].
    pub fn marks_participants(&self) -> bool {
        self.model.config().normalization_version >= MARKING_VERSION
    }

    /// Normalizes one post and marks its participants: what the tokenizer sees.
    pub fn prepare(&self, text: &str) -> Marked {
        prepare(
            text,
            &self.registry,
            self.model.config().normalization_version,
        )
    }

    /// Display names of participants by registry index.
    pub fn participant_names(&self, indices: &[usize]) -> Vec<String> {
        let all = self.registry.participants();
        indices.iter().map(|&i| all[i].name.clone()).collect()
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

    /// The directory the model was loaded from; `None` for the built-in model.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// How messages name the model: its directory, or the built-in model.
    pub fn name(&self) -> String {
        self.dir
            .as_ref()
            .map_or_else(|| builtin::NAME.to_string(), |d| d.display().to_string())
    }

    /// An XXH3 hash of the model's files (config, tokenizer, weights), to tell models apart in
    /// checkpoints.
    pub fn fingerprint(&self) -> Result<String> {
        match &self.dir {
            Some(d) => {
                let files: Vec<PathBuf> = hub::MODEL_FILES.iter().map(|f| d.join(f)).collect();
                crate::io::hash_files(&files)
            }
            None => {
                let mut h = xxhash_rust::xxh3::Xxh3::new();
                for f in builtin::files() {
                    h.update(f);
                    h.update(&(f.len() as u64).to_le_bytes());
                }
                Ok(format!("{:032x}", h.digest128()))
            }
        }
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
        self.encoder.encode(&self.prepare(text).text)
    }

    /// Classifies one post (an empty one is an error, see [`Classifier::classify_batch`]).
    pub fn classify(&self, text: &str) -> Result<Prediction> {
        Ok(self.classify_batch(&[text])?.remove(0))
    }

    /// Classifies many posts; the result is in input order. A post that is empty once control
    /// characters are removed is an error ([`Error::EmptyText`]), as it is for the command line:
    /// there is nothing to classify. Tokenization and batches run in parallel
    /// on the current rayon pool.
    pub fn classify_batch<S: AsRef<str> + Sync>(&self, texts: &[S]) -> Result<Vec<Prediction>> {
        let (windows, mentions): (Vec<Windows>, Vec<Vec<usize>>) = texts
            .par_iter()
            .enumerate()
            .map(|(index, t)| {
                let prepared = self.prepare(t.as_ref());
                if prepared.text.is_empty() {
                    return Err(Error::EmptyText { index });
                }
                Ok((self.encode_windows(&prepared.text)?, prepared.participants))
            })
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .unzip();
        let mut preds = self.predict_windows(&windows)?;
        for (p, m) in preds.iter_mut().zip(&mentions) {
            p.participants = self.participant_names(m);
        }
        Ok(preds)
    }

    /// A prepared post's token ids in up to [`MAX_WINDOWS`] windows, with the lexical head's
    /// offset.
    pub fn encode_windows(&self, prepared: &str) -> Result<Windows> {
        let mut w = self.encoder.encode_windows(prepared, MAX_WINDOWS)?;
        w.offset = self.lexical_offset(prepared);
        Ok(w)
    }

    /// Classifies posts given as windows of token ids: every window of every post is batched
    /// together, and each post takes the probabilities of its most flagged window (highest
    /// p_promotional + p_campaigning), so a long post is as flagged as its most flagged part: a
    /// campaigning ending is not diluted by a neutral preamble.
    pub fn predict_windows<W: std::borrow::Borrow<Windows>>(
        &self,
        posts: &[W],
    ) -> Result<Vec<Prediction>> {
        let (flat, offsets) = flat_windows(posts);
        let lengths: Vec<usize> = flat.iter().map(|s| s.len()).collect();
        let preds = self.batched(&lengths, |batch| {
            let seqs: Vec<&[u32]> = batch.iter().map(|&i| flat[i]).collect();
            let offs: Vec<Option<[f32; 3]>> = batch.iter().map(|&i| offsets[i]).collect();
            self.predict_offset(&seqs, &offs)
        })?;
        Ok(verdicts(posts, preds, |p| p)
            .into_iter()
            .map(|(best, _, _)| best)
            .collect())
    }

    /// [`Classifier::predict_windows`] from passes that also weigh tokens: for each post whose
    /// prediction `explain` picks, the presence-gradient scores of the window it took its verdict
    /// from ([`EncoderClassifier::saliency`]), with that window's index. The scores come from the
    /// pass that classified the post (only the backward pass is added), and on the CPU the
    /// predictions are bit for bit those of `predict_windows`.
    pub(crate) fn predict_windows_saliency<W: std::borrow::Borrow<Windows>>(
        &self,
        posts: &[W],
        explain: impl Fn(&Prediction) -> bool + Sync,
    ) -> Result<Vec<(Prediction, Option<WindowScores>)>> {
        let (flat, offsets) = flat_windows(posts);
        let lengths: Vec<usize> = flat.iter().map(|s| s.len()).collect();
        let t = self.model.config().temperature;
        let scored = self.batched(&lengths, |batch| {
            let seqs: Vec<&[u32]> = batch.iter().map(|&i| flat[i]).collect();
            let offs: Vec<Option<[f32; 3]>> = batch.iter().map(|&i| offsets[i]).collect();
            let (ids, mask) = pad_batch(&seqs, self.encoder.pad_id(), &self.device)?;
            let mut pass = self.model.forward_saved(&ids, &mask)?;
            // The offset is a constant of the tokens, so it moves the log-odds the gradient is
            // taken at and nothing else.
            pass.logits = self.offset_logits(pass.logits, &offs)?;
            let preds = self.calibrated(&pass.logits)?;
            // A flagged post's verdict window is flagged itself, so weighing every picked window
            // covers it (a long post may have a few more picked windows than it needs).
            let picked: Vec<usize> = (0..preds.len()).filter(|&j| explain(&preds[j])).collect();
            let mut scores: Vec<Option<Vec<f32>>> = vec![None; preds.len()];
            if !picked.is_empty() {
                let labels: Vec<usize> = picked.iter().map(|&j| preds[j].label.index()).collect();
                let weighed = self
                    .model
                    .saliency(&pass.select(&picked)?, &labels, t as f64)?;
                for (&j, mut s) in picked.iter().zip(weighed) {
                    s.truncate(seqs[j].len());
                    scores[j] = Some(s);
                }
            }
            Ok(preds.into_iter().zip(scores).collect())
        })?;
        Ok(verdicts(posts, scored, |(p, _)| p)
            .into_iter()
            .map(|(best, window, (_, scores))| {
                let scores = scores.map(|scores| WindowScores { window, scores });
                (best, scores)
            })
            .collect())
    }

    /// Classifies already tokenized posts: sorts them by length, cuts token-budget batches, runs them
    /// (in parallel on CPU) and returns predictions in input order. Token ids carry no text for the
    /// lexical head, so this is the encoder alone; [`Classifier::predict_windows`] of
    /// [`Classifier::encode_windows`] is the whole model.
    pub fn predict_ids<S: AsRef<[u32]> + Sync>(&self, ids: &[S]) -> Result<Vec<Prediction>> {
        let lengths: Vec<usize> = ids.iter().map(|s| s.as_ref().len()).collect();
        self.batched(&lengths, |batch| {
            let seqs: Vec<&[u32]> = batch.iter().map(|&i| ids[i].as_ref()).collect();
            self.predict_batch(&seqs)
        })
    }

    /// Each token's presence gradient for the log-odds of `labels` (label indices), with the
    /// prediction of the same pass: see [`EncoderClassifier::token_saliency`]. `offsets` are the
    /// sequences' lexical offsets ([`Windows::offset`]; empty: none).
    /// Batched and parallel like [`Classifier::predict_ids`]; scores are unpadded, in input order.
    pub fn token_saliency(
        &self,
        seqs: &[&[u32]],
        labels: &[usize],
        offsets: &[Option<[f32; 3]>],
    ) -> Result<Vec<TokenSaliency>> {
        let lengths: Vec<usize> = seqs.iter().map(|s| s.len()).collect();
        self.batched(&lengths, |batch| {
            let part: Vec<&[u32]> = batch.iter().map(|&i| seqs[i]).collect();
            let ys: Vec<usize> = batch.iter().map(|&i| labels[i]).collect();
            let offs: Vec<Option<[f32; 3]>> = batch
                .iter()
                .map(|&i| offsets.get(i).copied().flatten())
                .collect();
            let (ids, mask) = pad_batch(&part, self.encoder.pad_id(), &self.device)?;
            let t = self.model.config().temperature as f64;
            let offset = offset_tensor(&offs, part.len(), &self.device)?;
            let (scores, scaled) =
                self.model
                    .token_saliency(&ids, &mask, &ys, t, offset.as_ref())?;
            let preds = self.stretched(probabilities(&scaled)?);
            Ok(batch
                .iter()
                .zip(scores.into_iter().zip(preds))
                .map(|(&i, (mut scores, prediction))| {
                    scores.truncate(seqs[i].len());
                    TokenSaliency { scores, prediction }
                })
                .collect())
        })
    }

    /// Runs `run` on the token-budget batches of sequences of these lengths (in parallel on CPU):
    /// one result per sequence of the batch, in the batch's order. Returns them in input order.
    fn batched<T: Send>(
        &self,
        lengths: &[usize],
        run: impl Fn(&[usize]) -> Result<Vec<T>> + Sync,
    ) -> Result<Vec<T>> {
        let plan = plan_batches(lengths, self.batching);
        let run = |batch: &Vec<usize>| -> Result<Vec<(usize, T)>> {
            Ok(batch.iter().copied().zip(run(batch)?).collect())
        };
        let done: Vec<Vec<(usize, T)>> = if self.device.is_cpu() && self.batching.parallel_batches {
            plan.par_iter().map(run).collect::<Result<_>>()?
        } else {
            plan.iter().map(run).collect::<Result<_>>()?
        };
        let mut out: Vec<Option<T>> = (0..lengths.len()).map(|_| None).collect();
        for (i, r) in done.into_iter().flatten() {
            out[i] = Some(r);
        }
        Ok(out
            .into_iter()
            .map(|r| r.expect("every index is planned once"))
            .collect())
    }

    /// Runs one padded batch through the encoder (no lexical head: see
    /// [`Classifier::predict_ids`]).
    pub fn predict_batch(&self, seqs: &[&[u32]]) -> Result<Vec<Prediction>> {
        self.predict_offset(seqs, &[])
    }

    /// Runs one padded batch, each sequence's logits moved by its offset (`offsets` empty: none).
    fn predict_offset(
        &self,
        seqs: &[&[u32]],
        offsets: &[Option<[f32; 3]>],
    ) -> Result<Vec<Prediction>> {
        if seqs.is_empty() {
            return Ok(Vec::new());
        }
        let (ids, mask) = pad_batch(seqs, self.encoder.pad_id(), &self.device)?;
        let logits = self.model.forward(&ids, &mask, None)?;
        self.calibrated(&self.offset_logits(logits, offsets)?)
    }

    /// `logits` `(B, 3)` plus each row's offset ([`offset_tensor`]).
    fn offset_logits(
        &self,
        logits: candle_core::Tensor,
        offsets: &[Option<[f32; 3]>],
    ) -> Result<candle_core::Tensor> {
        match offset_tensor(offsets, logits.dims2()?.0, logits.device())? {
            Some(off) => Ok(logits.add(&off)?),
            None => Ok(logits),
        }
    }

    /// Predictions from raw logits, through the model's temperature and top stretch.
    fn calibrated(&self, logits: &candle_core::Tensor) -> Result<Vec<Prediction>> {
        let t = self.model.config().temperature;
        let scaled = if t == 1.0 {
            probabilities(logits)?
        } else {
            probabilities(&(logits / t as f64)?)?
        };
        Ok(self.stretched(scaled))
    }

    /// Predictions of temperature-scaled logits, through the top stretch.
    fn stretched(&self, preds: Vec<Prediction>) -> Vec<Prediction> {
        match self.top_stretch {
            Some(stretch) => preds.iter().map(|p| stretch.apply_to(p)).collect(),
            None => preds,
        }
    }
}

/// Rows' lexical offsets as a `(rows, 3)` tensor (rows without one get 0); `None` when no row has
/// one, so the encoder's logits stay bit for bit.
fn offset_tensor(
    offsets: &[Option<[f32; 3]>],
    rows: usize,
    device: &candle_core::Device,
) -> Result<Option<candle_core::Tensor>> {
    if offsets.iter().all(Option::is_none) {
        return Ok(None);
    }
    let flat: Vec<f32> = (0..rows)
        .flat_map(|i| offsets.get(i).copied().flatten().unwrap_or([0.0; 3]))
        .collect();
    Ok(Some(candle_core::Tensor::from_vec(
        flat,
        (rows, 3),
        device,
    )?))
}

/// The window a post takes its verdict from, given its windows' flag scores (p_promotional +
/// p_campaigning): its most flagged, the last of equals.
pub(crate) fn best_window(flag_scores: impl IntoIterator<Item = f32>) -> usize {
    flag_scores
        .into_iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .expect("a post has a window")
        .0
}

/// Every window of every post, in order, with its post's lexical offset: what one model run over
/// all posts takes.
fn flat_windows<W: std::borrow::Borrow<Windows>>(
    posts: &[W],
) -> (Vec<&[u32]>, Vec<Option<[f32; 3]>>) {
    posts
        .iter()
        .flat_map(|w| {
            let w = w.borrow();
            w.ids.iter().map(move |ids| (ids.as_slice(), w.offset))
        })
        .unzip()
}

/// Each post's verdict from its windows' results (`per_window`, in [`flat_windows`] order): the
/// prediction of its [`best_window`] with `windows` and `truncated` filled in, that window's index
/// and its result.
fn verdicts<W: std::borrow::Borrow<Windows>, T>(
    posts: &[W],
    per_window: Vec<T>,
    prediction: impl Fn(&T) -> &Prediction,
) -> Vec<(Prediction, usize, T)> {
    let mut rest = per_window.into_iter();
    posts
        .iter()
        .map(|w| {
            let w = w.borrow();
            let n = w.ids.len().max(1);
            let mut own: Vec<T> = rest.by_ref().take(n).collect();
            let b = best_window(own.iter().map(|r| prediction(r).flag_score()));
            let chosen = own.swap_remove(b);
            let mut best = prediction(&chosen).clone();
            best.windows = n as u32;
            best.truncated = w.truncated;
            (best, b, chosen)
        })
        .collect()
}

//! Training a classifier: tokenizer (trained or given), seeded initialization or fine-tuning from an
//! existing model, AdamW with warmup + linear decay, dropout, gradient clipping, optional class
//! weights, and early stopping on dev macro-F1. The best checkpoint is written as a complete model
//! directory, atomically.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::backprop::GradStore;
use candle_core::{DType, Device, Tensor, Var, D};
use candle_nn::{ParamsAdamW, VarBuilder, VarMap};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use serde::Serialize;

use crate::autograd;
use crate::classifier::{probabilities, read_config, Prediction};
use crate::error::{Error, Result};
use crate::eval::{evaluate, Report};
use crate::hub;
use crate::io::Example;
use crate::label::Label;
use crate::model::{pad_batch, Config, EncoderClassifier};
use crate::normalize::normalize;
use crate::optim::AdamW;
use crate::tokenizer::TextEncoder;

/// Hyper-parameters and sources of a training run, also the `pantau train` flags. `Default` gives
/// the shipped model's settings; the defaults are written once, in the flag attributes.
#[derive(Clone, Debug, Serialize, clap::Args)]
pub struct TrainConfig {
    /// Passes over the training data at most.
    #[arg(long, default_value_t = 20)]
    pub epochs: usize,
    /// Examples per optimizer step.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Peak AdamW learning rate.
    #[arg(long = "lr", default_value_t = 1e-3)]
    pub learning_rate: f64,
    /// Fraction of all steps spent warming the learning rate up from 0.
    #[arg(long, default_value_t = 0.06)]
    pub warmup_ratio: f64,
    /// AdamW decoupled weight decay.
    #[arg(long, default_value_t = 0.01)]
    pub weight_decay: f64,
    /// Dropout on embeddings, residual branches and the pooled vector.
    #[arg(long, default_value_t = 0.2)]
    pub dropout: f32,
    /// Share of interior tokens replaced by `[UNK]` in each training batch.
    #[arg(long, default_value_t = 0.2)]
    pub token_dropout: f32,
    /// Probability mass spread evenly over all labels in the training target.
    #[arg(long, default_value_t = 0.1)]
    pub label_smoothing: f64,
    /// Epochs of masked-language-model pretraining of the encoder, on the training text and any
    /// unlabeled text, before the classifier is trained (0: none) [default: 10, or 0 with --init,
    /// whose encoder is already trained].
    #[arg(long)]
    pub pretrain_epochs: Option<usize>,
    /// Decay of an exponential moving average of the weights, which is what gets evaluated and
    /// saved; 0 turns it off and keeps the raw weights.
    #[arg(long, default_value_t = 0.999)]
    pub ema_decay: f64,
    /// Gradients are rescaled so their global L2 norm is at most this (0: no clipping).
    #[arg(long, default_value_t = 1.0)]
    pub max_grad_norm: f64,
    /// Weight the loss by inverse label frequency.
    #[arg(long)]
    pub class_weights: bool,
    /// Epochs without a better dev macro-F1 before stopping.
    #[arg(long, default_value_t = 5)]
    pub patience: usize,
    /// Seeds initialization, shuffling and dropout: the same seed gives the same weights on CPU.
    #[arg(long, default_value_t = 13)]
    pub seed: u64,
    /// Size of the WordPiece vocabulary learned from the training text.
    #[arg(long, default_value_t = 8000)]
    pub vocab_size: usize,
    #[arg(long, default_value_t = 128)]
    pub hidden_size: usize,
    #[arg(long = "layers", default_value_t = 2)]
    pub num_layers: usize,
    #[arg(long = "heads", default_value_t = 4)]
    pub num_heads: usize,
    /// Width of the feed-forward block.
    #[arg(long, default_value_t = 256)]
    pub intermediate_size: usize,
    /// Longest input in tokens; longer posts are truncated.
    #[arg(long, default_value_t = 128)]
    pub max_len: usize,
    /// Fine-tune from this model directory or hub id (its tokenizer and architecture are kept).
    #[arg(long)]
    pub init: Option<String>,
    /// Use this `tokenizer.json` instead of training one.
    #[arg(long)]
    pub tokenizer: Option<PathBuf>,
    /// The command that started the run, quoted in the model card (set by the CLI).
    #[arg(skip)]
    pub command: Option<String>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        #[derive(clap::Parser)]
        struct Defaults {
            #[command(flatten)]
            config: TrainConfig,
        }
        <Defaults as clap::Parser>::parse_from(["pantau-train"]).config
    }
}

impl TrainConfig {
    /// Pretraining epochs this run does: the setting, or by default 10 for a new model and 0 when
    /// fine-tuning with `init`.
    pub fn pretrain_epochs(&self) -> usize {
        self.pretrain_epochs
            .unwrap_or(if self.init.is_some() { 0 } else { 10 })
    }

    /// Checks that every setting is in range; the error names the flag.
    pub fn validate(&self) -> Result<()> {
        let c = self;
        let bad = |what: String| Err(Error::Training(what));
        if c.batch_size == 0 || c.epochs == 0 {
            return bad("batch size and epochs must be positive".into());
        }
        for (name, v) in [
            ("--dropout", c.dropout as f64),
            ("--token-dropout", c.token_dropout as f64),
            ("--label-smoothing", c.label_smoothing),
            ("--ema-decay", c.ema_decay),
            ("--warmup-ratio", c.warmup_ratio),
        ] {
            if !(0.0..1.0).contains(&v) {
                return bad(format!("{name} must be in [0, 1), got {v}"));
            }
        }
        if !(c.learning_rate > 0.0 && c.learning_rate.is_finite()) {
            return bad(format!("--lr must be positive, got {}", c.learning_rate));
        }
        Ok(())
    }
}

/// Training and development examples.
#[derive(Clone, Debug, Default)]
pub struct TrainData {
    pub train: Vec<Example>,
    pub dev: Vec<Example>,
    /// Posts without labels, used only by masked-language-model pretraining (and for learning the
    /// vocabulary).
    pub unlabeled: Vec<String>,
}

/// Numbers from one epoch.
#[derive(Clone, Debug, Serialize)]
pub struct EpochReport {
    pub epoch: usize,
    pub train_loss: f64,
    pub dev_accuracy: f64,
    pub dev_macro_f1: f64,
    pub learning_rate: f64,
    pub seconds: f64,
    /// Whether this epoch's weights were saved as the new best.
    pub saved: bool,
}

/// Numbers from one epoch of masked-language-model pretraining.
#[derive(Clone, Debug, Serialize)]
pub struct PretrainEpoch {
    pub epoch: usize,
    /// Mean cross-entropy over the masked tokens.
    pub loss: f64,
    pub learning_rate: f64,
    pub seconds: f64,
}

/// What happened during training, written to `training.json` in the model directory.
#[derive(Clone, Debug, Serialize)]
pub struct TrainReport {
    pub config: TrainConfig,
    pub train_examples: usize,
    pub dev_examples: usize,
    pub unlabeled_texts: usize,
    pub parameters: usize,
    pub best_epoch: usize,
    pub best_dev: Option<Report>,
    pub pretraining: Vec<PretrainEpoch>,
    pub epochs: Vec<EpochReport>,
}

/// Events reported while training (for progress bars and logs).
pub enum Event<'a> {
    /// Steps done within the current epoch, out of `of`, and the running mean loss; `pretraining`
    /// tells the masked-language-model epochs from the classifier's.
    Step {
        pretraining: bool,
        epoch: usize,
        step: usize,
        of: usize,
        loss: f64,
    },
    /// A pretraining epoch finished.
    Pretrained(&'a PretrainEpoch),
    /// A classifier epoch finished.
    Epoch(&'a EpochReport),
}

/// Trains a model on `data` and writes the best checkpoint (by dev macro-F1) to `out`.
pub fn train(
    config: &TrainConfig,
    data: &TrainData,
    out: &Path,
    device: &Device,
    mut on_event: impl FnMut(Event),
) -> Result<TrainReport> {
    config.validate()?;
    if data.train.is_empty() || data.dev.is_empty() {
        return Err(Error::Training(
            "training and dev data must both be non-empty".into(),
        ));
    }
    let train_norm: Vec<String> = data.train.par_iter().map(|e| normalize(&e.text)).collect();
    let dev_norm: Vec<String> = data.dev.par_iter().map(|e| normalize(&e.text)).collect();
    let unlabeled_norm: Vec<String> = data.unlabeled.par_iter().map(|t| normalize(t)).collect();

    let init_dir = config.init.as_deref().map(hub::resolve).transpose()?;
    let (model_config, encoder) = match &init_dir {
        Some(dir) => {
            let mut c = read_config(dir)?;
            c.hidden_dropout_prob = config.dropout;
            let enc =
                TextEncoder::from_file(&dir.join("tokenizer.json"), c.max_position_embeddings)?;
            (c, enc)
        }
        None => {
            let enc = match &config.tokenizer {
                Some(p) => TextEncoder::from_file(p, config.max_len)?,
                None => TextEncoder::train(
                    train_norm.iter().chain(&unlabeled_norm),
                    config.vocab_size,
                    config.max_len,
                )?,
            };
            let mut c = Config::new(
                enc.vocab_size(),
                config.hidden_size,
                config.num_layers,
                config.num_heads,
                config.intermediate_size,
                config.max_len,
            );
            c.pad_token_id = enc.pad_id();
            c.hidden_dropout_prob = config.dropout;
            c.validate().map_err(Error::Training)?;
            (c, enc)
        }
    };
    let unk = match (config.token_dropout > 0.0, encoder.unk_id()) {
        (true, None) => return Err(Error::Training(
            "--token-dropout needs a tokenizer with an [UNK] or <unk> token; use --token-dropout 0"
                .into(),
        )),
        (_, unk) => unk.unwrap_or(0),
    };

    let varmap = VarMap::new();
    let model = EncoderClassifier::new(
        &model_config,
        VarBuilder::from_varmap(&varmap, DType::F32, device),
    )?;
    let mut rng = StdRng::seed_from_u64(config.seed);
    match &init_dir {
        Some(dir) => load_into(&varmap, &dir.join("model.safetensors"), device)?,
        None => seeded_init(&varmap, &mut rng)?,
    }
    let vars = sorted_vars(&varmap);

    let train_ids: Vec<Vec<u32>> = train_norm
        .par_iter()
        .map(|t| encoder.encode(t))
        .collect::<Result<_>>()?;
    let pretraining = if config.pretrain_epochs() > 0 {
        let mut texts = train_ids.clone();
        texts.extend(
            unlabeled_norm
                .par_iter()
                .map(|t| encoder.encode(t))
                .collect::<Result<Vec<_>>>()?,
        );
        pretrain(
            &model,
            &vars,
            &texts,
            &encoder,
            config,
            device,
            &mut rng,
            &mut on_event,
        )?
    } else {
        Vec::new()
    };
    let mut ema = if config.ema_decay > 0.0 {
        Some(Ema::new(&vars, config.ema_decay)?)
    } else {
        None
    };
    let dev_ids: Vec<Vec<u32>> = dev_norm
        .par_iter()
        .map(|t| encoder.encode(t))
        .collect::<Result<_>>()?;
    let targets: Vec<u32> = data.train.iter().map(|e| e.label.index() as u32).collect();
    let weights = label_weights(&data.train, config.class_weights);
    let weights_t = Tensor::new(&weights[..], device)?;
    let lengths: Vec<usize> = train_ids.iter().map(Vec::len).collect();

    let steps_per_epoch = batches_per_epoch(lengths.len(), config.batch_size);
    let total_steps = steps_per_epoch * config.epochs;
    let warmup = ((total_steps as f64) * config.warmup_ratio).round() as usize;
    let mut opt = adamw(vars.clone(), config)?;

    let mut report = TrainReport {
        config: TrainConfig {
            pretrain_epochs: Some(config.pretrain_epochs()),
            ..config.clone()
        },
        train_examples: data.train.len(),
        dev_examples: data.dev.len(),
        unlabeled_texts: data.unlabeled.len(),
        parameters: model_config.num_parameters(),
        best_epoch: 0,
        best_dev: None,
        pretraining,
        epochs: Vec::new(),
    };
    let gold: Vec<Label> = data.dev.iter().map(|e| e.label).collect();
    let kinds: Vec<Option<String>> = data.dev.iter().map(|e| e.kind.clone()).collect();
    let mut best_f1 = -1.0;
    let mut since_best = 0;
    let mut step = 0usize;
    for epoch in 1..=config.epochs {
        let start = Instant::now();
        let batches = length_batches(&lengths, config.batch_size, &mut rng);
        let mut loss_sum = 0.0;
        let mut lr = config.learning_rate;
        for (b, batch) in batches.iter().enumerate() {
            lr = schedule(config.learning_rate, step, warmup, total_steps);
            opt.set_learning_rate(lr);
            let seqs: Vec<Vec<u32>> = batch
                .iter()
                .map(|&i| drop_tokens(&train_ids[i], config.token_dropout, unk, &mut rng))
                .collect();
            let seqs: Vec<&[u32]> = seqs.iter().map(Vec::as_slice).collect();
            let (ids, mask) = pad_batch(&seqs, encoder.pad_id(), device)?;
            let y: Vec<u32> = batch.iter().map(|&i| targets[i]).collect();
            let y = Tensor::new(&y[..], device)?;
            let logits = model.forward(&ids, &mask, Some(&mut rng))?;
            let loss = cross_entropy(&logits, &y, &weights_t, config.label_smoothing)?;
            let mut grads = loss.backward()?;
            let scale = clip_scale(&vars, &grads, config.max_grad_norm)?;
            opt.step(&mut grads, scale)?;
            if let Some(ema) = &mut ema {
                ema.update(&vars, step)?;
            }
            loss_sum += loss.to_scalar::<f32>()? as f64;
            step += 1;
            on_event(Event::Step {
                pretraining: false,
                epoch,
                step: b + 1,
                of: steps_per_epoch,
                loss: loss_sum / (b + 1) as f64,
            });
        }
        // With an average kept, the averaged weights are evaluated and saved; the raw ones resume training.
        let raw = match &ema {
            Some(ema) => Some(ema.swap_in(&vars)?),
            None => None,
        };
        let dev_preds = predict(&model, &dev_ids, encoder.pad_id(), device)?;
        let dev = evaluate(&gold, &dev_preds, Some(&kinds));
        let improved = dev.macro_f1 > best_f1;
        if improved {
            best_f1 = dev.macro_f1;
            since_best = 0;
            report.best_epoch = epoch;
            report.best_dev = Some(dev.clone());
        } else {
            since_best += 1;
        }
        report.epochs.push(EpochReport {
            epoch,
            train_loss: loss_sum / steps_per_epoch as f64,
            dev_accuracy: dev.accuracy,
            dev_macro_f1: dev.macro_f1,
            learning_rate: lr,
            seconds: start.elapsed().as_secs_f64(),
            saved: improved,
        });
        if improved {
            save_model_dir(out, &model_config, &encoder, &varmap, &report)?;
        }
        if let Some(raw) = raw {
            restore(&vars, &raw)?;
        }
        on_event(Event::Epoch(report.epochs.last().expect("pushed")));
        if since_best >= config.patience {
            break;
        }
    }
    // The report on disk should list every epoch, including those after the best one.
    write_atomic(
        &out.join("training.json"),
        &serde_json::to_vec_pretty(&report).expect("serializes"),
    )?;
    Ok(report)
}

/// Share of the interior tokens that masked-language-model pretraining predicts.
const MASK_PROB: f32 = 0.15;

/// Masked-language-model pretraining of the encoder on `texts` (token ids), BERT-style: each
/// interior token is chosen with probability 0.15 and predicted from the rest of the post; a chosen
/// token is shown as `[MASK]` 80% of the time, as a random word 10%, unchanged 10%. The output
/// layer is the word-embedding matrix itself plus a bias that is thrown away afterwards, so the
/// saved model has exactly the classifier's tensors.
#[allow(clippy::too_many_arguments)]
fn pretrain(
    model: &EncoderClassifier,
    vars: &[Var],
    texts: &[Vec<u32>],
    encoder: &TextEncoder,
    config: &TrainConfig,
    device: &Device,
    rng: &mut StdRng,
    on_event: &mut impl FnMut(Event),
) -> Result<Vec<PretrainEpoch>> {
    let mask_id = encoder.mask_id().ok_or_else(|| {
        Error::Training("--pretrain-epochs needs a tokenizer with a [MASK] or <mask> token".into())
    })?;
    // Random replacements come from the ordinary vocabulary, after the special tokens.
    let vocab = encoder.vocab_size() as u32;
    let first_word = (mask_id + 1).min(vocab - 1);
    let bias = Var::zeros(vocab as usize, DType::F32, device)?;
    let mut params: Vec<Var> = vars.to_vec();
    params.push(bias.clone());
    let mut opt = adamw(params.clone(), config)?;
    let lengths: Vec<usize> = texts.iter().map(Vec::len).collect();
    let steps_per_epoch = batches_per_epoch(lengths.len(), config.batch_size);
    let total = steps_per_epoch * config.pretrain_epochs();
    let warmup = ((total as f64) * config.warmup_ratio).round() as usize;
    let mut out = Vec::new();
    let mut step = 0;
    for epoch in 1..=config.pretrain_epochs() {
        let start = Instant::now();
        let (mut loss_sum, mut counted, mut lr) = (0.0, 0usize, config.learning_rate);
        let batches = length_batches(&lengths, config.batch_size, rng);
        for (b, batch) in batches.iter().enumerate() {
            lr = schedule(config.learning_rate, step, warmup, total);
            opt.set_learning_rate(lr);
            step += 1;
            let t = batch.iter().map(|&i| texts[i].len()).max().unwrap_or(1);
            let mut inputs = Vec::with_capacity(batch.len());
            let (mut positions, mut targets) = (Vec::new(), Vec::new());
            for (row, &i) in batch.iter().enumerate() {
                let mut ids = texts[i].clone();
                let len = ids.len();
                for (p, id) in ids
                    .iter_mut()
                    .enumerate()
                    .take(len.saturating_sub(1))
                    .skip(1)
                {
                    if rng.gen::<f32>() >= MASK_PROB {
                        continue;
                    }
                    positions.push((row * t + p) as u32);
                    targets.push(*id);
                    let r = rng.gen::<f32>();
                    if r < 0.8 {
                        *id = mask_id;
                    } else if r < 0.9 {
                        *id = rng.gen_range(first_word..vocab);
                    }
                }
                inputs.push(ids);
            }
            if positions.is_empty() {
                continue;
            }
            let seqs: Vec<&[u32]> = inputs.iter().map(Vec::as_slice).collect();
            let (ids, mask) = pad_batch(&seqs, encoder.pad_id(), device)?;
            let hidden = model.hidden_states(&ids, &mask, &mut Some(&mut *rng))?;
            let d = hidden.dim(2)?;
            let picked = hidden
                .reshape((batch.len() * t, d))?
                .index_select(&Tensor::new(&positions[..], device)?, 0)?;
            let logits = autograd::bias_add(&model.vocab_logits(&picked)?, bias.as_tensor())?;
            let targets = Tensor::new(&targets[..], device)?;
            let loss = candle_nn::loss::cross_entropy(&logits, &targets)?;
            let mut grads = loss.backward()?;
            let scale = clip_scale(&params, &grads, config.max_grad_norm)?;
            opt.step(&mut grads, scale)?;
            loss_sum += loss.to_scalar::<f32>()? as f64;
            counted += 1;
            on_event(Event::Step {
                pretraining: true,
                epoch,
                step: b + 1,
                of: steps_per_epoch,
                loss: loss_sum / counted as f64,
            });
        }
        out.push(PretrainEpoch {
            epoch,
            loss: loss_sum / counted.max(1) as f64,
            learning_rate: lr,
            seconds: start.elapsed().as_secs_f64(),
        });
        on_event(Event::Pretrained(out.last().expect("pushed")));
    }
    Ok(out)
}

const BATCHES_PER_WINDOW: usize = 50;

/// How many batches [`length_batches`] makes of `n` examples: the same every epoch.
fn batches_per_epoch(n: usize, batch_size: usize) -> usize {
    let window = batch_size * BATCHES_PER_WINDOW;
    n / window * BATCHES_PER_WINDOW + (n % window).div_ceil(batch_size)
}

/// One epoch's batches: the examples are shuffled, cut into windows of 50 batches, each window is
/// sorted by length and cut into batches, and the batches are shuffled. Batches then hold posts of
/// similar length, so little padding is computed (about 3x less on the shipped corpus), while every
/// epoch still sees the data in a new random order.
pub fn length_batches(lengths: &[usize], batch_size: usize, rng: &mut StdRng) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.shuffle(rng);
    let mut batches: Vec<Vec<usize>> = Vec::with_capacity(lengths.len().div_ceil(batch_size));
    for window in order.chunks_mut(batch_size * BATCHES_PER_WINDOW) {
        window.sort_by_key(|&i| lengths[i]);
        batches.extend(window.chunks(batch_size).map(<[usize]>::to_vec));
    }
    batches.shuffle(rng);
    batches
}

/// Replaces each interior token (not the first or last, which are `[CLS]`/`[SEP]` for pantau's
/// tokenizers) by `unk` with probability `p`: the model learns not to hang a label on one word.
fn drop_tokens(ids: &[u32], p: f32, unk: u32, rng: &mut StdRng) -> Vec<u32> {
    let mut out = ids.to_vec();
    if p > 0.0 && out.len() > 2 {
        let last = out.len() - 1;
        for id in &mut out[1..last] {
            if rng.gen::<f32>() < p {
                *id = unk;
            }
        }
    }
    out
}

/// An exponential moving average of the trainable weights (Polyak averaging), with the usual
/// warm start: the effective decay is `min(decay, (1 + step) / (10 + step))`.
struct Ema {
    decay: f64,
    shadow: Vec<Tensor>,
}

impl Ema {
    fn new(vars: &[Var], decay: f64) -> Result<Self> {
        // Copies, not views (the optimizer updates the variables in place), and detached: a shadow
        // that remembered how it was computed would chain every step's tensors into one graph.
        let shadow = vars
            .iter()
            .map(|v| Ok(v.as_tensor().copy()?.detach()))
            .collect::<Result<_>>()?;
        Ok(Ema { decay, shadow })
    }

    fn update(&mut self, vars: &[Var], step: usize) -> Result<()> {
        let d = self.decay.min((1 + step) as f64 / (10 + step) as f64);
        for (s, v) in self.shadow.iter_mut().zip(vars) {
            *s = ((&*s * d)? + (v.as_tensor().detach() * (1.0 - d))?)?.detach();
        }
        Ok(())
    }

    /// Loads the averaged weights into `vars` and returns the raw weights they replaced.
    fn swap_in(&self, vars: &[Var]) -> Result<Vec<Tensor>> {
        let raw = vars
            .iter()
            .map(|v| v.as_tensor().copy())
            .collect::<candle_core::Result<Vec<_>>>()?;
        restore(vars, &self.shadow)?;
        Ok(raw)
    }
}

fn restore(vars: &[Var], values: &[Tensor]) -> Result<()> {
    for (v, t) in vars.iter().zip(values) {
        v.set(t)?;
    }
    Ok(())
}

/// AdamW over `params` with the run's peak learning rate and weight decay.
fn adamw(params: Vec<Var>, config: &TrainConfig) -> Result<AdamW> {
    Ok(AdamW::new(
        params,
        ParamsAdamW {
            lr: config.learning_rate,
            weight_decay: config.weight_decay,
            ..ParamsAdamW::default()
        },
    )?)
}

/// Linear warmup to `peak`, then linear decay to zero.
pub fn schedule(peak: f64, step: usize, warmup: usize, total: usize) -> f64 {
    if step < warmup {
        peak * (step + 1) as f64 / warmup as f64
    } else {
        let rest = total.saturating_sub(warmup).max(1) as f64;
        peak * (1.0 - (step - warmup) as f64 / rest).max(0.0)
    }
}

fn label_weights(train: &[Example], balanced: bool) -> Vec<f32> {
    if !balanced {
        return vec![1.0; 3];
    }
    let mut counts = [0usize; 3];
    for e in train {
        counts[e.label.index()] += 1;
    }
    let n = train.len() as f32;
    counts
        .iter()
        .map(|&c| if c == 0 { 0.0 } else { n / (3.0 * c as f32) })
        .collect()
}

/// Mean cross-entropy, each example weighted by its label's weight, against a target that puts
/// `1 - smoothing` on the gold label and spreads `smoothing` evenly over all labels.
fn cross_entropy(
    logits: &Tensor,
    targets: &Tensor,
    weights: &Tensor,
    smoothing: f64,
) -> Result<Tensor> {
    let logp = candle_nn::ops::log_softmax(logits, D::Minus1)?;
    let gold = logp.gather(&targets.unsqueeze(1)?, 1)?.squeeze(1)?;
    let per_example = if smoothing > 0.0 {
        let uniform = logp.mean(D::Minus1)?;
        ((gold * (1.0 - smoothing))? + (uniform * smoothing)?)?
    } else {
        gold
    };
    let w = weights.index_select(targets, 0)?;
    Ok((per_example.mul(&w)?.sum_all()?.neg()? / w.sum_all()?.to_scalar::<f32>()? as f64)?)
}

/// The factor that brings the gradients' global L2 norm down to `max_norm` (1 when it is already
/// below, or when clipping is off).
fn clip_scale(vars: &[Var], grads: &GradStore, max_norm: f64) -> Result<f64> {
    if max_norm <= 0.0 {
        return Ok(1.0);
    }
    let mut sq = 0f64;
    for v in vars {
        if let Some(g) = grads.get(v.as_tensor()) {
            sq += g.sqr()?.sum_all()?.to_scalar::<f32>()? as f64;
        }
    }
    let norm = sq.sqrt();
    Ok(if norm > max_norm {
        max_norm / (norm + 1e-6)
    } else {
        1.0
    })
}

/// Inference over tokenized sequences with the in-memory model, in input order.
fn predict(
    model: &EncoderClassifier,
    ids: &[Vec<u32>],
    pad: u32,
    device: &Device,
) -> Result<Vec<Prediction>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(128) {
        let seqs: Vec<&[u32]> = chunk.iter().map(Vec::as_slice).collect();
        let (t, m) = pad_batch(&seqs, pad, device)?;
        out.extend(probabilities(&model.forward(&t, &m, None)?)?);
    }
    Ok(out)
}

fn sorted_vars(varmap: &VarMap) -> Vec<Var> {
    let data = varmap.data().lock().expect("varmap lock");
    let mut named: Vec<(&String, &Var)> = data.iter().collect();
    named.sort_by(|a, b| a.0.cmp(b.0));
    named.into_iter().map(|(_, v)| v.clone()).collect()
}

/// Fills every variable from a seeded RNG so that runs are reproducible: N(0, 0.02) for weight
/// matrices and embeddings, ones for norm scales, zeros for biases.
fn seeded_init(varmap: &VarMap, rng: &mut StdRng) -> Result<()> {
    let data = varmap.data().lock().expect("varmap lock");
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    for name in names {
        let var = &data[name];
        let n = var.elem_count();
        let values: Vec<f32> = if name.ends_with("bias") {
            vec![0.0; n]
        } else if name.contains("norm") {
            vec![1.0; n]
        } else {
            (0..n).map(|_| 0.02 * standard_normal(rng)).collect()
        };
        var.set(&Tensor::from_vec(values, var.shape(), var.device())?)?;
    }
    Ok(())
}

fn standard_normal(rng: &mut StdRng) -> f32 {
    // Box–Muller; u1 is kept away from 0 so the log is finite.
    let u1: f32 = rng.gen_range(f32::EPSILON..1.0);
    let u2: f32 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f32::consts::PI * u2).cos()
}

fn load_into(varmap: &VarMap, weights: &Path, device: &Device) -> Result<()> {
    let tensors = candle_core::safetensors::load(weights, device)
        .map_err(|e| Error::invalid_model(weights, e.to_string()))?;
    let data = varmap.data().lock().expect("varmap lock");
    for (name, var) in data.iter() {
        let t = tensors
            .get(name)
            .ok_or_else(|| Error::invalid_model(weights, format!("tensor {name} is missing")))?;
        var.set(&t.to_dtype(DType::F32)?)
            .map_err(|e| Error::invalid_model(weights, format!("{name}: {e}")))?;
    }
    Ok(())
}

/// Writes a complete model directory (config, tokenizer, f16 weights, training report, model card)
/// to a temporary directory beside `out`, then swaps it into place, so `out` is never half-written.
pub fn save_model_dir(
    out: &Path,
    config: &Config,
    encoder: &TextEncoder,
    varmap: &VarMap,
    report: &TrainReport,
) -> Result<()> {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
    let tmp = tempfile::Builder::new()
        .prefix(".pantau-save-")
        .tempdir_in(&parent)
        .map_err(|e| Error::io(&parent, e))?;
    let dir = tmp.path();
    let mut cfg = config.clone();
    cfg.torch_dtype = "float16".into();
    let json = serde_json::to_vec_pretty(&cfg).expect("config serializes");
    std::fs::write(dir.join("config.json"), json)
        .map_err(|e| Error::io(dir.join("config.json"), e))?;
    encoder.save(&dir.join("tokenizer.json"))?;
    let tensors: HashMap<String, Tensor> = varmap
        .data()
        .lock()
        .expect("varmap lock")
        .iter()
        .map(|(k, v)| {
            Ok((
                k.clone(),
                v.as_tensor()
                    .to_dtype(DType::F16)?
                    .to_device(&Device::Cpu)?,
            ))
        })
        .collect::<Result<_>>()?;
    candle_core::safetensors::save(&tensors, dir.join("model.safetensors"))?;
    let rep = serde_json::to_vec_pretty(report).expect("report serializes");
    std::fs::write(dir.join("training.json"), rep)
        .map_err(|e| Error::io(dir.join("training.json"), e))?;
    let card = model_card(&cfg, report);
    std::fs::write(dir.join("README.md"), card).map_err(|e| Error::io(dir.join("README.md"), e))?;

    // Swap the finished directory in: the old model is moved aside first and restored if the swap fails,
    // so `out` is always either the old or the new complete model.
    let kept = tmp.keep();
    let old = parent.join(format!(".pantau-old-{}", std::process::id()));
    if out.exists() {
        std::fs::rename(out, &old).map_err(|e| Error::io(out, e))?;
    }
    if let Err(e) = std::fs::rename(&kept, out) {
        // Put the previous model back rather than leave nothing.
        let _ = std::fs::rename(&old, out);
        return Err(Error::io(out, e));
    }
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))?;
    }
    Ok(())
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// The marker after which `pantau eval --update-card` writes test metrics.
pub const CARD_EVAL_MARKER: &str = "<!-- pantau:eval -->";

fn model_card(cfg: &Config, report: &TrainReport) -> String {
    let c = &report.config;
    let dev = report
        .best_dev
        .as_ref()
        .map(|d| {
            format!(
                "dev accuracy {:.4}, dev macro-F1 {:.4} (epoch {})",
                d.accuracy, d.macro_f1, report.best_epoch
            )
        })
        .unwrap_or_default();
    format!(
        "# pantau model\n\n\
         A {layers}-layer pre-LN transformer encoder (hidden {d}, {heads} heads, FFN {ff}, max {len} tokens, \
         vocabulary {vocab}) with mean pooling and a 3-way head: neutral, promotional, campaigning.\n\
         {params} parameters, stored as float16 ({mb:.1} MB of weights).\n\n\
         ## Training\n\n\
         {command}\
         {init}\
         {pretrain}\
         {train} training and {devn} dev examples; seed {seed}, {epochs} epochs max (early stopping, patience {pat}), \
         batch {bs} (length-bucketed), AdamW lr {lr} (warmup {wu}, linear decay), weight decay {wd}, \
         dropout {dp}, token dropout {td}, label smoothing {ls}, weight average (EMA) decay {ema}, \
         gradient clip {clip}, class weights {cw}. Best {dev}.\n\
         Per-epoch numbers are in `training.json`.\n\n\
         ## Evaluation\n\n{marker}\n",
        command = c
            .command
            .as_deref()
            .map(|cmd| format!("```sh\n{cmd}\n```\n\n"))
            .unwrap_or_default(),
        init = c
            .init
            .as_deref()
            .map(|m| format!("Fine-tuned from `{m}`. "))
            .unwrap_or_default(),
        pretrain = if c.pretrain_epochs() > 0 {
            format!(
                "Encoder pretrained as a masked language model for {} epochs on the training text{}. ",
                c.pretrain_epochs(),
                if report.unlabeled_texts > 0 {
                    format!(" and {} unlabeled posts", report.unlabeled_texts)
                } else {
                    String::new()
                }
            )
        } else {
            String::new()
        },
        layers = cfg.num_hidden_layers,
        d = cfg.hidden_size,
        heads = cfg.num_attention_heads,
        ff = cfg.intermediate_size,
        len = cfg.max_position_embeddings,
        vocab = cfg.vocab_size,
        params = cfg.num_parameters(),
        mb = cfg.num_parameters() as f64 * 2.0 / 1e6,
        train = report.train_examples,
        devn = report.dev_examples,
        seed = c.seed,
        epochs = c.epochs,
        pat = c.patience,
        bs = c.batch_size,
        lr = c.learning_rate,
        wu = c.warmup_ratio,
        wd = c.weight_decay,
        dp = c.dropout,
        td = c.token_dropout,
        ls = c.label_smoothing,
        ema = c.ema_decay,
        clip = c.max_grad_norm,
        cw = c.class_weights,
        marker = CARD_EVAL_MARKER,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretraining_is_on_for_new_models_and_off_for_fine_tuning_unless_set() {
        let new = TrainConfig::default();
        assert_eq!(new.pretrain_epochs(), 10);
        let tune = TrainConfig {
            init: Some("models/pantau-small".into()),
            ..TrainConfig::default()
        };
        assert_eq!(tune.pretrain_epochs(), 0);
        let asked = TrainConfig {
            pretrain_epochs: Some(2),
            ..tune
        };
        assert_eq!(asked.pretrain_epochs(), 2);
    }

    #[test]
    fn schedule_warms_up_then_decays_to_zero() {
        assert!((schedule(1.0, 0, 10, 100) - 0.1).abs() < 1e-12);
        assert!((schedule(1.0, 9, 10, 100) - 1.0).abs() < 1e-12);
        assert!((schedule(1.0, 10, 10, 100) - 1.0).abs() < 1e-12);
        assert!(schedule(1.0, 55, 10, 100) < 0.51);
        assert!(schedule(1.0, 100, 10, 100).abs() < 1e-12);
        assert!((schedule(1.0, 0, 0, 10) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn balanced_weights_are_inverse_frequency() {
        let ex = |l| Example {
            text: "x".into(),
            label: l,
            kind: None,
        };
        let data = vec![
            ex(Label::Neutral),
            ex(Label::Neutral),
            ex(Label::Neutral),
            ex(Label::Campaigning),
        ];
        let w = label_weights(&data, true);
        assert!((w[0] - 4.0 / 9.0).abs() < 1e-6);
        assert_eq!(w[1], 0.0);
        assert!((w[2] - 4.0 / 3.0).abs() < 1e-6);
        assert_eq!(label_weights(&data, false), vec![1.0; 3]);
    }

    #[test]
    fn cross_entropy_matches_a_hand_computation() {
        let logits = Tensor::new(&[[0f32, 0.0, 0.0], [2.0, 0.0, 0.0]], &Device::Cpu).unwrap();
        let y = Tensor::new(&[1u32, 0], &Device::Cpu).unwrap();
        let w = Tensor::new(&[1f32, 1.0, 1.0], &Device::Cpu).unwrap();
        let l = cross_entropy(&logits, &y, &w, 0.0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        let expected = ((3f32).ln() + (-(2f32.exp() / (2f32.exp() + 2.0)).ln())) / 2.0;
        assert!((l - expected).abs() < 1e-5, "{l} vs {expected}");
    }

    #[test]
    fn label_smoothing_mixes_in_the_uniform_target() {
        let logits = Tensor::new(&[[2f32, 0.0, -1.0]], &Device::Cpu).unwrap();
        let y = Tensor::new(&[0u32], &Device::Cpu).unwrap();
        let w = Tensor::new(&[1f32, 1.0, 1.0], &Device::Cpu).unwrap();
        let l = cross_entropy(&logits, &y, &w, 0.3)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        let z = 2f32.exp() + 1.0 + (-1f32).exp();
        let logp = [2.0 - z.ln(), -z.ln(), -1.0 - z.ln()];
        let expected = -(0.7 * logp[0] + 0.1 * (logp[0] + logp[1] + logp[2]));
        assert!((l - expected).abs() < 1e-5, "{l} vs {expected}");
    }

    #[test]
    fn length_batches_cover_every_example_once_and_group_similar_lengths() {
        let lengths: Vec<usize> = (0..1000).map(|i| (i * 37) % 120 + 3).collect();
        let mut rng = StdRng::seed_from_u64(1);
        let a = length_batches(&lengths, 8, &mut rng);
        let b = length_batches(&lengths, 8, &mut rng);
        assert_eq!(a.len(), batches_per_epoch(lengths.len(), 8));
        assert_eq!(b.len(), a.len());
        assert_ne!(a, b, "each epoch has its own order");
        let mut seen: Vec<usize> = a.iter().flatten().copied().collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..1000).collect::<Vec<_>>());
        assert!(a.iter().all(|batch| !batch.is_empty() && batch.len() <= 8));
        // Within a batch the lengths are close: far less spread than a random batch of 8.
        let spread: f64 = a
            .iter()
            .map(|batch| {
                let l = batch.iter().map(|&i| lengths[i]);
                (l.clone().max().unwrap() - l.min().unwrap()) as f64
            })
            .sum::<f64>()
            / a.len() as f64;
        assert!(spread < 10.0, "mean spread {spread}");
        assert_eq!(batches_per_epoch(401, 8), 51);
        assert_eq!(batches_per_epoch(0, 8), 0);
    }

    #[test]
    fn token_dropout_keeps_the_ends_and_replaces_about_p() {
        let ids: Vec<u32> = (10..1010).collect();
        let mut rng = StdRng::seed_from_u64(3);
        let out = drop_tokens(&ids, 0.2, 1, &mut rng);
        assert_eq!(out.len(), ids.len());
        assert_eq!((out[0], out[999]), (10, 1009), "[CLS] and [SEP] stay");
        let dropped = out.iter().filter(|&&i| i == 1).count();
        assert!((150..250).contains(&dropped), "{dropped} of 998 replaced");
        for (a, b) in ids.iter().zip(&out) {
            assert!(a == b || *b == 1);
        }
        assert_eq!(drop_tokens(&ids, 0.0, 1, &mut rng), ids);
        assert_eq!(drop_tokens(&[2, 3], 0.9, 1, &mut rng), vec![2, 3]);
    }

    #[test]
    fn weight_average_follows_the_weights_and_swaps_back() {
        let v = Var::new(&[1f32, 2.0], &Device::Cpu).unwrap();
        let mut ema = Ema::new(std::slice::from_ref(&v), 0.9).unwrap();
        v.set(&Tensor::new(&[3f32, 4.0], &Device::Cpu).unwrap())
            .unwrap();
        // Step 100: the warm-start cap (101/110) is above 0.9, so the decay is 0.9.
        ema.update(std::slice::from_ref(&v), 100).unwrap();
        assert!(
            ema.shadow.iter().all(|s| !s.track_op()),
            "the average keeps no graph (it would grow every step)"
        );
        let raw = ema.swap_in(std::slice::from_ref(&v)).unwrap();
        let avg = v.as_tensor().to_vec1::<f32>().unwrap();
        assert!(
            (avg[0] - 1.2).abs() < 1e-6 && (avg[1] - 2.2).abs() < 1e-6,
            "{avg:?}"
        );
        restore(std::slice::from_ref(&v), &raw).unwrap();
        assert_eq!(v.as_tensor().to_vec1::<f32>().unwrap(), vec![3.0, 4.0]);
        // Early steps follow the weights closely: (1 + 0) / (10 + 0) = 0.1.
        let mut early = Ema::new(std::slice::from_ref(&v), 0.999).unwrap();
        v.set(&Tensor::new(&[13f32, 14.0], &Device::Cpu).unwrap())
            .unwrap();
        early.update(std::slice::from_ref(&v), 0).unwrap();
        early.swap_in(std::slice::from_ref(&v)).unwrap();
        let avg = v.as_tensor().to_vec1::<f32>().unwrap();
        assert!((avg[0] - 12.0).abs() < 1e-5, "{avg:?}");
    }

    #[test]
    fn out_of_range_settings_are_rejected_with_the_flag_name() {
        let check = |c: TrainConfig| c.validate().unwrap_err().to_string();
        let d = TrainConfig::default;
        assert!(check(TrainConfig {
            token_dropout: 1.0,
            ..d()
        })
        .contains("--token-dropout"));
        assert!(check(TrainConfig {
            label_smoothing: -0.1,
            ..d()
        })
        .contains("--label-smoothing"));
        assert!(check(TrainConfig {
            ema_decay: 1.5,
            ..d()
        })
        .contains("--ema-decay"));
        assert!(check(TrainConfig {
            learning_rate: 0.0,
            ..d()
        })
        .contains("--lr"));
        assert!(check(TrainConfig {
            batch_size: 0,
            ..d()
        })
        .contains("batch size"));
        assert!(d().validate().is_ok());
    }
}

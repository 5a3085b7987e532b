//! Masked-language-model pretraining of the encoder before the classifier is trained.

use std::time::Instant;

use candle_core::{DType, Device, Tensor, Var};
use rand::rngs::StdRng;
use rand::Rng;

use crate::error::{Error, Result};
use crate::model::autograd;
use crate::model::encoder::EncoderClassifier;
use crate::model::tensors::pad_batch;
use crate::text::tokenizer::TextEncoder;
use crate::train::batches::{batches_per_epoch, length_batches};
use crate::train::config::TrainConfig;
use crate::train::optim::{adamw, clip_scale, schedule};
use crate::train::report::{Event, PretrainEpoch};

/// Share of the interior tokens that masked-language-model pretraining predicts.
const MASK_PROB: f32 = 0.15;

/// Masked-language-model pretraining of the encoder on `texts` (token ids), BERT-style: each
/// interior token is chosen with probability 0.15 and predicted from the rest of the post; a chosen
/// token is shown as `[MASK]` 80% of the time, as a random word 10%, unchanged 10%. The output
/// layer is the word-embedding matrix itself plus a bias that is thrown away afterwards, so the
/// saved model has exactly the classifier's tensors.
#[allow(clippy::too_many_arguments)]
pub(super) fn pretrain(
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

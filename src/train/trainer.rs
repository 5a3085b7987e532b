//! The classifier's training loop: tokenizer (trained or given), seeded initialization or
//! fine-tuning from an existing model, optional pretraining, then epochs of AdamW steps with early
//! stopping on dev macro-F1; the best checkpoint is saved as a complete model directory.

use std::path::Path;
use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::eval::metrics::evaluate;
use crate::hub;
use crate::io::examples::Example;
use crate::io::paths::write_atomic;
use crate::label::Label;
use crate::model::config::Config;
use crate::model::encoder::EncoderClassifier;
use crate::model::load::read_config;
use crate::model::tensors::{pad_batch, probabilities};
use crate::prediction::Prediction;
use crate::text::normalize::NORMALIZATION_VERSION;
use crate::text::participants::{prepare, Registry, MARKING_VERSION};
use crate::text::tokenizer::TextEncoder;
use crate::train::batches::{batches_per_epoch, length_batches};
use crate::train::card::model_card;
use crate::train::config::TrainConfig;
use crate::train::ema::{restore, Ema};
use crate::train::init::{load_into, seeded_init, sorted_vars};
use crate::train::lexical::{attach, LexicalOptions};
use crate::train::loss::{cross_entropy, label_weights};
use crate::train::optim::{adamw, clip_scale, schedule};
use crate::train::pretrain::pretrain;
use crate::train::report::{EpochReport, Event, TrainReport};
use crate::train::save::{check_replaceable, save_model_dir};

/// Training and development examples.
#[derive(Clone, Debug, Default)]
pub struct TrainData {
    pub train: Vec<Example>,
    pub dev: Vec<Example>,
    /// Posts without labels, used only by masked-language-model pretraining (and for learning the
    /// vocabulary).
    pub unlabeled: Vec<String>,
    /// Participants marked in `train`, `dev` and `unlabeled` (models of the current
    /// normalization version read mentions as role tokens; see [`crate::text::participants`]).
    pub registry: Registry,
    /// More training rows whose participants are those of `background_registry`: real posts from
    /// other elections (the corpora of [`crate::io::corpora`]), where other people were running.
    pub background: Vec<Example>,
    pub background_registry: Registry,
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
    // Before any work: a run that could not be saved would be lost.
    check_replaceable(out)?;
    if data.train.is_empty() || data.dev.is_empty() {
        return Err(Error::Training(
            "training and dev data must both be non-empty".into(),
        ));
    }
    let init_dir = config.init.as_deref().map(hub::resolve).transpose()?;
    // A model fine-tuned from one trained without marking keeps that input (its vocabulary has no
    // role tokens); any other model learns to read text as this pantau normalizes it.
    let version = match &init_dir {
        Some(dir) => {
            let v = read_config(dir)?.normalization_version;
            if v < MARKING_VERSION {
                v
            } else {
                NORMALIZATION_VERSION
            }
        }
        None => NORMALIZATION_VERSION,
    };
    let prep = |registry: &Registry, text: &str| prepare(text, registry, version).text;
    let train_norm: Vec<String> = data
        .train
        .par_iter()
        .map(|e| prep(&data.registry, &e.text))
        .chain(
            data.background
                .par_iter()
                .map(|e| prep(&data.background_registry, &e.text)),
        )
        .collect();
    let dev_norm: Vec<String> = data
        .dev
        .par_iter()
        .map(|e| prep(&data.registry, &e.text))
        .collect();
    let unlabeled_norm: Vec<String> = data
        .unlabeled
        .par_iter()
        .map(|t| prep(&data.background_registry, t))
        .collect();
    let train_rows: Vec<Example> = data.train.iter().chain(&data.background).cloned().collect();
    let (model_config, encoder) = match &init_dir {
        Some(dir) => {
            let mut c = read_config(dir)?;
            c.hidden_dropout_prob = config.dropout;
            c.normalization_version = version;
            // Fitted to the initial weights' predictions; calibration refits it after training.
            c.top_stretch = None;
            // Fitted beside the initial encoder; a new head is fitted after the epochs.
            c.lexical = None;
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
    let targets: Vec<u32> = train_rows.iter().map(|e| e.label.index() as u32).collect();
    let weights = label_weights(&train_rows, config.class_weights);
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
        train_examples: train_rows.len(),
        dev_examples: data.dev.len(),
        unlabeled_texts: data.unlabeled.len(),
        parameters: model_config.num_parameters(),
        best_epoch: 0,
        best_dev: None,
        pretraining,
        epochs: Vec::new(),
        lexical: None,
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
    if config.epochs == 0 {
        // The initial encoder is the model: saved as it is, with its dev figures.
        let dev_preds = predict(&model, &dev_ids, encoder.pad_id(), device)?;
        report.best_dev = Some(evaluate(&gold, &dev_preds, Some(&kinds)));
        save_model_dir(out, &model_config, &encoder, &varmap, &report)?;
    }
    if !config.no_lexical {
        let labels: Vec<Label> = train_rows.iter().map(|e| e.label).collect();
        let opts = LexicalOptions {
            buckets: config.lexical_buckets,
            c: config.lexical_c,
            ..LexicalOptions::default()
        };
        let fitted = attach(
            out,
            &train_norm,
            &labels,
            &data.dev,
            &data.registry,
            &opts,
            device,
        )?;
        on_event(Event::Lexical(&fitted));
        report.lexical = Some(fitted);
    }
    // The report on disk should list every epoch, including those after the best one.
    write_atomic(
        &out.join("training.json"),
        &serde_json::to_vec_pretty(&report).expect("serializes"),
    )?;
    write_atomic(
        &out.join("README.md"),
        model_card(&read_config(out)?, &report).as_bytes(),
    )?;
    Ok(report)
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

#[cfg(test)]
mod tests {
    use super::*;

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
}

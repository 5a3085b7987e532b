//! The settings of a training run, which are also the `pantau train` flags.

use std::path::PathBuf;

use serde::Serialize;

use crate::error::{Error, Result};

/// Hyper-parameters and sources of a training run, also the `pantau train` flags. `Default` gives
/// the shipped model's settings; the defaults are written once, in the flag attributes.
#[derive(Clone, Debug, Serialize, clap::Args)]
pub struct TrainConfig {
    /// Passes over the training data at most (0 with --init: keep its encoder, fit only the
    /// lexical head and the calibration).
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
    /// Fit no lexical head (a TF-IDF linear classifier whose logits join the encoder's).
    #[arg(long)]
    pub no_lexical: bool,
    /// Inverse L2 strength of the lexical head (scikit-learn's C).
    #[arg(long, default_value_t = 16.0)]
    pub lexical_c: f64,
    /// Hash buckets per block (word n-grams, character n-grams) of the lexical head.
    #[arg(long, default_value_t = 65536)]
    pub lexical_buckets: usize,
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
        if c.batch_size == 0 {
            return bad("--batch-size must be positive".into());
        }
        if c.epochs == 0 && c.init.is_none() {
            return bad(
                "--epochs 0 keeps an encoder as it is, so it needs --init MODEL; a new model needs epochs".into(),
            );
        }
        if !(c.lexical_c > 0.0 && c.lexical_c.is_finite()) {
            return bad(format!("--lexical-c must be positive, got {}", c.lexical_c));
        }
        if !(1..=crate::model::config::MAX_LEXICAL_BUCKETS).contains(&c.lexical_buckets) {
            return bad(format!(
                "--lexical-buckets must be between 1 and {}, got {}",
                crate::model::config::MAX_LEXICAL_BUCKETS,
                c.lexical_buckets
            ));
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
        .contains("--batch-size"));
        assert!(check(TrainConfig { epochs: 0, ..d() }).contains("needs --init"));
        assert!(TrainConfig {
            epochs: 0,
            init: Some("m".into()),
            ..d()
        }
        .validate()
        .is_ok());
        assert!(check(TrainConfig {
            lexical_c: f64::NAN,
            ..d()
        })
        .contains("--lexical-c"));
        assert!(check(TrainConfig {
            lexical_buckets: 0,
            ..d()
        })
        .contains("--lexical-buckets"));
        assert!(d().validate().is_ok());
    }
}

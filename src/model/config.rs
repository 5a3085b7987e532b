//! The model's architecture sizes and label mapping, stored as `config.json`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::label::Label;
use crate::model::lexical::{LexicalConfig, LEXICAL_FEATURES};
use crate::prediction::Prediction;
use crate::text::normalize::{NORMALIZATION_VERSION, OLDEST_NORMALIZATION_VERSION};

/// Most hash buckets per block a lexical head may have (4 Mi: 100 MB of f32 weights).
pub const MAX_LEXICAL_BUCKETS: usize = 1 << 22;

/// The identifier written as `model_type` in `config.json`.
pub const MODEL_TYPE: &str = "pantau-encoder";

/// Architecture sizes and label mapping, stored as `config.json` (Hugging Face style).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// Hugging Face convention: the model class, for hub tooling (pantau itself ignores it).
    #[serde(default = "default_architectures")]
    pub architectures: Vec<String>,
    pub model_type: String,
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    /// Longest input in tokens, special tokens included; longer inputs are truncated.
    pub max_position_embeddings: usize,
    #[serde(default = "default_dropout")]
    pub hidden_dropout_prob: f32,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    #[serde(default)]
    pub pad_token_id: u32,
    pub id2label: BTreeMap<String, String>,
    pub label2id: BTreeMap<String, usize>,
    /// Version of [`crate::text::normalize::normalize`] the model was trained with.
    pub normalization_version: u32,
    /// Logits are divided by it before the softmax (temperature scaling, fitted on dev by
    /// `pantau calibrate` and after training); 1 leaves them as trained.
    #[serde(default = "default_temperature")]
    pub temperature: f32,
    /// A stretch of the top probability after the temperature, fitted on dev with it (`None`:
    /// the temperature alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_stretch: Option<TopStretch>,
    /// Storage type of `model.safetensors` ("float16" or "float32").
    #[serde(default = "default_dtype")]
    pub torch_dtype: String,
    /// The lexical head whose weights `model.safetensors` holds beside the encoder's (`None`:
    /// the encoder alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lexical: Option<LexicalConfig>,
}

/// A monotone map of the top label's log-odds: unchanged up to `knot`, multiplied by `slope` above
/// it, the other two labels keeping their ratio. One temperature has to fit the whole scale, and
/// on a model trained with label smoothing it leaves the surest posts underconfident (right more
/// often than their probability says); this corrects the top alone. It never changes a label, and
/// it moves no post across a flag threshold between `1 − p(knot)` and `p(knot)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TopStretch {
    /// Log-odds of the top probability where the stretch begins.
    pub knot: f32,
    /// How much faster the log-odds grow above the knot (1: no change).
    pub slope: f32,
}

impl TopStretch {
    /// The probabilities with the top one stretched.
    pub fn apply(&self, p: [f32; 3]) -> [f32; 3] {
        let top = (0..3).fold(0, |b, i| if p[i] > p[b] { i } else { b });
        let q = p[top] as f64;
        if q >= 1.0 {
            return p;
        }
        let z = (q / (1.0 - q)).ln();
        let knot = self.knot as f64;
        if z <= knot {
            return p;
        }
        let stretched = 1.0 / (1.0 + (-(knot + self.slope as f64 * (z - knot))).exp());
        let rest = (1.0 - stretched) / (1.0 - q);
        let mut out = [0f32; 3];
        for (i, o) in out.iter_mut().enumerate() {
            *o = if i == top {
                stretched as f32
            } else {
                (p[i] as f64 * rest) as f32
            };
        }
        out
    }

    /// The probability at the knot: the stretch moves only top probabilities above it.
    pub fn knot_probability(&self) -> f32 {
        1.0 / (1.0 + (-self.knot).exp())
    }

    /// The prediction with its top probability stretched; its label and every other field stay.
    pub fn apply_to(&self, p: &Prediction) -> Prediction {
        Prediction {
            probabilities: self.apply(p.probabilities),
            ..p.clone()
        }
    }
}

fn default_dropout() -> f32 {
    0.1
}
fn default_eps() -> f64 {
    1e-5
}
fn default_architectures() -> Vec<String> {
    vec!["PantauEncoderForSequenceClassification".into()]
}
fn default_temperature() -> f32 {
    1.0
}
fn default_dtype() -> String {
    "float32".into()
}

impl Config {
    /// A config with pantau's labels and the current normalization version.
    pub fn new(
        vocab_size: usize,
        hidden_size: usize,
        num_hidden_layers: usize,
        num_attention_heads: usize,
        intermediate_size: usize,
        max_position_embeddings: usize,
    ) -> Self {
        Config {
            architectures: default_architectures(),
            model_type: MODEL_TYPE.into(),
            vocab_size,
            hidden_size,
            num_hidden_layers,
            num_attention_heads,
            intermediate_size,
            max_position_embeddings,
            hidden_dropout_prob: default_dropout(),
            layer_norm_eps: default_eps(),
            pad_token_id: 0,
            id2label: Label::ALL
                .iter()
                .map(|l| (l.index().to_string(), l.as_str().to_string()))
                .collect(),
            label2id: Label::ALL
                .iter()
                .map(|l| (l.as_str().to_string(), l.index()))
                .collect(),
            normalization_version: NORMALIZATION_VERSION,
            temperature: default_temperature(),
            top_stretch: None,
            torch_dtype: "float16".into(),
            lexical: None,
        }
    }

    /// Checks the sizes and labels; the error says which field is wrong.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.hidden_size == 0 || self.num_attention_heads == 0 {
            return Err("hidden_size and num_attention_heads must be positive".into());
        }
        if !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return Err(format!(
                "hidden_size {} is not divisible by num_attention_heads {}",
                self.hidden_size, self.num_attention_heads
            ));
        }
        if self.max_position_embeddings < 2 {
            return Err("max_position_embeddings must be at least 2".into());
        }
        if self.vocab_size == 0 || self.intermediate_size == 0 {
            return Err("vocab_size and intermediate_size must be positive".into());
        }
        if !(self.layer_norm_eps.is_finite() && self.layer_norm_eps > 0.0) {
            return Err(format!(
                "layer_norm_eps is {}; it must be a small positive number such as 1e-5",
                self.layer_norm_eps
            ));
        }
        if !(0.0..1.0).contains(&self.hidden_dropout_prob) {
            return Err(format!(
                "hidden_dropout_prob is {}; it must be at least 0 and below 1",
                self.hidden_dropout_prob
            ));
        }
        if !(self.temperature.is_finite() && self.temperature > 0.0) {
            return Err(format!(
                "temperature is {}; it must be positive (1 leaves the logits as trained; refit it with pantau calibrate)",
                self.temperature
            ));
        }
        if let Some(t) = &self.top_stretch {
            if !(t.knot.is_finite() && t.slope.is_finite() && t.slope > 0.0) {
                return Err(format!(
                    "top_stretch is {{knot: {}, slope: {}}}; the knot must be finite and the slope positive (remove it, or refit it with pantau calibrate)",
                    t.knot, t.slope
                ));
            }
        }
        if let Some(l) = &self.lexical {
            if !(1..=MAX_LEXICAL_BUCKETS).contains(&l.buckets) {
                return Err(format!(
                    "lexical.buckets is {}; it must be between 1 and {MAX_LEXICAL_BUCKETS}",
                    l.buckets
                ));
            }
            if !(l.weight.is_finite() && l.weight >= 0.0) {
                return Err(format!(
                    "lexical.weight is {}; it must be a finite number, at least 0",
                    l.weight
                ));
            }
            if l.features != LEXICAL_FEATURES {
                return Err(format!(
                    "lexical.features is {}; this pantau computes version {LEXICAL_FEATURES} (a newer pantau made the model: upgrade, or remove the lexical entry and its lexical.* tensors)",
                    l.features
                ));
            }
        }
        if self.pad_token_id as usize >= self.vocab_size {
            return Err(format!(
                "pad_token_id {} is not below vocab_size {}",
                self.pad_token_id, self.vocab_size
            ));
        }
        if self.model_type != MODEL_TYPE {
            return Err(format!(
                "model_type is {:?}; pantau reads {MODEL_TYPE:?} models",
                self.model_type
            ));
        }
        if self.num_hidden_layers == 0 {
            return Err("num_hidden_layers must be positive".into());
        }
        if self.id2label.len() != Label::ALL.len() {
            return Err(format!(
                "id2label has {} labels, pantau needs exactly 3 (neutral, promotional, campaigning)",
                self.id2label.len()
            ));
        }
        for l in Label::ALL {
            let name = self.id2label.get(&l.index().to_string()).ok_or_else(|| {
                format!(
                    "id2label lacks id {} (expected {:?})",
                    l.index(),
                    l.as_str()
                )
            })?;
            let parsed: Label = name
                .parse()
                .map_err(|_| format!("id2label[{}] = {name:?} is not a pantau label", l.index()))?;
            if parsed != l {
                return Err(format!(
                    "id2label[{}] = {name:?}, expected {:?}: pantau's label order is neutral, promotional, campaigning",
                    l.index(),
                    l.as_str()
                ));
            }
        }
        for (name, id) in &self.label2id {
            let l: Label = name
                .parse()
                .map_err(|_| format!("label2id has unknown label {name:?}"))?;
            if l.index() != *id {
                return Err(format!("label2id[{name:?}] = {id}, expected {}", l.index()));
            }
        }
        if !(OLDEST_NORMALIZATION_VERSION..=NORMALIZATION_VERSION)
            .contains(&self.normalization_version)
        {
            return Err(format!(
                "normalization_version {} is not one this pantau reads ({OLDEST_NORMALIZATION_VERSION} to {NORMALIZATION_VERSION}): retrain the model with this version",
                self.normalization_version
            ));
        }
        Ok(())
    }

    /// Values the lexical head stores (IDF, weights and biases; 0 without one).
    pub fn lexical_values(&self) -> usize {
        self.lexical.map_or(0, |l| 4 * 2 * l.buckets + 3)
    }

    pub(crate) fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }

    /// Parameters in the model.
    pub fn num_parameters(&self) -> usize {
        let (d, f, v, l) = (
            self.hidden_size,
            self.intermediate_size,
            self.vocab_size,
            self.max_position_embeddings,
        );
        let layer = 2 * 2 * d + (3 * d * d + 3 * d) + (d * d + d) + (d * f + f) + (f * d + d);
        v * d + l * d + self.num_hidden_layers * layer + 2 * d + 3 * d + 3
    }

    /// Multiply-adds ×2 per token for a sequence of `seq_len` tokens (matmuls only; softmax,
    /// norms and activations add well under 1%).
    pub fn flops_per_token(&self, seq_len: usize) -> f64 {
        let (d, f) = (self.hidden_size as f64, self.intermediate_size as f64);
        let t = seq_len as f64;
        let per_layer = 2.0 * (3.0 * d * d + d * d + 2.0 * d * f) + 2.0 * 2.0 * t * d;
        self.num_hidden_layers as f64 * per_layer + 2.0 * d * 3.0 / t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_top_stretch_sharpens_only_above_its_knot_and_keeps_the_label() {
        let t = TopStretch {
            knot: 3.0,
            slope: 2.0,
        };
        // p 0.9: log-odds 2.2, below the knot.
        assert_eq!(t.apply([0.9, 0.06, 0.04]), [0.9, 0.06, 0.04]);
        // p 0.98: log-odds 3.89 → 4.78, p 0.9917; the others keep their 3 : 1 ratio.
        let q = t.apply([0.015, 0.98, 0.005]);
        assert!((q[1] - 0.9917).abs() < 1e-3, "{q:?}");
        assert!((q[0] / q[2] - 3.0).abs() < 1e-3, "{q:?}");
        assert!((q.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        // Monotone: a surer post stays surer.
        assert!(t.apply([0.99, 0.005, 0.005])[0] > t.apply([0.985, 0.01, 0.005])[0]);
        assert_eq!(t.apply([1.0, 0.0, 0.0]), [1.0, 0.0, 0.0]);
    }

    fn tiny_config() -> Config {
        Config::new(50, 16, 2, 4, 32, 12)
    }

    #[test]
    fn config_round_trips_and_validates() {
        let c = tiny_config();
        let json = serde_json::to_string(&c).unwrap();
        let back: Config = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
        assert!(c.validate().is_ok());
        let mut bad = c.clone();
        bad.num_attention_heads = 3;
        assert!(bad.validate().unwrap_err().contains("divisible"));
        let mut bad = c.clone();
        bad.id2label.insert("1".into(), "campaigning".into());
        assert!(bad.validate().unwrap_err().contains("id2label[1]"));
        let mut bad = c.clone();
        bad.id2label.insert("3".into(), "other".into());
        assert!(bad.validate().unwrap_err().contains("exactly 3"));
        for eps in [-1.0, 0.0, f64::NAN] {
            let mut bad = c.clone();
            bad.layer_norm_eps = eps;
            assert!(
                bad.validate().unwrap_err().contains("layer_norm_eps"),
                "{eps}"
            );
        }
        let mut bad = c.clone();
        bad.pad_token_id = 50;
        assert!(bad.validate().unwrap_err().contains("pad_token_id 50"));
        let mut bad = c;
        bad.hidden_dropout_prob = 1.0;
        assert!(bad.validate().unwrap_err().contains("hidden_dropout_prob"));
    }

    #[test]
    fn flops_per_token_grows_with_sequence_length() {
        let c = tiny_config();
        assert!(c.flops_per_token(64) > c.flops_per_token(8));
        assert!(c.flops_per_token(8) > 0.0);
    }
}

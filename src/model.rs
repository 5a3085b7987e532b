//! A small pre-LN transformer encoder with a 3-way classification head, in candle.
//!
//! Written the way candle-transformers writes models: a serde [`Config`], one `VarBuilder`-built
//! struct per layer, and `forward` functions that read top to bottom. Tensor names follow the
//! layout documented in `models/README.md`, which the PyTorch reference in `benches/` mirrors.

use std::collections::BTreeMap;

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Embedding, Linear, VarBuilder};
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

use crate::autograd;
use crate::error::{Error, Result};
use crate::kernels::{self, Dense, Post};
use crate::label::Label;
use crate::normalize::NORMALIZATION_VERSION;

/// The identifier written as `model_type` in `config.json`.
pub const MODEL_TYPE: &str = "pantau-encoder";

/// Architecture sizes and label mapping, stored as `config.json` (Hugging Face style).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Config {
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
    /// Version of [`crate::normalize::normalize`] the model was trained with.
    pub normalization_version: u32,
    /// Storage type of `model.safetensors` ("float16" or "float32").
    #[serde(default = "default_dtype")]
    pub torch_dtype: String,
}

fn default_dropout() -> f32 {
    0.1
}
fn default_eps() -> f64 {
    1e-5
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
            torch_dtype: "float16".into(),
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
        if self.normalization_version != NORMALIZATION_VERSION {
            return Err(format!(
                "normalization_version {} differs from this pantau's {NORMALIZATION_VERSION}: retrain the model with this version",
                self.normalization_version
            ));
        }
        Ok(())
    }

    fn head_dim(&self) -> usize {
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

/// Randomness for dropout; `None` means inference (no dropout, fused kernels).
pub type TrainRng<'a> = Option<&'a mut StdRng>;

fn dropout(xs: &Tensor, p: f32, rng: &mut TrainRng) -> Result<Tensor> {
    match rng {
        Some(rng) => Ok(autograd::dropout(xs, p, rng)?),
        None => Ok(xs.clone()),
    }
}

/// Layer normalization: the fused kernel at inference, differentiable ops in training.
#[derive(Clone)]
struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl LayerNorm {
    fn new(size: usize, eps: f64, vb: VarBuilder) -> Result<Self> {
        Ok(LayerNorm {
            weight: vb.get_with_hints(size, "weight", candle_nn::Init::Const(1.0))?,
            bias: vb.get_with_hints(size, "bias", candle_nn::Init::Const(0.0))?,
            eps,
        })
    }

    fn forward(&self, xs: &Tensor, training: bool) -> Result<Tensor> {
        if !training {
            return Ok(candle_nn::ops::layer_norm(
                &xs.contiguous()?,
                &self.weight,
                &self.bias,
                self.eps as f32,
            )?);
        }
        Ok(autograd::layer_norm(
            xs,
            &self.weight,
            &self.bias,
            self.eps,
        )?)
    }

    fn forward_fused(&self, xs: &Tensor) -> Result<Tensor> {
        Ok(kernels::layer_norm(
            xs,
            &self.weight,
            &self.bias,
            self.eps as f32,
        )?)
    }
}

struct Embeddings {
    word: Embedding,
    position: Embedding,
}

impl Embeddings {
    fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        Ok(Embeddings {
            word: candle_nn::embedding(cfg.vocab_size, cfg.hidden_size, vb.pp("word_embeddings"))?,
            position: candle_nn::embedding(
                cfg.max_position_embeddings,
                cfg.hidden_size,
                vb.pp("position_embeddings"),
            )?,
        })
    }

    /// `(B, T)` ids → `(B, T, d)`.
    fn forward(&self, input_ids: &Tensor) -> Result<Tensor> {
        let (b, t) = input_ids.dims2()?;
        // Positions looked up per token, not broadcast over the batch: the gradient of a broadcast
        // is a slow strided reduction in candle.
        let positions = Tensor::arange(0u32, t as u32, input_ids.device())?
            .unsqueeze(0)?
            .broadcast_as((b, t))?
            .contiguous()?;
        let word = self.word.forward(input_ids)?;
        let pos = self.position.forward(&positions)?;
        Ok((word + pos)?)
    }
}

struct SelfAttention {
    qkv: Linear,
    out: Linear,
    num_heads: usize,
    head_dim: usize,
}

impl SelfAttention {
    fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        let d = cfg.hidden_size;
        Ok(SelfAttention {
            qkv: candle_nn::linear(d, 3 * d, vb.pp("qkv"))?,
            out: candle_nn::linear(d, d, vb.pp("out"))?,
            num_heads: cfg.num_attention_heads,
            head_dim: cfg.head_dim(),
        })
    }

    /// `xs`: `(B, T, d)`; `bias`: `(B, 1, 1, T)` with 0 for real tokens and a large negative for padding.
    fn forward(&self, xs: &Tensor, bias: &Tensor, training: bool) -> Result<Tensor> {
        let (b, t, d) = xs.dims3()?;
        let qkv = autograd::linear(&self.qkv, &xs.reshape((b * t, d))?)?
            .reshape((b, t, 3, self.num_heads, self.head_dim))?
            .permute((2, 0, 3, 1, 4))?; // (3, B, H, T, hd)
        let q = qkv.get(0)?.contiguous()?;
        let k = qkv.get(1)?.contiguous()?;
        let v = qkv.get(2)?.contiguous()?;
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        let scores = q.matmul(&k.t()?)?;
        let probs = if training {
            autograd::attention_softmax(&scores, bias, scale)?
        } else {
            candle_nn::ops::softmax_last_dim(&(scores * scale)?.broadcast_add(bias)?)?
        };
        let ctx = probs.matmul(&v)?.transpose(1, 2)?.reshape((b * t, d))?;
        Ok(autograd::linear(&self.out, &ctx)?.reshape((b, t, d))?)
    }
}

struct FeedForward {
    up: Linear,
    down: Linear,
}

impl FeedForward {
    fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        Ok(FeedForward {
            up: candle_nn::linear(cfg.hidden_size, cfg.intermediate_size, vb.pp("up"))?,
            down: candle_nn::linear(cfg.intermediate_size, cfg.hidden_size, vb.pp("down"))?,
        })
    }

    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let (b, t, d) = xs.dims3()?;
        let h = autograd::linear(&self.up, &xs.reshape((b * t, d))?)?.gelu_erf()?;
        Ok(autograd::linear(&self.down, &h)?.reshape((b, t, d))?)
    }
}

struct EncoderLayer {
    attn_norm: LayerNorm,
    attn: SelfAttention,
    ffn_norm: LayerNorm,
    ffn: FeedForward,
    dropout: f32,
}

impl EncoderLayer {
    fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        Ok(EncoderLayer {
            attn_norm: LayerNorm::new(cfg.hidden_size, cfg.layer_norm_eps, vb.pp("attn_norm"))?,
            attn: SelfAttention::new(cfg, vb.pp("attn"))?,
            ffn_norm: LayerNorm::new(cfg.hidden_size, cfg.layer_norm_eps, vb.pp("ffn_norm"))?,
            ffn: FeedForward::new(cfg, vb.pp("ffn"))?,
            dropout: cfg.hidden_dropout_prob,
        })
    }

    fn forward(&self, xs: &Tensor, bias: &Tensor, rng: &mut TrainRng) -> Result<Tensor> {
        let training = rng.is_some();
        let h = self
            .attn
            .forward(&self.attn_norm.forward(xs, training)?, bias, training)?;
        let xs = (xs + dropout(&h, self.dropout, rng)?)?;
        let h = self.ffn.forward(&self.ffn_norm.forward(&xs, training)?)?;
        Ok((&xs + dropout(&h, self.dropout, rng)?)?)
    }
}

/// An encoder layer frozen for CPU inference: the same weights, run through [`crate::kernels`].
struct FusedLayer {
    attn_norm: LayerNorm,
    qkv: Dense,
    out: Dense,
    num_heads: usize,
    ffn_norm: LayerNorm,
    up: Dense,
    down: Dense,
}

impl FusedLayer {
    fn new(layer: &EncoderLayer) -> Result<Self> {
        Ok(FusedLayer {
            attn_norm: layer.attn_norm.clone(),
            qkv: Dense::new(&layer.attn.qkv)?,
            out: Dense::new(&layer.attn.out)?,
            num_heads: layer.attn.num_heads,
            ffn_norm: layer.ffn_norm.clone(),
            up: Dense::new(&layer.ffn.up)?,
            down: Dense::new(&layer.ffn.down)?,
        })
    }

    /// `xs`: `(B·T, d)`; `mask`: `(B, T)`.
    fn forward(&self, xs: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let (b, t) = mask.dims2()?;
        let h = self.attn_norm.forward_fused(xs)?;
        let qkv = self.qkv.forward(&h, Post::None)?;
        let ctx = kernels::attention(&qkv.reshape((b, t, ()))?, mask, self.num_heads)?;
        let xs = self.out.forward(&ctx, Post::Residual(xs))?;
        let h = self.ffn_norm.forward_fused(&xs)?;
        let h = self.up.forward(&h, Post::Gelu)?;
        Ok(self.down.forward(&h, Post::Residual(&xs))?)
    }
}

/// The classifier: embeddings → pre-LN encoder layers → final norm → masked mean pooling → linear head.
pub struct EncoderClassifier {
    embeddings: Embeddings,
    layers: Vec<EncoderLayer>,
    final_norm: LayerNorm,
    classifier: Linear,
    dropout: f32,
    config: Config,
    /// Set by [`EncoderClassifier::for_inference`] on the CPU.
    fused: Option<Vec<FusedLayer>>,
}

impl EncoderClassifier {
    /// Builds the model from weights (or fresh variables) under `vb`.
    pub fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        cfg.validate()
            .map_err(|e| Error::Training(format!("invalid config: {e}")))?;
        let enc = vb.pp("encoder");
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| EncoderLayer::new(cfg, enc.pp("layers").pp(i)))
            .collect::<Result<Vec<_>>>()?;
        Ok(EncoderClassifier {
            embeddings: Embeddings::new(cfg, vb.pp("embeddings"))?,
            layers,
            final_norm: LayerNorm::new(cfg.hidden_size, cfg.layer_norm_eps, enc.pp("final_norm"))?,
            classifier: candle_nn::linear(cfg.hidden_size, Label::ALL.len(), vb.pp("classifier"))?,
            dropout: cfg.hidden_dropout_prob,
            config: cfg.clone(),
            fused: None,
        })
    }

    /// Freezes the weights for inference: on the CPU in f32, later `forward` calls without an RNG
    /// run the fused kernels of [`crate::kernels`] (weights repacked once, here). A frozen model
    /// must not be trained further: the packed copies would go stale.
    pub fn for_inference(mut self) -> Result<Self> {
        if kernels::supported(self.classifier.weight()) {
            self.fused = Some(
                self.layers
                    .iter()
                    .map(FusedLayer::new)
                    .collect::<Result<_>>()?,
            );
        }
        Ok(self)
    }

    /// The model's configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// `input_ids`: `(B, T)` u32; `mask`: `(B, T)` f32, 1 for real tokens and 0 for padding.
    /// Returns logits `(B, 3)`. Pass an RNG to train (dropout on, differentiable kernels).
    /// Inference after [`Self::for_inference`] on the CPU runs the fused kernels.
    pub fn forward(&self, input_ids: &Tensor, mask: &Tensor, rng: TrainRng) -> Result<Tensor> {
        match &self.fused {
            Some(layers) if rng.is_none() => self.forward_fused(layers, input_ids, mask),
            _ => self.forward_ops(input_ids, mask, rng),
        }
    }

    /// The encoder's output `(B, T, d)`, after the final norm, with composable ops (differentiable;
    /// dropout on when `rng` is given).
    pub fn hidden_states(
        &self,
        input_ids: &Tensor,
        mask: &Tensor,
        rng: &mut TrainRng,
    ) -> Result<Tensor> {
        let training = rng.is_some();
        let (b, t) = input_ids.dims2()?;
        let bias = ((mask.ones_like()? - mask)? * -1e9)?.reshape((b, 1, 1, t))?;
        let mut xs = self.embeddings.forward(input_ids)?;
        xs = dropout(&xs, self.dropout, rng)?;
        for layer in &self.layers {
            xs = layer.forward(&xs, &bias, rng)?;
        }
        self.final_norm.forward(&xs, training)
    }

    /// Scores over the vocabulary `(M, vocab)` for hidden states `(M, d)`, with the word-embedding
    /// matrix as the output layer (tied weights): the masked-language-model head of pretraining.
    pub fn vocab_logits(&self, hidden: &Tensor) -> Result<Tensor> {
        Ok(hidden.matmul(&self.embeddings.word.embeddings().t()?)?)
    }

    /// Inference with the fused CPU kernels: same result as [`Self::forward_ops`] to ~1e-6.
    fn forward_fused(
        &self,
        layers: &[FusedLayer],
        input_ids: &Tensor,
        mask: &Tensor,
    ) -> Result<Tensor> {
        let (b, t) = input_ids.dims2()?;
        let mask = mask.to_dtype(DType::F32)?.contiguous()?;
        let mut xs = self
            .embeddings
            .forward(input_ids)?
            .reshape((b * t, self.config.hidden_size))?;
        for layer in layers {
            xs = layer.forward(&xs, &mask)?;
        }
        let xs = self.final_norm.forward_fused(&xs)?.reshape((b, t, ()))?;
        let pooled = kernels::masked_mean(&xs, &mask)?;
        Ok(self.classifier.forward(&pooled)?)
    }

    /// The model written with composable candle ops: training (with an RNG), CUDA, and the
    /// reference the fused kernels are tested against.
    fn forward_ops(&self, input_ids: &Tensor, mask: &Tensor, mut rng: TrainRng) -> Result<Tensor> {
        let xs = self.hidden_states(input_ids, mask, &mut rng)?;
        // Masked mean pooling as a batched matmul, (B, 1, T) × (B, T, d), whose gradient is another
        // matmul rather than a strided reduction.
        let m = mask.unsqueeze(1)?;
        let pooled = m
            .matmul(&xs)?
            .squeeze(1)?
            .broadcast_div(&m.sum_keepdim(2)?.squeeze(1)?)?;
        let pooled = dropout(&pooled, self.dropout, &mut rng)?;
        Ok(autograd::linear(&self.classifier, &pooled)?)
    }
}

/// Pads token-id sequences into `(ids, mask)` tensors of shape `(B, longest)`.
pub fn pad_batch(seqs: &[&[u32]], pad_id: u32, device: &Device) -> Result<(Tensor, Tensor)> {
    let b = seqs.len();
    let t = seqs.iter().map(|s| s.len()).max().unwrap_or(0).max(1);
    let mut ids = vec![pad_id; b * t];
    let mut mask = vec![0f32; b * t];
    for (i, s) in seqs.iter().enumerate() {
        ids[i * t..i * t + s.len()].copy_from_slice(s);
        mask[i * t..i * t + s.len()]
            .iter_mut()
            .for_each(|m| *m = 1.0);
    }
    Ok((
        Tensor::from_vec(ids, (b, t), device)?,
        Tensor::from_vec(mask, (b, t), device)?.to_dtype(DType::F32)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_nn::VarMap;

    fn tiny_config() -> Config {
        Config::new(50, 16, 2, 4, 32, 12)
    }

    fn tiny_model() -> (EncoderClassifier, VarMap) {
        let vm = VarMap::new();
        let vb = VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu);
        (EncoderClassifier::new(&tiny_config(), vb).unwrap(), vm)
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
        let mut bad = c;
        bad.id2label.insert("3".into(), "other".into());
        assert!(bad.validate().unwrap_err().contains("exactly 3"));
    }

    #[test]
    fn parameter_count_matches_variables() {
        let (_, vm) = tiny_model();
        let n: usize = vm.all_vars().iter().map(|v| v.elem_count()).sum();
        assert_eq!(n, tiny_config().num_parameters());
    }

    #[test]
    fn padding_does_not_change_logits() {
        let (m, _) = tiny_model();
        let a: &[u32] = &[2, 7, 9, 3];
        let b: &[u32] = &[2, 7, 9, 11, 12, 13, 3];
        let (ids, mask) = pad_batch(&[a], 0, &Device::Cpu).unwrap();
        let alone = m
            .forward(&ids, &mask, None)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        let (ids, mask) = pad_batch(&[b, a], 0, &Device::Cpu).unwrap();
        let padded = m
            .forward(&ids, &mask, None)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        for (x, y) in alone[0].iter().zip(&padded[1]) {
            assert!((x - y).abs() < 1e-5, "{alone:?} vs {padded:?}");
        }
    }

    #[test]
    fn training_path_matches_inference_path_without_dropout() {
        let mut cfg = tiny_config();
        cfg.hidden_dropout_prob = 0.0;
        let vm = VarMap::new();
        let m =
            EncoderClassifier::new(&cfg, VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu))
                .unwrap();
        let (ids, mask) = pad_batch(&[&[2, 5, 6, 3], &[2, 8, 3]], 0, &Device::Cpu).unwrap();
        let inf = m
            .forward(&ids, &mask, None)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        let mut rng = rand::SeedableRng::seed_from_u64(1);
        let tr = m
            .forward(&ids, &mask, Some(&mut rng))
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        for (r, s) in inf.iter().zip(&tr) {
            for (x, y) in r.iter().zip(s) {
                assert!((x - y).abs() < 1e-4);
            }
        }
    }

    #[test]
    fn fused_kernels_match_composable_ops() {
        // Head sizes below and above the kernels' 8 lanes, ragged lengths, and a padded batch.
        for (d, heads) in [(16, 4), (64, 2), (96, 4)] {
            let cfg = Config::new(300, d, 2, heads, 2 * d + 8, 64);
            let vm = VarMap::new();
            let vb = VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu);
            let m = EncoderClassifier::new(&cfg, vb).unwrap();
            // Non-trivial LayerNorm parameters, so the fused norm's affine part is exercised.
            for (name, var) in vm.data().lock().unwrap().iter() {
                if name.contains("norm") {
                    let noise = Tensor::randn(0f32, 0.3, var.shape(), &Device::Cpu).unwrap();
                    var.set(&(var.as_tensor() + noise).unwrap()).unwrap();
                }
            }
            let seqs: Vec<Vec<u32>> = [1usize, 5, 9, 17, 40, 63]
                .iter()
                .map(|&n| (0..n as u32).map(|i| (i * 37 + n as u32) % 300).collect())
                .collect();
            let refs: Vec<&[u32]> = seqs.iter().map(|s| s.as_slice()).collect();
            let (ids, mask) = pad_batch(&refs, 0, &Device::Cpu).unwrap();
            let m = m.for_inference().unwrap();
            assert!(m.fused.is_some());
            let fused = m.forward(&ids, &mask, None).unwrap();
            let ops = m.forward_ops(&ids, &mask, None).unwrap();
            let max_abs = |t: &Tensor| {
                t.abs()
                    .unwrap()
                    .max_all()
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap()
            };
            let diff = max_abs(&(fused - &ops).unwrap());
            let scale = max_abs(&ops);
            assert!(scale > 0.01, "degenerate logits");
            assert!(
                diff < 2e-5,
                "d={d}: fused and composable logits differ by {diff}"
            );
        }
    }

    #[test]
    fn flops_per_token_grows_with_sequence_length() {
        let c = tiny_config();
        assert!(c.flops_per_token(64) > c.flops_per_token(8));
        assert!(c.flops_per_token(8) > 0.0);
    }
}

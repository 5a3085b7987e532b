//! A small pre-LN transformer encoder with a 3-way classification head, in candle.
//!
//! Written the way candle-transformers writes models: a serde [`Config`], one `VarBuilder`-built
//! struct per layer, and `forward` functions that read top to bottom. Tensor names follow the
//! layout documented in `models/README.md`, which the PyTorch reference in `benches/` mirrors.

use candle_core::{DType, Module, Tensor};
use candle_nn::{Embedding, Linear, VarBuilder};
use rand::rngs::StdRng;

use crate::error::{Error, Result};
use crate::label::Label;
use crate::model::autograd;
use crate::model::config::Config;
use crate::model::kernels::attention::attention;
use crate::model::kernels::dense::{Dense, Post};
use crate::model::kernels::norm::layer_norm;
use crate::model::kernels::pool::masked_mean;
use crate::model::kernels::storage::supported;

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
pub(crate) struct LayerNorm {
    pub(crate) weight: Tensor,
    pub(crate) bias: Tensor,
    pub(crate) eps: f64,
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

    pub(crate) fn forward_fused(&self, xs: &Tensor) -> Result<Tensor> {
        Ok(layer_norm(xs, &self.weight, &self.bias, self.eps as f32)?)
    }
}

pub(crate) struct Embeddings {
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
    pub(crate) fn forward(&self, input_ids: &Tensor) -> Result<Tensor> {
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

pub(crate) struct SelfAttention {
    pub(crate) qkv: Linear,
    pub(crate) out: Linear,
    pub(crate) num_heads: usize,
    pub(crate) head_dim: usize,
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

pub(crate) struct FeedForward {
    pub(crate) up: Linear,
    pub(crate) down: Linear,
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

pub(crate) struct EncoderLayer {
    pub(crate) attn_norm: LayerNorm,
    pub(crate) attn: SelfAttention,
    pub(crate) ffn_norm: LayerNorm,
    pub(crate) ffn: FeedForward,
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

/// An encoder layer frozen for CPU inference: the same weights, run through [`crate::model::kernels`].
pub(crate) struct FusedLayer {
    attn_norm: LayerNorm,
    pub(crate) qkv: Dense,
    pub(crate) out: Dense,
    num_heads: usize,
    ffn_norm: LayerNorm,
    pub(crate) up: Dense,
    pub(crate) down: Dense,
    /// The same layers transposed (`dy·W`, no bias): the input gradients of explanations'
    /// saliency pass ([`crate::model::saliency`]).
    pub(crate) back: [Dense; 4],
}

/// What [`FusedLayer::forward_saving`] keeps, as `(B·T, ·)` rows: the packed QKV projection, the
/// residual stream after attention, and the feed-forward pre-activation.
pub(crate) struct FusedSaved {
    pub(crate) qkv: Tensor,
    pub(crate) x2: Tensor,
    pub(crate) up: Tensor,
}

/// `dy ↦ dy·W` for a linear layer `x·Wᵀ + b`, as a frozen dense layer.
fn transposed(l: &Linear) -> Result<Dense> {
    Ok(Dense::new(&Linear::new(
        l.weight().t()?.contiguous()?,
        None,
    ))?)
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
            back: [
                transposed(&layer.attn.qkv)?,
                transposed(&layer.attn.out)?,
                transposed(&layer.ffn.up)?,
                transposed(&layer.ffn.down)?,
            ],
        })
    }

    /// [`Self::forward`], also keeping what the saliency backward needs
    /// ([`crate::model::saliency`]). The same kernels in the same order, except that GELU runs as
    /// its own pass over the kept pre-activation: the fused epilogue's arithmetic
    /// (`simd::gelu_inline`) on the same values, so the output is bit for bit `forward`'s and a
    /// bulk run explains its flagged rows from the pass that classified them.
    pub(crate) fn forward_saving(
        &self,
        xs: &Tensor,
        mask: &Tensor,
    ) -> Result<(Tensor, FusedSaved)> {
        let (b, t) = mask.dims2()?;
        let h = self.attn_norm.forward_fused(xs)?;
        let qkv = self.qkv.forward(&h, Post::None)?;
        let ctx = attention(&qkv.reshape((b, t, ()))?, mask, self.num_heads)?;
        let x2 = self.out.forward(&ctx, Post::Residual(xs))?;
        let h = self.ffn_norm.forward_fused(&x2)?;
        let up = self.up.forward(&h, Post::None)?;
        let out = self.down.forward(
            &crate::model::kernels::grad::gelu(&up)?,
            Post::Residual(&x2),
        )?;
        Ok((out, FusedSaved { qkv, x2, up }))
    }

    /// `xs`: `(B·T, d)`; `mask`: `(B, T)`.
    fn forward(&self, xs: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let (b, t) = mask.dims2()?;
        let h = self.attn_norm.forward_fused(xs)?;
        let qkv = self.qkv.forward(&h, Post::None)?;
        let ctx = attention(&qkv.reshape((b, t, ()))?, mask, self.num_heads)?;
        let xs = self.out.forward(&ctx, Post::Residual(xs))?;
        let h = self.ffn_norm.forward_fused(&xs)?;
        let h = self.up.forward(&h, Post::Gelu)?;
        Ok(self.down.forward(&h, Post::Residual(&xs))?)
    }
}

/// The classifier: embeddings → pre-LN encoder layers → final norm → masked mean pooling → linear head.
pub struct EncoderClassifier {
    pub(crate) embeddings: Embeddings,
    pub(crate) layers: Vec<EncoderLayer>,
    pub(crate) final_norm: LayerNorm,
    pub(crate) classifier: Linear,
    dropout: f32,
    pub(crate) config: Config,
    /// Set by [`EncoderClassifier::for_inference`] on the CPU.
    pub(crate) fused: Option<Vec<FusedLayer>>,
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
    /// run the fused kernels of [`crate::model::kernels`] (weights repacked once, here). A frozen model
    /// must not be trained further: the packed copies would go stale.
    pub fn for_inference(mut self) -> Result<Self> {
        if supported(self.classifier.weight()) {
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
        let pooled = masked_mean(&xs, &mask)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tensors::pad_batch;
    use candle_core::Device;
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
}

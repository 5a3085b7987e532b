//! Token saliency for explanations: the gradient of one label's log-odds with respect to each
//! token's *presence*, a weight on the token as an attention key in every layer and in the mean
//! pooling. At presence 0 a token is gone (nothing attends to it and it is not pooled), so this
//! gradient is the first-order estimate of what removing the token does, which is what word
//! occlusion measures exactly at one model pass per word.
//!
//! The backward pass is hand-written because candle's autograd also computes the gradient of every
//! weight (each `matmul` backward does both sides) and keeps a graph node per op: through it one
//! gradient cost 5.4 forward passes per post on `data/test.jsonl`, this one about 2.5. A frozen
//! model runs its linear maps, forward and transposed, through the inference dense kernels, and
//! its forward pass ([`EncoderClassifier::forward_saved`]) is the inference pass itself, so a bulk
//! run weighs the posts it flagged without running them again ([`SavedPass::select`]). Both
//! paths are checked against candle's autograd on composable ops in the tests below.

use candle_core::{DType, Module, Tensor};

use crate::error::Result;
use crate::label::Label;
use crate::model::autograd::{
    attention_softmax, attention_softmax_grad, gelu, gelu_grad, layer_norm, layer_norm_input_grad,
    linear,
};
use crate::model::encoder::{EncoderClassifier, EncoderLayer, FusedLayer, LayerNorm};
use crate::model::kernels::pool::masked_mean;
use crate::model::kernels::Post;

fn norm(x: &Tensor, ln: &LayerNorm) -> Result<Tensor> {
    Ok(layer_norm(x, &ln.weight, &ln.bias, ln.eps)?)
}

fn norm_backward(dy: &Tensor, x: &Tensor, dnorm: &Tensor, ln: &LayerNorm) -> Result<Tensor> {
    Ok((dy + layer_norm_input_grad(x, &ln.weight, dnorm, ln.eps)?)?)
}

/// What the backward pass needs of one layer's forward pass, as `(B·T, ·)` rows.
struct LayerSaved {
    x: Tensor,
    /// The packed `[q | k | v]` projection.
    qkv: Tensor,
    x2: Tensor,
    /// The feed-forward pre-activation.
    up: Tensor,
    /// Attention weights `(B, H, T, T)`; recomputed in the backward pass where the fused
    /// attention kernel ran (it does not keep them).
    probs: Option<Tensor>,
}

/// Rows `idx` (a `(K,)` u32 tensor) of a `(B·T, ·)` tensor of `b` sequences.
fn rows_of(x: &Tensor, b: usize, idx: &Tensor) -> Result<Tensor> {
    let (n, d) = x.dims2()?;
    let k = idx.dim(0)?;
    Ok(x.reshape((b, n / b, d))?
        .index_select(idx, 0)?
        .reshape((k * (n / b), d))?)
}

impl LayerSaved {
    fn select(&self, b: usize, idx: &Tensor) -> Result<LayerSaved> {
        Ok(LayerSaved {
            x: rows_of(&self.x, b, idx)?,
            qkv: rows_of(&self.qkv, b, idx)?,
            x2: rows_of(&self.x2, b, idx)?,
            up: rows_of(&self.up, b, idx)?,
            probs: match &self.probs {
                Some(p) => Some(p.index_select(idx, 0)?),
                None => None,
            },
        })
    }
}

#[derive(Clone, Copy)]
enum Map {
    Qkv = 0,
    Out = 1,
    Up = 2,
    Down = 3,
}

struct Layer<'a> {
    ops: &'a EncoderLayer,
    fused: Option<&'a FusedLayer>,
}

impl Layer<'_> {
    fn linear(&self, m: Map) -> &candle_nn::Linear {
        match m {
            Map::Qkv => &self.ops.attn.qkv,
            Map::Out => &self.ops.attn.out,
            Map::Up => &self.ops.ffn.up,
            Map::Down => &self.ops.ffn.down,
        }
    }

    fn backward(&self, m: Map, dy: &Tensor) -> Result<Tensor> {
        match self.fused {
            Some(f) => Ok(f.back[m as usize].forward(dy, Post::None)?),
            None => Ok(dy.matmul(self.linear(m).weight())?),
        }
    }

    /// `q`, `k`, `v` as `(B, H, T, hd)` from the packed projection.
    fn split_heads(&self, qkv: &Tensor, b: usize) -> Result<[Tensor; 3]> {
        let (n, _) = qkv.dims2()?;
        let a = &self.ops.attn;
        let qkv = qkv
            .reshape((b, n / b, 3, a.num_heads, a.head_dim))?
            .permute((2, 0, 3, 1, 4))?;
        Ok([
            qkv.get(0)?.contiguous()?,
            qkv.get(1)?.contiguous()?,
            qkv.get(2)?.contiguous()?,
        ])
    }

    /// The layer's output for `x` `(B·T, d)`: on a frozen model the inference kernels' result bit
    /// for bit ([`FusedLayer::forward_saving`]), else composable ops.
    fn forward_saved(
        &self,
        x: &Tensor,
        mask: &Tensor,
        bias: &Tensor,
    ) -> Result<(Tensor, LayerSaved)> {
        let (b, _) = mask.dims2()?;
        if let Some(f) = self.fused {
            let (out, s) = f.forward_saving(x, mask)?;
            let saved = LayerSaved {
                x: x.clone(),
                qkv: s.qkv,
                x2: s.x2,
                up: s.up,
                probs: None,
            };
            return Ok((out, saved));
        }
        let (n, d) = x.dims2()?;
        let l = self.ops;
        let qkv = linear(&l.attn.qkv, &norm(x, &l.attn_norm)?)?;
        let [q, k, v] = self.split_heads(&qkv, b)?;
        let scale = 1.0 / (l.attn.head_dim as f64).sqrt();
        let probs = attention_softmax(&q.matmul(&k.t()?)?, bias, scale)?;
        let ctx = probs.matmul(&v)?.transpose(1, 2)?.reshape((n, d))?;
        let x2 = (linear(&l.attn.out, &ctx)? + x)?;
        let up = linear(&l.ffn.up, &norm(&x2, &l.ffn_norm)?)?;
        let out = (linear(&l.ffn.down, &gelu(&up)?)? + &x2)?;
        let saved = LayerSaved {
            x: x.clone(),
            qkv,
            x2,
            up,
            probs: Some(probs),
        };
        Ok((out, saved))
    }

    fn backward_input(
        &self,
        dy: &Tensor,
        s: &LayerSaved,
        bias: &Tensor,
        input: bool,
    ) -> Result<(Tensor, Option<Tensor>)> {
        let l = self.ops;
        let (n, d) = dy.dims2()?;
        let b = bias.dim(0)?;
        let [q, k, v] = self.split_heads(&s.qkv, b)?;
        let (_, heads, t, hd) = q.dims4()?;
        let scale = 1.0 / (hd as f64).sqrt();
        let probs = match &s.probs {
            Some(p) => p.clone(),
            None => attention_softmax(&q.matmul(&k.t()?)?, bias, scale)?,
        };
        let dup = gelu_grad(&s.up, &self.backward(Map::Down, dy)?)?;
        let dx2 = norm_backward(dy, &s.x2, &self.backward(Map::Up, &dup)?, &l.ffn_norm)?;
        let dctx = self
            .backward(Map::Out, &dx2)?
            .reshape((b, t, heads, hd))?
            .transpose(1, 2)?
            .contiguous()?;
        let dprobs = dctx.matmul(&v.t()?)?;
        let dscores = attention_softmax_grad(&probs, &dprobs, scale)?;
        let ones = Tensor::ones((b, 1, heads * t), dscores.dtype(), dscores.device())?;
        let presence = (ones
            .matmul(&dscores.reshape((b, heads * t, t))?)?
            .squeeze(1)?
            / scale)?;
        if !input {
            return Ok((presence, None));
        }
        let dv = probs.t()?.matmul(&dctx)?;
        let dq = dscores.matmul(&k)?;
        let dk = dscores.t()?.matmul(&q)?;
        let dqkv = Tensor::stack(&[dq, dk, dv], 0)?
            .permute((1, 3, 0, 2, 4))?
            .reshape((n, 3 * d))?;
        let dx = norm_backward(&dx2, &s.x, &self.backward(Map::Qkv, &dqkv)?, &l.attn_norm)?;
        Ok((presence, Some(dx)))
    }
}

fn log_odds_grad(logits: &[Vec<f32>], labels: &[usize], t: f32) -> Vec<f32> {
    let n = Label::ALL.len();
    let mut out = vec![0f32; logits.len() * n];
    for ((z, &y), g) in logits.iter().zip(labels).zip(out.chunks_exact_mut(n)) {
        let top = z
            .iter()
            .enumerate()
            .filter(|&(k, _)| k != y)
            .map(|(_, &v)| v)
            .fold(f32::NEG_INFINITY, f32::max);
        let total: f32 = z
            .iter()
            .enumerate()
            .filter(|&(k, _)| k != y)
            .map(|(_, &v)| (v - top).exp())
            .sum();
        for (k, g) in g.iter_mut().enumerate() {
            *g = if k == y {
                1.0 / t
            } else {
                -(z[k] - top).exp() / total / t
            };
        }
    }
    out
}

/// One batch's forward pass with what the saliency backward needs: a bulk run classifies from
/// its logits and then weighs the tokens of only the rows it explains ([`SavedPass::select`]),
/// so an explained row costs one backward pass and no second forward pass.
pub struct SavedPass {
    /// Logits `(B, 3)` before the temperature; on a frozen (CPU) model bit for bit those of
    /// [`EncoderClassifier::forward`].
    pub logits: Tensor,
    layers: Vec<LayerSaved>,
    /// The final norm's input, `(B·T, d)`.
    last: Tensor,
    /// The encoder's output, `(B, T, d)`.
    hidden: Tensor,
    /// `(B, d)`.
    pooled: Tensor,
    /// `(B, T)` f32.
    mask: Tensor,
}

impl SavedPass {
    /// The pass restricted to batch rows `rows`, in that order.
    pub fn select(&self, rows: &[usize]) -> Result<SavedPass> {
        let (b, _) = self.mask.dims2()?;
        let idx: Vec<u32> = rows.iter().map(|&r| r as u32).collect();
        let idx = Tensor::from_vec(idx, rows.len(), self.mask.device())?;
        Ok(SavedPass {
            logits: self.logits.index_select(&idx, 0)?,
            layers: self
                .layers
                .iter()
                .map(|l| l.select(b, &idx))
                .collect::<Result<_>>()?,
            last: rows_of(&self.last, b, &idx)?,
            hidden: self.hidden.index_select(&idx, 0)?,
            pooled: self.pooled.index_select(&idx, 0)?,
            mask: self.mask.index_select(&idx, 0)?,
        })
    }
}

impl EncoderClassifier {
    /// The forward pass of [`Self::token_saliency`], kept for [`Self::saliency`]: `input_ids`
    /// `(B, T)`, `mask` `(B, T)` as for [`Self::forward`].
    pub fn forward_saved(&self, input_ids: &Tensor, mask: &Tensor) -> Result<SavedPass> {
        let (b, t) = input_ids.dims2()?;
        let d = self.config.hidden_size;
        let mask = mask.to_dtype(DType::F32)?.contiguous()?;
        let bias = ((mask.ones_like()? - &mask)? * -1e9)?.reshape((b, 1, 1, t))?;
        let mut xs = self.embeddings.forward(input_ids)?.reshape((b * t, d))?;
        let mut layers = Vec::with_capacity(self.layers.len());
        for layer in self.layer_views() {
            let (next, s) = layer.forward_saved(&xs, &mask, &bias)?;
            layers.push(s);
            xs = next;
        }
        let (hidden, pooled, logits) = if self.fused.is_some() {
            // As `forward_fused` does it, so the logits are the same.
            let hidden = self.final_norm.forward_fused(&xs)?.reshape((b, t, d))?;
            let pooled = masked_mean(&hidden, &mask)?;
            let logits = self.classifier.forward(&pooled)?;
            (hidden, pooled, logits)
        } else {
            let hidden = norm(&xs, &self.final_norm)?.reshape((b, t, d))?;
            let m = mask.unsqueeze(1)?;
            let pooled = m
                .matmul(&hidden)?
                .squeeze(1)?
                .broadcast_div(&m.sum_keepdim(2)?.squeeze(1)?)?;
            let logits = linear(&self.classifier, &pooled)?;
            (hidden, pooled, logits)
        };
        Ok(SavedPass {
            logits,
            layers,
            last: xs,
            hidden,
            pooled,
            mask,
        })
    }

    /// Each token's presence gradient for the log-odds of `labels` (one label index per row of
    /// `pass`) at `temperature`: `(B, T)` scores, 0 for padding.
    pub fn saliency(
        &self,
        pass: &SavedPass,
        labels: &[usize],
        temperature: f64,
    ) -> Result<Vec<Vec<f32>>> {
        let (b, t) = pass.mask.dims2()?;
        let d = self.config.hidden_size;
        let mask = &pass.mask;
        let bias = ((mask.ones_like()? - mask)? * -1e9)?.reshape((b, 1, 1, t))?;
        let m = mask.unsqueeze(1)?; // (B, 1, T)
        let count = m.sum_keepdim(2)?.squeeze(1)?; // (B, 1)
        let logits = (&pass.logits / temperature)?.to_vec2::<f32>()?;
        let dlogits = log_odds_grad(&logits, labels, temperature as f32);
        let dlogits = Tensor::from_vec(dlogits, (b, Label::ALL.len()), mask.device())?;
        let dpooled = dlogits
            .matmul(self.classifier.weight())?
            .broadcast_div(&count)?;
        let mut presence = pass
            .hidden
            .broadcast_sub(&pass.pooled.unsqueeze(1)?)?
            .broadcast_mul(&dpooled.unsqueeze(1)?)?
            .sum(2)?;
        let dhidden = m
            .transpose(1, 2)?
            .matmul(&dpooled.unsqueeze(1)?)?
            .reshape((b * t, d))?;
        let mut dx = layer_norm_input_grad(
            &pass.last,
            &self.final_norm.weight,
            &dhidden,
            self.final_norm.eps,
        )?;
        let views = self.layer_views();
        for (i, (layer, s)) in views.iter().zip(&pass.layers).enumerate().rev() {
            // The first layer's input gradient would only reach the embeddings.
            let (p, below) = layer.backward_input(&dx, s, &bias, i > 0)?;
            presence = (presence + p)?;
            if let Some(below) = below {
                dx = below;
            }
        }
        Ok(presence.broadcast_mul(mask)?.to_vec2::<f32>()?)
    }

    /// The gradient of each label's log-odds (`labels`, one per row) with respect to each token's
    /// presence, and the temperature-scaled logits `(B, 3)` of the same pass: one forward and one
    /// backward pass. `logit_offset` `(B, 3)` is added to the encoder's logits first (a lexical
    /// head's, which moves the probabilities the gradient is taken at but not the gradient's path).
    pub fn token_saliency(
        &self,
        input_ids: &Tensor,
        mask: &Tensor,
        labels: &[usize],
        temperature: f64,
        logit_offset: Option<&Tensor>,
    ) -> Result<(Vec<Vec<f32>>, Tensor)> {
        let mut pass = self.forward_saved(input_ids, mask)?;
        if let Some(offset) = logit_offset {
            pass.logits = pass.logits.add(offset)?;
        }
        let scores = self.saliency(&pass, labels, temperature)?;
        Ok((scores, (pass.logits / temperature)?))
    }

    fn layer_views(&self) -> Vec<Layer<'_>> {
        self.layers
            .iter()
            .enumerate()
            .map(|(i, ops)| Layer {
                ops,
                fused: self.fused.as_ref().map(|f| &f[i]),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::Config;
    use crate::model::tensors::pad_batch;
    use candle_core::{DType, Device, Var, D};
    use candle_nn::{VarBuilder, VarMap};

    fn layer_norm_ops(x: &Tensor, ln: &LayerNorm) -> Tensor {
        let c = x
            .broadcast_sub(&x.mean_keepdim(D::Minus1).unwrap())
            .unwrap();
        let var = c.sqr().unwrap().mean_keepdim(D::Minus1).unwrap();
        c.broadcast_div(&(var + ln.eps).unwrap().sqrt().unwrap())
            .unwrap()
            .broadcast_mul(&ln.weight)
            .unwrap()
            .broadcast_add(&ln.bias)
            .unwrap()
    }

    fn linear_ops(x: &Tensor, l: &candle_nn::Linear) -> Tensor {
        x.broadcast_matmul(&l.weight().t().unwrap())
            .unwrap()
            .broadcast_add(l.bias().unwrap())
            .unwrap()
    }

    /// The model written out with plain candle ops and a presence variable `ln p` on every
    /// token (a key bias in each layer, a pooling weight), differentiated by candle's autograd:
    /// the reference the hand-written backward must match.
    fn autograd_scores(
        m: &EncoderClassifier,
        ids: &Tensor,
        mask: &Tensor,
        labels: &[usize],
        temperature: f64,
    ) -> Vec<Vec<f32>> {
        let (b, t) = ids.dims2().unwrap();
        let log_p = Var::zeros((b, t), DType::F32, &Device::Cpu).unwrap();
        let pad = ((mask.ones_like().unwrap() - mask).unwrap() * -1e9).unwrap();
        let key_bias = (pad + log_p.as_tensor())
            .unwrap()
            .reshape((b, 1, 1, t))
            .unwrap();
        let mut xs = m.embeddings.forward(ids).unwrap();
        for l in &m.layers {
            let (heads, hd) = (l.attn.num_heads, l.attn.head_dim);
            let h = layer_norm_ops(&xs, &l.attn_norm);
            let qkv = linear_ops(&h, &l.attn.qkv)
                .reshape((b, t, 3, heads, hd))
                .unwrap()
                .permute((2, 0, 3, 1, 4))
                .unwrap();
            let (q, k, v) = (
                qkv.get(0).unwrap().contiguous().unwrap(),
                qkv.get(1).unwrap().contiguous().unwrap(),
                qkv.get(2).unwrap().contiguous().unwrap(),
            );
            let scores = (q.matmul(&k.t().unwrap()).unwrap() / (hd as f64).sqrt())
                .unwrap()
                .broadcast_add(&key_bias)
                .unwrap();
            let e = scores
                .broadcast_sub(&scores.max_keepdim(D::Minus1).unwrap())
                .unwrap()
                .exp()
                .unwrap();
            let probs = e.broadcast_div(&e.sum_keepdim(D::Minus1).unwrap()).unwrap();
            let ctx = probs
                .matmul(&v)
                .unwrap()
                .transpose(1, 2)
                .unwrap()
                .reshape((b, t, heads * hd))
                .unwrap();
            xs = (xs + linear_ops(&ctx, &l.attn.out)).unwrap();
            let h = linear_ops(&layer_norm_ops(&xs, &l.ffn_norm), &l.ffn.up)
                .gelu_erf()
                .unwrap();
            xs = (&xs + linear_ops(&h, &l.ffn.down)).unwrap();
        }
        let hidden = layer_norm_ops(&xs, &m.final_norm);
        let w = (mask * log_p.as_tensor().exp().unwrap())
            .unwrap()
            .unsqueeze(1)
            .unwrap();
        let pooled = w
            .matmul(&hidden)
            .unwrap()
            .squeeze(1)
            .unwrap()
            .broadcast_div(&w.sum_keepdim(2).unwrap().squeeze(1).unwrap())
            .unwrap();
        let logits = (linear_ops(&pooled, &m.classifier) / temperature).unwrap();
        let n = Label::ALL.len();
        let mut onehot = vec![0f32; labels.len() * n];
        for (i, &y) in labels.iter().enumerate() {
            onehot[i * n + y] = 1.0;
        }
        let onehot = Tensor::from_vec(onehot, (labels.len(), n), &Device::Cpu).unwrap();
        let own = (&logits * &onehot).unwrap().sum(1).unwrap();
        let others = (&logits + (&onehot * -1e9).unwrap())
            .unwrap()
            .log_sum_exp(1)
            .unwrap();
        let grads = (own - others)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        grads
            .get(log_p.as_tensor())
            .unwrap()
            .broadcast_mul(mask)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap()
    }

    #[test]
    fn hand_written_backward_matches_autograd() {
        let mut cfg = Config::new(200, 32, 2, 4, 48, 40);
        cfg.hidden_dropout_prob = 0.0;
        let vm = VarMap::new();
        let m =
            EncoderClassifier::new(&cfg, VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu))
                .unwrap();
        // Non-trivial norms, so their affine parts are exercised.
        for (name, var) in vm.data().lock().unwrap().iter() {
            if name.contains("norm") {
                let noise = Tensor::randn(0f32, 0.3, var.shape(), &Device::Cpu).unwrap();
                var.set(&(var.as_tensor() + noise).unwrap()).unwrap();
            }
        }
        let seqs: Vec<Vec<u32>> = [3usize, 9, 17, 30]
            .iter()
            .map(|&n| {
                (0..n as u32)
                    .map(|i| (i * 31 + 7 * n as u32) % 200)
                    .collect()
            })
            .collect();
        let refs: Vec<&[u32]> = seqs.iter().map(Vec::as_slice).collect();
        let (ids, mask) = pad_batch(&refs, 0, &Device::Cpu).unwrap();
        let labels = [0, 1, 2, 1];
        let reference = autograd_scores(&m, &ids, &mask, &labels, 0.7);
        let want = (m.forward(&ids, &mask, None).unwrap() / 0.7).unwrap();
        let scale = reference.iter().flatten().fold(0f32, |a, x| a.max(x.abs()));
        assert!(scale > 1e-3, "degenerate gradients");
        // Composable ops first, then the frozen dense kernels.
        let unfrozen = m.token_saliency(&ids, &mask, &labels, 0.7, None).unwrap();
        let m = m.for_inference().unwrap();
        assert!(m.fused.is_some());
        let frozen = m.token_saliency(&ids, &mask, &labels, 0.7, None).unwrap();
        // A bulk run classifies from the saved pass: the same logits as inference, bit for bit.
        let pass = m.forward_saved(&ids, &mask).unwrap();
        let plain = m.forward(&ids, &mask, None).unwrap();
        assert_eq!(
            pass.logits.to_vec2::<f32>().unwrap(),
            plain.to_vec2::<f32>().unwrap()
        );
        // Weighing a subset of the rows gives those rows' scores.
        let some = m
            .saliency(&pass.select(&[3, 1]).unwrap(), &[labels[3], labels[1]], 0.7)
            .unwrap();
        for (got, want) in some.iter().zip([&frozen.0[3], &frozen.0[1]]) {
            for (x, y) in got.iter().zip(want) {
                assert!((x - y).abs() <= 1e-5 * scale, "subset: {x} vs {y}");
            }
        }
        for (path, (fast, logits)) in [("ops", unfrozen), ("fused", frozen)] {
            let diff = (logits - &want).unwrap().abs().unwrap().max_all().unwrap();
            assert!(diff.to_scalar::<f32>().unwrap() < 1e-4, "{path}: logits");
            for (row, (f, r)) in fast.iter().zip(&reference).enumerate() {
                for (i, (x, y)) in f.iter().zip(r).enumerate() {
                    assert!(
                        (x - y).abs() <= 1e-3 * scale,
                        "{path}: row {row} token {i}: {x} vs autograd {y}"
                    );
                    if i >= seqs[row].len() {
                        assert_eq!(*x, 0.0, "padding gets no score");
                    }
                }
            }
        }
    }
}

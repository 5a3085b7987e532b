//! Token saliency for explanations: the gradient of one label's log-odds with respect to each
//! token's *presence*, a weight on the token as an attention key in every layer and in the mean
//! pooling. At presence 0 a token is gone (nothing attends to it and it is not pooled), so this
//! gradient is the first-order estimate of what removing the token does, which is what word
//! occlusion measures exactly at one model pass per word.
//!
//! The backward pass is hand-written because candle's autograd also computes the gradient of every
//! weight (each `matmul` backward does both sides) and keeps a graph node per op: through it one
//! gradient cost 5.4 forward passes per post on `data/test.jsonl`, this one about 2.5. A frozen
//! model runs its linear maps, forward and transposed, through the inference dense kernels. Both
//! paths are checked against candle's autograd on composable ops in the tests below.

use candle_core::Tensor;

use crate::error::Result;
use crate::label::Label;
use crate::model::autograd::{
    attention_softmax, attention_softmax_grad, gelu, gelu_grad, layer_norm, layer_norm_input_grad,
    linear,
};
use crate::model::encoder::{EncoderClassifier, EncoderLayer, FusedLayer, LayerNorm};
use crate::model::kernels::Post;

fn norm(x: &Tensor, ln: &LayerNorm) -> Result<Tensor> {
    Ok(layer_norm(x, &ln.weight, &ln.bias, ln.eps)?)
}

/// The input gradient of `x + f(norm(x))` given `dnorm` (the gradient at `norm(x)`) and the
/// gradient `dy` that reaches the output through the residual.
fn norm_backward(dy: &Tensor, x: &Tensor, dnorm: &Tensor, ln: &LayerNorm) -> Result<Tensor> {
    Ok((dy + layer_norm_input_grad(x, &ln.weight, dnorm, ln.eps)?)?)
}

/// One encoder layer's saved activations, rows `(N, ·)` for the `N = B·T` tokens.
struct LayerSaved {
    /// The layer's input and the residual stream after attention: the two norms' inputs.
    x: Tensor,
    x2: Tensor,
    /// Queries, keys and values `(B, H, T, hd)` and the attention weights `(B, H, T, T)`.
    q: Tensor,
    k: Tensor,
    v: Tensor,
    probs: Tensor,
    /// The FFN's pre-activation `(N, F)`.
    up: Tensor,
}

/// The four linear maps of a layer, in `FusedLayer::back`'s order.
#[derive(Clone, Copy)]
enum Map {
    Qkv = 0,
    Out = 1,
    Up = 2,
    Down = 3,
}

/// One encoder layer as the saliency pass runs it: through the frozen dense kernels when the
/// model has them (CPU f32 after `for_inference`), else composable candle ops.
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

    /// `x·Wᵀ + b`, plus `residual` when given.
    fn forward(&self, m: Map, x: &Tensor, residual: Option<&Tensor>) -> Result<Tensor> {
        if let Some(f) = self.fused {
            let dense = match m {
                Map::Qkv => &f.qkv,
                Map::Out => &f.out,
                Map::Up => &f.up,
                Map::Down => &f.down,
            };
            let post = residual.map_or(Post::None, Post::Residual);
            return Ok(dense.forward(x, post)?);
        }
        let y = linear(self.linear(m), x)?;
        Ok(match residual {
            Some(r) => (y + r)?,
            None => y,
        })
    }

    /// `dy·W`: the input gradient of `x·Wᵀ + b`.
    fn backward(&self, m: Map, dy: &Tensor) -> Result<Tensor> {
        match self.fused {
            Some(f) => Ok(f.back[m as usize].forward(dy, Post::None)?),
            None => Ok(dy.matmul(self.linear(m).weight())?),
        }
    }

    /// The inference forward pass (no dropout) on `(N, d)` rows, keeping what
    /// [`Layer::backward_input`] needs.
    fn forward_saved(&self, x: &Tensor, bias: &Tensor, b: usize) -> Result<(Tensor, LayerSaved)> {
        let (n, d) = x.dims2()?;
        let t = n / b;
        let l = self.ops;
        let (heads, hd) = (l.attn.num_heads, l.attn.head_dim);
        let qkv = self
            .forward(Map::Qkv, &norm(x, &l.attn_norm)?, None)?
            .reshape((b, t, 3, heads, hd))?
            .permute((2, 0, 3, 1, 4))?;
        let q = qkv.get(0)?.contiguous()?;
        let k = qkv.get(1)?.contiguous()?;
        let v = qkv.get(2)?.contiguous()?;
        let scale = 1.0 / (hd as f64).sqrt();
        let probs = attention_softmax(&q.matmul(&k.t()?)?, bias, scale)?;
        let ctx = probs.matmul(&v)?.transpose(1, 2)?.reshape((n, d))?;
        let x2 = self.forward(Map::Out, &ctx, Some(x))?;
        let up = self.forward(Map::Up, &norm(&x2, &l.ffn_norm)?, None)?;
        let out = self.forward(Map::Down, &gelu(&up)?, Some(&x2))?;
        let saved = LayerSaved {
            x: x.clone(),
            x2,
            q,
            k,
            v,
            probs,
            up,
        };
        Ok((out, saved))
    }

    /// Given the gradient `dy` with respect to the layer's output `(N, d)`: the gradient with
    /// respect to each token's presence as an attention key `(B, T)` and, when `input`, with
    /// respect to the layer's input. Each linear layer's backward is one matmul: no weight
    /// gradients.
    fn backward_input(
        &self,
        dy: &Tensor,
        s: &LayerSaved,
        input: bool,
    ) -> Result<(Tensor, Option<Tensor>)> {
        let l = self.ops;
        let (n, d) = dy.dims2()?;
        let (b, heads, t, hd) = s.q.dims4()?;
        // out = x2 + down(gelu(up(norm(x2)))).
        let dup = gelu_grad(&s.up, &self.backward(Map::Down, dy)?)?;
        let dx2 = norm_backward(dy, &s.x2, &self.backward(Map::Up, &dup)?, &l.ffn_norm)?;
        // x2 = x + out(attention(qkv(norm(x)))).
        let dctx = self
            .backward(Map::Out, &dx2)?
            .reshape((b, t, heads, hd))?
            .transpose(1, 2)?
            .contiguous()?;
        let dprobs = dctx.matmul(&s.v.t()?)?;
        let scale = 1.0 / (hd as f64).sqrt();
        let dscores = attention_softmax_grad(&s.probs, &dprobs, scale)?;
        // A key's presence p enters as ln p in the score bias, and d/dp = d/d(ln p) at p = 1: the
        // bias gradient, summed over heads and queries. As a matmul with a row of ones: candle's
        // sums over inner dimensions are strided loops.
        let ones = Tensor::ones((b, 1, heads * t), dscores.dtype(), dscores.device())?;
        let presence = (ones
            .matmul(&dscores.reshape((b, heads * t, t))?)?
            .squeeze(1)?
            / scale)?;
        if !input {
            return Ok((presence, None));
        }
        let dv = s.probs.t()?.matmul(&dctx)?;
        let dq = dscores.matmul(&s.k)?;
        let dk = dscores.t()?.matmul(&s.q)?;
        let dqkv = Tensor::stack(&[dq, dk, dv], 0)?
            .permute((1, 3, 0, 2, 4))?
            .reshape((n, 3 * d))?;
        let dx = norm_backward(&dx2, &s.x, &self.backward(Map::Qkv, &dqkv)?, &l.attn_norm)?;
        Ok((presence, Some(dx)))
    }
}

/// The gradient of `ln(p_y / (1 − p_y))` with respect to the logits `z` (already divided by the
/// temperature `t`, which the chain rule adds back): 1 for `y`, minus the softmax over the other
/// labels for the rest, all over `t`.
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

impl EncoderClassifier {
    /// The gradient of the log-odds of `labels[i]`, ln(p / (1 − p)) with the logits divided by
    /// `temperature`, with respect to each token's presence (see the module docs): to first
    /// order, how much that log-odds falls when the token is removed. One forward and one
    /// backward pass for the whole batch. Returns the `(B, T)` scores (0 on padding) and the
    /// tempered logits `(B, 3)` of the same pass.
    pub fn token_saliency(
        &self,
        input_ids: &Tensor,
        mask: &Tensor,
        labels: &[usize],
        temperature: f64,
    ) -> Result<(Vec<Vec<f32>>, Tensor)> {
        let (b, t) = input_ids.dims2()?;
        let d = self.config.hidden_size;
        let bias = ((mask.ones_like()? - mask)? * -1e9)?.reshape((b, 1, 1, t))?;
        let mut xs = self.embeddings.forward(input_ids)?.reshape((b * t, d))?;
        let layers: Vec<Layer> = self
            .layers
            .iter()
            .enumerate()
            .map(|(i, ops)| Layer {
                ops,
                fused: self.fused.as_ref().map(|f| &f[i]),
            })
            .collect();
        let mut saved = Vec::with_capacity(layers.len());
        for layer in &layers {
            let (next, s) = layer.forward_saved(&xs, &bias, b)?;
            saved.push(s);
            xs = next;
        }
        let hidden = norm(&xs, &self.final_norm)?.reshape((b, t, d))?;
        let m = mask.unsqueeze(1)?; // (B, 1, T)
        let count = m.sum_keepdim(2)?.squeeze(1)?; // (B, 1)
        let pooled = m.matmul(&hidden)?.squeeze(1)?.broadcast_div(&count)?;
        let logits = (linear(&self.classifier, &pooled)? / temperature)?;

        let dlogits = log_odds_grad(&logits.to_vec2::<f32>()?, labels, temperature as f32);
        let dlogits = Tensor::from_vec(dlogits, (b, Label::ALL.len()), input_ids.device())?;
        let dpooled = dlogits
            .matmul(self.classifier.weight())?
            .broadcast_div(&count)?;
        // Pooling with presences p: Σ p_j h_j / Σ p_j, so d pooled / d p_j = (h_j − pooled) / count.
        let mut presence = hidden
            .broadcast_sub(&pooled.unsqueeze(1)?)?
            .broadcast_mul(&dpooled.unsqueeze(1)?)?
            .sum(2)?;
        // Pooling spreads the pooled gradient over the real tokens.
        let dhidden = m
            .transpose(1, 2)?
            .matmul(&dpooled.unsqueeze(1)?)?
            .reshape((b * t, d))?;
        let mut dx =
            layer_norm_input_grad(&xs, &self.final_norm.weight, &dhidden, self.final_norm.eps)?;
        for (i, (layer, s)) in layers.iter().zip(&saved).enumerate().rev() {
            // The first layer's input gradient would only reach the embeddings.
            let (p, below) = layer.backward_input(&dx, s, i > 0)?;
            presence = (presence + p)?;
            if let Some(below) = below {
                dx = below;
            }
        }
        let scores = presence.broadcast_mul(mask)?;
        Ok((scores.to_vec2::<f32>()?, logits))
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
        let unfrozen = m.token_saliency(&ids, &mask, &labels, 0.7).unwrap();
        let m = m.for_inference().unwrap();
        assert!(m.fused.is_some());
        let frozen = m.token_saliency(&ids, &mask, &labels, 0.7).unwrap();
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

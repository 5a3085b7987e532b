//! Differentiable fused CPU ops for training, which the encoder's training path runs.
//!
//! candle's autograd gives every intermediate tensor its own gradient buffer and reduces the
//! gradient of a broadcast with a strided loop (about 10 ns an element). In this model's training
//! step that bookkeeping cost more than the matmuls: a LayerNorm written with composable ops is
//! nine graph nodes, and every bias add ends in a slow column reduction. Each op here runs its
//! forward pass as one loop and hands candle a hand-written gradient, itself one loop or a matmul.
//!
//! On other devices or dtypes each op falls back to composable candle ops, which are also the
//! reference the unit tests check values and gradients against.

use std::sync::Arc;

use candle_core::{
    bail, CpuStorage, CustomOp1, CustomOp2, CustomOp3, DType, Layout, Module, Result, Shape,
    Tensor, D,
};
use candle_nn::Linear;
use rand::rngs::StdRng;
use rand::Rng;

use crate::model::kernels::dense::add_bias;
use crate::model::kernels::norm::LayerNormOp;
use crate::model::kernels::storage::{f32_slice, last_dim};

fn fused(t: &Tensor) -> bool {
    t.device().is_cpu() && t.dtype() == DType::F32
}

/// `xs · weightᵀ + bias` for `xs` `(N, in)`.
pub fn linear(layer: &Linear, xs: &Tensor) -> Result<Tensor> {
    let Some(bias) = layer.bias() else {
        return layer.forward(xs);
    };
    bias_add(&xs.matmul(&layer.weight().t()?)?, bias)
}

/// `xs + bias`, the bias broadcast over every row of the last dimension.
pub fn bias_add(xs: &Tensor, bias: &Tensor) -> Result<Tensor> {
    if fused(xs) {
        xs.contiguous()?.apply_op2(&bias.contiguous()?, BiasAdd)
    } else {
        xs.broadcast_add(bias)
    }
}

/// LayerNorm over the last dimension.
pub fn layer_norm(xs: &Tensor, weight: &Tensor, bias: &Tensor, eps: f64) -> Result<Tensor> {
    if fused(xs) {
        xs.contiguous()?.apply_op3(
            &weight.contiguous()?,
            &bias.contiguous()?,
            LayerNorm { eps: eps as f32 },
        )
    } else {
        layer_norm_ops(xs, weight, bias, eps)
    }
}

/// Attention weights: `softmax(scores · scale + bias)` over the last dimension, for `scores`
/// `(B, H, T, T)` and a padding `bias` `(B, 1, 1, T)` that gets no gradient.
pub fn attention_softmax(scores: &Tensor, bias: &Tensor, scale: f64) -> Result<Tensor> {
    if fused(scores) {
        scores.contiguous()?.apply_op2(
            &bias.contiguous()?,
            Softmax {
                scale: scale as f32,
            },
        )
    } else {
        candle_nn::ops::softmax(&(scores * scale)?.broadcast_add(bias)?, D::Minus1)
    }
}

/// Inverted dropout: each entry is zeroed with probability `p` and the rest are scaled by
/// `1 / (1 - p)`.
pub fn dropout(xs: &Tensor, p: f32, rng: &mut StdRng) -> Result<Tensor> {
    if p <= 0.0 {
        return Ok(xs.clone());
    }
    let mut bits = vec![0u32; xs.elem_count()];
    rng.fill(&mut bits[..]);
    // The top 24 bits as a uniform draw in [0, 1), exactly representable in f32.
    let keep = 1.0 / (1.0 - p);
    let mask: Vec<f32> = bits
        .iter()
        .map(|&b| {
            if (b >> 8) as f32 * (1.0 / 16_777_216.0) < p {
                0.0
            } else {
                keep
            }
        })
        .collect();
    if fused(xs) {
        xs.contiguous()?.apply_op1(Mask(Arc::new(mask)))
    } else {
        let mask = Tensor::from_vec(mask, xs.shape(), xs.device())?.to_dtype(xs.dtype())?;
        xs.mul(&mask)
    }
}

/// The input gradient of [`layer_norm`] given the output gradient `grad` (the weight and bias
/// gradients are not wanted): what explanations' saliency pass needs.
pub fn layer_norm_input_grad(
    xs: &Tensor,
    weight: &Tensor,
    grad: &Tensor,
    eps: f64,
) -> Result<Tensor> {
    if fused(xs) {
        crate::model::kernels::grad::layer_norm_input_grad(xs, weight, grad, eps as f32)
    } else {
        let (xhat, rstd) = normalized_ops(xs, eps)?;
        let g = grad.broadcast_mul(weight)?;
        let mean_g = g.mean_keepdim(D::Minus1)?;
        let mean_gx = (&g * &xhat)?.mean_keepdim(D::Minus1)?;
        (g.broadcast_sub(&mean_g)? - xhat.broadcast_mul(&mean_gx)?)?.broadcast_mul(&rstd)
    }
}

/// The gradient of the scores behind [`attention_softmax`] from its output `probs` and the
/// output gradient `grad`: `scale · p · (g − Σ p·g)` per row.
pub fn attention_softmax_grad(probs: &Tensor, grad: &Tensor, scale: f64) -> Result<Tensor> {
    if fused(probs) {
        crate::model::kernels::grad::softmax_grad(probs, grad, scale as f32)
    } else {
        let dot = (grad * probs)?.sum_keepdim(D::Minus1)?;
        (grad.broadcast_sub(&dot)? * probs)? * scale
    }
}

/// GELU (erf form): the one-pass kernel on the CPU, candle's op elsewhere.
pub fn gelu(xs: &Tensor) -> Result<Tensor> {
    if fused(xs) {
        crate::model::kernels::grad::gelu(xs)
    } else {
        xs.gelu_erf()
    }
}

/// `grad · gelu'(u)`, the erf form's derivative Φ(u) + u·φ(u).
pub fn gelu_grad(u: &Tensor, grad: &Tensor) -> Result<Tensor> {
    if fused(u) {
        crate::model::kernels::grad::gelu_grad(u, grad)
    } else {
        let cdf = (((u * std::f64::consts::FRAC_1_SQRT_2)?.erf()? + 1.0)? * 0.5)?;
        // 1 / √(2π)
        let pdf = ((u.sqr()? * -0.5)?.exp()? * 0.398_942_280_401_432_7)?;
        grad * (cdf + (u * pdf)?)?
    }
}

/// Rows normalized to mean 0 and variance 1, and 1/σ per row, with composable ops.
fn normalized_ops(xs: &Tensor, eps: f64) -> Result<(Tensor, Tensor)> {
    let centered = xs.broadcast_sub(&xs.mean_keepdim(D::Minus1)?)?;
    let rstd = (centered.sqr()?.mean_keepdim(D::Minus1)? + eps)?
        .sqrt()?
        .recip()?;
    Ok((centered.broadcast_mul(&rstd)?, rstd))
}

fn layer_norm_ops(xs: &Tensor, weight: &Tensor, bias: &Tensor, eps: f64) -> Result<Tensor> {
    let (normed, _) = normalized_ops(xs, eps)?;
    normed.broadcast_mul(weight)?.broadcast_add(bias)
}

/// The row length of `l` after checking that a per-feature vector of `len` matches it.
fn row_len(l: &Layout, len: usize, what: &str) -> Result<usize> {
    let d = last_dim(l);
    if d != len || d == 0 {
        bail!("{what}: rows of {d} with a vector of {len}");
    }
    Ok(d)
}

/// Sum over all rows: `(…, d)` → `(d)`, as a matmul with a row of ones.
fn column_sum(xs: &Tensor, d: usize) -> Result<Tensor> {
    let n = xs.elem_count() / d;
    let ones = Tensor::ones((1, n), xs.dtype(), xs.device())?;
    ones.matmul(&xs.reshape((n, d))?)?.reshape(d)
}

struct BiasAdd;

impl CustomOp2 for BiasAdd {
    fn name(&self) -> &'static str {
        "pantau-train-bias-add"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let xs = f32_slice(s1, l1, "bias add input")?;
        let bias = f32_slice(s2, l2, "bias")?;
        row_len(l1, bias.len(), "bias add")?;
        let mut out = xs.to_vec();
        add_bias(&mut out, bias);
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        _xs: &Tensor,
        bias: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        Ok((Some(grad.clone()), Some(column_sum(grad, bias.dim(0)?)?)))
    }
}

/// Mean and reciprocal standard deviation of one row.
fn moments(row: &[f32], eps: f32) -> (f32, f32) {
    let n = row.len() as f32;
    let mean = row.iter().sum::<f32>() / n;
    let var = row.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>() / n;
    (mean, 1.0 / (var + eps).sqrt())
}

struct LayerNorm {
    eps: f32,
}

impl CustomOp3 for LayerNorm {
    fn name(&self) -> &'static str {
        "pantau-train-layer-norm"
    }

    /// The forward pass is the inference kernel's.
    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        LayerNormOp { eps: self.eps }.cpu_fwd(s1, l1, s2, l2, s3, l3)
    }

    fn bwd(
        &self,
        xs: &Tensor,
        weight: &Tensor,
        _bias: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let n = xs.elem_count() / weight.dim(0)?;
        // One pass gives all three gradients, packed as rows: dx (n rows), then dw, then db.
        let packed = xs.apply_op3_no_bwd(
            weight,
            &grad.contiguous()?,
            &LayerNormGrad { eps: self.eps },
        )?;
        let dx = packed.narrow(0, 0, n)?.reshape(xs.shape())?;
        Ok((Some(dx), Some(packed.get(n)?), Some(packed.get(n + 1)?)))
    }
}

/// Gradients of [`LayerNorm`] from `(x, weight, grad)`: `(n + 2, d)` holding dx, dw and db.
struct LayerNormGrad {
    eps: f32,
}

impl CustomOp3 for LayerNormGrad {
    fn name(&self) -> &'static str {
        "pantau-train-layer-norm-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let xs = f32_slice(s1, l1, "layer norm input")?;
        let w = f32_slice(s2, l2, "layer norm weight")?;
        let g = f32_slice(s3, l3, "layer norm gradient")?;
        let d = row_len(l1, w.len(), "layer norm gradient")?;
        if g.len() != xs.len() {
            bail!(
                "layer norm gradient: {} values for {} inputs",
                g.len(),
                xs.len()
            );
        }
        let n = xs.len() / d;
        let mut out = vec![0f32; (n + 2) * d];
        let (dx, sums) = out.split_at_mut(n * d);
        let (dw, db) = sums.split_at_mut(d);
        let mut xhat = vec![0f32; d];
        let mut gw = vec![0f32; d];
        for ((x, gr), dxr) in xs
            .chunks_exact(d)
            .zip(g.chunks_exact(d))
            .zip(dx.chunks_exact_mut(d))
        {
            let (mean, rstd) = moments(x, self.eps);
            let (mut a, mut c) = (0f32, 0f32);
            for i in 0..d {
                xhat[i] = (x[i] - mean) * rstd;
                gw[i] = gr[i] * w[i];
                a += gw[i];
                c += gw[i] * xhat[i];
                dw[i] += gr[i] * xhat[i];
                db[i] += gr[i];
            }
            let (a, c) = (a / d as f32, c / d as f32);
            for i in 0..d {
                dxr[i] = rstd * (gw[i] - a - xhat[i] * c);
            }
        }
        Ok((CpuStorage::F32(out), Shape::from((n + 2, d))))
    }
}

/// Multiplies by a fixed mask; the same op, applied to the gradient, is its own backward.
struct Mask(Arc<Vec<f32>>);

impl CustomOp1 for Mask {
    fn name(&self) -> &'static str {
        "pantau-train-dropout"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let xs = f32_slice(s, l, "dropout input")?;
        if xs.len() != self.0.len() {
            bail!(
                "dropout: {} values for a mask of {}",
                xs.len(),
                self.0.len()
            );
        }
        let out = xs.iter().zip(self.0.iter()).map(|(x, m)| x * m).collect();
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }

    fn bwd(&self, _xs: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let mask = Mask(Arc::clone(&self.0));
        Ok(Some(grad.contiguous()?.apply_op1_no_bwd(&mask)?))
    }
}

struct Softmax {
    scale: f32,
}

impl CustomOp2 for Softmax {
    fn name(&self) -> &'static str {
        "pantau-train-attention-softmax"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        crate::model::kernels::grad::attention_probs(s1, l1, s2, l2, self.scale)
    }

    fn bwd(
        &self,
        _scores: &Tensor,
        _bias: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        Ok((
            Some(crate::model::kernels::grad::softmax_grad(
                res, grad, self.scale,
            )?),
            None,
        ))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use candle_core::{Device, Var};

    /// Largest absolute difference between two tensors of the same shape.
    pub(crate) fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    }

    /// A loss that weights every output differently, so each gradient entry is distinct.
    fn weighted_sum(y: &Tensor) -> Tensor {
        let w = Tensor::arange(0f32, y.elem_count() as f32, y.device())
            .unwrap()
            .affine(0.01, -0.3)
            .unwrap()
            .sin()
            .unwrap()
            .reshape(y.shape())
            .unwrap();
        (y * w).unwrap().sum_all().unwrap()
    }

    fn var(shape: &[usize], seed: f64) -> Var {
        let n: usize = shape.iter().product();
        let t = Tensor::arange(0f32, n as f32, &Device::Cpu)
            .unwrap()
            .affine(0.37, seed)
            .unwrap()
            .sin()
            .unwrap()
            .affine(1.5, 0.2)
            .unwrap()
            .reshape(shape)
            .unwrap();
        Var::from_tensor(&t).unwrap()
    }

    /// Values and gradients of `fused` and `reference` agree for every input.
    fn check(inputs: &[&Var], fused: impl Fn() -> Tensor, reference: impl Fn() -> Tensor) {
        let (a, b) = (fused(), reference());
        assert!(
            max_diff(&a, &b) < 1e-5,
            "values differ by {}",
            max_diff(&a, &b)
        );
        let (ga, gb) = (
            weighted_sum(&a).backward().unwrap(),
            weighted_sum(&b).backward().unwrap(),
        );
        for (i, v) in inputs.iter().enumerate() {
            let (x, y) = (ga.get(v).unwrap(), gb.get(v).unwrap());
            assert_eq!(x.dims(), y.dims(), "gradient {i} shape");
            let d = max_diff(x, y);
            assert!(d < 1e-4, "gradient {i} differs by {d}");
        }
    }

    #[test]
    fn bias_add_matches_broadcast_add() {
        let (x, b) = (var(&[3, 5, 8], 0.1), var(&[8], 0.7));
        check(
            &[&x, &b],
            || bias_add(&x, &b).unwrap(),
            || x.broadcast_add(&b).unwrap(),
        );
    }

    #[test]
    fn linear_matches_candle_linear() {
        let (x, w, b) = (var(&[6, 4], 0.3), var(&[5, 4], 0.9), var(&[5], 1.3));
        let layer = Linear::new(w.as_tensor().clone(), Some(b.as_tensor().clone()));
        check(
            &[&x, &w, &b],
            || linear(&layer, &x).unwrap(),
            || layer.forward(&x).unwrap(),
        );
    }

    #[test]
    fn layer_norm_matches_composable_ops() {
        let (x, w, b) = (var(&[2, 7, 16], 0.4), var(&[16], 1.1), var(&[16], -0.5));
        check(
            &[&x, &w, &b],
            || layer_norm(&x, &w, &b, 1e-5).unwrap(),
            || layer_norm_ops(&x, &w, &b, 1e-5).unwrap(),
        );
    }

    #[test]
    fn attention_softmax_matches_composable_ops_and_ignores_padding() {
        let x = var(&[2, 3, 4, 4], 0.2);
        let bias = Tensor::new(&[0f32, 0.0, 0.0, -1e9, 0.0, 0.0, -1e9, -1e9], &Device::Cpu)
            .unwrap()
            .reshape((2, 1, 1, 4))
            .unwrap();
        let reference = || {
            let scaled = (x.as_tensor() * 0.5).unwrap();
            candle_nn::ops::softmax(&scaled.broadcast_add(&bias).unwrap(), D::Minus1).unwrap()
        };
        check(
            &[&x],
            || attention_softmax(&x, &bias, 0.5).unwrap(),
            reference,
        );
        let p = attention_softmax(&x, &bias, 0.5).unwrap();
        let sums = p.sum(D::Minus1).unwrap().flatten_all().unwrap();
        for s in sums.to_vec1::<f32>().unwrap() {
            assert!((s - 1.0).abs() < 1e-5, "a row sums to {s}");
        }
        let padded = |b: usize, from: usize| {
            let keys = p.get(b).unwrap().narrow(2, from, 4 - from).unwrap();
            keys.abs()
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap()
        };
        assert_eq!(padded(0, 3), 0.0, "padding keys get no weight");
        assert_eq!(padded(1, 2), 0.0, "padding keys get no weight");
    }

    #[test]
    fn dropout_zeroes_about_p_scales_the_rest_and_masks_the_gradient() {
        use rand::SeedableRng;
        let x = var(&[40, 50], 0.3);
        let y = dropout(&x, 0.25, &mut StdRng::seed_from_u64(7)).unwrap();
        let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let (xs, ys) = (flat(x.as_tensor()), flat(&y));
        let zeroed = ys.iter().filter(|v| **v == 0.0).count() as f64 / ys.len() as f64;
        assert!((zeroed - 0.25).abs() < 0.03, "{zeroed} zeroed");
        for (a, b) in xs.iter().zip(&ys) {
            assert!(*b == 0.0 || (b - a / 0.75).abs() < 1e-5, "{a} became {b}");
        }
        let g = weighted_sum(&y).backward().unwrap();
        for (gi, yi) in flat(g.get(&x).unwrap()).iter().zip(&ys) {
            assert_eq!(
                *gi == 0.0,
                *yi == 0.0,
                "the gradient flows where the value was kept"
            );
        }
        let again = dropout(&x, 0.25, &mut StdRng::seed_from_u64(7)).unwrap();
        assert_eq!(flat(&again), ys, "the same seed drops the same entries");
    }

    #[test]
    fn mismatched_bias_is_an_error() {
        let x = Tensor::zeros((2, 4), DType::F32, &Device::Cpu).unwrap();
        let b = Tensor::zeros(3, DType::F32, &Device::Cpu).unwrap();
        assert!(bias_add(&x, &b).is_err());
        assert!(layer_norm(&x, &b, &b, 1e-5).is_err());
    }
}

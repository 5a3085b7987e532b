//! The saliency pass behind explanations (`model::saliency`), one pass per step: GELU (erf form)
//! and its derivative, and the input gradients of LayerNorm and of softmax. candle's `gelu_erf`
//! calls libm's `erf` per element (an eighth of that pass's time), and the training path's
//! LayerNorm and softmax gradients are scalar loops that also compute the weight gradients.

use candle_core::{
    bail, CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor,
};

use super::simd;
use super::storage::{f32_slice, last_dim};

/// LayerNorm's input gradient for rows `xs`, weight `w` and output gradient `grad`.
pub(crate) fn layer_norm_input_grad(
    xs: &Tensor,
    w: &Tensor,
    grad: &Tensor,
    eps: f32,
) -> Result<Tensor> {
    xs.contiguous()?.apply_op3_no_bwd(
        &w.contiguous()?,
        &grad.contiguous()?,
        &LayerNormInputGrad { eps },
    )
}

/// Attention weights `softmax(scores · scale + bias)` for `scores` `(B, H, T, T)` and a padding
/// `bias` `(B, 1, 1, T)` as CPU storage, with the vectorized `exp` of the inference kernels: the
/// forward pass of the differentiable softmax op (training and the saliency pass).
pub(crate) fn attention_probs(
    s1: &CpuStorage,
    l1: &Layout,
    s2: &CpuStorage,
    l2: &Layout,
    scale: f32,
) -> Result<(CpuStorage, Shape)> {
    let scores = f32_slice(s1, l1, "attention scores")?;
    let bias = f32_slice(s2, l2, "attention bias")?;
    let Ok((b, _, _, t)) = l1.shape().dims4() else {
        bail!("attention scores must be (B, H, T, T), got {:?}", l1.dims());
    };
    if bias.len() != b * t || t == 0 {
        bail!("attention bias of {} for {b} sequences of {t}", bias.len());
    }
    let mut out = vec![0f32; scores.len()];
    simd::softmax_rows(scores, bias, scale, t, scores.len() / (b * t), &mut out);
    Ok((CpuStorage::F32(out), l1.shape().clone()))
}

/// Softmax's input gradient from its output `y` and output gradient `grad`, times `scale`.
pub(crate) fn softmax_grad(y: &Tensor, grad: &Tensor, scale: f32) -> Result<Tensor> {
    y.contiguous()?
        .apply_op2_no_bwd(&grad.contiguous()?, &SoftmaxGrad { scale })
}

struct LayerNormInputGrad {
    eps: f32,
}

impl CustomOp3 for LayerNormInputGrad {
    fn name(&self) -> &'static str {
        "pantau-layer-norm-input-grad"
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
        if w.len() != last_dim(l1) || w.is_empty() || g.len() != xs.len() {
            bail!(
                "layer norm gradient: {} inputs, {} gradients, weight of {}",
                xs.len(),
                g.len(),
                w.len()
            );
        }
        let mut out = vec![0f32; xs.len()];
        simd::layer_norm_input_grad(xs, w, g, self.eps, &mut out);
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

struct SoftmaxGrad {
    scale: f32,
}

impl CustomOp2 for SoftmaxGrad {
    fn name(&self) -> &'static str {
        "pantau-softmax-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let y = f32_slice(s1, l1, "softmax output")?;
        let g = f32_slice(s2, l2, "softmax gradient")?;
        let d = last_dim(l1).max(1);
        if g.len() != y.len() {
            bail!(
                "softmax gradient: {} values for {} outputs",
                g.len(),
                y.len()
            );
        }
        let mut out = vec![0f32; y.len()];
        simd::softmax_grad(y, g, self.scale, d, &mut out);
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

/// `gelu(u)` of a CPU f32 tensor.
pub(crate) fn gelu(u: &Tensor) -> Result<Tensor> {
    u.contiguous()?.apply_op1_no_bwd(&GeluOp)
}

/// `grad · gelu'(u)` for CPU f32 tensors of one shape.
pub(crate) fn gelu_grad(u: &Tensor, grad: &Tensor) -> Result<Tensor> {
    u.contiguous()?
        .apply_op2_no_bwd(&grad.contiguous()?, &GeluGradOp)
}

struct GeluOp;

impl CustomOp1 for GeluOp {
    fn name(&self) -> &'static str {
        "pantau-gelu"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let mut out = f32_slice(s, l, "gelu input")?.to_vec();
        simd::gelu(&mut out);
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }
}

struct GeluGradOp;

impl CustomOp2 for GeluGradOp {
    fn name(&self) -> &'static str {
        "pantau-gelu-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let u = f32_slice(s1, l1, "gelu input")?;
        let g = f32_slice(s2, l2, "gelu gradient")?;
        if u.len() != g.len() {
            bail!("gelu gradient: {} values for {} inputs", g.len(), u.len());
        }
        let mut out = g.to_vec();
        simd::gelu_grad(u, &mut out);
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn match_candle_and_a_finite_difference() {
        let u = Tensor::arange(-60f32, 60.0, &Device::Cpu)
            .unwrap()
            .affine(0.1, 0.03)
            .unwrap();
        let fast = gelu(&u).unwrap().to_vec1::<f32>().unwrap();
        let want = u.gelu_erf().unwrap().to_vec1::<f32>().unwrap();
        let ones = u.ones_like().unwrap();
        let grad = gelu_grad(&u, &ones).unwrap().to_vec1::<f32>().unwrap();
        let h = 1e-3;
        let up = (&u + h)
            .unwrap()
            .gelu_erf()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let down = (&u - h)
            .unwrap()
            .gelu_erf()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        for i in 0..fast.len() {
            assert!((fast[i] - want[i]).abs() < 1e-5, "gelu at {i}");
            let numeric = (up[i] - down[i]) / (2.0 * h as f32);
            assert!(
                (grad[i] - numeric).abs() < 2e-3,
                "gelu' at {i}: {} vs {numeric}",
                grad[i]
            );
        }
    }
}

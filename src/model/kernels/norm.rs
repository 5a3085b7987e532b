//! Row-wise LayerNorm in one pass.

use candle_core::{bail, CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};

use super::simd;
use super::storage::{f32_slice, last_dim};

/// Row-wise LayerNorm of a `(N, d)` tensor.
pub(crate) fn layer_norm(xs: &Tensor, weight: &Tensor, bias: &Tensor, eps: f32) -> Result<Tensor> {
    xs.apply_op3_no_bwd(weight, bias, &LayerNormOp { eps })
}

pub(crate) struct LayerNormOp {
    pub(crate) eps: f32,
}

impl CustomOp3 for LayerNormOp {
    fn name(&self) -> &'static str {
        "pantau-layer-norm"
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
        let b = f32_slice(s3, l3, "layer norm bias")?;
        let d = last_dim(l1);
        if w.len() != d || b.len() != d {
            bail!("layer norm: weight/bias of {} for rows of {d}", w.len());
        }
        let mut out = vec![0f32; xs.len()];
        simd::layer_norm(xs, w, b, self.eps, &mut out);
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

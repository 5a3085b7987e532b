//! Masked mean pooling over the sequence axis.

use candle_core::{bail, CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};

use super::storage::f32_slice;

/// Mean of the rows of `xs` `(B, T, d)` where `mask` `(B, T)` is non-zero: `(B, d)`.
pub(crate) fn masked_mean(xs: &Tensor, mask: &Tensor) -> Result<Tensor> {
    xs.apply_op2_no_bwd(mask, &MeanPoolOp)
}

struct MeanPoolOp;

impl CustomOp2 for MeanPoolOp {
    fn name(&self) -> &'static str {
        "pantau-masked-mean"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let xs = f32_slice(s1, l1, "pooling input")?;
        let mask = f32_slice(s2, l2, "pooling mask")?;
        let (b, t, d) = l1.shape().dims3()?;
        if l2.shape().dims2()? != (b, t) {
            bail!(
                "pooling: input {:?} and mask {:?} do not fit",
                l1.dims(),
                l2.dims()
            );
        }
        let mut out = vec![0f32; b * d];
        for ((rows, m), o) in xs
            .chunks_exact(t * d)
            .zip(mask.chunks_exact(t))
            .zip(out.chunks_exact_mut(d))
        {
            let mut count = 0f32;
            for (row, &w) in rows.chunks_exact(d).zip(m) {
                if w != 0.0 {
                    count += w;
                    o.iter_mut().zip(row).for_each(|(o, x)| *o += w * x);
                }
            }
            if count > 0.0 {
                o.iter_mut().for_each(|o| *o /= count);
            }
        }
        Ok((CpuStorage::F32(out), Shape::from((b, d))))
    }
}

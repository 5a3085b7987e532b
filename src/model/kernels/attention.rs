//! Masked multi-head self-attention straight from the packed QKV projection, over real tokens only.

use candle_core::{bail, CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};

use super::simd;
use super::storage::f32_slice;

/// Masked multi-head self-attention: `qkv` `(B, T, 3d)` packed as `[q | k | v]` with heads
/// contiguous inside each, `mask` `(B, T)` with 0 for padding. Returns the context `(B·T, d)`;
/// rows of padding tokens are zero.
pub(crate) fn attention(qkv: &Tensor, mask: &Tensor, num_heads: usize) -> Result<Tensor> {
    qkv.apply_op2_no_bwd(mask, &AttentionOp { num_heads })
}

struct AttentionOp {
    num_heads: usize,
}

impl CustomOp2 for AttentionOp {
    fn name(&self) -> &'static str {
        "pantau-attention"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let qkv = f32_slice(s1, l1, "qkv")?;
        let mask = f32_slice(s2, l2, "attention mask")?;
        let (b, t, three_d) = l1.shape().dims3()?;
        let d = three_d / 3;
        if three_d % 3 != 0 || d % self.num_heads != 0 || l2.shape().dims2()? != (b, t) {
            bail!(
                "attention: qkv {:?} and mask {:?} do not fit",
                l1.dims(),
                l2.dims()
            );
        }
        let mut out = vec![0f32; b * t * d];
        simd::attention(qkv, mask, &mut out, t, self.num_heads);
        Ok((CpuStorage::F32(out), Shape::from((b * t, d))))
    }
}

#[cfg(test)]
mod tests {
    use crate::model::kernels::simd;

    #[test]
    fn attention_ignores_masked_keys_and_zeroes_padding_rows() {
        // One sequence of 3 tokens, the last padding; d = 2, one head.
        let qkv = [
            1.0, 0.0, 1.0, 0.0, 1.0, 2.0, // token 0: q, k, v
            0.0, 1.0, 0.0, 1.0, 3.0, 4.0, // token 1
            9.0, 9.0, 9.0, 9.0, 9.0, 9.0, // padding: must not be attended
        ];
        let mask = [1.0, 1.0, 0.0];
        let mut out = [0f32; 6];
        simd::attention(&qkv, &mask, &mut out, 3, 1);
        let scale = 1.0 / 2f32.sqrt();
        // token 0: scores q0·k0 = 1, q0·k1 = 0
        let (a, b) = ((1.0 * scale).exp(), 1.0f32);
        let p0 = a / (a + b);
        let want0 = [p0 * 1.0 + (1.0 - p0) * 3.0, p0 * 2.0 + (1.0 - p0) * 4.0];
        assert!((out[0] - want0[0]).abs() < 1e-6 && (out[1] - want0[1]).abs() < 1e-6);
        // token 1 is symmetric: weight p0 on itself
        let want1 = [(1.0 - p0) * 1.0 + p0 * 3.0, (1.0 - p0) * 2.0 + p0 * 4.0];
        assert!((out[2] - want1[0]).abs() < 1e-6 && (out[3] - want1[1]).abs() < 1e-6);
        assert_eq!(&out[4..], &[0.0, 0.0]);
    }
}

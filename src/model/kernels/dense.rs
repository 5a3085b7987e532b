//! Dense layers frozen for inference: `x·Wᵀ + b` with the bias, GELU or residual applied in the
//! same pass, through pantau's AVX-512 matmul (`gemm`) where the CPU has it and candle's
//! matmul plus one in-place pass elsewhere.

use candle_core::{
    bail, CpuStorage, CustomOp1, CustomOp2, InplaceOp2, InplaceOp3, Layout, Result, Shape, Tensor,
};
use candle_nn::Linear;

use super::gemm::{self, Packed};
use super::simd;
use super::storage::{f32_slice, f32_slice_mut, last_dim, supported};

/// What a [`Dense`] layer does after `x·Wᵀ + b`, in the same pass.
pub enum Post<'a> {
    None,
    Gelu,
    /// Adds this `(M, N)` tensor: the residual connection.
    Residual(&'a Tensor),
}

/// A linear layer frozen for inference, with its epilogue fused. Where the CPU has AVX-512 the
/// weights are kept transposed and padded for pantau's own matmul kernel (candle's `gemm` uses
/// AVX2 at most on stable Rust); elsewhere it is candle's matmul and one in-place pass.
pub struct Dense {
    weight: Tensor,
    bias: Tensor,
    packed: Option<Packed>,
}

impl Dense {
    /// Freezes `linear` (CPU f32 weights are repacked here, once).
    pub fn new(linear: &Linear) -> Result<Self> {
        let weight = linear.weight().clone();
        let n = weight.dims2()?.0;
        let bias = match linear.bias() {
            Some(b) => b.clone(),
            None => Tensor::zeros(n, weight.dtype(), weight.device())?,
        };
        let packed = if supported(&weight) && gemm::available() {
            let w = weight.to_vec2::<f32>()?;
            Some(Packed::new(&w, bias.to_vec1::<f32>()?))
        } else {
            None
        };
        Ok(Dense {
            weight,
            bias,
            packed,
        })
    }

    /// `post(xs·Wᵀ + b)` for `xs` `(M, K)`.
    pub fn forward(&self, xs: &Tensor, post: Post) -> Result<Tensor> {
        if let Some(p) = &self.packed {
            return match post {
                Post::None => xs.apply_op1_no_bwd(&DenseOp { p, gelu: false }),
                Post::Gelu => xs.apply_op1_no_bwd(&DenseOp { p, gelu: true }),
                Post::Residual(r) => xs.apply_op2_no_bwd(r, &DenseResidualOp { p }),
            };
        }
        let out = xs.matmul(&self.weight.t()?)?;
        match post {
            Post::None => out.inplace_op2(&self.bias, &BiasOp { gelu: false })?,
            Post::Gelu => out.inplace_op2(&self.bias, &BiasOp { gelu: true })?,
            Post::Residual(r) => out.inplace_op3(&self.bias, r, &BiasResidualOp)?,
        }
        Ok(out)
    }
}

struct DenseOp<'a> {
    p: &'a Packed,
    gelu: bool,
}

impl CustomOp1 for DenseOp<'_> {
    fn name(&self) -> &'static str {
        "pantau-dense"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let post = if self.gelu {
            gemm::Post::Gelu
        } else {
            gemm::Post::None
        };
        run_dense(self.p, s, l, post)
    }
}

/// Checks `xs` against the layer and runs the packed kernel into a fresh `(M, N)` output
/// (a residual's shape is checked by [`DenseResidualOp`]).
fn run_dense(
    p: &Packed,
    s: &CpuStorage,
    l: &Layout,
    post: gemm::Post,
) -> Result<(CpuStorage, Shape)> {
    let xs = f32_slice(s, l, "dense input")?;
    let (m, k) = l.shape().dims2()?;
    if k != p.k {
        bail!("dense: input has {k} columns, the layer {}", p.k);
    }
    let mut out = vec![0f32; m * p.n];
    gemm::dense(xs, p, post, &mut out);
    Ok((CpuStorage::F32(out), Shape::from((m, p.n))))
}

struct DenseResidualOp<'a> {
    p: &'a Packed,
}

impl CustomOp2 for DenseResidualOp<'_> {
    fn name(&self) -> &'static str {
        "pantau-dense-residual"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let residual = f32_slice(s2, l2, "residual")?;
        if l2.shape().dims2()? != (l1.shape().dims2()?.0, self.p.n) {
            bail!("dense: residual {:?} does not fit the output", l2.dims());
        }
        run_dense(self.p, s1, l1, gemm::Post::Residual(residual))
    }
}

/// Adds `bias` to every row of `xs` (rows of `bias.len()`), vectorized.
pub(crate) fn add_bias(xs: &mut [f32], bias: &[f32]) {
    simd::bias(xs, bias)
}

struct BiasOp {
    gelu: bool,
}

impl InplaceOp2 for BiasOp {
    fn name(&self) -> &'static str {
        "pantau-bias-act"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<()> {
        let d = last_dim(l1);
        let bias = f32_slice(s2, l2, "bias")?;
        if bias.len() != d {
            bail!("bias of {} for rows of {d}", bias.len());
        }
        let xs = f32_slice_mut(s1, l1, "bias input")?;
        if self.gelu {
            simd::bias_gelu(xs, bias);
        } else {
            simd::bias(xs, bias);
        }
        Ok(())
    }
}

struct BiasResidualOp;

impl InplaceOp3 for BiasResidualOp {
    fn name(&self) -> &'static str {
        "pantau-bias-residual"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<()> {
        let d = last_dim(l1);
        let bias = f32_slice(s2, l2, "bias")?;
        let residual = f32_slice(s3, l3, "residual")?;
        if bias.len() != d || residual.len() != l1.shape().elem_count() {
            bail!("bias/residual shapes do not match the input");
        }
        simd::bias_residual(f32_slice_mut(s1, l1, "residual input")?, bias, residual);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// `post(x·Wᵀ + b)` with plain loops; GELU from candle's own (libm erf) op.
    fn dense_reference(
        x: &[f32],
        w: &[f32],
        b: &[f32],
        k: usize,
        post: &str,
        res: &[f32],
    ) -> Vec<f32> {
        let n = b.len();
        let m = x.len() / k;
        let mut out = vec![0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut acc = b[j] as f64;
                for l in 0..k {
                    acc += x[i * k + l] as f64 * w[j * k + l] as f64;
                }
                out[i * n + j] = acc as f32;
            }
        }
        match post {
            "gelu" => Tensor::new(out, &Device::Cpu)
                .and_then(|t| t.gelu_erf())
                .and_then(|t| t.to_vec1::<f32>())
                .unwrap(),
            "residual" => out.iter().zip(res).map(|(a, b)| a + b).collect(),
            _ => out,
        }
    }

    #[test]
    fn dense_layers_match_plain_matmul_with_every_epilogue() {
        // Row counts around the 8-row blocks and widths around the 32-column blocks.
        for (m, k, n) in [(1, 16, 3), (7, 24, 32), (13, 128, 40), (40, 128, 384)] {
            let dev = Device::Cpu;
            let lin = Linear::new(
                Tensor::randn(0f32, 0.3, (n, k), &dev).unwrap(),
                Some(Tensor::randn(0f32, 0.3, n, &dev).unwrap()),
            );
            let x = Tensor::randn(0f32, 1.0, (m, k), &dev).unwrap();
            let res = Tensor::randn(0f32, 1.0, (m, n), &dev).unwrap();
            let (xv, wv, bv, rv) = (
                x.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
                lin.weight()
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap(),
                lin.bias().unwrap().to_vec1::<f32>().unwrap(),
                res.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            );
            let packed = Dense::new(&lin).unwrap();
            assert_eq!(packed.packed.is_some(), gemm::available());
            let unpacked = Dense {
                packed: None,
                ..Dense::new(&lin).unwrap()
            };
            for dense in [&packed, &unpacked] {
                for post in ["none", "gelu", "residual"] {
                    let p = match post {
                        "gelu" => Post::Gelu,
                        "residual" => Post::Residual(&res),
                        _ => Post::None,
                    };
                    let got = dense.forward(&x, p).unwrap();
                    assert_eq!(got.dims(), &[m, n]);
                    let got = got.flatten_all().unwrap().to_vec1::<f32>().unwrap();
                    let want = dense_reference(&xv, &wv, &bv, k, post, &rv);
                    let worst = got
                        .iter()
                        .zip(&want)
                        .map(|(a, b)| (a - b).abs())
                        .fold(0f32, f32::max);
                    assert!(worst < 1e-4, "{m}x{k}x{n} {post}: off by {worst}");
                }
            }
        }
    }
}

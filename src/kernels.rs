//! Fused CPU kernels for inference, wrapped as candle custom ops.
//!
//! With composable candle ops every step between two matmuls is one pass over memory and one
//! allocation, and on this small model (hidden 128, ~40 tokens per post) those passes cost more
//! than the matmuls. Here each step is one pass: LayerNorm; dense layers with the bias, GELU or
//! residual applied while the output tile is still in cache ([`Dense`]); masked multi-head
//! attention straight from the packed QKV projection, over real tokens only; masked mean pooling.
//! They run at inference on the CPU in f32 (see [`crate::model::EncoderClassifier::for_inference`]);
//! training and CUDA use the composable ops, and unit tests hold the two paths together.
//!
//! Not part of the stable API: public (and hidden from the docs) so the benchmarks can measure
//! the dense kernel's peak.
//!
//! Dense layers use pantau's own AVX-512 matmul where the CPU has it (candle's `gemm` stops at AVX2
//! on stable Rust), candle's matmul elsewhere. The other loops are written so LLVM vectorizes them
//! and are compiled twice, for the baseline target and for AVX2+FMA, picked at run time.

use candle_core::backend::BackendStorage;
use candle_core::{
    bail, CpuStorage, CustomOp1, CustomOp2, CustomOp3, DType, InplaceOp2, InplaceOp3, Layout,
    Result, Shape, Tensor,
};
use candle_nn::Linear;

/// Whether the fused kernels can run for tensors of this device and dtype.
pub(crate) fn supported(t: &Tensor) -> bool {
    t.device().is_cpu() && t.dtype() == DType::F32
}

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

/// `Wᵀ` as `(K, N rounded up to 32)` row-major and the bias padded the same way.
struct Packed {
    wt: Vec<f32>,
    bias: Vec<f32>,
    k: usize,
    n: usize,
}

impl Packed {
    /// Row length of `wt` and `bias`: `n` rounded up to whole column blocks.
    fn npad(&self) -> usize {
        gemm::padded(self.n)
    }
}

impl Dense {
    /// Freezes `linear` (CPU f32 weights are repacked here, once).
    pub fn new(linear: &Linear) -> Result<Self> {
        let weight = linear.weight().clone();
        let (n, k) = weight.dims2()?;
        let bias = match linear.bias() {
            Some(b) => b.clone(),
            None => Tensor::zeros(n, weight.dtype(), weight.device())?,
        };
        let packed = if supported(&weight) && gemm::available() {
            let npad = gemm::padded(n);
            let w = weight.to_vec2::<f32>()?;
            let mut wt = vec![0f32; k * npad];
            for (j, row) in w.iter().enumerate() {
                for (i, &x) in row.iter().enumerate() {
                    wt[i * npad + j] = x;
                }
            }
            let mut b = bias.to_vec1::<f32>()?;
            b.resize(npad, 0.0);
            Some(Packed { wt, bias: b, k, n })
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

/// Row-wise LayerNorm of a `(N, d)` tensor.
pub(crate) fn layer_norm(xs: &Tensor, weight: &Tensor, bias: &Tensor, eps: f32) -> Result<Tensor> {
    xs.apply_op3_no_bwd(weight, bias, &LayerNormOp { eps })
}

/// Masked multi-head self-attention: `qkv` `(B, T, 3d)` packed as `[q | k | v]` with heads
/// contiguous inside each, `mask` `(B, T)` with 0 for padding. Returns the context `(B·T, d)`;
/// rows of padding tokens are zero.
pub(crate) fn attention(qkv: &Tensor, mask: &Tensor, num_heads: usize) -> Result<Tensor> {
    qkv.apply_op2_no_bwd(mask, &AttentionOp { num_heads })
}

/// Mean of the rows of `xs` `(B, T, d)` where `mask` `(B, T)` is non-zero: `(B, d)`.
pub(crate) fn masked_mean(xs: &Tensor, mask: &Tensor) -> Result<Tensor> {
    xs.apply_op2_no_bwd(mask, &MeanPoolOp)
}

pub(crate) fn f32_slice<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
    let CpuStorage::F32(data) = s else {
        bail!("{what}: fused CPU kernels need f32, got {:?}", s.dtype())
    };
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => bail!("{what}: fused CPU kernels need a contiguous tensor"),
    }
}

pub(crate) fn f32_slice_mut<'a>(
    s: &'a mut CpuStorage,
    l: &Layout,
    what: &str,
) -> Result<&'a mut [f32]> {
    let dtype = s.dtype();
    let CpuStorage::F32(data) = s else {
        bail!("{what}: fused CPU kernels need f32, got {dtype:?}")
    };
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&mut data[a..b]),
        None => bail!("{what}: fused CPU kernels need a contiguous tensor"),
    }
}

/// Size of the last dimension: the row length the per-row kernels work on.
pub(crate) fn last_dim(l: &Layout) -> usize {
    l.dims().last().copied().unwrap_or(1)
}

/// Adds `bias` to every row of `xs` (rows of `bias.len()`), vectorized.
pub(crate) fn add_bias(xs: &mut [f32], bias: &[f32]) {
    simd::bias(xs, bias)
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

/// Matmul with bias and epilogue for frozen [`Dense`] layers, AVX-512 only.
mod gemm {
    use super::{simd, Packed};

    /// Output columns per block: two 16-lane registers.
    pub(super) const NB: usize = 32;
    /// Rows per block: 8 rows × 2 registers of accumulators, plus the two weight registers.
    const MB: usize = 8;

    /// `n` rounded up to whole column blocks.
    pub(super) fn padded(n: usize) -> usize {
        n.div_ceil(NB) * NB
    }

    #[derive(Clone, Copy)]
    pub(super) enum Post<'a> {
        None,
        Gelu,
        Residual(&'a [f32]),
    }

    pub(super) fn available() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("avx512f")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }

    /// `out = post(x·Wᵀ + b)`; `x` is `(M, K)`, `out` `(M, N)`. Panics if the sizes disagree or
    /// AVX-512 is missing: callers check both first.
    pub(super) fn dense(x: &[f32], p: &Packed, post: Post, out: &mut [f32]) {
        let m = x.len() / p.k;
        assert!(x.len() == m * p.k && out.len() == m * p.n && p.wt.len() == p.k * p.npad());
        if let Post::Residual(r) = post {
            assert_eq!(r.len(), out.len());
        }
        #[cfg(target_arch = "x86_64")]
        {
            assert!(available());
            // SAFETY: AVX-512F is present (checked above) and the slice sizes were checked.
            unsafe { avx512::dense(x, p, post, out) }
        }
        #[cfg(not(target_arch = "x86_64"))]
        unreachable!("Dense packs weights only where AVX-512 is available")
    }

    #[cfg(target_arch = "x86_64")]
    mod avx512 {
        use super::{simd, Packed, Post, MB, NB};
        use std::arch::x86_64::*;

        /// Column blocks outside, row blocks inside: a `K × 32` weight panel (16 KB at K = 128)
        /// stays in L1 while the rows of `x` stream past it.
        #[target_feature(enable = "avx512f")]
        pub(super) unsafe fn dense(x: &[f32], p: &Packed, post: Post, out: &mut [f32]) {
            let m = x.len() / p.k;
            for nb in (0..p.n).step_by(NB) {
                let mut mb = 0;
                while mb + MB <= m {
                    tile::<MB>(x, p, nb, mb, post, out);
                    mb += MB;
                }
                match m - mb {
                    0 => {}
                    1 => tile::<1>(x, p, nb, mb, post, out),
                    2 => tile::<2>(x, p, nb, mb, post, out),
                    3 => tile::<3>(x, p, nb, mb, post, out),
                    4 => tile::<4>(x, p, nb, mb, post, out),
                    5 => tile::<5>(x, p, nb, mb, post, out),
                    6 => tile::<6>(x, p, nb, mb, post, out),
                    _ => tile::<7>(x, p, nb, mb, post, out),
                }
            }
        }

        /// Rows `mb..mb + R`, columns `nb..nb + 32` of the output, accumulated in registers
        /// from the bias, then finished by `post` while the rows are still in L1.
        #[target_feature(enable = "avx512f")]
        #[inline]
        unsafe fn tile<const R: usize>(
            x: &[f32],
            p: &Packed,
            nb: usize,
            mb: usize,
            post: Post,
            out: &mut [f32],
        ) {
            let (k, n, npad) = (p.k, p.n, p.npad());
            let b0 = _mm512_loadu_ps(p.bias.as_ptr().add(nb));
            let b1 = _mm512_loadu_ps(p.bias.as_ptr().add(nb + 16));
            let mut acc0 = [b0; R];
            let mut acc1 = [b1; R];
            let xp = x.as_ptr().add(mb * k);
            let mut wp = p.wt.as_ptr().add(nb);
            for kk in 0..k {
                let w0 = _mm512_loadu_ps(wp);
                let w1 = _mm512_loadu_ps(wp.add(16));
                for r in 0..R {
                    let xv = _mm512_set1_ps(*xp.add(r * k + kk));
                    acc0[r] = _mm512_fmadd_ps(xv, w0, acc0[r]);
                    acc1[r] = _mm512_fmadd_ps(xv, w1, acc1[r]);
                }
                wp = wp.add(npad);
            }
            let cols = (n - nb).min(NB);
            let mut buf = [0f32; NB];
            for r in 0..R {
                _mm512_storeu_ps(buf.as_mut_ptr(), acc0[r]);
                _mm512_storeu_ps(buf.as_mut_ptr().add(16), acc1[r]);
                let at = (mb + r) * n + nb;
                let row = &mut out[at..at + cols];
                row.copy_from_slice(&buf[..cols]);
                match post {
                    Post::None => {}
                    Post::Gelu => simd::gelu_inline(row),
                    Post::Residual(res) => {
                        for (o, r) in row.iter_mut().zip(&res[at..at + cols]) {
                            *o += r;
                        }
                    }
                }
            }
        }
    }
}

/// The kernels proper, on slices. `dispatch!` compiles each body twice (baseline and AVX2+FMA)
/// and picks at run time; bodies only use plain arithmetic so both versions agree to rounding.
mod simd {
    macro_rules! dispatch {
        ($(#[$m:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
            $(#[$m])*
            pub(super) fn $name($($arg: $ty),*) {
                #[inline(always)]
                #[allow(unused)]
                fn body<const FMA: bool>($($arg: $ty),*) $body

                #[cfg(target_arch = "x86_64")]
                {
                    #[target_feature(enable = "avx2,fma")]
                    fn avx2($($arg: $ty),*) {
                        body::<true>($($arg),*)
                    }
                    if std::arch::is_x86_feature_detected!("avx2")
                        && std::arch::is_x86_feature_detected!("fma")
                    {
                        // SAFETY: the running CPU has the features `avx2` was compiled for.
                        return unsafe { avx2($($arg),*) };
                    }
                }
                body::<false>($($arg),*)
            }
        };
    }

    const LANES: usize = 8;

    /// `a·b + c`, fused where the body was compiled with FMA (a libm call otherwise, so only then).
    #[inline(always)]
    fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
        if FMA {
            a.mul_add(b, c)
        } else {
            a * b + c
        }
    }

    /// Sum with independent lane accumulators, so it vectorizes.
    #[inline(always)]
    fn sum(xs: &[f32]) -> f32 {
        let mut acc = [0f32; LANES];
        let chunks = xs.chunks_exact(LANES);
        let tail: f32 = chunks.remainder().iter().sum();
        for c in chunks {
            for (a, x) in acc.iter_mut().zip(c) {
                *a += x;
            }
        }
        acc.iter().sum::<f32>() + tail
    }

    #[inline(always)]
    fn max(xs: &[f32]) -> f32 {
        let mut acc = [f32::NEG_INFINITY; LANES];
        let chunks = xs.chunks_exact(LANES);
        let tail = chunks
            .remainder()
            .iter()
            .fold(f32::NEG_INFINITY, |m, &x| m.max(x));
        for c in chunks {
            for (a, &x) in acc.iter_mut().zip(c) {
                *a = a.max(x);
            }
        }
        acc.iter().fold(tail, |m, &x| m.max(x))
    }

    /// e^x for x ≤ 88, relative error ~2e-7: x = n·ln2 + r with |r| ≤ ln2/2, e^r by its degree-6
    /// Taylor polynomial, 2^n built in the exponent bits. Branch-free so it vectorizes.
    #[inline(always)]
    pub(super) fn exp(x: f32) -> f32 {
        const LN2_HI: f32 = 0.693_359_4;
        const LN2_LO: f32 = -2.121_944_4e-4;
        let x = x.clamp(-87.0, 88.0);
        let n = (x * std::f32::consts::LOG2_E + 0.5).floor();
        let r = x - n * LN2_HI - n * LN2_LO;
        let p = 1.0 / 720.0;
        let p = p * r + 1.0 / 120.0;
        let p = p * r + 1.0 / 24.0;
        let p = p * r + 1.0 / 6.0;
        let p = p * r + 0.5;
        let p = p * r + 1.0;
        let p = p * r + 1.0;
        p * f32::from_bits(((n as i32 + 127) << 23) as u32)
    }

    /// erf(x) with absolute error below 2e-7 (Abramowitz & Stegun 7.1.26).
    #[inline(always)]
    pub(super) fn erf(x: f32) -> f32 {
        let a = x.abs();
        let t = 1.0 / (1.0 + 0.327_591_1 * a);
        let poly = ((((1.061_405_4 * t - 1.453_152_1) * t + 1.421_413_7) * t - 0.284_496_74) * t
            + 0.254_829_6)
            * t;
        (1.0 - poly * exp(-a * a)).copysign(x)
    }

    dispatch! {
        /// Row-wise LayerNorm (two-pass variance).
        fn layer_norm(xs: &[f32], w: &[f32], b: &[f32], eps: f32, out: &mut [f32]) {
            let d = w.len();
            for (row, o) in xs.chunks_exact(d).zip(out.chunks_exact_mut(d)) {
                let mean = sum(row) / d as f32;
                for (o, x) in o.iter_mut().zip(row) {
                    *o = x - mean;
                }
                let mut sq = [0f32; LANES];
                for c in o.chunks_exact(LANES) {
                    for (a, x) in sq.iter_mut().zip(c) {
                        *a += x * x;
                    }
                }
                let tail: f32 = o.chunks_exact(LANES).remainder().iter().map(|x| x * x).sum();
                let var = (sq.iter().sum::<f32>() + tail) / d as f32;
                let inv = 1.0 / (var + eps).sqrt();
                for ((o, w), b) in o.iter_mut().zip(w).zip(b) {
                    *o = *o * inv * w + b;
                }
            }
        }
    }

    dispatch! {
        fn bias(xs: &mut [f32], bias: &[f32]) {
            for row in xs.chunks_exact_mut(bias.len()) {
                for (x, b) in row.iter_mut().zip(bias) {
                    *x += b;
                }
            }
        }
    }

    /// GELU in its erf form, like the trained model; inlined into its callers' vector code.
    #[inline(always)]
    pub(super) fn gelu_inline(xs: &mut [f32]) {
        for x in xs {
            *x = 0.5 * *x * (1.0 + erf(*x * std::f32::consts::FRAC_1_SQRT_2));
        }
    }

    dispatch! {
        /// `x = gelu(x + bias)`.
        fn bias_gelu(xs: &mut [f32], bias: &[f32]) {
            for row in xs.chunks_exact_mut(bias.len()) {
                for (x, b) in row.iter_mut().zip(bias) {
                    *x += b;
                }
                gelu_inline(row);
            }
        }
    }

    dispatch! {
        fn bias_residual(xs: &mut [f32], bias: &[f32], residual: &[f32]) {
            let d = bias.len();
            for (row, res) in xs.chunks_exact_mut(d).zip(residual.chunks_exact(d)) {
                for ((x, b), r) in row.iter_mut().zip(bias).zip(res) {
                    *x += b + r;
                }
            }
        }
    }

    /// Query rows handled together, so each key or value vector loaded serves this many rows.
    const TILE: usize = 4;

    /// Scores of `R` queries against the keys `kt` (`hd × n8`, transposed, zero-padded to a
    /// multiple of 8 columns), into `s` (`R × n8`). Each 8-key block accumulates in registers.
    #[inline(always)]
    fn scores_tile<const R: usize, const FMA: bool>(
        q: [&[f32]; R],
        kt: &[f32],
        n8: usize,
        scale: f32,
        s: &mut [f32],
    ) {
        let hd = q[0].len();
        for jb in (0..n8).step_by(LANES) {
            let mut acc = [[0f32; LANES]; R];
            for c in 0..hd {
                let k = &kt[c * n8 + jb..c * n8 + jb + LANES];
                for (acc, q) in acc.iter_mut().zip(&q) {
                    let qc = q[c];
                    for (a, &k) in acc.iter_mut().zip(k) {
                        *a = madd::<FMA>(qc, k, *a);
                    }
                }
            }
            for (r, acc) in acc.iter().enumerate() {
                for (s, a) in s[r * n8 + jb..r * n8 + jb + LANES].iter_mut().zip(acc) {
                    *s = a * scale;
                }
            }
        }
    }

    /// In-place softmax of `s[..n]`.
    #[inline(always)]
    fn softmax(s: &mut [f32]) {
        let top = max(s);
        for x in s.iter_mut() {
            *x = exp(*x - top);
        }
        let inv = 1.0 / sum(s);
        for x in s.iter_mut() {
            *x *= inv;
        }
    }

    /// `out[r] = Σ_j p[r][j] · v[j]` for `R` rows, 8 output columns at a time in registers.
    #[inline(always)]
    fn mix_tile<const R: usize, const FMA: bool>(
        p: &[f32],
        n8: usize,
        n: usize,
        v: &[f32],
        out: [&mut [f32]; R],
    ) {
        let hd = out[0].len();
        let mut out = out;
        for cb in (0..hd).step_by(LANES) {
            let mut acc = [[0f32; LANES]; R];
            for j in 0..n {
                let vj = &v[j * hd + cb..j * hd + cb + LANES];
                for (r, acc) in acc.iter_mut().enumerate() {
                    let pj = p[r * n8 + j];
                    for (a, &x) in acc.iter_mut().zip(vj) {
                        *a = madd::<FMA>(pj, x, *a);
                    }
                }
            }
            for (o, acc) in out.iter_mut().zip(&acc) {
                o[cb..cb + LANES].copy_from_slice(acc);
            }
        }
    }

    dispatch! {
        /// Scaled dot-product attention per sequence and head over the unmasked tokens only;
        /// queries go `TILE` at a time through register-blocked score and mixing loops.
        fn attention(qkv: &[f32], mask: &[f32], out: &mut [f32], t: usize, heads: usize) {
            let d = out.len() / mask.len().max(1);
            let hd = d / heads;
            if !hd.is_multiple_of(LANES) {
                return attention_plain(qkv, mask, out, t, heads);
            }
            let scale = 1.0 / (hd as f32).sqrt();
            let n8max = t.div_ceil(LANES) * LANES;
            let mut keys = Vec::with_capacity(t);
            let mut kt = vec![0f32; hd * n8max];
            let mut v = vec![0f32; t * hd];
            let mut p = vec![0f32; TILE * n8max];
            for ((seq, m), ctx) in qkv
                .chunks_exact(t * 3 * d)
                .zip(mask.chunks_exact(t))
                .zip(out.chunks_exact_mut(t * d))
            {
                keys.clear();
                keys.extend((0..t).filter(|&j| m[j] != 0.0));
                let n = keys.len();
                let n8 = n.div_ceil(LANES) * LANES;
                let row = |j: usize| &seq[j * 3 * d..(j + 1) * 3 * d];
                for h in 0..heads {
                    let (qo, ko, vo) = (h * hd, d + h * hd, 2 * d + h * hd);
                    kt[..hd * n8].fill(0.0);
                    for (jj, &j) in keys.iter().enumerate() {
                        for (c, &kc) in row(j)[ko..ko + hd].iter().enumerate() {
                            kt[c * n8 + jj] = kc;
                        }
                        v[jj * hd..(jj + 1) * hd].copy_from_slice(&row(j)[vo..vo + hd]);
                    }
                    let mut tiles = keys.chunks_exact(TILE);
                    for tile in tiles.by_ref() {
                        let tile: [usize; TILE] = std::array::from_fn(|r| tile[r]);
                        let q = tile.map(|i| &row(i)[qo..qo + hd]);
                        scores_tile::<TILE, FMA>(q, &kt, n8, scale, &mut p);
                        for r in 0..TILE {
                            softmax(&mut p[r * n8..r * n8 + n]);
                        }
                        let ranges = tile.map(|i| i * d + qo..i * d + qo + hd);
                        // The tile's rows are distinct tokens, so their slices are disjoint.
                        let outs = ctx.get_disjoint_mut(ranges).expect("distinct rows");
                        mix_tile::<TILE, FMA>(&p, n8, n, &v, outs);
                    }
                    for &i in tiles.remainder() {
                        scores_tile::<1, FMA>([&row(i)[qo..qo + hd]], &kt, n8, scale, &mut p);
                        softmax(&mut p[..n]);
                        mix_tile::<1, FMA>(&p, n8, n, &v, [&mut ctx[i * d + qo..i * d + qo + hd]]);
                    }
                }
            }
        }
    }

    /// The same attention with plain loops, for head sizes that are not a multiple of 8.
    fn attention_plain(qkv: &[f32], mask: &[f32], out: &mut [f32], t: usize, heads: usize) {
        let d = out.len() / mask.len().max(1);
        let hd = d / heads;
        let scale = 1.0 / (hd as f32).sqrt();
        let mut keys = Vec::with_capacity(t);
        let mut s = vec![0f32; t];
        for ((seq, m), ctx) in qkv
            .chunks_exact(t * 3 * d)
            .zip(mask.chunks_exact(t))
            .zip(out.chunks_exact_mut(t * d))
        {
            keys.clear();
            keys.extend((0..t).filter(|&j| m[j] != 0.0));
            let n = keys.len();
            for h in 0..heads {
                for &i in &keys {
                    let q = &seq[i * 3 * d + h * hd..][..hd];
                    for (s, &j) in s.iter_mut().zip(&keys) {
                        let k = &seq[j * 3 * d + d + h * hd..][..hd];
                        *s = q.iter().zip(k).map(|(a, b)| a * b).sum::<f32>() * scale;
                    }
                    softmax(&mut s[..n]);
                    let o = &mut ctx[i * d + h * hd..][..hd];
                    for (&p, &j) in s.iter().zip(&keys) {
                        let vj = &seq[j * 3 * d + 2 * d + h * hd..][..hd];
                        o.iter_mut().zip(vj).for_each(|(o, x)| *o += p * x);
                    }
                }
            }
        }
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

    #[test]
    fn exp_matches_std_across_the_softmax_range() {
        let mut worst = 0f32;
        for i in 0..=20_000 {
            let x = -87.0 + i as f32 * (87.0 + 10.0) / 20_000.0;
            let rel = ((simd::exp(x) - x.exp()) / x.exp()).abs();
            worst = worst.max(rel);
        }
        assert!(worst < 5e-7, "worst relative error {worst}");
        assert_eq!(simd::exp(-1e9), simd::exp(-87.0));
    }

    #[test]
    fn erf_matches_reference_values() {
        // erf at a few points, to 7 digits (standard tables).
        for (x, want) in [
            (0.0f32, 0.0f32),
            (0.1, 0.112_462_9),
            (0.5, 0.520_499_9),
            (1.0, 0.842_700_8),
            (2.0, 0.995_322_3),
            (-1.5, -0.966_105_1),
            (4.0, 0.999_999_98),
        ] {
            assert!(
                (simd::erf(x) - want).abs() < 3e-7,
                "erf({x}) = {}",
                simd::erf(x)
            );
        }
    }

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

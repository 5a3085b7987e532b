//! Matmul with bias and epilogue for frozen [`Dense`](super::dense::Dense) layers, AVX-512 only.

use super::simd;

/// `Wᵀ` in column panels: for each block of 32 output columns, a contiguous `K × 32` row-major
/// panel (`[block][kk][col]`), the last block padded with zeros; the bias padded the same way.
///
/// Contiguous panels, not `Wᵀ` row-major: with rows 1–1.5 KB apart a panel's 256–512 cache lines
/// fell into 8–16 of L1's 64 sets and were evicted before reuse (the weight loads then came from
/// L2), although a panel is only 16–32 KB.
pub(super) struct Packed {
    pub(super) wt: Vec<f32>,
    pub(super) bias: Vec<f32>,
    pub(super) k: usize,
    pub(super) n: usize,
}

impl Packed {
    /// Packs `w` `(N, K)` (one `Vec` per output) and its bias `(N)`.
    pub(super) fn new(w: &[Vec<f32>], mut bias: Vec<f32>) -> Packed {
        let (n, k) = (w.len(), w.first().map_or(0, Vec::len));
        let npad = padded(n);
        let mut wt = vec![0f32; k * npad];
        for (j, row) in w.iter().enumerate() {
            let panel = (j / NB) * k * NB;
            for (i, &x) in row.iter().enumerate() {
                wt[panel + i * NB + j % NB] = x;
            }
        }
        bias.resize(npad, 0.0);
        Packed { wt, bias, k, n }
    }
}

/// Output columns per block: two 16-lane registers.
pub(super) const NB: usize = 32;
/// Rows per block: 12 rows × 2 registers of accumulators, plus the two weight registers and a
/// broadcast (27 of the 32 registers). Measured against 8 rows (the `K × 32` panel's loads then
/// amortized over 16 FMAs, not 24): −17% time on the model's largest projection, −20% on a
/// batch; 14 rows measured no faster.
const MB: usize = 12;

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
    assert!(x.len() == m * p.k && out.len() == m * p.n && p.wt.len() == p.k * padded(p.n));
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
                7 => tile::<7>(x, p, nb, mb, post, out),
                8 => tile::<8>(x, p, nb, mb, post, out),
                9 => tile::<9>(x, p, nb, mb, post, out),
                10 => tile::<10>(x, p, nb, mb, post, out),
                _ => tile::<11>(x, p, nb, mb, post, out),
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
        let (k, n) = (p.k, p.n);
        let b0 = _mm512_loadu_ps(p.bias.as_ptr().add(nb));
        let b1 = _mm512_loadu_ps(p.bias.as_ptr().add(nb + 16));
        let mut acc0 = [b0; R];
        let mut acc1 = [b1; R];
        let xp = x.as_ptr().add(mb * k);
        let mut wp = p.wt.as_ptr().add(nb * k);
        for kk in 0..k {
            let w0 = _mm512_loadu_ps(wp);
            let w1 = _mm512_loadu_ps(wp.add(16));
            for r in 0..R {
                let xv = _mm512_set1_ps(*xp.add(r * k + kk));
                acc0[r] = _mm512_fmadd_ps(xv, w0, acc0[r]);
                acc1[r] = _mm512_fmadd_ps(xv, w1, acc1[r]);
            }
            wp = wp.add(NB);
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

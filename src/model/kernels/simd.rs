//! The kernels proper, on slices. `dispatch!` compiles each body twice (baseline and AVX2+FMA)
//! and picks at run time; bodies only use plain arithmetic so both versions agree to rounding.

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
    /// `x = gelu(x)`.
    fn gelu(xs: &mut [f32]) {
        gelu_inline(xs);
    }
}

dispatch! {
    /// `g = g · gelu'(u)`, the erf form's derivative Φ(u) + u·φ(u).
    fn gelu_grad(u: &[f32], g: &mut [f32]) {
        // 1 / √(2π)
        const INV_SQRT_2PI: f32 = 0.398_942_3;
        for (g, &u) in g.iter_mut().zip(u) {
            let cdf = 0.5 * (1.0 + erf(u * std::f32::consts::FRAC_1_SQRT_2));
            *g *= cdf + u * INV_SQRT_2PI * exp(-0.5 * u * u);
        }
    }
}

dispatch! {
    /// LayerNorm's input gradient `dx` for rows `xs` and output gradient `g` (weight `w`):
    /// rstd · (ĝ − mean ĝ − x̂ · mean(ĝ·x̂)) with ĝ = g·w.
    fn layer_norm_input_grad(xs: &[f32], w: &[f32], g: &[f32], eps: f32, dx: &mut [f32]) {
        let d = w.len();
        for ((x, gr), o) in xs.chunks_exact(d).zip(g.chunks_exact(d)).zip(dx.chunks_exact_mut(d)) {
            let mean = sum(x) / d as f32;
            let mut var = 0f32;
            for v in x {
                var += (v - mean) * (v - mean);
            }
            let rstd = 1.0 / (var / d as f32 + eps).sqrt();
            let (mut a, mut c) = (0f32, 0f32);
            for i in 0..d {
                let gw = gr[i] * w[i];
                a += gw;
                c += gw * (x[i] - mean) * rstd;
            }
            let (a, c) = (a / d as f32, c / d as f32);
            for i in 0..d {
                let xhat = (x[i] - mean) * rstd;
                o[i] = rstd * (gr[i] * w[i] - a - xhat * c);
            }
        }
    }
}

dispatch! {
    /// Attention weights `softmax(scores · scale + bias)` per row of `t`, `bias` one row of `t`
    /// per sequence of `rows_per_seq` rows.
    fn softmax_rows(scores: &[f32], bias: &[f32], scale: f32, t: usize, rows_per_seq: usize, out: &mut [f32]) {
        for (r, (x, o)) in scores.chunks_exact(t).zip(out.chunks_exact_mut(t)).enumerate() {
            let bias = &bias[r / rows_per_seq * t..][..t];
            for i in 0..t {
                o[i] = x[i] * scale + bias[i];
            }
            let top = max(o);
            for v in o.iter_mut() {
                // `exp` clamps at e^-87; padding (a -1e9 bias) must get no weight at all.
                let e = exp(*v - top);
                *v = if *v - top < -87.0 { 0.0 } else { e };
            }
            let inv = 1.0 / sum(o);
            for v in o.iter_mut() {
                *v *= inv;
            }
        }
    }
}

dispatch! {
    /// Softmax's input gradient per row of `d`: `scale · y · (g − Σ y·g)`.
    fn softmax_grad(y: &[f32], g: &[f32], scale: f32, d: usize, out: &mut [f32]) {
        for ((yr, gr), o) in y.chunks_exact(d).zip(g.chunks_exact(d)).zip(out.chunks_exact_mut(d)) {
            let mut dot = 0f32;
            for (a, b) in yr.iter().zip(gr) {
                dot += a * b;
            }
            for i in 0..d {
                o[i] = scale * yr[i] * (gr[i] - dot);
            }
        }
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

/// Scores of `R` queries against the keys `kt` (`hd × nk`, transposed, `nk` keys zero-padded to a
/// multiple of `L` columns), into `s` (`R × nk`). Each `L`-key block accumulates in registers.
#[inline(always)]
fn scores_tile<const R: usize, const FMA: bool, const L: usize>(
    q: [&[f32]; R],
    kt: &[f32],
    nk: usize,
    scale: f32,
    s: &mut [f32],
) {
    let hd = q[0].len();
    for jb in (0..nk).step_by(L) {
        let mut acc = [[0f32; L]; R];
        for c in 0..hd {
            let k = &kt[c * nk + jb..c * nk + jb + L];
            for (acc, q) in acc.iter_mut().zip(&q) {
                let qc = q[c];
                for (a, &k) in acc.iter_mut().zip(k) {
                    *a = madd::<FMA>(qc, k, *a);
                }
            }
        }
        for (r, acc) in acc.iter().enumerate() {
            for (s, a) in s[r * nk + jb..r * nk + jb + L].iter_mut().zip(acc) {
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

/// `out[r] = Σ_j p[r][j] · v[j]` for `R` rows, `L` output columns at a time in registers.
#[inline(always)]
fn mix_tile<const R: usize, const FMA: bool, const L: usize>(
    p: &[f32],
    nk: usize,
    n: usize,
    v: &[f32],
    out: [&mut [f32]; R],
) {
    let hd = out[0].len();
    let mut out = out;
    for cb in (0..hd).step_by(L) {
        let mut acc = [[0f32; L]; R];
        for j in 0..n {
            let vj = &v[j * hd + cb..j * hd + cb + L];
            for (r, acc) in acc.iter_mut().enumerate() {
                let pj = p[r * nk + j];
                for (a, &x) in acc.iter_mut().zip(vj) {
                    *a = madd::<FMA>(pj, x, *a);
                }
            }
        }
        for (o, acc) in out.iter_mut().zip(&acc) {
            o[cb..cb + L].copy_from_slice(acc);
        }
    }
}

/// Scaled dot-product attention per sequence and head over the unmasked tokens only.
///
/// Not through `dispatch!`: this kernel also has an AVX-512 build with 16-key blocks. Each score
/// and each output column is summed over keys in the same order at any block width, so the three
/// builds agree to the bit wherever they fuse the multiply-adds alike.
pub(super) fn attention(qkv: &[f32], mask: &[f32], out: &mut [f32], t: usize, heads: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f,avx2,fma")]
        fn avx512(qkv: &[f32], mask: &[f32], out: &mut [f32], t: usize, heads: usize) {
            attention_blocks::<true, 16>(qkv, mask, out, t, heads)
        }
        #[target_feature(enable = "avx2,fma")]
        fn avx2(qkv: &[f32], mask: &[f32], out: &mut [f32], t: usize, heads: usize) {
            attention_blocks::<true, LANES>(qkv, mask, out, t, heads)
        }
        let d = out.len() / mask.len().max(1);
        let hd = d / heads.max(1);
        if std::arch::is_x86_feature_detected!("avx512f") && hd.is_multiple_of(16) {
            // SAFETY: the running CPU has the features `avx512` was compiled for.
            return unsafe { avx512(qkv, mask, out, t, heads) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: as above, for `avx2`.
            return unsafe { avx2(qkv, mask, out, t, heads) };
        }
    }
    attention_blocks::<false, LANES>(qkv, mask, out, t, heads)
}

/// [`attention`] in `L`-wide blocks: queries go `TILE` at a time through register-blocked
/// score and mixing loops.
#[inline(always)]
pub(super) fn attention_blocks<const FMA: bool, const L: usize>(
    qkv: &[f32],
    mask: &[f32],
    out: &mut [f32],
    t: usize,
    heads: usize,
) {
    let d = out.len() / mask.len().max(1);
    let hd = d / heads;
    if !hd.is_multiple_of(L) {
        return attention_plain(qkv, mask, out, t, heads);
    }
    let scale = 1.0 / (hd as f32).sqrt();
    let keys_max = t.div_ceil(L) * L;
    let mut keys = Vec::with_capacity(t);
    let mut kt = vec![0f32; hd * keys_max];
    let mut v = vec![0f32; t * hd];
    let mut p = vec![0f32; TILE * keys_max];
    for ((seq, m), ctx) in qkv
        .chunks_exact(t * 3 * d)
        .zip(mask.chunks_exact(t))
        .zip(out.chunks_exact_mut(t * d))
    {
        keys.clear();
        keys.extend((0..t).filter(|&j| m[j] != 0.0));
        let n = keys.len();
        let nk = n.div_ceil(L) * L;
        let row = |j: usize| &seq[j * 3 * d..(j + 1) * 3 * d];
        for h in 0..heads {
            let (qo, ko, vo) = (h * hd, d + h * hd, 2 * d + h * hd);
            kt[..hd * nk].fill(0.0);
            for (jj, &j) in keys.iter().enumerate() {
                for (c, &kc) in row(j)[ko..ko + hd].iter().enumerate() {
                    kt[c * nk + jj] = kc;
                }
                v[jj * hd..(jj + 1) * hd].copy_from_slice(&row(j)[vo..vo + hd]);
            }
            let mut tiles = keys.chunks_exact(TILE);
            for tile in tiles.by_ref() {
                let tile: [usize; TILE] = std::array::from_fn(|r| tile[r]);
                let q = tile.map(|i| &row(i)[qo..qo + hd]);
                scores_tile::<TILE, FMA, L>(q, &kt, nk, scale, &mut p);
                for r in 0..TILE {
                    softmax(&mut p[r * nk..r * nk + n]);
                }
                let ranges = tile.map(|i| i * d + qo..i * d + qo + hd);
                // The tile's rows are distinct tokens, so their slices are disjoint.
                let outs = ctx.get_disjoint_mut(ranges).expect("distinct rows");
                mix_tile::<TILE, FMA, L>(&p, nk, n, &v, outs);
            }
            for &i in tiles.remainder() {
                scores_tile::<1, FMA, L>([&row(i)[qo..qo + hd]], &kt, nk, scale, &mut p);
                softmax(&mut p[..n]);
                mix_tile::<1, FMA, L>(&p, nk, n, &v, [&mut ctx[i * d + qo..i * d + qo + hd]]);
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

#[cfg(test)]
mod tests {
    use crate::model::kernels::simd;

    #[test]
    fn attention_block_widths_agree_to_the_bit() {
        // Two sequences of 21 tokens (keys and queries beyond one 16-block, padding in the
        // middle and at the end), d = 64, two heads of 32: the 8- and 16-key builds must
        // give identical contexts, since both sum each score and output in key order.
        let (b, t, d) = (2, 21, 64);
        let mut state = 7u32;
        let qkv: Vec<f32> = (0..b * t * 3 * d)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5
            })
            .collect();
        let mask: Vec<f32> = (0..b * t)
            .map(|i| {
                if i % t == 5 || i % t > 17 + i / t {
                    0.0
                } else {
                    1.0
                }
            })
            .collect();
        let mut narrow = vec![0f32; b * t * d];
        let mut wide = vec![0f32; b * t * d];
        simd::attention_blocks::<false, 8>(&qkv, &mask, &mut narrow, t, 2);
        simd::attention_blocks::<false, 16>(&qkv, &mask, &mut wide, t, 2);
        assert_eq!(narrow, wide);
        assert!(narrow.iter().any(|&x| x != 0.0));
        let mut dispatched = vec![0f32; b * t * d];
        simd::attention(&qkv, &mask, &mut dispatched, t, 2);
        let worst = dispatched
            .iter()
            .zip(&narrow)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst < 1e-5, "dispatched build off by {worst}");
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
}

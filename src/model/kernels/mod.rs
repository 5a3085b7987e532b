//! Fused CPU kernels for inference, wrapped as candle custom ops.
//!
//! With composable candle ops every step between two matmuls is one pass over memory and one
//! allocation, and on this small model (hidden 128, ~40 tokens per post) those passes cost more
//! than the matmuls. Here each step is one pass: LayerNorm; dense layers with the bias, GELU or
//! residual applied while the output tile is still in cache ([`Dense`]); masked multi-head
//! attention straight from the packed QKV projection, over real tokens only; masked mean pooling.
//! They run at inference on the CPU in f32 (see [`crate::model::encoder::EncoderClassifier::for_inference`]);
//! training and CUDA use the composable ops, and unit tests hold the two paths together.
//!
//! Not part of the stable API: public (and hidden from the docs) so the benchmarks can measure
//! the dense kernel's peak.
//!
//! Dense layers use pantau's own AVX-512 matmul where the CPU has it (candle's `gemm` stops at AVX2
//! on stable Rust), candle's matmul elsewhere. The other loops are written so LLVM vectorizes them
//! and are compiled twice, for the baseline target and for AVX2+FMA, picked at run time.
//!
//! By kind: [`dense`] layers (on the AVX-512 matmul of `gemm` where available), [`norm`],
//! [`attention`], [`pool`], and `grad`, the steps of the saliency pass behind explanations; `simd` holds the slice loops they run, [`storage`] the checks that
//! hand candle's storage to them as slices. The differentiable ops of training are in
//! `model::autograd`.

pub mod attention;
pub mod dense;
mod gemm;
pub(crate) mod grad;
pub mod norm;
pub mod pool;
mod simd;
pub mod storage;

pub use dense::{Dense, Post};

//! The encoder classifier in candle, candle-transformers style: a serde [`Config`] (`config.json`),
//! one `VarBuilder`-built struct per layer in [`encoder`], and [`load`] to read a model directory's
//! config and weights. [`tensors`] moves data in (padded id batches) and out (label probabilities).
//! [`lexical`] is the linear TF-IDF head whose logits join the encoder's.
//!
//! Two kinds of hand-written CPU ops back the forward pass: [`kernels`], fused inference kernels
//! split by kind (dense, norm, attention, pooling, the SIMD loops), and `autograd`, the
//! differentiable fused ops the training path runs. `saliency` is the gradient × input pass behind
//! explanations, its backward written by hand for the input only.

pub(crate) mod autograd;
pub mod builtin;
pub mod config;
pub mod encoder;
#[doc(hidden)]
pub mod kernels;
pub mod lexical;
pub mod load;
mod saliency;
pub mod tensors;

pub use config::{Config, MODEL_TYPE};
pub use encoder::{EncoderClassifier, TrainRng};
pub use load::read_config;
pub use tensors::pad_batch;

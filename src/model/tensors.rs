//! Host data to and from the model's tensors: padded id/mask batches in, label probabilities out.

use candle_core::{DType, Device, Tensor};

use crate::error::{Error, Result};
use crate::prediction::Prediction;

/// Pads token-id sequences into `(ids, mask)` tensors of shape `(B, longest)`.
pub fn pad_batch(seqs: &[&[u32]], pad_id: u32, device: &Device) -> Result<(Tensor, Tensor)> {
    let b = seqs.len();
    let t = seqs.iter().map(|s| s.len()).max().unwrap_or(0).max(1);
    let mut ids = vec![pad_id; b * t];
    let mut mask = vec![0f32; b * t];
    for (i, s) in seqs.iter().enumerate() {
        ids[i * t..i * t + s.len()].copy_from_slice(s);
        mask[i * t..i * t + s.len()]
            .iter_mut()
            .for_each(|m| *m = 1.0);
    }
    Ok((
        Tensor::from_vec(ids, (b, t), device)?,
        Tensor::from_vec(mask, (b, t), device)?.to_dtype(DType::F32)?,
    ))
}

/// Softmax over the label axis, copied to the host. A non-finite probability is an error, never a
/// label: weights that load but compute NaN must stop the run, not count every post as neutral.
pub(crate) fn probabilities(logits: &Tensor) -> Result<Vec<Prediction>> {
    let probs = candle_nn::ops::softmax_last_dim(&logits.to_dtype(DType::F32)?)?;
    probs
        .to_vec2::<f32>()?
        .into_iter()
        .map(|row| {
            if row.iter().all(|p| p.is_finite()) {
                Ok(Prediction::from_probabilities([row[0], row[1], row[2]]))
            } else {
                Err(Error::Device(
                    "the model computed non-finite probabilities: its weights or config are broken (check it with `pantau info --check MODEL`)".into(),
                ))
            }
        })
        .collect()
}

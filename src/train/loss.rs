//! The classifier's training loss: label-smoothed, optionally class-weighted cross-entropy.

use candle_core::{Tensor, D};

use crate::error::Result;
use crate::io::examples::Example;

pub(super) fn label_weights(train: &[Example], balanced: bool) -> Vec<f32> {
    if !balanced {
        return vec![1.0; 3];
    }
    let mut counts = [0usize; 3];
    for e in train {
        counts[e.label.index()] += 1;
    }
    let n = train.len() as f32;
    counts
        .iter()
        .map(|&c| if c == 0 { 0.0 } else { n / (3.0 * c as f32) })
        .collect()
}

/// Mean cross-entropy, each example weighted by its label's weight, against a target that puts
/// `1 - smoothing` on the gold label and spreads `smoothing` evenly over all labels.
pub(super) fn cross_entropy(
    logits: &Tensor,
    targets: &Tensor,
    weights: &Tensor,
    smoothing: f64,
) -> Result<Tensor> {
    let logp = candle_nn::ops::log_softmax(logits, D::Minus1)?;
    let gold = logp.gather(&targets.unsqueeze(1)?, 1)?.squeeze(1)?;
    let per_example = if smoothing > 0.0 {
        let uniform = logp.mean(D::Minus1)?;
        ((gold * (1.0 - smoothing))? + (uniform * smoothing)?)?
    } else {
        gold
    };
    let w = weights.index_select(targets, 0)?;
    Ok((per_example.mul(&w)?.sum_all()?.neg()? / w.sum_all()?.to_scalar::<f32>()? as f64)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::label::Label;
    use candle_core::Device;

    #[test]
    fn balanced_weights_are_inverse_frequency() {
        let ex = |l| Example {
            text: "x".into(),
            label: l,
            kind: None,
        };
        let data = vec![
            ex(Label::Neutral),
            ex(Label::Neutral),
            ex(Label::Neutral),
            ex(Label::Campaigning),
        ];
        let w = label_weights(&data, true);
        assert!((w[0] - 4.0 / 9.0).abs() < 1e-6);
        assert_eq!(w[1], 0.0);
        assert!((w[2] - 4.0 / 3.0).abs() < 1e-6);
        assert_eq!(label_weights(&data, false), vec![1.0; 3]);
    }

    #[test]
    fn cross_entropy_matches_a_hand_computation() {
        let logits = Tensor::new(&[[0f32, 0.0, 0.0], [2.0, 0.0, 0.0]], &Device::Cpu).unwrap();
        let y = Tensor::new(&[1u32, 0], &Device::Cpu).unwrap();
        let w = Tensor::new(&[1f32, 1.0, 1.0], &Device::Cpu).unwrap();
        let l = cross_entropy(&logits, &y, &w, 0.0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        let expected = ((3f32).ln() + (-(2f32.exp() / (2f32.exp() + 2.0)).ln())) / 2.0;
        assert!((l - expected).abs() < 1e-5, "{l} vs {expected}");
    }

    #[test]
    fn label_smoothing_mixes_in_the_uniform_target() {
        let logits = Tensor::new(&[[2f32, 0.0, -1.0]], &Device::Cpu).unwrap();
        let y = Tensor::new(&[0u32], &Device::Cpu).unwrap();
        let w = Tensor::new(&[1f32, 1.0, 1.0], &Device::Cpu).unwrap();
        let l = cross_entropy(&logits, &y, &w, 0.3)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        let z = 2f32.exp() + 1.0 + (-1f32).exp();
        let logp = [2.0 - z.ln(), -z.ln(), -1.0 - z.ln()];
        let expected = -(0.7 * logp[0] + 0.1 * (logp[0] + logp[1] + logp[2]));
        assert!((l - expected).abs() < 1e-5, "{l} vs {expected}");
    }
}

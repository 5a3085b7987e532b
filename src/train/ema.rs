//! An exponential moving average of the weights, which is what gets evaluated and saved.

use candle_core::{Tensor, Var};

use crate::error::Result;

/// An exponential moving average of the trainable weights (Polyak averaging), with the usual
/// warm start: the effective decay is `min(decay, (1 + step) / (10 + step))`.
pub(super) struct Ema {
    decay: f64,
    shadow: Vec<Tensor>,
}

impl Ema {
    pub(super) fn new(vars: &[Var], decay: f64) -> Result<Self> {
        // Copies, not views (the optimizer updates the variables in place), and detached: a shadow
        // that remembered how it was computed would chain every step's tensors into one graph.
        let shadow = vars
            .iter()
            .map(|v| Ok(v.as_tensor().copy()?.detach()))
            .collect::<Result<_>>()?;
        Ok(Ema { decay, shadow })
    }

    pub(super) fn update(&mut self, vars: &[Var], step: usize) -> Result<()> {
        let d = self.decay.min((1 + step) as f64 / (10 + step) as f64);
        for (s, v) in self.shadow.iter_mut().zip(vars) {
            *s = ((&*s * d)? + (v.as_tensor().detach() * (1.0 - d))?)?.detach();
        }
        Ok(())
    }

    /// Loads the averaged weights into `vars` and returns the raw weights they replaced.
    pub(super) fn swap_in(&self, vars: &[Var]) -> Result<Vec<Tensor>> {
        let raw = vars
            .iter()
            .map(|v| v.as_tensor().copy())
            .collect::<candle_core::Result<Vec<_>>>()?;
        restore(vars, &self.shadow)?;
        Ok(raw)
    }
}

pub(super) fn restore(vars: &[Var], values: &[Tensor]) -> Result<()> {
    for (v, t) in vars.iter().zip(values) {
        v.set(t)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn weight_average_follows_the_weights_and_swaps_back() {
        let v = Var::new(&[1f32, 2.0], &Device::Cpu).unwrap();
        let mut ema = Ema::new(std::slice::from_ref(&v), 0.9).unwrap();
        v.set(&Tensor::new(&[3f32, 4.0], &Device::Cpu).unwrap())
            .unwrap();
        // Step 100: the warm-start cap (101/110) is above 0.9, so the decay is 0.9.
        ema.update(std::slice::from_ref(&v), 100).unwrap();
        assert!(
            ema.shadow.iter().all(|s| !s.track_op()),
            "the average keeps no graph (it would grow every step)"
        );
        let raw = ema.swap_in(std::slice::from_ref(&v)).unwrap();
        let avg = v.as_tensor().to_vec1::<f32>().unwrap();
        assert!(
            (avg[0] - 1.2).abs() < 1e-6 && (avg[1] - 2.2).abs() < 1e-6,
            "{avg:?}"
        );
        restore(std::slice::from_ref(&v), &raw).unwrap();
        assert_eq!(v.as_tensor().to_vec1::<f32>().unwrap(), vec![3.0, 4.0]);
        // Early steps follow the weights closely: (1 + 0) / (10 + 0) = 0.1.
        let mut early = Ema::new(std::slice::from_ref(&v), 0.999).unwrap();
        v.set(&Tensor::new(&[13f32, 14.0], &Device::Cpu).unwrap())
            .unwrap();
        early.update(std::slice::from_ref(&v), 0).unwrap();
        early.swap_in(std::slice::from_ref(&v)).unwrap();
        let avg = v.as_tensor().to_vec1::<f32>().unwrap();
        assert!((avg[0] - 12.0).abs() < 1e-5, "{avg:?}");
    }
}

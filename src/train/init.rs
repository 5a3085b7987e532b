//! Filling a new model's variables: seeded random initialization, or the weights of a model to
//! fine-tune.

use std::path::Path;

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::VarMap;
use rand::rngs::StdRng;
use rand::Rng;

use crate::error::{Error, Result};

pub(super) fn sorted_vars(varmap: &VarMap) -> Vec<Var> {
    let data = varmap.data().lock().expect("varmap lock");
    let mut named: Vec<(&String, &Var)> = data.iter().collect();
    named.sort_by(|a, b| a.0.cmp(b.0));
    named.into_iter().map(|(_, v)| v.clone()).collect()
}

/// Fills every variable from a seeded RNG so that runs are reproducible: N(0, 0.02) for weight
/// matrices and embeddings, ones for norm scales, zeros for biases.
pub(super) fn seeded_init(varmap: &VarMap, rng: &mut StdRng) -> Result<()> {
    let data = varmap.data().lock().expect("varmap lock");
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    for name in names {
        let var = &data[name];
        let n = var.elem_count();
        let values: Vec<f32> = if name.ends_with("bias") {
            vec![0.0; n]
        } else if name.contains("norm") {
            vec![1.0; n]
        } else {
            (0..n).map(|_| 0.02 * standard_normal(rng)).collect()
        };
        var.set(&Tensor::from_vec(values, var.shape(), var.device())?)?;
    }
    Ok(())
}

fn standard_normal(rng: &mut StdRng) -> f32 {
    // Box–Muller; u1 is kept away from 0 so the log is finite.
    let u1: f32 = rng.gen_range(f32::EPSILON..1.0);
    let u2: f32 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f32::consts::PI * u2).cos()
}

pub(super) fn load_into(varmap: &VarMap, weights: &Path, device: &Device) -> Result<()> {
    let tensors = candle_core::safetensors::load(weights, device)
        .map_err(|e| Error::invalid_model(weights, e.to_string()))?;
    let data = varmap.data().lock().expect("varmap lock");
    for (name, var) in data.iter() {
        let t = tensors
            .get(name)
            .ok_or_else(|| Error::invalid_model(weights, format!("tensor {name} is missing")))?;
        var.set(&t.to_dtype(DType::F32)?)
            .map_err(|e| Error::invalid_model(weights, format!("{name}: {e}")))?;
    }
    Ok(())
}

//! Weight averaging (a "model soup"): one model whose every weight is the mean of the same weight
//! in several models fine-tuned from one start with different seeds. Such runs land in one basin of
//! the loss, so their mean is a model of its own, steadier than any one seed, at no cost at run
//! time. Calibration is per model, so the average starts uncalibrated (temperature 1, no top
//! stretch): refit it with `pantau calibrate`. A lexical head is fitted to one encoder's dev
//! predictions, so the average has none: fit one with `pantau train --init OUT --epochs 0`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::model::config::Config;
use crate::model::load::{existing, read_config, LEXICAL_PREFIX};
use crate::train::save::{check_replaceable, replace_dir, write_file};

/// What [`average_models`] wrote: `average.json` in the new model directory.
#[derive(Debug, Clone, Serialize)]
pub struct AverageReport {
    /// The models averaged, as given.
    pub inputs: Vec<PathBuf>,
    /// How many weight tensors were averaged.
    pub tensors: usize,
    /// Whether an input had a lexical head, which the average does not keep.
    pub lexical_dropped: bool,
    /// The command line, where one ran it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
}

/// Averages the weights of `inputs` (at least two model directories of one architecture, one
/// tokenizer and one normalization version) into a new model directory `out`, written
/// atomically. `config.json` and `tokenizer.json` are the first model's, with the calibration
/// reset; `training.json` and the card are not carried over, since no single run made the model.
pub fn average_models(
    inputs: &[PathBuf],
    out: &Path,
    command: Option<String>,
) -> Result<AverageReport> {
    let [first, rest @ ..] = inputs else {
        return Err(too_few());
    };
    if rest.is_empty() {
        return Err(too_few());
    }
    check_replaceable(out)?;
    let config = read_config(first)?;
    let mut lexical_dropped = config.lexical.is_some();
    let tokenizer = read(first, "tokenizer.json")?;
    let mut sums = weights(first)?
        .into_iter()
        .map(|(k, t)| Ok((k, t.to_dtype(DType::F32)?)))
        .collect::<Result<HashMap<String, Tensor>>>()?;
    for dir in rest {
        let other = read_config(dir)?;
        lexical_dropped |= other.lexical.is_some();
        if !same_architecture(&config, &other) {
            return Err(Error::invalid_model(
                dir,
                format!(
                    "config.json describes another architecture or normalization than {}: only \
                     models fine-tuned from one start can be averaged",
                    first.display()
                ),
            ));
        }
        if read(dir, "tokenizer.json")? != tokenizer {
            return Err(Error::invalid_model(
                dir,
                format!(
                    "tokenizer.json differs from {}'s: averaged weights must index one vocabulary",
                    first.display()
                ),
            ));
        }
        let mut theirs = weights(dir)?;
        if theirs.len() != sums.len() {
            return Err(Error::invalid_model(
                dir,
                format!(
                    "model.safetensors holds {} tensors, {} holds {}",
                    theirs.len(),
                    first.display(),
                    sums.len()
                ),
            ));
        }
        for (name, sum) in sums.iter_mut() {
            let t = theirs.remove(name).ok_or_else(|| {
                Error::invalid_model(dir, format!("model.safetensors has no tensor {name}"))
            })?;
            if t.dims() != sum.dims() {
                return Err(Error::invalid_model(
                    dir,
                    format!(
                        "model.safetensors: {name} is {:?}, in {} {:?}",
                        t.dims(),
                        first.display(),
                        sum.dims()
                    ),
                ));
            }
            *sum = (&*sum + t.to_dtype(DType::F32)?)?;
        }
    }
    let n = inputs.len() as f64;
    let mean = sums
        .into_iter()
        .map(|(k, t)| Ok((k, (t / n)?.to_dtype(DType::F16)?)))
        .collect::<Result<HashMap<String, Tensor>>>()?;
    let mut cfg = config;
    cfg.temperature = 1.0;
    cfg.top_stretch = None;
    cfg.lexical = None;
    cfg.torch_dtype = "float16".into();
    let report = AverageReport {
        inputs: inputs.to_vec(),
        tensors: mean.len(),
        lexical_dropped,
        command,
    };
    replace_dir(out, |dir| {
        write_file(
            dir,
            "config.json",
            &serde_json::to_vec_pretty(&cfg).expect("config serializes"),
        )?;
        write_file(dir, "tokenizer.json", &tokenizer)?;
        candle_core::safetensors::save(&mean, dir.join("model.safetensors"))?;
        let rep = serde_json::to_vec_pretty(&report).expect("report serializes");
        write_file(dir, "average.json", &rep)
    })?;
    Ok(report)
}

fn too_few() -> Error {
    Error::Training("averaging needs at least two model directories".into())
}

/// Same shapes and the same reading of text: the fields that make two weight files comparable.
fn same_architecture(a: &Config, b: &Config) -> bool {
    (
        a.vocab_size,
        a.hidden_size,
        a.num_hidden_layers,
        a.num_attention_heads,
        a.intermediate_size,
        a.max_position_embeddings,
        a.normalization_version,
        &a.label2id,
    ) == (
        b.vocab_size,
        b.hidden_size,
        b.num_hidden_layers,
        b.num_attention_heads,
        b.intermediate_size,
        b.max_position_embeddings,
        b.normalization_version,
        &b.label2id,
    )
}

fn read(dir: &Path, file: &str) -> Result<Vec<u8>> {
    let p = existing(dir, file)?;
    std::fs::read(&p).map_err(|e| Error::io(&p, e))
}

/// The encoder's weights (a lexical head's are left out).
fn weights(dir: &Path) -> Result<HashMap<String, Tensor>> {
    let p = existing(dir, "model.safetensors")?;
    let mut all = candle_core::safetensors::load(&p, &Device::Cpu)
        .map_err(|e| Error::invalid_model(dir, format!("model.safetensors: {e}")))?;
    all.retain(|k, _| !k.starts_with(LEXICAL_PREFIX));
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("models/pantau-small")
    }

    /// A copy of the shipped model whose every weight is `f(weight)`, with `config` edited.
    fn variant(dir: &Path, f: impl Fn(&Tensor) -> Tensor, edit: impl Fn(&mut Config)) {
        std::fs::create_dir_all(dir).unwrap();
        let mut cfg = read_config(&shipped()).unwrap();
        edit(&mut cfg);
        std::fs::write(dir.join("config.json"), serde_json::to_vec(&cfg).unwrap()).unwrap();
        std::fs::copy(shipped().join("tokenizer.json"), dir.join("tokenizer.json")).unwrap();
        let w: HashMap<String, Tensor> = weights(&shipped())
            .unwrap()
            .into_iter()
            .map(|(k, t)| (k, f(&t)))
            .collect();
        candle_core::safetensors::save(&w, dir.join("model.safetensors")).unwrap();
    }

    fn values(t: &Tensor) -> Vec<f32> {
        t.to_dtype(DType::F32)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap()
    }

    #[test]
    fn the_average_is_the_mean_of_every_weight_and_starts_uncalibrated() {
        let tmp = tempfile::tempdir().unwrap();
        let shifted = tmp.path().join("shifted");
        // Every weight + 0.25: the mean with the original is the original + 0.125.
        variant(
            &shifted,
            |t| (t.to_dtype(DType::F32).unwrap() + 0.25).unwrap(),
            |_| {},
        );
        let out = tmp.path().join("soup");
        let report = average_models(&[shipped(), shifted.clone()], &out, None).unwrap();
        let base = weights(&shipped()).unwrap();
        let soup = weights(&out).unwrap();
        assert_eq!(report.tensors, base.len());
        assert_eq!(soup.len(), base.len());
        for (name, t) in &base {
            let (want, got) = (values(t), values(&soup[name]));
            for (w, g) in want.iter().zip(&got) {
                let target = w + 0.125;
                // f16 keeps 11 significant bits.
                assert!(
                    (g - target).abs() <= target.abs() / 1024.0 + 1e-7,
                    "{name}: {g} for {target}"
                );
            }
        }
        let cfg = read_config(&out).unwrap();
        assert_eq!(cfg.temperature, 1.0);
        assert!(cfg.top_stretch.is_none());
        assert_eq!(
            read(&out, "tokenizer.json").unwrap(),
            read(&shipped(), "tokenizer.json").unwrap()
        );
        let rep: serde_json::Value =
            serde_json::from_slice(&read(&out, "average.json").unwrap()).unwrap();
        assert_eq!(rep["inputs"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn a_model_averaged_with_itself_keeps_its_weights_to_the_bit() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("same");
        average_models(&[shipped(), shipped(), shipped()], &out, None).unwrap();
        let (base, soup) = (weights(&shipped()).unwrap(), weights(&out).unwrap());
        for (name, t) in &base {
            assert_eq!(values(t), values(&soup[name]), "{name}");
        }
    }

    #[test]
    fn models_that_cannot_be_averaged_are_refused_naming_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let one = average_models(&[shipped()], &out, None).unwrap_err();
        assert!(one.to_string().contains("at least two"), "{one}");
        let other = tmp.path().join("other-norm");
        variant(&other, Tensor::clone, |c| c.normalization_version = 3);
        let e = average_models(&[shipped(), other.clone()], &out, None).unwrap_err();
        assert!(
            e.to_string().contains("other-norm") && e.to_string().contains("architecture"),
            "{e}"
        );
        let missing = tmp.path().join("missing");
        let e = average_models(&[shipped(), missing], &out, None).unwrap_err();
        assert!(e.to_string().contains("missing"), "{e}");
        assert!(
            !out.exists(),
            "nothing is written when the inputs are refused"
        );
    }
}

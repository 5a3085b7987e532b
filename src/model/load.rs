//! Reading a model directory's `config.json` and `model.safetensors`, each checked against the
//! other, so a broken or mismatched model is refused at load with the file and the fix, never
//! used to write wrong rows: every tensor the architecture needs must be there with its shape, no
//! tensor may be left over (a layer count that disagrees with the weights), and every weight must
//! be a finite float.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use candle_core::safetensors::{MmapedSafetensors, SliceSafetensors};
use candle_core::{DType, Device, Shape, Tensor};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::VarBuilder;

use crate::error::{without_backtrace, Error, Result};
use crate::model::config::Config;
use crate::model::encoder::EncoderClassifier;
use crate::model::lexical::{LexicalConfig, LexicalHead};

/// `dir/file`, or an error naming the missing file and what a model directory holds.
pub(crate) fn existing(dir: &Path, file: &str) -> Result<PathBuf> {
    let p = dir.join(file);
    match std::fs::metadata(&p) {
        Ok(m) if m.is_file() => Ok(p),
        Ok(_) => Err(Error::invalid_model(
            dir,
            format!("{file} is not a regular file"),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::invalid_model(
            dir,
            format!("{file} is missing: a model directory needs config.json, tokenizer.json and model.safetensors"),
        )),
        // A symlink loop or a directory pantau may not read is not "missing": say what it is.
        Err(e) => Err(Error::invalid_model(dir, format!("{file} cannot be read: {e}"))),
    }
}

/// Reads and validates `config.json`; a field of the wrong type is named.
pub fn read_config(dir: &Path) -> Result<Config> {
    let p = existing(dir, "config.json")?;
    let text = std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?;
    parse_config(&text, dir)
}

/// Parses and validates the text of `config.json`; `dir` names the model in messages.
pub(crate) fn parse_config(text: &str, dir: &Path) -> Result<Config> {
    let de = &mut serde_json::Deserializer::from_str(text);
    let config: Config = serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        let reason = if field == "." {
            format!("config.json: {inner}")
        } else {
            format!("config.json: field {field}: {inner}")
        };
        Error::invalid_model(dir, reason)
    })?;
    config
        .validate()
        .map_err(|e| Error::invalid_model(dir, format!("config.json: {e}")))?;
    Ok(config)
}

/// Where a model's weights are read from: a memory-mapped file, or bytes built into the binary.
pub(crate) enum Weights {
    File(PathBuf),
    Bytes(&'static [u8]),
}

/// A model's weights as loaded: the encoder, frozen for inference, and its lexical head if the
/// config declares one.
pub(crate) struct Loaded {
    pub(crate) encoder: EncoderClassifier,
    pub(crate) lexical: Option<LexicalHead>,
}

/// Loads `weights` (the model's `model.safetensors`) into a model frozen for inference; `dir`
/// names the model in messages.
pub(crate) fn load_weights(
    dir: &Path,
    weights: Weights,
    config: &Config,
    device: &Device,
) -> Result<Loaded> {
    let bad = |reason: String| Error::invalid_model(dir, format!("model.safetensors: {reason}"));
    let unreadable = |e: candle_core::Error| {
        bad(format!(
            "{} (is the file truncated or not safetensors?)",
            without_backtrace(e)
        ))
    };
    match weights {
        Weights::File(path) => {
            // Safety: the file is memory-mapped read-only; pantau never writes to a model it has
            // loaded (training writes a new directory and renames it into place).
            let tensors = unsafe { MmapedSafetensors::new(path) }.map_err(unreadable)?;
            let names = check_tensors(tensors.tensors(), |n| tensors.load(n, &Device::Cpu));
            build(dir, tensors, names.map_err(bad)?, config, device)
        }
        Weights::Bytes(bytes) => {
            let tensors = SliceSafetensors::new(bytes).map_err(unreadable)?;
            let names = check_tensors(tensors.tensors(), |n| tensors.load(n, &Device::Cpu));
            build(dir, tensors, names.map_err(bad)?, config, device)
        }
    }
}

/// Builds the architecture from checked tensors, every tensor used exactly as the config says.
fn build<T: SimpleBackend + 'static>(
    dir: &Path,
    tensors: T,
    names: BTreeSet<String>,
    config: &Config,
    device: &Device,
) -> Result<Loaded> {
    let bad = |reason: String| Error::invalid_model(dir, format!("model.safetensors: {reason}"));
    let has_lexical = names.iter().any(|n| n.starts_with(LEXICAL_PREFIX));
    if has_lexical && config.lexical.is_none() {
        return Err(bad(
            "it holds lexical.* tensors but config.json has no lexical entry; restore the \
             config.json that came with these weights"
                .into(),
        ));
    }
    let layers_in_file = names
        .iter()
        .filter_map(|n| {
            n.strip_prefix("encoder.layers.")?
                .split('.')
                .next()?
                .parse::<usize>()
                .ok()
        })
        .max()
        .map_or(0, |l| l + 1);
    let layers = |what: &str| {
        format!(
            "{what}: config.json says num_hidden_layers {} but the weights have {layers_in_file} layers; they come from different models",
            config.num_hidden_layers
        )
    };
    let asked = Arc::new(Mutex::new(BTreeSet::new()));
    let recording = Recording {
        inner: tensors,
        asked: asked.clone(),
    };
    let lexical = match config.lexical {
        Some(c) => Some(lexical_head(&recording, c).map_err(bad)?),
        None => None,
    };
    let vb = VarBuilder::from_backend(Box::new(recording), DType::F32, device.clone());
    let model = EncoderClassifier::new(config, vb)
        .and_then(EncoderClassifier::for_inference)
        .map_err(|e| {
            let msg = e.to_string();
            if layers_in_file != config.num_hidden_layers {
                bad(layers(&msg))
            } else {
                bad(format!("{msg} (config.json and the weights disagree)"))
            }
        })?;
    let asked = asked.lock().unwrap_or_else(|p| p.into_inner());
    let unexpected: Vec<&String> = names.iter().filter(|n| !asked.contains(*n)).collect();
    if !unexpected.is_empty() {
        let list = unexpected
            .iter()
            .take(3)
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let what = format!("{} unexpected tensors ({list}…)", unexpected.len());
        return Err(bad(if layers_in_file != config.num_hidden_layers {
            layers(&what)
        } else {
            format!("{what}: the weights are not of this architecture")
        }));
    }
    Ok(Loaded {
        encoder: model,
        lexical,
    })
}

/// Names of the lexical head's tensors start with this.
pub(crate) const LEXICAL_PREFIX: &str = "lexical.";

/// The lexical head's three tensors, checked against its config entry.
fn lexical_head<T: SimpleBackend>(
    tensors: &T,
    config: LexicalConfig,
) -> std::result::Result<LexicalHead, String> {
    let read = |name: &str| -> std::result::Result<Vec<f32>, String> {
        let full = format!("{LEXICAL_PREFIX}{name}");
        if !tensors.contains_tensor(&full) {
            return Err(format!(
                "config.json declares a lexical head but tensor {full} is missing; restore the \
                 weights that came with this config.json"
            ));
        }
        tensors
            .get_unchecked(&full, DType::F32, &Device::Cpu)
            .and_then(|t| t.flatten_all()?.to_vec1::<f32>())
            .map_err(|e| format!("tensor {full} cannot be read: {}", without_backtrace(e)))
    };
    let bias: [f32; 3] = read("bias")?
        .try_into()
        .map_err(|b: Vec<f32>| format!("lexical.bias has {} values, not 3", b.len()))?;
    LexicalHead::new(config, read("idf")?, &read("weight")?, bias)
}

/// Every tensor is a float (f16, bf16 or f32) and finite; returns their names.
fn check_tensors(
    views: Vec<(String, safetensors::tensor::TensorView<'_>)>,
    load: impl Fn(&str) -> candle_core::Result<Tensor>,
) -> std::result::Result<BTreeSet<String>, String> {
    let mut names = BTreeSet::new();
    for (name, view) in views {
        let dtype = format!("{:?}", view.dtype());
        if !matches!(dtype.as_str(), "F16" | "BF16" | "F32") {
            return Err(format!(
                "tensor {name} is stored as {dtype}; weights must be float16, bfloat16 or float32"
            ));
        }
        let t = load(&name)
            .and_then(|t| t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>())
            .map_err(|e| format!("tensor {name} cannot be read: {}", without_backtrace(e)))?;
        if let Some(i) = t.iter().position(|x| !x.is_finite()) {
            return Err(format!(
                "tensor {name} holds a non-finite value ({} at index {i}): the file is damaged; restore it or retrain",
                t[i]
            ));
        }
        names.insert(name);
    }
    Ok(names)
}

/// A safetensors backend that remembers which tensors the architecture asked for, so tensors left
/// over (weights of another architecture or layer count) are found.
struct Recording<T> {
    inner: T,
    asked: Arc<Mutex<BTreeSet<String>>>,
}

impl<T> Recording<T> {
    fn note(&self, name: &str) {
        self.asked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_string());
    }
}

impl<T: SimpleBackend> SimpleBackend for Recording<T> {
    fn get(
        &self,
        s: Shape,
        name: &str,
        h: candle_nn::Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        self.note(name);
        SimpleBackend::get(&self.inner, s, name, h, dtype, dev)
    }

    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        self.note(name);
        SimpleBackend::get_unchecked(&self.inner, name, dtype, dev)
    }

    fn contains_tensor(&self, name: &str) -> bool {
        SimpleBackend::contains_tensor(&self.inner, name)
    }
}

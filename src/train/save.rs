//! Writing a trained model as a complete model directory, atomically.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarMap;

use crate::error::{Error, Result};
use crate::model::config::Config;
use crate::text::tokenizer::TextEncoder;
use crate::train::card::model_card;
use crate::train::report::TrainReport;

/// Writes a complete model directory (config, tokenizer, f16 weights, training report, model card)
/// to a temporary directory beside `out`, then swaps it into place, so `out` is never half-written.
pub fn save_model_dir(
    out: &Path,
    config: &Config,
    encoder: &TextEncoder,
    varmap: &VarMap,
    report: &TrainReport,
) -> Result<()> {
    replace_dir(out, |dir| {
        let mut cfg = config.clone();
        cfg.torch_dtype = "float16".into();
        let json = serde_json::to_vec_pretty(&cfg).expect("config serializes");
        std::fs::write(dir.join("config.json"), json)
            .map_err(|e| Error::io(dir.join("config.json"), e))?;
        encoder.save(&dir.join("tokenizer.json"))?;
        let tensors: HashMap<String, Tensor> = varmap
            .data()
            .lock()
            .expect("varmap lock")
            .iter()
            .map(|(k, v)| {
                Ok((
                    k.clone(),
                    v.as_tensor()
                        .to_dtype(DType::F16)?
                        .to_device(&Device::Cpu)?,
                ))
            })
            .collect::<Result<_>>()?;
        candle_core::safetensors::save(&tensors, dir.join("model.safetensors"))?;
        let rep = serde_json::to_vec_pretty(report).expect("report serializes");
        std::fs::write(dir.join("training.json"), rep)
            .map_err(|e| Error::io(dir.join("training.json"), e))?;
        let card = model_card(&cfg, report);
        std::fs::write(dir.join("README.md"), card).map_err(|e| Error::io(dir.join("README.md"), e))
    })
}

/// Fills a temporary directory beside `out` with `fill`, then swaps it into place, so `out` is
/// always either its old or its new complete contents.
pub(crate) fn replace_dir(out: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
    let tmp = tempfile::Builder::new()
        .prefix(".pantau-save-")
        .tempdir_in(&parent)
        .map_err(|e| Error::io(&parent, e))?;
    fill(tmp.path())?;

    // Swap the finished directory in: the old model is moved aside first and restored if the swap fails,
    // so `out` is always either the old or the new complete model.
    let kept = tmp.keep();
    let old = parent.join(format!(".pantau-old-{}", std::process::id()));
    if out.exists() {
        std::fs::rename(out, &old).map_err(|e| Error::io(out, e))?;
    }
    if let Err(e) = std::fs::rename(&kept, out) {
        // Put the previous model back rather than leave nothing.
        let _ = std::fs::rename(&old, out);
        return Err(Error::io(out, e));
    }
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))?;
    }
    Ok(())
}

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
        write_file(dir, "config.json", &json)?;
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
        write_file(dir, "training.json", &rep)?;
        write_file(dir, "README.md", model_card(&cfg, report).as_bytes())
    })
}

/// Fills a temporary directory beside `out` with `fill`, then swaps it into place, so `out` is
/// always either its old or its new complete contents.
///
/// `out` must be new, empty or a model directory (it holds `config.json`): replacing is deleting,
/// and a mistyped `--out` must not take a folder of other files with it.
pub(crate) fn replace_dir(out: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    check_replaceable(out)?;
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

/// Writes `bytes` to `dir/file`; an error names the file.
pub(crate) fn write_file(dir: &Path, file: &str, bytes: &[u8]) -> Result<()> {
    let p = dir.join(file);
    std::fs::write(&p, bytes).map_err(|e| Error::io(&p, e))
}

/// Whether [`replace_dir`] may replace `out`: an error naming it if not.
pub(crate) fn check_replaceable(out: &Path) -> Result<()> {
    let refuse = |reason: &str| {
        Err(Error::BadInput {
            path: out.display().to_string(),
            reason: format!("{reason}; pass a new directory, or a model directory to replace"),
        })
    };
    match std::fs::symlink_metadata(out) {
        Err(_) => Ok(()),
        Ok(m) if !m.is_dir() => refuse("exists and is not a directory"),
        Ok(_) if out.join("config.json").is_file() => Ok(()),
        Ok(_) => {
            let mut entries = std::fs::read_dir(out).map_err(|e| Error::io(out, e))?;
            if entries.next().is_none() {
                Ok(())
            } else {
                refuse("holds files but no config.json, so it is not a model directory")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_new_empty_or_model_directories_are_replaced() {
        let tmp = tempfile::tempdir().unwrap();
        let write = |dir: &Path| {
            replace_dir(dir, |d| {
                std::fs::write(d.join("config.json"), b"{}").map_err(|e| Error::io(d, e))
            })
        };
        let new = tmp.path().join("new");
        write(&new).unwrap();
        assert!(new.join("config.json").is_file());
        // A model directory is replaced, an empty one filled.
        std::fs::write(new.join("stale.txt"), b"x").unwrap();
        write(&new).unwrap();
        assert!(!new.join("stale.txt").exists());
        let empty = tmp.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        write(&empty).unwrap();
        // A folder of other files and a file are refused, and left as they were.
        let docs = tmp.path().join("docs");
        std::fs::create_dir(&docs).unwrap();
        std::fs::write(docs.join("thesis.md"), b"keep me").unwrap();
        let e = write(&docs).unwrap_err().to_string();
        assert!(
            e.contains("docs") && e.contains("not a model directory"),
            "{e}"
        );
        assert_eq!(std::fs::read(docs.join("thesis.md")).unwrap(), b"keep me");
        let file = tmp.path().join("notes.txt");
        std::fs::write(&file, b"keep").unwrap();
        let e = write(&file).unwrap_err().to_string();
        assert!(e.contains("not a directory"), "{e}");
        assert_eq!(std::fs::read(&file).unwrap(), b"keep");
    }
}

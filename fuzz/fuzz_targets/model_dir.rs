//! Loading a model directory must never panic, whatever its files hold: a copy of the shipped
//! model gets one of its three files (chosen by the first byte) replaced by the fuzz input, and
//! `Classifier::load_dir` must either refuse it with an error or load a model that classifies
//! without panicking and gives finite probabilities.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use candle_core::Device;
use libfuzzer_sys::fuzz_target;
use pantau::Classifier;

const FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];

/// A scratch model directory and the shipped files' bytes, to restore after each input.
fn scratch() -> &'static (PathBuf, Vec<Vec<u8>>) {
    static S: OnceLock<(PathBuf, Vec<Vec<u8>>)> = OnceLock::new();
    S.get_or_init(|| {
        let shipped = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/pantau-small");
        let dir = std::env::temp_dir().join(format!("pantau-fuzz-model-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bytes: Vec<Vec<u8>> = FILES
            .iter()
            .map(|f| std::fs::read(shipped.join(f)).unwrap())
            .collect();
        for (f, b) in FILES.iter().zip(&bytes) {
            std::fs::write(dir.join(f), b).unwrap();
        }
        (dir, bytes)
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let (dir, pristine) = scratch();
    let i = which as usize % FILES.len();
    std::fs::write(dir.join(FILES[i]), body).unwrap();
    if let Ok(clf) = Classifier::load_dir(dir, &Device::Cpu) {
        if let Ok(preds) = clf.classify_batch(&["Ayo coblos nomor 2!", "selamat pagi"]) {
            for p in preds {
                assert!(p.probabilities.iter().all(|x| x.is_finite()));
            }
        }
    }
    std::fs::write(dir.join(FILES[i]), &pristine[i]).unwrap();
});

//! `pantau info`: a model's sizes, labels and card.

use std::io::Write;

use anyhow::{bail, Result};
use clap::Args;

use pantau::{Classifier, Label};

use crate::cli::out::stdout;

#[derive(Args)]
pub struct InfoArgs {
    /// Model directory or hub id (default: `$PANTAU_MODEL`, else the built-in model).
    pub model: Option<String>,
    /// Only check the model: every file against the others (sizes, tensor names, shapes and
    /// dtypes, finite weights, token ids, special tokens) and a forward pass on sample posts; prints
    /// one line, exits non-zero on the first problem.
    #[arg(long)]
    pub check: bool,
}

/// Posts of every label and length class, for the forward pass of `--check`.
const PROBES: [&str; 4] = [
    "Selamat pagi semua, jangan lupa sarapan ya",
    "Ayo coblos nomor 2 tanggal 14 Februari!",
    "Program makan siang gratisnya keren, pemimpin yang peduli rakyat",
    "Bawaslu mengingatkan ASN untuk menjaga netralitas selama masa kampanye pemilu 2024 dan melaporkan pelanggaran",
];

pub fn run(a: InfoArgs) -> Result<()> {
    let mut out = stdout()?;
    let clf = Classifier::open(a.model.as_deref(), &candle_core::Device::Cpu)?;
    let c = clf.config();
    if a.check {
        let preds = clf.classify_batch(&PROBES)?;
        for (p, text) in preds.iter().zip(PROBES) {
            let sum: f32 = p.probabilities.iter().sum();
            if (sum - 1.0).abs() > 1e-3 {
                bail!("{}: probabilities of {text:?} sum to {sum}", clf.name());
            }
        }
        writeln!(
            out,
            "ok: {} (config.json, tokenizer.json with {} tokens, model.safetensors with every tensor finite and of its shape, {} sample posts classified)",
            clf.name(),
            clf.encoder().vocab_size(),
            PROBES.len()
        )?;
        out.flush()?;
        return Ok(());
    }
    let size = match clf.dir() {
        Some(d) => std::fs::metadata(d.join("model.safetensors")).map_or(0, |m| m.len()),
        None => pantau::model::builtin::WEIGHTS.len() as u64,
    };
    writeln!(out, "model       {}", clf.name())?;
    writeln!(
        out,
        "architecture {} layers, hidden {}, {} heads, FFN {}, max {} tokens",
        c.num_hidden_layers,
        c.hidden_size,
        c.num_attention_heads,
        c.intermediate_size,
        c.max_position_embeddings
    )?;
    writeln!(
        out,
        "vocabulary  {} (tokenizer has {})",
        c.vocab_size,
        clf.encoder().vocab_size()
    )?;
    writeln!(
        out,
        "parameters  {} ({} stored, {:.1} MB)",
        c.num_parameters(),
        c.torch_dtype,
        size as f64 / 1e6
    )?;
    writeln!(
        out,
        "labels      {}",
        Label::ALL.map(|l| l.as_str()).join(", ")
    )?;
    writeln!(out, "normalization v{}", c.normalization_version)?;
    match &c.lexical {
        Some(l) => writeln!(
            out,
            "lexical head TF-IDF n-grams, {} hash buckets per block, logits weighted {}",
            l.buckets, l.weight
        )?,
        None => writeln!(out, "lexical head none (the encoder alone)")?,
    }
    let stretch = c
        .top_stretch
        .map(|s| format!(", {}", crate::cli::calibrate::describe_stretch(&s)))
        .unwrap_or_default();
    writeln!(out, "calibration temperature {:.4}{stretch}", c.temperature)?;
    let card = match clf.dir() {
        Some(d) => std::fs::read_to_string(d.join("README.md")).ok(),
        None => Some(pantau::model::builtin::CARD.to_string()),
    };
    if let Some(card) = card {
        writeln!(out, "\n{card}")?;
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::cli::{parse, Command};

    #[test]
    fn the_model_is_an_optional_positional_argument() {
        let model = |flags: &[&str]| match parse(flags) {
            Ok(Command::Info(a)) => a.model,
            _ => panic!("{flags:?} does not parse as info"),
        };
        assert_eq!(model(&["info"]), None);
        assert_eq!(model(&["info", "org/name"]).as_deref(), Some("org/name"));
        assert!(parse(&["info", "a", "b"]).is_err());
        assert!(matches!(parse(&["info", "--check", "m"]), Ok(Command::Info(a)) if a.check));
    }
}

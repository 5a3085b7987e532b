//! `pantau info`: a model's sizes, labels and card.

use anyhow::Result;
use clap::Args;

use pantau::{Classifier, Label};

use crate::cli::common::default_model;

#[derive(Args)]
pub struct InfoArgs {
    /// Model directory or hub id (default: the shipped model).
    pub model: Option<String>,
}

pub fn run(a: InfoArgs) -> Result<()> {
    let model = a.model.unwrap_or_else(default_model);
    let clf = Classifier::load(&model, &candle_core::Device::Cpu)?;
    let c = clf.config();
    let weights = clf.dir().join("model.safetensors");
    let size = std::fs::metadata(&weights).map(|m| m.len()).unwrap_or(0);
    println!("model       {}", clf.dir().display());
    println!(
        "architecture {} layers, hidden {}, {} heads, FFN {}, max {} tokens",
        c.num_hidden_layers,
        c.hidden_size,
        c.num_attention_heads,
        c.intermediate_size,
        c.max_position_embeddings
    );
    println!(
        "vocabulary  {} (tokenizer has {})",
        c.vocab_size,
        clf.encoder().vocab_size()
    );
    println!(
        "parameters  {} ({} stored, {:.1} MB)",
        c.num_parameters(),
        c.torch_dtype,
        size as f64 / 1e6
    );
    println!("labels      {}", Label::ALL.map(|l| l.as_str()).join(", "));
    println!("normalization v{}", c.normalization_version);
    if let Ok(card) = std::fs::read_to_string(clf.dir().join("README.md")) {
        println!("\n{card}");
    }
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
    }
}

//! The shipped model, built into the binary, so a copied `pantau` (or `cargo install`) classifies
//! offline from any directory. `--model DIR` and `PANTAU_MODEL` still choose another.

/// How messages and `pantau info` name the built-in model.
pub const NAME: &str = "built-in pantau-small";

pub(crate) const CONFIG: &str = include_str!("../../models/pantau-small/config.json");
pub(crate) const TOKENIZER: &str = include_str!("../../models/pantau-small/tokenizer.json");
/// `model.safetensors`.
pub const WEIGHTS: &[u8] = include_bytes!("../../models/pantau-small/model.safetensors");
/// The model card.
pub const CARD: &str = include_str!("../../models/pantau-small/README.md");

/// The built-in files, for hashing: config, tokenizer, weights.
pub fn files() -> [&'static [u8]; 3] {
    [CONFIG.as_bytes(), TOKENIZER.as_bytes(), WEIGHTS]
}

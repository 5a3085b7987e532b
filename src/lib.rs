//! pantau classifies Indonesian social-media posts as **neutral**, **promotional** or **campaigning**,
//! for monitoring the neutrality of civil servants (ASN) around elections.
//!
//! Modules follow the data, and depend only on the ones below them:
//!
//! - Shared small types at the bottom: [`error`], [`label`], [`prediction`] (the model's verdict on
//!   a post, and the analyst's [`Triage`] thresholds), [`record`] (one input row); [`device`] and [`hub`] find the device and the model.
//! - [`text`]: [`text::normalize`] cleans a post, [`text::participants`] marks registered
//!   election participants, [`text::vocab`] learns a vocabulary, [`text::tokenizer`] turns
//!   cleaned text into token ids, and [`text::ngrams`] counts its hashed n-grams.
//! - [`model`]: the encoder classifier in candle ([`model::config`], [`model::encoder`],
//!   [`model::load`], the compiled-in shipped model [`model::builtin`]), the fused CPU kernels
//!   it runs on, split by kind, and the [`model::lexical`] head whose TF-IDF logits join the
//!   encoder's.
//! - [`io`]: format detection from the content ([`mod@io::decode`]: compression, encodings;
//!   [`io::format`]: containers, headers), one reader and one writer per format (JSONL, CSV/TSV,
//!   Parquet, spreadsheets, text), output paths, checkpoints
//!   for `--resume` (with the run's fingerprint), the review order, and reading labeled examples. It knows records and predictions, not the model.
//! - [`classify`]: the [`Classifier`] (normalize and mark → tokenize into windows, and the lexical
//!   head's offset → batch → encoder + offset → the most flagged window, with the calibrated
//!   temperature applied), batch planning, and
//!   the streaming driver [`classify::classify_stream`], which sits above both `io` and the
//!   classifier: `io` reads rows → the classifier scores them → `io` writes them, in input order;
//!   [`classify::classify_texts`] runs the same path over an in-memory list (the Python package).
//! - [`train`] and [`eval`], beside `classify`: building models (pretraining, the training loop,
//!   optimizer, model card) and measuring them (metrics, report, temperature calibration).
//!
//! - [`report`], above `io`: a classified file summarized for a supervisor (HTML with charts, or
//!   Markdown), in one streaming pass.
//!
//! The `pantau` binary's `src/cli/` is a thin layer over this library, one file per subcommand.
//!
//! ```no_run
//! use pantau::{Classifier, Label};
//! let clf = Classifier::builtin(&candle_core::Device::Cpu)?; // or Classifier::load(dir_or_hub_id, …)
//! let p = clf.classify("Jangan lupa 14 Februari coblos nomor 3 ya!")?;
//! println!("{} ({:.2})", p.label, p.probability(p.label));
//! # Ok::<(), pantau::Error>(())
//! ```

pub mod classify;
pub mod device;
pub mod error;
pub mod eval;
pub mod hub;
pub mod io;
pub mod label;
pub mod model;
pub mod prediction;
pub mod record;
pub mod report;
pub mod text;
pub mod train;

pub use classify::Classifier;
pub use device::parse_device;
pub use error::{Error, Result};
pub use label::Label;
pub use prediction::{Prediction, Triage};

/// Where the model shipped with pantau lives, relative to the repository root.
pub const DEFAULT_MODEL: &str = "models/pantau-small";

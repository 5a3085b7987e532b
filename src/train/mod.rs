//! Training a classifier. [`trainer`] runs the loop: tokenizer (trained or given), seeded
//! initialization ([`init`]) or fine-tuning from an existing model, masked-language-model
//! [`pretrain`]ing, then classifier epochs over length-grouped [`batches`] with a smoothed,
//! optionally class-weighted cross-entropy ([`loss`]), AdamW with warmup + linear decay and gradient
//! clipping ([`optim`]), an average of the weights ([`ema`]) and early stopping on dev macro-F1. [`config`] holds the settings (the
//! `pantau train` flags), [`report`] what a run reports; the best checkpoint is written as a
//! complete model directory, atomically ([`save`]), with its model [`card`]; then the [`lexical`]
//! head is fitted on the same rows. [`average`] makes one
//! model of several fine-tuned with different seeds (a model soup).
//!
//! The differentiable fused ops the training step runs on the CPU live with the model, in
//! `crate::model::autograd`, since the encoder's forward pass calls them.

pub mod average;
pub mod batches;
pub mod card;
pub mod config;
pub mod ema;
pub mod init;
pub mod lexical;
pub mod loss;
pub mod optim;
pub mod pretrain;
pub mod report;
pub mod save;
pub mod trainer;

pub use average::{average_models, AverageReport};
pub use batches::length_batches;
pub use card::CARD_EVAL_MARKER;
pub use config::TrainConfig;
pub use lexical::{LexicalOptions, LexicalReport};
pub use optim::schedule;
pub use report::{EpochReport, Event, PretrainEpoch, TrainReport};
pub use save::save_model_dir;
pub use trainer::{train, TrainData};

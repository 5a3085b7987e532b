//! Classifying posts: the [`Classifier`] (a loaded model: normalizer, tokenizer, encoder), the
//! [`batch`] planner that groups tokenized posts into token-budget batches, and the [`stream`]
//! driver that runs a whole input through reader → classifier → writer in bounded windows.

pub mod batch;
pub mod classifier;
pub mod explain;
pub mod stream;
pub mod texts;

pub use batch::{plan_batches, BatchOptions};
pub use classifier::Classifier;
pub use stream::{classify_stream, RunSummary, StreamOptions};
pub use texts::{classify_texts, Outcome};

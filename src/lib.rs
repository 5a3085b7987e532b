pub mod error;
pub mod label;
pub mod model;
pub mod normalize;
pub mod tokenizer;

pub use error::{Error, Result};
pub use label::Label;

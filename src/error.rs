//! The library's error type. Messages name the file (and row, where there is one) and say how to fix it.

use std::path::PathBuf;

/// Everything the library can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "unknown label {0:?}: expected neutral/netral, promotional/promosi or campaigning/kampanye"
    )]
    UnknownLabel(String),

    #[error("model directory {dir}: {reason}")]
    InvalidModel { dir: PathBuf, reason: String },

    #[error("model {id:?} is not a local directory and is not in the Hugging Face cache at {cache}: {hint}")]
    ModelNotFound {
        id: String,
        cache: PathBuf,
        hint: String,
    },

    #[error("{path}, row {row}: {reason}")]
    BadRow {
        path: String,
        row: u64,
        reason: String,
    },

    #[error("{path}: {reason}")]
    BadInput { path: String, reason: String },

    #[error("post {index} is {EMPTY_TEXT}")]
    EmptyText { index: usize },

    #[error("tokenizer: {0}")]
    Tokenizer(String),

    #[error("tensor computation failed: {0}")]
    Candle(candle_core::Error),

    #[error("device: {0}")]
    Device(String),

    #[error("training: {0}")]
    Training(String),
}

/// Why an empty post gets no label, in the library's errors and the command line's error rows.
pub const EMPTY_TEXT: &str = "empty text (nothing left after removing control characters)";

/// Shorthand used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<candle_core::Error> for Error {
    /// Keeps candle's message and drops the backtrace it captures under `RUST_BACKTRACE`: a
    /// user's error is not a crash report.
    fn from(e: candle_core::Error) -> Self {
        Error::Candle(without_backtrace(e))
    }
}

pub(crate) fn without_backtrace(e: candle_core::Error) -> candle_core::Error {
    match e {
        candle_core::Error::WithBacktrace { inner, .. } => without_backtrace(*inner),
        other => other,
    }
}

impl Error {
    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn invalid_model(dir: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::InvalidModel {
            dir: dir.into(),
            reason: reason.into(),
        }
    }
}

//! Reading post dumps and writing classified rows.
//!
//! [`mod@format`] tells the input format from an extension or the first bytes; [`reader`] opens a
//! streaming reader for it, one per format: [`jsonl`], [`csv`] (CSV and TSV), [`mod@parquet`],
//! spreadsheets (`sheet`) and plain text. Each
//! input row becomes exactly one [`Record`], unreadable rows included, carrying the reason. The
//! writers ([`jsonl::JsonlWriter`], [`csv::CsvWriter`], [`parquet::ParquetWriter`]) share the [`writer`] module's output columns
//! and [`RecordWriter`] trait. [`paths`] and [`checkpoint`] write an output file atomically and
//! resume an interrupted run; [`examples`] reads labeled and unlabeled data for training and
//! evaluation.
//!
//! This module knows nothing of the classifier: it depends only on the shared low types
//! ([`Record`], [`crate::prediction::Prediction`], [`crate::label::Label`]); rows meet the
//! classifier in the streaming driver, `classify::stream`, which sits above both.

pub mod checkpoint;
pub mod corpora;
pub mod csv;
pub mod decode;
pub mod examples;
pub mod format;
mod json_array;
pub mod jsonl;
mod lines;
pub mod parquet;
pub mod paths;
pub mod reader;
pub mod review;
mod sheet;
mod text;
pub mod writer;

pub use crate::record::{Fields, Record};
pub use checkpoint::{
    hash_files, hash_prefix, Checkpoint, HashingReader, InputPrefix, InputTap, RunIdentity,
};
pub use csv::CsvWriter;
pub use decode::{decode, Decoding};
pub use examples::{read_examples, read_texts, Example};
pub use format::{container, sniff, sniff_header, InputFormat, OutputFormat, Sniffed};
pub use jsonl::JsonlWriter;
pub use lines::MAX_ROW_BYTES;
pub use parquet::ParquetWriter;
pub use paths::{write_atomic, Destination, OutputPaths};
pub use reader::{
    is_parquet_file, open_stream, read_file, read_records, CountingReader, InputOptions, Records,
};
pub use review::sort_for_review;
pub use writer::{RecordWriter, OUTPUT_COLUMNS};

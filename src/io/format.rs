//! Input and output formats: from a file extension, or sniffed from the first bytes.

use std::io::BufRead;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Input file formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum InputFormat {
    /// One JSON object per line.
    Jsonl,
    /// Comma-separated with a header row.
    Csv,
    /// Tab-separated with a header row.
    Tsv,
    /// One post per line.
    Text,
}

impl InputFormat {
    /// Guesses from a file extension (`.jsonl`, `.ndjson`, `.json`, `.csv`, `.tsv`, `.txt`).
    pub fn from_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_lowercase();
        match ext.as_str() {
            "jsonl" | "ndjson" | "json" => Some(InputFormat::Jsonl),
            "csv" => Some(InputFormat::Csv),
            "tsv" | "tab" => Some(InputFormat::Tsv),
            "txt" | "text" => Some(InputFormat::Text),
            _ => None,
        }
    }
}

/// Output file formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum OutputFormat {
    Jsonl,
    Csv,
}

impl OutputFormat {
    /// Guesses from a file extension.
    pub fn from_path(path: &Path) -> Option<Self> {
        match InputFormat::from_path(path)? {
            InputFormat::Jsonl | InputFormat::Text => Some(OutputFormat::Jsonl),
            InputFormat::Csv | InputFormat::Tsv => Some(OutputFormat::Csv),
        }
    }
}

/// Guesses JSONL or plain text from the first non-blank byte.
pub fn sniff(r: &mut impl BufRead) -> std::io::Result<InputFormat> {
    let buf = r.fill_buf()?;
    let start = buf.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(buf);
    Ok(match start.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => InputFormat::Jsonl,
        _ => InputFormat::Text,
    })
}

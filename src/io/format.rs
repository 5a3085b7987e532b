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
    /// Guesses from a file extension (`.jsonl`, `.ndjson`, `.json`, `.csv`, `.tsv`, `.txt`), looking
    /// through a compression suffix (`dump.jsonl.gz`, `.zst`).
    pub fn from_path(path: &Path) -> Option<Self> {
        let mut ext = path.extension()?.to_str()?.to_lowercase();
        if COMPRESSED.contains(&ext.as_str()) {
            ext = Path::new(path.file_stem()?)
                .extension()?
                .to_str()?
                .to_lowercase();
        }
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

/// Extensions of compressed files, read through (the content decides how, see `io::decode`).
const COMPRESSED: [&str; 4] = ["gz", "gzip", "zst", "zstd"];

impl OutputFormat {
    /// Guesses from a file extension.
    pub fn from_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_lowercase();
        match ext.as_str() {
            "jsonl" | "ndjson" | "json" | "txt" | "text" => Some(OutputFormat::Jsonl),
            "csv" | "tsv" | "tab" => Some(OutputFormat::Csv),
            _ => None,
        }
    }

    /// The format an output path's extension names; an extension pantau cannot write is an error,
    /// never a silent fallback. `None` when the path has no extension.
    pub fn for_output(path: &Path) -> Result<Option<Self>, String> {
        match path.extension().and_then(|e| e.to_str()) {
            None => Ok(None),
            Some(ext) => Self::from_path(path).map(Some).ok_or_else(|| {
                format!(
                    "{}: pantau cannot write .{ext} files; name the output .jsonl or .csv, or choose --output-format",
                    path.display()
                )
            }),
        }
    }
}

/// What the first line of a stream says it is: JSONL when it opens an object; CSV or TSV when it
/// is a header naming the text column (split on `,` `;` `\t` or `|`, which becomes the
/// delimiter); plain text otherwise.
pub fn sniff_header(first_line: &str, text_column: &str) -> (InputFormat, Option<u8>) {
    let line = first_line.trim_start_matches('\u{feff}').trim();
    if line.starts_with('{') || line.starts_with('[') {
        return (InputFormat::Jsonl, None);
    }
    match header_delimiter(line, text_column) {
        Some(b'\t') => (InputFormat::Tsv, Some(b'\t')),
        Some(d) => (InputFormat::Csv, Some(d)),
        None => (InputFormat::Text, None),
    }
}

/// The delimiter among `,` `;` `\t` `|` whose split of a header line has a field named
/// `text_column`.
fn header_delimiter(line: &str, text_column: &str) -> Option<u8> {
    [b'\t', b',', b';', b'|'].into_iter().find(|&d| {
        line.split(d as char)
            .any(|f| f.trim().trim_matches('"').trim() == text_column)
    })
}

/// Guesses the format from the first non-blank line of a buffered stream (see [`sniff_header`]),
/// without consuming it.
pub fn sniff(
    r: &mut impl BufRead,
    text_column: &str,
) -> std::io::Result<(InputFormat, Option<u8>)> {
    let buf = r.fill_buf()?;
    let start = buf.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(buf);
    let text = String::from_utf8_lossy(&start[..start.len().min(1 << 16)]);
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    Ok(sniff_header(first, text_column))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressed_names_are_read_through_and_unknown_output_extensions_refused() {
        assert_eq!(
            InputFormat::from_path(Path::new("d.jsonl.gz")),
            Some(InputFormat::Jsonl)
        );
        assert_eq!(
            InputFormat::from_path(Path::new("d.CSV.zst")),
            Some(InputFormat::Csv)
        );
        assert_eq!(InputFormat::from_path(Path::new("d.gz")), None);
        assert!(OutputFormat::for_output(Path::new("o.parquet"))
            .unwrap_err()
            .contains(".parquet"));
        assert!(OutputFormat::for_output(Path::new("o.jsonl.gz")).is_err());
        assert_eq!(OutputFormat::for_output(Path::new("o")), Ok(None));
        assert_eq!(
            OutputFormat::for_output(Path::new("o.csv")),
            Ok(Some(OutputFormat::Csv))
        );
    }

    #[test]
    fn a_header_naming_the_text_column_is_csv_with_its_delimiter() {
        assert_eq!(
            sniff_header("{\"text\": 1}", "text"),
            (InputFormat::Jsonl, None)
        );
        assert_eq!(
            sniff_header("id;text;akun", "text"),
            (InputFormat::Csv, Some(b';'))
        );
        assert_eq!(
            sniff_header("\"id\",\"text\"", "text"),
            (InputFormat::Csv, Some(b','))
        );
        assert_eq!(
            sniff_header("id\ttext", "text"),
            (InputFormat::Tsv, Some(b'\t'))
        );
        assert_eq!(
            sniff_header("id|isi", "isi"),
            (InputFormat::Csv, Some(b'|'))
        );
        // A post with commas is still a post.
        assert_eq!(
            sniff_header("Selamat pagi, semua, ayo", "text"),
            (InputFormat::Text, None)
        );
    }
}

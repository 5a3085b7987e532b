//! Input and output formats: from a file extension, or sniffed from the content (container magic
//! bytes, then the first non-blank line).

use std::io::{Cursor, Read};
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
    /// Apache Parquet (the text column by name, other columns kept).
    Parquet,
    /// A spreadsheet: Excel (.xlsx, .xlsm, .xlsb, .xls) or OpenDocument (.ods); the first sheet,
    /// its first row the header.
    #[value(alias = "xls", alias = "ods")]
    Xlsx,
}

impl InputFormat {
    /// Guesses from a file extension (`.jsonl`, `.ndjson`, `.json`, `.csv`, `.tsv`, `.txt`,
    /// `.parquet`, `.xlsx`, `.ods`, …), looking through a compression suffix (`dump.jsonl.gz`, `.zst`).
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
            "parquet" | "pq" => Some(InputFormat::Parquet),
            "xlsx" | "xlsm" | "xlsb" | "xls" | "ods" => Some(InputFormat::Xlsx),
            _ => None,
        }
    }

    /// Whether the format is a container read as a whole (from a file, never line by line).
    pub fn is_container(self) -> bool {
        matches!(self, InputFormat::Parquet | InputFormat::Xlsx)
    }
}

/// The container format whose magic bytes open `head`: `PAR1` (Parquet), a zip archive (XLSX,
/// ODS) or an OLE compound file (XLS).
pub fn container(head: &[u8]) -> Option<InputFormat> {
    if head.starts_with(b"PAR1") {
        Some(InputFormat::Parquet)
    } else if head.starts_with(b"PK\x03\x04")
        || head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1])
    {
        Some(InputFormat::Xlsx)
    } else {
        None
    }
}

/// Output file formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum OutputFormat {
    Jsonl,
    Csv,
    Parquet,
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
            "parquet" | "pq" => Some(OutputFormat::Parquet),
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
                    "{}: pantau cannot write .{ext} files; name the output .jsonl, .csv or .parquet, or choose --output-format",
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

/// Bytes always looked at before deciding (as `io::decode` does), and the most read while the
/// stream is still blank: a file may open with many blank lines before its first row.
const SNIFF_MIN: usize = 64 * 1024;
const SNIFF_MAX: usize = 16 << 20;

/// What a stream holds: the format, the CSV delimiter when it is one, and the stream itself, whole
/// (the bytes looked at are given back in front).
pub struct Sniffed<'a> {
    pub format: InputFormat,
    pub delimiter: Option<u8>,
    pub reader: Box<dyn Read + 'a>,
}

/// Guesses the format of a stream: a container from its magic bytes, else from its first non-blank
/// line (see [`sniff_header`]). Reads until that line is complete (or 16 MiB), so
/// neither a short first read nor a long run of blank lines makes a JSONL or CSV stream look like
/// plain text.
pub fn sniff<'a>(mut r: Box<dyn Read + 'a>, text_column: &str) -> std::io::Result<Sniffed<'a>> {
    let mut head: Vec<u8> = Vec::with_capacity(SNIFF_MIN);
    let mut chunk = vec![0u8; SNIFF_MIN];
    // Bytes known to be blank (after a BOM), and the first non-blank line once it is complete.
    let mut blank = 0;
    let mut first_line: Option<(usize, usize)> = None;
    let mut eof = false;
    while first_line.is_none() && !eof && head.len() < SNIFF_MAX {
        match r.read(&mut chunk) {
            Ok(0) => eof = true,
            Ok(n) => head.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        if head.len() < SNIFF_MIN && !eof {
            continue;
        }
        if blank == 0 && head.starts_with(b"\xEF\xBB\xBF") {
            blank = 3;
        }
        match head[blank..].iter().position(|b| !b.is_ascii_whitespace()) {
            None => blank = head.len(),
            Some(i) => {
                let begin = blank + i;
                blank = begin;
                let end = head[begin..].iter().position(|&b| b == b'\n');
                // A first line longer than a window is judged by its start.
                if end.is_some() || eof || head.len() - begin >= SNIFF_MIN {
                    first_line = Some((begin, end.map_or(head.len(), |j| begin + j)));
                }
            }
        }
    }
    let (format, delimiter) = match (container(&head), first_line) {
        (Some(f), _) => (f, None),
        (None, Some((b, e))) => sniff_header(&String::from_utf8_lossy(&head[b..e]), text_column),
        (None, None) => (InputFormat::Text, None),
    };
    Ok(Sniffed {
        format,
        delimiter,
        reader: Box::new(Cursor::new(head).chain(r)),
    })
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
        assert!(OutputFormat::for_output(Path::new("o.xlsx"))
            .unwrap_err()
            .contains(".xlsx"));
        assert_eq!(
            OutputFormat::for_output(Path::new("o.parquet")),
            Ok(Some(OutputFormat::Parquet))
        );
        assert_eq!(
            InputFormat::from_path(Path::new("Ekspor.XLSX")),
            Some(InputFormat::Xlsx)
        );
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

    fn sniffed(input: &[u8]) -> (InputFormat, Option<u8>, Vec<u8>) {
        let mut s = sniff(Box::new(input), "text").unwrap();
        let mut back = Vec::new();
        s.reader.read_to_end(&mut back).unwrap();
        (s.format, s.delimiter, back)
    }

    #[test]
    fn sniffing_looks_past_blank_lines_and_short_reads_and_gives_every_byte_back() {
        let mut input = vec![b'\n'; 70_000];
        input.extend_from_slice(b"{\"text\": \"halo\"}\n");
        let (f, _, back) = sniffed(&input);
        assert_eq!((f, back.as_slice()), (InputFormat::Jsonl, input.as_slice()));
        // A stream that hands out one byte per read (a pipe at its slowest), BOM first.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = self.0.len().min(1).min(buf.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let csv = b"\xEF\xBB\xBF\n\nid;text\n1;halo\n";
        let s = sniff(Box::new(Trickle(csv)), "text").unwrap();
        assert_eq!((s.format, s.delimiter), (InputFormat::Csv, Some(b';')));
        assert_eq!(sniffed(b"").0, InputFormat::Text);
        assert_eq!(sniffed(b"\n \n").0, InputFormat::Text);
        assert_eq!(sniffed(b"PAR1\x15\x04").0, InputFormat::Parquet);
        assert_eq!(sniffed(b"PK\x03\x04\x14\x00").0, InputFormat::Xlsx);
    }
}

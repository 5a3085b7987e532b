//! Opening a streaming record reader over any byte source, in any input format.
//!
//! Every input row becomes exactly one [`Record`]; a row that cannot be read (bad UTF-8, malformed
//! JSON, wrong CSV column count, missing or empty text) still becomes a record, carrying the reason,
//! so the writer can emit an error row in its place and nothing is lost.

use std::io::Read;

use std::io::BufRead;

use crate::error::{Error, Result};
use crate::io::csv::CsvRecords;
use crate::io::decode::decode;
use crate::io::format::{sniff, InputFormat};
use crate::io::json_array::{starts_array, ArrayLines};
use crate::io::jsonl::JsonlRecords;
use crate::io::lines::MAX_ROW_BYTES;
use crate::io::text::TextRecords;
use crate::record::Record;

/// Which field or column holds the post text.
#[derive(Clone, Debug)]
pub struct InputOptions {
    pub format: InputFormat,
    /// JSONL field name.
    pub text_field: String,
    /// CSV/TSV column name.
    pub text_column: String,
    /// CSV field delimiter; `None` finds it from the header (the one among `,` `;` `\t` `|` that
    /// splits off the text column). TSV is always tab-separated and read without quote rules.
    pub delimiter: Option<u8>,
    /// Longest row kept in memory, in bytes (JSONL and text): a longer text line is classified
    /// from its first bytes, a longer JSON line becomes an error row.
    pub max_row_bytes: usize,
}

impl Default for InputOptions {
    fn default() -> Self {
        InputOptions {
            format: InputFormat::Jsonl,
            text_field: "text".into(),
            text_column: "text".into(),
            delimiter: None,
            max_row_bytes: MAX_ROW_BYTES,
        }
    }
}

/// Counts bytes read so progress can be shown against a file's size.
pub struct CountingReader<R> {
    inner: R,
    count: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

impl<R> CountingReader<R> {
    /// Wraps `inner`; the returned counter grows as bytes are read.
    pub fn new(inner: R) -> (Self, std::sync::Arc<std::sync::atomic::AtomicU64>) {
        let count = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        (
            CountingReader {
                inner,
                count: count.clone(),
            },
            count,
        )
    }
}

/// A streaming reader of records, with the CSV/TSV header when the input has one.
pub struct Records<'a> {
    /// Column names (CSV/TSV input); empty for JSONL and text.
    pub headers: Vec<String>,
    iter: Box<dyn Iterator<Item = Result<Record>> + 'a>,
}

impl Iterator for Records<'_> {
    type Item = Result<Record>;
    fn next(&mut self) -> Option<Self::Item> {
        self.iter.next()
    }
}

/// Opens a file as [`read_records`] does a stream, decompressed and transcoded first
/// ([`crate::io::decode`]); errors name the path.
pub fn read_file(path: &std::path::Path, opts: &InputOptions) -> Result<Records<'static>> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let (decoded, _) = decode(Box::new(file), &name, None)?;
    read_records(decoded, &name, opts)
}

/// Opens a streaming record reader over any byte source. `name` is used in messages (a path or `<stdin>`).
pub fn read_records<'a, R: Read + 'a>(
    source: R,
    name: &str,
    opts: &InputOptions,
) -> Result<Records<'a>> {
    match opts.format {
        InputFormat::Jsonl => {
            // A JSON array file is read element by element, as if it were JSONL.
            let mut source = std::io::BufReader::with_capacity(1 << 16, source);
            let head = source.fill_buf().map_err(|e| Error::io(name, e))?;
            let source: Box<dyn Read + 'a> = if starts_array(head) {
                Box::new(ArrayLines::new(source))
            } else {
                Box::new(source)
            };
            Ok(Records {
                headers: Vec::new(),
                iter: Box::new(JsonlRecords::new(
                    source,
                    name,
                    &opts.text_field,
                    opts.max_row_bytes,
                )),
            })
        }
        InputFormat::Text => Ok(Records {
            headers: Vec::new(),
            iter: Box::new(TextRecords::new(source, name, opts.max_row_bytes)),
        }),
        InputFormat::Csv | InputFormat::Tsv => {
            let tsv = opts.format == InputFormat::Tsv;
            let mut source = std::io::BufReader::with_capacity(1 << 16, source);
            let delim = match (opts.delimiter, tsv) {
                (Some(d), _) => d,
                (None, true) => b'\t',
                (None, false) => sniff(&mut source, &opts.text_column)
                    .map_err(|e| Error::io(name, e))?
                    .1
                    .unwrap_or(b','),
            };
            // A tweet that starts with `"` is text in a TSV, not the start of a quoted field: tab
            // separated input (a .tsv, or a .csv whose header splits on tabs) has no quote rules.
            let r = CsvRecords::new(source, name, delim, delim != b'\t', &opts.text_column)?;
            Ok(Records {
                headers: r.headers.clone(),
                iter: Box::new(r),
            })
        }
    }
}

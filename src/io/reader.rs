//! Opening a streaming record reader over any byte source, in any input format.
//!
//! Every input row becomes exactly one [`Record`]; a row that cannot be read (bad UTF-8, malformed
//! JSON, wrong CSV column count, missing or empty text) still becomes a record, carrying the reason,
//! so the writer can emit an error row in its place and nothing is lost.

use std::io::{BufRead, Read};

use crate::error::{Error, Result};
use crate::io::csv::CsvRecords;
use crate::io::decode::{decode, Decoding};
use crate::io::format::{container, sniff, InputFormat, Sniffed};
use crate::io::json_array::{starts_array, ArrayLines};
use crate::io::jsonl::JsonlRecords;
use crate::io::lines::MAX_ROW_BYTES;
use crate::io::parquet::ParquetRecords;
use crate::io::sheet::SheetRecords;
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
    /// CSV/TSV and spreadsheets: the first row is data, not a header (the text column is then
    /// given by number).
    pub no_headers: bool,
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
            no_headers: false,
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
/// ([`mod@crate::io::decode`]); errors name the path. A Parquet file is read in place.
pub fn read_file(path: &std::path::Path, opts: &InputOptions) -> Result<Records<'static>> {
    let name = path.display().to_string();
    let open = || std::fs::File::open(path).map_err(|e| Error::io(path, e));
    if is_parquet_file(path)? {
        return parquet(open()?, &name, opts);
    }
    let (decoded, _) = decode(Box::new(open()?), &name, None)?;
    read_records(decoded, &name, opts)
}

/// Whether the file at `path` is Parquet (it opens with `PAR1`), and so can be read in place.
pub fn is_parquet_file(path: &std::path::Path) -> Result<bool> {
    let mut head = Vec::with_capacity(4);
    std::fs::File::open(path)
        .and_then(|f| f.take(4).read_to_end(&mut head))
        .map_err(|e| Error::io(path, e))?;
    Ok(container(&head) == Some(InputFormat::Parquet))
}

fn parquet(file: std::fs::File, name: &str, opts: &InputOptions) -> Result<Records<'static>> {
    let names = [opts.text_column.as_str(), opts.text_field.as_str()];
    Ok(Records {
        headers: Vec::new(),
        iter: Box::new(ParquetRecords::new(file, name, &names)?),
    })
}

/// Decodes a raw input stream ([`decode`]: decompressed, transcoded with `encoding` or as sniffed)
/// and tells its format: `declared` (a flag or the file's extension) unless the content is a
/// container (Parquet, a spreadsheet), else sniffed. The CSV delimiter is the sniffed one when the
/// header shows it. Hand the result's reader and format to [`read_records`].
pub fn open_stream<'a>(
    source: Box<dyn Read + 'a>,
    name: &str,
    declared: Option<InputFormat>,
    encoding: Option<&str>,
    text_column: &str,
) -> Result<(Sniffed<'a>, Decoding)> {
    let (decoded, decoding) = decode(source, name, encoding)?;
    let mut s = sniff(decoded, text_column).map_err(|e| Error::io(name, e))?;
    if let Some(d) = declared.filter(|_| !s.format.is_container()) {
        if d != s.format {
            s.delimiter = None;
        }
        s.format = d;
    }
    Ok((s, decoding))
}

/// Opens a streaming record reader over any byte source. `name` is used in messages (a path or
/// `<stdin>`). A stream that opens with a container's magic bytes is read as that container,
/// whatever `opts.format` says: a Parquet stream (stdin, or decompressed) is first copied to a
/// temporary file, since Parquet is read from its end.
pub fn read_records<'a, R: Read + 'a>(
    source: R,
    name: &str,
    opts: &InputOptions,
) -> Result<Records<'a>> {
    let mut source = std::io::BufReader::with_capacity(1 << 16, source);
    let head = source.fill_buf().map_err(|e| Error::io(name, e))?;
    let format = container(head).unwrap_or(opts.format);
    match format {
        InputFormat::Parquet => {
            let mut spill = tempfile::tempfile().map_err(|e| Error::io(name, e))?;
            std::io::copy(&mut source, &mut spill).map_err(|e| Error::io(name, e))?;
            Ok(parquet(spill, name, opts)?.into_any())
        }
        InputFormat::Xlsx => {
            let mut bytes = Vec::new();
            source
                .read_to_end(&mut bytes)
                .map_err(|e| Error::io(name, e))?;
            let r = SheetRecords::new(bytes, name, &opts.text_column, opts.no_headers)?;
            Ok(Records {
                headers: r.headers.clone(),
                iter: Box::new(r),
            })
        }
        InputFormat::Jsonl => {
            // A JSON array file is read element by element, as if it were JSONL.
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
            let tsv = format == InputFormat::Tsv;
            let (delim, source): (u8, Box<dyn Read + 'a>) = match (opts.delimiter, tsv) {
                (Some(d), _) => (d, Box::new(source)),
                (None, true) => (b'\t', Box::new(source)),
                (None, false) => {
                    let s = sniff(Box::new(source), &opts.text_column)
                        .map_err(|e| Error::io(name, e))?;
                    (s.delimiter.unwrap_or(b','), s.reader)
                }
            };
            // A tweet that starts with `"` is text in a TSV, not the start of a quoted field: tab
            // separated input (a .tsv, or a .csv whose header splits on tabs) has no quote rules.
            let r = CsvRecords::with_limit(
                source,
                name,
                delim,
                delim != b'\t',
                &opts.text_column,
                opts.no_headers,
                opts.max_row_bytes,
            )?;
            Ok(Records {
                headers: r.headers.clone(),
                iter: Box::new(r),
            })
        }
    }
}

impl Records<'static> {
    /// The same records, for any lifetime.
    fn into_any<'a>(self) -> Records<'a> {
        Records {
            headers: self.headers,
            iter: self.iter,
        }
    }
}

//! Reading post dumps and writing classified rows.
//!
//! Readers are streaming iterators. Every input row becomes exactly one [`Record`]; a row that cannot be
//! read (bad UTF-8, malformed JSON, wrong CSV column count, missing or empty text) still becomes a
//! record, carrying the reason, so the writer can emit an error row in its place and nothing is lost.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::classifier::Prediction;
use crate::error::{Error, Result};
use crate::label::Label;

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

/// The input fields of one row, kept so the output can repeat them.
#[derive(Clone, Debug, PartialEq)]
pub enum Fields {
    /// A JSON object (JSONL input).
    Object(Map<String, Value>),
    /// CSV/TSV cells in header order.
    Columns(Vec<String>),
    /// A plain-text line.
    Line(String),
    /// A row that could not be parsed, as (lossily decoded) text.
    Raw(String),
}

/// One input row.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// 1-based row number: the line for JSONL and text, the data record (header excluded) for CSV/TSV.
    pub row: u64,
    pub fields: Fields,
    /// The text to classify, or why there is none.
    pub text: std::result::Result<String, String>,
}

/// Which field or column holds the post text.
#[derive(Clone, Debug)]
pub struct InputOptions {
    pub format: InputFormat,
    /// JSONL field name.
    pub text_field: String,
    /// CSV/TSV column name.
    pub text_column: String,
}

impl Default for InputOptions {
    fn default() -> Self {
        InputOptions {
            format: InputFormat::Jsonl,
            text_field: "text".into(),
            text_column: "text".into(),
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

/// Opens a streaming record reader over any byte source. `name` is used in messages (a path or `<stdin>`).
pub fn read_records<'a, R: Read + 'a>(
    source: R,
    name: &str,
    opts: &InputOptions,
) -> Result<Records<'a>> {
    match opts.format {
        InputFormat::Jsonl | InputFormat::Text => Ok(Records {
            headers: Vec::new(),
            iter: Box::new(LineRecords {
                reader: BufReader::with_capacity(1 << 16, source),
                name: name.to_string(),
                line: 0,
                buf: Vec::new(),
                json: opts.format == InputFormat::Jsonl,
                field: opts.text_field.clone(),
            }),
        }),
        InputFormat::Csv | InputFormat::Tsv => {
            let delim = if opts.format == InputFormat::Csv {
                b','
            } else {
                b'\t'
            };
            let r = CsvRecords::new(source, name, delim, &opts.text_column)?;
            Ok(Records {
                headers: r.headers.clone(),
                iter: Box::new(r),
            })
        }
    }
}

struct LineRecords<R> {
    reader: BufReader<R>,
    name: String,
    line: u64,
    buf: Vec<u8>,
    json: bool,
    field: String,
}

impl<R: Read> Iterator for LineRecords<R> {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            self.buf.clear();
            match self.reader.read_until(b'\n', &mut self.buf) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => return Some(Err(Error::io(&self.name, e))),
            }
            self.line += 1;
            let mut bytes: &[u8] = &self.buf;
            if self.line == 1 {
                bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
            }
            while let Some(b) = bytes
                .strip_suffix(b"\n")
                .or_else(|| bytes.strip_suffix(b"\r"))
            {
                bytes = b;
            }
            // Blank lines separate nothing in JSONL; they are not rows.
            if self.json && bytes.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Some(Ok(self.parse(bytes)));
        }
    }
}

impl<R> LineRecords<R> {
    fn parse(&self, bytes: &[u8]) -> Record {
        let row = self.line;
        let text = match std::str::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                return Record {
                    row,
                    fields: Fields::Raw(String::from_utf8_lossy(bytes).into_owned()),
                    text: Err(format!(
                        "invalid UTF-8 at byte {}: re-encode the file as UTF-8",
                        e.valid_up_to()
                    )),
                }
            }
        };
        if !self.json {
            return Record {
                row,
                fields: Fields::Line(text.to_string()),
                text: non_empty(text.to_string()),
            };
        }
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => {
                let t = match map.get(&self.field) {
                    Some(Value::String(s)) => non_empty(s.clone()),
                    Some(Value::Null) | None => Err(format!(
                        "missing text field {:?}: choose the field with --text-field",
                        self.field
                    )),
                    Some(other) => Err(format!(
                        "field {:?} is {}, not a string",
                        self.field,
                        json_type(other)
                    )),
                };
                Record {
                    row,
                    fields: Fields::Object(map),
                    text: t,
                }
            }
            Ok(other) => Record {
                row,
                fields: Fields::Raw(text.to_string()),
                text: Err(format!(
                    "expected a JSON object, found {}",
                    json_type(&other)
                )),
            },
            Err(e) => Record {
                row,
                fields: Fields::Raw(text.to_string()),
                text: Err(format!("malformed JSON: {e}")),
            },
        }
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn non_empty(s: String) -> std::result::Result<String, String> {
    if s.trim().is_empty() {
        Err("empty text".into())
    } else {
        Ok(s)
    }
}

struct CsvRecords<R> {
    reader: csv::Reader<R>,
    name: String,
    headers: Vec<String>,
    width: usize,
    text_col: usize,
    row: u64,
    record: csv::ByteRecord,
}

impl<R: Read> CsvRecords<R> {
    fn new(source: R, name: &str, delimiter: u8, column: &str) -> Result<Self> {
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .flexible(true)
            .has_headers(true)
            .from_reader(source);
        let headers = reader.byte_headers().map_err(|e| Error::BadInput {
            path: name.into(),
            reason: format!("cannot read the header row: {e}"),
        })?;
        let headers: Vec<String> = headers
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let h = String::from_utf8_lossy(h).into_owned();
                if i == 0 {
                    h.trim_start_matches('\u{feff}').to_string()
                } else {
                    h
                }
            })
            .collect();
        let text_col = headers
            .iter()
            .position(|h| h.trim() == column)
            .ok_or_else(|| Error::BadInput {
                path: name.into(),
                reason: format!(
                    "no column named {column:?} in the header ({}); choose one with --text-column",
                    headers.join(", ")
                ),
            })?;
        Ok(CsvRecords {
            reader,
            name: name.into(),
            width: headers.len(),
            headers,
            text_col,
            row: 0,
            record: csv::ByteRecord::new(),
        })
    }
}

impl<R: Read> Iterator for CsvRecords<R> {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        let more = match self.reader.read_byte_record(&mut self.record) {
            Ok(more) => more,
            Err(e) => {
                if let csv::ErrorKind::Io(_) = e.kind() {
                    return Some(Err(Error::BadInput {
                        path: self.name.clone(),
                        reason: e.to_string(),
                    }));
                }
                // A parse error still consumed a row: report it and go on.
                self.row += 1;
                return Some(Ok(Record {
                    row: self.row,
                    fields: Fields::Raw(String::new()),
                    text: Err(format!("unreadable CSV row: {e}")),
                }));
            }
        };
        if !more {
            return None;
        }
        self.row += 1;
        let mut bad_utf8 = None;
        let cells: Vec<String> = self
            .record
            .iter()
            .enumerate()
            .map(|(i, c)| match std::str::from_utf8(c) {
                Ok(s) => s.to_string(),
                Err(e) => {
                    bad_utf8.get_or_insert((i, e.valid_up_to()));
                    String::from_utf8_lossy(c).into_owned()
                }
            })
            .collect();
        let text = if let Some((col, at)) = bad_utf8 {
            Err(format!(
                "invalid UTF-8 in column {} at byte {at}: re-encode the file as UTF-8",
                col + 1
            ))
        } else if cells.len() != self.width {
            Err(format!(
                "expected {} columns, found {}: check quoting on this row",
                self.width,
                cells.len()
            ))
        } else {
            non_empty(cells[self.text_col].clone())
        };
        Some(Ok(Record {
            row: self.row,
            fields: Fields::Columns(cells),
            text,
        }))
    }
}

/// Names of the columns pantau adds to every output row.
pub const OUTPUT_COLUMNS: [&str; 5] = [
    "label",
    "p_neutral",
    "p_promotional",
    "p_campaigning",
    "error",
];

/// Renames an input column that would collide with an output column (`label` → `label_input`).
fn input_name(name: &str) -> String {
    if OUTPUT_COLUMNS.contains(&name) || name == "row" {
        format!("{name}_input")
    } else {
        name.to_string()
    }
}

/// Writes one output row per record.
pub trait RecordWriter {
    /// Writes `record` with its prediction, or with the reason it has none.
    fn write(
        &mut self,
        record: &Record,
        outcome: std::result::Result<&Prediction, &str>,
    ) -> Result<()>;
    /// Flushes buffered rows to the underlying file.
    fn flush(&mut self) -> Result<()>;
    /// Bytes handed to the underlying writer so far (for checkpoints).
    fn bytes_written(&self) -> u64;
    /// Column layout, when the format has one (CSV), so a resumed run can continue it.
    fn columns(&self) -> Option<Vec<String>> {
        None
    }
}

/// Counts bytes on their way to the file.
struct Counted<W> {
    inner: W,
    n: u64,
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.n += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// JSONL output: the input object (or `{"row", "text"}` for text lines) plus `label` and `p_*`;
/// error rows add `row` and `error`.
pub struct JsonlWriter<W: Write> {
    out: BufWriter<Counted<W>>,
    name: String,
    input_headers: Vec<String>,
    base: u64,
}

impl<W: Write> JsonlWriter<W> {
    /// `name` is used in error messages; `input_headers` names CSV/TSV cells (empty for other
    /// inputs); `base` is the size of output already on disk (resume).
    pub fn new(out: W, name: &str, input_headers: Vec<String>, base: u64) -> Self {
        JsonlWriter {
            out: BufWriter::with_capacity(1 << 16, Counted { inner: out, n: 0 }),
            name: name.into(),
            input_headers,
            base,
        }
    }
}

/// The output object for a record, shared by the JSONL and CSV writers.
fn output_object(
    record: &Record,
    outcome: std::result::Result<&Prediction, &str>,
    headers: &[String],
) -> Map<String, Value> {
    let mut obj = Map::new();
    match &record.fields {
        Fields::Object(m) => {
            for (k, v) in m {
                obj.insert(input_name(k), v.clone());
            }
        }
        Fields::Columns(cells) => {
            for (i, c) in cells.iter().enumerate() {
                let key = headers
                    .get(i)
                    .map(|h| input_name(h))
                    .unwrap_or_else(|| format!("extra_{}", i + 1));
                obj.insert(key, Value::String(c.clone()));
            }
        }
        Fields::Line(l) => {
            obj.insert("row".into(), record.row.into());
            obj.insert("text".into(), Value::String(l.clone()));
        }
        Fields::Raw(r) => {
            obj.insert("row".into(), record.row.into());
            obj.insert("raw".into(), Value::String(r.clone()));
        }
    }
    match outcome {
        Ok(p) => {
            obj.insert("label".into(), Value::String(p.label.to_string()));
            for l in Label::ALL {
                obj.insert(format!("p_{l}"), json_prob(p.probability(l)));
            }
        }
        Err(reason) => {
            obj.insert("row".into(), record.row.into());
            obj.insert("label".into(), Value::Null);
            for l in Label::ALL {
                obj.insert(format!("p_{l}"), Value::Null);
            }
            obj.insert("error".into(), Value::String(reason.into()));
        }
    }
    obj
}

fn json_prob(p: f32) -> Value {
    // Six decimals keep files small and are far below the model's own precision.
    let rounded = (p as f64 * 1e6).round() / 1e6;
    serde_json::Number::from_f64(rounded)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

impl<W: Write> RecordWriter for JsonlWriter<W> {
    fn write(
        &mut self,
        record: &Record,
        outcome: std::result::Result<&Prediction, &str>,
    ) -> Result<()> {
        let obj = output_object(record, outcome, &self.input_headers);
        serde_json::to_writer(&mut self.out, &obj)
            .map_err(|e| Error::io(&self.name, std::io::Error::other(e)))?;
        self.out
            .write_all(b"\n")
            .map_err(|e| Error::io(&self.name, e))
    }

    fn flush(&mut self) -> Result<()> {
        self.out.flush().map_err(|e| Error::io(&self.name, e))
    }

    fn bytes_written(&self) -> u64 {
        self.base + self.out.get_ref().n
    }
}

/// CSV output: the input columns (renamed on collision) followed by [`OUTPUT_COLUMNS`].
/// For JSONL input the columns are the first object's keys; keys that only later rows have go,
/// as a JSON object, into a trailing `extra` column so no field is lost.
pub struct CsvWriter<W: Write> {
    out: csv::Writer<Counted<W>>,
    name: String,
    columns: Option<Vec<String>>,
    input_headers: Vec<String>,
    base: u64,
}

impl<W: Write> CsvWriter<W> {
    /// `input_headers`: the CSV input's header (empty for JSONL/text input). `columns`: a layout to
    /// continue (resume), in which case no header is written.
    pub fn new(
        out: W,
        name: &str,
        input_headers: Vec<String>,
        columns: Option<Vec<String>>,
        base: u64,
    ) -> Self {
        CsvWriter {
            out: csv::WriterBuilder::new()
                .flexible(true)
                .from_writer(Counted { inner: out, n: 0 }),
            name: name.into(),
            columns,
            input_headers,
            base,
        }
    }

    fn layout_for(&self, record: &Record) -> Vec<String> {
        let mut cols: Vec<String> = if !self.input_headers.is_empty() {
            self.input_headers.iter().map(|h| input_name(h)).collect()
        } else {
            match &record.fields {
                Fields::Object(m) => m.keys().map(|k| input_name(k)).collect(),
                Fields::Columns(_) | Fields::Line(_) | Fields::Raw(_) => {
                    vec!["row".into(), "text".into()]
                }
            }
        };
        for c in OUTPUT_COLUMNS {
            if !cols.iter().any(|x| x == c) {
                cols.push(c.into());
            }
        }
        cols.push("extra".into());
        cols
    }
}

impl<W: Write> RecordWriter for CsvWriter<W> {
    fn write(
        &mut self,
        record: &Record,
        outcome: std::result::Result<&Prediction, &str>,
    ) -> Result<()> {
        if self.columns.is_none() {
            let cols = self.layout_for(record);
            self.out
                .write_record(&cols)
                .map_err(|e| Error::io(&self.name, std::io::Error::other(e)))?;
            self.columns = Some(cols);
        }
        let cols = self.columns.as_ref().expect("set above");
        let mut obj = output_object(record, outcome, &self.input_headers);
        if let Fields::Raw(_) = record.fields {
            // Keep the unparsed row in `text` so CSV output shows it.
            if let Some(raw) = obj.remove("raw") {
                obj.insert("text".into(), raw);
            }
        }
        let mut cells: Vec<String> = Vec::with_capacity(cols.len());
        for c in cols.iter().filter(|c| *c != "extra") {
            cells.push(match obj.remove(c) {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s,
                Some(v) => v.to_string(),
            });
        }
        cells.push(if obj.is_empty() {
            String::new()
        } else {
            Value::Object(obj).to_string()
        });
        self.out
            .write_record(&cells)
            .map_err(|e| Error::io(&self.name, std::io::Error::other(e)))
    }

    fn flush(&mut self) -> Result<()> {
        self.out.flush().map_err(|e| Error::io(&self.name, e))
    }

    fn bytes_written(&self) -> u64 {
        self.base + self.out.get_ref().n
    }

    fn columns(&self) -> Option<Vec<String>> {
        self.columns.clone()
    }
}

/// Progress of an output file being written, saved beside it so `--resume` can continue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Output rows fully written (= input rows consumed).
    pub rows: u64,
    /// Bytes of the partial output that hold exactly those rows.
    pub bytes: u64,
    /// CSV column layout, if any.
    pub columns: Option<Vec<String>>,
}

/// Files behind one output path: the partial output being written and its checkpoint.
#[derive(Clone, Debug)]
pub struct OutputPaths {
    pub final_path: PathBuf,
    pub partial: PathBuf,
    pub checkpoint: PathBuf,
}

impl OutputPaths {
    /// `out.jsonl` → `out.jsonl.partial` and `out.jsonl.partial.ckpt`, in the same directory so the
    /// final rename stays on one filesystem.
    pub fn new(final_path: &Path) -> Self {
        let mut partial = final_path.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let mut ckpt = partial.as_os_str().to_owned();
        ckpt.push(".ckpt");
        OutputPaths {
            final_path: final_path.to_path_buf(),
            partial,
            checkpoint: PathBuf::from(ckpt),
        }
    }

    /// Records progress atomically (write a temporary file, then rename).
    pub fn save_checkpoint(&self, c: &Checkpoint) -> Result<()> {
        let mut tmp = self.checkpoint.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let json = serde_json::to_vec(c).expect("checkpoint serializes");
        std::fs::write(&tmp, json).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, &self.checkpoint).map_err(|e| Error::io(&self.checkpoint, e))
    }

    /// Opens the partial output for a resumed run: cuts it back to the last checkpoint and returns
    /// the file positioned at its end, with the checkpoint.
    pub fn reopen(&self) -> Result<(File, Checkpoint)> {
        let text = std::fs::read_to_string(&self.checkpoint).map_err(|e| {
            Error::io(
                &self.checkpoint,
                std::io::Error::new(
                    e.kind(),
                    format!("{e}: nothing to resume (run without --resume)"),
                ),
            )
        })?;
        let c: Checkpoint = serde_json::from_str(&text).map_err(|e| Error::BadInput {
            path: self.checkpoint.display().to_string(),
            reason: format!(
                "corrupt checkpoint ({e}); delete it and the .partial file and start over"
            ),
        })?;
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.partial)
            .map_err(|e| Error::io(&self.partial, e))?;
        let len = f.metadata().map_err(|e| Error::io(&self.partial, e))?.len();
        if len < c.bytes {
            return Err(Error::BadInput {
                path: self.partial.display().to_string(),
                reason: format!(
                    "is {len} bytes but the checkpoint records {}; delete both files and start over",
                    c.bytes
                ),
            });
        }
        f.set_len(c.bytes)
            .map_err(|e| Error::io(&self.partial, e))?;
        f.seek(std::io::SeekFrom::End(0))
            .map_err(|e| Error::io(&self.partial, e))?;
        Ok((f, c))
    }

    /// Moves the finished output into place and removes the checkpoint.
    pub fn finish(&self) -> Result<()> {
        std::fs::rename(&self.partial, &self.final_path)
            .map_err(|e| Error::io(&self.final_path, e))?;
        match std::fs::remove_file(&self.checkpoint) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(&self.checkpoint, e)),
        }
    }
}

/// A labeled example for training and evaluation.
#[derive(Clone, Debug, PartialEq)]
pub struct Example {
    pub text: String,
    pub label: Label,
    /// The case type (`kind` field), when the data has one.
    pub kind: Option<String>,
}

/// Opens `path` with the default input options, in the format its extension names (`fallback`
/// when it names none); returns the name errors should use and the records.
fn open_records(path: &Path, fallback: InputFormat) -> Result<(String, Records<'static>)> {
    let format = InputFormat::from_path(path).unwrap_or(fallback);
    let name = path.display().to_string();
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let opts = InputOptions {
        format,
        ..InputOptions::default()
    };
    let records = read_records(file, &name, &opts)?;
    Ok((name, records))
}

/// Reads labeled examples from JSONL (fields `text`, `label`, optional `kind`) or CSV/TSV (same column
/// names). Labels may use the Indonesian names. Any bad row is an error naming the file and row.
pub fn read_examples(path: &Path) -> Result<Vec<Example>> {
    let (name, records) = open_records(path, InputFormat::Jsonl)?;
    let headers = records.headers.clone();
    let mut out = Vec::new();
    for rec in records {
        let rec = rec?;
        let bad = |reason: String| Error::BadRow {
            path: name.clone(),
            row: rec.row,
            reason,
        };
        let text = rec.text.clone().map_err(bad)?;
        let get = |key: &str| -> Option<String> {
            match &rec.fields {
                Fields::Object(m) => m.get(key).and_then(|v| v.as_str().map(str::to_string)),
                Fields::Columns(c) => headers
                    .iter()
                    .position(|h| h.trim() == key)
                    .and_then(|i| c.get(i).cloned()),
                _ => None,
            }
        };
        let label = get("label")
            .ok_or_else(|| bad("missing \"label\" (neutral/promotional/campaigning)".into()))?
            .parse::<Label>()
            .map_err(|e| bad(e.to_string()))?;
        out.push(Example {
            text,
            label,
            kind: get("kind").filter(|k| !k.is_empty()),
        });
    }
    if out.is_empty() {
        return Err(Error::BadInput {
            path: name,
            reason: "no examples".into(),
        });
    }
    Ok(out)
}

/// Reads unlabeled post texts: JSONL (field `text`), CSV/TSV (column `text`), or plain text, one
/// post per line (`.txt`, and any other extension). A row without usable text is an error naming
/// the file and row.
pub fn read_texts(path: &Path) -> Result<Vec<String>> {
    let (name, records) = open_records(path, InputFormat::Text)?;
    let mut out = Vec::new();
    for rec in records {
        let rec = rec?;
        out.push(rec.text.map_err(|reason| Error::BadRow {
            path: name.clone(),
            row: rec.row,
            reason,
        })?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jsonl(input: &str) -> Vec<Record> {
        read_records(input.as_bytes(), "t", &InputOptions::default())
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
    }

    #[test]
    fn jsonl_rows_and_errors() {
        let recs = jsonl("{\"text\":\"halo\",\"id\":1}\n\n{bad\n[1]\n{\"id\":2}\n{\"text\":\"  \"}\n{\"text\":5}\n");
        assert_eq!(recs.len(), 6);
        assert_eq!(recs[0].text.as_deref(), Ok("halo"));
        assert_eq!(recs[0].row, 1);
        assert_eq!(recs[1].row, 3);
        assert!(recs[1]
            .text
            .as_ref()
            .unwrap_err()
            .contains("malformed JSON"));
        assert!(recs[2].text.as_ref().unwrap_err().contains("JSON object"));
        assert!(recs[3]
            .text
            .as_ref()
            .unwrap_err()
            .contains("missing text field"));
        assert_eq!(recs[4].text.as_ref().unwrap_err(), "empty text");
        assert!(recs[5].text.as_ref().unwrap_err().contains("a number"));
    }

    #[test]
    fn bom_crlf_and_bad_utf8() {
        let mut bytes = b"\xEF\xBB\xBF{\"text\":\"a\"}\r\n".to_vec();
        bytes.extend_from_slice(b"{\"text\":\"\xff\"}\r\n");
        let recs: Vec<Record> = read_records(&bytes[..], "t", &InputOptions::default())
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(recs[0].text.as_deref(), Ok("a"));
        assert!(recs[1].text.as_ref().unwrap_err().contains("UTF-8"));
    }

    #[test]
    fn text_lines_keep_empty_lines_as_error_rows() {
        let opts = InputOptions {
            format: InputFormat::Text,
            ..Default::default()
        };
        let recs: Vec<Record> = read_records(&b"satu\n\ndua"[..], "t", &opts)
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[2].text.as_deref(), Ok("dua"));
        assert_eq!(recs[1].text.as_ref().unwrap_err(), "empty text");
    }

    #[test]
    fn csv_quoted_newlines_and_column_counts() {
        let opts = InputOptions {
            format: InputFormat::Csv,
            ..Default::default()
        };
        let data = "\u{feff}id,text\n1,\"baris\nkedua\"\n2,a,b\n3,ok\n";
        let recs: Vec<Record> = read_records(data.as_bytes(), "t", &opts)
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[0].text.as_deref(), Ok("baris\nkedua"));
        assert!(recs[1]
            .text
            .as_ref()
            .unwrap_err()
            .contains("expected 2 columns, found 3"));
        assert_eq!(recs[2].row, 3);
    }

    #[test]
    fn csv_without_the_text_column_names_the_fix() {
        let opts = InputOptions {
            format: InputFormat::Csv,
            text_column: "isi".into(),
            ..Default::default()
        };
        let err = read_records(&b"id,text\n1,a\n"[..], "dump.csv", &opts)
            .err()
            .unwrap();
        assert!(matches!(err, Error::BadInput { .. }));
        let msg = err.to_string();
        assert!(
            msg.contains("dump.csv") && msg.contains("--text-column") && msg.contains("id, text"),
            "{msg}"
        );
    }

    #[test]
    fn jsonl_writer_keeps_fields_and_renames_collisions() {
        let rec = jsonl("{\"id\":7,\"text\":\"x\",\"label\":\"netral\"}\n").remove(0);
        let mut buf = Vec::new();
        {
            let mut w = JsonlWriter::new(&mut buf, "o", Vec::new(), 0);
            let p = Prediction::from_probabilities([0.1, 0.2, 0.7]);
            w.write(&rec, Ok(&p)).unwrap();
            w.write(&rec, Err("boom")).unwrap();
            w.flush().unwrap();
        }
        let lines: Vec<Value> = String::from_utf8(buf)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["id"], 7);
        assert_eq!(lines[0]["label_input"], "netral");
        assert_eq!(lines[0]["label"], "campaigning");
        assert_eq!(lines[1]["error"], "boom");
        assert_eq!(lines[1]["row"], 1);
        assert!(lines[1]["label"].is_null());
    }

    #[test]
    fn csv_writer_keeps_columns() {
        let opts = InputOptions {
            format: InputFormat::Csv,
            ..Default::default()
        };
        let recs: Vec<Record> = read_records(&b"id,text\n1,halo\n"[..], "t", &opts)
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        let mut buf = Vec::new();
        {
            let mut w = CsvWriter::new(&mut buf, "o", vec!["id".into(), "text".into()], None, 0);
            w.write(
                &recs[0],
                Ok(&Prediction::from_probabilities([0.5, 0.25, 0.25])),
            )
            .unwrap();
            w.flush().unwrap();
        }
        let s = String::from_utf8(buf).unwrap();
        let mut lines = s.lines();
        assert_eq!(
            lines.next().unwrap(),
            "id,text,label,p_neutral,p_promotional,p_campaigning,error,extra"
        );
        assert_eq!(lines.next().unwrap(), "1,halo,neutral,0.5,0.25,0.25,,");
    }

    #[test]
    fn checkpoint_reopen_truncates_to_recorded_bytes() {
        let d = tempfile::tempdir().unwrap();
        let paths = OutputPaths::new(&d.path().join("out.jsonl"));
        std::fs::write(&paths.partial, b"row1\nrow2\nhalf").unwrap();
        let c = Checkpoint {
            rows: 2,
            bytes: 10,
            columns: None,
        };
        paths.save_checkpoint(&c).unwrap();
        let (_f, back) = paths.reopen().unwrap();
        assert_eq!(back, c);
        assert_eq!(std::fs::read(&paths.partial).unwrap(), b"row1\nrow2\n");
        paths.finish().unwrap();
        assert!(paths.final_path.exists() && !paths.checkpoint.exists());
    }

    #[test]
    fn examples_accept_indonesian_labels_and_name_bad_rows() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.jsonl");
        std::fs::write(
            &p,
            "{\"text\":\"a\",\"label\":\"kampanye\",\"kind\":\"vote_call\"}\n",
        )
        .unwrap();
        let ex = read_examples(&p).unwrap();
        assert_eq!(ex[0].label, Label::Campaigning);
        assert_eq!(ex[0].kind.as_deref(), Some("vote_call"));
        std::fs::write(
            &p,
            "{\"text\":\"a\",\"label\":\"kampanye\"}\n{\"text\":\"b\",\"label\":\"x\"}\n",
        )
        .unwrap();
        let msg = read_examples(&p).unwrap_err().to_string();
        assert!(msg.contains("row 2") && msg.contains("x.jsonl"), "{msg}");
    }

    #[test]
    fn unlabeled_texts_come_from_any_input_format() {
        let dir = tempfile::tempdir().unwrap();
        let txt = dir.path().join("dump.txt");
        std::fs::write(&txt, "satu\r\ndua tiga\n").unwrap();
        assert_eq!(read_texts(&txt).unwrap(), vec!["satu", "dua tiga"]);
        let csv = dir.path().join("dump.csv");
        std::fs::write(&csv, "id,text\n1,\"a, b\"\n2,c\n").unwrap();
        assert_eq!(read_texts(&csv).unwrap(), vec!["a, b", "c"]);
        let bad = dir.path().join("dump.jsonl");
        std::fs::write(&bad, "{\"text\":\"ok\"}\n{\"isi\":\"no text\"}\n").unwrap();
        let msg = read_texts(&bad).unwrap_err().to_string();
        assert!(msg.contains("dump.jsonl") && msg.contains("row 2"), "{msg}");
    }
}

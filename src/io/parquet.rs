//! Apache Parquet input and output, through the `parquet` crate's Arrow reader and writer.
//!
//! Input rows become [`Fields::Object`]s whose values keep their Arrow types as JSON (integers and
//! decimals as exact numbers, lists as arrays, structs as objects; dates, timestamps and other
//! types as their display text), so a Parquet dump writes the same JSONL or CSV as the same rows
//! in JSONL. Output has one schema for the whole run: the input columns (typed from the first
//! batch of rows), then [`OUTPUT_COLUMNS`], then `extra` (a JSON object of the values that did not
//! fit: a key the first rows lacked, or a value of another type), null where empty.

use std::io::Write;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float16Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type,
    UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, ListArray, RecordBatch, StringArray,
    StructArray, UInt32Array, UInt64Array,
};
use arrow_schema::{DataType, Field, Fields as ArrowFields, Schema, SchemaRef};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use serde_json::{Map, Number, Value};

use crate::error::{Error, Result};
use crate::io::writer::{output_object, RecordWriter, OUTPUT_COLUMNS};
use crate::prediction::{Prediction, Triage};
use crate::record::{non_empty, Fields, Record};

/// Rows decoded per Arrow batch on input, and buffered per batch on output.
const BATCH_ROWS: usize = 4096;

/// Reads one record per Parquet row.
pub(crate) struct ParquetRecords {
    batches: ParquetRecordBatchReader,
    name: String,
    columns: Vec<String>,
    text_col: usize,
    batch: Option<RecordBatch>,
    at: usize,
    row: u64,
}

impl ParquetRecords {
    /// Opens `file`; the text is the first of `names` that is a column (`--text-column`, then
    /// `--text-field`). `name` is used in messages.
    pub(crate) fn new(file: std::fs::File, name: &str, names: &[&str]) -> Result<Self> {
        let bad = |reason: String| Error::BadInput {
            path: name.into(),
            reason,
        };
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|e| bad(format!("is not a readable Parquet file: {e}")))?;
        let schema = builder.schema().clone();
        let columns: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
        let text_col = names
            .iter()
            .find_map(|n| columns.iter().position(|c| c == n))
            .ok_or_else(|| {
                bad(format!(
                    "no column named {:?} ({}); choose one with --text-column",
                    names[0],
                    columns.join(", ")
                ))
            })?;
        let text_type = schema.field(text_col).data_type();
        if !matches!(
            text_type,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        ) {
            return Err(bad(format!(
                "column {:?} holds {text_type}, not text; choose the text column with --text-column",
                columns[text_col]
            )));
        }
        let batches = builder
            .with_batch_size(BATCH_ROWS)
            .build()
            .map_err(|e| bad(format!("cannot read its row groups: {e}")))?;
        Ok(ParquetRecords {
            batches,
            name: name.into(),
            columns,
            text_col,
            batch: None,
            at: 0,
            row: 0,
        })
    }
}

impl Iterator for ParquetRecords {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        while self.batch.as_ref().is_none_or(|b| self.at >= b.num_rows()) {
            match self.batches.next()? {
                Ok(b) => {
                    self.batch = Some(b);
                    self.at = 0;
                }
                Err(e) => {
                    return Some(Err(Error::BadInput {
                        path: self.name.clone(),
                        reason: format!("cannot read rows after row {}: {e}", self.row),
                    }))
                }
            }
        }
        let batch = self.batch.as_ref().expect("checked above");
        let i = self.at;
        self.at += 1;
        self.row += 1;
        let mut fields = Map::with_capacity(self.columns.len());
        for (name, col) in self.columns.iter().zip(batch.columns()) {
            fields.insert(name.clone(), to_json(col.as_ref(), i));
        }
        let text = match &fields[&self.columns[self.text_col]] {
            Value::String(s) => non_empty(s.clone()),
            _ => Err(format!(
                "no text: column {:?} is null",
                self.columns[self.text_col]
            )),
        };
        Some(Ok(Record {
            row: self.row,
            offset: None,
            fields: Fields::Object(fields),
            text,
        }))
    }
}

/// The JSON value of row `i` of an Arrow array.
fn to_json(a: &dyn Array, i: usize) -> Value {
    if a.is_null(i) {
        return Value::Null;
    }
    fn number(n: impl ToString) -> Value {
        n.to_string()
            .parse::<Number>()
            .map(Value::Number)
            // NaN and the infinities have no JSON number: their text, as the JSONL reader keeps them.
            .unwrap_or_else(|_| Value::String(n.to_string()))
    }
    match a.data_type() {
        DataType::Utf8 => Value::String(a.as_string::<i32>().value(i).into()),
        DataType::LargeUtf8 => Value::String(a.as_string::<i64>().value(i).into()),
        DataType::Utf8View => Value::String(a.as_string_view().value(i).into()),
        DataType::Boolean => Value::Bool(a.as_boolean().value(i)),
        DataType::Int8 => number(a.as_primitive::<Int8Type>().value(i)),
        DataType::Int16 => number(a.as_primitive::<Int16Type>().value(i)),
        DataType::Int32 => number(a.as_primitive::<Int32Type>().value(i)),
        DataType::Int64 => number(a.as_primitive::<Int64Type>().value(i)),
        DataType::UInt8 => number(a.as_primitive::<UInt8Type>().value(i)),
        DataType::UInt16 => number(a.as_primitive::<UInt16Type>().value(i)),
        DataType::UInt32 => number(a.as_primitive::<UInt32Type>().value(i)),
        DataType::UInt64 => number(a.as_primitive::<UInt64Type>().value(i)),
        DataType::Float16 => number(a.as_primitive::<Float16Type>().value(i)),
        DataType::Float32 => number(a.as_primitive::<Float32Type>().value(i)),
        DataType::Float64 => number(a.as_primitive::<Float64Type>().value(i)),
        DataType::List(_) => list(a.as_list::<i32>().value(i)),
        DataType::LargeList(_) => list(a.as_list::<i64>().value(i)),
        DataType::Struct(fields) => {
            let s = a.as_struct();
            Value::Object(
                fields
                    .iter()
                    .zip(s.columns())
                    .map(|(f, c)| (f.name().clone(), to_json(c.as_ref(), i)))
                    .collect(),
            )
        }
        // Decimals print exactly; dates, timestamps, binary and the rest as Arrow displays them.
        DataType::Decimal128(..) | DataType::Decimal256(..) => number(display(a, i)),
        _ => Value::String(display(a, i)),
    }
}

fn list(items: ArrayRef) -> Value {
    Value::Array(
        (0..items.len())
            .map(|j| to_json(items.as_ref(), j))
            .collect(),
    )
}

fn display(a: &dyn Array, i: usize) -> String {
    let options = arrow_cast::display::FormatOptions::default();
    match arrow_cast::display::ArrayFormatter::try_new(a, &options) {
        Ok(f) => f.value(i).to_string(),
        Err(_) => String::new(),
    }
}

/// The Arrow type of an output column, and whether a JSON value fits it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Text,
    Int,
    UInt,
    Float,
    Bool,
    Names,
    Explanation,
}

impl Kind {
    fn data_type(self) -> DataType {
        match self {
            Kind::Text => DataType::Utf8,
            Kind::Int => DataType::Int64,
            Kind::UInt => DataType::UInt64,
            Kind::Float => DataType::Float64,
            Kind::Bool => DataType::Boolean,
            Kind::Names => DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            Kind::Explanation => DataType::List(Arc::new(Field::new("item", word_weight(), true))),
        }
    }

    fn fits(self, v: &Value) -> bool {
        match (self, v) {
            (_, Value::Null) | (Kind::Text, _) => true,
            (Kind::Int, Value::Number(n)) => n.as_i64().is_some(),
            (Kind::UInt, Value::Number(n)) => n.as_u64().is_some(),
            (Kind::Float, Value::Number(_)) | (Kind::Bool, Value::Bool(_)) => true,
            (Kind::Names, Value::Array(a)) => a.iter().all(Value::is_string),
            (Kind::Explanation, Value::Array(a)) => a
                .iter()
                .all(|w| w["word"].is_string() && w["weight"].is_number()),
            _ => false,
        }
    }

    /// The kind an input column's first values suggest: one JSON type throughout, else text.
    fn of_values<'v>(values: impl Iterator<Item = &'v Value>) -> Self {
        let mut kind = None;
        for v in values.filter(|v| !v.is_null()) {
            let k = match v {
                Value::Bool(_) => Kind::Bool,
                Value::Number(n) if n.as_i64().is_some() => Kind::Int,
                Value::Number(_) => Kind::Float,
                Value::Array(a) if a.iter().all(Value::is_string) => Kind::Names,
                _ => Kind::Text,
            };
            kind = Some(match (kind, k) {
                (None, k) => k,
                (Some(a), b) if a == b => a,
                (Some(Kind::Int), Kind::Float) | (Some(Kind::Float), Kind::Int) => Kind::Float,
                _ => Kind::Text,
            });
        }
        kind.unwrap_or(Kind::Text)
    }
}

fn word_weight() -> DataType {
    DataType::Struct(ArrowFields::from(vec![
        Field::new("word", DataType::Utf8, true),
        Field::new("weight", DataType::Float64, true),
    ]))
}

/// The kind of each column pantau adds.
fn output_kind(column: &str) -> Kind {
    match column {
        "row" | "offset" => Kind::UInt,
        "p_neutral" | "p_promotional" | "p_campaigning" => Kind::Float,
        "flagged" | "review" | "truncated" => Kind::Bool,
        "windows" => Kind::UInt,
        "participants" => Kind::Names,
        "explanation" => Kind::Explanation,
        _ => Kind::Text,
    }
}

/// Parquet output (module docs): rows are buffered and written 4,096 at a time, compressed
/// with zstd; the file is complete only after [`RecordWriter::finish`].
pub struct ParquetWriter<W: Write + Send> {
    /// The sink until the first batch fixes the schema, then the Arrow writer over it.
    sink: Option<W>,
    out: Option<ArrowWriter<W>>,
    name: String,
    schema: Option<(SchemaRef, Vec<Kind>)>,
    rows: Vec<Map<String, Value>>,
    triage: Triage,
    input_headers: Vec<String>,
}

impl<W: Write + Send> ParquetWriter<W> {
    /// `input_headers`: the CSV input's header (empty for other input).
    pub fn new(out: W, name: &str, input_headers: Vec<String>) -> Self {
        ParquetWriter {
            sink: Some(out),
            out: None,
            name: name.into(),
            schema: None,
            rows: Vec::with_capacity(BATCH_ROWS),
            triage: Triage::default(),
            input_headers,
        }
    }

    fn error(&self, e: impl std::fmt::Display) -> Error {
        Error::io(&self.name, std::io::Error::other(e.to_string()))
    }

    /// The schema the first rows call for: their columns in order of first appearance, then the
    /// output columns, then `extra`.
    fn schema_for(rows: &[Map<String, Value>]) -> (SchemaRef, Vec<Kind>) {
        let mut names: Vec<&String> = Vec::new();
        for r in rows {
            for k in r.keys() {
                if !OUTPUT_COLUMNS.contains(&k.as_str()) && k != "extra" && !names.contains(&k) {
                    names.push(k);
                }
            }
        }
        let mut fields = Vec::new();
        let mut kinds = Vec::new();
        for n in names {
            let kind = Kind::of_values(rows.iter().filter_map(|r| r.get(n)));
            fields.push(Field::new(n.as_str(), kind.data_type(), true));
            kinds.push(kind);
        }
        for c in OUTPUT_COLUMNS.iter().chain(&["extra"]) {
            let kind = output_kind(c);
            fields.push(Field::new(*c, kind.data_type(), true));
            kinds.push(kind);
        }
        (Arc::new(Schema::new(fields)), kinds)
    }

    /// Writes the buffered rows as one batch.
    fn write_batch(&mut self) -> Result<()> {
        if self.rows.is_empty() && self.schema.is_some() {
            return Ok(());
        }
        if self.schema.is_none() {
            let schema = Self::schema_for(&self.rows);
            let props = WriterProperties::builder()
                .set_compression(Compression::ZSTD(ZstdLevel::default()))
                .build();
            let sink = self.sink.take().expect("the sink waits for the schema");
            let w = ArrowWriter::try_new(sink, schema.0.clone(), Some(props))
                .map_err(|e| self.error(e))?;
            self.out = Some(w);
            self.schema = Some(schema);
        }
        let (schema, kinds) = self.schema.clone().expect("set above");
        let mut rows = std::mem::take(&mut self.rows);
        // What does not fit its column (or has none) goes to `extra`, so nothing is lost.
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        for r in &mut rows {
            let mut extra = Map::new();
            let keys: Vec<String> = r.keys().cloned().collect();
            for k in keys {
                let fits = names
                    .iter()
                    .position(|n| *n == k)
                    .is_some_and(|c| kinds[c].fits(&r[&k]));
                if !fits {
                    extra.insert(k.clone(), r.remove(&k).expect("a key of r"));
                }
            }
            if !extra.is_empty() {
                r.insert(
                    "extra".into(),
                    Value::String(Value::Object(extra).to_string()),
                );
            }
        }
        let columns: Vec<ArrayRef> = names
            .iter()
            .zip(&kinds)
            .map(|(n, k)| column(*k, rows.iter().map(|r| r.get(*n).unwrap_or(&Value::Null))))
            .collect();
        let batch = RecordBatch::try_new(schema, columns).map_err(|e| self.error(e))?;
        let out = self.out.as_mut().expect("created with the schema");
        out.write(&batch)
            .map_err(|e| Error::io(&self.name, std::io::Error::other(e)))?;
        self.rows = rows;
        self.rows.clear();
        Ok(())
    }
}

/// An Arrow array of `kind` from JSON values that fit it (see [`Kind::fits`]).
fn column<'v>(kind: Kind, values: impl Iterator<Item = &'v Value>) -> ArrayRef {
    match kind {
        Kind::Text => Arc::new(
            values
                .map(|v| match v {
                    Value::Null => None,
                    Value::String(s) => Some(s.clone()),
                    other => Some(other.to_string()),
                })
                .collect::<StringArray>(),
        ),
        Kind::Int => Arc::new(values.map(Value::as_i64).collect::<Int64Array>()),
        Kind::UInt => Arc::new(values.map(Value::as_u64).collect::<UInt64Array>()),
        Kind::Float => Arc::new(values.map(Value::as_f64).collect::<Float64Array>()),
        Kind::Bool => Arc::new(values.map(Value::as_bool).collect::<BooleanArray>()),
        Kind::Names | Kind::Explanation => {
            let values: Vec<&Value> = values.collect();
            let mut offsets = vec![0i32];
            let mut items: Vec<&Value> = Vec::new();
            for v in &values {
                if let Value::Array(a) = v {
                    items.extend(a);
                }
                offsets.push(items.len() as i32);
            }
            let nulls: arrow_buffer::NullBuffer = values.iter().map(|v| !v.is_null()).collect();
            let (field, child): (Field, ArrayRef) = if kind == Kind::Names {
                (
                    Field::new("item", DataType::Utf8, true),
                    Arc::new(items.iter().map(|v| v.as_str()).collect::<StringArray>()),
                )
            } else {
                let words: StringArray = items.iter().map(|w| w["word"].as_str()).collect();
                let weights: Float64Array = items.iter().map(|w| w["weight"].as_f64()).collect();
                let DataType::Struct(fields) = word_weight() else {
                    unreachable!("word_weight is a struct")
                };
                (
                    Field::new("item", word_weight(), true),
                    Arc::new(StructArray::new(
                        fields,
                        vec![Arc::new(words), Arc::new(weights)],
                        None,
                    )),
                )
            };
            Arc::new(ListArray::new(
                Arc::new(field),
                arrow_buffer::OffsetBuffer::new(offsets.into()),
                child,
                Some(nulls),
            ))
        }
    }
}

impl<W: Write + Send> RecordWriter for ParquetWriter<W> {
    fn write(
        &mut self,
        record: &Record,
        outcome: std::result::Result<&Prediction, &str>,
    ) -> Result<()> {
        let mut obj = output_object(record, outcome, &self.input_headers, &self.triage);
        if let Some(raw) = obj.remove("raw") {
            // The unparsed row, in `text` as the CSV writer keeps it.
            obj.entry("text").or_insert(raw);
        }
        self.rows.push(obj);
        if self.rows.len() >= BATCH_ROWS {
            self.write_batch()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        // Row groups are cut by the Arrow writer; a checkpoint cannot resume a Parquet file anyway.
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        self.write_batch()?;
        if let Some(w) = self.out.take() {
            let name = self.name.clone();
            let other =
                |e: parquet::errors::ParquetError| Error::io(&name, std::io::Error::other(e));
            // Writes the footer.
            let mut inner = w.into_inner().map_err(other)?;
            inner.flush().map_err(|e| Error::io(&name, e))?;
        }
        Ok(())
    }

    fn set_triage(&mut self, triage: Triage) {
        self.triage = triage;
    }

    fn bytes_written(&self) -> u64 {
        self.out.as_ref().map_or(0, |w| w.bytes_written() as u64)
    }
}

/// Rewrites the Parquet output `src` to `dst` with its rows in order of `key` (of `p_promotional`
/// and `p_campaigning`), ties in input order.
pub(crate) fn sort_rows(
    src: &std::path::Path,
    dst: &std::path::Path,
    key: impl Fn(Option<f64>, Option<f64>) -> f32,
) -> Result<()> {
    let other = |e: &dyn std::fmt::Display| Error::io(src, std::io::Error::other(e.to_string()));
    let file = std::fs::File::open(src).map_err(|e| Error::io(src, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| other(&e))?;
    let schema = builder.schema().clone();
    let batches = builder
        .build()
        .map_err(|e| other(&e))?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| other(&e))?;
    let all = arrow_select::concat::concat_batches(&schema, &batches).map_err(|e| other(&e))?;
    let scores = |name: &str| -> Vec<Option<f64>> {
        match all
            .column_by_name(name)
            .map(|c| c.as_primitive_opt::<Float64Type>())
        {
            Some(Some(c)) => c.iter().collect(),
            _ => vec![None; all.num_rows()],
        }
    };
    let (prom, camp) = (scores("p_promotional"), scores("p_campaigning"));
    let mut order: Vec<u32> = (0..all.num_rows() as u32).collect();
    let keys: Vec<f32> = prom.iter().zip(&camp).map(|(p, c)| key(*p, *c)).collect();
    order.sort_by(|a, b| keys[*a as usize].total_cmp(&keys[*b as usize]));
    let sorted = arrow_select::take::take_record_batch(&all, &UInt32Array::from(order))
        .map_err(|e| other(&e))?;
    let out = std::fs::File::create(dst).map_err(|e| Error::io(dst, e))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build();
    let mut w = ArrowWriter::try_new(out, schema, Some(props)).map_err(|e| other(&e))?;
    w.write(&sorted).map_err(|e| other(&e))?;
    let out = w.into_inner().map_err(|e| other(&e))?;
    out.sync_all().map_err(|e| Error::io(dst, e))
}

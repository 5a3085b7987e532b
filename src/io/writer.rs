//! What every writer shares: the added output columns, the output object of a record, the
//! [`RecordWriter`] trait and byte counting for checkpoints.

use std::io::Write;

use serde_json::{Map, Value};

use crate::error::Result;
use crate::label::Label;
use crate::prediction::{Prediction, Triage};
use crate::record::{Fields, Record};

/// Names of the columns pantau adds to every output row.
/// Every output row has all of them, null where they do not apply (an error row has no label, a
/// classified row no error), so tools that infer a schema from the first rows see them all.
pub const OUTPUT_COLUMNS: [&str; 13] = [
    "row",
    "offset",
    "label",
    "p_neutral",
    "p_promotional",
    "p_campaigning",
    "flagged",
    "review",
    "participants",
    "windows",
    "truncated",
    "explanation",
    "error",
];

/// Renames an input column that would collide with an output column (`label` → `label_input`).
pub(crate) fn input_name(name: &str) -> String {
    if OUTPUT_COLUMNS.contains(&name) {
        format!("{name}_input")
    } else {
        name.to_string()
    }
}

/// Output names of a CSV header: renamed on collision with an output column, and a name the header
/// repeats gets a suffix (`akun`, `akun_2`), so no column's data is lost.
pub(crate) fn column_names(headers: &[String]) -> Vec<String> {
    let mut names: Vec<String> = Vec::with_capacity(headers.len());
    for h in headers {
        let base = input_name(h);
        let mut name = base.clone();
        let mut n = 1;
        while names.contains(&name) {
            n += 1;
            name = format!("{base}_{n}");
        }
        names.push(name);
    }
    names
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
    /// Writes what completes the file (Parquet's footer) and flushes; call once, after the last row.
    fn finish(&mut self) -> Result<()> {
        self.flush()
    }
    /// Bytes handed to the underlying writer so far (for checkpoints).
    fn bytes_written(&self) -> u64;
    /// Uses `triage` for the `flagged` and `review` columns (default: [`Triage::default`]).
    fn set_triage(&mut self, triage: Triage);
    /// Column layout, when the format has one (CSV), so a resumed run can continue it.
    fn columns(&self) -> Option<Vec<String>> {
        None
    }
}

/// Counts bytes on their way to the file.
pub(crate) struct Counted<W> {
    pub(crate) inner: W,
    pub(crate) n: u64,
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

/// The output object for a record, shared by the JSONL and CSV writers.
pub(crate) fn output_object(
    record: &Record,
    outcome: std::result::Result<&Prediction, &str>,
    headers: &[String],
    triage: &Triage,
) -> Map<String, Value> {
    let mut obj = Map::new();
    match &record.fields {
        Fields::Object(m) => {
            for (k, v) in m {
                obj.insert(input_name(k), v.clone());
            }
        }
        Fields::Columns(cells) => {
            let names = column_names(headers);
            for (i, c) in cells.iter().enumerate() {
                let key = names
                    .get(i)
                    .cloned()
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
    obj.insert("row".into(), record.row.into());
    obj.insert("offset".into(), record.offset.into());
    match outcome {
        Ok(p) => {
            obj.insert("label".into(), Value::String(p.label.to_string()));
            for l in Label::ALL {
                obj.insert(format!("p_{l}"), json_prob(p.probability(l)));
            }
            obj.insert("flagged".into(), triage.flagged(p).into());
            obj.insert("review".into(), triage.review(p).into());
            obj.insert(
                "participants".into(),
                Value::Array(p.participants.iter().cloned().map(Value::String).collect()),
            );
            obj.insert("windows".into(), p.windows.into());
            obj.insert("truncated".into(), p.truncated.into());
            obj.insert(
                "explanation".into(),
                p.explanation.as_ref().map_or(Value::Null, |ws| {
                    Value::Array(
                        ws.iter()
                            .map(|w| serde_json::json!({"word": w.word, "weight": json_prob(w.weight)}))
                            .collect(),
                    )
                }),
            );
            obj.insert("error".into(), Value::Null);
        }
        Err(reason) => {
            for c in &OUTPUT_COLUMNS[2..OUTPUT_COLUMNS.len() - 1] {
                obj.insert((*c).into(), Value::Null);
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

//! One input row as the readers produce it and the writers repeat it: shared by the readers and
//! writers of `io` and the streaming driver of `classify`, below both.

use serde_json::{Map, Value};

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
    /// Byte offset of the row in the input as read (after decompression and transcoding, see
    /// [`mod@crate::io::decode`]); `None` for records not read from a stream.
    pub offset: Option<u64>,
    pub fields: Fields,
    /// The text to classify, or why there is none.
    pub text: std::result::Result<String, String>,
}

impl Record {
    /// Bytes of text the record holds (its fields and its text), to bound a window's memory.
    pub fn text_bytes(&self) -> usize {
        let fields = match &self.fields {
            Fields::Object(m) => m.iter().map(|(k, v)| k.len() + value_bytes(v)).sum(),
            Fields::Columns(c) => c.iter().map(String::len).sum(),
            Fields::Line(l) | Fields::Raw(l) => l.len(),
        };
        fields + self.text.as_ref().map_or_else(String::len, String::len)
    }
}

fn value_bytes(v: &Value) -> usize {
    match v {
        Value::String(s) => s.len(),
        Value::Array(a) => a.iter().map(value_bytes).sum(),
        Value::Object(m) => m.iter().map(|(k, v)| k.len() + value_bytes(v)).sum(),
        _ => 8,
    }
}

/// A record's text: `s`, or the reason "empty text" when it is blank.
pub(crate) fn non_empty(s: String) -> std::result::Result<String, String> {
    if s.trim().is_empty() {
        Err("empty text".into())
    } else {
        Ok(s)
    }
}

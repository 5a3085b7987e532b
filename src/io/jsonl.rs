//! JSONL input and output: one JSON object per line.

use std::io::{BufWriter, Read, Write};

use serde_json::Value;

use crate::error::{Error, Result};
use crate::io::lines::{invalid_utf8, Lines};
use crate::io::writer::{output_object, Counted, RecordWriter};
use crate::prediction::{Prediction, Triage};
use crate::record::{non_empty, Fields, Record};

/// Reads one record per non-blank line; `field` names the member holding the post text.
pub(crate) struct JsonlRecords<R> {
    lines: Lines<R>,
    name: String,
    field: String,
    /// Until a row has the text field: the objects seen without it and the fields they had, so a
    /// wrong `--text-field` stops the run at once instead of making every row an error row.
    probe: Option<Probe>,
}

#[derive(Default)]
struct Probe {
    objects: u64,
    fields: std::collections::BTreeSet<String>,
}

/// Objects without the text field, in a row from the start, after which the field is taken to be
/// wrong.
const PROBE_ROWS: u64 = 100;

impl<R: Read> JsonlRecords<R> {
    /// `name` is used in messages (a path or `<stdin>`).
    pub(crate) fn new(source: R, name: &str, field: &str, max_row_bytes: usize) -> Self {
        JsonlRecords {
            // Blank lines separate nothing in JSONL; they are not rows.
            lines: Lines::new(source, name, true, max_row_bytes),
            name: name.to_string(),
            field: field.to_string(),
            probe: Some(Probe::default()),
        }
    }
}

impl<R: Read> Iterator for JsonlRecords<R> {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        let Some(line) = self.lines.next_line() else {
            return self.wrong_field();
        };
        let record = match line {
            Ok(l) => {
                let mut r = match l.cut_from {
                    Some(total) => too_long(l.number, l.bytes, total),
                    None => parse(l.number, l.bytes, &self.field),
                };
                r.offset = Some(l.offset);
                r
            }
            Err(e) => return Some(Err(e)),
        };
        if let Some(probe) = &mut self.probe {
            if let Fields::Object(m) = &record.fields {
                if lookup(m, &self.field).is_some() {
                    self.probe = None;
                } else {
                    probe.objects += 1;
                    probe.fields.extend(m.keys().cloned());
                    if probe.objects >= PROBE_ROWS {
                        return self.wrong_field();
                    }
                }
            }
        }
        Some(Ok(record))
    }
}

impl<R> JsonlRecords<R> {
    /// The error that ends a run whose first objects all lack the text field (once).
    fn wrong_field(&mut self) -> Option<Result<Record>> {
        let probe = self.probe.take().filter(|p| p.objects > 0)?;
        Some(Err(Error::BadInput {
            path: self.name.clone(),
            reason: format!(
                "none of the first {} JSON objects has a text field {:?}; their fields are: {}. Choose one with --text-field (a dotted path such as data.full_text reaches into nested objects)",
                probe.objects,
                self.field,
                probe.fields.into_iter().collect::<Vec<_>>().join(", ")
            ),
        }))
    }
}

/// `text` with bare `NaN`, `Infinity` and `-Infinity` (outside strings) quoted; `None` when it
/// has none.
fn non_finite_as_strings(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len() + 8);
    let (mut in_string, mut escaped, mut changed) = (false, false, false);
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
        } else if let Some(word) = ["-Infinity", "Infinity", "NaN"]
            .into_iter()
            .find(|w| rest.starts_with(w))
        {
            out.push('"');
            out.push_str(word);
            out.push('"');
            rest = &rest[word.len()..];
            changed = true;
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    changed.then_some(out)
}

/// `field` in `m`: a member of that name, else a dotted path into nested objects
/// (`data.full_text`).
fn lookup<'m>(m: &'m serde_json::Map<String, Value>, field: &str) -> Option<&'m Value> {
    if let Some(v) = m.get(field) {
        return Some(v).filter(|v| !v.is_null());
    }
    let mut parts = field.split('.');
    let mut v = m.get(parts.next()?)?;
    for p in parts {
        v = v.as_object()?.get(p)?;
    }
    Some(v).filter(|v| !v.is_null())
}

/// A JSON line over the cap cannot be parsed from its start alone: it becomes an error row that
/// keeps the line's first bytes and names the limit.
fn too_long(row: u64, bytes: &[u8], total: u64) -> Record {
    let head = &bytes[..bytes.len().min(200)];
    Record {
        row,
        offset: None,
        fields: Fields::Raw(format!("{}…", String::from_utf8_lossy(head))),
        text: Err(format!(
            "row is {total} bytes, over the {} byte limit: raise it with --max-row-bytes to classify this row",
            bytes.len()
        )),
    }
}

fn parse(row: u64, bytes: &[u8], field: &str) -> Record {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => return invalid_utf8(row, bytes, e),
    };
    let parsed = serde_json::from_str::<Object>(text).or_else(|e| {
        // Python's json.dumps writes NaN and Infinity, which JSON has no words for: read them as
        // the strings "NaN", "Infinity", "-Infinity" rather than lose the row.
        non_finite_as_strings(text)
            .and_then(|fixed| serde_json::from_str::<Object>(&fixed).ok())
            .ok_or(e)
    });
    match parsed {
        Ok(Object(map)) => {
            let t = match lookup(&map, field) {
                Some(Value::String(s)) => non_empty(s.clone()),
                Some(Value::Null) | None => Err(format!(
                    "missing text field {:?}: choose the field with --text-field",
                    field
                )),
                Some(other) => Err(format!(
                    "field {:?} is {}, not a string",
                    field,
                    json_type(other)
                )),
            };
            Record {
                row,
                offset: None,
                fields: Fields::Object(map),
                text: t,
            }
        }
        Err(e) => Record {
            row,
            offset: None,
            fields: Fields::Raw(text.to_string()),
            text: Err(match serde_json::from_str::<Value>(text) {
                Ok(other) => format!("expected a JSON object, found {}", json_type(&other)),
                Err(_) => format!("malformed JSON: {e}"),
            }),
        },
    }
}

/// A row's JSON object, its repeated keys kept under a suffix (`akun`, `akun_2`) where
/// `serde_json` would keep only the last.
struct Object(serde_json::Map<String, Value>);

impl<'de> serde::Deserialize<'de> for Object {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Members;
        impl<'de> serde::de::Visitor<'de> for Members {
            type Value = Object;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut a: A,
            ) -> std::result::Result<Object, A::Error> {
                let mut m = serde_json::Map::new();
                while let Some(k) = a.next_key::<String>()? {
                    let v: Value = a.next_value()?;
                    let mut key = k.clone();
                    let mut n = 1;
                    while m.contains_key(&key) {
                        n += 1;
                        key = format!("{k}_{n}");
                    }
                    m.insert(key, v);
                }
                Ok(Object(m))
            }
        }
        d.deserialize_map(Members)
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

/// JSONL output: the input object (or `{"row", "text"}` for text lines) plus `label` and `p_*`;
/// error rows add `row` and `error`.
pub struct JsonlWriter<W: Write> {
    out: BufWriter<Counted<W>>,
    name: String,
    input_headers: Vec<String>,
    base: u64,
    triage: Triage,
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
            triage: Triage::default(),
        }
    }
}

impl<W: Write> RecordWriter for JsonlWriter<W> {
    fn write(
        &mut self,
        record: &Record,
        outcome: std::result::Result<&Prediction, &str>,
    ) -> Result<()> {
        let obj = output_object(record, outcome, &self.input_headers, &self.triage);
        serde_json::to_writer(&mut self.out, &obj)
            .map_err(|e| Error::io(&self.name, std::io::Error::other(e)))?;
        self.out
            .write_all(b"\n")
            .map_err(|e| Error::io(&self.name, e))
    }

    fn flush(&mut self) -> Result<()> {
        self.out.flush().map_err(|e| Error::io(&self.name, e))
    }

    fn set_triage(&mut self, triage: Triage) {
        self.triage = triage;
    }

    fn bytes_written(&self) -> u64 {
        self.base + self.out.get_ref().n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_keys_are_kept_under_a_suffix_and_long_numbers_keep_their_text() {
        let recs = jsonl(
            "{\"akun\":\"a\",\"text\":\"halo\",\"akun\":\"b\",\"akun\":3,\"n\":123456789012345678901234567890}\n5\n[1]\n{\"text\":\n",
        );
        let Fields::Object(m) = &recs[0].fields else {
            panic!("{:?}", recs[0])
        };
        assert_eq!(
            m.keys().collect::<Vec<_>>(),
            ["akun", "text", "akun_2", "akun_3", "n"]
        );
        assert_eq!(
            (m["akun"].as_str(), m["akun_2"].as_str()),
            (Some("a"), Some("b"))
        );
        assert_eq!(m["n"].to_string(), "123456789012345678901234567890");
        assert_eq!(recs[0].text.as_deref(), Ok("halo"));
        let reason = |i: usize| recs[i].text.clone().unwrap_err();
        assert_eq!(reason(1), "expected a JSON object, found a number");
        assert_eq!(reason(2), "expected a JSON object, found an array");
        assert!(reason(3).starts_with("malformed JSON"), "{}", reason(3));
    }

    #[test]
    fn nan_and_infinity_in_another_field_keep_the_row() {
        let input = "{\"skor\":NaN,\"min\":-Infinity,\"text\":\"NaN di teks Infinity\"}\n";
        let recs: Vec<Record> = JsonlRecords::new(input.as_bytes(), "t", "text", 1 << 20)
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(recs[0].text.as_deref(), Ok("NaN di teks Infinity"));
        let Fields::Object(m) = &recs[0].fields else {
            panic!("an object")
        };
        assert_eq!(
            (m["skor"].as_str(), m["min"].as_str()),
            (Some("NaN"), Some("-Infinity"))
        );
        assert_eq!(non_finite_as_strings("{\"a\":\"NaN\"}"), None);
    }

    fn jsonl(input: &str) -> Vec<Record> {
        JsonlRecords::new(input.as_bytes(), "t", "text", 1 << 20)
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
        let recs: Vec<Record> = JsonlRecords::new(&bytes[..], "t", "text", 1 << 20)
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(recs[0].text.as_deref(), Ok("a"));
        assert!(recs[1].text.as_ref().unwrap_err().contains("UTF-8"));
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
}

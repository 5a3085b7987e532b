//! CSV and TSV input and output, with a header row.

use std::io::{Read, Write};

use serde_json::Value;

use crate::error::{Error, Result};
use crate::io::writer::{
    column_names, input_name, output_object, Counted, RecordWriter, OUTPUT_COLUMNS,
};
use crate::prediction::{Prediction, Triage};
use crate::record::{non_empty, Fields, Record};

/// Reads one record per data row; the header names the columns.
pub(crate) struct CsvRecords<R> {
    reader: ::csv::Reader<R>,
    name: String,
    pub(crate) headers: Vec<String>,
    width: usize,
    text_col: usize,
    row: u64,
    record: ::csv::ByteRecord,
}

impl<R: Read> CsvRecords<R> {
    /// `name` is used in messages; `column` names the text column.
    pub(crate) fn new(
        source: R,
        name: &str,
        delimiter: u8,
        quoting: bool,
        column: &str,
    ) -> Result<Self> {
        let mut reader = ::csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .quoting(quoting)
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
            record: ::csv::ByteRecord::new(),
        })
    }
}

impl<R: Read> Iterator for CsvRecords<R> {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        let offset = Some(self.reader.position().byte());
        let more = match self.reader.read_byte_record(&mut self.record) {
            Ok(more) => more,
            Err(e) => {
                if let ::csv::ErrorKind::Io(_) = e.kind() {
                    return Some(Err(Error::BadInput {
                        path: self.name.clone(),
                        reason: e.to_string(),
                    }));
                }
                // A parse error still consumed a row: report it and go on.
                self.row += 1;
                return Some(Ok(Record {
                    row: self.row,
                    offset,
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
            offset,
            fields: Fields::Columns(cells),
            text,
        }))
    }
}

/// CSV output: the input columns (renamed on collision) followed by [`OUTPUT_COLUMNS`].
/// For JSONL input the columns are the first object's keys; keys that only later rows have go,
/// as a JSON object, into a trailing `extra` column so no field is lost.
pub struct CsvWriter<W: Write> {
    out: ::csv::Writer<Counted<W>>,
    name: String,
    columns: Option<Vec<String>>,
    input_headers: Vec<String>,
    base: u64,
    triage: Triage,
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
            out: ::csv::WriterBuilder::new()
                .flexible(true)
                .from_writer(Counted { inner: out, n: 0 }),
            name: name.into(),
            columns,
            input_headers,
            base,
            triage: Triage::default(),
        }
    }

    fn layout_for(&self, record: &Record) -> Vec<String> {
        let mut cols: Vec<String> = if !self.input_headers.is_empty() {
            column_names(&self.input_headers)
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
        let mut obj = output_object(record, outcome, &self.input_headers, &self.triage);
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
                // Participants: one cell, names joined by `|` as in the registry's alias lists.
                Some(Value::Array(items)) if items.iter().all(Value::is_string) => items
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("|"),
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

    fn set_triage(&mut self, triage: Triage) {
        self.triage = triage;
    }

    fn bytes_written(&self) -> u64 {
        self.base + self.out.get_ref().n
    }

    fn columns(&self) -> Option<Vec<String>> {
        self.columns.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quoted_newlines_and_column_counts() {
        let data = "\u{feff}id,text\n1,\"baris\nkedua\"\n2,a,b\n3,ok\n";
        let recs: Vec<Record> = CsvRecords::new(data.as_bytes(), "t", b',', true, "text")
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
        let err = CsvRecords::new(&b"id,text\n1,a\n"[..], "dump.csv", b',', true, "isi")
            .err()
            .unwrap();
        assert!(matches!(err, Error::BadInput { .. }));
        let msg = err.to_string();
        assert!(
            msg.contains("dump.csv") && msg.contains("--text-column") && msg.contains("id, text"),
            "{msg}"
        );
    }

    /// Writes `rec`, classified at [0.5, 0.25, 0.25], through `w`, and drops it (flushed).
    fn write_one(mut w: impl RecordWriter, rec: &Record) {
        w.write(rec, Ok(&Prediction::from_probabilities([0.5, 0.25, 0.25])))
            .unwrap();
        w.flush().unwrap();
    }

    #[test]
    fn a_repeated_header_keeps_both_columns() {
        let recs: Vec<Record> = CsvRecords::new(
            &b"akun,text,akun\nbudi,halo,siti\n"[..],
            "t",
            b',',
            true,
            "text",
        )
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
        let headers: Vec<String> = ["akun", "text", "akun"].map(String::from).to_vec();
        let mut buf = Vec::new();
        write_one(
            CsvWriter::new(&mut buf, "o", headers.clone(), None, 0),
            &recs[0],
        );
        let s = String::from_utf8(buf).unwrap();
        assert!(s.starts_with("akun,text,akun_2,row,"), "{s}");
        assert!(
            s.lines().nth(1).unwrap().starts_with("budi,halo,siti,1,"),
            "{s}"
        );
        let mut buf = Vec::new();
        write_one(
            crate::io::jsonl::JsonlWriter::new(&mut buf, "o", headers, 0),
            &recs[0],
        );
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(
            (v["akun"].as_str(), v["akun_2"].as_str()),
            (Some("budi"), Some("siti"))
        );
    }

    #[test]
    fn csv_writer_keeps_columns() {
        let recs: Vec<Record> = CsvRecords::new(&b"id,text\n1,halo\n"[..], "t", b',', true, "text")
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        let mut buf = Vec::new();
        write_one(
            CsvWriter::new(&mut buf, "o", vec!["id".into(), "text".into()], None, 0),
            &recs[0],
        );
        let s = String::from_utf8(buf).unwrap();
        let mut lines = s.lines();
        assert_eq!(
            lines.next().unwrap(),
            "id,text,row,offset,label,p_neutral,p_promotional,p_campaigning,flagged,review,participants,windows,truncated,explanation,error,extra"
        );
        assert_eq!(
            lines.next().unwrap(),
            "1,halo,1,8,neutral,0.5,0.25,0.25,true,true,,1,false,,,"
        );
    }
}

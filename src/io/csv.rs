//! CSV and TSV input and output, with a header row.

use std::collections::VecDeque;
use std::io::{Read, Write};

use serde_json::Value;

use crate::error::{Error, Result};
use crate::io::lines::Lines;
use crate::io::writer::{
    column_names, input_name, output_object, Counted, RecordWriter, OUTPUT_COLUMNS,
};
use crate::prediction::{Prediction, Triage};
use crate::record::{non_empty, Fields, Record};

/// Reads one record per data row; the header names the columns.
///
/// Rows are cut from physical lines, not by the CSV parser alone: a quoted field may span lines,
/// but one whose quote never closes (or closes into a row of the wrong width) becomes an error row
/// for its first line, and reading goes on at the next line, so one bad quote never swallows the
/// rest of a file.
pub(crate) struct CsvRecords<R> {
    lines: Lines<R>,
    /// Lines read ahead while looking for a quote's end, not yet part of a row.
    pending: VecDeque<OwnedLine>,
    /// With no header row, the first data row, read to learn the width.
    first: Option<Row>,
    pub(crate) headers: Vec<String>,
    width: usize,
    text_col: usize,
    row: u64,
    delimiter: u8,
    quoting: bool,
    max_row_bytes: usize,
}

struct OwnedLine {
    offset: u64,
    bytes: Vec<u8>,
    cut: bool,
}

/// The index of the text column `column` among `headers`: by name, else (or always, with
/// `no_headers`) by number from 1; else why not. `header` names the header row in messages.
pub(crate) fn text_column(
    headers: &[String],
    column: &str,
    no_headers: bool,
    header: &str,
) -> std::result::Result<usize, String> {
    let number = column.trim().parse::<usize>().ok().filter(|&n| n >= 1);
    let by_name = (!no_headers)
        .then(|| headers.iter().position(|h| h.trim() == column))
        .flatten();
    by_name
        .or(number.map(|n| n - 1).filter(|&i| i < headers.len()))
        .ok_or_else(|| {
            if no_headers {
                format!(
                    "--no-headers needs --text-column N, the text column's number between 1 and {} (not {column:?})",
                    headers.len()
                )
            } else {
                format!(
                    "no column named {column:?} in {header} ({}); choose one with --text-column (a name, or a number from 1), or read a file without a header with --no-headers",
                    headers.join(", ")
                )
            }
        })
}

/// A row's offset and bytes.
type Row = (u64, Vec<u8>);
/// A line that is no row: its offset, its bytes and why.
type BadRow = (u64, Vec<u8>, String);

/// Most physical lines one quoted field may span before its quote is taken for a stray one.
const MAX_FIELD_LINES: usize = 1000;

/// Where a line leaves the CSV parser: only `Quoted` means the row goes on on the next line.
#[derive(Clone, Copy, PartialEq)]
enum Quote {
    FieldStart,
    Unquoted,
    Quoted,
    /// A `"` inside a quoted field: the end of the field, or the first half of `""`.
    Closing,
}

fn scan(bytes: &[u8], mut q: Quote, delimiter: u8) -> Quote {
    for &b in bytes {
        q = match (q, b) {
            (Quote::FieldStart, b'"') => Quote::Quoted,
            (Quote::FieldStart | Quote::Unquoted | Quote::Closing, d) if d == delimiter => {
                Quote::FieldStart
            }
            (Quote::Quoted, b'"') => Quote::Closing,
            (Quote::Quoted, _) => Quote::Quoted,
            (Quote::Closing, b'"') => Quote::Quoted,
            // As the csv crate reads `"ab"cd`: the rest of the field is taken as it is.
            _ => Quote::Unquoted,
        };
    }
    q
}

impl<R: Read> CsvRecords<R> {
    /// `name` is used in messages; `column` names the text column; `quoting` off reads every
    /// `"` as text (TSV).
    #[cfg(test)]
    pub(crate) fn new(
        source: R,
        name: &str,
        delimiter: u8,
        quoting: bool,
        column: &str,
    ) -> Result<Self> {
        Self::with_limit(
            source,
            name,
            delimiter,
            quoting,
            column,
            false,
            crate::io::MAX_ROW_BYTES,
        )
    }

    /// As [`CsvRecords::new`], with rows over `max_row_bytes` read as error rows. With
    /// `no_headers` the first row is data, the columns are named `column_1`, `column_2`, … and
    /// `column` must be a column number (1 is the first); with a header, a `column` no header
    /// names is taken as a number too.
    pub(crate) fn with_limit(
        source: R,
        name: &str,
        delimiter: u8,
        quoting: bool,
        column: &str,
        no_headers: bool,
        max_row_bytes: usize,
    ) -> Result<Self> {
        let mut r = CsvRecords {
            lines: Lines::new(source, name, false, max_row_bytes),
            pending: VecDeque::new(),
            first: None,
            headers: Vec::new(),
            width: 0,
            text_col: 0,
            row: 0,
            delimiter,
            quoting,
            max_row_bytes,
        };
        let header = match r.next_row()? {
            Some(Ok(row)) => row,
            Some(Err((_, _, reason))) => {
                return Err(Error::BadInput {
                    path: name.into(),
                    reason: format!("cannot read the first row: {reason}"),
                })
            }
            None => (0, Vec::new()),
        };
        let mut headers: Vec<String> = match r.parse(&header.1) {
            Ok(rec) if !header.1.is_empty() => rec
                .iter()
                .map(|h| String::from_utf8_lossy(h).into_owned())
                .collect(),
            Ok(_) => Vec::new(),
            Err(e) => {
                return Err(Error::BadInput {
                    path: name.into(),
                    reason: format!("cannot read the first row: {e}"),
                })
            }
        };
        if no_headers {
            headers = (1..=headers.len()).map(|i| format!("column_{i}")).collect();
            r.first = Some(header);
        }
        r.text_col = text_column(&headers, column, no_headers, "the header").map_err(|reason| {
            Error::BadInput {
                path: name.into(),
                reason,
            }
        })?;
        r.width = headers.len();
        r.headers = headers;
        Ok(r)
    }

    /// The `n`th line ahead (0: the next), read into `pending` as needed.
    fn ahead(&mut self, n: usize) -> Result<Option<&OwnedLine>> {
        while self.pending.len() <= n {
            match self.lines.next_line() {
                None => return Ok(None),
                Some(Err(e)) => return Err(e),
                Some(Ok(l)) => self.pending.push_back(OwnedLine {
                    offset: l.offset,
                    bytes: l.bytes.to_vec(),
                    cut: l.cut_from.is_some(),
                }),
            }
        }
        Ok(self.pending.get(n))
    }

    /// The next row's offset and bytes (its lines joined by `\n`), or its first line's offset and
    /// why it is not a row; empty lines between rows are skipped.
    fn next_row(&mut self) -> Result<Option<std::result::Result<Row, BadRow>>> {
        loop {
            let Some(first) = self.ahead(0)? else {
                return Ok(None);
            };
            if first.bytes.is_empty() && !first.cut {
                self.pending.pop_front();
                continue;
            }
            let offset = first.offset;
            if first.cut {
                let line = self.pending.pop_front().expect("looked at above");
                return Ok(Some(Err((
                    offset,
                    line.bytes,
                    format!(
                        "row is over the {} byte limit: raise it with --max-row-bytes to classify this row",
                        self.max_row_bytes
                    ),
                ))));
            }
            let mut buf = first.bytes.clone();
            let mut q = if self.quoting {
                scan(&buf, Quote::FieldStart, self.delimiter)
            } else {
                Quote::Unquoted
            };
            let mut used = 1;
            while q == Quote::Quoted && used < MAX_FIELD_LINES && buf.len() <= self.max_row_bytes {
                let delimiter = self.delimiter;
                let Some(next) = self.ahead(used)? else { break };
                buf.push(b'\n');
                buf.extend_from_slice(&next.bytes);
                q = scan(&next.bytes, scan(b"\n", q, delimiter), delimiter);
                used += 1;
            }
            let closed = q != Quote::Quoted;
            // A row of the wrong width that only a multi-line field made is a stray quote too.
            let fits = closed
                && (used == 1
                    || self.width == 0
                    || self.parse(&buf).is_ok_and(|r| r.len() == self.width));
            if fits {
                self.pending.drain(..used);
                return Ok(Some(Ok((offset, buf))));
            }
            let line = self.pending.pop_front().expect("looked at above");
            return Ok(Some(Err((
                offset,
                line.bytes,
                "unclosed quote: a quoted field starts on this row and never ends (or ends rows later in a row of the wrong width); reading went on at the next line".into(),
            ))));
        }
    }

    fn parse(&self, row: &[u8]) -> std::result::Result<::csv::ByteRecord, ::csv::Error> {
        let mut r = ::csv::ReaderBuilder::new()
            .delimiter(self.delimiter)
            .quoting(self.quoting)
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(row.len() + 1)
            .from_reader(row);
        let mut rec = ::csv::ByteRecord::new();
        r.read_byte_record(&mut rec)?;
        Ok(rec)
    }
}

impl<R: Read> Iterator for CsvRecords<R> {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        let next = match self.first.take() {
            Some(row) => Ok(Some(Ok(row))),
            None => self.next_row(),
        };
        let (offset, bytes) = match next {
            Err(e) => return Some(Err(e)),
            Ok(None) => return None,
            Ok(Some(Ok(row))) => row,
            Ok(Some(Err((offset, line, reason)))) => {
                self.row += 1;
                return Some(Ok(Record {
                    row: self.row,
                    offset: Some(offset),
                    fields: Fields::Raw(String::from_utf8_lossy(&line).into_owned()),
                    text: Err(reason),
                }));
            }
        };
        self.row += 1;
        let offset = Some(offset);
        let record = match self.parse(&bytes) {
            Ok(r) => r,
            Err(e) => {
                return Some(Ok(Record {
                    row: self.row,
                    offset,
                    fields: Fields::Raw(String::from_utf8_lossy(&bytes).into_owned()),
                    text: Err(format!("unreadable CSV row: {e}")),
                }))
            }
        };
        let mut bad_utf8 = None;
        let cells: Vec<String> = record
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

    fn rows(data: &str) -> Vec<Record> {
        CsvRecords::new(data.as_bytes(), "t", b',', true, "text")
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
    }

    #[test]
    fn an_unclosed_quote_is_one_error_row_and_reading_goes_on() {
        // Row 2's quote never closes: 5 rows in, 5 rows out, only row 2 an error.
        let recs = rows("id,text,akun\n1,satu,a\n2,\"dua tanpa tutup,b\n3,tiga,c\n4,\"empat\nbaris dua\",d\n5,lima,e\n");
        let texts: Vec<_> = recs.iter().map(|r| r.text.clone()).collect();
        assert_eq!(recs.len(), 5, "{texts:?}");
        assert!(texts[1].as_ref().unwrap_err().contains("unclosed quote"));
        assert_eq!(recs[1].offset, Some(22));
        assert_eq!(recs[1].fields, Fields::Raw("2,\"dua tanpa tutup,b".into()));
        assert_eq!(texts[2].as_deref(), Ok("tiga"));
        assert_eq!(texts[3].as_deref(), Ok("empat\nbaris dua"));
        assert_eq!(texts[4].as_deref(), Ok("lima"));
        assert_eq!(
            recs.iter().map(|r| r.row).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5]
        );
        // A quote that closes lines later into a row of the wrong width is stray too.
        let recs = rows("id,text\n1,\"a\n2,b\n3,c\"x,y,z\n4,d\n");
        assert_eq!(recs.len(), 4);
        assert!(recs[0]
            .text
            .as_ref()
            .unwrap_err()
            .contains("unclosed quote"));
        assert_eq!(recs[1].text.as_deref(), Ok("b"));
        // Doubled quotes, quotes inside unquoted fields and blank lines are ordinary CSV.
        let recs = rows("id,text\n\n1,\"kata \"\"dia\"\"\"\n2,5\" layar\n");
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].text.as_deref(), Ok("kata \"dia\""));
        assert_eq!(recs[1].text.as_deref(), Ok("5\" layar"));
    }

    #[test]
    fn without_a_header_the_first_row_is_data_and_the_column_a_number() {
        let read = |no_headers: bool, column: &str| {
            CsvRecords::with_limit(
                &b"1,halo,a\n2,dua,b\n"[..],
                "t",
                b',',
                true,
                column,
                no_headers,
                1 << 20,
            )
        };
        let r = read(true, "2").unwrap();
        assert_eq!(r.headers, ["column_1", "column_2", "column_3"]);
        let texts: Vec<String> = r.map(|r| r.unwrap().text.unwrap()).collect();
        assert_eq!(texts, ["halo", "dua"]);
        assert!(read(true, "text")
            .err()
            .unwrap()
            .to_string()
            .contains("between 1 and 3"));
        assert!(read(true, "4").is_err());
        // With a header, a number picks a column the header does not name.
        let r = read(false, "2").unwrap();
        assert_eq!(
            r.map(|r| r.unwrap().text.unwrap()).collect::<Vec<_>>(),
            ["dua"]
        );
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

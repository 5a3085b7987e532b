//! The review queue's order: a finished output rewritten with its rows sorted most uncertain
//! first (flag score nearest the threshold), error rows last, ties in input order. For JSONL and
//! CSV only an index of the rows (score, offset, length) is held in memory, so a million rows cost
//! ~16 MB; a Parquet output is sorted in memory (it is compressed columns, read back whole).

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::io::format::OutputFormat;
use crate::prediction::Triage;

/// One output row's place in the file and its distance from the flag threshold.
struct Entry {
    certainty: f32,
    offset: u64,
    len: u64,
}

#[derive(Deserialize)]
struct Scores {
    p_promotional: Option<f64>,
    p_campaigning: Option<f64>,
}

/// Writes `src`'s rows to `dst` in review order (see the module docs).
pub fn sort_for_review(
    src: &Path,
    dst: &Path,
    format: OutputFormat,
    triage: &Triage,
) -> Result<()> {
    let certainty = |prom: Option<f64>, camp: Option<f64>| match (prom, camp) {
        (Some(p), Some(c)) => ((p + c) as f32 - triage.flag_threshold).abs(),
        _ => f32::INFINITY,
    };
    let (head, mut entries) = match format {
        OutputFormat::Jsonl => (0, index_jsonl(src, certainty)?),
        OutputFormat::Csv => index_csv(src, certainty)?,
        OutputFormat::Parquet => return crate::io::parquet::sort_rows(src, dst, certainty),
    };
    entries.sort_by(|a, b| a.certainty.total_cmp(&b.certainty));
    let mut input = File::open(src).map_err(|e| Error::io(src, e))?;
    let out = File::create(dst).map_err(|e| Error::io(dst, e))?;
    let mut out = BufWriter::new(out);
    let mut buf = Vec::new();
    let mut copy = |offset: u64, len: u64, out: &mut BufWriter<File>| -> Result<()> {
        buf.resize(len as usize, 0);
        input
            .seek(SeekFrom::Start(offset))
            .and_then(|_| input.read_exact(&mut buf))
            .map_err(|e| Error::io(src, e))?;
        out.write_all(&buf).map_err(|e| Error::io(dst, e))
    };
    if head > 0 {
        copy(0, head, &mut out)?;
    }
    for e in &entries {
        copy(e.offset, e.len, &mut out)?;
    }
    out.flush().map_err(|e| Error::io(dst, e))?;
    out.get_ref().sync_all().map_err(|e| Error::io(dst, e))
}

fn index_jsonl(
    src: &Path,
    certainty: impl Fn(Option<f64>, Option<f64>) -> f32,
) -> Result<Vec<Entry>> {
    let mut r = BufReader::new(File::open(src).map_err(|e| Error::io(src, e))?);
    let (mut entries, mut offset, mut line) = (Vec::new(), 0u64, Vec::new());
    loop {
        line.clear();
        let n = r
            .read_until(b'\n', &mut line)
            .map_err(|e| Error::io(src, e))?;
        if n == 0 {
            break;
        }
        let s: Scores = serde_json::from_slice(&line).map_err(|e| Error::BadInput {
            path: src.display().to_string(),
            reason: format!("output row at byte {offset} does not parse: {e}"),
        })?;
        entries.push(Entry {
            certainty: certainty(s.p_promotional, s.p_campaigning),
            offset,
            len: n as u64,
        });
        offset += n as u64;
    }
    Ok(entries)
}

/// The header's length and the rows of a CSV output.
fn index_csv(
    src: &Path,
    certainty: impl Fn(Option<f64>, Option<f64>) -> f32,
) -> Result<(u64, Vec<Entry>)> {
    let bad = |e: ::csv::Error| Error::BadInput {
        path: src.display().to_string(),
        reason: format!("output does not parse as CSV: {e}"),
    };
    let total = std::fs::metadata(src).map_err(|e| Error::io(src, e))?.len();
    let mut r = ::csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(src)
        .map_err(bad)?;
    let headers = r.headers().map_err(bad)?.clone();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let (prom, camp) = (col("p_promotional"), col("p_campaigning"));
    let mut starts: Vec<(u64, f32)> = Vec::new();
    let mut rec = ::csv::StringRecord::new();
    let mut head = total;
    loop {
        let pos = r.position().byte();
        if !r.read_record(&mut rec).map_err(bad)? {
            break;
        }
        if starts.is_empty() {
            head = pos;
        }
        let num = |i: Option<usize>| {
            i.and_then(|i| rec.get(i))
                .and_then(|v| v.parse::<f64>().ok())
        };
        starts.push((pos, certainty(num(prom), num(camp))));
    }
    let entries = starts
        .iter()
        .enumerate()
        .map(|(i, &(offset, certainty))| {
            let end = starts.get(i + 1).map_or(total, |n| n.0);
            Entry {
                certainty,
                offset,
                len: end - offset,
            }
        })
        .collect();
    Ok((head, entries))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_come_nearest_the_threshold_first_and_errors_last_in_both_formats() {
        let d = tempfile::tempdir().unwrap();
        let jsonl = d.path().join("o.jsonl");
        std::fs::write(
            &jsonl,
            concat!(
                "{\"row\":1,\"p_promotional\":0.9,\"p_campaigning\":0.05}\n",
                "{\"row\":2,\"p_promotional\":null,\"p_campaigning\":null,\"error\":\"x\"}\n",
                "{\"row\":3,\"p_promotional\":0.3,\"p_campaigning\":0.15}\n",
                "{\"row\":4,\"p_promotional\":0.01,\"p_campaigning\":0.01}\n",
            ),
        )
        .unwrap();
        let sorted = d.path().join("s.jsonl");
        sort_for_review(&jsonl, &sorted, OutputFormat::Jsonl, &Triage::default()).unwrap();
        let rows: Vec<u64> = std::fs::read_to_string(&sorted)
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["row"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        assert_eq!(rows, vec![3, 1, 4, 2]);

        let csv = d.path().join("o.csv");
        std::fs::write(
            &csv,
            "text,p_promotional,p_campaigning\n\"a\nb\",0.9,0.05\nc,,\nd,0.3,0.15\n",
        )
        .unwrap();
        let sorted = d.path().join("s.csv");
        sort_for_review(&csv, &sorted, OutputFormat::Csv, &Triage::default()).unwrap();
        assert_eq!(
            std::fs::read_to_string(&sorted).unwrap(),
            "text,p_promotional,p_campaigning\nd,0.3,0.15\n\"a\nb\",0.9,0.05\nc,,\n"
        );
    }
}

//! Reading labeled examples (training, evaluation) and unlabeled post texts (pretraining) from a
//! file, in any input format.

use std::path::Path;

use crate::error::{Error, Result};
use crate::io::format::InputFormat;
use crate::io::reader::{read_file, InputOptions, Records};
use crate::label::Label;
use crate::record::Fields;

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
    let opts = InputOptions {
        format: InputFormat::from_path(path).unwrap_or(fallback),
        ..InputOptions::default()
    };
    Ok((path.display().to_string(), read_file(path, &opts)?))
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

//! Real third-party text (IndoNLU SmSA and EmoT) as training and measuring rows, read by path.
//!
//! The corpora's text never enters this repository: their files are read where they lie
//! (`../shared/corpora` in the project's checkout, or a copy of the public IndoNLU files with the
//! same layout) and the hand labels live in `data/corpora/labels.tsv` as row references
//! (`source, split, line, label, kind`). A row the labels file does not list is ordinary traffic:
//! `neutral`. A row labeled `drop` is left out.
//!
//! The rows are split once, the same way for training and measuring: a row whose publisher split is
//! not `train` is held out, and so is every fifth line of a source that has only a train split. The
//! held-out rows measure false alarms and recall on real posts the model never saw.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::io::Example;
use crate::label::Label;

/// Which rows of the corpora to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Part {
    /// The rows for training.
    Train,
    /// The held-out rows, for measuring.
    Holdout,
    /// Every row.
    All,
}

/// One row of a corpus with its label and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct CorpusRow {
    pub example: Example,
    /// `source/split/line`, the reference the labels file uses.
    pub reference: String,
    /// Whether a person labeled it (rows not in the labels file are neutral by default).
    pub hand_labeled: bool,
}

#[derive(Deserialize)]
struct RawRow {
    text: String,
    source: String,
    split: String,
}

/// A hand label: `None` drops the row.
type HandLabel = Option<(Label, Option<String>)>;

/// Reads the labels file: a header, then `source<TAB>split<TAB>line<TAB>label<TAB>kind` rows.
pub fn read_labels(path: &Path) -> Result<HashMap<(String, u64), HandLabel>> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut out = HashMap::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| Error::io(path, e))?;
        let row = i as u64 + 1;
        if row == 1 || line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |reason: String| Error::BadRow {
            path: name.clone(),
            row,
            reason,
        };
        let cols: Vec<&str> = line.split('\t').collect();
        let [source, _split, line_no, label, kind] = cols[..] else {
            return Err(bad(format!(
                "expected 5 tab-separated columns (source, split, line, label, kind), found {}",
                cols.len()
            )));
        };
        let line_no: u64 = line_no
            .trim()
            .parse()
            .map_err(|_| bad(format!("line {line_no:?} is not a number")))?;
        let label = match label.trim() {
            "drop" => None,
            l => {
                let label = l.parse::<Label>().map_err(|e| bad(e.to_string()))?;
                let kind = Some(kind.trim().to_string()).filter(|k| !k.is_empty() && k != "-");
                Some((label, kind))
            }
        };
        if out
            .insert((source.trim().to_string(), line_no), label)
            .is_some()
        {
            return Err(bad(format!("{source} line {line_no} is labeled twice")));
        }
    }
    Ok(out)
}

/// The corpus files under `dir`: every `*.jsonl` in `dir` and its direct subfolders, in name order.
fn corpus_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries.flatten() {
        if entry.path().is_dir() {
            dirs.push(entry.path());
        }
    }
    for d in dirs {
        for entry in std::fs::read_dir(&d)
            .map_err(|e| Error::io(&d, e))?
            .flatten()
        {
            let p = entry.path();
            if p.extension().is_some_and(|e| e == "jsonl") {
                files.push(p);
            }
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(Error::BadInput {
            path: dir.display().to_string(),
            reason: "no .jsonl corpus files here: pass the folder that holds indonlu/ (e.g. ../shared/corpora)".into(),
        });
    }
    Ok(files)
}

/// Undoes the publishers' surface artifacts, so the model cannot learn "spaced punctuation or
/// masked usernames mean ordinary traffic": `[USERNAME]` becomes a mention and `[URL]` a link (both
/// then normalize to the same placeholders as any post), and the space SmSA puts before punctuation
/// goes.
pub fn clean_artifacts(text: &str) -> String {
    let text = text
        .replace("[USERNAME]", "@user")
        .replace("[URL]", "https://t.co/x");
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ' '
            && chars
                .peek()
                .is_some_and(|n| matches!(n, ',' | '.' | '!' | '?' | ';' | ':' | ')'))
        {
            continue;
        }
        out.push(c);
        if c == '(' {
            while chars.peek() == Some(&' ') {
                chars.next();
            }
        }
    }
    out
}

/// Reads the corpora under `dir` with the hand labels of `labels_path`, keeping the rows of `part`.
pub fn read_corpora(dir: &Path, labels_path: &Path, part: Part) -> Result<Vec<CorpusRow>> {
    let mut labels = read_labels(labels_path)?;
    let mut rows = Vec::new();
    for path in corpus_files(dir)? {
        let name = path.display().to_string();
        let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
        let mut parsed = Vec::new();
        for (i, line) in BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|e| Error::io(&path, e))?;
            if line.trim().is_empty() {
                continue;
            }
            let raw: RawRow = serde_json::from_str(&line).map_err(|e| Error::BadRow {
                path: name.clone(),
                row: i as u64 + 1,
                reason: format!("not a corpus row (text, source, split): {e}"),
            })?;
            parsed.push((i as u64 + 1, raw));
        }
        let only_train = parsed.iter().all(|(_, r)| r.split == "train");
        for (line_no, raw) in parsed {
            let held_out = raw.split != "train" || (only_train && line_no % 5 == 0);
            let keep = match part {
                Part::Train => !held_out,
                Part::Holdout => held_out,
                Part::All => true,
            };
            let hand = labels.remove(&(raw.source.clone(), line_no));
            if !keep {
                continue;
            }
            let (label, kind, hand_labeled) = match hand {
                Some(None) => continue,
                Some(Some((label, kind))) => (label, kind, true),
                None => (Label::Neutral, Some("everyday".to_string()), false),
            };
            rows.push(CorpusRow {
                reference: format!("{}/{}/{line_no}", raw.source, raw.split),
                example: Example {
                    text: clean_artifacts(&raw.text),
                    label,
                    kind,
                },
                hand_labeled,
            });
        }
    }
    if let Some(((source, line), _)) = labels.into_iter().next() {
        return Err(Error::BadInput {
            path: labels_path.display().to_string(),
            reason: format!(
                "labels {source} line {line}, which no corpus file under {} has: the labels belong to other corpus files",
                dir.display()
            ),
        });
    }
    Ok(rows)
}

/// Which rows train the classifier when at most `max_unlisted` of the unlisted (neutral) rows may:
/// every hand-labeled row, and unlisted rows spread evenly over the corpus, so that every source and
/// period is represented. `None` keeps every row.
pub fn keep_mask(rows: &[CorpusRow], max_unlisted: Option<usize>) -> Vec<bool> {
    let unlisted = rows.iter().filter(|r| !r.hand_labeled).count();
    let keep = max_unlisted.unwrap_or(unlisted).min(unlisted);
    let mut j = 0; // index among the unlisted rows
    rows.iter()
        .map(|r| {
            if r.hand_labeled {
                return true;
            }
            // Row j is kept when it starts a new one of `keep` equal shares of the unlisted rows.
            let kept = (j + 1) * keep / unlisted > j * keep / unlisted;
            j += 1;
            kept
        })
        .collect()
}

/// Splits corpus rows by [`keep_mask`] into the rows to train the classifier on and the texts of
/// the others (pretraining text only).
pub fn cap_unlisted(
    rows: Vec<CorpusRow>,
    max_unlisted: Option<usize>,
) -> (Vec<Example>, Vec<String>) {
    let mask = keep_mask(&rows, max_unlisted);
    let (mut kept, mut rest) = (Vec::new(), Vec::new());
    for (r, keep) in rows.into_iter().zip(mask) {
        if keep {
            kept.push(r.example);
        } else {
            rest.push(r.example.text);
        }
    }
    (kept, rest)
}

/// `rows` with each promotional or campaigning row `times` times in all: the corpora's few real
/// election posts weigh more against their thousands of neutral rows (`train --corpora-repeat`).
pub fn repeat_election_rows(rows: Vec<Example>, times: usize) -> Vec<Example> {
    let extra: Vec<Example> = rows
        .iter()
        .filter(|e| e.label != Label::Neutral)
        .cloned()
        .collect();
    let mut out = rows;
    for _ in 1..times.max(1) {
        out.extend(extra.iter().cloned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn election_rows_are_repeated_and_neutral_rows_kept_once() {
        let ex = |t: &str, label| Example {
            text: t.into(),
            label,
            kind: None,
        };
        let rows = vec![ex("a", Label::Neutral), ex("b", Label::Campaigning)];
        let out = repeat_election_rows(rows.clone(), 3);
        let texts: Vec<&str> = out.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(texts, ["a", "b", "b", "b"]);
        assert_eq!(repeat_election_rows(rows.clone(), 1), rows);
        assert_eq!(repeat_election_rows(rows.clone(), 0), rows);
    }

    fn corpus() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("indonlu");
        std::fs::create_dir(&sub).unwrap();
        let mut a = String::new();
        for i in 1..=10 {
            a.push_str(&format!(
                "{{\"text\": \"ulasan {i} , enak !\", \"source\": \"aa\", \"split\": \"train\"}}\n"
            ));
        }
        std::fs::write(sub.join("aa.jsonl"), a).unwrap();
        std::fs::write(
            sub.join("bb.jsonl"),
            "{\"text\": \"[USERNAME] pilih X\", \"source\": \"bb\", \"split\": \"train\"}\n\
             {\"text\": \"tes\", \"source\": \"bb\", \"split\": \"valid\"}\n",
        )
        .unwrap();
        let labels = dir.path().join("labels.tsv");
        std::fs::write(
            &labels,
            "source\tsplit\tline\tlabel\tkind\naa\ttrain\t3\tdrop\t-\nbb\ttrain\t1\tcampaigning\tvote_call\n",
        )
        .unwrap();
        (dir, dir_path(&sub), labels)
    }

    fn dir_path(p: &Path) -> PathBuf {
        p.parent().unwrap().to_path_buf()
    }

    #[test]
    fn unlisted_rows_are_neutral_dropped_rows_go_and_every_fifth_is_held_out() {
        let (_d, dir, labels) = corpus();
        let train = read_corpora(&dir, &labels, Part::Train).unwrap();
        let held = read_corpora(&dir, &labels, Part::Holdout).unwrap();
        let refs: Vec<&str> = held.iter().map(|r| r.reference.as_str()).collect();
        assert_eq!(refs, ["aa/train/5", "aa/train/10", "bb/valid/2"]);
        assert_eq!(train.len(), 8 - 1 + 1); // aa: 8 kept minus the dropped line 3; bb: line 1
        assert!(train.iter().all(|r| r.reference != "aa/train/3"));
        let vote = train.iter().find(|r| r.reference == "bb/train/1").unwrap();
        assert_eq!(vote.example.label, Label::Campaigning);
        assert_eq!(vote.example.kind.as_deref(), Some("vote_call"));
        assert!(vote.hand_labeled);
        assert_eq!(vote.example.text, "@user pilih X");
        assert_eq!(read_corpora(&dir, &labels, Part::All).unwrap().len(), 11);
    }

    #[test]
    fn capping_keeps_every_hand_label_and_spreads_the_neutral_rows() {
        let (_d, dir, labels) = corpus();
        let rows = read_corpora(&dir, &labels, Part::Train).unwrap();
        let (kept, rest) = cap_unlisted(rows.clone(), Some(3));
        assert_eq!(kept.len(), 4, "3 unlisted + 1 hand-labeled");
        assert_eq!(rest.len(), rows.len() - 4);
        assert!(kept.iter().any(|e| e.label == Label::Campaigning));
        let texts: Vec<&str> = kept.iter().map(|e| e.text.as_str()).collect();
        assert_ne!(
            texts[0], "ulasan 1, enak!",
            "spread out, not the first rows: {texts:?}"
        );
        let (all, none) = cap_unlisted(rows.clone(), None);
        assert_eq!((all.len(), none.len()), (rows.len(), 0));
    }

    #[test]
    fn artifacts_are_undone() {
        assert_eq!(
            clean_artifacts("enak , murah ! ( mantap )"),
            "enak, murah! (mantap)"
        );
        assert_eq!(
            clean_artifacts("[USERNAME] cek [URL]"),
            "@user cek https://t.co/x"
        );
    }

    #[test]
    fn labels_for_rows_that_do_not_exist_are_an_error() {
        let (d, dir, _) = corpus();
        let labels = d.path().join("other.tsv");
        std::fs::write(&labels, "h\nzz\ttrain\t9\tneutral\teveryday\n").unwrap();
        let err = read_corpora(&dir, &labels, Part::Train)
            .unwrap_err()
            .to_string();
        assert!(err.contains("zz line 9"), "{err}");
        std::fs::write(&labels, "h\naa\ttrain\tx\tneutral\teveryday\n").unwrap();
        let err = read_corpora(&dir, &labels, Part::Train)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("row 2") && err.contains("not a number"),
            "{err}"
        );
    }
}

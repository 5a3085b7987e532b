//! Classifying an in-memory list of posts exactly as a bulk run classifies rows (windows, triage,
//! participants, explanations of flagged rows, error rows for empty posts): for callers such as
//! the Python package, which hand over a column of texts rather than a file.

use crate::classify::classifier::Classifier;
use crate::classify::stream::{classify_stream, StreamOptions};
use crate::error::Result;
use crate::io::writer::RecordWriter;
use crate::prediction::{Prediction, Triage};
use crate::record::{non_empty, Fields, Record};

/// One post's outcome: its prediction, or why it has none (the CLI's `error` column).
pub type Outcome = std::result::Result<Prediction, String>;

/// Classifies `texts` in order; `None` (a missing value) is an error outcome, as an empty post is.
/// Every outcome is returned, `opts.flagged_only` notwithstanding.
pub fn classify_texts<S: AsRef<str>>(
    classifier: &Classifier,
    texts: &[Option<S>],
    opts: StreamOptions,
) -> Result<Vec<Outcome>> {
    let records = texts.iter().enumerate().map(|(i, t)| {
        Ok(Record {
            row: i as u64 + 1,
            offset: None,
            fields: Fields::Line(String::new()),
            text: match t {
                Some(t) => non_empty(t.as_ref().to_string()),
                None => Err("no text (a missing value)".into()),
            },
        })
    });
    let mut out = Collect(Vec::with_capacity(texts.len()));
    let opts = StreamOptions {
        flagged_only: false,
        ..opts
    };
    classify_stream(classifier, records, &mut out, opts, |_, _| Ok(()))?;
    Ok(out.0)
}

/// A writer that keeps the outcomes.
struct Collect(Vec<Outcome>);

impl RecordWriter for Collect {
    fn write(&mut self, _: &Record, outcome: std::result::Result<&Prediction, &str>) -> Result<()> {
        self.0.push(outcome.cloned().map_err(str::to_string));
        Ok(())
    }
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }
    fn bytes_written(&self) -> u64 {
        0
    }
    fn set_triage(&mut self, _: Triage) {}
}

//! The streaming driver of bulk runs: reads a window of records, classifies it in parallel and
//! writes it back in input order. It sits above both the [`crate::io`] readers/writers and the
//! [`Classifier`]; the types they share ([`Record`], [`Prediction`]) live below both.

use std::time::Instant;

use rayon::prelude::*;

use crate::classify::classifier::Classifier;
use crate::classify::explain::Method;
use crate::error::{Result, EMPTY_TEXT};
use crate::io::writer::RecordWriter;
use crate::prediction::{Prediction, Triage};
use crate::record::Record;
use crate::text::tokenizer::Windows;

/// A row ready for the model: its token ids and the registry indices of the participants it names.
type Encoded = (Windows, Vec<usize>);

/// Settings of a bulk run.
#[derive(Clone, Copy, Debug)]
pub struct StreamOptions {
    /// Rows read, classified and written together at most; bounds memory with ordinary posts.
    pub window: usize,
    /// Bytes of text a window holds at most (a window always takes at least one row); bounds
    /// memory with long posts, where `window` rows could be gigabytes.
    pub window_bytes: usize,
    /// When a post is flagged or sent for review (the writer's `flagged`/`review` columns).
    pub triage: Triage,
    /// Write only flagged rows and error rows; the others are still read, classified and counted.
    pub flagged_only: bool,
    /// Explain flagged rows (their `explanation` column): the words that drove the label, the
    /// `explain` strongest of them. 0 explains nothing.
    pub explain: usize,
    /// How those words are weighed.
    pub explain_method: Method,
}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions {
            window: 4096,
            // 4,096 ordinary posts are well under 2 MiB; 8 MiB leaves them whole and keeps a
            // window of 200 KB posts to ~40 rows.
            window_bytes: 8 << 20,
            triage: Triage::default(),
            flagged_only: false,
            explain: 0,
            explain_method: Method::default(),
        }
    }
}

/// What a bulk run did.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RunSummary {
    /// Input rows done (predictions plus error rows); with `flagged_only` not all are written.
    pub rows: u64,
    /// Rows with a prediction.
    pub predicted: u64,
    /// Rows written as error records.
    pub errors: u64,
    /// Classified rows that were flagged.
    pub flagged: u64,
    pub seconds: f64,
}

impl RunSummary {
    /// Rows per second over the whole run.
    pub fn rows_per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.rows as f64 / self.seconds
        } else {
            0.0
        }
    }
}

impl std::fmt::Display for RunSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} rows ({} classified, {} flagged, {} errors) in {:.1} s, {:.0} rows/s",
            self.rows,
            self.predicted,
            self.flagged,
            self.errors,
            self.seconds,
            self.rows_per_second()
        )
    }
}

/// Classifies a stream of records into `writer`, one output row per input row, in input order.
/// `after_window` runs after each window is written and flushed, with the running summary (the CLI
/// uses it for progress and resume checkpoints). Fatal I/O errors stop the run; row-level problems
/// become error rows.
pub fn classify_stream<I, W, F>(
    classifier: &Classifier,
    records: I,
    writer: &mut W,
    opts: StreamOptions,
    mut after_window: F,
) -> Result<RunSummary>
where
    I: Iterator<Item = Result<Record>>,
    W: RecordWriter + ?Sized,
    F: FnMut(&RunSummary, &mut W) -> Result<()>,
{
    writer.set_triage(opts.triage);
    let start = Instant::now();
    let mut summary = RunSummary::default();
    let mut records = records.peekable();
    let window = opts.window.max(1);
    while records.peek().is_some() {
        let mut chunk: Vec<Record> = Vec::new();
        let mut bytes = 0usize;
        while chunk.len() < window && bytes < opts.window_bytes {
            let Some(r) = records.next() else { break };
            let r = r?;
            bytes += r.text_bytes();
            chunk.push(r);
        }
        let encoded: Vec<std::result::Result<Encoded, String>> = chunk
            .par_iter()
            .map(|r| match &r.text {
                Ok(t) => {
                    let prepared = classifier.prepare(t);
                    if prepared.text.is_empty() {
                        Err(EMPTY_TEXT.to_string())
                    } else {
                        classifier
                            .encode_windows(&prepared.text)
                            .map(|w| (w, prepared.participants))
                            .map_err(|e| e.to_string())
                    }
                }
                Err(e) => Err(e.clone()),
            })
            .collect();
        let ok_idx: Vec<usize> = (0..chunk.len()).filter(|&i| encoded[i].is_ok()).collect();
        let windows: Vec<&Windows> = ok_idx
            .iter()
            .map(|&i| &encoded[i].as_ref().expect("filtered").0)
            .collect();
        // Gradient explanations of flagged rows come from the pass that classifies them; occlusion
        // re-classifies them below.
        let one_pass = opts.explain > 0 && opts.explain_method == Method::Gradient;
        let preds = if one_pass {
            let texts: Vec<&str> = ok_idx
                .iter()
                .map(|&i| chunk[i].text.as_deref().unwrap_or_default())
                .collect();
            let flagged = |p: &Prediction| opts.triage.flagged(p);
            classifier.predict_explained(&texts, &windows, flagged, opts.explain)?
        } else {
            classifier.predict_windows(&windows)?
        };
        let mut pred_of: Vec<Option<Prediction>> = vec![None; chunk.len()];
        for (&i, mut p) in ok_idx.iter().zip(preds) {
            if let Ok((_, mentions)) = &encoded[i] {
                p.participants = classifier.participant_names(mentions);
            }
            pred_of[i] = Some(p);
        }
        if opts.explain > 0 && !one_pass {
            // Only flagged rows: an analyst reads those, and explaining costs model passes.
            let (flagged, texts): (Vec<usize>, Vec<&str>) = (0..chunk.len())
                .filter(|&i| pred_of[i].as_ref().is_some_and(|p| opts.triage.flagged(p)))
                .filter_map(|i| Some((i, chunk[i].text.as_deref().ok()?)))
                .unzip();
            let predicted: Vec<Prediction> =
                flagged.iter().filter_map(|&i| pred_of[i].clone()).collect();
            let explained = classifier.explain_predicted(
                &texts,
                predicted,
                opts.explain,
                opts.explain_method,
            )?;
            for (&i, e) in flagged.iter().zip(explained) {
                if let Some(p) = &mut pred_of[i] {
                    p.explanation = Some(e.words);
                }
            }
        }
        for (i, rec) in chunk.iter().enumerate() {
            match (&pred_of[i], &encoded[i]) {
                (Some(p), _) => {
                    let flagged = opts.triage.flagged(p);
                    if flagged || !opts.flagged_only {
                        writer.write(rec, Ok(p))?;
                    }
                    summary.predicted += 1;
                    summary.flagged += flagged as u64;
                }
                (None, Err(reason)) => {
                    writer.write(rec, Err(reason))?;
                    summary.errors += 1;
                }
                (None, Ok(_)) => unreachable!("every encoded row is predicted"),
            }
            summary.rows += 1;
        }
        writer.flush()?;
        summary.seconds = start.elapsed().as_secs_f64();
        after_window(&summary, writer)?;
    }
    summary.seconds = start.elapsed().as_secs_f64();
    Ok(summary)
}

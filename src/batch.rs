//! Bulk classification: length-bucketed, token-budget batches and the streaming pipeline that reads
//! a window of rows, classifies it in parallel and writes it back in input order.

use std::time::Instant;

use candle_core::Device;
use rayon::prelude::*;

use crate::classifier::{Classifier, Prediction};
use crate::error::Result;
use crate::io::{Record, RecordWriter};
use crate::normalize::normalize;

/// How inputs are grouped into model batches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchOptions {
    /// Upper bound on `batch size × longest sequence` (padded tokens per forward pass).
    pub token_budget: usize,
    /// Upper bound on sequences per batch.
    pub max_batch: usize,
    /// Run batches concurrently on the rayon pool (CPU). When false, batches run one after another
    /// and only candle's matmuls use the cores.
    pub parallel_batches: bool,
}

impl BatchOptions {
    /// Defaults measured in `benches/README.md`: small batches keep every core busy on CPU,
    /// large ones feed a GPU.
    pub fn for_device(device: &Device) -> Self {
        if device.is_cpu() {
            BatchOptions {
                token_budget: 512,
                max_batch: 64,
                parallel_batches: true,
            }
        } else {
            BatchOptions {
                token_budget: 262_144,
                max_batch: 4096,
                parallel_batches: false,
            }
        }
    }
}

/// Groups sequence indices into batches: sorted by length so padding is minimal, each batch padded
/// only to its own longest sequence and holding at most `token_budget` padded tokens.
/// Every index appears in exactly one batch.
pub fn plan_batches(lengths: &[usize], opts: BatchOptions) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&i| (lengths[i], i));
    let mut batches = Vec::new();
    let mut cur: Vec<usize> = Vec::new();
    for i in order {
        // Sorted ascending, so the newcomer is the longest in the batch.
        let longest = lengths[i].max(1);
        if !cur.is_empty()
            && ((cur.len() + 1) * longest > opts.token_budget || cur.len() >= opts.max_batch)
        {
            batches.push(std::mem::take(&mut cur));
        }
        cur.push(i);
    }
    if !cur.is_empty() {
        batches.push(cur);
    }
    batches
}

/// Settings of a bulk run.
#[derive(Clone, Copy, Debug)]
pub struct StreamOptions {
    /// Rows read, classified and written together; bounds memory.
    pub window: usize,
}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions { window: 4096 }
    }
}

/// What a bulk run did.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RunSummary {
    /// Output rows written (predictions plus error rows).
    pub rows: u64,
    /// Rows with a prediction.
    pub predicted: u64,
    /// Rows written as error records.
    pub errors: u64,
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
            "{} rows ({} classified, {} errors) in {:.1} s, {:.0} rows/s",
            self.rows,
            self.predicted,
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
    let start = Instant::now();
    let mut summary = RunSummary::default();
    let mut records = records.peekable();
    let window = opts.window.max(1);
    while records.peek().is_some() {
        let chunk: Vec<Record> = records.by_ref().take(window).collect::<Result<_>>()?;
        let encoded: Vec<std::result::Result<Vec<u32>, String>> = chunk
            .par_iter()
            .map(|r| match &r.text {
                Ok(t) => {
                    let normalized = normalize(t);
                    if normalized.is_empty() {
                        Err(
                            "empty text (nothing left after removing control characters)"
                                .to_string(),
                        )
                    } else {
                        classifier
                            .encoder()
                            .encode(&normalized)
                            .map_err(|e| e.to_string())
                    }
                }
                Err(e) => Err(e.clone()),
            })
            .collect();
        let ok_idx: Vec<usize> = (0..chunk.len()).filter(|&i| encoded[i].is_ok()).collect();
        let ids: Vec<Vec<u32>> = ok_idx
            .iter()
            .map(|&i| encoded[i].as_ref().expect("filtered").clone())
            .collect();
        let preds = classifier.predict_ids(&ids)?;
        let mut pred_of: Vec<Option<Prediction>> = vec![None; chunk.len()];
        for (&i, p) in ok_idx.iter().zip(preds) {
            pred_of[i] = Some(p);
        }
        for (i, rec) in chunk.iter().enumerate() {
            match (&pred_of[i], &encoded[i]) {
                (Some(p), _) => {
                    writer.write(rec, Ok(p))?;
                    summary.predicted += 1;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_covers_every_index_once_within_budget() {
        let lengths = [5, 40, 3, 40, 17, 9, 128, 1, 64, 22];
        let opts = BatchOptions {
            token_budget: 128,
            max_batch: 3,
            parallel_batches: true,
        };
        let plan = plan_batches(&lengths, opts);
        let mut seen: Vec<usize> = plan.iter().flatten().copied().collect();
        seen.sort();
        assert_eq!(seen, (0..lengths.len()).collect::<Vec<_>>());
        for b in &plan {
            let longest = b.iter().map(|&i| lengths[i]).max().unwrap();
            assert!(b.len() <= 3);
            assert!(b.len() == 1 || b.len() * longest <= 128, "{b:?}");
        }
    }

    #[test]
    fn plan_groups_similar_lengths() {
        let lengths = [10, 100, 11, 101];
        let plan = plan_batches(
            &lengths,
            BatchOptions {
                token_budget: 10_000,
                max_batch: 2,
                parallel_batches: true,
            },
        );
        assert_eq!(plan, vec![vec![0, 2], vec![1, 3]]);
    }

    #[test]
    fn an_oversized_sequence_gets_its_own_batch() {
        let plan = plan_batches(
            &[500, 2],
            BatchOptions {
                token_budget: 100,
                max_batch: 8,
                parallel_batches: true,
            },
        );
        assert_eq!(plan, vec![vec![1], vec![0]]);
    }

    #[test]
    fn empty_input_plans_nothing() {
        assert!(plan_batches(&[], BatchOptions::for_device(&Device::Cpu)).is_empty());
    }
}

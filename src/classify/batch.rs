//! Batch planning: length-bucketed, token-budget batches of tokenized posts.

use candle_core::Device;

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

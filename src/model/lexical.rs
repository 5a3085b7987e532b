//! The lexical head: a linear classifier over hashed TF-IDF n-grams of the prepared text
//! ([`crate::text::ngrams`]), whose logits, times a weight fitted on dev, are added to the
//! encoder's before the temperature.
//!
//! A TF-IDF linear model trained on the same rows misses different posts than the encoder: it
//! keeps every rare word and spelling the 8,000-piece vocabulary splits up, where the encoder
//! reads word order and context. On dev their sum beat either alone (figures in the model card).
//! It is stored in `model.safetensors` beside the encoder's weights (`lexical.idf` `(2B)`,
//! `lexical.weight` `(3, 2B)`, `lexical.bias` `(3)`, B buckets per block) and described by
//! [`LexicalConfig`] in `config.json`.

use serde::{Deserialize, Serialize};

use crate::text::ngrams::{for_each_gram, hashed_counts};

/// Features version written by this pantau: word 1–2-grams and character 2–5-grams within words,
/// sublinear TF, IDF, L2 norm per block.
pub const LEXICAL_FEATURES: u32 = 1;

/// The lexical head's entry in `config.json`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LexicalConfig {
    /// Hash buckets per block (word n-grams, character n-grams).
    pub buckets: usize,
    /// Its logits are multiplied by this before they join the encoder's.
    pub weight: f32,
    /// The feature recipe ([`LEXICAL_FEATURES`]).
    pub features: u32,
}

/// The head's weights, ready to score posts.
#[derive(Clone, Debug)]
pub struct LexicalHead {
    config: LexicalConfig,
    /// Per bucket of both blocks: its IDF (0 drops the bucket: seen in fewer than two training
    /// posts), then its three label weights. Together, so scoring a post's few hundred buckets
    /// touches one cache line each: it measured 40% cheaper than separate arrays.
    table: Vec<[f32; 4]>,
    bias: [f32; 3],
}

impl LexicalHead {
    /// A head from its parts; `weight` is label-major `(3, 2B)`, as stored.
    pub fn new(
        config: LexicalConfig,
        idf: Vec<f32>,
        weight: &[f32],
        bias: [f32; 3],
    ) -> Result<Self, String> {
        let d = 2 * config.buckets;
        if idf.len() != d || weight.len() != 3 * d {
            return Err(format!(
                "lexical head of {} buckets per block needs lexical.idf ({d}) and lexical.weight \
                 (3, {d}); found {} and {} values",
                config.buckets,
                idf.len(),
                weight.len()
            ));
        }
        let table = (0..d)
            .map(|j| [idf[j], weight[j], weight[d + j], weight[2 * d + j]])
            .collect();
        Ok(LexicalHead {
            config,
            table,
            bias,
        })
    }

    /// Its `config.json` entry.
    pub fn config(&self) -> LexicalConfig {
        self.config
    }

    /// The same head with another weight (fitting tries several on dev).
    pub fn with_weight(mut self, weight: f32) -> Self {
        self.config.weight = weight;
        self
    }

    /// `lexical.idf`, `lexical.weight` (label-major) and `lexical.bias`, as stored.
    pub fn parts(&self) -> (Vec<f32>, Vec<f32>, [f32; 3]) {
        let idf = self.table.iter().map(|t| t[0]).collect();
        let label_major = (1..4)
            .flat_map(|k| self.table.iter().map(move |t| t[k]))
            .collect();
        (idf, label_major, self.bias)
    }

    /// The post's TF-IDF features: `(bucket, value)`, word n-grams first, each block of unit L2
    /// norm (or empty).
    pub fn features(&self, prepared: &str) -> Vec<(u32, f32)> {
        let counts = hashed_counts(prepared, self.config.buckets);
        tf_idf(&counts, |j| self.table[j as usize][0], self.config.buckets)
    }

    /// The head's logits for a prepared post, unweighted.
    pub fn logits(&self, prepared: &str) -> [f32; 3] {
        let mut z = self.bias;
        for (j, x) in self.features(prepared) {
            let w = &self.table[j as usize];
            for k in 0..3 {
                z[k] += x * w[k + 1];
            }
        }
        z
    }

    /// What the head adds to the encoder's logits for a prepared post: its logits times the
    /// weight.
    pub fn offset(&self, prepared: &str) -> [f32; 3] {
        self.logits(prepared).map(|z| z * self.config.weight)
    }

    /// Each whitespace-separated word's share of [`LexicalHead::offset`] (without the bias): a
    /// bucket's term split evenly among its occurrences, a word bigram's half to each of its
    /// words. The shares add up to the offset minus the weighted bias.
    pub fn word_offsets(&self, prepared: &str) -> Vec<[f32; 3]> {
        let b = self.config.buckets;
        let counts = hashed_counts(prepared, b);
        let value: std::collections::HashMap<u32, f32> =
            tf_idf(&counts, |j| self.table[j as usize][0], b)
                .into_iter()
                .collect();
        let count: std::collections::HashMap<u32, u32> = counts.into_iter().collect();
        let mut out = vec![[0f32; 3]; prepared.split_whitespace().count()];
        for_each_gram(prepared, b, |g| {
            let Some(x) = value.get(&g.bucket) else {
                return;
            };
            let share = x * self.config.weight / count[&g.bucket] as f32;
            let w = &self.table[g.bucket as usize];
            let words: &[usize] = if g.pair {
                &[g.word, g.word + 1]
            } else {
                &[g.word]
            };
            let part = share / words.len() as f32;
            for &i in words {
                for k in 0..3 {
                    out[i][k] += part * w[k + 1];
                }
            }
        });
        out
    }
}

/// Sublinear TF (1 + ln count) times IDF, normalized to unit L2 norm per block; buckets of IDF 0
/// are left out. `counts` hold the word block before the character block, as
/// [`hashed_counts`] gives them.
pub(crate) fn tf_idf(
    counts: &[(u32, u32)],
    idf: impl Fn(u32) -> f32,
    buckets: usize,
) -> Vec<(u32, f32)> {
    let mut out: Vec<(u32, f32)> = counts
        .iter()
        .filter_map(|&(j, c)| {
            let w = idf(j);
            let tf = if c == 1 { 1.0 } else { 1.0 + (c as f32).ln() };
            (w > 0.0).then_some((j, tf * w))
        })
        .collect();
    // Word buckets come first, so the character block starts at the first bucket ≥ `buckets`.
    let split = out.partition_point(|&(j, _)| (j as usize) < buckets);
    let (words, chars) = out.split_at_mut(split);
    for block in [words, chars] {
        let norm = block.iter().map(|(_, v)| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            block.iter_mut().for_each(|(_, v)| *v /= norm);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(buckets: usize) -> LexicalHead {
        let d = 2 * buckets;
        let config = LexicalConfig {
            buckets,
            weight: 0.5,
            features: LEXICAL_FEATURES,
        };
        // Label k's weight on bucket j is k·j, so the layout is easy to check.
        let weight: Vec<f32> = (0..3)
            .flat_map(|k| (0..d).map(move |j| (k * j) as f32))
            .collect();
        LexicalHead::new(config, vec![1.0; d], &weight, [0.1, 0.2, 0.3]).unwrap()
    }

    #[test]
    fn blocks_are_unit_norm_and_unseen_buckets_drop() {
        let h = head(64);
        let f = h.features("ayo coblos nomor dua");
        let norm = |r: std::ops::Range<u32>| {
            f.iter()
                .filter(|(j, _)| r.contains(j))
                .map(|(_, v)| v * v)
                .sum::<f32>()
        };
        assert!((norm(0..64) - 1.0).abs() < 1e-5 && (norm(64..128) - 1.0).abs() < 1e-5);
        let mut idf = vec![1.0; 128];
        idf[64..].iter_mut().for_each(|v| *v = 0.0);
        let words_only = tf_idf(&hashed_counts("ayo coblos", 64), |j| idf[j as usize], 64);
        assert!(!words_only.is_empty() && words_only.iter().all(|(j, _)| *j < 64));
        assert!(h.features("").is_empty());
        assert_eq!(h.logits(""), [0.1, 0.2, 0.3], "an empty post gets the bias");
    }

    #[test]
    fn logits_are_the_dot_product_and_parts_round_trip() {
        let h = head(16);
        let f = h.features("cantik banget");
        let want: Vec<f32> = (0..3)
            .map(|k| {
                [0.1, 0.2, 0.3][k]
                    + f.iter()
                        .map(|&(j, x)| x * (k as f32 * j as f32))
                        .sum::<f32>()
            })
            .collect();
        let got = h.logits("cantik banget");
        for k in 0..3 {
            assert!((got[k] - want[k]).abs() < 1e-3, "{got:?} vs {want:?}");
            assert!((h.offset("cantik banget")[k] - 0.5 * got[k]).abs() < 1e-6);
        }
        let (idf, weight, bias) = h.parts();
        let again = LexicalHead::new(h.config(), idf, &weight, bias).unwrap();
        assert_eq!(again.logits("cantik banget"), got);
        assert!(LexicalHead::new(h.config(), vec![1.0; 3], &weight, bias).is_err());
    }

    #[test]
    fn word_offsets_add_up_to_the_offset() {
        let h = head(256);
        for text in ["ayo coblos nomor dua dua", "cantik", "a b a b a", ""] {
            let words = h.word_offsets(text);
            assert_eq!(words.len(), text.split_whitespace().count());
            let o = h.offset(text);
            for k in 0..3 {
                let sum: f32 = words.iter().map(|w| w[k]).sum();
                let want = o[k] - 0.5 * [0.1, 0.2, 0.3][k];
                assert!(
                    (sum - want).abs() < 1e-2 * want.abs().max(1.0),
                    "{text}: {sum} vs {want}"
                );
            }
        }
    }
}

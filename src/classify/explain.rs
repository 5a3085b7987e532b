//! Why a post got its label: word occlusion. Each word is removed in turn and the post classified
//! again; a word's weight is how much the label's log-odds, ln(p / (1 − p)), fall without it. It
//! needs no gradients (the CPU path runs frozen fused kernels) and reads like the model's own
//! evidence: "without `coblos` this post's odds of campaigning are e^2.3 ≈ 10 times lower". Log-odds,
//! not probability: for a post the model is sure of (p = 0.996), removing any one word moves p by
//! less than 0.01, which says nothing, while the odds still show which words carry the verdict.

use crate::classify::classifier::Classifier;
use crate::error::Result;
use crate::label::Label;
use crate::prediction::{Prediction, WordWeight};

/// Words of a post that are occluded at most: a long post's later words are not weighed (each
/// weighed word costs one more model pass).
pub const MAX_OCCLUDED: usize = 48;

/// A post's label, its probability and the words that drove it, strongest first.
#[derive(Clone, Debug, PartialEq)]
pub struct Explanation {
    pub prediction: Prediction,
    /// The label explained (the predicted one).
    pub label: Label,
    /// Words whose removal lowers the label's probability, with the drop in log-odds, largest first.
    pub words: Vec<WordWeight>,
}

impl Classifier {
    /// Explains one post (see the module docs); `top` words at most.
    pub fn explain(&self, text: &str, top: usize) -> Result<Explanation> {
        Ok(self.explain_batch(&[text], top)?.remove(0))
    }

    /// Explains many posts, their occluded variants classified together in parallel.
    pub fn explain_batch<S: AsRef<str> + Sync>(
        &self,
        texts: &[S],
        top: usize,
    ) -> Result<Vec<Explanation>> {
        let full = self.classify_batch(texts)?;
        self.explain_predicted(texts, full, top)
    }

    /// Explains posts already classified: `predicted` holds one prediction per text (the bulk
    /// path has them, so they are not computed twice).
    pub fn explain_predicted<S: AsRef<str> + Sync>(
        &self,
        texts: &[S],
        predicted: Vec<Prediction>,
        top: usize,
    ) -> Result<Vec<Explanation>> {
        let words: Vec<Vec<&str>> = texts
            .iter()
            .map(|t| t.as_ref().split_whitespace().collect())
            .collect();
        // Every post without each of its first MAX_OCCLUDED words, all in one batch.
        let mut variants: Vec<String> = Vec::new();
        let mut owner: Vec<(usize, usize)> = Vec::new();
        for (p, ws) in words.iter().enumerate() {
            // Words that normalize to nothing: a variant left with only those would be empty text.
            let blank: Vec<bool> = ws.iter().map(|w| self.prepare(w).text.is_empty()).collect();
            let content = blank.iter().filter(|b| !**b).count();
            for (i, &is_blank) in blank.iter().enumerate().take(MAX_OCCLUDED) {
                if content > usize::from(!is_blank) {
                    let rest: Vec<&str> = ws
                        .iter()
                        .enumerate()
                        .filter(|&(j, _)| j != i)
                        .map(|(_, w)| *w)
                        .collect();
                    variants.push(rest.join(" "));
                    owner.push((p, i));
                }
            }
        }
        let scored = self.classify_batch(&variants)?;
        let mut out: Vec<Explanation> = predicted
            .into_iter()
            .map(|prediction| Explanation {
                label: prediction.label,
                prediction,
                words: Vec::new(),
            })
            .collect();
        for ((p, i), without) in owner.into_iter().zip(scored) {
            let e = &mut out[p];
            let weight = log_odds(e.prediction.probability(e.label))
                - log_odds(without.probability(e.label));
            e.words.push(WordWeight {
                word: words[p][i].to_string(),
                weight,
            });
        }
        for (e, ws) in out.iter_mut().zip(&words) {
            // A one-word post: that word is all the evidence there is.
            if e.words.is_empty() && ws.len() == 1 {
                e.words.push(WordWeight {
                    word: ws[0].to_string(),
                    weight: log_odds(e.prediction.probability(e.label)) - log_odds(1.0 / 3.0),
                });
            }
            e.words.retain(|w| w.weight > 0.0);
            e.words.sort_by(|a, b| b.weight.total_cmp(&a.weight));
            e.words.truncate(top);
        }
        Ok(out)
    }
}

/// ln(p / (1 − p)), with p kept off 0 and 1 (float32 probabilities reach both).
pub fn log_odds(p: f32) -> f32 {
    let p = p.clamp(1e-7, 1.0 - 1e-7);
    (p / (1.0 - p)).ln()
}

//! Why a post got its label: the words that drove it, with weights in log-odds of the label,
//! ln(p / (1 − p)). Two methods:
//!
//! - **gradient** (the default): one forward and one backward pass per post
//!   ([`crate::model::EncoderClassifier::token_saliency`]). A word's weight is the gradient of the
//!   label's log-odds with respect to its tokens' presence: the first-order estimate of how much
//!   the log-odds would fall without the word. In a bulk run ([`Classifier::predict_explained`])
//!   the forward pass is the one that classified the post, so a flagged row costs one backward
//!   pass more: cheap enough for every flagged row. On the flagged posts of `data/test.jsonl`,
//!   removing its top word lowers the label's probability for 91% of posts (`benches/README.md`).
//! - **occlusion**: each word is removed in turn and the post classified again; a word's weight is
//!   how much the label's log-odds fall without it. Exact ("without `coblos` this post's odds of
//!   campaigning are e^2.3 ≈ 10 times lower"), but one model pass per word.
//!
//! Log-odds, not probability: for a post the model is sure of (p = 0.996), removing any one word
//! moves p by less than 0.01, which says nothing, while the odds still show which words carry it.

use rayon::prelude::*;

use crate::classify::classifier::{best_window, Classifier, WindowScores, MAX_WINDOWS};
use crate::error::Result;
use crate::label::Label;
use crate::prediction::{Prediction, WordWeight};
use crate::text::align::{align, Aligned};
use crate::text::tokenizer::Windows;

/// Words of a post that are occluded at most: a long post's later words are not weighed (each
/// weighed word costs one more model pass).
pub const MAX_OCCLUDED: usize = 48;

/// How explanations weigh words (see the module docs); `--explain-method` on the command line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Method {
    /// First-order estimate from one forward and one backward pass per post (fast enough for
    /// bulk runs).
    #[default]
    Gradient,
    /// Remove each word and classify again: exact, one model pass per word.
    Occlusion,
}

/// Reads a method by its command-line name (`gradient`, `occlusion`), so every caller, the Python
/// binding included, accepts the same names.
impl std::str::FromStr for Method {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        use clap::ValueEnum;
        <Method as ValueEnum>::from_str(s, false).map_err(|_| {
            let names: Vec<String> = Method::value_variants()
                .iter()
                .filter_map(|m| m.to_possible_value())
                .map(|v| format!("{:?}", v.get_name()))
                .collect();
            format!(
                "{s:?} is not an explanation method: use {}",
                names.join(" or ")
            )
        })
    }
}

/// A post's label, its probability and the words that drove it, strongest first.
#[derive(Clone, Debug, PartialEq)]
pub struct Explanation {
    pub prediction: Prediction,
    /// The label explained (the predicted one).
    pub label: Label,
    /// Words whose removal lowers the label's log-odds, with that drop, largest first.
    pub words: Vec<WordWeight>,
}

impl Classifier {
    /// Each unit's share of the lexical head's push on the label's log-odds: the gradient of the
    /// log-odds with respect to the logits, at the prediction, times each word's share of the
    /// offset. The head is linear in its features, so this is its exact gradient × input, in the
    /// units of the encoder's token scores. `None` without a head.
    fn lexical_scores(&self, a: &Aligned, p: &Prediction) -> Option<Vec<f32>> {
        let head = self.lexical()?;
        let y = p.label.index();
        let t = self.config().temperature;
        // d log-odds / dz: 1/T for the label, minus the others' softmax share over T for the
        // rest (the top stretch keeps the others' ratio, so it is the same after it).
        let rest: f32 = (0..3).filter(|&k| k != y).map(|k| p.probabilities[k]).sum();
        let g: [f32; 3] = std::array::from_fn(|k| {
            if k == y {
                1.0 / t
            } else if rest > 0.0 {
                -p.probabilities[k] / rest / t
            } else {
                -0.5 / t
            }
        });
        let mut out = vec![0f32; a.units.len()];
        for (c, u) in head.word_offsets(&a.marked).iter().zip(&a.marked_units) {
            if let Some(u) = u {
                out[*u] += (0..3).map(|k| g[k] * c[k]).sum::<f32>();
            }
        }
        Some(out)
    }

    /// Explains one post by the presence gradient (see the module docs); `top` words at most.
    pub fn explain(&self, text: &str, top: usize) -> Result<Explanation> {
        Ok(self
            .explain_batch(&[text], top, Method::default())?
            .remove(0))
    }

    /// Explains many posts, batched and in parallel.
    pub fn explain_batch<S: AsRef<str> + Sync>(
        &self,
        texts: &[S],
        top: usize,
        method: Method,
    ) -> Result<Vec<Explanation>> {
        let full = self.classify_batch(texts)?;
        self.explain_predicted(texts, full, top, method)
    }

    /// Explains posts already classified: `predicted` holds one prediction per text (the bulk
    /// path has them, so they are not computed twice).
    pub fn explain_predicted<S: AsRef<str> + Sync>(
        &self,
        texts: &[S],
        predicted: Vec<Prediction>,
        top: usize,
        method: Method,
    ) -> Result<Vec<Explanation>> {
        match method {
            Method::Gradient => self.explain_gradient(texts, predicted, top),
            Method::Occlusion => self.explain_occlusion(texts, predicted, top),
        }
    }

    /// Presence gradients summed over each word's tokens. A long post is explained in the window
    /// whose verdict it took (the most flagged one, as in [`Classifier::predict_windows`]).
    fn explain_gradient<S: AsRef<str> + Sync>(
        &self,
        texts: &[S],
        predicted: Vec<Prediction>,
        top: usize,
    ) -> Result<Vec<Explanation>> {
        let version = self.config().normalization_version;
        let aligned: Vec<Aligned> = texts
            .par_iter()
            .map(|t| {
                let mut a = align(
                    t.as_ref(),
                    self.registry(),
                    version,
                    self.encoder(),
                    MAX_WINDOWS,
                )?;
                // From the whole post's preparation, as classification reads it.
                a.windows.offset = self.lexical_offset(&self.prepare(t.as_ref()).text);
                Ok(a)
            })
            .collect::<Result<_>>()?;
        // Every window of every post in one batch; post p's windows start at first[p].
        let mut seqs: Vec<&[u32]> = Vec::new();
        let mut labels: Vec<usize> = Vec::new();
        let mut offsets: Vec<Option<[f32; 3]>> = Vec::new();
        let mut first: Vec<usize> = Vec::with_capacity(texts.len());
        for (a, pred) in aligned.iter().zip(&predicted) {
            first.push(seqs.len());
            for ids in &a.windows.ids {
                seqs.push(ids);
                labels.push(pred.label.index());
                offsets.push(a.windows.offset);
            }
        }
        let scored = self.token_saliency(&seqs, &labels, &offsets)?;
        Ok(predicted
            .into_iter()
            .enumerate()
            .map(|(p, prediction)| {
                let a = &aligned[p];
                let own = &scored[first[p]..first[p] + a.windows.ids.len()];
                let w = best_window(own.iter().map(|s| s.prediction.flag_score()));
                let lexical = self.lexical_scores(a, &prediction);
                Explanation {
                    label: prediction.label,
                    words: word_weights(a, w, &own[w].scores, lexical.as_deref(), top),
                    prediction,
                }
            })
            .collect())
    }

    /// Classifies posts given as windows ([`Classifier::predict_windows`]) and explains, by the
    /// gradient method, those whose prediction `explain` picks (`top` words at most in their
    /// [`Prediction::explanation`]): the bulk path, where an explained post costs one backward
    /// pass on top of the pass that classified it. `texts` are the posts the windows were encoded
    /// from.
    pub fn predict_explained<S: AsRef<str> + Sync, W: std::borrow::Borrow<Windows> + Sync>(
        &self,
        texts: &[S],
        windows: &[W],
        explain: impl Fn(&Prediction) -> bool + Sync,
        top: usize,
    ) -> Result<Vec<Prediction>> {
        let scored = self.predict_windows_saliency(windows, explain)?;
        let version = self.config().normalization_version;
        // (prediction, words, whether the post needs its own pass)
        let weighed: Vec<(Prediction, Option<Vec<WordWeight>>, bool)> = scored
            .into_par_iter()
            .enumerate()
            .map(|(i, (prediction, scores))| {
                let Some(WindowScores { window: w, scores }) = scores else {
                    return Ok((prediction, None, false));
                };
                let a = align(
                    texts[i].as_ref(),
                    self.registry(),
                    version,
                    self.encoder(),
                    MAX_WINDOWS,
                )?;
                // The words are read off the tokens the scores belong to; should the word-by-word
                // encoding ever differ from the whole post's, the post gets its own pass below.
                if a.windows.ids.get(w) != windows[i].borrow().ids.get(w) {
                    return Ok((prediction, None, true));
                }
                let lexical = self.lexical_scores(&a, &prediction);
                let words = word_weights(&a, w, &scores, lexical.as_deref(), top);
                Ok((prediction, Some(words), false))
            })
            .collect::<Result<_>>()?;
        let again: Vec<usize> = (0..weighed.len()).filter(|&i| weighed[i].2).collect();
        let mut out: Vec<Prediction> = weighed
            .into_iter()
            .map(|(mut p, words, _)| {
                p.explanation = words;
                p
            })
            .collect();
        if !again.is_empty() {
            let texts: Vec<&str> = again.iter().map(|&i| texts[i].as_ref()).collect();
            let predicted = again.iter().map(|&i| out[i].clone()).collect();
            for (&i, e) in again
                .iter()
                .zip(self.explain_gradient(&texts, predicted, top)?)
            {
                out[i].explanation = Some(e.words);
            }
        }
        Ok(out)
    }

    /// Word occlusion: every post without each of its first [`MAX_OCCLUDED`] words, all in one
    /// batch.
    fn explain_occlusion<S: AsRef<str> + Sync>(
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
            e.words = strongest(std::mem::take(&mut e.words), top);
        }
        Ok(out)
    }
}

/// The words of `a` weighed by the token `scores` of its window `w`: each word's tokens summed,
/// strongest first, `top` at most.
fn word_weights(
    a: &Aligned,
    w: usize,
    scores: &[f32],
    lexical: Option<&[f32]>,
    top: usize,
) -> Vec<WordWeight> {
    let mut weights = lexical.map_or_else(|| vec![0f32; a.units.len()], <[f32]>::to_vec);
    for (unit, s) in a.token_units[w].iter().zip(scores) {
        if let Some(u) = unit {
            weights[*u] += s;
        }
    }
    let words = a
        .units
        .iter()
        .zip(weights)
        .map(|(u, weight)| WordWeight {
            word: u.clone(),
            weight,
        })
        .collect();
    strongest(words, top)
}

/// The `top` words that raise the label's odds, strongest first.
fn strongest(mut words: Vec<WordWeight>, top: usize) -> Vec<WordWeight> {
    words.retain(|w| w.weight > 0.0);
    words.sort_by(|a, b| b.weight.total_cmp(&a.weight));
    words.truncate(top);
    words
}

/// ln(p / (1 − p)), with p kept off 0 and 1 (float32 probabilities reach both).
pub fn log_odds(p: f32) -> f32 {
    let p = p.clamp(1e-7, 1.0 - 1e-7);
    (p / (1.0 - p)).ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_parse_by_their_command_line_names() {
        assert_eq!("gradient".parse::<Method>(), Ok(Method::Gradient));
        assert_eq!("occlusion".parse::<Method>(), Ok(Method::Occlusion));
        let err = "shap".parse::<Method>().unwrap_err();
        assert!(err.contains("\"gradient\" or \"occlusion\""), "{err}");
    }
}

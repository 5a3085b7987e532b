//! Fitting the lexical head ([`crate::model::lexical`]) of a trained model: multinomial logistic
//! regression with an L2 penalty and balanced label weights over the hashed TF-IDF features of
//! the same prepared rows the encoder trained on, then the weight of its logits against the
//! encoder's, chosen on dev. The objective is smooth and convex, so L-BFGS (argmin's) finds its
//! minimum; the same rows give the same head.

use std::path::Path;

use argmin::core::{CostFunction, Executor, Gradient, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use candle_core::{DType, Device, Tensor};
use rayon::prelude::*;
use serde::Serialize;

use crate::classify::Classifier;
use crate::error::{Error, Result};
use crate::eval::metrics::evaluate;
use crate::io::examples::Example;
use crate::label::Label;
use crate::model::lexical::{tf_idf, LexicalConfig, LexicalHead, LEXICAL_FEATURES};
use crate::model::load::{read_config, LEXICAL_PREFIX};
use crate::text::ngrams::hashed_counts;
use crate::text::participants::Registry;
use crate::train::save::{replace_dir, write_file};

/// How the head is fitted (the `pantau train --lexical-*` flags).
#[derive(Clone, Copy, Debug, Serialize)]
pub struct LexicalOptions {
    /// Hash buckets per block.
    pub buckets: usize,
    /// Inverse L2 strength, as scikit-learn's `C`: larger fits the training rows more closely.
    pub c: f64,
    /// L-BFGS iterations at most.
    pub max_iters: u64,
}

impl Default for LexicalOptions {
    fn default() -> Self {
        LexicalOptions {
            buckets: 1 << 16,
            c: 16.0,
            max_iters: 300,
        }
    }
}

/// Weights of the head's logits tried on dev.
const WEIGHTS: [f32; 13] = [
    0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0,
];

/// What fitting the head did, kept in `training.json`.
#[derive(Clone, Debug, Serialize)]
pub struct LexicalReport {
    pub options: LexicalOptions,
    pub train_rows: usize,
    /// Buckets seen in at least two training rows (the others are left out, as a minimum
    /// document frequency of 2 would).
    pub kept_buckets: usize,
    pub iterations: u64,
    /// The penalized objective at the end (mean weighted cross-entropy plus penalty).
    pub objective: f64,
    /// The weight chosen, with dev macro-F1 for each weight tried (0: the encoder alone).
    pub weight: f32,
    pub dev_macro_f1: Vec<(f32, f64)>,
    /// Dev macro-F1 of the head alone.
    pub dev_macro_f1_alone: f64,
}

impl LexicalReport {
    /// Dev macro-F1 at one of the weights tried (0: the encoder alone); 0 for a weight not tried.
    pub fn dev_macro_f1_at(&self, weight: f32) -> f64 {
        self.dev_macro_f1
            .iter()
            .find(|(w, _)| *w == weight)
            .map_or(0.0, |(_, f)| *f)
    }
}

/// Fits a head to prepared texts and their labels; its weight is 1 until [`attach`] chooses one.
pub fn fit(
    texts: &[String],
    labels: &[Label],
    opts: &LexicalOptions,
) -> Result<(LexicalHead, LexicalReport)> {
    if texts.is_empty() || texts.len() != labels.len() {
        return Err(Error::Training(format!(
            "the lexical head needs one label per training text ({} texts, {} labels)",
            texts.len(),
            labels.len()
        )));
    }
    let b = opts.buckets;
    let d = 2 * b;
    let counts: Vec<Vec<(u32, u32)>> = texts.par_iter().map(|t| hashed_counts(t, b)).collect();
    let mut df = vec![0u32; d];
    for c in &counts {
        for &(j, _) in c {
            df[j as usize] += 1;
        }
    }
    let n = texts.len() as f64;
    // Smooth IDF, as scikit-learn's: ln((1 + n) / (1 + df)) + 1.
    let idf: Vec<f32> = df
        .iter()
        .map(|&f| {
            if f >= 2 {
                (((1.0 + n) / (1.0 + f as f64)).ln() + 1.0) as f32
            } else {
                0.0
            }
        })
        .collect();
    let rows: Vec<Vec<(u32, f32)>> = counts
        .par_iter()
        .map(|c| tf_idf(c, |j| idf[j as usize], b))
        .collect();
    let mut per_label = [0usize; 3];
    labels.iter().for_each(|l| per_label[l.index()] += 1);
    // Balanced: each label weighs as much in total.
    let label_weight: [f64; 3] = per_label.map(|m| if m == 0 { 0.0 } else { n / (3.0 * m as f64) });
    let problem = Problem {
        rows: &rows,
        labels: labels.iter().map(|l| l.index() as u8).collect(),
        label_weight,
        d,
        penalty: 1.0 / (opts.c * n),
    };
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 10)
        .with_tolerance_grad(1e-6)
        .and_then(|s| s.with_tolerance_cost(1e-10))
        .map_err(|e| Error::Training(format!("lexical head: {e}")))?;
    let start = vec![0f64; 3 * d + 3];
    let res = Executor::new(problem, solver)
        .configure(|s| s.param(start).max_iters(opts.max_iters))
        .run()
        .map_err(|e| Error::Training(format!("lexical head: L-BFGS failed: {e}")))?;
    let state = res.state();
    let theta = state
        .get_best_param()
        .ok_or_else(|| Error::Training("lexical head: L-BFGS returned no parameters".into()))?;
    // Rounded through f16 as stored, so dev sees the head that ships.
    let f16 = |x: f64| half::f16::from_f64(x).to_f32();
    let mut weight = vec![0f32; 3 * d];
    for j in 0..d {
        for k in 0..3 {
            weight[k * d + j] = f16(theta[3 * j + k]);
        }
    }
    let bias = [0, 1, 2].map(|k| f16(theta[3 * d + k]));
    let idf: Vec<f32> = idf.iter().map(|&v| f16(v as f64)).collect();
    let config = LexicalConfig {
        buckets: b,
        weight: 1.0,
        features: LEXICAL_FEATURES,
    };
    let kept = idf.iter().filter(|&&v| v > 0.0).count();
    let head = LexicalHead::new(config, idf, &weight, bias).map_err(Error::Training)?;
    let report = LexicalReport {
        options: *opts,
        train_rows: texts.len(),
        kept_buckets: kept,
        iterations: state.get_iter(),
        objective: state.get_best_cost(),
        weight: 1.0,
        dev_macro_f1: Vec::new(),
        dev_macro_f1_alone: 0.0,
    };
    Ok((head, report))
}

/// Fits a head for the model in `dir` on its prepared training texts, chooses its weight by dev
/// macro-F1 (read with `registry`), and rewrites the model directory with it, atomically. The
/// calibration in `config.json` stays that of the encoder alone: refit it after.
pub fn attach(
    dir: &Path,
    texts: &[String],
    labels: &[Label],
    dev: &[Example],
    registry: &Registry,
    opts: &LexicalOptions,
    device: &Device,
) -> Result<LexicalReport> {
    let (head, mut report) = fit(texts, labels, opts)?;
    let clf = Classifier::load_dir(dir, device)?.with_registry(registry.clone());
    let dev_texts: Vec<&str> = dev.iter().map(|e| e.text.as_str()).collect();
    let gold: Vec<Label> = dev.iter().map(|e| e.label).collect();
    let alone: Vec<crate::Prediction> = dev_texts
        .par_iter()
        .map(|t| {
            let z = head.logits(&clf.prepare(t).text);
            let m = z[0].max(z[1]).max(z[2]);
            let e = z.map(|v| (v - m).exp());
            let s = e[0] + e[1] + e[2];
            crate::Prediction::from_probabilities(e.map(|v| v / s))
        })
        .collect();
    report.dev_macro_f1_alone = evaluate(&gold, &alone, None).macro_f1;
    let mut clf = clf;
    let mut best = (f64::NEG_INFINITY, 0.0f32);
    for w in WEIGHTS {
        clf = clf.with_lexical(Some(head.clone().with_weight(w)));
        let f1 = evaluate(&gold, &clf.classify_batch(&dev_texts)?, None).macro_f1;
        report.dev_macro_f1.push((w, f1));
        // Ties keep the smaller weight: the encoder generalizes past the training words.
        if f1 > best.0 {
            best = (f1, w);
        }
    }
    report.weight = best.1;
    write_head(dir, &head.with_weight(best.1))?;
    Ok(report)
}

/// Rewrites the model directory `dir` with `head` (replacing any head it had), atomically.
pub(crate) fn write_head(dir: &Path, head: &LexicalHead) -> Result<()> {
    let mut config = read_config(dir)?;
    config.lexical = Some(head.config());
    let weights = dir.join("model.safetensors");
    let mut tensors = candle_core::safetensors::load(&weights, &Device::Cpu)?;
    tensors.retain(|k, _| !k.starts_with(LEXICAL_PREFIX));
    let (idf, weight, bias) = head.parts();
    let d = idf.len();
    let f16 = |v: Vec<f32>, shape: &[usize]| -> Result<Tensor> {
        Ok(Tensor::from_vec(v, shape, &Device::Cpu)?.to_dtype(DType::F16)?)
    };
    tensors.insert(format!("{LEXICAL_PREFIX}idf"), f16(idf, &[d])?);
    tensors.insert(format!("{LEXICAL_PREFIX}weight"), f16(weight, &[3, d])?);
    tensors.insert(format!("{LEXICAL_PREFIX}bias"), f16(bias.to_vec(), &[3])?);
    let files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .map(|e| e.map(|e| e.path()).map_err(|e| Error::io(dir, e)))
        .collect::<Result<_>>()?;
    replace_dir(dir, |tmp| {
        for f in &files {
            let name = f.file_name().expect("a directory entry has a name");
            if f.is_file() && name != "config.json" && name != "model.safetensors" {
                let to = tmp.join(name);
                std::fs::copy(f, &to).map_err(|e| Error::io(&to, e))?;
            }
        }
        let json = serde_json::to_vec_pretty(&config).expect("config serializes");
        write_file(tmp, "config.json", &json)?;
        candle_core::safetensors::save(&tensors, tmp.join("model.safetensors"))?;
        Ok(())
    })
}

/// The penalized, weighted cross-entropy of a linear softmax model over sparse rows. Parameters:
/// bucket-major weights (`3j + k`), then the three biases (not penalized).
struct Problem<'a> {
    rows: &'a [Vec<(u32, f32)>],
    labels: Vec<u8>,
    label_weight: [f64; 3],
    d: usize,
    penalty: f64,
}

impl Problem<'_> {
    /// The objective and, if asked, its gradient.
    fn eval(&self, theta: &[f64], want_grad: bool) -> (f64, Vec<f64>) {
        let d = self.d;
        let total: f64 = self
            .labels
            .iter()
            .map(|&y| self.label_weight[y as usize])
            .sum();
        let size = if want_grad { 3 * d + 3 } else { 0 };
        let (loss, mut grad) = self
            .rows
            .par_chunks(2048)
            .zip(self.labels.par_chunks(2048))
            .map(|(rows, ys)| {
                let mut g = vec![0f64; size];
                let mut loss = 0f64;
                for (row, &y) in rows.iter().zip(ys) {
                    let mut z = [theta[3 * d], theta[3 * d + 1], theta[3 * d + 2]];
                    for &(j, x) in row {
                        let w = &theta[3 * j as usize..3 * j as usize + 3];
                        for k in 0..3 {
                            z[k] += x as f64 * w[k];
                        }
                    }
                    let m = z[0].max(z[1]).max(z[2]);
                    let e = z.map(|v| (v - m).exp());
                    let s = e[0] + e[1] + e[2];
                    let sw = self.label_weight[y as usize];
                    loss += sw * (s.ln() + m - z[y as usize]);
                    if want_grad {
                        let mut dz = e.map(|v| v / s);
                        dz[y as usize] -= 1.0;
                        let dz = dz.map(|v| v * sw);
                        for &(j, x) in row {
                            let gj = &mut g[3 * j as usize..3 * j as usize + 3];
                            for k in 0..3 {
                                gj[k] += x as f64 * dz[k];
                            }
                        }
                        for k in 0..3 {
                            g[3 * d + k] += dz[k];
                        }
                    }
                }
                (loss, g)
            })
            .reduce(
                || (0.0, vec![0f64; size]),
                |(la, mut ga), (lb, gb)| {
                    ga.iter_mut().zip(&gb).for_each(|(a, b)| *a += b);
                    (la + lb, ga)
                },
            );
        let mut objective = loss / total;
        grad.iter_mut().for_each(|g| *g /= total);
        for (j, &w) in theta[..3 * d].iter().enumerate() {
            objective += 0.5 * self.penalty * w * w;
            if want_grad {
                grad[j] += self.penalty * w;
            }
        }
        (objective, grad)
    }
}

impl CostFunction for Problem<'_> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, theta: &Self::Param) -> std::result::Result<f64, argmin::core::Error> {
        Ok(self.eval(theta, false).0)
    }
}

impl Gradient for Problem<'_> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;

    fn gradient(&self, theta: &Self::Param) -> std::result::Result<Vec<f64>, argmin::core::Error> {
        Ok(self.eval(theta, true).1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> (Vec<String>, Vec<Label>) {
        let mut texts = Vec::new();
        let mut labels = Vec::new();
        for i in 0..30 {
            texts.push(format!("konser musik malam ini seru {i}"));
            labels.push(Label::Neutral);
            texts.push(format!("[capres] hebat programnya mantap {i}"));
            labels.push(Label::Promotional);
            texts.push(format!("ayo coblos [capres] nomor {i}"));
            labels.push(Label::Campaigning);
        }
        (texts, labels)
    }

    #[test]
    fn the_gradient_is_the_objective_s_slope() {
        let (texts, labels) = rows();
        let b = 64;
        let idf = vec![1.0; 2 * b];
        let feats: Vec<Vec<(u32, f32)>> = texts
            .iter()
            .map(|t| tf_idf(&hashed_counts(t, b), |j| idf[j as usize], b))
            .collect();
        let p = Problem {
            rows: &feats,
            labels: labels.iter().map(|l| l.index() as u8).collect(),
            label_weight: [1.0, 2.0, 0.5],
            d: 2 * b,
            penalty: 0.01,
        };
        let theta: Vec<f64> = (0..3 * 2 * b + 3)
            .map(|i| ((i * 7919) % 13) as f64 / 20.0 - 0.3)
            .collect();
        let (_, g) = p.eval(&theta, true);
        for i in [0, 5, 77, 3 * 2 * b + 1] {
            let h = 1e-5;
            let mut up = theta.clone();
            up[i] += h;
            let mut down = theta.clone();
            down[i] -= h;
            let numeric = (p.eval(&up, false).0 - p.eval(&down, false).0) / (2.0 * h);
            assert!(
                (numeric - g[i]).abs() < 1e-6,
                "parameter {i}: {numeric} vs {}",
                g[i]
            );
        }
    }

    #[test]
    fn a_fitted_head_separates_its_training_rows_and_is_reproducible() {
        let (texts, labels) = rows();
        let opts = LexicalOptions {
            buckets: 1 << 10,
            ..LexicalOptions::default()
        };
        let (head, report) = fit(&texts, &labels, &opts).unwrap();
        assert!(report.iterations > 0 && report.kept_buckets > 0);
        for (t, l) in texts.iter().zip(&labels) {
            let z = head.logits(t);
            let top = (0..3).max_by(|&a, &b| z[a].total_cmp(&z[b])).unwrap();
            assert_eq!(top, l.index(), "{t}: {z:?}");
        }
        let again = fit(&texts, &labels, &opts).unwrap().0;
        assert_eq!(
            again.logits("ayo coblos [capres]"),
            head.logits("ayo coblos [capres]")
        );
        assert!(fit(&[], &[], &opts).is_err());
    }
}

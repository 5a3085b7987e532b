//! Evaluation metrics: accuracy, per-label precision/recall/F1, macro-F1, confusion matrix,
//! per-kind accuracy and expected calibration error.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::label::Label;
use crate::prediction::Prediction;

/// Precision, recall and F1 of one label.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LabelMetrics {
    pub label: Label,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Gold examples of this label.
    pub support: u64,
}

/// Accuracy on the examples of one `kind`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KindMetrics {
    pub n: u64,
    pub correct: u64,
    pub accuracy: f64,
}

/// The full evaluation report (`pantau eval --json` prints it).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub n: u64,
    pub accuracy: f64,
    pub macro_f1: f64,
    pub per_label: Vec<LabelMetrics>,
    /// `confusion[gold][predicted]`, in [`Label::ALL`] order.
    pub confusion: [[u64; 3]; 3],
    /// Accuracy per `kind`, when the data has kinds.
    pub per_kind: BTreeMap<String, KindMetrics>,
    /// Expected calibration error of the top probability, 15 equal-width bins.
    pub ece: f64,
    /// Mean negative log-likelihood of the gold label.
    pub log_loss: f64,
    /// Mean squared distance between the probabilities and the one-hot gold label (0 is perfect, 2
    /// the worst).
    pub brier: f64,
    /// Share of gold-`neutral` posts labeled promotional or campaigning: on a file of ordinary
    /// traffic (all neutral) this is the share of posts an analyst would be sent for nothing.
    pub false_alarm_rate: f64,
}

const ECE_BINS: usize = 15;

/// Scores predictions against gold labels. `kinds`, when given, has one entry per example.
pub fn evaluate(gold: &[Label], preds: &[Prediction], kinds: Option<&[Option<String>]>) -> Report {
    assert_eq!(gold.len(), preds.len(), "one prediction per gold label");
    let n = gold.len() as u64;
    let mut confusion = [[0u64; 3]; 3];
    let mut bins = [(0u64, 0f64, 0f64); ECE_BINS]; // (count, sum confidence, sum correct)
    let mut nll = 0f64;
    let mut brier = 0f64;
    for (g, p) in gold.iter().zip(preds) {
        brier += Label::ALL
            .iter()
            .map(|l| (p.probability(*l) as f64 - (l == g) as u8 as f64).powi(2))
            .sum::<f64>();
        confusion[g.index()][p.label.index()] += 1;
        let conf = p.probability(p.label) as f64;
        let b = ((conf * ECE_BINS as f64) as usize).min(ECE_BINS - 1);
        bins[b].0 += 1;
        bins[b].1 += conf;
        bins[b].2 += (p.label == *g) as u8 as f64;
        nll -= (p.probability(*g) as f64).max(1e-12).ln();
    }
    let correct: u64 = (0..3).map(|i| confusion[i][i]).sum();
    let per_label: Vec<LabelMetrics> = Label::ALL
        .iter()
        .map(|&l| {
            let i = l.index();
            let tp = confusion[i][i] as f64;
            let predicted: u64 = (0..3).map(|g| confusion[g][i]).sum();
            let support: u64 = confusion[i].iter().sum();
            let precision = ratio(tp, predicted as f64);
            let recall = ratio(tp, support as f64);
            let f1 = ratio(2.0 * precision * recall, precision + recall);
            LabelMetrics {
                label: l,
                precision,
                recall,
                f1,
                support,
            }
        })
        .collect();
    let macro_f1 = per_label.iter().map(|m| m.f1).sum::<f64>() / per_label.len() as f64;
    let ece = bins
        .iter()
        .filter(|b| b.0 > 0)
        .map(|&(c, conf, acc)| (c as f64 / n.max(1) as f64) * ((acc - conf) / c as f64).abs())
        .sum();
    let mut per_kind: BTreeMap<String, KindMetrics> = BTreeMap::new();
    if let Some(kinds) = kinds {
        for ((k, g), p) in kinds.iter().zip(gold).zip(preds) {
            if let Some(k) = k {
                let m = per_kind.entry(k.clone()).or_insert(KindMetrics {
                    n: 0,
                    correct: 0,
                    accuracy: 0.0,
                });
                m.n += 1;
                m.correct += (p.label == *g) as u64;
            }
        }
        for m in per_kind.values_mut() {
            m.accuracy = ratio(m.correct as f64, m.n as f64);
        }
    }
    Report {
        n,
        accuracy: ratio(correct as f64, n as f64),
        macro_f1,
        per_label,
        confusion,
        per_kind,
        ece,
        log_loss: if n > 0 { nll / n as f64 } else { 0.0 },
        brier: if n > 0 { brier / n as f64 } else { 0.0 },
        false_alarm_rate: ratio(
            (confusion[0][1] + confusion[0][2]) as f64,
            confusion[0].iter().sum::<u64>() as f64,
        ),
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(label: Label, conf: f32) -> Prediction {
        let mut probs = [(1.0 - conf) / 2.0; 3];
        probs[label.index()] = conf;
        Prediction::from_probabilities(probs)
    }

    #[test]
    fn metrics_on_a_hand_checked_example() {
        use Label::*;
        let gold = [Neutral, Neutral, Promotional, Campaigning, Campaigning];
        let preds = [
            p(Neutral, 0.9),
            p(Promotional, 0.6),
            p(Promotional, 0.8),
            p(Campaigning, 0.7),
            p(Neutral, 0.5),
        ];
        let kinds: Vec<Option<String>> = ["a", "a", "b", "c", "c"]
            .iter()
            .map(|k| Some(k.to_string()))
            .collect();
        let r = evaluate(&gold, &preds, Some(&kinds));
        assert_eq!(r.n, 5);
        assert!((r.accuracy - 0.6).abs() < 1e-9);
        assert_eq!(r.confusion, [[1, 1, 0], [0, 1, 0], [1, 0, 1]]);
        // neutral: P=1/2 R=1/2; promotional: P=1/2 R=1; campaigning: P=1 R=1/2.
        let f1: Vec<f64> = r.per_label.iter().map(|m| m.f1).collect();
        assert!((f1[0] - 0.5).abs() < 1e-9);
        assert!((f1[1] - 2.0 / 3.0).abs() < 1e-9);
        assert!((f1[2] - 2.0 / 3.0).abs() < 1e-9);
        assert!((r.macro_f1 - (0.5 + 2.0 / 3.0 + 2.0 / 3.0) / 3.0).abs() < 1e-9);
        assert_eq!(r.per_kind["a"].correct, 1);
        assert!((r.per_kind["c"].accuracy - 0.5).abs() < 1e-9);
    }

    #[test]
    fn false_alarms_are_the_share_of_neutral_posts_flagged() {
        let gold = [
            Label::Neutral,
            Label::Neutral,
            Label::Neutral,
            Label::Neutral,
            Label::Campaigning,
        ];
        let preds = [
            p(Label::Neutral, 0.9),
            p(Label::Promotional, 0.9),
            p(Label::Campaigning, 0.9),
            p(Label::Neutral, 0.9),
            p(Label::Campaigning, 0.9),
        ];
        let r = evaluate(&gold, &preds, None);
        assert!((r.false_alarm_rate - 0.5).abs() < 1e-12);
        assert!(r
            .to_string()
            .contains("false alarms 0.5000 (2 of 4 neutral posts"));
        let none = evaluate(&[Label::Promotional], &[p(Label::Promotional, 0.9)], None);
        assert_eq!(
            none.false_alarm_rate, 0.0,
            "no neutral posts, no false alarms"
        );
    }

    #[test]
    fn perfectly_calibrated_confident_predictions_have_zero_ece() {
        let gold = [Label::Neutral; 4];
        let preds = vec![p(Label::Neutral, 1.0); 4];
        let r = evaluate(&gold, &preds, None);
        assert!(r.ece.abs() < 1e-9);
        assert!(
            (r.macro_f1 - 1.0 / 3.0).abs() < 1e-9,
            "absent labels score 0"
        );
    }

    #[test]
    fn overconfident_mistakes_raise_ece() {
        let gold = [Label::Neutral, Label::Promotional];
        let preds = [p(Label::Campaigning, 0.95), p(Label::Campaigning, 0.95)];
        assert!(evaluate(&gold, &preds, None).ece > 0.9);
    }
}

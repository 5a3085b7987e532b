//! Temperature scaling: one number that rescales a model's logits so its probabilities mean what
//! they say (Guo et al., 2017). Label smoothing in training compresses the scale (the shipped model
//! never went above 0.95); a temperature fitted on dev restores it without changing any label,
//! since dividing every logit of a post by the same positive number keeps their order.
//!
//! One temperature has to fit the whole scale, though, and on a model trained with label smoothing
//! the temperature that fits the middle leaves the surest posts underconfident. [`fit_top_stretch`]
//! then fits a [`TopStretch`] of the top probability alone.

use crate::eval::metrics::evaluate;
use crate::label::Label;
use crate::model::config::TopStretch;
use crate::prediction::Prediction;

/// Rescales predictions made at one temperature as if made at `temperature × 1/scale`:
/// `softmax(scale × log p)` equals `softmax(scale × logits / T)`, because `log p` differs from
/// `logits / T` by the same constant for every label of a post.
pub fn rescale(p: &Prediction, scale: f64) -> Prediction {
    let logs: Vec<f64> = p
        .probabilities
        .iter()
        .map(|&x| scale * (x as f64).max(1e-30).ln())
        .collect();
    let max = logs.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let exps: Vec<f64> = logs.iter().map(|l| (l - max).exp()).collect();
    let sum: f64 = exps.iter().sum();
    let mut out = p.clone();
    out.probabilities = [
        (exps[0] / sum) as f32,
        (exps[1] / sum) as f32,
        (exps[2] / sum) as f32,
    ];
    out
}

/// Mean negative log-likelihood of the gold labels after [`rescale`] by `scale`.
fn nll(gold: &[Label], preds: &[Prediction], scale: f64) -> f64 {
    let total: f64 = gold
        .iter()
        .zip(preds)
        .map(|(g, p)| -(rescale(p, scale).probability(*g) as f64).max(1e-12).ln())
        .sum();
    total / gold.len().max(1) as f64
}

/// The scale of [`rescale`] that minimizes the gold labels' negative log-likelihood: the new
/// temperature is the current one divided by it. The likelihood is convex in the scale, so a
/// golden-section search over its logarithm finds the minimum; 1.0 when there is no data.
pub fn fit_scale(gold: &[Label], preds: &[Prediction]) -> f64 {
    if gold.is_empty() {
        return 1.0;
    }
    let f = |u: f64| nll(gold, preds, u.exp());
    let (mut a, mut b) = (0.02f64.ln(), 50f64.ln());
    let r = (5f64.sqrt() - 1.0) / 2.0;
    let (mut c, mut d) = (b - r * (b - a), a + r * (b - a));
    let (mut fc, mut fd) = (f(c), f(d));
    for _ in 0..60 {
        if fc < fd {
            b = d;
            d = c;
            fd = fc;
            c = b - r * (b - a);
            fc = f(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + r * (b - a);
            fd = f(d);
        }
    }
    ((a + b) / 2.0).exp()
}

/// The stretch, fitted on `preds` (made at the fitted temperature, without a stretch), that lets
/// the surest posts reach probability `reach`, if the data says they are that sure: among knots
/// whose posts above them are right at least `reach` of the time and slopes that take the top
/// probability to `reach`, the one of lowest expected calibration error. Only knots with at
/// least `1 / (1 − reach)` posts above them count. `None` when the temperature alone reaches
/// `reach`, or when no knot has posts that sure (then no stretch is warranted).
///
/// The proper scores agree in direction: on the shipped model's dev split, the log loss and the
/// Brier score fall as the slope grows (they favour even steeper slopes, at a higher ECE), so the
/// ECE and the `reach` requirement set how far the top is stretched.
pub fn fit_top_stretch(gold: &[Label], preds: &[Prediction], reach: f32) -> Option<TopStretch> {
    let top = |p: &Prediction| p.probability(p.label);
    if gold.is_empty() || preds.iter().map(top).fold(0f32, f32::max) >= reach {
        return None;
    }
    // "Right 99% of the time" means something from 100 posts on (one miss allowed).
    let min_posts = (1.0 / (1.0 - reach.min(0.999))).round();
    let mut best: Option<(f64, TopStretch)> = None;
    for k in 0..=25 {
        let flat = TopStretch {
            knot: 2.0 + 0.1 * k as f32,
            slope: 1.0,
        };
        let p_knot = flat.knot_probability();
        let (above, right) = gold
            .iter()
            .zip(preds)
            .filter(|(_, p)| top(p) > p_knot)
            .fold((0usize, 0usize), |(n, r), (g, p)| {
                (n + 1, r + (*g == p.label) as usize)
            });
        if (above as f32) < min_posts || (right as f32) < reach * above as f32 {
            continue;
        }
        for s in 11..=40 {
            let stretch = TopStretch {
                slope: 0.1 * s as f32,
                ..flat
            };
            let stretched: Vec<Prediction> = preds.iter().map(|p| stretch.apply_to(p)).collect();
            if stretched.iter().map(top).fold(0f32, f32::max) < reach {
                continue;
            }
            let ece = evaluate(gold, &stretched, None).ece;
            if best.as_ref().is_none_or(|(e, _)| ece < *e) {
                best = Some((ece, stretch));
            }
        }
    }
    best.map(|(_, s)| s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pred(p: [f32; 3]) -> Prediction {
        Prediction::from_probabilities(p)
    }

    #[test]
    fn rescaling_keeps_the_label_and_sharpens_or_softens() {
        let p = pred([0.9, 0.05, 0.05]);
        let sharp = rescale(&p, 2.0);
        let soft = rescale(&p, 0.5);
        assert_eq!(sharp.label, p.label);
        assert!(sharp.probabilities[0] > 0.99 && soft.probabilities[0] < 0.9);
        assert!((rescale(&p, 1.0).probabilities[0] - 0.9).abs() < 1e-6);
        assert!((sharp.probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }

    #[test]
    fn an_underconfident_model_gets_a_scale_above_one_and_an_overconfident_one_below() {
        // Always right at 0.6: the best scale pushes the probabilities towards 1.
        let gold = vec![Label::Neutral; 50];
        let under: Vec<Prediction> = (0..50).map(|_| pred([0.6, 0.2, 0.2])).collect();
        assert!(fit_scale(&gold, &under) > 5.0);
        // Right 70% of the time at 0.99: the best scale is well below 1.
        let mut gold = vec![Label::Neutral; 70];
        gold.extend(vec![Label::Promotional; 30]);
        let over: Vec<Prediction> = (0..100).map(|_| pred([0.99, 0.005, 0.005])).collect();
        let s = fit_scale(&gold, &over);
        assert!(s < 0.5, "{s}");
        let calibrated = rescale(&over[0], s).probabilities[0];
        assert!((calibrated - 0.7).abs() < 0.02, "{calibrated}");
        assert_eq!(fit_scale(&[], &[]), 1.0);
    }

    #[test]
    fn a_stretch_is_fitted_only_where_the_surest_posts_are_right_often_enough() {
        // 200 posts at 0.97, all right: underconfident at the top, so they are stretched past 0.99.
        let mut gold = vec![Label::Neutral; 200];
        let mut preds: Vec<Prediction> = (0..200).map(|_| pred([0.97, 0.02, 0.01])).collect();
        // 100 posts at 0.7, right 70 times.
        gold.extend((0..100).map(|i| {
            if i < 70 {
                Label::Promotional
            } else {
                Label::Neutral
            }
        }));
        preds.extend((0..100).map(|_| pred([0.2, 0.7, 0.1])));
        let s = fit_top_stretch(&gold, &preds, 0.99).expect("a stretch");
        let top = s.apply([0.97, 0.02, 0.01])[0];
        assert!(top >= 0.99, "{s:?} gives {top}");
        assert_eq!(s.apply([0.2, 0.7, 0.1]), [0.2, 0.7, 0.1], "{s:?}");
        // Too few posts to say they are right 99% of the time: 60 at the top, all right.
        assert_eq!(fit_top_stretch(&gold[140..], &preds[140..], 0.99), None);
        // The same posts right only 97% of the time: no stretch is warranted.
        for g in gold.iter_mut().take(6) {
            *g = Label::Campaigning;
        }
        assert_eq!(fit_top_stretch(&gold, &preds, 0.99), None);
        // Already reaching 0.99: nothing to fit.
        assert_eq!(
            fit_top_stretch(&gold[..1], &[pred([0.995, 0.004, 0.001])], 0.99),
            None
        );
        assert_eq!(fit_top_stretch(&[], &[], 0.99), None);
    }
}

//! `pantau calibrate`: fits the model's temperature, and a stretch of the top probability, on
//! labeled data (dev, or a user's own) and stores them in `config.json`, so probabilities mean
//! what they say; labels do not change.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use pantau::eval::calibrate::{fit_scale, fit_top_stretch, rescale};
use pantau::eval::{evaluate, Report};
use pantau::io::{read_examples, write_atomic};
use pantau::model::config::TopStretch;
use pantau::{Label, Prediction};

use crate::cli::common::{load, model_dir, Common};
use crate::cli::out::stdout;

#[derive(Args)]
pub struct CalibrateArgs {
    /// Labeled data to fit on (JSONL or CSV with text and label): the dev split, never the test
    /// split you report.
    #[arg(long)]
    pub data: PathBuf,
    #[command(flatten)]
    pub common: Common,
    /// Print the fit without writing config.json.
    #[arg(long)]
    pub dry_run: bool,
    /// Fit the temperature alone, with no stretch of the top probability.
    #[arg(long)]
    pub no_top_stretch: bool,
}

/// The probability the surest posts may reach when the data says they are right that often.
pub const TOP_REACH: f32 = 0.99;

/// The fitted temperature and stretch, and the data's metrics before and after them.
pub struct Fit {
    pub before_temperature: f32,
    pub temperature: f32,
    pub top_stretch: Option<TopStretch>,
    pub before: Report,
    pub after: Report,
}

/// Fits the temperature on predictions made at `current` without a stretch, then (with
/// `stretch`) the top stretch on the rescaled predictions.
pub fn fit(current: f32, gold: &[Label], preds: &[Prediction], stretch: bool) -> Fit {
    let scale = fit_scale(gold, preds);
    let mut calibrated: Vec<Prediction> = preds.iter().map(|p| rescale(p, scale)).collect();
    let top_stretch = if stretch {
        fit_top_stretch(gold, &calibrated, TOP_REACH)
    } else {
        None
    };
    if let Some(s) = top_stretch {
        for p in &mut calibrated {
            *p = s.apply_to(p);
        }
    }
    Fit {
        before_temperature: current,
        temperature: (current as f64 / scale) as f32,
        top_stretch,
        before: evaluate(gold, preds, None),
        after: evaluate(gold, &calibrated, None),
    }
}

/// The fit in a line: `temperature 1.0000 -> 0.7451, top stretch above p 0.978 (log-odds ×2.3)`.
pub fn describe(f: &Fit) -> String {
    let stretch = match &f.top_stretch {
        Some(s) => format!(", {}", describe_stretch(s)),
        None => String::new(),
    };
    format!(
        "temperature {:.4} -> {:.4}{stretch}",
        f.before_temperature, f.temperature
    )
}

/// A stretch as analysts read it: where it starts as a probability, and how steep it is.
pub fn describe_stretch(s: &TopStretch) -> String {
    format!(
        "top stretch above p {:.3} (log-odds ×{:.1})",
        s.knot_probability(),
        s.slope
    )
}

pub fn run(a: CalibrateArgs) -> Result<()> {
    let mut out = stdout()?;
    // Refitted from the temperature alone: the current stretch was fitted to other predictions.
    let clf = load(&a.common)?.with_top_stretch(None);
    // Before any work: the fit would have nowhere to go.
    let dir = if a.dry_run {
        None
    } else {
        Some(model_dir(&clf, "calibrate (without --dry-run)")?)
    };
    let examples = read_examples(&a.data)?;
    let texts: Vec<&str> = examples.iter().map(|e| e.text.as_str()).collect();
    let gold: Vec<Label> = examples.iter().map(|e| e.label).collect();
    let preds = clf.classify_batch(&texts)?;
    let f = fit(clf.config().temperature, &gold, &preds, !a.no_top_stretch);
    writeln!(
        out,
        "{} (fitted on {} rows of {})",
        describe(&f),
        gold.len(),
        a.data.display()
    )?;
    for (name, r) in [("before", &f.before), ("after", &f.after)] {
        writeln!(
            out,
            "{name:<7} ECE {:.4}  Brier {:.4}  log loss {:.4}  macro-F1 {:.4}",
            r.ece, r.brier, r.log_loss, r.macro_f1
        )?;
    }
    if let Some(dir) = dir {
        write_calibration(dir, &f)?;
        writeln!(out, "written to {}", dir.join("config.json").display())?;
    }
    out.flush()?;
    Ok(())
}

/// Sets `temperature` and `top_stretch` in `dir/config.json` (removing a stretch the fit did not
/// keep), every other field as it is (written to a temporary file and renamed, so a crash never
/// leaves half a config).
pub fn write_calibration(dir: &std::path::Path, f: &Fit) -> Result<()> {
    let path = dir.join("config.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let round = |x: f32| (x as f64 * 1e4).round() / 1e4;
    v["temperature"] = serde_json::json!(round(f.temperature));
    let Some(fields) = v.as_object_mut() else {
        anyhow::bail!("{} is not a JSON object", path.display());
    };
    match f.top_stretch {
        Some(s) => {
            let s = serde_json::json!({"knot": round(s.knot), "slope": round(s.slope)});
            fields.insert("top_stretch".into(), s);
        }
        None => {
            fields.remove("top_stretch");
        }
    }
    write_atomic(&path, (serde_json::to_string_pretty(&v)? + "\n").as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{parse, Command};

    #[test]
    fn data_is_required_and_dry_run_is_off_by_default() {
        assert!(parse(&["calibrate"]).is_err());
        let Ok(Command::Calibrate(a)) = parse(&["calibrate", "--data", "dev.jsonl", "-m", "m"])
        else {
            panic!("calibrate does not parse");
        };
        assert_eq!(a.data, PathBuf::from("dev.jsonl"));
        assert!(!a.dry_run);
    }

    #[test]
    fn the_fit_divides_the_current_temperature_and_keeps_the_labels() {
        let gold = vec![Label::Neutral; 40];
        let preds: Vec<Prediction> = (0..40)
            .map(|_| Prediction::from_probabilities([0.6, 0.2, 0.2]))
            .collect();
        let f = fit(2.0, &gold, &preds, true);
        assert!(f.temperature < 0.5, "{}", f.temperature);
        assert!(f.after.log_loss < f.before.log_loss);
        assert_eq!(f.after.confusion, f.before.confusion);
    }

    #[test]
    fn writing_the_temperature_keeps_the_other_fields() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("config.json"),
            r#"{"hidden_size": 64, "x": [1]}"#,
        )
        .unwrap();
        let gold = vec![Label::Neutral; 4];
        let preds = vec![Prediction::from_probabilities([0.5, 0.3, 0.2]); 4];
        let mut f = fit(1.0, &gold, &preds, false);
        f.temperature = 0.42;
        f.top_stretch = Some(TopStretch {
            knot: 3.8,
            slope: 2.3,
        });
        let read = || -> serde_json::Value {
            serde_json::from_slice(&std::fs::read(d.path().join("config.json")).unwrap()).unwrap()
        };
        write_calibration(d.path(), &f).unwrap();
        let v = read();
        assert_eq!(v["hidden_size"], 64);
        assert_eq!(v["x"], serde_json::json!([1]));
        assert!((v["temperature"].as_f64().unwrap() - 0.42).abs() < 1e-6);
        assert_eq!(
            v["top_stretch"],
            serde_json::json!({"knot": 3.8, "slope": 2.3})
        );
        // A refit without a stretch removes the old one.
        f.top_stretch = None;
        write_calibration(d.path(), &f).unwrap();
        assert!(read().get("top_stretch").is_none());
    }
}

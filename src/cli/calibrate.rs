//! `pantau calibrate`: fits the model's temperature on labeled data (dev, or a user's own) and
//! stores it in `config.json`, so probabilities mean what they say; labels do not change.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use pantau::eval::calibrate::{fit_scale, rescale};
use pantau::eval::{evaluate, Report};
use pantau::io::{read_examples, write_atomic};
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
}

/// The fitted temperature and the data's metrics before and after it.
pub struct Fit {
    pub before_temperature: f32,
    pub temperature: f32,
    pub before: Report,
    pub after: Report,
}

/// Fits the temperature on predictions made at `current`.
pub fn fit(current: f32, gold: &[Label], preds: &[Prediction]) -> Fit {
    let scale = fit_scale(gold, preds);
    let calibrated: Vec<Prediction> = preds.iter().map(|p| rescale(p, scale)).collect();
    Fit {
        before_temperature: current,
        temperature: (current as f64 / scale) as f32,
        before: evaluate(gold, preds, None),
        after: evaluate(gold, &calibrated, None),
    }
}

pub fn run(a: CalibrateArgs) -> Result<()> {
    let mut out = stdout()?;
    let clf = load(&a.common)?;
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
    let f = fit(clf.config().temperature, &gold, &preds);
    writeln!(
        out,
        "temperature {:.4} -> {:.4} (fitted on {} rows of {})",
        f.before_temperature,
        f.temperature,
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
        write_temperature(dir, f.temperature)?;
        writeln!(out, "written to {}", dir.join("config.json").display())?;
    }
    out.flush()?;
    Ok(())
}

/// Sets `temperature` in `dir/config.json`, keeping every other field as it is (written to a
/// temporary file and renamed, so a crash never leaves half a config).
pub fn write_temperature(dir: &std::path::Path, t: f32) -> Result<()> {
    let path = dir.join("config.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    v["temperature"] = serde_json::json!((t as f64 * 1e4).round() / 1e4);
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
        let f = fit(2.0, &gold, &preds);
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
        write_temperature(d.path(), 0.42).unwrap();
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.path().join("config.json")).unwrap()).unwrap();
        assert_eq!(v["hidden_size"], 64);
        assert_eq!(v["x"], serde_json::json!([1]));
        assert!((v["temperature"].as_f64().unwrap() - 0.42).abs() < 1e-6);
    }
}

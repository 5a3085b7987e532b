//! The evaluation report as text, the way `pantau eval` prints it and model cards quote it.

use std::fmt;

use crate::eval::metrics::Report;
use crate::label::Label;

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "examples   {}", self.n)?;
        writeln!(f, "accuracy   {:.4}", self.accuracy)?;
        writeln!(f, "macro-F1   {:.4}", self.macro_f1)?;
        writeln!(f, "ECE        {:.4}", self.ece)?;
        writeln!(f, "log loss   {:.4}", self.log_loss)?;
        writeln!(f, "Brier      {:.4}", self.brier)?;
        writeln!(
            f,
            "false alarms {:.4} ({} of {} neutral posts labeled promotional or campaigning)",
            self.false_alarm_rate,
            self.confusion[0][1] + self.confusion[0][2],
            self.confusion[0].iter().sum::<u64>()
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "{:<13} {:>9} {:>9} {:>9} {:>8}",
            "label", "precision", "recall", "F1", "support"
        )?;
        for m in &self.per_label {
            writeln!(
                f,
                "{:<13} {:>9.4} {:>9.4} {:>9.4} {:>8}",
                m.label.as_str(),
                m.precision,
                m.recall,
                m.f1,
                m.support
            )?;
        }
        writeln!(f)?;
        writeln!(f, "confusion (rows: gold, columns: predicted)")?;
        writeln!(
            f,
            "{:<13} {:>8} {:>12} {:>12}",
            "", "neutral", "promotional", "campaigning"
        )?;
        for l in Label::ALL {
            let r = self.confusion[l.index()];
            writeln!(
                f,
                "{:<13} {:>8} {:>12} {:>12}",
                l.as_str(),
                r[0],
                r[1],
                r[2]
            )?;
        }
        if !self.per_kind.is_empty() {
            writeln!(f)?;
            writeln!(f, "{:<22} {:>6} {:>9}", "kind", "n", "accuracy")?;
            for (k, m) in &self.per_kind {
                writeln!(f, "{:<22} {:>6} {:>9.4}", k, m.n, m.accuracy)?;
            }
        }
        Ok(())
    }
}

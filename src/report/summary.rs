//! One streaming pass over a classified file: counts per label, flagged posts per participant,
//! per input field and per day, and the most confident and most uncertain flagged posts. Memory
//! holds only the counts and two short lists, whatever the file's length.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use crate::label::Label;

/// A flagged post kept for the report's lists.
#[derive(Clone, Debug, PartialEq)]
pub struct Listed {
    pub row: u64,
    pub text: String,
    pub label: String,
    pub score: f64,
    /// The row's `explanation` words, when it has them.
    pub words: Vec<(String, f64)>,
}

/// What a classified file holds, counted.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub rows: u64,
    pub errors: u64,
    pub flagged: u64,
    /// Rows per label, in [`Label::ALL`] order.
    pub labels: [u64; 3],
    /// Flagged rows per participant, per label.
    pub by_participant: BTreeMap<String, [u64; 3]>,
    /// Per `--by` field: rows and flagged rows per value.
    pub by_field: BTreeMap<String, HashMap<String, (u64, u64)>>,
    /// Rows and flagged rows per day (`YYYY-MM-DD`), when a date field is named.
    pub by_day: BTreeMap<String, (u64, u64)>,
    /// The flagged posts the model is surest of, highest score first.
    pub confident: Vec<Listed>,
    /// The flagged posts nearest the threshold, nearest first.
    pub uncertain: Vec<Listed>,
}

/// What to count.
#[derive(Clone, Debug)]
pub struct SummaryOptions {
    pub by: Vec<String>,
    pub date_field: Option<String>,
    pub text_field: String,
    /// The flag threshold the file was written with (for "nearest the threshold").
    pub threshold: f64,
    /// Posts in each list.
    pub listed: usize,
}

impl Summary {
    /// Counts one output row (a JSON object, as pantau writes it; CSV rows arrive converted).
    pub fn add(&mut self, row: &serde_json::Map<String, Value>, opts: &SummaryOptions) {
        self.rows += 1;
        let label = row
            .get("label")
            .and_then(Value::as_str)
            .and_then(|l| l.parse::<Label>().ok());
        let Some(label) = label else {
            self.errors += 1;
            return;
        };
        self.labels[label.index()] += 1;
        let num = |k: &str| row.get(k).and_then(as_f64);
        let score = num("p_promotional").unwrap_or(0.0) + num("p_campaigning").unwrap_or(0.0);
        let flagged = match row.get("flagged") {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s == "true",
            _ => score >= opts.threshold,
        };
        for f in &opts.by {
            let v = row.get(f).map(cell).unwrap_or_default();
            let e = self
                .by_field
                .entry(f.clone())
                .or_default()
                .entry(v)
                .or_default();
            e.0 += 1;
            e.1 += flagged as u64;
        }
        if let Some(d) = &opts.date_field {
            let day: String = row
                .get(d)
                .map(cell)
                .unwrap_or_default()
                .chars()
                .take(10)
                .collect();
            let e = self.by_day.entry(day).or_default();
            e.0 += 1;
            e.1 += flagged as u64;
        }
        if !flagged {
            return;
        }
        self.flagged += 1;
        for p in participants(row.get("participants")) {
            self.by_participant.entry(p).or_default()[label.index()] += 1;
        }
        let listed = || Listed {
            row: row.get("row").and_then(Value::as_u64).unwrap_or(self.rows),
            text: row.get(&opts.text_field).map(cell).unwrap_or_default(),
            label: label.as_str().to_string(),
            score,
            words: explanation(row.get("explanation")),
        };
        keep(&mut self.confident, listed(), opts.listed, |a, b| {
            b.score.total_cmp(&a.score)
        });
        let t = opts.threshold;
        keep(&mut self.uncertain, listed(), opts.listed, |a, b| {
            (a.score - t).abs().total_cmp(&(b.score - t).abs())
        });
    }
}

/// Inserts `item` into the sorted `list`, keeping its best `n`.
fn keep(
    list: &mut Vec<Listed>,
    item: Listed,
    n: usize,
    order: impl Fn(&Listed, &Listed) -> std::cmp::Ordering,
) {
    let at = list.partition_point(|x| order(x, &item) != std::cmp::Ordering::Greater);
    if at < n {
        list.insert(at, item);
        list.truncate(n);
    }
}

fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// A field as one string (strings unquoted, other JSON as written).
fn cell(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The `participants` column: a JSON array (JSONL) or names joined by `|` (CSV).
fn participants(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect(),
        Some(Value::String(s)) if !s.is_empty() => s.split('|').map(String::from).collect(),
        _ => Vec::new(),
    }
}

/// The `explanation` column: `[{"word", "weight"}]`, as JSON or as a CSV cell holding it.
fn explanation(v: Option<&Value>) -> Vec<(String, f64)> {
    let parsed;
    let arr = match v {
        Some(Value::Array(a)) => a,
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Array(a)) => {
                parsed = a;
                &parsed
            }
            _ => return Vec::new(),
        },
        _ => return Vec::new(),
    };
    arr.iter()
        .filter_map(|w| {
            Some((
                w.get("word")?.as_str()?.to_string(),
                w.get("weight").and_then(as_f64)?,
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(v: Value) -> serde_json::Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn counts_labels_participants_fields_days_and_keeps_the_lists_short() {
        let opts = SummaryOptions {
            by: vec!["akun".into()],
            date_field: Some("waktu".into()),
            text_field: "text".into(),
            threshold: 0.5,
            listed: 2,
        };
        let mut s = Summary::default();
        let rows = [
            serde_json::json!({"row":1,"text":"a","akun":"x","waktu":"2024-02-01T10:00","label":"campaigning","p_promotional":0.05,"p_campaigning":0.9,"flagged":true,"participants":["Prabowo Subianto"]}),
            serde_json::json!({"row":2,"text":"b","akun":"x","waktu":"2024-02-01T11:00","label":"neutral","p_promotional":0.05,"p_campaigning":0.05,"flagged":false,"participants":[]}),
            serde_json::json!({"row":3,"text":"c","akun":"y","waktu":"2024-02-02","label":"promotional","p_promotional":0.5,"p_campaigning":0.05,"flagged":true,"participants":"Anies Baswedan|Prabowo Subianto"}),
            serde_json::json!({"row":4,"text":"d","akun":"y","waktu":"2024-02-02","label":"promotional","p_promotional":0.7,"p_campaigning":0.1,"flagged":"true","participants":[]}),
            serde_json::json!({"row":5,"label":null,"error":"empty text"}),
        ];
        for r in rows {
            s.add(&row(r), &opts);
        }
        assert_eq!((s.rows, s.errors, s.flagged), (5, 1, 3));
        assert_eq!(s.labels, [1, 2, 1]);
        assert_eq!(s.by_participant["Prabowo Subianto"], [0, 1, 1]);
        assert_eq!(s.by_participant["Anies Baswedan"], [0, 1, 0]);
        assert_eq!(s.by_field["akun"]["x"], (2, 1));
        assert_eq!(s.by_day["2024-02-01"], (2, 1));
        assert_eq!(s.by_day["2024-02-02"], (2, 2));
        let rows_of = |l: &[Listed]| l.iter().map(|x| x.row).collect::<Vec<_>>();
        assert_eq!(rows_of(&s.confident), vec![1, 4]);
        assert_eq!(rows_of(&s.uncertain), vec![3, 4]);
    }
}

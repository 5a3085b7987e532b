//! The report as one self-contained HTML page (inline CSS and SVG charts, opens offline) or as
//! Markdown.

use std::fmt::Write;

use crate::label::Label;
use crate::report::summary::{Listed, Summary};

/// Rows of a per-field table at most (values with the most flagged posts first).
const TOP_VALUES: usize = 20;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn share(n: u64, of: u64) -> f64 {
    if of == 0 {
        0.0
    } else {
        100.0 * n as f64 / of as f64
    }
}

/// A horizontal bar chart: one bar per (name, value).
fn bars(title: &str, items: &[(String, u64)], color: &str) -> String {
    let max = items.iter().map(|i| i.1).max().unwrap_or(0).max(1);
    let h = 22 * items.len() + 30;
    let mut s = format!(
        "<figure><figcaption>{}</figcaption><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\" height=\"{h}\" role=\"img\" aria-label=\"{}\">",
        esc(title),
        esc(title)
    );
    for (i, (name, v)) in items.iter().enumerate() {
        let y = 10 + 22 * i;
        let w = 380.0 * *v as f64 / max as f64;
        let _ = write!(
            s,
            "<text x=\"0\" y=\"{}\" font-size=\"12\">{}</text><rect x=\"200\" y=\"{y}\" width=\"{w:.1}\" height=\"16\" fill=\"{color}\"/><text x=\"{:.1}\" y=\"{}\" font-size=\"12\">{v}</text>",
            y + 13,
            esc(&name.chars().take(30).collect::<String>()),
            205.0 + w,
            y + 13
        );
    }
    s.push_str("</svg></figure>\n");
    s
}

fn list_html(title: &str, list: &[Listed]) -> String {
    let mut s = format!("<h2>{}</h2>\n<table><tr><th>row</th><th>label</th><th>score</th><th>post</th><th>words that drove it</th></tr>\n", esc(title));
    for l in list {
        let words: Vec<String> = l
            .words
            .iter()
            .map(|(w, x)| format!("{} ({x:.2})", esc(w)))
            .collect();
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{:.3}</td><td>{}</td><td>{}</td></tr>",
            l.row,
            l.label,
            l.score,
            esc(&l.text.chars().take(280).collect::<String>()),
            words.join(", ")
        );
    }
    s.push_str("</table>\n");
    s
}

/// Values of a field, most flagged first, at most [`TOP_VALUES`].
fn top_values(m: &std::collections::HashMap<String, (u64, u64)>) -> Vec<(&String, (u64, u64))> {
    let mut v: Vec<(&String, (u64, u64))> = m.iter().map(|(k, c)| (k, *c)).collect();
    v.sort_by(|a, b| {
        b.1 .1
            .cmp(&a.1 .1)
            .then(b.1 .0.cmp(&a.1 .0))
            .then(a.0.cmp(b.0))
    });
    v.truncate(TOP_VALUES);
    v
}

/// The report as HTML. `source` names the classified file.
pub fn html(s: &Summary, source: &str) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"id\"><head><meta charset=\"utf-8\"><title>pantau report: {}</title>\
         <style>body{{font-family:sans-serif;max-width:900px;margin:2em auto;color:#222}}\
         table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}}\
         figure{{margin:1em 0}}figcaption{{font-weight:bold}}</style></head><body>\n\
         <h1>pantau report</h1>\n<p>{} — {} rows, {} classified, <b id=\"flagged\">{}</b> flagged ({:.1}%), {} errors.</p>\n",
        esc(source),
        esc(source),
        s.rows,
        s.rows - s.errors,
        s.flagged,
        share(s.flagged, s.rows - s.errors),
        s.errors
    );
    h.push_str("<h2>Labels</h2>\n<table id=\"labels\"><tr><th>label</th><th>posts</th><th>share</th></tr>\n");
    let classified = s.rows - s.errors;
    for l in Label::ALL {
        let n = s.labels[l.index()];
        let _ = writeln!(
            h,
            "<tr><td>{l}</td><td>{n}</td><td>{:.1}%</td></tr>",
            share(n, classified)
        );
    }
    h.push_str("</table>\n");
    let labels: Vec<(String, u64)> = Label::ALL
        .iter()
        .map(|l| (l.to_string(), s.labels[l.index()]))
        .collect();
    h.push_str(&bars("Posts per label", &labels, "#4a7ab7"));
    if !s.by_day.is_empty() {
        let days: Vec<(String, u64)> = s.by_day.iter().map(|(d, c)| (d.clone(), c.1)).collect();
        h.push_str(&bars("Flagged posts per day", &days, "#c0504d"));
    }
    if !s.by_participant.is_empty() {
        h.push_str("<h2>Flagged posts per participant</h2>\n<table id=\"participants\"><tr><th>participant</th><th>promotional</th><th>campaigning</th><th>neutral (flagged by threshold)</th></tr>\n");
        let mut ps: Vec<(&String, &[u64; 3])> = s.by_participant.iter().collect();
        ps.sort_by(|a, b| (b.1[1] + b.1[2]).cmp(&(a.1[1] + a.1[2])).then(a.0.cmp(b.0)));
        for (p, c) in &ps {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(p),
                c[1],
                c[2],
                c[0]
            );
        }
        h.push_str("</table>\n");
        let items: Vec<(String, u64)> = ps
            .iter()
            .take(15)
            .map(|(p, c)| ((*p).clone(), c.iter().sum()))
            .collect();
        h.push_str(&bars("Flagged posts per participant", &items, "#9bbb59"));
    }
    for (field, values) in &s.by_field {
        let _ = writeln!(
            h,
            "<h2>By {}</h2>\n<table><tr><th>{}</th><th>posts</th><th>flagged</th></tr>",
            esc(field),
            esc(field)
        );
        for (v, (n, f)) in top_values(values) {
            let _ = writeln!(h, "<tr><td>{}</td><td>{n}</td><td>{f}</td></tr>", esc(v));
        }
        h.push_str("</table>\n");
    }
    h.push_str(&list_html("Most confident flagged posts", &s.confident));
    h.push_str(&list_html(
        "Most uncertain flagged posts (review first)",
        &s.uncertain,
    ));
    h.push_str("</body></html>\n");
    h
}

/// The report as Markdown (the same numbers, no charts).
pub fn markdown(s: &Summary, source: &str) -> String {
    let classified = s.rows - s.errors;
    let mut m = format!(
        "# pantau report\n\n`{source}`: {} rows, {classified} classified, {} flagged ({:.1}%), {} errors.\n\n| label | posts | share |\n|---|---:|---:|\n",
        s.rows,
        s.flagged,
        share(s.flagged, classified),
        s.errors
    );
    for l in Label::ALL {
        let n = s.labels[l.index()];
        let _ = writeln!(m, "| {l} | {n} | {:.1}% |", share(n, classified));
    }
    if !s.by_participant.is_empty() {
        m.push_str("\n## Flagged posts per participant\n\n| participant | promotional | campaigning | neutral |\n|---|---:|---:|---:|\n");
        for (p, c) in &s.by_participant {
            let _ = writeln!(m, "| {p} | {} | {} | {} |", c[1], c[2], c[0]);
        }
    }
    if !s.by_day.is_empty() {
        m.push_str("\n## Per day\n\n| day | posts | flagged |\n|---|---:|---:|\n");
        for (d, (n, f)) in &s.by_day {
            let _ = writeln!(m, "| {d} | {n} | {f} |");
        }
    }
    for (field, values) in &s.by_field {
        let _ = write!(
            m,
            "\n## By {field}\n\n| {field} | posts | flagged |\n|---|---:|---:|\n"
        );
        for (v, (n, f)) in top_values(values) {
            let _ = writeln!(m, "| {v} | {n} | {f} |");
        }
    }
    for (title, list) in [
        ("Most confident flagged posts", &s.confident),
        ("Most uncertain flagged posts", &s.uncertain),
    ] {
        let _ = write!(
            m,
            "\n## {title}\n\n| row | label | score | post |\n|---:|---|---:|---|\n"
        );
        for l in list {
            let text: String = l
                .text
                .chars()
                .take(140)
                .collect::<String>()
                .replace('|', "\\|")
                .replace('\n', " ");
            let _ = writeln!(m, "| {} | {} | {:.3} | {text} |", l.row, l.label, l.score);
        }
    }
    m
}

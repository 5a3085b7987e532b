//! `pantau report`: a classified file summarized for a supervisor, as one HTML page (charts
//! inline, opens offline) or Markdown, in one streaming pass.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, ValueEnum};
use serde_json::{Map, Value};

use pantau::io::{read_file, write_atomic, Fields, InputFormat, InputOptions};
use pantau::report::{html, markdown, Summary, SummaryOptions};

use crate::cli::out::stdout;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Html,
    Md,
}

#[derive(Args)]
pub struct ReportArgs {
    /// A file written by `pantau classify` (JSONL or CSV).
    pub input: PathBuf,
    /// Count rows and flagged rows per value of this input field (an account, a source).
    /// Repeatable.
    #[arg(long, value_name = "FIELD")]
    pub by: Vec<String>,
    /// Field holding a date or timestamp (ISO, `YYYY-MM-DD…`): flagged posts per day.
    #[arg(long, value_name = "FIELD")]
    pub date_field: Option<String>,
    /// Field holding the post text, for the lists of posts.
    #[arg(long, default_value = "text")]
    pub text_field: String,
    /// The flag threshold the file was classified with (used only for rows without `flagged`).
    #[arg(long, default_value_t = 0.5)]
    pub flag_threshold: f64,
    /// Posts in each list (most confident, most uncertain).
    #[arg(long, default_value_t = 10)]
    pub posts: usize,
    /// Report format (default: from the output extension, else HTML).
    #[arg(long, value_enum)]
    pub format: Option<ReportFormat>,
    /// Output file; nothing or `-` writes stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

pub fn run(a: ReportArgs) -> Result<()> {
    let name = a.input.display().to_string();
    let format = InputFormat::from_path(&a.input).unwrap_or(InputFormat::Jsonl);
    let opts = InputOptions {
        format,
        text_field: a.text_field.clone(),
        text_column: a.text_field.clone(),
        ..InputOptions::default()
    };
    let records = read_file(&a.input, &opts)?;
    let headers = records.headers.clone();
    let sopts = SummaryOptions {
        by: a.by.clone(),
        date_field: a.date_field.clone(),
        text_field: a.text_field.clone(),
        threshold: a.flag_threshold,
        listed: a.posts,
    };
    let mut summary = Summary::default();
    for r in records {
        let r = r?;
        let row: Map<String, Value> = match r.fields {
            Fields::Object(m) => m,
            Fields::Columns(cells) => headers
                .iter()
                .cloned()
                .zip(cells.into_iter().map(Value::String))
                .collect(),
            Fields::Line(_) | Fields::Raw(_) => Map::new(),
        };
        summary.add(&row, &sopts);
    }
    let fmt = a.format.unwrap_or(
        match a
            .output
            .as_ref()
            .and_then(|p| p.extension())
            .and_then(|e| e.to_str())
        {
            Some("md") | Some("markdown") => ReportFormat::Md,
            _ => ReportFormat::Html,
        },
    );
    let text = match fmt {
        ReportFormat::Html => html(&summary, &name),
        ReportFormat::Md => markdown(&summary, &name),
    };
    match a.output.as_ref().filter(|p| p.as_os_str() != "-") {
        Some(p) => write_atomic(p, text.as_bytes())?,
        None => {
            let mut out = stdout()?;
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::cli::{parse, Command};

    #[test]
    fn the_input_is_required_and_by_repeats() {
        assert!(parse(&["report"]).is_err());
        let Ok(Command::Report(a)) =
            parse(&["report", "o.jsonl", "--by", "akun", "--by", "sumber"])
        else {
            panic!("report does not parse");
        };
        assert_eq!(a.by, vec!["akun", "sumber"]);
        assert_eq!((a.posts, a.format), (10, None));
    }
}

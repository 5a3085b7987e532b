//! `pantau classify`: input → classifier → output, streamed in windows, with progress, resume and
//! `--strict`.

use std::fs::File;
use std::io::{BufReader, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use pantau::classify::{classify_stream, StreamOptions};
use pantau::io::{
    read_records, sniff, Checkpoint, CountingReader, CsvWriter, InputFormat, InputOptions,
    JsonlWriter, OutputFormat, OutputPaths, RecordWriter,
};

use crate::cli::common::{load, Common};

#[derive(Args)]
pub struct ClassifyArgs {
    /// Input file; `-` or nothing reads stdin.
    pub input: Option<PathBuf>,
    /// Output file; `-` or nothing writes stdout. Files are written to FILE.partial and renamed on success.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub common: Common,
    /// Input format (default: from the extension, else sniffed: `{` → jsonl, otherwise text).
    #[arg(long, value_enum)]
    pub format: Option<InputFormat>,
    /// Output format (default: from the output extension, else CSV for CSV/TSV input and JSONL otherwise).
    #[arg(long, value_enum)]
    pub output_format: Option<OutputFormat>,
    /// JSONL field holding the post text.
    #[arg(long, default_value = "text")]
    pub text_field: String,
    /// CSV/TSV column holding the post text.
    #[arg(long, default_value = "text")]
    pub text_column: String,
    /// Exit with status 2 if any row could not be classified.
    #[arg(long)]
    pub strict: bool,
    /// Continue an interrupted run from OUTPUT.partial.
    #[arg(long)]
    pub resume: bool,
    /// Rows read, classified and written at a time (bounds memory).
    #[arg(long, default_value_t = 4096)]
    pub window: usize,
    /// Padded tokens per model batch (default depends on the device).
    #[arg(long)]
    pub batch_tokens: Option<usize>,
    /// Sequences per model batch at most (default depends on the device).
    #[arg(long)]
    pub max_batch: Option<usize>,
    /// No progress bar and no summary line.
    #[arg(long, short)]
    pub quiet: bool,
}

impl ClassifyArgs {
    /// Whether the input is stdin (no input, or `-`).
    fn reads_stdin(&self) -> bool {
        self.input.as_deref().is_none_or(|p| p == Path::new("-"))
    }

    /// Whether the output is stdout (no `--output`, or `-`).
    fn writes_stdout(&self) -> bool {
        self.output.as_deref().is_none_or(|p| p == Path::new("-"))
    }

    /// Checks the flags against each other before anything is opened.
    fn validate(&self) -> Result<()> {
        if self.resume && self.writes_stdout() {
            bail!("--resume needs --output FILE: there is nothing to resume on stdout");
        }
        Ok(())
    }

    /// The input format `--format` or the input file's extension names; `None` means sniff it.
    fn declared_format(&self) -> Option<InputFormat> {
        self.format.or_else(|| {
            self.input
                .as_deref()
                .filter(|_| !self.reads_stdin())
                .and_then(InputFormat::from_path)
        })
    }

    /// The output format: `--output-format`, else the output file's extension, else CSV for
    /// CSV/TSV input and JSONL otherwise.
    fn output_format(&self, input: InputFormat) -> OutputFormat {
        self.output_format
            .or_else(|| {
                self.output
                    .as_deref()
                    .filter(|_| !self.writes_stdout())
                    .and_then(OutputFormat::from_path)
            })
            .unwrap_or(match input {
                InputFormat::Csv | InputFormat::Tsv => OutputFormat::Csv,
                _ => OutputFormat::Jsonl,
            })
    }
}

pub fn run(a: ClassifyArgs) -> Result<ExitCode> {
    let stdin_input = a.reads_stdin();
    let stdout_output = a.writes_stdout();
    a.validate()?;
    let mut clf = load(&a.common)?;
    let mut batching = clf.batching();
    if let Some(t) = a.batch_tokens {
        batching.token_budget = t.max(1);
    }
    if let Some(m) = a.max_batch {
        batching.max_batch = m.max(1);
    }
    clf = clf.with_batching(batching);

    // Input: a counted byte stream so the progress bar can show bytes against the file size.
    let (source, name, total_bytes): (Box<dyn Read>, String, Option<u64>) = if stdin_input {
        (Box::new(std::io::stdin().lock()), "<stdin>".into(), None)
    } else {
        let p = a.input.as_ref().expect("checked");
        let f = File::open(p).with_context(|| format!("cannot open input {}", p.display()))?;
        let len = f.metadata().ok().map(|m| m.len());
        (Box::new(f), p.display().to_string(), len)
    };
    let (counted, bytes_read) = CountingReader::new(source);
    let mut buffered = BufReader::with_capacity(1 << 16, counted);
    let format = match a.declared_format() {
        Some(f) => f,
        None => sniff(&mut buffered).with_context(|| format!("reading {name}"))?,
    };
    let opts = InputOptions {
        format,
        text_field: a.text_field.clone(),
        text_column: a.text_column.clone(),
    };
    let mut records = read_records(buffered, &name, &opts)?;
    let headers = records.headers.clone();
    let out_format = a.output_format(format);

    let paths = a
        .output
        .as_deref()
        .filter(|_| !stdout_output)
        .map(OutputPaths::new);
    let (sink, skip, checkpoint): (Box<dyn Write>, u64, Option<Checkpoint>) = match &paths {
        None => (Box::new(std::io::stdout().lock()), 0, None),
        Some(p) if a.resume => {
            let (f, c) = p.reopen()?;
            (Box::new(f), c.rows, Some(c))
        }
        Some(p) => {
            let f = File::create(&p.partial)
                .with_context(|| format!("cannot create {}", p.partial.display()))?;
            (Box::new(f), 0, None)
        }
    };
    let base = checkpoint.as_ref().map_or(0, |c| c.bytes);
    let out_name = a
        .output
        .as_ref()
        .map_or("<stdout>".into(), |p| p.display().to_string());
    let mut writer: Box<dyn RecordWriter> = match out_format {
        OutputFormat::Jsonl => Box::new(JsonlWriter::new(sink, &out_name, headers, base)),
        OutputFormat::Csv => Box::new(CsvWriter::new(
            sink,
            &out_name,
            headers,
            checkpoint.as_ref().and_then(|c| c.columns.clone()),
            base,
        )),
    };
    for _ in 0..skip {
        match records.next() {
            Some(r) => {
                r?;
            }
            None => bail!("{name} has fewer rows than the {skip} already written to the partial output: is it the same input?"),
        }
    }

    let show = !a.quiet && std::io::stderr().is_terminal();
    let bar = if show {
        let bar = match total_bytes {
            Some(n) => ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr()),
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
        };
        let style = if total_bytes.is_some() {
            "{bar:30} {percent:>3}% {msg} [{elapsed_precise}, ETA {eta}]"
        } else {
            "{spinner} {msg} [{elapsed_precise}]"
        };
        bar.set_style(ProgressStyle::with_template(style).expect("valid template"));
        bar
    } else {
        ProgressBar::hidden()
    };
    let summary = classify_stream(
        &clf,
        records,
        writer.as_mut(),
        StreamOptions { window: a.window },
        |s, w| {
            bar.set_position(bytes_read.load(Ordering::Relaxed));
            bar.set_message(format!(
                "{} rows, {} errors, {:.0} rows/s",
                skip + s.rows,
                s.errors,
                s.rows_per_second()
            ));
            if let Some(p) = &paths {
                p.save_checkpoint(&Checkpoint {
                    rows: skip + s.rows,
                    bytes: w.bytes_written(),
                    columns: w.columns(),
                })?;
            }
            Ok(())
        },
    )?;
    bar.finish_and_clear();
    drop(writer);
    if let Some(p) = &paths {
        if summary.rows == 0 && skip == 0 {
            // An empty input still gets its (empty) output file.
            p.save_checkpoint(&Checkpoint {
                rows: 0,
                bytes: 0,
                columns: None,
            })?;
        }
        p.finish()?;
    }
    if !a.quiet {
        let resumed = if skip > 0 {
            format!(" (resumed after {skip} rows)")
        } else {
            String::new()
        };
        eprintln!("pantau: {summary}{resumed}");
    }
    if a.strict && summary.errors > 0 {
        eprintln!(
            "pantau: --strict: {} rows could not be classified (see their `error` field)",
            summary.errors
        );
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{parse, Command};

    fn args(flags: &[&str]) -> ClassifyArgs {
        let mut all = vec!["classify"];
        all.extend_from_slice(flags);
        match parse(&all) {
            Ok(Command::Classify(a)) => a,
            Ok(_) => unreachable!("classify parses as classify"),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn defaults_read_stdin_and_write_stdout() {
        let a = args(&[]);
        assert!(a.reads_stdin() && a.writes_stdout());
        assert_eq!(a.window, 4096);
        assert_eq!(
            (a.text_field.as_str(), a.text_column.as_str()),
            ("text", "text")
        );
        assert_eq!(a.common.device, "cpu");
        assert!(a.common.model.is_none() && a.common.threads.is_none());
        assert!(a.batch_tokens.is_none() && a.max_batch.is_none());
        assert!(!a.strict && !a.resume && !a.quiet);
        assert!(a.format.is_none() && a.output_format.is_none());
        let dash = args(&["-", "-o", "-"]);
        assert!(dash.reads_stdin() && dash.writes_stdout());
        let files = args(&["in.jsonl", "--output", "out.jsonl"]);
        assert!(!files.reads_stdin() && !files.writes_stdout());
    }

    #[test]
    fn flags_are_parsed_and_bad_values_rejected() {
        let a = args(&[
            "in.txt",
            "-m",
            "org/model",
            "--device",
            "cuda:1",
            "--threads",
            "3",
            "--window",
            "10",
            "--batch-tokens",
            "256",
            "--max-batch",
            "8",
            "--strict",
            "-q",
        ]);
        assert_eq!(a.common.model.as_deref(), Some("org/model"));
        assert_eq!(a.common.device, "cuda:1");
        assert_eq!(a.common.threads, Some(3));
        assert_eq!(
            (a.window, a.batch_tokens, a.max_batch),
            (10, Some(256), Some(8))
        );
        assert!(a.strict && a.quiet);
        for bad in [
            &["--format", "xml"][..],
            &["--output-format", "tsv"],
            &["--window", "many"],
            &["--threads", "-1"],
            &["--no-such-flag"],
        ] {
            let mut all = vec!["classify"];
            all.extend_from_slice(bad);
            assert!(parse(&all).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn input_format_comes_from_the_flag_then_the_extension_else_sniffing() {
        assert_eq!(
            args(&["dump.csv"]).declared_format(),
            Some(InputFormat::Csv)
        );
        assert_eq!(
            args(&["dump.TSV"]).declared_format(),
            Some(InputFormat::Tsv)
        );
        assert_eq!(
            args(&["dump.ndjson"]).declared_format(),
            Some(InputFormat::Jsonl)
        );
        assert_eq!(
            args(&["posts.txt"]).declared_format(),
            Some(InputFormat::Text)
        );
        assert_eq!(
            args(&["dump.csv", "--format", "tsv"]).declared_format(),
            Some(InputFormat::Tsv)
        );
        assert_eq!(
            args(&["--format", "text"]).declared_format(),
            Some(InputFormat::Text)
        );
        assert_eq!(args(&["dump.dat"]).declared_format(), None);
        assert_eq!(args(&[]).declared_format(), None);
        assert_eq!(args(&["-"]).declared_format(), None);
    }

    #[test]
    fn output_format_follows_the_flag_then_the_extension_then_the_input() {
        let to_stdout = args(&[]);
        assert_eq!(to_stdout.output_format(InputFormat::Csv), OutputFormat::Csv);
        assert_eq!(to_stdout.output_format(InputFormat::Tsv), OutputFormat::Csv);
        assert_eq!(
            to_stdout.output_format(InputFormat::Jsonl),
            OutputFormat::Jsonl
        );
        assert_eq!(
            to_stdout.output_format(InputFormat::Text),
            OutputFormat::Jsonl
        );
        let to_csv = args(&["-o", "out.csv"]);
        assert_eq!(to_csv.output_format(InputFormat::Jsonl), OutputFormat::Csv);
        let to_jsonl = args(&["-o", "out.jsonl"]);
        assert_eq!(
            to_jsonl.output_format(InputFormat::Csv),
            OutputFormat::Jsonl
        );
        let unknown = args(&["-o", "out.dat"]);
        assert_eq!(unknown.output_format(InputFormat::Tsv), OutputFormat::Csv);
        let forced = args(&["-o", "out.jsonl", "--output-format", "csv"]);
        assert_eq!(forced.output_format(InputFormat::Jsonl), OutputFormat::Csv);
    }

    #[test]
    fn resume_needs_an_output_file() {
        for flags in [&["--resume"][..], &["--resume", "-o", "-"]] {
            let err = args(flags).validate().unwrap_err().to_string();
            assert!(err.contains("--resume needs --output FILE"), "{err}");
        }
        assert!(args(&["--resume", "-o", "out.jsonl"]).validate().is_ok());
        assert!(args(&[]).validate().is_ok());
    }
}

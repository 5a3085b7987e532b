//! `pantau classify`: input → classifier → output, streamed in windows, with progress, resume and
//! `--strict`.

use std::fs::{File, OpenOptions};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use pantau::classify::explain::Method;
use pantau::classify::{classify_stream, StreamOptions};
use pantau::io::sort_for_review;
use pantau::io::{
    hash_files, hash_prefix, is_parquet_file, open_stream, read_file, read_records, Checkpoint,
    CountingReader, CsvWriter, Decoding, Destination, HashingReader, InputFormat, InputOptions,
    InputPrefix, JsonlWriter, OutputFormat, ParquetWriter, RecordWriter, RunIdentity,
    MAX_ROW_BYTES,
};
use pantau::Triage;

use crate::cli::common::{load, open_input, Common};
use crate::cli::out::{say, stdout};

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
    /// CSV/TSV, Parquet or spreadsheet column holding the post text: a name, or a number from 1.
    #[arg(long, default_value = "text")]
    pub text_column: String,
    /// CSV/TSV and spreadsheets: the first row is a post, not a header; columns are named
    /// column_1, column_2, … and --text-column takes the text column's number.
    #[arg(long)]
    pub no_headers: bool,
    /// CSV field delimiter (default: found from the header: `,` `;` tab or `|`).
    #[arg(long, value_parser = delimiter)]
    pub delimiter: Option<u8>,
    /// Encoding of a legacy export (e.g. windows-1252, latin1). UTF-8 and UTF-16 (with or without
    /// a byte-order mark) are recognised without it; gzip and zstd are decompressed either way.
    #[arg(long)]
    pub encoding: Option<String>,
    /// Flag a post when p_promotional + p_campaigning reaches P (`flagged` column).
    #[arg(long, value_name = "P", default_value_t = 0.5, value_parser = probability)]
    pub flag_threshold: f32,
    /// Mark posts whose p_promotional + p_campaigning lies in LO..HI for human review (`review`
    /// column).
    #[arg(long, value_name = "LO..HI", default_value = "0.3..0.7", value_parser = band)]
    pub review_band: (f32, f32),
    /// Write only flagged rows (and error rows); every row is still classified and counted.
    #[arg(long)]
    pub flagged_only: bool,
    /// Order the output file for review: most uncertain first (nearest the flag threshold), error
    /// rows last. Needs --output FILE.
    #[arg(long)]
    pub sort_review: bool,
    /// Explain flagged rows: their `explanation` column lists the words that drove the label,
    /// strongest first, with their weight in log-odds. Costs model passes on flagged rows only.
    #[arg(long)]
    pub explain: bool,
    /// How --explain weighs words.
    #[arg(long, value_enum, default_value_t = Method::Gradient, requires = "explain")]
    pub explain_method: Method,
    /// Exit with status 2 if any row could not be classified.
    #[arg(long)]
    pub strict: bool,
    /// Continue an interrupted run from OUTPUT.partial.
    #[arg(long)]
    pub resume: bool,
    /// Rows read, classified and written at a time (bounds memory).
    #[arg(long, default_value_t = 4096)]
    pub window: usize,
    /// Longest input row kept, in bytes: a longer text line is classified from its start (the
    /// model reads the first few hundred words), a longer JSON line becomes an error row.
    #[arg(long, default_value_t = MAX_ROW_BYTES)]
    pub max_row_bytes: usize,
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
        // A device or FIFO is written as it is; a file's extension must name a format pantau
        // writes.
        let file_output = self.output.as_deref().filter(|p| {
            !self.writes_stdout() && std::fs::metadata(p).map_or(true, |m| m.is_file())
        });
        if let (Some(out), None) = (file_output, self.output_format) {
            OutputFormat::for_output(out).map_err(anyhow::Error::msg)?;
        }
        if self.sort_review && self.writes_stdout() {
            bail!("--sort-review needs --output FILE: the rows are reordered once all are written");
        }
        Ok(())
    }

    fn triage(&self) -> Triage {
        Triage {
            flag_threshold: self.flag_threshold,
            review_low: self.review_band.0,
            review_high: self.review_band.1,
        }
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

    /// What the output depends on besides the input: the model's files, every option that changes
    /// a row, pantau's version (recorded in checkpoints; `--resume` refuses a mismatch).
    fn identity(
        &self,
        clf: &pantau::Classifier,
        input: InputFormat,
        output: OutputFormat,
    ) -> Result<RunIdentity> {
        let p = &self.common.participants;
        Ok(RunIdentity::from([
            ("pantau_version".into(), env!("CARGO_PKG_VERSION").into()),
            ("model".into(), clf.fingerprint()?),
            ("device".into(), self.common.device.clone()),
            ("participants".into(), hash_files(&p.files)?),
            ("only_participants".into(), p.only.to_string()),
            ("format".into(), format!("{input:?}").to_lowercase()),
            ("output_format".into(), format!("{output:?}").to_lowercase()),
            ("text_field".into(), self.text_field.clone()),
            ("text_column".into(), self.text_column.clone()),
            ("no_headers".into(), self.no_headers.to_string()),
            (
                "delimiter".into(),
                self.delimiter
                    .map_or("auto".into(), |d| (d as char).to_string()),
            ),
            (
                "encoding".into(),
                self.encoding.clone().unwrap_or_else(|| "auto".into()),
            ),
            ("flag_threshold".into(), self.flag_threshold.to_string()),
            (
                "review_band".into(),
                format!("{}..{}", self.review_band.0, self.review_band.1),
            ),
            ("flagged_only".into(), self.flagged_only.to_string()),
            ("explain".into(), self.explain.to_string()),
            (
                "explain_method".into(),
                format!("{:?}", self.explain_method).to_lowercase(),
            ),
            ("max_row_bytes".into(), self.max_row_bytes.to_string()),
        ]))
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

/// A probability flag value: a number from 0 to 1.
fn probability(s: &str) -> std::result::Result<f32, String> {
    let p: f32 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number"))?;
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(format!("{p} is not between 0 and 1"))
    }
}

/// One ASCII character (`\t` and `tab` name the tab).
fn delimiter(s: &str) -> std::result::Result<u8, String> {
    match s {
        "\\t" | "tab" | "\t" => Ok(b'\t'),
        _ if s.len() == 1 && s.is_ascii() => Ok(s.as_bytes()[0]),
        _ => Err(format!("{s:?} is not one ASCII character")),
    }
}

/// `LO..HI`, two probabilities with LO ≤ HI.
fn band(s: &str) -> std::result::Result<(f32, f32), String> {
    let (lo, hi) = s
        .split_once("..")
        .ok_or_else(|| format!("{s:?} is not LO..HI (for example 0.3..0.7)"))?;
    let (lo, hi) = (probability(lo)?, probability(hi)?);
    if lo > hi {
        return Err(format!("{lo} is above {hi}"));
    }
    Ok((lo, hi))
}

pub fn run(a: ClassifyArgs) -> Result<ExitCode> {
    a.validate()?;
    let dest = Destination::for_path(a.output.as_deref())?;
    if a.resume {
        if let Destination::Special(p) = &dest {
            bail!(
                "--resume needs a regular output file: {} is a device or pipe, written directly and never resumable",
                p.display()
            );
        }
    }
    let mut clf = load(&a.common)?;
    let mut batching = clf.batching();
    if let Some(t) = a.batch_tokens {
        batching.token_budget = t.max(1);
    }
    if let Some(m) = a.max_batch {
        batching.max_batch = m.max(1);
    }
    clf = clf.with_batching(batching);

    // Input: a hashed and counted byte stream, so a checkpoint can record which input prefix it
    // covers and the progress bar can show bytes against the file size.
    let input_file = a.input.as_ref().filter(|_| !a.reads_stdin());
    let (source, name, total_bytes) = open_input(input_file.map(PathBuf::as_path))?;
    // An input that cannot be read twice is checked against the interrupted run's prefix as it
    // streams by; a regular file is checked before anything is written.
    let rereadable = total_bytes.is_some();
    let expect = match (&dest, a.resume && !rereadable) {
        (Destination::File(p), true) => p.peek_checkpoint().and_then(|c| c.input),
        _ => None,
    };
    let (hashed, tap) = HashingReader::new(source, expect.clone());
    let (counted, bytes_read) = CountingReader::new(hashed);
    // A Parquet file is read in place (Parquet is read from its end; a stream is copied to a
    // temporary file first). Its whole content is hashed up front for --resume, as a streamed
    // input's prefix is hashed as it goes by.
    let parquet_file = match input_file.filter(|_| rereadable) {
        Some(p) if is_parquet_file(p)? => Some(p),
        _ => None,
    };
    let (format, mut records, decoding, whole_input) = match parquet_file {
        Some(path) => {
            let opts = InputOptions {
                format: InputFormat::Parquet,
                text_field: a.text_field.clone(),
                text_column: a.text_column.clone(),
                ..InputOptions::default()
            };
            let whole = hash_prefix(path, total_bytes.unwrap_or(0))?;
            let records = read_file(path, &opts)?;
            (InputFormat::Parquet, records, Decoding::default(), whole)
        }
        None => {
            let (stream, decoding) = open_stream(
                Box::new(counted),
                &name,
                a.declared_format(),
                a.encoding.as_deref(),
                &a.text_column,
            )?;
            let opts = InputOptions {
                format: stream.format,
                delimiter: a.delimiter.or(stream.delimiter),
                text_field: a.text_field.clone(),
                text_column: a.text_column.clone(),
                no_headers: a.no_headers,
                max_row_bytes: a.max_row_bytes,
            };
            let records = read_records(stream.reader, &name, &opts)?;
            (stream.format, records, decoding, None)
        }
    };
    let prefix = || whole_input.clone().unwrap_or_else(|| tap.prefix());
    let headers = records.headers.clone();
    let out_format = a.output_format(format);
    if out_format == OutputFormat::Parquet && a.resume {
        bail!("--resume cannot continue a Parquet output (a Parquet file is unreadable until its footer is written): write JSONL with --resume, then convert it");
    }
    let identity = a.identity(&clf, format, out_format)?;

    // Output: opened (and locked) only once the input and the options are known to be good.
    let mut lock: Option<File> = None;
    let (sink, checkpoint): (Box<dyn Write + Send>, Option<Checkpoint>) = match &dest {
        Destination::Stdout => (stdout()?, None),
        Destination::Special(p) => {
            let f = OpenOptions::new()
                .write(true)
                .open(p)
                .with_context(|| format!("cannot open output {}", p.display()))?;
            (Box::new(f), None)
        }
        Destination::File(p) => {
            let (mut f, c) = if a.resume {
                p.reopen()?
            } else {
                (p.create()?, None)
            };
            match &c {
                Some(c) => {
                    c.check_same_run(&identity, &p.checkpoint)?;
                    let recorded = c.input.clone().unwrap_or(InputPrefix {
                        bytes: 0,
                        hash: String::new(),
                    });
                    let same = match input_file.filter(|_| rereadable) {
                        Some(path) => {
                            hash_prefix(path, recorded.bytes)?.as_ref() == Some(&recorded)
                        }
                        None => expect.as_ref() == Some(&recorded),
                    };
                    if !same {
                        bail!(
                            "cannot resume {}: {name} is not the input of the interrupted run (its first {} bytes differ or it is shorter); rerun with the same input, or start over without --resume",
                            p.final_path.display(),
                            recorded.bytes
                        );
                    }
                    p.rewind(&mut f, c)?;
                }
                // Written before the first row, so a run stopped at any point can be resumed.
                None => p.save_checkpoint(&Checkpoint {
                    rows: 0,
                    bytes: 0,
                    columns: None,
                    input: Some(InputPrefix::empty()),
                    run: Some(identity.clone()),
                })?,
            }
            lock = Some(
                f.try_clone()
                    .with_context(|| format!("opening {}", p.partial.display()))?,
            );
            (Box::new(f), c)
        }
    };
    let paths = match &dest {
        Destination::File(p) => Some(p),
        _ => None,
    };
    let skip = checkpoint.as_ref().map_or(0, |c| c.rows);
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
        OutputFormat::Parquet => Box::new(ParquetWriter::new(sink, &out_name, headers)),
    };
    for _ in 0..skip {
        match records.next() {
            Some(r) => {
                r?;
            }
            None => bail!("{name} has fewer rows than the {skip} already written to the partial output: is it the same input?"),
        }
    }
    let input_differs = || {
        pantau::Error::BadInput {
        path: name.clone(),
        reason: "is not the input of the interrupted run (its first bytes differ): the output is left as it was at the last checkpoint; rerun with the same input, or start over without --resume".into(),
    }
    };
    if tap.verdict() == Some(false) {
        return Err(input_differs().into());
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
    let result = classify_stream(
        &clf,
        records,
        writer.as_mut(),
        StreamOptions {
            window: a.window,
            triage: a.triage(),
            flagged_only: a.flagged_only,
            explain: if a.explain { 5 } else { 0 },
            explain_method: a.explain_method,
            ..StreamOptions::default()
        },
        |s, w| {
            bar.set_position(bytes_read.load(Ordering::Relaxed));
            bar.set_message(format!(
                "{} rows, {} errors, {:.0} rows/s",
                skip + s.rows,
                s.errors,
                s.rows_per_second()
            ));
            if let Some(p) = paths {
                if tap.verdict() == Some(false) {
                    return Err(input_differs());
                }
                p.save_checkpoint(&Checkpoint {
                    rows: skip + s.rows,
                    bytes: w.bytes_written(),
                    columns: w.columns(),
                    input: Some(prefix()),
                    run: Some(identity.clone()),
                })?;
            }
            Ok(())
        },
    );
    let summary = match result {
        Ok(s) => s,
        Err(e) => {
            // A fresh run that fails before its first checkpointed row (a wrong --text-field, an
            // unreadable input) leaves nothing behind: there is nothing worth resuming.
            if let (Some(p), 0) = (paths, skip) {
                if p.peek_checkpoint().is_some_and(|c| c.rows == 0) {
                    let _ = std::fs::remove_file(&p.partial);
                    let _ = std::fs::remove_file(&p.checkpoint);
                }
            }
            return Err(e.into());
        }
    };
    bar.finish_and_clear();
    if expect.is_some() && tap.verdict() != Some(true) {
        return Err(input_differs().into());
    }
    writer.finish()?;
    drop(writer);
    if let Some(p) = paths {
        if a.sort_review {
            let mut sorted = p.partial.as_os_str().to_owned();
            sorted.push(".sorted");
            let sorted = PathBuf::from(sorted);
            sort_for_review(&p.partial, &sorted, out_format, &a.triage())?;
            std::fs::rename(&sorted, &p.partial)
                .with_context(|| format!("writing {}", p.partial.display()))?;
        }
        p.finish()?;
    }
    drop(lock);
    if !a.quiet {
        let resumed = if skip > 0 {
            format!(" (resumed after {skip} rows)")
        } else {
            String::new()
        };
        let mut read_as: Vec<String> = Vec::new();
        if let Some(c) = decoding.compression {
            read_as.push(format!("{c}-compressed"));
        }
        if let Some(e) = decoding.encoding {
            read_as.push(format!("transcoded from {e}"));
        }
        if decoding.cr_line_ends {
            read_as.push("\\r line ends".into());
        }
        let read_as = if read_as.is_empty() {
            String::new()
        } else {
            format!("; input {}", read_as.join(", "))
        };
        say(format!("pantau: {summary}{resumed}{read_as}"));
    }
    if a.strict && summary.errors > 0 {
        say(format!(
            "pantau: --strict: {} rows could not be classified (see their `error` field)",
            summary.errors
        ));
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
    fn thresholds_default_to_half_and_a_middle_band_and_bad_values_are_refused() {
        let a = args(&[]);
        assert_eq!((a.flag_threshold, a.review_band), (0.5, (0.3, 0.7)));
        assert!(!a.flagged_only && !a.sort_review);
        let a = args(&[
            "--flag-threshold",
            "0.8",
            "--review-band",
            "0.6..0.9",
            "--flagged-only",
        ]);
        assert_eq!(a.triage().flag_threshold, 0.8);
        assert_eq!((a.triage().review_low, a.triage().review_high), (0.6, 0.9));
        assert!(a.flagged_only);
        for bad in [
            &["--flag-threshold", "1.5"][..],
            &["--flag-threshold", "x"],
            &["--review-band", "0.7..0.3"],
            &["--review-band", "0.5"],
        ] {
            let mut all = vec!["classify"];
            all.extend_from_slice(bad);
            assert!(parse(&all).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn resume_needs_an_output_file() {
        for flags in [&["--resume"][..], &["--resume", "-o", "-"]] {
            let err = args(flags).validate().unwrap_err().to_string();
            assert!(err.contains("--resume needs --output FILE"), "{err}");
        }
        assert!(args(&["--resume", "-o", "out.jsonl"]).validate().is_ok());
        let err = args(&["--sort-review"]).validate().unwrap_err().to_string();
        assert!(err.contains("--sort-review needs --output FILE"), "{err}");
        assert!(args(&[]).validate().is_ok());
    }
}

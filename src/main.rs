//! `pantau` command line: a thin layer over the library.

use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use pantau::batch::{classify_stream, StreamOptions};
use pantau::eval::{evaluate, Report};
use pantau::io::{
    read_examples, read_records, read_texts, Checkpoint, CountingReader, CsvWriter, InputFormat,
    InputOptions, JsonlWriter, OutputFormat, OutputPaths, RecordWriter,
};
use pantau::train::{train, Event, TrainConfig, TrainData, CARD_EVAL_MARKER};
use pantau::{parse_device, Classifier, Label};

#[derive(Parser)]
#[command(
    name = "pantau",
    version,
    about = "Classify Indonesian social-media posts as neutral, promotional or campaigning"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Classify posts from JSONL, CSV/TSV or plain text (file or stdin).
    Classify(ClassifyArgs),
    /// Print a model's card: sizes, labels, metrics.
    Info {
        /// Model directory or hub id (default: the shipped model).
        model: Option<String>,
    },
    /// Train a model on labeled data.
    Train(TrainArgs),
    /// Evaluate a model on labeled data.
    Eval(EvalArgs),
    /// Print each post's normalized text, one line per input row (what the tokenizer sees).
    Normalize {
        /// JSONL or text input; `-` or nothing reads stdin.
        input: Option<PathBuf>,
        /// JSONL field holding the post text.
        #[arg(long, default_value = "text")]
        text_field: String,
    },
}

#[derive(Args)]
struct Common {
    /// Model directory or Hugging Face repo id in the local cache (default: the shipped model).
    #[arg(long, short)]
    model: Option<String>,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
}

#[derive(Args)]
struct ClassifyArgs {
    /// Input file; `-` or nothing reads stdin.
    input: Option<PathBuf>,
    /// Output file; `-` or nothing writes stdout. Files are written to FILE.partial and renamed on success.
    #[arg(long, short)]
    output: Option<PathBuf>,
    #[command(flatten)]
    common: Common,
    /// Input format (default: from the extension, else sniffed: `{` → jsonl, otherwise text).
    #[arg(long, value_enum)]
    format: Option<InputFormat>,
    /// Output format (default: from the output extension, else CSV for CSV/TSV input and JSONL otherwise).
    #[arg(long, value_enum)]
    output_format: Option<OutputFormat>,
    /// JSONL field holding the post text.
    #[arg(long, default_value = "text")]
    text_field: String,
    /// CSV/TSV column holding the post text.
    #[arg(long, default_value = "text")]
    text_column: String,
    /// Exit with status 2 if any row could not be classified.
    #[arg(long)]
    strict: bool,
    /// Continue an interrupted run from OUTPUT.partial.
    #[arg(long)]
    resume: bool,
    /// Rows read, classified and written at a time (bounds memory).
    #[arg(long, default_value_t = 4096)]
    window: usize,
    /// Padded tokens per model batch (default depends on the device).
    #[arg(long)]
    batch_tokens: Option<usize>,
    /// Sequences per model batch at most (default depends on the device).
    #[arg(long)]
    max_batch: Option<usize>,
    /// No progress bar and no summary line.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Args)]
struct TrainArgs {
    /// Training data (JSONL or CSV with text and label).
    #[arg(long)]
    train: PathBuf,
    /// Development data for early stopping.
    #[arg(long)]
    dev: PathBuf,
    /// Directory to write the model to (replaced atomically).
    #[arg(long)]
    out: PathBuf,
    /// Unlabeled posts (JSONL/CSV/TSV with a `text` field or column, or plain text, one post per
    /// line) for `--pretrain-epochs`; they also shape a newly learned vocabulary.
    #[arg(long)]
    unlabeled: Option<PathBuf>,
    #[command(flatten)]
    config: TrainConfig,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Args)]
struct EvalArgs {
    /// Labeled data (JSONL or CSV with text, label and optionally kind).
    #[arg(long)]
    data: PathBuf,
    #[command(flatten)]
    common: Common,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Write the report into the model card (README.md) of the model directory.
    #[arg(long)]
    update_card: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Classify(a) => classify(a),
        Command::Info { model } => info(model).map(|_| ExitCode::SUCCESS),
        Command::Train(a) => run_train(a).map(|_| ExitCode::SUCCESS),
        Command::Eval(a) => run_eval(a).map(|_| ExitCode::SUCCESS),
        Command::Normalize { input, text_field } => {
            normalize_cmd(input, text_field).map(|_| ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The shipped model: `$PANTAU_MODEL`, else `models/pantau-small` under the current directory, else the
/// one in the source tree this binary was built from.
fn default_model() -> String {
    if let Ok(m) = std::env::var("PANTAU_MODEL") {
        return m;
    }
    if Path::new(pantau::DEFAULT_MODEL).is_dir() {
        return pantau::DEFAULT_MODEL.into();
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(pantau::DEFAULT_MODEL)
        .display()
        .to_string()
}

/// Sizes rayon's pool, which candle's CPU matmuls also read through `RAYON_NUM_THREADS`. Batches run in
/// parallel on that pool and candle's matmuls split their work into tasks on the same pool, so the
/// cores are never oversubscribed; forcing matmuls to one thread measured the same at the default
/// batch budget (benches/README.md), so the simpler single pool stays.
fn set_threads(threads: Option<usize>) -> Result<()> {
    if let Some(n) = threads {
        if n == 0 {
            bail!("--threads must be at least 1");
        }
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .context("setting up the thread pool")?;
    }
    Ok(())
}

fn load(common: &Common) -> Result<Classifier> {
    set_threads(common.threads)?;
    let device = parse_device(&common.device)?;
    let model = common.model.clone().unwrap_or_else(default_model);
    Ok(Classifier::load(&model, &device)?)
}

fn classify(a: ClassifyArgs) -> Result<ExitCode> {
    let stdin_input = a.input.as_deref().is_none_or(|p| p == Path::new("-"));
    let stdout_output = a.output.as_deref().is_none_or(|p| p == Path::new("-"));
    if a.resume && stdout_output {
        bail!("--resume needs --output FILE: there is nothing to resume on stdout");
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
    let format = match a.format {
        Some(f) => f,
        None => match a
            .input
            .as_deref()
            .filter(|_| !stdin_input)
            .and_then(InputFormat::from_path)
        {
            Some(f) => f,
            None => sniff(&mut buffered).with_context(|| format!("reading {name}"))?,
        },
    };
    let opts = InputOptions {
        format,
        text_field: a.text_field.clone(),
        text_column: a.text_column.clone(),
    };
    let mut records = read_records(buffered, &name, &opts)?;
    let headers = records.headers.clone();
    let out_format = a
        .output_format
        .or_else(|| {
            a.output
                .as_deref()
                .filter(|_| !stdout_output)
                .and_then(OutputFormat::from_path)
        })
        .unwrap_or(match format {
            InputFormat::Csv | InputFormat::Tsv => OutputFormat::Csv,
            _ => OutputFormat::Jsonl,
        });

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

/// Guesses JSONL or plain text from the first non-blank byte.
fn sniff(r: &mut impl BufRead) -> std::io::Result<InputFormat> {
    let buf = r.fill_buf()?;
    let start = buf.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(buf);
    Ok(match start.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => InputFormat::Jsonl,
        _ => InputFormat::Text,
    })
}

fn info(model: Option<String>) -> Result<()> {
    let model = model.unwrap_or_else(default_model);
    let clf = Classifier::load(&model, &candle_core::Device::Cpu)?;
    let c = clf.config();
    let weights = clf.dir().join("model.safetensors");
    let size = std::fs::metadata(&weights).map(|m| m.len()).unwrap_or(0);
    println!("model       {}", clf.dir().display());
    println!(
        "architecture {} layers, hidden {}, {} heads, FFN {}, max {} tokens",
        c.num_hidden_layers,
        c.hidden_size,
        c.num_attention_heads,
        c.intermediate_size,
        c.max_position_embeddings
    );
    println!(
        "vocabulary  {} (tokenizer has {})",
        c.vocab_size,
        clf.encoder().vocab_size()
    );
    println!(
        "parameters  {} ({} stored, {:.1} MB)",
        c.num_parameters(),
        c.torch_dtype,
        size as f64 / 1e6
    );
    println!("labels      {}", Label::ALL.map(|l| l.as_str()).join(", "));
    println!("normalization v{}", c.normalization_version);
    if let Ok(card) = std::fs::read_to_string(clf.dir().join("README.md")) {
        println!("\n{card}");
    }
    Ok(())
}

fn run_train(mut a: TrainArgs) -> Result<()> {
    a.config.validate()?;
    let quote = |arg: String| {
        if arg
            .chars()
            .any(|c| c.is_whitespace() || "'\"$`\\".contains(c))
        {
            format!("'{}'", arg.replace('\'', "'\\''"))
        } else {
            arg
        }
    };
    a.config.command = Some(
        std::iter::once("pantau".to_string())
            .chain(std::env::args().skip(1).map(quote))
            .collect::<Vec<_>>()
            .join(" "),
    );
    set_threads(a.threads)?;
    let device = parse_device(&a.device)?;
    let data = TrainData {
        train: read_examples(&a.train)?,
        dev: read_examples(&a.dev)?,
        unlabeled: match &a.unlabeled {
            Some(p) => read_texts(p)?,
            None => Vec::new(),
        },
    };
    eprintln!(
        "pantau: training on {} examples, early stopping on {} dev examples{}",
        data.train.len(),
        data.dev.len(),
        if data.unlabeled.is_empty() {
            String::new()
        } else {
            format!(", {} unlabeled posts", data.unlabeled.len())
        }
    );
    if !data.unlabeled.is_empty() && a.config.pretrain_epochs() == 0 {
        eprintln!(
            "pantau: note: without pretraining (--pretrain-epochs) --unlabeled only shapes a newly learned vocabulary"
        );
    }
    let show = !a.quiet && std::io::stderr().is_terminal();
    let bar = if show {
        let b = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        b.set_style(
            ProgressStyle::with_template("epoch {prefix} {bar:30} {pos}/{len} loss {msg}")
                .expect("valid"),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    let report = train(&a.config, &data, &a.out, &device, |e| match e {
        Event::Step {
            pretraining,
            epoch,
            step,
            of,
            loss,
        } => {
            bar.set_length(of as u64);
            bar.set_position(step as u64);
            bar.set_prefix(if pretraining {
                format!("{epoch} (pretraining)")
            } else {
                epoch.to_string()
            });
            bar.set_message(format!("{loss:.4}"));
        }
        Event::Pretrained(r) => bar.suspend(|| {
            eprintln!(
                "pretraining epoch {:>3}  masked-LM loss {:.4}  lr {:.2e}  {:.1}s",
                r.epoch, r.loss, r.learning_rate, r.seconds
            )
        }),
        Event::Epoch(r) => bar.suspend(|| {
            eprintln!(
                "epoch {:>3}  loss {:.4}  dev acc {:.4}  dev macro-F1 {:.4}  lr {:.2e}  {:.1}s{}",
                r.epoch,
                r.train_loss,
                r.dev_accuracy,
                r.dev_macro_f1,
                r.learning_rate,
                r.seconds,
                if r.saved { "  saved" } else { "" }
            )
        }),
    })?;
    bar.finish_and_clear();
    eprintln!(
        "pantau: best epoch {} (dev macro-F1 {:.4}); model written to {}",
        report.best_epoch,
        report.best_dev.as_ref().map_or(0.0, |d| d.macro_f1),
        a.out.display()
    );
    Ok(())
}

fn run_eval(a: EvalArgs) -> Result<()> {
    let clf = load(&a.common)?;
    let examples = read_examples(&a.data)?;
    let texts: Vec<&str> = examples.iter().map(|e| e.text.as_str()).collect();
    let preds = clf.classify_batch(&texts)?;
    let gold: Vec<Label> = examples.iter().map(|e| e.label).collect();
    let kinds: Vec<Option<String>> = examples.iter().map(|e| e.kind.clone()).collect();
    let has_kinds = kinds.iter().any(Option::is_some);
    let report = evaluate(&gold, &preds, has_kinds.then_some(&kinds[..]));
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{report}");
    }
    if a.update_card {
        update_card(clf.dir(), &a.data, &report)?;
    }
    Ok(())
}

/// Replaces everything after the card's evaluation marker with this report.
fn update_card(dir: &Path, data: &Path, report: &Report) -> Result<()> {
    let path = dir.join("README.md");
    let card =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let Some(at) = card.find(CARD_EVAL_MARKER) else {
        bail!(
            "{} has no {CARD_EVAL_MARKER} line to write the evaluation after",
            path.display()
        );
    };
    let mut out = card[..at + CARD_EVAL_MARKER.len()].to_string();
    out.push_str(&format!(
        "\n`pantau eval --model {} --data {}`:\n\n```text\n{report}```\n",
        dir.display(),
        data.display()
    ));
    std::fs::write(&path, out).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn normalize_cmd(input: Option<PathBuf>, text_field: String) -> Result<()> {
    let (source, name): (Box<dyn Read>, String) = match input
        .as_deref()
        .filter(|p| *p != Path::new("-"))
    {
        None => (Box::new(std::io::stdin().lock()), "<stdin>".into()),
        Some(p) => (
            Box::new(File::open(p).with_context(|| format!("cannot open input {}", p.display()))?),
            p.display().to_string(),
        ),
    };
    let mut buffered = BufReader::new(source);
    let format = match input.as_deref().and_then(InputFormat::from_path) {
        Some(f) => f,
        None => sniff(&mut buffered)?,
    };
    let opts = InputOptions {
        format,
        text_field,
        ..InputOptions::default()
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for rec in read_records(buffered, &name, &opts)? {
        let rec = rec?;
        let text = rec
            .text
            .as_deref()
            .map(pantau::normalize::normalize)
            .unwrap_or_default();
        writeln!(out, "{text}")?;
    }
    Ok(())
}

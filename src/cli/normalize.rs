//! `pantau normalize`: each post's normalized text, one line per input row.

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;

use pantau::io::{read_records, sniff, InputFormat, InputOptions};
use pantau::text::participants::prepare;

use crate::cli::common::ParticipantArgs;

#[derive(Args)]
pub struct NormalizeArgs {
    /// JSONL or text input; `-` or nothing reads stdin.
    pub input: Option<PathBuf>,
    /// JSONL field holding the post text.
    #[arg(long, default_value = "text")]
    pub text_field: String,
    /// Print the text as models of normalization version 1 read it: participants not marked.
    #[arg(long)]
    pub no_marking: bool,
    #[command(flatten)]
    pub participants: ParticipantArgs,
}

pub fn run(a: NormalizeArgs) -> Result<()> {
    let NormalizeArgs {
        input,
        text_field,
        no_marking,
        participants,
    } = a;
    let registry = participants.registry()?;
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
    let (decoded, _) = pantau::io::decode(source, &name, None)?;
    let mut buffered = BufReader::new(decoded);
    let (format, delimiter) = match input.as_deref().and_then(InputFormat::from_path) {
        Some(f) => (f, None),
        None => sniff(&mut buffered, "text")?,
    };
    let opts = InputOptions {
        format,
        delimiter,
        text_field,
        ..InputOptions::default()
    };
    let mut out = std::io::BufWriter::new(crate::cli::out::stdout()?);
    for rec in read_records(buffered, &name, &opts)? {
        let rec = rec?;
        let text = rec
            .text
            .as_deref()
            .map(|t| prepare(t, &registry, !no_marking).text)
            .unwrap_or_default();
        writeln!(out, "{text}")?;
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{parse, Command};

    fn args(flags: &[&str]) -> NormalizeArgs {
        let mut all = vec!["normalize"];
        all.extend_from_slice(flags);
        match parse(&all) {
            Ok(Command::Normalize(a)) => a,
            _ => panic!("{flags:?} does not parse as normalize"),
        }
    }

    #[test]
    fn reads_stdin_and_the_text_field_by_default() {
        let a = args(&[]);
        assert_eq!((a.input, a.text_field.as_str()), (None, "text"));
        let a = args(&["posts.jsonl", "--text-field", "isi"]);
        assert_eq!(a.input.as_deref(), Some(Path::new("posts.jsonl")));
        assert_eq!(a.text_field, "isi");
    }
}

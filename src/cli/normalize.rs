//! `pantau normalize`: each post's normalized text, one line per input row.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use pantau::io::{open_stream, read_records, InputFormat, InputOptions};
use pantau::text::normalize::{NORMALIZATION_VERSION, OLDEST_NORMALIZATION_VERSION};
use pantau::text::participants::prepare;

use crate::cli::common::{open_input, ParticipantArgs};

#[derive(Args)]
pub struct NormalizeArgs {
    /// JSONL or text input; `-` or nothing reads stdin.
    pub input: Option<PathBuf>,
    /// JSONL field holding the post text.
    #[arg(long, default_value = "text")]
    pub text_field: String,
    /// Print the text as models of this normalization version read it (1: participants not
    /// marked; 2: digit runs collapsed too).
    #[arg(long, default_value_t = NORMALIZATION_VERSION, value_parser = clap::value_parser!(u32).range(OLDEST_NORMALIZATION_VERSION as i64..=NORMALIZATION_VERSION as i64))]
    pub version: u32,
    #[command(flatten)]
    pub participants: ParticipantArgs,
}

pub fn run(a: NormalizeArgs) -> Result<()> {
    let NormalizeArgs {
        input,
        text_field,
        version,
        participants,
    } = a;
    let registry = participants.registry()?;
    let (source, name, _) = open_input(input.as_deref())?;
    let declared = input.as_deref().and_then(InputFormat::from_path);
    let (stream, _) = open_stream(source, &name, declared, None, "text")?;
    let opts = InputOptions {
        format: stream.format,
        delimiter: stream.delimiter,
        text_field,
        ..InputOptions::default()
    };
    let mut out = std::io::BufWriter::new(crate::cli::out::stdout()?);
    for rec in read_records(stream.reader, &name, &opts)? {
        let rec = rec?;
        let text = rec
            .text
            .as_deref()
            .map(|t| prepare(t, &registry, version).text)
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
    use std::path::Path;

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

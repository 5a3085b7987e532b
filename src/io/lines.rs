//! Splitting a byte stream into lines for the line-based readers (JSONL and plain text).

use std::io::{BufRead, BufReader, Read};
use std::str::Utf8Error;

use crate::error::{Error, Result};
use crate::record::{Fields, Record};

/// Numbered lines of a byte stream, without a leading BOM or trailing `\n`/`\r`.
pub(crate) struct Lines<R> {
    reader: BufReader<R>,
    name: String,
    line: u64,
    buf: Vec<u8>,
    skip_blank: bool,
}

impl<R: Read> Lines<R> {
    /// `name` is used in messages; with `skip_blank`, lines of only whitespace are passed over
    /// (they still count in the numbering).
    pub(crate) fn new(source: R, name: &str, skip_blank: bool) -> Self {
        Lines {
            reader: BufReader::with_capacity(1 << 16, source),
            name: name.to_string(),
            line: 0,
            buf: Vec::new(),
            skip_blank,
        }
    }

    /// The next line as its 1-based number and bytes, `None` at the end of the stream.
    pub(crate) fn next_line(&mut self) -> Option<Result<(u64, &[u8])>> {
        loop {
            self.buf.clear();
            match self.reader.read_until(b'\n', &mut self.buf) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => return Some(Err(Error::io(&self.name, e))),
            }
            self.line += 1;
            let (start, end) = content(&self.buf, self.line == 1);
            if self.skip_blank && self.buf[start..end].iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Some(Ok((self.line, &self.buf[start..end])));
        }
    }
}

/// Where a line's content lies in `buf`: after the BOM (first line only), before any `\n`/`\r`.
fn content(buf: &[u8], first: bool) -> (usize, usize) {
    let mut bytes = buf;
    if first {
        bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    }
    let start = buf.len() - bytes.len();
    while let Some(b) = bytes
        .strip_suffix(b"\n")
        .or_else(|| bytes.strip_suffix(b"\r"))
    {
        bytes = b;
    }
    (start, start + bytes.len())
}

/// The error record of a line that is not UTF-8.
pub(crate) fn invalid_utf8(row: u64, bytes: &[u8], e: Utf8Error) -> Record {
    Record {
        row,
        fields: Fields::Raw(String::from_utf8_lossy(bytes).into_owned()),
        text: Err(format!(
            "invalid UTF-8 at byte {}: re-encode the file as UTF-8",
            e.valid_up_to()
        )),
    }
}

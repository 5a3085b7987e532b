//! Splitting a byte stream into lines for the line-based readers (JSONL and plain text).

use std::io::{BufRead, BufReader, Read};

/// Default cap on one input row, in bytes: far above any real post (the model reads its first few
/// hundred words), far below what would strain memory.
pub const MAX_ROW_BYTES: usize = 4 << 20;
use std::str::Utf8Error;

use crate::error::{Error, Result};
use crate::record::{Fields, Record};

/// Numbered lines of a byte stream, without a leading BOM or trailing `\n`/`\r`.
///
/// A line longer than the cap keeps only its first `max_line` bytes in memory; the rest is read and
/// dropped, so a 200 MB line costs a cap's worth of memory, not 200 MB.
pub(crate) struct Lines<R> {
    reader: BufReader<R>,
    name: String,
    line: u64,
    buf: Vec<u8>,
    skip_blank: bool,
    max_line: usize,
    /// Bytes consumed before the line being returned.
    pos: u64,
}

/// One line as read: its number, its (possibly cut) bytes, and its full length when it was cut.
pub(crate) struct Line<'a> {
    pub(crate) number: u64,
    /// Byte offset of the line's start in the stream.
    pub(crate) offset: u64,
    pub(crate) bytes: &'a [u8],
    pub(crate) cut_from: Option<u64>,
}

impl<R: Read> Lines<R> {
    /// `name` is used in messages; with `skip_blank`, lines of only whitespace are passed over
    /// (they still count in the numbering).
    /// Lines of at most `max_line` bytes are kept whole.
    pub(crate) fn new(source: R, name: &str, skip_blank: bool, max_line: usize) -> Self {
        Lines {
            reader: BufReader::with_capacity(1 << 16, source),
            name: name.to_string(),
            line: 0,
            buf: Vec::new(),
            skip_blank,
            max_line: max_line.max(1),
            pos: 0,
        }
    }

    /// The next line, `None` at the end of the stream.
    pub(crate) fn next_line(&mut self) -> Option<Result<Line<'_>>> {
        loop {
            let (total, cut) = match self.read_capped() {
                Ok((0, _)) => return None,
                Ok(read) => read,
                Err(e) => return Some(Err(Error::io(&self.name, e))),
            };
            self.line += 1;
            let offset = self.pos;
            self.pos += total;
            let (start, end) = content(&self.buf, self.line == 1);
            if self.skip_blank && !cut && self.buf[start..end].iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Some(Ok(Line {
                number: self.line,
                offset,
                bytes: &self.buf[start..end],
                cut_from: cut.then_some(total),
            }));
        }
    }

    /// Reads through the next `\n` into `buf`, keeping at most `max_line` bytes; returns the bytes
    /// consumed and whether the line was cut.
    fn read_capped(&mut self) -> std::io::Result<(u64, bool)> {
        self.buf.clear();
        let (mut total, mut cut) = (0u64, false);
        loop {
            let avail = match self.reader.fill_buf() {
                Ok(a) => a,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if avail.is_empty() {
                break;
            }
            let (n, done) = match avail.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (avail.len(), false),
            };
            let room = self.max_line.saturating_sub(self.buf.len());
            if n > room {
                cut = true;
            }
            self.buf.extend_from_slice(&avail[..n.min(room)]);
            self.reader.consume(n);
            total += n as u64;
            if done {
                break;
            }
        }
        Ok((total, cut))
    }
}

/// The text of a line cut at the cap: its bytes up to the last whole UTF-8 character.
pub(crate) fn cut_text(bytes: &[u8]) -> std::result::Result<&str, Utf8Error> {
    match std::str::from_utf8(bytes) {
        Ok(t) => Ok(t),
        // Only the final character was split by the cut.
        Err(e) if e.error_len().is_none() => {
            Ok(std::str::from_utf8(&bytes[..e.valid_up_to()]).expect("valid up to here"))
        }
        Err(e) => Err(e),
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
        offset: None,
        fields: Fields::Raw(String::from_utf8_lossy(bytes).into_owned()),
        text: Err(format!(
            "invalid UTF-8 at byte {}: re-encode the file as UTF-8",
            e.valid_up_to()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_over_the_cap_is_cut_and_the_next_line_is_whole() {
        let mut input = vec![b'a'; 10_000];
        input.extend_from_slice(b"\nshort\n\xC3\xA9\xC3\xA9\xC3\xA9\n");
        let mut lines = Lines::new(&input[..], "t", false, 100);
        let l = lines.next_line().unwrap().unwrap();
        assert_eq!(
            (l.number, l.bytes.len(), l.cut_from),
            (1, 100, Some(10_001))
        );
        let l = lines.next_line().unwrap().unwrap();
        assert_eq!((l.number, l.bytes, l.cut_from), (2, &b"short"[..], None));
        let mut lines = Lines::new(&b"\xC3\xA9\xC3\xA9\xC3\xA9\n"[..], "t", false, 5);
        let l = lines.next_line().unwrap().unwrap();
        assert!(l.cut_from.is_some());
        assert_eq!(cut_text(l.bytes).unwrap(), "éé");
        assert!(lines.next_line().is_none());
    }
}

//! JSON array files (`[{…}, {…}]`, often pretty-printed, as many exporters write them) read as
//! JSONL: a streaming adapter turns the top-level array into one element per line, so an array
//! file costs the memory of one element, never the whole file.

use std::io::{BufRead, BufReader, Read};

/// Streams the elements of a top-level JSON array as lines: commas between elements become `\n`,
/// newlines inside an element (pretty-printing) become spaces, the outer brackets go.
pub(crate) struct ArrayLines<R> {
    inner: BufReader<R>,
    state: State,
}

/// Where the adapter is in the JSON text.
#[derive(Default)]
struct State {
    depth: u32,
    in_string: bool,
    escaped: bool,
}

impl<R: Read> ArrayLines<R> {
    pub(crate) fn new(inner: R) -> Self {
        ArrayLines {
            inner: BufReader::with_capacity(1 << 16, inner),
            state: State::default(),
        }
    }
}

impl State {
    /// The byte to emit for `b`, if any, updating the state.
    fn map(&mut self, b: u8) -> Option<u8> {
        if self.in_string {
            match (self.escaped, b) {
                (true, _) => self.escaped = false,
                (false, b'\\') => self.escaped = true,
                (false, b'"') => self.in_string = false,
                _ => {}
            }
            return Some(b);
        }
        match b {
            b'"' => {
                self.in_string = true;
                Some(b)
            }
            b'[' | b'{' => {
                self.depth += 1;
                // The array's own bracket is not part of any element.
                (self.depth > 1).then_some(b)
            }
            b']' | b'}' => {
                self.depth = self.depth.saturating_sub(1);
                if self.depth == 0 {
                    Some(b'\n')
                } else {
                    Some(b)
                }
            }
            b',' if self.depth == 1 => Some(b'\n'),
            b'\n' | b'\r' if self.depth == 1 => None,
            b'\n' | b'\r' => Some(b' '),
            _ if self.depth == 0 => None,
            _ => Some(b),
        }
    }
}

impl<R: Read> Read for ArrayLines<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let avail = self.inner.fill_buf()?;
            if avail.is_empty() || buf.is_empty() {
                return Ok(0);
            }
            let (mut read, mut written) = (0, 0);
            for &b in avail {
                if written == buf.len() {
                    break;
                }
                read += 1;
                if let Some(o) = self.state.map(b) {
                    buf[written] = o;
                    written += 1;
                }
            }
            self.inner.consume(read);
            // A chunk of only brackets and separators emits nothing: read on, or the caller would
            // take 0 for the end of the stream.
            if written > 0 {
                return Ok(written);
            }
        }
    }
}

/// Whether a stream's first non-blank byte (after a BOM) opens an array.
pub(crate) fn starts_array(head: &[u8]) -> bool {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    head.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pretty_printed_array_becomes_one_element_per_line() {
        let input = "[\n  {\n    \"id\": 1,\n    \"text\": \"a, [b] {c}\"\n  },\n  {\"id\": 2, \"tags\": [1, 2], \"text\": \"kata \\\"dua\\\"\"}\n]\n";
        let mut out = String::new();
        ArrayLines::new(input.as_bytes())
            .read_to_string(&mut out)
            .unwrap();
        let lines: Vec<serde_json::Value> = out
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["text"], "a, [b] {c}");
        assert_eq!(lines[1]["tags"], serde_json::json!([1, 2]));
        assert_eq!(lines[1]["text"], "kata \"dua\"");
        assert!(starts_array(b"\xEF\xBB\xBF  \n[{}]") && !starts_array(b"{\"a\":1}"));
        let mut out = String::new();
        ArrayLines::new(&b"[]"[..])
            .read_to_string(&mut out)
            .unwrap();
        assert!(out.trim().is_empty());
    }
}

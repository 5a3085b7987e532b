//! Plain-text input: one post per line; an empty line is an error row, so rows stay aligned.

use std::io::Read;

use crate::error::Result;
use crate::io::lines::{cut_text, invalid_utf8, Lines};
use crate::record::{non_empty, Fields, Record};

/// Reads one record per line.
pub(crate) struct TextRecords<R> {
    lines: Lines<R>,
}

impl<R: Read> TextRecords<R> {
    /// `name` is used in messages (a path or `<stdin>`).
    pub(crate) fn new(source: R, name: &str, max_row_bytes: usize) -> Self {
        TextRecords {
            lines: Lines::new(source, name, false, max_row_bytes),
        }
    }
}

impl<R: Read> Iterator for TextRecords<R> {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(self.lines.next_line()?.map(|l| Record {
            offset: Some(l.offset),
            ..parse(l.number, l.bytes, l.cut_from.is_some())
        }))
    }
}

/// A line cut at the cap keeps its start: the model reads only the first few hundred words.
fn parse(row: u64, bytes: &[u8], cut: bool) -> Record {
    let decoded = if cut {
        cut_text(bytes)
    } else {
        std::str::from_utf8(bytes)
    };
    let text = match decoded {
        Ok(t) => t,
        Err(e) => return invalid_utf8(row, bytes, e),
    };
    Record {
        row,
        offset: None,
        fields: Fields::Line(text.to_string()),
        text: non_empty(text.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_lines_keep_empty_lines_as_error_rows() {
        let recs: Vec<Record> = TextRecords::new(&b"satu\n\ndua"[..], "t", 1 << 20)
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[2].text.as_deref(), Ok("dua"));
        assert_eq!(recs[1].text.as_ref().unwrap_err(), "empty text");
    }
}

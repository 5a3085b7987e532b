//! Plain-text input: one post per line; an empty line is an error row, so rows stay aligned.

use std::io::Read;

use crate::error::Result;
use crate::io::lines::{invalid_utf8, Lines};
use crate::record::{non_empty, Fields, Record};

/// Reads one record per line.
pub(crate) struct TextRecords<R> {
    lines: Lines<R>,
}

impl<R: Read> TextRecords<R> {
    /// `name` is used in messages (a path or `<stdin>`).
    pub(crate) fn new(source: R, name: &str) -> Self {
        TextRecords {
            lines: Lines::new(source, name, false),
        }
    }
}

impl<R: Read> Iterator for TextRecords<R> {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(
            self.lines
                .next_line()?
                .map(|(row, bytes)| parse(row, bytes)),
        )
    }
}

fn parse(row: u64, bytes: &[u8]) -> Record {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => return invalid_utf8(row, bytes, e),
    };
    Record {
        row,
        fields: Fields::Line(text.to_string()),
        text: non_empty(text.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_lines_keep_empty_lines_as_error_rows() {
        let recs: Vec<Record> = TextRecords::new(&b"satu\n\ndua"[..], "t")
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[2].text.as_deref(), Ok("dua"));
        assert_eq!(recs[1].text.as_ref().unwrap_err(), "empty text");
    }
}

//! Spreadsheet input (Excel .xlsx/.xlsm/.xlsb/.xls, OpenDocument .ods) through `calamine`: the
//! first sheet, its first row the header, read like a CSV file with that header.

use std::io::Cursor;

use calamine::{Data, Reader};

use crate::error::{Error, Result};
use crate::io::csv::text_column;
use crate::record::{non_empty, Fields, Record};

/// Reads one record per data row of the first sheet; cells keep their text as the spreadsheet
/// shows it (whole numbers without `.0`, dates as ISO 8601).
pub(crate) struct SheetRecords {
    rows: std::vec::IntoIter<Vec<Data>>,
    pub(crate) headers: Vec<String>,
    text_col: usize,
    row: u64,
}

impl SheetRecords {
    /// Reads the workbook in `bytes` (spreadsheets are zip or OLE archives, read whole); `column`
    /// names the text column. `name` is used in messages.
    /// With `no_headers` the first row is data, as for CSV (see `CsvRecords::with_limit`).
    pub(crate) fn new(bytes: Vec<u8>, name: &str, column: &str, no_headers: bool) -> Result<Self> {
        let bad = |reason: String| Error::BadInput {
            path: name.into(),
            reason,
        };
        let mut book = calamine::open_workbook_auto_from_rs(Cursor::new(bytes)).map_err(|e| {
            bad(format!(
                "is not a readable spreadsheet (.xlsx, .xls, .ods): {e}"
            ))
        })?;
        let range = book
            .worksheet_range_at(0)
            .ok_or_else(|| bad("has no sheet".into()))?
            .map_err(|e| bad(format!("cannot read its first sheet: {e}")))?;
        let all: Vec<Vec<Data>> = range.rows().map(<[Data]>::to_vec).collect();
        let first: Vec<String> = all
            .first()
            .ok_or_else(|| bad("its first sheet is empty".into()))?
            .iter()
            .map(cell_text)
            .collect();
        let mut rows = all.into_iter();
        let headers: Vec<String> = if no_headers {
            (1..=first.len()).map(|i| format!("column_{i}")).collect()
        } else {
            rows.next();
            first
        };
        let text_col = text_column(
            &headers,
            column,
            no_headers,
            "the first row of its first sheet",
        )
        .map_err(bad)?;
        Ok(SheetRecords {
            rows,
            headers,
            text_col,
            row: 0,
        })
    }
}

impl Iterator for SheetRecords {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        let cells = self.rows.next()?;
        self.row += 1;
        let mut cells: Vec<String> = cells.iter().map(cell_text).collect();
        // A sheet's used range is rectangular, but trailing cells of a row may be missing.
        cells.resize(cells.len().max(self.headers.len()), String::new());
        let text = non_empty(cells[self.text_col].clone());
        Some(Ok(Record {
            row: self.row,
            offset: None,
            fields: Fields::Columns(cells),
            text,
        }))
    }
}

/// A cell as text: as the spreadsheet would show it, without number formats.
fn cell_text(d: &Data) -> String {
    match d {
        Data::DateTime(dt) if dt.is_datetime() => {
            let (y, mo, da, h, mi, s, _) = dt.to_ymd_hms_milli();
            if (h, mi, s) == (0, 0, 0) {
                format!("{y:04}-{mo:02}-{da:02}")
            } else {
                format!("{y:04}-{mo:02}-{da:02}T{h:02}:{mi:02}:{s:02}")
            }
        }
        Data::Error(e) => format!("#{e:?}"),
        other => other.to_string(),
    }
}

//! Domain-agnostic tabular reports, rendered to PDF (A4, built-in Helvetica) or CSV.
//!
//! Used for a member's CEC transcript and for "petition for credit" packets, so the output is
//! meant to look like an official document. The module knows nothing about credits: callers
//! pass every cell as an already formatted string (credit values are never turned into floats
//! here; `f32` is used only for page geometry).
//!
//! Layout rules:
//! - A4 portrait, built-in PDF fonts only (Helvetica / Helvetica-Bold), so no font files.
//! - The first page carries the title block; later pages carry a small running title.
//! - Tables continue across pages with the header row repeated, and every page has a
//!   "Page N of M" footer.
//! - Left-aligned cells wrap on word boundaries (up to [`MAX_CELL_LINES`] lines); right-aligned
//!   cells (numbers) never wrap. Anything that still does not fit is cut with an ellipsis.
//! - Text is mapped to the WinAnsi character set of the built-in fonts: decomposable letters
//!   lose their accent if the accented form is missing (`ő` → `o`), anything else becomes `?`.
//! - Output is a pure function of the [`Report`]: no clock, no random ids.

mod pdf;
mod text;

#[cfg(test)]
mod tests;

pub use pdf::render_pdf;

/// Most lines a wrapped body cell may take before it is cut with an ellipsis.
pub const MAX_CELL_LINES: usize = 3;

/// A whole document: a title block, one or more tables, and a footer on every page.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Report {
    /// Large heading on the first page; repeated small at the top of later pages.
    pub title: String,
    /// Lines under the title on the first page (member, period, issuing body, ...).
    pub subtitle_lines: Vec<String>,
    /// Tables, in order.
    pub sections: Vec<Section>,
    /// Small print at the bottom of every page, next to "Page N of M".
    pub footer_lines: Vec<String>,
    /// Written to the PDF's CreationDate/ModDate. `None` writes no date at all, so the output
    /// stays byte-identical for identical input; pass a fixed value in tests.
    pub created: Option<jiff::Timestamp>,
}

/// One table, with an optional heading and an optional totals row.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Section {
    pub heading: Option<String>,
    pub columns: Vec<Column>,
    /// Each row must have exactly one cell per column.
    pub rows: Vec<Vec<String>>,
    /// Printed in bold below the last row; must have one cell per column (use "" for blanks).
    pub totals: Option<Vec<String>>,
}

/// A table column.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub title: String,
    /// Layout only (not credit). If the columns of a section add up to more than the printable
    /// width (170 mm), they are scaled down proportionally.
    pub width_mm: f32,
    pub align: Align,
}

impl Column {
    /// A left-aligned (wrapping) column.
    pub fn left(title: impl Into<String>, width_mm: f32) -> Self {
        Self { title: title.into(), width_mm, align: Align::Left }
    }

    /// A right-aligned (non-wrapping) column, for numbers and dates.
    pub fn right(title: impl Into<String>, width_mm: f32) -> Self {
        Self { title: title.into(), width_mm, align: Align::Right }
    }
}

/// Horizontal alignment of a column's cells (and its header).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Align {
    #[default]
    Left,
    Right,
}

/// Why a report could not be rendered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    #[error("section {section}: row {row} has {found} cells, expected {expected}")]
    RowLength { section: usize, row: usize, expected: usize, found: usize },
    #[error("section {section}: totals row has {found} cells, expected {expected}")]
    TotalsLength { section: usize, expected: usize, found: usize },
    #[error("section {section}: column {column} has invalid width {width_mm} mm")]
    ColumnWidth { section: usize, column: usize, width_mm: f32 },
    #[error("could not serialize the PDF: {0}")]
    Serialize(String),
}

impl Section {
    /// Checks the shape of the table; `index` is only used in error messages.
    fn validate(&self, index: usize) -> Result<(), ReportError> {
        for (column, c) in self.columns.iter().enumerate() {
            if !c.width_mm.is_finite() || c.width_mm <= 0.0 {
                return Err(ReportError::ColumnWidth { section: index, column, width_mm: c.width_mm });
            }
        }
        let expected = self.columns.len();
        for (row, cells) in self.rows.iter().enumerate() {
            if cells.len() != expected {
                return Err(ReportError::RowLength { section: index, row, expected, found: cells.len() });
            }
        }
        if let Some(totals) = &self.totals
            && totals.len() != expected
        {
            return Err(ReportError::TotalsLength { section: index, expected, found: totals.len() });
        }
        Ok(())
    }
}

/// Renders one section as CSV (RFC 4180: CRLF line ends, fields quoted when needed): a header
/// row of column titles, then one record per row, then the totals row if there is one.
/// Cells are written as given (full Unicode, no truncation). Rows are not validated: a short or
/// long row is written with the cells it has.
pub fn render_csv(section: &Section) -> String {
    render_csv_records(section)
}

/// A cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR first) gets a
/// leading `'`, so a title like `=HYPERLINK(...)` stays text when a member opens the file.
fn defuse(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_owned(),
    }
}

fn render_csv_records(section: &Section) -> String {
    let mut writer = csv::WriterBuilder::new().flexible(true).terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    let header: Vec<String> = section.columns.iter().map(|c| defuse(&c.title)).collect();
    let body = section.rows.iter().chain(section.totals.iter());
    let records = std::iter::once(header).chain(body.map(|r| r.iter().map(|c| defuse(c)).collect()));
    for record in records {
        // Writing into a Vec cannot fail; a record with no fields is written as an empty line.
        if record.is_empty() {
            let _ = writer.write_record([""]);
        } else {
            let _ = writer.write_record(&record);
        }
    }
    let bytes = writer.into_inner().unwrap_or_default();
    // The input was all `&str`, so the output is valid UTF-8.
    String::from_utf8(bytes).unwrap_or_default()
}

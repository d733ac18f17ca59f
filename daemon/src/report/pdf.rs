//! Page layout and PDF serialization (via `printpdf`). All geometry is in PDF points, with y
//! growing upwards from the bottom of the page as in PDF itself.

use printpdf::{
    Color, Line, LinePoint, Mm, Op, PaintMode, PdfDocument, PdfFontHandle, PdfPage, PdfSaveOptions, Point, Pt, Rect,
    Rgb, TextItem,
};
use sha2::{Digest, Sha256};

use super::text::{Face, fit, to_win_ansi, wrap};
use super::{Align, MAX_CELL_LINES, Report, ReportError, Section};

const MM: f32 = 72.0 / 25.4;
const PAGE_W: f32 = 210.0 * MM;
const PAGE_H: f32 = 297.0 * MM;
const MARGIN_X: f32 = 20.0 * MM;
const MARGIN_TOP: f32 = 18.0 * MM;
const MARGIN_BOTTOM: f32 = 12.0 * MM;
const CONTENT_W: f32 = PAGE_W - 2.0 * MARGIN_X;

const BODY_SIZE: f32 = 9.0;
const HEAD_SIZE: f32 = 8.5;
const LINE_H: f32 = 11.0;
const PAD_Y: f32 = 4.0;
const PAD_X: f32 = 4.0;
const FOOTER_SIZE: f32 = 7.5;
const FOOTER_LINE_H: f32 = 9.5;
const MAX_FOOTER_LINES: usize = 8;
/// Room kept on the right of the footer for "Page N of M".
const PAGE_LABEL_W: f32 = 80.0;

const INK: (f32, f32, f32) = (0.10, 0.10, 0.12);
const ACCENT: (f32, f32, f32) = (0.10, 0.22, 0.40);
const MUTED: (f32, f32, f32) = (0.38, 0.38, 0.42);
const HEADER_FILL: (f32, f32, f32) = (0.89, 0.92, 0.96);
const STRIPE_FILL: (f32, f32, f32) = (0.965, 0.97, 0.98);
const RULE: (f32, f32, f32) = (0.80, 0.82, 0.86);

/// Renders `report` as an A4 PDF. The bytes depend only on `report`.
pub fn render_pdf(report: &Report) -> Result<Vec<u8>, ReportError> {
    for (i, s) in report.sections.iter().enumerate() {
        s.validate(i)?;
    }
    let footer = footer_lines(&report.footer_lines);
    let footer_top = MARGIN_BOTTOM + footer.len() as f32 * FOOTER_LINE_H + 6.0;
    let mut layout = Layout {
        pages: Vec::new(),
        y: 0.0,
        bottom: footer_top + 10.0,
        running_left: to_win_ansi(&report.title),
        running_right: report.subtitle_lines.first().map(|s| to_win_ansi(s)).unwrap_or_default(),
    };
    layout.new_page();
    layout.title_block(report);
    for section in &report.sections {
        layout.section(section);
    }
    let total = layout.pages.len();
    let pages = layout
        .pages
        .into_iter()
        .enumerate()
        .map(|(i, mut ops)| {
            draw_footer(&mut ops, &footer, footer_top, i + 1, total);
            PdfPage::new(Mm(210.0), Mm(297.0), ops)
        })
        .collect();
    serialize(report, pages)
}

fn rgb((r, g, b): (f32, f32, f32)) -> Color {
    Color::Rgb(Rgb { r, g, b, icc_profile: None })
}

/// Draws `s` (already WinAnsi-mapped) with its baseline starting at (`x`, `y`).
fn text(ops: &mut Vec<Op>, face: Face, size: f32, color: (f32, f32, f32), x: f32, y: f32, s: &str) {
    if s.is_empty() {
        return;
    }
    ops.extend([
        Op::SetFillColor { col: rgb(color) },
        Op::StartTextSection,
        Op::SetFont { font: PdfFontHandle::Builtin(face.builtin()), size: Pt(size) },
        Op::SetTextCursor { pos: Point { x: Pt(x), y: Pt(y) } },
        Op::ShowText { items: vec![TextItem::Text(s.to_owned())] },
        Op::EndTextSection,
    ]);
}

/// Horizontal rule from `x0` to `x1` at height `y`.
fn rule(ops: &mut Vec<Op>, x0: f32, x1: f32, y: f32, thickness: f32, color: (f32, f32, f32)) {
    let point = |x: f32| LinePoint { p: Point { x: Pt(x), y: Pt(y) }, bezier: false };
    ops.extend([
        Op::SetOutlineColor { col: rgb(color) },
        Op::SetOutlineThickness { pt: Pt(thickness) },
        Op::DrawLine { line: Line { points: vec![point(x0), point(x1)], is_closed: false } },
    ]);
}

/// Filled rectangle whose top edge is at `top`.
fn fill(ops: &mut Vec<Op>, x: f32, top: f32, w: f32, h: f32, color: (f32, f32, f32)) {
    let mut rectangle = Rect::from_xywh(Pt(x), Pt(top - h), Pt(w), Pt(h));
    rectangle.mode = Some(PaintMode::Fill);
    ops.extend([Op::SetFillColor { col: rgb(color) }, Op::DrawRectangle { rectangle }]);
}

/// The footer's small print, wrapped to the space left of the page label.
fn footer_lines(lines: &[String]) -> Vec<String> {
    let max_w = CONTENT_W - PAGE_LABEL_W;
    let mut out: Vec<String> =
        lines.iter().flat_map(|l| wrap(&to_win_ansi(l), Face::Regular, FOOTER_SIZE, max_w, MAX_FOOTER_LINES)).collect();
    if out.len() > MAX_FOOTER_LINES {
        out.truncate(MAX_FOOTER_LINES);
        if let Some(last) = out.last_mut() {
            *last = fit(&format!("{last} \u{2026}"), Face::Regular, FOOTER_SIZE, max_w);
        }
    }
    out
}

fn draw_footer(ops: &mut Vec<Op>, lines: &[String], top: f32, page: usize, total: usize) {
    rule(ops, MARGIN_X, PAGE_W - MARGIN_X, top, 0.5, RULE);
    let baseline = top - 10.0;
    for (i, line) in lines.iter().enumerate() {
        let y = baseline - i as f32 * FOOTER_LINE_H;
        text(ops, Face::Regular, FOOTER_SIZE, MUTED, MARGIN_X, y, line);
    }
    let label = format!("Page {page} of {total}");
    let x = PAGE_W - MARGIN_X - Face::Regular.width(&label, 8.0);
    text(ops, Face::Regular, 8.0, MUTED, x, baseline, &label);
}

/// Cells of one table row, wrapped to their columns.
#[derive(Debug)]
struct Row {
    cells: Vec<Vec<String>>,
    height: f32,
}

#[derive(Debug, Clone, Copy)]
enum RowStyle {
    Header,
    Body { striped: bool },
    Totals,
    Empty,
}

impl RowStyle {
    fn face(self) -> Face {
        match self {
            RowStyle::Header | RowStyle::Totals => Face::Bold,
            RowStyle::Body { .. } => Face::Regular,
            RowStyle::Empty => Face::Oblique,
        }
    }

    fn size(self) -> f32 {
        match self {
            RowStyle::Header => HEAD_SIZE,
            _ => BODY_SIZE,
        }
    }
}

/// A section's columns: left edge and width of each, in points.
#[derive(Debug)]
struct Grid {
    x: Vec<f32>,
    w: Vec<f32>,
    align: Vec<Align>,
    width: f32,
}

impl Grid {
    fn new(section: &Section) -> Self {
        let natural: f32 = section.columns.iter().map(|c| c.width_mm * MM).sum();
        let scale = if natural > CONTENT_W { CONTENT_W / natural } else { 1.0 };
        let w: Vec<f32> = section.columns.iter().map(|c| c.width_mm * MM * scale).collect();
        let x = w
            .iter()
            .scan(MARGIN_X, |x, w| {
                let left = *x;
                *x += w;
                Some(left)
            })
            .collect();
        let width = if w.is_empty() { CONTENT_W } else { w.iter().sum() };
        let align = section.columns.iter().map(|c| c.align).collect();
        Grid { x, w, align, width }
    }

    fn row(&self, cells: &[String], style: RowStyle) -> Row {
        let (face, size) = (style.face(), style.size());
        let cells: Vec<Vec<String>> = cells
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                let cell = to_win_ansi(cell);
                let (w, align) = match style {
                    // The "No entries." note is not a cell: it may use the whole line.
                    RowStyle::Empty => (CONTENT_W, Align::Left),
                    _ => (self.w[i], self.align[i]),
                };
                let inner = (w - 2.0 * PAD_X).max(0.0);
                match (align, style) {
                    // Numbers are never wrapped, and a column too narrow for wrapping to make
                    // sense gets one (cut) line.
                    (Align::Right, RowStyle::Body { .. } | RowStyle::Totals) => {
                        vec![fit(cell.trim(), face, size, inner)]
                    }
                    _ if inner < size => vec![fit(cell.trim(), face, size, inner)],
                    _ => wrap(&cell, face, size, inner, MAX_CELL_LINES),
                }
            })
            .collect();
        let lines = cells.iter().map(Vec::len).max().unwrap_or(1).max(1);
        Row { cells, height: 2.0 * PAD_Y + size + (lines - 1) as f32 * LINE_H + 2.0 }
    }
}

#[derive(Debug)]
struct Layout {
    pages: Vec<Vec<Op>>,
    /// Top of the free space on the current page.
    y: f32,
    /// Lowest y the body may reach.
    bottom: f32,
    running_left: String,
    running_right: String,
}

impl Layout {
    fn ops(&mut self) -> &mut Vec<Op> {
        if self.pages.is_empty() {
            self.pages.push(Vec::new());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = PAGE_H - MARGIN_TOP;
        if self.pages.len() == 1 {
            return;
        }
        // Running header, so a loose page still says what it belongs to.
        let (y, half) = (self.y - 8.0, CONTENT_W / 2.0 - 6.0);
        let left = fit(&self.running_left, Face::Regular, 8.0, half);
        let right = fit(&self.running_right, Face::Regular, 8.0, half);
        let right_x = PAGE_W - MARGIN_X - Face::Regular.width(&right, 8.0);
        let ops = self.ops();
        text(ops, Face::Regular, 8.0, MUTED, MARGIN_X, y, &left);
        text(ops, Face::Regular, 8.0, MUTED, right_x, y, &right);
        rule(ops, MARGIN_X, PAGE_W - MARGIN_X, y - 5.0, 0.5, RULE);
        self.y -= 24.0;
    }

    fn title_block(&mut self, report: &Report) {
        let title = wrap(&to_win_ansi(&report.title), Face::Bold, 17.0, CONTENT_W, 3);
        let subtitles: Vec<String> = report
            .subtitle_lines
            .iter()
            .flat_map(|l| wrap(&to_win_ansi(l), Face::Regular, 10.0, CONTENT_W, 3))
            .collect();
        let mut y = self.y;
        let ops = self.ops();
        for line in title.iter().filter(|l| !l.is_empty()) {
            y -= 17.0;
            text(ops, Face::Bold, 17.0, ACCENT, MARGIN_X, y, line);
            y -= 5.0;
        }
        y -= 3.0;
        for line in &subtitles {
            y -= 13.5;
            text(ops, Face::Regular, 10.0, INK, MARGIN_X, y, line);
        }
        y -= 9.0;
        rule(ops, MARGIN_X, PAGE_W - MARGIN_X, y, 1.2, ACCENT);
        self.y = y - 16.0;
    }

    fn heading(&mut self, heading: Option<&str>, continued: bool) {
        let Some(heading) = heading else { return };
        let mut heading = to_win_ansi(heading);
        if continued {
            heading.push_str(" (continued)");
        }
        let line = fit(&heading, Face::Bold, 11.5, CONTENT_W);
        let y = self.y - 12.0;
        text(self.ops(), Face::Bold, 11.5, ACCENT, MARGIN_X, y, &line);
        self.y -= 20.0;
    }

    fn section(&mut self, section: &Section) {
        let grid = Grid::new(section);
        let titles: Vec<String> = section.columns.iter().map(|c| c.title.clone()).collect();
        let header = grid.row(&titles, RowStyle::Header);
        let heading = section.heading.as_deref();
        let heading_h = if heading.is_some() { 20.0 } else { 0.0 };
        let empty = [String::from("No entries.")];
        let first = match (section.rows.first(), &section.totals) {
            (Some(row), _) => grid.row(row, RowStyle::Body { striped: false }),
            (None, Some(totals)) => grid.row(totals, RowStyle::Totals),
            (None, None) => grid.row(&empty, RowStyle::Empty),
        };
        // Keep the heading, the header row and the first row together.
        if self.y - (heading_h + header.height + first.height) < self.bottom {
            self.new_page();
        }
        self.heading(heading, false);
        self.draw_row(&grid, &header, RowStyle::Header);

        let place = |layout: &mut Layout, row: &Row, style: RowStyle| {
            if layout.y - row.height < layout.bottom {
                layout.new_page();
                layout.heading(heading, true);
                layout.draw_row(&grid, &header, RowStyle::Header);
            }
            layout.draw_row(&grid, row, style);
        };
        for (i, cells) in section.rows.iter().enumerate() {
            let style = RowStyle::Body { striped: i % 2 == 1 };
            place(self, &grid.row(cells, style), style);
        }
        if section.rows.is_empty() && section.totals.is_none() {
            place(self, &first, RowStyle::Empty);
        }
        if let Some(totals) = &section.totals {
            place(self, &grid.row(totals, RowStyle::Totals), RowStyle::Totals);
        }
        self.y -= 18.0;
    }

    fn draw_row(&mut self, grid: &Grid, row: &Row, style: RowStyle) {
        let (top, h) = (self.y, row.height);
        let (face, size) = (style.face(), style.size());
        let (x0, x1) = (MARGIN_X, MARGIN_X + grid.width);
        let ops = self.ops();
        match style {
            RowStyle::Header => fill(ops, x0, top, grid.width, h, HEADER_FILL),
            RowStyle::Body { striped: true } => fill(ops, x0, top, grid.width, h, STRIPE_FILL),
            _ => {}
        }
        let color = match style {
            RowStyle::Header => ACCENT,
            RowStyle::Empty => MUTED,
            _ => INK,
        };
        for (i, lines) in row.cells.iter().enumerate() {
            let (x, w) = match style {
                RowStyle::Empty => (x0, CONTENT_W),
                _ => (grid.x[i], grid.w[i]),
            };
            for (k, line) in lines.iter().enumerate() {
                let baseline = top - PAD_Y - size + 1.0 - k as f32 * LINE_H;
                let tx = match grid.align.get(i) {
                    Some(Align::Right) if !matches!(style, RowStyle::Empty) => x + w - PAD_X - face.width(line, size),
                    _ => x + PAD_X,
                };
                text(ops, face, size, color, tx, baseline, line);
            }
        }
        match style {
            RowStyle::Header => rule(ops, x0, x1, top - h, 0.9, ACCENT),
            RowStyle::Totals => {
                rule(ops, x0, x1, top, 0.9, ACCENT);
                rule(ops, x0, x1, top - h, 0.9, ACCENT);
            }
            _ => rule(ops, x0, x1, top - h, 0.4, RULE),
        }
        self.y -= h;
    }
}

/// A stable document id: a hash of everything that goes into the document.
fn fingerprint(report: &Report) -> String {
    let mut h = Sha256::new();
    let mut put = |s: &str| {
        h.update((s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    };
    put(&report.title);
    report.subtitle_lines.iter().for_each(|s| put(s));
    report.footer_lines.iter().for_each(|s| put(s));
    put(&report.created.map(|t| t.to_string()).unwrap_or_default());
    for s in &report.sections {
        put(s.heading.as_deref().unwrap_or("\u{0}"));
        for c in &s.columns {
            put(&format!("{}|{}|{:?}", c.title, c.width_mm, c.align));
        }
        for cell in s.rows.iter().chain(s.totals.iter()).flatten() {
            put(cell);
        }
    }
    h.finalize().iter().take(16).map(|b| format!("{b:02x}")).collect()
}

fn serialize(report: &Report, pages: Vec<PdfPage>) -> Result<Vec<u8>, ReportError> {
    let mut doc = PdfDocument::new(&report.title);
    doc.metadata.info.creator = "cecsync".into();
    doc.metadata.info.producer = "cecd report renderer".into();
    if let Some(created) = report.created {
        let date = printpdf::OffsetDateTime::from_unix_timestamp(created.as_second())
            .map_err(|e| ReportError::Serialize(format!("creation date: {e}")))?;
        let info = &mut doc.metadata.info;
        (info.creation_date, info.modification_date, info.metadata_date) = (date, date, date);
    }
    doc.with_pages(pages);
    let mut lo = doc.to_lopdf_document(&PdfSaveOptions::default(), &mut Vec::new());

    // printpdf fills the trailer /ID from a process-wide counter; make it a function of the input.
    let id = fingerprint(report);
    if let Ok(parts) = lo.trailer.get_mut(b"ID").and_then(|o| o.as_array_mut()) {
        for part in parts {
            if let Ok(bytes) = part.as_str_mut() {
                *bytes = id.clone().into_bytes();
            }
        }
    }
    // Drop Info entries that would be empty or claim things we do not do (PDF/X).
    let info_id = lo.trailer.get(b"Info").and_then(|o| o.as_reference());
    if let Ok(info) = info_id.and_then(|id| lo.get_object_mut(id)?.as_dict_mut()) {
        let mut unused: Vec<&[u8]> =
            vec![b"GTS_PDFXVersion", b"Trapped", b"Identifier", b"Author", b"Subject", b"Keywords"];
        if report.created.is_none() {
            unused.extend([b"CreationDate".as_slice(), b"ModDate".as_slice()]);
        }
        for key in unused {
            info.remove(key);
        }
    }
    lo.compress();
    let mut out = Vec::new();
    lo.save_to(&mut out).map_err(|e| ReportError::Serialize(e.to_string()))?;
    Ok(out)
}

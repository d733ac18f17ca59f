use std::process::Command;

use proptest::prelude::*;

use super::text::{ELLIPSIS, Face, fit, to_win_ansi, wrap};
use super::*;

/// Pages the 120-row transcript takes (title block + 120 rows + totals).
const TRANSCRIPT_PAGES: usize = 6;

fn transcript(rows: usize) -> Report {
    let rows = (0..rows)
        .map(|i| {
            let name = match i % 3 {
                0 => "José Álvarez",
                1 => "Zoë Müller",
                _ => "Łukasz Dvořák",
            };
            vec![
                format!("2025-{:02}-{:02}", i % 12 + 1, i % 28 + 1),
                format!("Course {i:03}: Ethics and professional practice in a changing world"),
                name.to_owned(),
                if i == 0 { "1.25".to_owned() } else { format!("{}.50", i % 4) },
            ]
        })
        .collect();
    Report {
        title: "Continuing Education Transcript".into(),
        subtitle_lines: vec!["Member: Zoë Müller (No. 004217)".into(), "Period: 2025-01-01 to 2025-12-31".into()],
        sections: vec![Section {
            heading: Some("Approved activities".into()),
            columns: vec![
                Column::left("Date", 24.0),
                Column::left("Activity", 80.0),
                Column::left("Provider", 40.0),
                Column::right("Credits", 22.0),
            ],
            rows,
            totals: Some(vec!["".into(), "Total".into(), "".into(), "183.75".into()]),
        }],
        footer_lines: vec!["Issued by cecsync. Credits are as recorded by the issuing association.".into()],
        created: None,
    }
}

fn tool(name: &str) -> bool {
    Command::new(name).arg("-v").output().is_ok()
}

/// Writes `pdf` to a temporary file and runs `tool` on it with `args` before the file name.
fn run_tool(tool: &str, args: &[&str], pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = Command::new(tool)
        .args(args)
        .arg(&path)
        .args(if tool == "pdftotext" { &["-"][..] } else { &[][..] })
        .output()
        .unwrap();
    assert!(out.status.success(), "{tool} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Page objects, counted in the raw file (dictionaries are not compressed, only streams).
fn count_page_objects(pdf: &[u8]) -> usize {
    let text = String::from_utf8_lossy(pdf).replace(char::is_whitespace, "");
    text.matches("/Type/Page").count() - text.matches("/Type/Pages").count()
}

#[test]
fn transcript_pdf_has_text_and_pages() {
    let pdf = render_pdf(&transcript(120)).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    assert_eq!(count_page_objects(&pdf), TRANSCRIPT_PAGES);
    if !tool("pdftotext") || !tool("pdfinfo") {
        eprintln!("poppler-utils not installed: skipped the pdftotext/pdfinfo checks");
        return;
    }
    let info = run_tool("pdfinfo", &[], &pdf);
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|| panic!("no {name} in {info}"))
    };
    assert_eq!(field("Pages:"), TRANSCRIPT_PAGES.to_string());
    assert_eq!(field("Title:"), "Continuing Education Transcript");
    assert_eq!(field("Page size:"), "595.276 x 841.89 pts (A4)");

    let all = run_tool("pdftotext", &[], &pdf);
    assert!(all.contains("Continuing Education Transcript"), "{all}");
    assert!(all.contains("Member: Zoë Müller (No. 004217)"), "{all}");
    assert!(all.contains("José Álvarez"), "{all}");
    // "Ł" and "ř" are not in WinAnsi: they lose their accents instead of becoming '?'.
    assert!(all.contains("Lukasz Dvorák"), "{all}");
    assert!(all.contains("1.25"), "{all}");
    assert!(all.contains("183.75"), "{all}");
    assert!(all.contains(&format!("Page {TRANSCRIPT_PAGES} of {TRANSCRIPT_PAGES}")), "{all}");

    // Page 1 holds rows 0-19, page 2 rows 20-41.
    let page2 = run_tool("pdftotext", &["-f", "2", "-l", "2"], &pdf);
    assert!(page2.contains("Course 030: Ethics"), "{page2}");
    assert!(page2.contains(&format!("Page 2 of {TRANSCRIPT_PAGES}")), "{page2}");
    // The header row and the heading are repeated, the title block is not.
    assert!(page2.contains("Credits"), "{page2}");
    assert!(page2.contains("Approved activities (continued)"), "{page2}");
    assert!(!page2.contains("Period: 2025-01-01"), "{page2}");
    for other in ["1", "3"] {
        let page = run_tool("pdftotext", &["-f", other, "-l", other], &pdf);
        assert!(!page.contains("Course 030"), "page {other}: {page}");
    }
}

#[test]
fn overlong_cells_are_cut_with_an_ellipsis() {
    let mut report = transcript(1);
    let long = format!("Start {} End-of-cell-marker", "word ".repeat(200));
    report.sections[0].rows[0][1] = long;
    report.sections[0].rows[0][3] = "12345678901234567890.25".into();
    let pdf = render_pdf(&report).unwrap();
    assert_eq!(count_page_objects(&pdf), 1);
    if !tool("pdftotext") {
        return;
    }
    let text = run_tool("pdftotext", &[], &pdf);
    assert!(text.contains("Start word"), "{text}");
    assert!(!text.contains("End-of-cell-marker"), "{text}");
    assert!(!text.contains("12345678901234567890.25"), "{text}");
    assert!(text.contains(ELLIPSIS), "{text}");
}

#[test]
fn rendering_is_deterministic() {
    let a = render_pdf(&transcript(40)).unwrap();
    let b = render_pdf(&transcript(40)).unwrap();
    assert!(a == b, "same input rendered to different bytes");
    let mut other = transcript(40);
    other.sections[0].rows[3][3] = "9.75".into();
    assert!(render_pdf(&other).unwrap() != a);

    let mut dated = transcript(1);
    dated.created = Some("2025-06-30T12:00:00Z".parse().unwrap());
    let pdf = render_pdf(&dated).unwrap();
    assert_eq!(pdf, render_pdf(&dated).unwrap());
    let raw = String::from_utf8_lossy(&pdf);
    assert!(raw.contains("D:20250630120000"), "creation date missing");
    assert!(!String::from_utf8_lossy(&a).contains("CreationDate"));
}

#[test]
fn odd_inputs_render() {
    let empty = Report::default();
    assert_eq!(count_page_objects(&render_pdf(&empty).unwrap()), 1);

    let report = Report {
        title: "名前 \u{1F600} Zoë\u{0}\ttab".into(),
        subtitle_lines: vec![String::new(), "Ünïcödé ǅ ﬁnal – “quoted”".into()],
        sections: vec![
            Section {
                heading: Some("No rows".into()),
                columns: vec![Column::left("Only", 1.0), Column::right("Tiny", 0.5)],
                ..Section::default()
            },
            Section::default(),
            Section {
                heading: None,
                columns: vec![Column::left("Wide", 5000.0), Column::right("Wider", 9000.0)],
                rows: vec![vec!["x".into(), "y".into()]],
                totals: Some(vec!["".into(), "".into()]),
            },
        ],
        footer_lines: vec!["line ".repeat(400)],
        created: None,
    };
    let pdf = render_pdf(&report).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
}

#[test]
fn malformed_tables_are_rejected() {
    let mut report = transcript(3);
    report.sections[0].rows[2].pop();
    assert!(matches!(render_pdf(&report), Err(ReportError::RowLength { section: 0, row: 2, expected: 4, found: 3 })));
    let mut report = transcript(3);
    report.sections[0].totals = Some(vec!["1".into()]);
    assert!(matches!(render_pdf(&report), Err(ReportError::TotalsLength { .. })));
    let mut report = transcript(3);
    report.sections[0].columns[1].width_mm = f32::NAN;
    assert!(matches!(render_pdf(&report), Err(ReportError::ColumnWidth { column: 1, .. })));
}

#[test]
fn win_ansi_mapping() {
    assert_eq!(to_win_ansi("Zoë Müller, José"), "Zoë Müller, José");
    assert_eq!(to_win_ansi("Jose\u{301}"), "José"); // decomposed input is composed
    assert_eq!(to_win_ansi("Dvořák Łódź"), "Dvorák Lódz");
    assert_eq!(to_win_ansi("ﬁle – “x” €5"), "file – “x” €5");
    assert_eq!(to_win_ansi("a\nb\r\n\tc\u{0}d\u{AD}e"), "a b   cde");
    assert_eq!(to_win_ansi("王 \u{1F600}"), "? ?");
}

#[test]
fn cutting_and_wrapping() {
    let max = 60.0;
    let cut = fit("A long activity title that cannot fit", Face::Regular, 9.0, max);
    assert!(cut.ends_with(ELLIPSIS));
    assert!(Face::Regular.width(&cut, 9.0) <= max);
    assert_eq!(fit("1.25", Face::Regular, 9.0, max), "1.25");

    let lines = wrap("one two three four five six seven", Face::Regular, 9.0, 40.0, 2);
    assert_eq!(lines.len(), 2);
    assert!(lines[1].ends_with(ELLIPSIS), "{lines:?}");
    assert_eq!(wrap("", Face::Bold, 9.0, 40.0, 3), vec![String::new()]);
    assert_eq!(wrap("a b", Face::Bold, 9.0, 400.0, 3), vec!["a b".to_owned()]);
}

proptest! {
    #[test]
    fn wrapped_lines_fit(s in "\\PC{0,120}", max in 20.0f32..300.0, lines in 1usize..5) {
        let mapped = to_win_ansi(&s);
        prop_assert!(mapped.chars().all(|c| to_win_ansi(&c.to_string()) == c.to_string()));
        let out = wrap(&mapped, Face::Regular, 9.0, max, lines);
        prop_assert!(!out.is_empty() && out.len() <= lines);
        for line in &out {
            prop_assert!(Face::Regular.width(line, 9.0) <= max + 0.01, "{line:?}");
        }
    }
}

#[test]
fn csv_quoting() {
    let section = Section {
        heading: Some("ignored".into()),
        columns: vec![Column::left("Activity, title", 10.0), Column::right("Credits", 10.0)],
        rows: vec![
            vec!["Ethics \"101\"".into(), "1.25".into()],
            vec!["Line one\nline two".into(), "0.50".into()],
            vec!["Zoë, José".into(), "".into()],
        ],
        totals: Some(vec!["Total".into(), "1.75".into()]),
    };
    assert_eq!(
        render_csv(&section),
        "\"Activity, title\",Credits\r\n\
         \"Ethics \"\"101\"\"\",1.25\r\n\
         \"Line one\nline two\",0.50\r\n\
         \"Zoë, José\",\r\n\
         Total,1.75\r\n"
    );
    let empty = Section::default();
    assert_eq!(render_csv(&empty), "\"\"\r\n");
}

#[test]
fn csv_cells_that_look_like_formulas_stay_text() {
    let section = Section {
        heading: None,
        columns: vec![Column::left("Title", 50.0), Column::right("CECs", 10.0)],
        rows: vec![
            vec!["=HYPERLINK(\"http://x\")".into(), "1.25".into()],
            vec!["+1".into(), "0".into()],
            vec!["@SUM(A1)".into(), "2".into()],
            vec!["Ethics".into(), "0.5".into()],
        ],
        totals: None,
    };
    let csv = render_csv(&section);
    assert!(csv.contains("\"'=HYPERLINK(\"\"http://x\"\")\",1.25"), "{csv}");
    assert!(csv.contains("'+1,0"), "{csv}");
    assert!(csv.contains("'@SUM(A1),2"), "{csv}");
    assert!(csv.contains("\r\nEthics,0.5\r\n"), "{csv}");
}

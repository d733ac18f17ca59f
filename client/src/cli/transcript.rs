//! `cec transcript`, and the format choice shared with petition packets.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use jiff::civil::Date;

use cec_client::ReportFormat;
use cec_client::wire::TranscriptJson;

use super::Ctx;
use super::args;
use super::credit::records_lines;
use super::output::{self, cec, dec};

/// A report's file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// JSON, as the API gives it (.json)
    Json,
    /// CSV, one line per record (.csv)
    Csv,
    /// PDF, to print or send (.pdf)
    Pdf,
    /// The table shown on the terminal, as plain text (.txt)
    Text,
}

impl Format {
    /// The format a file name's extension names unambiguously, if any.
    fn of_extension(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "json" => Some(Format::Json),
            "csv" => Some(Format::Csv),
            "pdf" => Some(Format::Pdf),
            "txt" | "text" => Some(Format::Text),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Pdf => "pdf",
            Format::Text => "text",
        }
    }
}

/// What to write: a rendering of the node (JSON, CSV, PDF), or the table for people.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Choice {
    /// The node renders it.
    Report(ReportFormat),
    /// The table shown on the terminal.
    Table,
}

/// How `--format` and `-o` choose, for `--help`.
pub(crate) const FORMAT_HELP: &str = "\
The format is --format, else the extension of the -o file: .pdf, .csv, .json, or .txt (the table \
shown on the terminal, as text). A file with another extension (or none) needs --format; a \
--format that contradicts the file's extension (--format csv -o t.pdf) is refused. Without -o \
(or with -o -) the output goes to stdout: the table, or --format's rendering.";

/// The format to write: `--format`, else the output file's extension; refused (a usage error)
/// when neither names one, or when they contradict each other. Stdout (`-o -` or no `-o`)
/// without `--format` is the table.
pub(crate) fn pick(format: Option<Format>, output: Option<&Path>) -> Result<Choice, String> {
    let file = output.filter(|p| p.as_os_str() != "-");
    let chosen = match (format, file) {
        (Some(f), Some(path)) => match Format::of_extension(path) {
            Some(by_ext) if by_ext != f => {
                return Err(format!(
                    "--format {} contradicts the extension of -o {}: name the file .{}, or drop --format to \
                     write {}",
                    f.name(),
                    path.display(),
                    extension(f),
                    by_ext.name()
                ));
            }
            _ => f,
        },
        (Some(f), None) => f,
        (None, Some(path)) => Format::of_extension(path).ok_or_else(|| {
            format!(
                "cannot tell the format from -o {}: name the file .pdf, .csv, .json or .txt, or pass --format \
                 pdf|csv|json|text",
                path.display()
            )
        })?,
        (None, None) => Format::Text,
    };
    Ok(match chosen {
        Format::Json => Choice::Report(ReportFormat::Json),
        Format::Csv => Choice::Report(ReportFormat::Csv),
        Format::Pdf => Choice::Report(ReportFormat::Pdf),
        Format::Text => Choice::Table,
    })
}

fn extension(f: Format) -> &'static str {
    if f == Format::Text { "txt" } else { f.name() }
}

#[derive(Debug, Args)]
pub(crate) struct TranscriptArgs {
    /// The member id
    member: String,
    /// The file format (default: from the -o file's extension; on stdout, the table)
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Write to this file (- for stdout)
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Only credit from this day on (YYYY-MM-DD)
    #[arg(long, value_name = "DATE", value_parser = args::date)]
    from: Option<Date>,
    /// Only credit up to this day (YYYY-MM-DD)
    #[arg(long, value_name = "DATE", value_parser = args::date)]
    to: Option<Date>,
}

impl TranscriptArgs {
    /// What clap cannot check: the span runs forward, the format is known and agrees with
    /// the file's extension.
    pub(crate) fn check(&self) -> Result<(), String> {
        args::date_span(self.from, self.to)?;
        pick(self.format, self.output.as_deref()).map(|_| ())
    }
}

pub(crate) async fn run(ctx: &Ctx, a: TranscriptArgs) -> anyhow::Result<()> {
    match pick(a.format, a.output.as_deref()).map_err(anyhow::Error::msg)? {
        Choice::Report(f) => {
            let bytes = ctx.client.transcript_bytes(&a.member, f, a.from, a.to).await?;
            output::write_report(a.output.as_deref(), &bytes, f == ReportFormat::Pdf)
        }
        Choice::Table => {
            let t = ctx.client.transcript(&a.member, a.from, a.to).await?;
            match a.output.as_deref().filter(|p| p.as_os_str() != "-") {
                Some(path) => output::write_report(Some(path), &output::text_file(&transcript_lines(&t)), false),
                None => ctx.emit(&t, |t| output::print_lines(&transcript_lines(t))),
            }
        }
    }
}

/// The transcript for people: who, which dates, the records and the totals.
fn transcript_lines(t: &TranscriptJson) -> Vec<String> {
    let name = t.member_name.as_deref().map(|n| format!(" ({n})")).unwrap_or_default();
    let span = match (t.from, t.to) {
        (None, None) => "all dates".to_owned(),
        (Some(f), None) => format!("from {f}"),
        (None, Some(to)) => format!("up to {to}"),
        (Some(f), Some(to)) => format!("{f} to {to}"),
    };
    let mut lines = vec![format!("transcript of {}{name}, {span}", t.member_id)];
    lines.extend(records_lines(&t.records));
    let s = &t.totals;
    lines.push(format!(
        "verified {}, self-reported {}, total {} = {} contact hours = {} CEU",
        cec(s.verified_cecs),
        cec(s.self_reported_cecs),
        cec(s.total_cecs),
        dec(s.contact_hours),
        dec(s.ceus)
    ));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_from_flag_or_extension() {
        let pdf = Choice::Report(ReportFormat::Pdf);
        assert_eq!(pick(None, Some(Path::new("out/T.PDF"))), Ok(pdf));
        assert_eq!(pick(None, Some(Path::new("t.csv"))), Ok(Choice::Report(ReportFormat::Csv)));
        assert_eq!(pick(None, Some(Path::new("t.json"))), Ok(Choice::Report(ReportFormat::Json)));
        assert_eq!(pick(None, Some(Path::new("t.txt"))), Ok(Choice::Table), "a text file holds the table");
        assert_eq!(pick(None, None), Ok(Choice::Table));
        assert_eq!(pick(None, Some(Path::new("-"))), Ok(Choice::Table));
        assert_eq!(pick(Some(Format::Pdf), Some(Path::new("-"))), Ok(pdf));
        assert_eq!(pick(Some(Format::Pdf), Some(Path::new("t.pdf"))), Ok(pdf));
        // An extension that names no format: --format decides, or the user is asked for it.
        assert_eq!(pick(Some(Format::Pdf), Some(Path::new("t.dat"))), Ok(pdf));
        for unknown in ["t.dat", "transcript", "t.html"] {
            let e = pick(None, Some(Path::new(unknown))).unwrap_err();
            assert!(e.contains(".pdf, .csv, .json or .txt") && e.contains("--format"), "{unknown}: {e}");
        }
        // A --format that says otherwise than the file's name is a mistake in one of them.
        let e = pick(Some(Format::Csv), Some(Path::new("x.pdf"))).unwrap_err();
        assert!(e.contains("--format csv contradicts") && e.contains("x.pdf"), "{e}");
    }
}

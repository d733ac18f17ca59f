//! `cec transcript`, and the format choice shared with petition packets.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use jiff::civil::Date;

use cec_client::ReportFormat;

use super::Ctx;
use super::args;
use super::credit::print_records;
use super::output::{self, cec, dec, outln};

/// A report's file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// JSON, as the API gives it
    Json,
    /// CSV, one line per record
    Csv,
    /// PDF, to print or send
    Pdf,
}

impl From<Format> for ReportFormat {
    fn from(f: Format) -> ReportFormat {
        match f {
            Format::Json => ReportFormat::Json,
            Format::Csv => ReportFormat::Csv,
            Format::Pdf => ReportFormat::Pdf,
        }
    }
}

/// The format to fetch: `--format`, else the output file's extension; `None` means a table for
/// people on stdout.
pub(crate) fn pick(format: Option<Format>, output: Option<&Path>) -> Option<ReportFormat> {
    if let Some(f) = format {
        return Some(f.into());
    }
    let ext = output?.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "pdf" => Some(ReportFormat::Pdf),
        "csv" => Some(ReportFormat::Csv),
        _ => Some(ReportFormat::Json),
    }
}

#[derive(Debug, Args)]
pub(crate) struct TranscriptArgs {
    /// The member id
    member: String,
    /// json, csv or pdf (default: from the -o file's extension, else a table)
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
    /// What clap cannot check: the span runs forward.
    pub(crate) fn check(&self) -> Result<(), String> {
        args::date_span(self.from, self.to)
    }
}

pub(crate) async fn run(ctx: &Ctx, a: TranscriptArgs) -> anyhow::Result<()> {
    match pick(a.format, a.output.as_deref()) {
        Some(f) => {
            let bytes = ctx.client.transcript_bytes(&a.member, f, a.from, a.to).await?;
            output::write_report(a.output.as_deref(), &bytes, f == ReportFormat::Pdf)
        }
        None => {
            let t = ctx.client.transcript(&a.member, a.from, a.to).await?;
            ctx.emit(&t, |t| {
                let name = t.member_name.as_deref().map(|n| format!(" ({n})")).unwrap_or_default();
                let span = match (t.from, t.to) {
                    (None, None) => "all dates".to_owned(),
                    (Some(f), None) => format!("from {f}"),
                    (None, Some(to)) => format!("up to {to}"),
                    (Some(f), Some(to)) => format!("{f} to {to}"),
                };
                outln!("transcript of {}{name}, {span}", t.member_id);
                print_records(&t.records)?;
                let s = &t.totals;
                outln!(
                    "verified {}, self-reported {}, total {} = {} contact hours = {} CEU",
                    cec(s.verified_cecs),
                    cec(s.self_reported_cecs),
                    cec(s.total_cecs),
                    dec(s.contact_hours),
                    dec(s.ceus)
                );
                Ok(())
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_from_flag_or_extension() {
        assert_eq!(pick(Some(Format::Csv), Some(Path::new("x.pdf"))), Some(ReportFormat::Csv));
        assert_eq!(pick(None, Some(Path::new("out/T.PDF"))), Some(ReportFormat::Pdf));
        assert_eq!(pick(None, Some(Path::new("t.csv"))), Some(ReportFormat::Csv));
        assert_eq!(pick(None, Some(Path::new("t.json"))), Some(ReportFormat::Json));
        assert_eq!(pick(None, None), None);
    }
}

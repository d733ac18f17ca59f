//! Printing: the API's JSON with `--json`, tables and lines for people otherwise.

use std::io::{IsTerminal, Write};
use std::path::Path;

use anyhow::Context as _;
use comfy_table::{ContentArrangement, Table, presets};
use rust_decimal::Decimal;
use serde::Serialize;

/// `println!` that returns write errors (a closed pipe ends the program quietly, not in a panic).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)?
    }};
}
pub(crate) use outln;

/// Pretty JSON on stdout.
pub(crate) fn json<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Credit as given: `1.25 CEC`.
pub(crate) fn cec(d: Decimal) -> String {
    format!("{} CEC", d.normalize())
}

/// An instant to the second, as a person reads it at the door (`2026-04-16T09:10:07Z`); the
/// node keeps it exact, and `--json` shows it so.
pub(crate) fn instant(t: jiff::Timestamp) -> String {
    jiff::Timestamp::from_second(t.as_second()).unwrap_or(t).to_string()
}

/// An instant on the event's clocks, to the second, with the zone's abbreviation
/// (`2026-05-01 09:00:00 CDT`), as people at the event read it; UTC ([`instant`]) when the
/// zone is UTC or unknown to this machine. `--json` keeps the node's UTC.
pub(crate) fn event_time(t: jiff::Timestamp, timezone: &str) -> String {
    let whole = jiff::Timestamp::from_second(t.as_second()).unwrap_or(t);
    match whole.in_tz(timezone) {
        Ok(zoned) if timezone != "UTC" => zoned.strftime("%Y-%m-%d %H:%M:%S %Z").to_string(),
        _ => instant(t),
    }
}

/// [`event_time`] and, when that is not UTC, the instant in UTC after it in parentheses (as
/// the node and `--json` give it).
pub(crate) fn event_time_and_utc(t: jiff::Timestamp, timezone: &str) -> String {
    let local = event_time(t, timezone);
    let utc = instant(t);
    if local == utc { utc } else { format!("{local} ({utc})") }
}

/// A decimal without trailing zeros.
pub(crate) fn dec(d: Decimal) -> String {
    d.normalize().to_string()
}

/// An optional text, `-` when absent.
pub(crate) fn opt(s: Option<&str>) -> &str {
    s.filter(|s| !s.is_empty()).unwrap_or("-")
}

/// `yes` or `no`.
pub(crate) fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// A table with these column headers.
pub(crate) fn table(headers: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::NOTHING).set_content_arrangement(ContentArrangement::Dynamic);
    t.set_header(headers.iter().map(|h| h.to_uppercase()).collect::<Vec<_>>());
    for c in t.column_iter_mut() {
        c.set_padding((0, 2));
    }
    t
}

/// Prints a table, or `empty` when it has no rows.
pub(crate) fn print_table(t: &Table, empty: &str) -> anyhow::Result<()> {
    for line in table_lines(t, empty) {
        outln!("{line}");
    }
    Ok(())
}

/// A table's lines as [`print_table`] prints them (for a text file).
pub(crate) fn table_lines(t: &Table, empty: &str) -> Vec<String> {
    if t.row_count() == 0 { vec![empty.to_owned()] } else { t.lines().map(|line| line.trim_end().to_owned()).collect() }
}

/// Prints lines made for people.
pub(crate) fn print_lines(lines: &[String]) -> anyhow::Result<()> {
    for line in lines {
        outln!("{line}");
    }
    Ok(())
}

/// Lines made for people as the contents of a text file.
pub(crate) fn text_file(lines: &[String]) -> Vec<u8> {
    let mut text = lines.join("\n");
    text.push('\n');
    text.into_bytes()
}

/// A warning for people, on stderr.
pub(crate) fn warn(msg: &str) {
    eprintln!("warning: {msg}");
}

/// Writes a report to `path`, or to stdout without one (refusing to dump a PDF on a terminal).
pub(crate) fn write_report(path: Option<&Path>, bytes: &[u8], is_pdf: bool) -> anyhow::Result<()> {
    match path.filter(|p| p.as_os_str() != "-") {
        Some(p) => {
            std::fs::write(p, bytes).with_context(|| format!("cannot write {}", p.display()))?;
            eprintln!("wrote {} ({} bytes)", p.display(), bytes.len());
        }
        None => {
            let mut out = std::io::stdout().lock();
            if is_pdf && out.is_terminal() {
                anyhow::bail!("refusing to write a PDF to the terminal: pass -o FILE");
            }
            out.write_all(bytes)?;
            out.flush()?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    #[test]
    fn instants_are_shown_to_the_second() {
        let t: jiff::Timestamp = "2026-12-04T16:26:11.935511456Z".parse().unwrap();
        assert_eq!(instant(t), "2026-12-04T16:26:11Z");
        let whole: jiff::Timestamp = "2026-04-16T09:10:00Z".parse().unwrap();
        assert_eq!(instant(whole), "2026-04-16T09:10:00Z");
    }

    #[test]
    fn event_times_are_on_the_event_clocks() {
        let t: jiff::Timestamp = "2026-05-01T14:00:00.5Z".parse().unwrap();
        assert_eq!(event_time(t, "America/Chicago"), "2026-05-01 09:00:00 CDT");
        assert_eq!(event_time_and_utc(t, "America/Chicago"), "2026-05-01 09:00:00 CDT (2026-05-01T14:00:00Z)");
        let winter: jiff::Timestamp = "2026-01-10T15:00:00Z".parse().unwrap();
        assert_eq!(event_time(winter, "America/Chicago"), "2026-01-10 09:00:00 CST");
        assert_eq!(event_time_and_utc(t, "UTC"), "2026-05-01T14:00:00Z");
        assert_eq!(event_time(t, "Mars/Olympus"), "2026-05-01T14:00:00Z", "a zone this machine lacks: UTC");
    }

    #[test]
    fn credit_is_shown_as_given() {
        assert_eq!(cec(dec!(1.25)), "1.25 CEC");
        assert_eq!(cec(dec!(2.00)), "2 CEC");
        assert_eq!(cec(dec!(0)), "0 CEC");
        assert_eq!(dec(dec!(0.500)), "0.5");
    }
}

//! Parsers of argument values: credit, segments, dates and times, benchmarks, minimums.
//!
//! Credit is parsed into `rust_decimal::Decimal` from a plain decimal string and sent as one:
//! no float ever holds it, and `1e3` is refused.

use std::str::FromStr;

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use rust_decimal::Decimal;

use cec_client::wire::{BenchmarkJson, SegmentJson};

/// A non-negative decimal number of CECs: digits, optionally a point and more digits (`1.25`).
pub(crate) fn cecs(s: &str) -> Result<Decimal, String> {
    let t = s.trim();
    let bad = || format!("{s:?} is not a number of CECs; write a plain decimal like 1.25");
    let (int, frac) = match t.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (t, None),
    };
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || frac.is_some_and(|f| !digits(f)) {
        return Err(bad());
    }
    Decimal::from_str(t).map_err(|_| bad())
}

/// A segment `KIND:MINUTES`, e.g. `instruction:60`, or `KIND MINUTES` as the docs, the
/// organizer page and `cec session` itself write it (`meal 30, keynote 30, meal 30`).
pub(crate) fn segment(s: &str) -> Result<SegmentJson, String> {
    let (kind, minutes) = s
        .split_once(':')
        .or_else(|| s.trim().split_once(char::is_whitespace))
        .ok_or_else(|| format!("{s:?} is not KIND:MINUTES (for example instruction:60)"))?;
    let kind = kind.trim();
    if kind.is_empty() || !kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
        return Err(format!("{kind:?} is not a segment kind (instruction, keynote, practice, meal, break, ...)"));
    }
    let minutes: u32 = minutes
        .trim()
        .parse()
        .ok()
        .filter(|m| *m > 0)
        .ok_or_else(|| format!("{:?} is not a whole number of minutes above 0", minutes.trim()))?;
    Ok(SegmentJson { kind: kind.to_owned(), minutes })
}

/// A day, `YYYY-MM-DD`.
pub(crate) fn date(s: &str) -> Result<Date, String> {
    Date::from_str(s.trim()).map_err(|_| format!("{s:?} is not a date like 2026-06-30"))
}

/// `--from` and `--to` in order: a span that ends before it starts matches nothing, which is
/// a typing slip (the two swapped), not a question worth answering with an empty report.
pub(crate) fn date_span(from: Option<Date>, to: Option<Date>) -> Result<(), String> {
    match (from, to) {
        (Some(f), Some(t)) if f > t => Err(format!("--from {f} is after --to {t}: the span would hold no day")),
        _ => Ok(()),
    }
}

/// An exact instant with its offset, e.g. `2027-06-01T00:00:00Z` (an expiry belongs to no
/// event, so there is no time zone to read a local time in).
pub(crate) fn instant(s: &str) -> Result<Timestamp, String> {
    Timestamp::from_str(s.trim())
        .map_err(|_| format!("{s:?} is not an instant: write it with its offset, like 2027-06-01T00:00:00Z"))
}

/// An expiry: an instant with its offset, or a date meaning 00:00 UTC that day
/// (`2027-06-01` is `2027-06-01T00:00:00Z`).
pub(crate) fn expiry(s: &str) -> Result<Timestamp, String> {
    // jiff reads a date out of a longer datetime too: only a bare date is a date here.
    if s.trim().len() == 10
        && let Ok(d) = Date::from_str(s.trim())
    {
        return d
            .to_datetime(jiff::civil::Time::midnight())
            .to_zoned_datetime(TimeZone::UTC)
            .map(|z| z.timestamp())
            .map_err(|e| format!("{s:?}: {e}"));
    }
    Timestamp::from_str(s.trim())
        .map_err(|_| format!("{s:?} is not a date or an instant: write 2027-06-01 (00:00 UTC) or 2027-06-01T00:00:00Z"))
}

/// An instant as typed: with an offset (`2026-05-01T09:00:00Z`, `...-05:00`), or a local time
/// (`2026-05-01T09:00`, `2026-05-01 09:00`) read in the event's time zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum When {
    /// An exact instant.
    Instant(Timestamp),
    /// A wall-clock time in the event's time zone.
    Local(DateTime),
}

/// Parses a [`When`].
pub(crate) fn when(s: &str) -> Result<When, String> {
    let t = s.trim();
    // jiff reads a bare date as its midnight: a scan or a session start typed without its time
    // of day would land at 00:00 without a word.
    if t.len() == 10 && Date::from_str(t).is_ok() {
        return Err(format!("{s:?} has no time of day: write {t}T09:00 (the event's time zone) or {t}T09:00:00-05:00"));
    }
    if let Ok(ts) = Timestamp::from_str(t) {
        return Ok(When::Instant(ts));
    }
    DateTime::from_str(t).map(When::Local).map_err(|_| {
        format!("{s:?} is not a time: write 2026-05-01T09:00 (the event's time zone) or 2026-05-01T09:00:00-05:00")
    })
}

impl When {
    /// The instant, reading a local time in the IANA zone `tz`.
    pub(crate) fn resolve(self, tz: &str) -> Result<Timestamp, String> {
        match self {
            When::Instant(ts) => Ok(ts),
            When::Local(dt) => {
                let zone = TimeZone::get(tz).map_err(|e| format!("time zone {tz:?}: {e}"))?;
                dt.to_zoned_datetime(zone).map(|z| z.timestamp()).map_err(|e| format!("{dt} in {tz}: {e}"))
            }
        }
    }

    /// Whether reading it needs the event's time zone.
    pub(crate) fn is_local(self) -> bool {
        matches!(self, When::Local(_))
    }
}

/// A benchmark `DATE:CECS[:TITLE]`, e.g. `2026-03-31:6:halfway`.
pub(crate) fn benchmark(s: &str) -> Result<BenchmarkJson, String> {
    let mut parts = s.splitn(3, ':');
    let (Some(due), Some(target)) = (parts.next(), parts.next()) else {
        return Err(format!("{s:?} is not DATE:CECS[:TITLE] (for example 2026-03-31:6:halfway)"));
    };
    let due = date(due)?;
    let target_cecs = cecs(target)?;
    let title =
        parts.next().map(str::trim).filter(|t| !t.is_empty()).map_or_else(|| format!("by {due}"), str::to_owned);
    Ok(BenchmarkJson { title, target_cecs, due })
}

/// A category minimum `CATEGORY:CECS`, e.g. `ethics:3`.
pub(crate) fn minimum(s: &str) -> Result<(String, Decimal), String> {
    let (cat, amount) =
        s.split_once(':').ok_or_else(|| format!("{s:?} is not CATEGORY:CECS (for example ethics:3)"))?;
    let cat = cat.trim();
    if cat.is_empty() {
        return Err(format!("{s:?} has no category"));
    }
    Ok((cat.to_owned(), cecs(amount)?))
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    #[test]
    fn cecs_are_plain_decimals() {
        assert_eq!(cecs("1.25"), Ok(dec!(1.25)));
        assert_eq!(cecs(" 6 "), Ok(dec!(6)));
        assert_eq!(cecs("0.50").map(|d| d.normalize().to_string()), Ok("0.5".into()));
        for bad in ["1e3", "1E3", "abc", "", "-1", "+1", ".5", "1.", "1.2.3", "NaN", "inf", "1,5", "0x10", "1 5"] {
            assert!(cecs(bad).is_err(), "{bad:?} must be refused");
        }
        assert!(cecs("99999999999999999999999999999999").is_err(), "too many digits");
        assert!(cecs("1e3").unwrap_err().contains("plain decimal"));
    }

    #[test]
    fn segments() {
        assert_eq!(segment("instruction:60"), Ok(SegmentJson { kind: "instruction".into(), minutes: 60 }));
        assert_eq!(segment("open_forum: 90"), Ok(SegmentJson { kind: "open_forum".into(), minutes: 90 }));
        // As docs/users.md and `cec session add`'s own output write segments.
        assert_eq!(segment(" meal 30"), Ok(SegmentJson { kind: "meal".into(), minutes: 30 }));
        assert_eq!(segment("keynote  30 "), Ok(SegmentJson { kind: "keynote".into(), minutes: 30 }));
        for bad in [
            "instruction",
            "instruction:",
            ":60",
            "instruction:0",
            "instruction:-5",
            "instruction:1.5",
            "Meal:30",
            "meal 30 min",
            "meal thirty",
            "30 meal",
        ] {
            assert!(segment(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn times_with_offsets_and_local_times() {
        let w = when("2026-05-01T09:00:00-05:00").unwrap();
        assert!(!w.is_local());
        assert_eq!(w.resolve("Europe/Paris").unwrap().to_string(), "2026-05-01T14:00:00Z");
        let w = when("2026-05-01T09:00").unwrap();
        assert!(w.is_local());
        assert_eq!(w.resolve("America/Chicago").unwrap().to_string(), "2026-05-01T14:00:00Z");
        assert_eq!(when("2026-05-01 09:00").unwrap(), w);
        assert!(w.resolve("Not/A_Zone").is_err());
        assert!(when("tomorrow").is_err());
        assert!(when("2026-13-01T09:00").is_err());
        let e = when("2026-05-01").unwrap_err();
        assert!(e.contains("no time of day") && e.contains("2026-05-01T09:00"), "{e}");
    }

    #[test]
    fn instants_need_an_offset() {
        assert_eq!(instant("2027-06-01T00:00:00Z").unwrap().to_string(), "2027-06-01T00:00:00Z");
        assert_eq!(instant("2027-06-01T02:00:00+02:00").unwrap().to_string(), "2027-06-01T00:00:00Z");
        assert!(instant("2027-06-01T00:00").is_err());
        assert!(instant("2027-06-01").is_err());
    }

    #[test]
    fn expiries_take_a_date_or_an_instant() {
        assert_eq!(expiry("2027-06-01").unwrap().to_string(), "2027-06-01T00:00:00Z");
        assert_eq!(expiry("2027-06-01T02:00:00+02:00").unwrap().to_string(), "2027-06-01T00:00:00Z");
        assert!(expiry("2027-06-01T00:00").is_err());
        assert_eq!(expiry("2027-06-01T12:30:00Z").unwrap().to_string(), "2027-06-01T12:30:00Z");
        assert!(expiry("June").unwrap_err().contains("2027-06-01"));
    }

    #[test]
    fn dates() {
        assert_eq!(date("2026-06-30").unwrap().to_string(), "2026-06-30");
        assert!(date("30/06/2026").is_err());
    }

    #[test]
    fn date_spans_run_forward() {
        let d = |s: &str| Some(date(s).unwrap());
        assert!(date_span(d("2026-01-01"), d("2026-12-31")).is_ok());
        assert!(date_span(d("2026-01-01"), d("2026-01-01")).is_ok(), "one day");
        assert!(date_span(d("2026-01-01"), None).is_ok());
        assert!(date_span(None, d("2026-01-01")).is_ok());
        let e = date_span(d("2026-12-31"), d("2026-01-01")).unwrap_err();
        assert!(e.contains("--from 2026-12-31 is after --to 2026-01-01"), "{e}");
    }

    #[test]
    fn benchmarks_and_minimums() {
        let b = benchmark("2026-03-31:6:halfway: spring").unwrap();
        assert_eq!(
            (b.title.as_str(), b.target_cecs, b.due.to_string()),
            ("halfway: spring", dec!(6), "2026-03-31".into())
        );
        assert_eq!(benchmark("2026-03-31:6").unwrap().title, "by 2026-03-31");
        assert!(benchmark("2026-03-31").is_err());
        assert!(benchmark("2026-03-31:1e3").is_err());
        assert_eq!(minimum("ethics:3"), Ok(("ethics".into(), dec!(3))));
        assert!(minimum(":3").is_err());
        assert!(minimum("ethics:abc").is_err());
    }
}

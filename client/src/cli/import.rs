//! Reading CSV files: a kiosk's buffered scans (`checkin import`) and rosters (`roster add --file`).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Read;
use std::str::FromStr;

use jiff::Timestamp;
use sha2::{Digest, Sha256};

use cec_client::wire::{NewCheckIn, RosterMemberJson};

/// The most bad rows listed in one error.
const MAX_LISTED: usize = 10;

/// Reads check-ins from CSV with the header `event_id,session_id,member_id,direction,at` (any
/// order; optional `id` and `method` columns). `at` is RFC 3339 with an offset. A row without
/// an `id` gets one derived from its content, so importing the same file twice stores nothing
/// new. Every bad row is reported, and then nothing is imported.
pub(crate) fn checkins(input: impl Read) -> Result<Vec<NewCheckIn>, String> {
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).flexible(false).from_reader(input);
    let cols = Columns::new(
        reader.headers().map_err(|e| format!("cannot read the header: {e}"))?,
        &["event_id", "session_id", "member_id", "direction", "at"],
        &["id", "method"],
    )?;
    let mut out = Vec::new();
    let mut bad = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let row = match record {
            Ok(r) => r,
            Err(e) => {
                bad.push(format!("line {line}: {e}"));
                continue;
            }
        };
        match checkin_row(&cols, &row) {
            Ok(c) => out.push(c),
            Err(e) => bad.push(format!("line {line}: {e}")),
        }
    }
    finish(out, bad)
}

fn checkin_row(cols: &Columns, row: &csv::StringRecord) -> Result<NewCheckIn, String> {
    let req = |name: &str| cols.get(row, name).filter(|v| !v.is_empty()).ok_or_else(|| format!("{name} is empty"));
    let (event_id, session_id, member_id) = (req("event_id")?, req("session_id")?, req("member_id")?);
    let direction = req("direction")?.to_ascii_lowercase();
    if direction != "in" && direction != "out" {
        return Err(format!("direction {direction:?} is neither in nor out"));
    }
    let at_raw = req("at")?;
    let at = Timestamp::from_str(at_raw)
        .map_err(|_| format!("at {at_raw:?} is not an RFC 3339 time like 2026-05-01T09:02:11Z"))?;
    let method = cols.get(row, "method").filter(|v| !v.is_empty()).map(str::to_owned);
    let id = match cols.get(row, "id").filter(|v| !v.is_empty()) {
        Some(id) => id.to_owned(),
        None => content_id(&[event_id, session_id, member_id, &direction, &at.to_string()]),
    };
    Ok(NewCheckIn {
        id: Some(id),
        event_id: event_id.to_owned(),
        session_id: session_id.to_owned(),
        member_id: member_id.to_owned(),
        direction,
        at: Some(at),
        method,
    })
}

/// `csv-` and 32 hex digits of the SHA-256 of the fields: the same scan always gets the same id.
pub(crate) fn content_id(fields: &[&str]) -> String {
    let mut h = Sha256::new();
    for f in fields {
        h.update(f.as_bytes());
        h.update([0x1f]);
    }
    let mut id = String::from("csv-");
    for b in &h.finalize()[..16] {
        let _ = write!(id, "{b:02x}");
    }
    id
}

/// Header names a roster's columns go by, as the organizer page reads them (`organize.js`), so
/// a file the page takes, `cec roster add --file` takes too.
const ID_COLUMNS: &[&str] =
    &["member_id", "memberid", "member", "member_number", "member_no", "membership_number", "id", "badge", "badge_id"];
const NAME_COLUMNS: &[&str] = &["name", "full_name", "member_name", "fullname"];
const FIRST_NAME_COLUMNS: &[&str] = &["first_name", "firstname", "given_name", "first"];
const LAST_NAME_COLUMNS: &[&str] = &["last_name", "lastname", "surname", "family_name", "last"];
const EMAIL_COLUMNS: &[&str] = &["email", "e_mail", "email_address", "mail"];

/// A header cell as compared: without a byte-order mark, trimmed, lowercase, each run of
/// spaces, `-` and `.` as one `_` (`Member ID` is `member_id`).
fn header_key(h: &str) -> String {
    let mut key = String::new();
    let mut gap = false;
    for c in h.trim_start_matches('\u{feff}').trim().to_lowercase().chars() {
        if c.is_whitespace() || c == '-' || c == '.' {
            if !gap {
                key.push('_');
            }
            gap = true;
        } else {
            key.push(c);
            gap = false;
        }
    }
    key
}

/// An id the API takes: 1-128 of letters, digits, `.`, `_`, `:`, `-`.
fn is_id(s: &str) -> bool {
    (1..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
}

/// Reads a roster from CSV, as the organizer page does: a member id column (`member_id`, or
/// `member number`, `badge`, ...) and a name (`name`, or `first_name` and `last_name`),
/// optionally `email`; separated by commas, or by semicolons or tabs when the header has no
/// comma. Every bad row is reported (an id the API would refuse, a member twice), and then
/// nothing is imported.
pub(crate) fn roster(mut input: impl Read) -> Result<Vec<RosterMemberJson>, String> {
    let mut text = Vec::new();
    input.read_to_end(&mut text).map_err(|e| format!("cannot read it: {e}"))?;
    let first_line = text.split(|b| *b == b'\n').next().unwrap_or_default();
    let delimiter = match (first_line.contains(&b','), first_line.contains(&b';'), first_line.contains(&b'\t')) {
        (false, true, _) => b';',
        (false, false, true) => b'\t',
        _ => b',',
    };
    let mut reader =
        csv::ReaderBuilder::new().delimiter(delimiter).trim(csv::Trim::All).flexible(true).from_reader(text.as_slice());
    let raw = reader.headers().map_err(|e| format!("cannot read the header: {e}"))?.clone();
    let keys: Vec<String> = raw.iter().map(header_key).collect();
    if keys.iter().all(String::is_empty) {
        return Err("the file is empty: it needs a header row such as member_id,name".into());
    }
    let col = |names: &[&str]| names.iter().find_map(|n| keys.iter().position(|k| k == n));
    let (id_col, name_col, email_col) = (col(ID_COLUMNS), col(NAME_COLUMNS), col(EMAIL_COLUMNS));
    let (first_col, last_col) = (col(FIRST_NAME_COLUMNS), col(LAST_NAME_COLUMNS));
    let mut missing = Vec::new();
    if id_col.is_none() {
        missing.push("a member id column (member_id)");
    }
    if name_col.is_none() && (first_col.is_none() || last_col.is_none()) {
        missing.push("a name column (name, or first_name and last_name)");
    }
    if !missing.is_empty() {
        let has: Vec<String> = raw.iter().map(|h| format!("{:?}", h.trim_start_matches('\u{feff}'))).collect();
        return Err(format!("the header needs {}; it has {}", missing.join(" and "), has.join(", ")));
    }
    let mut out = Vec::new();
    let mut bad = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    for (i, record) in reader.records().enumerate() {
        let row = match record {
            Ok(r) => r,
            Err(e) => {
                bad.push(format!("line {}: {e}", i + 2));
                continue;
            }
        };
        if row.iter().all(str::is_empty) {
            continue;
        }
        let line = row.position().map_or(i as u64 + 2, csv::Position::line);
        let cell = |c: Option<usize>| c.and_then(|i| row.get(i)).unwrap_or_default();
        let name = match cell(name_col) {
            "" => format!("{} {}", cell(first_col), cell(last_col)),
            n => n.to_owned(),
        };
        let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
        let member_id = cell(id_col);
        let why = if member_id.is_empty() {
            Some("no member id".to_owned())
        } else if !is_id(member_id) {
            let shown: String = member_id.chars().take(40).collect();
            Some(format!("member id {shown:?} may hold only letters, digits, '.', '_', ':' and '-' (at most 128)"))
        } else if name.is_empty() {
            Some(format!("no name for {member_id}"))
        } else {
            seen.get(member_id).map(|first| format!("{member_id} is already on line {first}"))
        };
        if let Some(why) = why {
            bad.push(format!("line {line}: {why}"));
            continue;
        }
        seen.insert(member_id.to_owned(), line);
        let email = Some(cell(email_col)).filter(|e| !e.is_empty()).map(str::to_owned);
        out.push(RosterMemberJson { member_id: member_id.to_owned(), name, email });
    }
    finish(out, bad)
}

fn finish<T>(out: Vec<T>, bad: Vec<String>) -> Result<Vec<T>, String> {
    if bad.is_empty() {
        return Ok(out);
    }
    let mut msg = format!("{} bad row(s), nothing imported:", bad.len());
    for b in bad.iter().take(MAX_LISTED) {
        msg.push_str("\n  ");
        msg.push_str(b);
    }
    if bad.len() > MAX_LISTED {
        let _ = write!(msg, "\n  ... and {} more", bad.len() - MAX_LISTED);
    }
    Err(msg)
}

/// Column positions by header name.
struct Columns(HashMap<String, usize>);

impl Columns {
    fn new(header: &csv::StringRecord, required: &[&str], optional: &[&str]) -> Result<Columns, String> {
        let map: HashMap<String, usize> =
            header.iter().enumerate().map(|(i, h)| (h.trim().to_ascii_lowercase(), i)).collect();
        let missing: Vec<&str> = required.iter().copied().filter(|c| !map.contains_key(*c)).collect();
        if !missing.is_empty() {
            return Err(format!(
                "the header lacks {}; expected columns {} (optional: {})",
                missing.join(", "),
                required.join(","),
                optional.join(",")
            ));
        }
        Ok(Columns(map))
    }

    fn get<'r>(&self, row: &'r csv::StringRecord, name: &str) -> Option<&'r str> {
        self.0.get(name).and_then(|i| row.get(*i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCANS: &str = "event_id,session_id,member_id,direction,at
E1,S1,M1,in,2026-05-01T09:02:11Z
E1,S1,M2,IN,2026-05-01T10:02:11+01:00
E1,S1,M1,out,2026-05-01T10:15:00Z
";

    #[test]
    fn reads_buffered_scans() {
        let rows = checkins(SCANS.as_bytes()).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].event_id, "E1");
        assert_eq!(rows[0].member_id, "M1");
        assert_eq!(rows[1].direction, "in");
        assert_eq!(rows[1].at.unwrap().to_string(), "2026-05-01T09:02:11Z");
        assert_eq!(rows[2].direction, "out");
        assert!(rows.iter().all(|r| r.method.is_none()));
        let ids: Vec<_> = rows.iter().map(|r| r.id.clone().unwrap()).collect();
        assert!(ids.iter().all(|id| id.starts_with("csv-") && id.len() == 36));
        assert_ne!(ids[0], ids[2]);
        assert_eq!(checkins(SCANS.as_bytes()).unwrap()[0].id, rows[0].id, "ids are stable across imports");
    }

    #[test]
    fn same_scan_written_differently_has_the_same_id() {
        let a = "event_id,session_id,member_id,direction,at\nE1,S1,M1,in,2026-05-01T09:00:00Z\n";
        let b = "at,direction,member_id,session_id,event_id\n2026-05-01T10:00:00+01:00,In,M1,S1,E1\n";
        assert_eq!(checkins(a.as_bytes()).unwrap()[0].id, checkins(b.as_bytes()).unwrap()[0].id);
    }

    #[test]
    fn keeps_given_ids_and_methods() {
        let csv = "id,event_id,session_id,member_id,direction,at,method\nK1-0001,E1,S1,M1,in,2026-05-01T09:00:00Z,qr\n";
        let rows = checkins(csv.as_bytes()).unwrap();
        assert_eq!(rows[0].id.as_deref(), Some("K1-0001"));
        assert_eq!(rows[0].method.as_deref(), Some("qr"));
    }

    #[test]
    fn refuses_a_missing_column() {
        let e = checkins("event_id,session_id,member_id,at\nE1,S1,M1,2026-05-01T09:00:00Z\n".as_bytes()).unwrap_err();
        assert!(e.contains("lacks direction"), "{e}");
    }

    #[test]
    fn lists_every_bad_row_and_imports_nothing() {
        let csv = "event_id,session_id,member_id,direction,at
E1,S1,M1,in,2026-05-01T09:00:00Z
E1,S1,M2,sideways,2026-05-01T09:00:00Z
E1,S1,,in,2026-05-01T09:00:00Z
E1,S1,M3,in,yesterday
E1,S1,M3,in
";
        let e = checkins(csv.as_bytes()).unwrap_err();
        assert!(e.starts_with("4 bad row(s)"), "{e}");
        assert!(e.contains("line 3: direction \"sideways\""), "{e}");
        assert!(e.contains("line 4: member_id is empty"), "{e}");
        assert!(e.contains("line 5: at \"yesterday\""), "{e}");
        assert!(e.contains("line 6:"), "{e}");
    }

    #[test]
    fn an_empty_file_is_an_error_and_a_header_only_file_is_empty() {
        assert!(checkins("".as_bytes()).is_err());
        assert!(checkins("event_id,session_id,member_id,direction,at\n".as_bytes()).unwrap().is_empty());
    }

    #[test]
    fn reads_rosters() {
        let csv = "member_id,name,email\nM1,Ann Lee,ann@example.org\nM2,\"Bo, Jr.\",\n";
        let r = roster(csv.as_bytes()).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].email.as_deref(), Some("ann@example.org"));
        assert_eq!((r[1].name.as_str(), r[1].email.as_deref()), ("Bo, Jr.", None));
        assert!(roster("member_id\nM1\n".as_bytes()).is_err());
        assert!(roster("member_id,name\nM1,\n".as_bytes()).unwrap_err().contains("line 2"));
    }

    #[test]
    fn reads_the_rosters_the_organizer_page_reads() {
        // First and last names, a spreadsheet's header words, its byte-order mark.
        let csv = "\u{feff}Member Number,First Name,Last Name,E-mail\nM1,Ann,Lee,ann@example.org\nM2,Bo,,\n";
        let r = roster(csv.as_bytes()).unwrap();
        let got: Vec<_> = r.iter().map(|m| (m.member_id.as_str(), m.name.as_str(), m.email.as_deref())).collect();
        assert_eq!(got, [("M1", "Ann Lee", Some("ann@example.org")), ("M2", "Bo", None)]);
        // Semicolons (a spreadsheet in a comma-decimal locale), tabs; blank rows skipped.
        let r = roster("member_id;name\nM1;Lee, Ann\n\n;\nM2;Bo\n".as_bytes()).unwrap();
        assert_eq!((r.len(), r[0].name.as_str()), (2, "Lee, Ann"));
        assert_eq!(roster("member_id\tname\nM1\tAnn Lee\n".as_bytes()).unwrap()[0].name, "Ann Lee");
    }

    #[test]
    fn a_roster_refuses_what_the_node_would_refuse_before_sending_anything() {
        let csv = "member_id,name\nM 1,Ann\nM2,Bo\nM2,Bo again\n,Cy\nM3,\n";
        let e = roster(csv.as_bytes()).unwrap_err();
        assert!(e.starts_with("4 bad row(s), nothing imported"), "{e}");
        assert!(e.contains("line 2: member id \"M 1\" may hold only"), "{e}");
        assert!(e.contains("line 4: M2 is already on line 3"), "{e}");
        assert!(e.contains("line 5: no member id"), "{e}");
        assert!(e.contains("line 6: no name for M3"), "{e}");
        let e = roster("first_name,member_id\nAnn,M1\n".as_bytes()).unwrap_err();
        assert!(e.contains("a name column (name, or first_name and last_name)"), "{e}");
        assert!(roster("".as_bytes()).unwrap_err().contains("empty"));
    }
}

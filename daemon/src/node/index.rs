//! Index tables derived from documents by the projections (`projection.rs`), never by hand:
//! - check-ins, from attendance documents, for queries across sessions (a member's check-ins,
//!   a session's check-ins, pagination);
//! - portfolio entries, from portfolio documents, for paginated listings by date and kind.

use cec_core::{CheckIn, Void};
use rusqlite::{Connection, Transaction, params};

use crate::storage::StorageError;

/// Writes the index row of a check-in. A row of the same id in the same session is replaced
/// (two nodes that wrote one id concurrently: the document's winner stands); one in another
/// session is kept (check-in ids are one namespace, the first indexed holds it).
pub fn put_checkin(tx: &Transaction<'_>, c: &CheckIn) -> Result<(), StorageError> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO checkin_index
             (id, event_id, session_id, member_id, direction, at, method, kiosk_id, recorded_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (id) DO UPDATE SET
             member_id = excluded.member_id, direction = excluded.direction, at = excluded.at,
             method = excluded.method, kiosk_id = excluded.kiosk_id, recorded_at = excluded.recorded_at
         WHERE event_id = excluded.event_id AND session_id = excluded.session_id",
    )?;
    execute_checkin(&mut stmt, None, c)
}

/// Runs `stmt` with a check-in's nine columns, in the order of [`COLUMNS`], after `first`
/// when given (the log's entry number).
fn execute_checkin(
    stmt: &mut rusqlite::CachedStatement<'_>,
    first: Option<i64>,
    c: &CheckIn,
) -> Result<(), StorageError> {
    let (at, recorded_at) = (c.at.to_string(), c.recorded_at.to_string());
    let columns: [&dyn rusqlite::ToSql; 9] = [
        &c.id,
        &c.event_id,
        &c.session_id,
        &c.member_id,
        &c.direction.as_str(),
        &at,
        &c.method.as_str(),
        &c.kiosk_id,
        &recorded_at,
    ];
    let first = first.as_ref().map(|f| f as &dyn rusqlite::ToSql);
    stmt.execute(rusqlite::params_from_iter(first.into_iter().chain(columns)))?;
    Ok(())
}

/// Logs a check-in acknowledged before it is in its document, as entry `seq` of the log
/// (`checkin_log` of the log's database, appended to in the order logged; see
/// `node::checkins`). The functions on the log run in the log's database, or (at open, to
/// move what an older version left there) in the main one.
pub fn log_checkin(tx: &Transaction<'_>, seq: i64, c: &CheckIn) -> Result<(), StorageError> {
    let mut stmt = tx.prepare_cached(&format!(
        "INSERT INTO checkin_log (seq, {COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
    ))?;
    execute_checkin(&mut stmt, Some(seq), c)
}

/// Deletes the log entries `seqs` (check-ins now written into their document).
pub fn unlog_checkins(tx: &Transaction<'_>, seqs: impl IntoIterator<Item = i64>) -> Result<(), StorageError> {
    let mut stmt = tx.prepare_cached("DELETE FROM checkin_log WHERE seq = ?1")?;
    for seq in seqs {
        stmt.execute(params![seq])?;
    }
    Ok(())
}

/// Every logged check-in with its entry number, in the order logged.
pub fn logged_checkins(conn: &Connection) -> Result<Vec<(i64, CheckIn)>, StorageError> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS}, seq FROM checkin_log ORDER BY seq"))?;
    let rows = stmt.query_map([], |r| Ok((r.get(9)?, row(r)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Deletes every logged check-in (in the main database, once moved into the log's own).
pub fn clear_log(tx: &Transaction<'_>) -> Result<(), StorageError> {
    tx.execute("DELETE FROM checkin_log", [])?;
    Ok(())
}

/// The ids of every logged check-in (read in the log's database).
pub fn logged_ids(conn: &Connection) -> Result<Vec<String>, StorageError> {
    let mut stmt = conn.prepare_cached("SELECT id FROM checkin_log")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// How many check-ins of `event_id` are logged and not yet in their documents (read in the
/// log's database).
pub fn logged_count(conn: &Connection, event_id: &str) -> Result<i64, StorageError> {
    Ok(conn
        .prepare_cached("SELECT count(*) FROM checkin_log WHERE event_id = ?1")?
        .query_row(params![event_id], |r| r.get(0))?)
}

/// Removes the index rows of one session's check-ins (before rebuilding them).
pub fn delete_session_checkins(tx: &Transaction<'_>, event_id: &str, session_id: &str) -> Result<(), StorageError> {
    tx.prepare_cached("DELETE FROM checkin_index WHERE event_id = ?1 AND session_id = ?2")?
        .execute(params![event_id, session_id])?;
    tx.prepare_cached("DELETE FROM checkin_voids WHERE event_id = ?1 AND session_id = ?2")?
        .execute(params![event_id, session_id])?;
    Ok(())
}

/// Removes the index rows of every check-in and void of `event_id` (its documents were
/// retired); answers how many check-ins were indexed.
pub fn delete_event_checkins(tx: &Transaction<'_>, event_id: &str) -> Result<usize, StorageError> {
    let n = tx.prepare_cached("DELETE FROM checkin_index WHERE event_id = ?1")?.execute(params![event_id])?;
    tx.prepare_cached("DELETE FROM checkin_voids WHERE event_id = ?1")?.execute(params![event_id])?;
    Ok(n)
}

/// Writes (or replaces) the void of a check-in of session `event_id`/`session_id`.
pub fn put_void(tx: &Transaction<'_>, event_id: &str, session_id: &str, v: &Void) -> Result<(), StorageError> {
    tx.prepare_cached(
        "INSERT INTO checkin_voids (checkin_id, event_id, session_id, by_node, at, reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (checkin_id) DO UPDATE SET by_node = excluded.by_node, at = excluded.at, reason = excluded.reason
         WHERE event_id = excluded.event_id AND session_id = excluded.session_id",
    )?
    .execute(params![v.checkin_id, event_id, session_id, v.by, v.at.to_string(), v.reason])?;
    Ok(())
}

fn void_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Void> {
    Ok(Void {
        checkin_id: r.get(0)?,
        by: r.get(1)?,
        at: r.get::<_, String>(2)?.parse().map_err(|e: jiff::Error| {
            rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, e.to_string().into())
        })?,
        reason: r.get(3)?,
    })
}

/// The voids of the check-ins among `ids` that are voided.
pub fn voids_of(conn: &Connection, ids: &[String]) -> Result<Vec<Void>, StorageError> {
    let mut stmt =
        conn.prepare_cached("SELECT checkin_id, by_node, at, reason FROM checkin_voids WHERE checkin_id = ?1")?;
    let mut out = Vec::new();
    for id in ids {
        if let Some(v) = stmt.query_map(params![id], void_row)?.next() {
            out.push(v?);
        }
    }
    Ok(out)
}

/// The ids of a member's voided check-ins (of one event).
pub fn member_voided(
    conn: &Connection,
    member_id: &str,
    event_id: Option<&str>,
) -> Result<std::collections::BTreeSet<String>, StorageError> {
    let mut stmt = conn.prepare_cached(
        "SELECT v.checkin_id FROM checkin_voids v JOIN checkin_index c ON c.id = v.checkin_id
         WHERE c.member_id = ?1 AND (?2 IS NULL OR c.event_id = ?2)",
    )?;
    let rows = stmt.query_map(params![member_id, event_id], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CheckIn> {
    let parse_err =
        |i: usize, e: String| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into());
    Ok(CheckIn {
        id: r.get(0)?,
        event_id: r.get(1)?,
        session_id: r.get(2)?,
        member_id: r.get(3)?,
        direction: r
            .get::<_, String>(4)?
            .parse()
            .map_err(|e: cec_core::event::UnknownName| parse_err(4, e.to_string()))?,
        at: r.get::<_, String>(5)?.parse().map_err(|e: jiff::Error| parse_err(5, e.to_string()))?,
        method: r
            .get::<_, String>(6)?
            .parse()
            .map_err(|e: cec_core::event::UnknownName| parse_err(6, e.to_string()))?,
        kiosk_id: r.get(7)?,
        recorded_at: r.get::<_, String>(8)?.parse().map_err(|e: jiff::Error| parse_err(8, e.to_string()))?,
    })
}

const COLUMNS: &str = "id, event_id, session_id, member_id, direction, at, method, kiosk_id, recorded_at";

/// Filters of a check-in listing.
#[derive(Debug, Default, Clone)]
pub struct CheckInFilter {
    /// Only this event.
    pub event_id: Option<String>,
    /// Only this session.
    pub session_id: Option<String>,
    /// Only this member.
    pub member_id: Option<String>,
    /// Only ids after this one (the cursor).
    pub after: Option<String>,
}

impl CheckInFilter {
    /// Whether `c` is one of the check-ins this filter lists (the cursor aside).
    pub fn matches(&self, c: &CheckIn) -> bool {
        let is = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        is(&self.event_id, &c.event_id) && is(&self.session_id, &c.session_id) && is(&self.member_id, &c.member_id)
    }
}

/// Check-ins matching `f`, ordered by id, at most `limit`.
pub fn list_checkins(conn: &Connection, f: &CheckInFilter, limit: usize) -> Result<Vec<CheckIn>, StorageError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM checkin_index
         WHERE (?1 IS NULL OR event_id = ?1) AND (?2 IS NULL OR session_id = ?2)
           AND (?3 IS NULL OR member_id = ?3) AND (?4 IS NULL OR id > ?4)
         ORDER BY id LIMIT ?5"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(
        params![f.event_id, f.session_id, f.member_id, f.after, i64::try_from(limit).unwrap_or(i64::MAX)],
        row,
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Where the check-ins with these ids are indexed: `(id, event_id, session_id)` for each id
/// this node holds. Check-in ids are one namespace across sessions.
pub fn checkin_places(conn: &Connection, ids: &[String]) -> Result<Vec<(String, String, String)>, StorageError> {
    let mut stmt = conn.prepare_cached("SELECT id, event_id, session_id FROM checkin_index WHERE id = ?1")?;
    let mut out = Vec::new();
    for id in ids {
        let mut rows = stmt.query_map(params![id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        if let Some(row) = rows.next() {
            out.push(row?);
        }
    }
    Ok(out)
}

/// Those of `ids` that are indexed (in any session).
pub fn indexed_ids(conn: &Connection, ids: &[String]) -> Result<std::collections::HashSet<String>, StorageError> {
    Ok(checkin_places(conn, ids)?.into_iter().map(|(id, _, _)| id).collect())
}

/// The `(event_id, member_id)` of each indexed check-in among `ids`.
pub fn checkin_members(conn: &Connection, ids: &[String]) -> Result<Vec<(String, String)>, StorageError> {
    let mut stmt = conn.prepare_cached("SELECT event_id, member_id FROM checkin_index WHERE id = ?1")?;
    let mut out = Vec::new();
    for id in ids {
        let mut rows = stmt.query_map(params![id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        if let Some(row) = rows.next() {
            out.push(row?);
        }
    }
    Ok(out)
}

/// The members with indexed check-ins at `event_id`.
pub fn event_members(conn: &Connection, event_id: &str) -> Result<Vec<String>, StorageError> {
    let mut stmt = conn.prepare_cached("SELECT DISTINCT member_id FROM checkin_index WHERE event_id = ?1")?;
    let rows = stmt.query_map(params![event_id], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The `(event_id, session_id)` pairs a member has check-ins for.
pub fn member_sessions(
    conn: &Connection,
    member_id: &str,
    event_id: Option<&str>,
) -> Result<Vec<(String, String)>, StorageError> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT event_id, session_id FROM checkin_index
         WHERE member_id = ?1 AND (?2 IS NULL OR event_id = ?2) ORDER BY event_id, session_id",
    )?;
    let rows = stmt.query_map(params![member_id, event_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Every indexed check-in of a member (of one event), ordered by event, session and time.
pub fn member_checkins(
    conn: &Connection,
    member_id: &str,
    event_id: Option<&str>,
) -> Result<Vec<CheckIn>, StorageError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM checkin_index WHERE member_id = ?1 AND (?2 IS NULL OR event_id = ?2)
         ORDER BY event_id, session_id, at, id"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![member_id, event_id], row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The number of indexed check-ins.
pub fn count(conn: &Connection) -> Result<i64, StorageError> {
    Ok(conn.query_row("SELECT count(*) FROM checkin_index", [], |r| r.get(0))?)
}

/// Makes the indexed entries of `member_id` exactly `entries`.
pub fn replace_entries(
    tx: &Transaction<'_>,
    member_id: &str,
    entries: &[cec_core::portfolio::Entry],
) -> Result<(), StorageError> {
    tx.execute("DELETE FROM entry_index WHERE member_id = ?1", params![member_id])?;
    let mut stmt = tx.prepare_cached(
        "INSERT INTO entry_index (member_id, entry_id, kind, date, title) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for e in entries {
        stmt.execute(params![member_id, e.id, e.kind.as_str(), e.date.to_string(), e.title])?;
    }
    Ok(())
}

/// Writes (or replaces) the index row of one entry.
pub fn put_entry(tx: &Transaction<'_>, member_id: &str, e: &cec_core::portfolio::Entry) -> Result<(), StorageError> {
    tx.prepare_cached(
        "INSERT INTO entry_index (member_id, entry_id, kind, date, title) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (member_id, entry_id) DO UPDATE SET
             kind = excluded.kind, date = excluded.date, title = excluded.title",
    )?
    .execute(params![member_id, e.id, e.kind.as_str(), e.date.to_string(), e.title])?;
    Ok(())
}

/// Removes the index row of one entry, if there is one.
pub fn delete_entry(tx: &Transaction<'_>, member_id: &str, entry_id: &str) -> Result<(), StorageError> {
    tx.prepare_cached("DELETE FROM entry_index WHERE member_id = ?1 AND entry_id = ?2")?
        .execute(params![member_id, entry_id])?;
    Ok(())
}

/// Where an entry listing resumes: after this `(date, entry_id)`.
pub type EntryCursor = (String, String);

/// A member's entry ids ordered by date then id, optionally of one kind, after `after`.
pub fn list_entries(
    conn: &Connection,
    member_id: &str,
    kind: Option<&str>,
    after: Option<&EntryCursor>,
    limit: usize,
) -> Result<Vec<EntryCursor>, StorageError> {
    let mut stmt = conn.prepare_cached(
        "SELECT date, entry_id FROM entry_index
         WHERE member_id = ?1 AND (?2 IS NULL OR kind = ?2)
           AND (?3 IS NULL OR (date, entry_id) > (?3, ?4))
         ORDER BY date, entry_id LIMIT ?5",
    )?;
    let (d, id) = after.map_or((None, None), |(d, i)| (Some(d.as_str()), Some(i.as_str())));
    let rows = stmt.query_map(params![member_id, kind, d, id, i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The number of indexed entries.
pub fn entry_count(conn: &Connection) -> Result<i64, StorageError> {
    Ok(conn.query_row("SELECT count(*) FROM entry_index", [], |r| r.get(0))?)
}

//! The peers a node syncs with (static, central, discovered) and how their syncs went.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::{StorageError, now_ms};

/// A peer as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerRow {
    /// Its node id.
    pub peer_id: String,
    /// Its peer URL.
    pub url: String,
    /// `static`, `central` or `mdns`.
    pub source: String,
    /// Its role, once its credential was seen.
    pub role: Option<String>,
    /// When it was added (ms since the epoch).
    pub added_at: i64,
    /// When it last answered.
    pub last_seen: Option<i64>,
    /// When a sync with it last completed.
    pub last_sync: Option<i64>,
    /// The last sync's error, if it failed.
    pub last_error: Option<String>,
}

/// Adds a peer, or updates its URL and source.
pub fn put_peer(tx: &Transaction<'_>, peer_id: &str, url: &str, source: &str) -> Result<(), StorageError> {
    tx.prepare_cached(
        "INSERT INTO peers (peer_id, url, source, added_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (peer_id) DO UPDATE SET url = excluded.url, source = excluded.source",
    )?
    .execute(params![peer_id, url, source, now_ms()])?;
    Ok(())
}

/// Records a peer found by mDNS: new ones are added with source `mdns`; a peer already known
/// keeps its source, and its URL unless it was found by mDNS too. Answers whether it was new.
pub fn put_discovered_peer(tx: &Transaction<'_>, peer_id: &str, url: &str) -> Result<bool, StorageError> {
    let known: bool = tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM peers WHERE peer_id = ?1)")?
        .query_row(params![peer_id], |r| r.get(0))?;
    tx.prepare_cached(
        "INSERT INTO peers (peer_id, url, source, added_at, last_seen) VALUES (?1, ?2, 'mdns', ?3, ?3)
         ON CONFLICT (peer_id) DO UPDATE SET
             url = CASE WHEN source = 'mdns' THEN excluded.url ELSE url END,
             last_seen = excluded.last_seen",
    )?
    .execute(params![peer_id, url, now_ms()])?;
    Ok(!known)
}

/// Forgets a peer and its sync states; true if it was known.
pub fn delete_peer(tx: &Transaction<'_>, peer_id: &str) -> Result<bool, StorageError> {
    super::delete_sync_states_for_peer(tx, peer_id)?;
    Ok(tx.prepare_cached("DELETE FROM peers WHERE peer_id = ?1")?.execute([peer_id])? > 0)
}

/// Records how a sync with a peer went: `error` is `None` after a completed sync.
pub fn record_sync(
    tx: &Transaction<'_>,
    peer_id: &str,
    role: Option<&str>,
    error: Option<&str>,
    seen: bool,
) -> Result<(), StorageError> {
    let now = now_ms();
    tx.prepare_cached(
        "UPDATE peers SET
             role = coalesce(?2, role),
             last_error = ?3,
             last_sync = CASE WHEN ?3 IS NULL THEN ?4 ELSE last_sync END,
             last_seen = CASE WHEN ?5 THEN ?4 ELSE last_seen END
         WHERE peer_id = ?1",
    )?
    .execute(params![peer_id, role, error, now, seen])?;
    Ok(())
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PeerRow> {
    Ok(PeerRow {
        peer_id: r.get(0)?,
        url: r.get(1)?,
        source: r.get(2)?,
        role: r.get(3)?,
        added_at: r.get(4)?,
        last_seen: r.get(5)?,
        last_sync: r.get(6)?,
        last_error: r.get(7)?,
    })
}

const COLUMNS: &str = "peer_id, url, source, role, added_at, last_seen, last_sync, last_error";

/// Every known peer, by id.
pub fn list_peers(conn: &Connection) -> Result<Vec<PeerRow>, StorageError> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM peers ORDER BY peer_id"))?;
    let rows = stmt.query_map([], row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One peer.
pub fn get_peer(conn: &Connection, peer_id: &str) -> Result<Option<PeerRow>, StorageError> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM peers WHERE peer_id = ?1"))?
        .query_row([peer_id], row)
        .optional()?)
}

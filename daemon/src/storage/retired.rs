//! Retired documents: what a kiosk dropped for good once the central node held it
//! (`node::retention` decides; this module deletes and records).
//!
//! [`delete_doc`] removes everything stored of one document (chunks, snapshot, heads, every
//! peer's sync state, its change-feed entries), with SQLite's `secure_delete` on so the freed
//! pages are overwritten rather than left readable in the file; [`put_retired_event`] and
//! [`put_retired_doc`] record what was dropped, which the node reads back at start
//! ([`retired_events`]) to keep those documents out of sync.

use rusqlite::{Connection, Transaction, params};

use super::StorageError;

/// An event retired from this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetiredEventRow {
    /// The event.
    pub event_id: String,
    /// Its provider when it was retired (a `provider:` scope covers it).
    pub provider_id: String,
    /// When it ended (the end of its last session), ms since the epoch.
    pub ended_at: i64,
    /// When it was retired, ms since the epoch (this node's clock).
    pub retired_at: i64,
    /// The central node whose sync state acknowledged every document.
    pub central_id: String,
    /// Documents dropped.
    pub documents: i64,
    /// Check-ins dropped (voided ones included).
    pub checkins: i64,
}

/// Runs `f` with `secure_delete` on: content deleted meanwhile is overwritten with zeros in
/// the database file instead of lingering in free pages. The setting is restored after.
pub fn with_secure_delete<T>(
    tx: &Transaction<'_>,
    f: impl FnOnce(&Transaction<'_>) -> Result<T, StorageError>,
) -> Result<T, StorageError> {
    let before: i64 = tx.pragma_query_value(None, "secure_delete", |r| r.get(0))?;
    tx.pragma_update(None, "secure_delete", 1)?;
    let out = f(tx);
    tx.pragma_update(None, "secure_delete", before)?;
    out
}

/// Deletes everything stored of `doc_id`: its chunks, snapshot and row (heads), every peer's
/// sync state for it, and its entries in the change feed. Answers whether it was stored.
pub fn delete_doc(tx: &Transaction<'_>, doc_id: &str) -> Result<bool, StorageError> {
    super::docs::check_doc_id(doc_id)?;
    tx.prepare_cached("DELETE FROM doc_chunks WHERE doc_id = ?1")?.execute([doc_id])?;
    tx.prepare_cached("DELETE FROM doc_snapshots WHERE doc_id = ?1")?.execute([doc_id])?;
    tx.prepare_cached("DELETE FROM peer_sync_states WHERE doc_id = ?1")?.execute([doc_id])?;
    tx.prepare_cached("DELETE FROM changes WHERE doc_id = ?1")?.execute([doc_id])?;
    tx.prepare_cached("DELETE FROM doc_views WHERE doc_id = ?1")?.execute([doc_id])?;
    let deleted = tx.prepare_cached("DELETE FROM docs WHERE doc_id = ?1")?.execute([doc_id])?;
    Ok(deleted > 0)
}

/// Records a retired event (replacing an earlier record of it).
pub fn put_retired_event(tx: &Transaction<'_>, row: &RetiredEventRow) -> Result<(), StorageError> {
    tx.prepare_cached(
        "INSERT INTO retired_events
             (event_id, provider_id, ended_at, retired_at, central_id, documents, checkins)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (event_id) DO UPDATE SET
             provider_id = excluded.provider_id, ended_at = excluded.ended_at,
             retired_at = excluded.retired_at, central_id = excluded.central_id,
             documents = retired_events.documents + excluded.documents,
             checkins = retired_events.checkins + excluded.checkins",
    )?
    .execute(params![
        row.event_id,
        row.provider_id,
        row.ended_at,
        row.retired_at,
        row.central_id,
        row.documents,
        row.checkins
    ])?;
    Ok(())
}

/// Records one retired document of `event_id` with the heads it had when dropped.
pub fn put_retired_doc(
    tx: &Transaction<'_>,
    doc_id: &str,
    event_id: &str,
    heads: &[u8],
    retired_at: i64,
) -> Result<(), StorageError> {
    tx.prepare_cached(
        "INSERT INTO retired_docs (doc_id, event_id, heads, retired_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (doc_id) DO UPDATE SET heads = excluded.heads, retired_at = excluded.retired_at",
    )?
    .execute(params![doc_id, event_id, heads, retired_at])?;
    Ok(())
}

/// Every event retired from this node, most recently retired first.
pub fn retired_events(conn: &Connection) -> Result<Vec<RetiredEventRow>, StorageError> {
    let mut stmt = conn.prepare_cached(
        "SELECT event_id, provider_id, ended_at, retired_at, central_id, documents, checkins
         FROM retired_events ORDER BY retired_at DESC, event_id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(RetiredEventRow {
            event_id: r.get(0)?,
            provider_id: r.get(1)?,
            ended_at: r.get(2)?,
            retired_at: r.get(3)?,
            central_id: r.get(4)?,
            documents: r.get(5)?,
            checkins: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The retired documents of `event_id`, in id order.
pub fn retired_docs(conn: &Connection, event_id: &str) -> Result<Vec<String>, StorageError> {
    let mut stmt = conn.prepare_cached("SELECT doc_id FROM retired_docs WHERE event_id = ?1 ORDER BY doc_id")?;
    let rows = stmt.query_map([event_id], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::super::test_util::temp_store;
    use super::super::{append_chunk, changes_since, get_sync_state, list_docs, put_sync_state, record_change};
    use super::*;

    #[tokio::test]
    async fn a_deleted_document_leaves_nothing_and_the_record_stays() {
        let (_dir, store) = temp_store().await;
        store
            .write(|tx| {
                for id in ["event:E1", "attendance:E1:S1", "event:E2"] {
                    append_chunk(tx, id, b"chunk")?;
                    put_sync_state(tx, "central", id, b"state")?;
                    record_change(tx, id, "event", "x")?;
                    super::super::put_doc_view(tx, id, b"heads", 1, b"{}")?;
                }
                Ok(())
            })
            .await
            .unwrap();
        let row = RetiredEventRow {
            event_id: "E1".into(),
            provider_id: "P".into(),
            ended_at: 1,
            retired_at: 2,
            central_id: "central".into(),
            documents: 2,
            checkins: 0,
        };
        let r = row.clone();
        let deleted = store
            .write(move |tx| {
                with_secure_delete(tx, |tx| {
                    put_retired_event(tx, &r)?;
                    let mut n = 0;
                    for id in ["event:E1", "attendance:E1:S1", "attendance:E1:S9"] {
                        n += usize::from(delete_doc(tx, id)?);
                        put_retired_doc(tx, id, "E1", b"heads", 2)?;
                    }
                    Ok(n)
                })
            })
            .await
            .unwrap();
        assert_eq!(deleted, 2, "the third was never stored");
        assert_eq!(store.read(|c| list_docs(c, "")).await.unwrap(), ["event:E2"]);
        assert_eq!(store.read(|c| get_sync_state(c, "central", "event:E1")).await.unwrap(), None);
        let views: Vec<String> = store
            .read(|c| {
                let mut stmt = c.prepare("SELECT doc_id FROM doc_views ORDER BY doc_id")?;
                let ids = stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
                Ok(ids)
            })
            .await
            .unwrap();
        assert_eq!(views, ["event:E2"], "a deleted document's view goes with it");
        let feed = store.read(|c| changes_since(c, 0, 10)).await.unwrap();
        assert_eq!(feed.iter().map(|c| c.doc_id.as_str()).collect::<Vec<_>>(), ["event:E2"]);
        assert_eq!(store.read(retired_events).await.unwrap(), [row]);
        assert_eq!(store.read(|c| retired_docs(c, "E1")).await.unwrap().len(), 3);
    }
}

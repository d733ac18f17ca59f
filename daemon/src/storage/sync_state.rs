//! Per-peer, per-document sync state: the encoded `automerge::sync::State` kept between
//! sessions, so a reconnect sends only what is new. The bytes are opaque here.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::{StorageError, now_ms};

/// Stores (replacing) the sync state of `peer_id` for `doc_id`.
pub fn put_sync_state(tx: &Transaction<'_>, peer_id: &str, doc_id: &str, state: &[u8]) -> Result<(), StorageError> {
    tx.prepare_cached(
        "INSERT INTO peer_sync_states (peer_id, doc_id, state, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (peer_id, doc_id)
         DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
    )?
    .execute(params![peer_id, doc_id, state, now_ms()])?;
    Ok(())
}

/// The stored sync state of `peer_id` for `doc_id`, if any.
pub fn get_sync_state(conn: &Connection, peer_id: &str, doc_id: &str) -> Result<Option<Vec<u8>>, StorageError> {
    Ok(conn
        .prepare_cached("SELECT state FROM peer_sync_states WHERE peer_id = ?1 AND doc_id = ?2")?
        .query_row(params![peer_id, doc_id], |row| row.get(0))
        .optional()?)
}

/// Every stored sync state of `peer_id`, as `(doc_id, state)` ordered by document id.
pub fn sync_states_for_peer(conn: &Connection, peer_id: &str) -> Result<Vec<(String, Vec<u8>)>, StorageError> {
    let mut stmt =
        conn.prepare_cached("SELECT doc_id, state FROM peer_sync_states WHERE peer_id = ?1 ORDER BY doc_id")?;
    let rows = stmt.query_map([peer_id], |row| Ok((row.get(0)?, row.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Forgets the sync state of `peer_id` for `doc_id`; true if there was one.
pub fn delete_sync_state(tx: &Transaction<'_>, peer_id: &str, doc_id: &str) -> Result<bool, StorageError> {
    let n = tx
        .prepare_cached("DELETE FROM peer_sync_states WHERE peer_id = ?1 AND doc_id = ?2")?
        .execute(params![peer_id, doc_id])?;
    Ok(n > 0)
}

/// Forgets every sync state of `peer_id` (a peer that reset, or whose credential was revoked);
/// returns how many there were.
pub fn delete_sync_states_for_peer(tx: &Transaction<'_>, peer_id: &str) -> Result<usize, StorageError> {
    Ok(tx.prepare_cached("DELETE FROM peer_sync_states WHERE peer_id = ?1")?.execute([peer_id])?)
}

#[cfg(test)]
mod tests {
    use super::super::test_util::temp_store;
    use super::*;

    #[tokio::test]
    async fn put_get_replace_delete() {
        let (_dir, store) = temp_store().await;
        store
            .write(|tx| {
                put_sync_state(tx, "peer-a", "event:e1", b"s1")?;
                put_sync_state(tx, "peer-a", "event:e2", b"s2")?;
                put_sync_state(tx, "peer-b", "event:e1", b"t1")?;
                // Replaces.
                put_sync_state(tx, "peer-a", "event:e1", b"s1-new")
            })
            .await
            .unwrap();
        let got = store.read(|c| get_sync_state(c, "peer-a", "event:e1")).await.unwrap();
        assert_eq!(got.as_deref(), Some(&b"s1-new"[..]));
        let all = store.read(|c| sync_states_for_peer(c, "peer-a")).await.unwrap();
        assert_eq!(all, vec![("event:e1".to_owned(), b"s1-new".to_vec()), ("event:e2".to_owned(), b"s2".to_vec())]);

        let (one, removed) = store
            .write(|tx| {
                let one = delete_sync_state(tx, "peer-a", "event:e2")?;
                Ok((one, delete_sync_states_for_peer(tx, "peer-a")?))
            })
            .await
            .unwrap();
        assert!(one);
        assert_eq!(removed, 1);
        let gone = store.read(|c| get_sync_state(c, "peer-a", "event:e1")).await.unwrap();
        assert_eq!(gone, None);
        // Other peers keep theirs.
        let kept = store.read(|c| get_sync_state(c, "peer-b", "event:e1")).await.unwrap();
        assert_eq!(kept.as_deref(), Some(&b"t1"[..]));
    }
}

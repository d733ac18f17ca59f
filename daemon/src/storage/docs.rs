//! Documents as bytes: incremental Automerge chunks plus a compacted snapshot.
//!
//! Each document has a row in `docs` with `last_seq`, the highest chunk seq ever handed out.
//! [`append_chunk`] gives the next seq; [`load_doc`] returns the snapshot followed by every later
//! chunk, concatenated, for one `AutoCommit::load` (never one load per chunk: that is
//! quadratic); [`compact_doc`] swaps in a snapshot covering chunks up to a seq and deletes them.
//! This module does not parse Automerge; `compaction.rs` does, for the background job.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::{StorageError, now_ms};

/// The longest document id accepted, in bytes.
pub const MAX_DOC_ID_LEN: usize = 1024;

/// What [`load_doc_at`] read: the bytes and which chunks they include.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedDoc {
    /// The snapshot (if any) followed by every chunk after it, concatenated.
    pub bytes: Vec<u8>,
    /// The highest seq the bytes include; compact up to this and no further.
    pub last_seq: i64,
    /// The seq the snapshot covers (0 without a snapshot).
    pub snapshot_seq: i64,
    /// How many chunks follow the snapshot.
    pub chunks: usize,
}

pub(crate) fn check_doc_id(doc_id: &str) -> Result<(), StorageError> {
    if doc_id.is_empty() || doc_id.len() > MAX_DOC_ID_LEN {
        return Err(StorageError::InvalidDocId);
    }
    Ok(())
}

/// Appends an incremental chunk (the output of `save_incremental`/`save_after`, or changes
/// received from a peer) to `doc_id`, creating the document if needed, and returns its seq.
/// An empty chunk stores nothing and returns the document's current last seq (0 if none).
pub fn append_chunk(tx: &Transaction<'_>, doc_id: &str, bytes: &[u8]) -> Result<i64, StorageError> {
    check_doc_id(doc_id)?;
    if bytes.is_empty() {
        return Ok(last_seq(tx, doc_id)?.unwrap_or(0));
    }
    // A read, then a plain UPDATE or INSERT: a statement with RETURNING runs in a statement
    // journal of its own inside the job's savepoint, which costs about as much as the write
    // (see `record_change`).
    let seq = match last_seq(tx, doc_id)? {
        Some(last) => {
            tx.prepare_cached(
                "UPDATE docs SET last_seq = ?2, chunk_count = chunk_count + 1, updated_at = ?3 WHERE doc_id = ?1",
            )?
            .execute(params![doc_id, last + 1, now_ms()])?;
            last + 1
        }
        None => {
            tx.prepare_cached(
                "INSERT INTO docs (doc_id, last_seq, chunk_count, created_at, updated_at) VALUES (?1, 1, 1, ?2, ?2)",
            )?
            .execute(params![doc_id, now_ms()])?;
            1
        }
    };
    tx.prepare_cached("INSERT INTO doc_chunks (doc_id, seq, bytes) VALUES (?1, ?2, ?3)")?
        .execute(params![doc_id, seq, bytes])?;
    Ok(seq)
}

/// Records the heads of `doc_id` as of the chunks written in this transaction (sorted 32-byte
/// change hashes, concatenated), and the projection version its derived rows now follow.
pub fn set_doc_heads(tx: &Transaction<'_>, doc_id: &str, heads: &[u8], projection: i64) -> Result<(), StorageError> {
    check_doc_id(doc_id)?;
    tx.prepare_cached("UPDATE docs SET heads = ?2, projection = ?3 WHERE doc_id = ?1")?
        .execute(params![doc_id, heads, projection])?;
    Ok(())
}

/// The stored heads of every document starting with `prefix`, as `(doc_id, heads)` in byte
/// order of the ids; `heads` is sorted 32-byte change hashes, concatenated (empty for a
/// document not written since the heads were first recorded).
pub fn doc_heads(conn: &Connection, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StorageError> {
    let mut stmt = conn.prepare_cached("SELECT doc_id, heads FROM docs WHERE doc_id >= ?1 ORDER BY doc_id")?;
    let mut rows = stmt.query([prefix])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let id = row.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?;
        if !id.starts_with(prefix) {
            break;
        }
        out.push((id.to_owned(), row.get(1)?));
    }
    Ok(out)
}

/// Documents whose derived rows were made by a projection older than `version`.
pub fn docs_with_projection_before(conn: &Connection, version: i64) -> Result<Vec<String>, StorageError> {
    let mut stmt = conn.prepare_cached("SELECT doc_id FROM docs WHERE projection < ?1 ORDER BY doc_id")?;
    let rows = stmt.query_map([version], |row| row.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn last_seq(conn: &Connection, doc_id: &str) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT last_seq FROM docs WHERE doc_id = ?1")?.query_row([doc_id], |row| row.get(0)).optional()
}

/// The stored bytes of `doc_id` (snapshot then later chunks, concatenated), or `None` if it
/// was never stored. Load them with one `AutoCommit::load`.
pub fn load_doc(conn: &Connection, doc_id: &str) -> Result<Option<Vec<u8>>, StorageError> {
    Ok(load_doc_at(conn, doc_id)?.map(|doc| doc.bytes))
}

/// Like [`load_doc`], also telling which seq the bytes reach. Reads snapshot and chunks in one
/// read transaction, so a compaction committing meanwhile cannot make chunks go missing.
pub fn load_doc_at(conn: &Connection, doc_id: &str) -> Result<Option<LoadedDoc>, StorageError> {
    check_doc_id(doc_id)?;
    // Inside a write closure we are already in a transaction; in a read closure, open one.
    let read_tx = if conn.is_autocommit() { Some(conn.unchecked_transaction()?) } else { None };
    let snapshot: Option<(Vec<u8>, i64)> = conn
        .prepare_cached("SELECT bytes, up_to_seq FROM doc_snapshots WHERE doc_id = ?1")?
        .query_row([doc_id], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    let (mut bytes, snapshot_seq) = snapshot.unwrap_or_default();
    let mut last_seq = snapshot_seq;
    let mut chunks = 0_usize;
    {
        let mut stmt =
            conn.prepare_cached("SELECT seq, bytes FROM doc_chunks WHERE doc_id = ?1 AND seq > ?2 ORDER BY seq")?;
        let mut rows = stmt.query(params![doc_id, snapshot_seq])?;
        while let Some(row) = rows.next()? {
            last_seq = row.get(0)?;
            let chunk = row.get_ref(1)?.as_blob().map_err(rusqlite::Error::from)?;
            bytes.extend_from_slice(chunk);
            chunks += 1;
        }
    }
    if let Some(read_tx) = read_tx {
        read_tx.finish()?;
    }
    if snapshot_seq == 0 && chunks == 0 {
        return Ok(None);
    }
    Ok(Some(LoadedDoc { bytes, last_seq, snapshot_seq, chunks }))
}

/// The ids of stored documents starting with `prefix` (`""` for all), in byte order.
pub fn list_docs(conn: &Connection, prefix: &str) -> Result<Vec<String>, StorageError> {
    let mut stmt = conn.prepare_cached("SELECT doc_id FROM docs WHERE doc_id >= ?1 ORDER BY doc_id")?;
    let mut rows = stmt.query([prefix])?;
    let mut ids = Vec::new();
    while let Some(row) = rows.next()? {
        let id = row.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?;
        if !id.starts_with(prefix) {
            break;
        }
        ids.push(id.to_owned());
    }
    Ok(ids)
}

/// Documents with at least `min_chunks` chunks not yet folded into a snapshot, most first.
pub fn docs_needing_compaction(conn: &Connection, min_chunks: usize) -> Result<Vec<String>, StorageError> {
    let min = i64::try_from(min_chunks.max(1)).unwrap_or(i64::MAX);
    let mut stmt =
        conn.prepare_cached("SELECT doc_id FROM docs WHERE chunk_count >= ?1 ORDER BY chunk_count DESC, doc_id")?;
    let rows = stmt.query_map([min], |row| row.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Replaces the snapshot of `doc_id` with `snapshot` (which must contain everything up to
/// and including chunk `up_to_seq`) and deletes the chunks it covers, atomically. Chunks
/// appended after `up_to_seq` are kept. Returns false, changing nothing, if the stored
/// snapshot already covers `up_to_seq` (another compaction got there first).
pub fn compact_doc(tx: &Transaction<'_>, doc_id: &str, snapshot: &[u8], up_to_seq: i64) -> Result<bool, StorageError> {
    check_doc_id(doc_id)?;
    let refuse = |reason| StorageError::Compaction { doc_id: doc_id.to_owned(), reason };
    if snapshot.is_empty() {
        return Err(refuse("the snapshot is empty"));
    }
    let last = last_seq(tx, doc_id)?.ok_or_else(|| refuse("no such document"))?;
    if up_to_seq < 1 || up_to_seq > last {
        return Err(refuse("the snapshot claims chunks that do not exist"));
    }
    let covered: Option<i64> = tx
        .prepare_cached("SELECT up_to_seq FROM doc_snapshots WHERE doc_id = ?1")?
        .query_row([doc_id], |row| row.get(0))
        .optional()?;
    if covered.is_some_and(|covered| covered >= up_to_seq) {
        return Ok(false);
    }
    tx.prepare_cached(
        "INSERT INTO doc_snapshots (doc_id, bytes, up_to_seq, compacted_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (doc_id) DO UPDATE SET
             bytes = excluded.bytes,
             up_to_seq = excluded.up_to_seq,
             compacted_at = excluded.compacted_at",
    )?
    .execute(params![doc_id, snapshot, up_to_seq, now_ms()])?;
    tx.prepare_cached("DELETE FROM doc_chunks WHERE doc_id = ?1 AND seq <= ?2")?.execute(params![doc_id, up_to_seq])?;
    tx.prepare_cached(
        "UPDATE docs SET chunk_count = (SELECT count(*) FROM doc_chunks WHERE doc_id = ?1)
         WHERE doc_id = ?1",
    )?
    .execute([doc_id])?;
    Ok(true)
}

/// Stores the decoded view of `doc_id` as of `heads` (encoded as in `docs.heads`), written in
/// `version`'s form, replacing any earlier one.
pub fn put_doc_view(
    tx: &Transaction<'_>,
    doc_id: &str,
    heads: &[u8],
    version: i64,
    view: &[u8],
) -> Result<(), StorageError> {
    check_doc_id(doc_id)?;
    tx.prepare_cached(
        "INSERT INTO doc_views (doc_id, heads, version, view) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (doc_id) DO UPDATE SET heads = excluded.heads, version = excluded.version, view = excluded.view",
    )?
    .execute(params![doc_id, heads, version, view])?;
    Ok(())
}

/// The stored view of `doc_id` in `version`'s form, if it was made from the document as
/// stored now (its heads are the document's); `None` otherwise.
pub fn load_doc_view(conn: &Connection, doc_id: &str, version: i64) -> Result<Option<Vec<u8>>, StorageError> {
    check_doc_id(doc_id)?;
    Ok(conn
        .prepare_cached(
            "SELECT v.view FROM doc_views v JOIN docs d ON d.doc_id = v.doc_id
             WHERE v.doc_id = ?1 AND v.version = ?2 AND v.heads = d.heads AND length(d.heads) > 0",
        )?
        .query_row(params![doc_id, version], |row| row.get(0))
        .optional()?)
}

#[cfg(test)]
mod tests {
    use super::super::test_util::temp_store;
    use super::*;

    #[tokio::test]
    async fn chunks_concatenate_in_seq_order() {
        let (_dir, store) = temp_store().await;
        let seqs = store
            .write(|tx| {
                Ok([
                    append_chunk(tx, "event:e1", b"aa")?,
                    append_chunk(tx, "event:e1", b"bb")?,
                    append_chunk(tx, "event:e1", b"")?,
                    append_chunk(tx, "event:e2", b"xx")?,
                    append_chunk(tx, "event:e1", b"cc")?,
                    append_chunk(tx, "other", b"")?,
                ])
            })
            .await
            .unwrap();
        assert_eq!(seqs, [1, 2, 2, 1, 3, 0]);
        let doc = store.read(|c| load_doc_at(c, "event:e1")).await.unwrap().unwrap();
        assert_eq!(doc.bytes, b"aabbcc");
        assert_eq!((doc.last_seq, doc.snapshot_seq, doc.chunks), (3, 0, 3));
        assert_eq!(store.read(|c| load_doc(c, "other")).await.unwrap(), None);
        assert!(matches!(store.read(|c| load_doc(c, "")).await, Err(StorageError::InvalidDocId)));
    }

    #[tokio::test]
    async fn compaction_keeps_later_chunks_and_refuses_nonsense() {
        let (_dir, store) = temp_store().await;
        store
            .write(|tx| {
                for chunk in [b"a", b"b", b"c"] {
                    append_chunk(tx, "doc", chunk)?;
                }
                Ok(())
            })
            .await
            .unwrap();
        let read = store.read(|c| load_doc_at(c, "doc")).await.unwrap().unwrap();
        // A chunk arrives between the compaction's read and its write.
        store.write(|tx| append_chunk(tx, "doc", b"d")).await.unwrap();
        let up_to = read.last_seq;
        let compacted = store.write(move |tx| compact_doc(tx, "doc", b"ABC", up_to)).await.unwrap();
        assert!(compacted);
        let doc = store.read(|c| load_doc_at(c, "doc")).await.unwrap().unwrap();
        assert_eq!(doc.bytes, b"ABCd");
        assert_eq!((doc.last_seq, doc.snapshot_seq, doc.chunks), (4, 3, 1));

        // A stale compaction changes nothing; nonsense is refused.
        let stale = store.write(|tx| compact_doc(tx, "doc", b"AB", 2)).await.unwrap();
        assert!(!stale);
        for (id, snap, up_to) in [("doc", &b"X"[..], 9), ("doc", b"", 4), ("nope", b"X", 1)] {
            let res = store.write(move |tx| compact_doc(tx, id, snap, up_to)).await;
            assert!(matches!(res, Err(StorageError::Compaction { .. })), "{res:?}");
        }
        // Seqs keep counting after compaction.
        let seq = store.write(|tx| append_chunk(tx, "doc", b"e")).await.unwrap();
        assert_eq!(seq, 5);
        let bytes = store.read(|c| load_doc(c, "doc")).await.unwrap().unwrap();
        assert_eq!(bytes, b"ABCde");
    }

    #[tokio::test]
    async fn list_and_candidates() {
        let (_dir, store) = temp_store().await;
        store
            .write(|tx| {
                for (id, n) in [("event:a", 1), ("event:b", 3), ("eventx", 2), ("portfolio:m", 5)] {
                    for _ in 0..n {
                        append_chunk(tx, id, b"z")?;
                    }
                }
                Ok(())
            })
            .await
            .unwrap();
        let events = store.read(|c| list_docs(c, "event:")).await.unwrap();
        assert_eq!(events, ["event:a", "event:b"]);
        let all = store.read(|c| list_docs(c, "")).await.unwrap();
        assert_eq!(all.len(), 4);
        let due = store.read(|c| docs_needing_compaction(c, 2)).await.unwrap();
        assert_eq!(due, ["portfolio:m", "event:b", "eventx"]);
        store.write(|tx| compact_doc(tx, "portfolio:m", b"S", 5).map(|_| ())).await.unwrap();
        let due = store.read(|c| docs_needing_compaction(c, 2)).await.unwrap();
        assert_eq!(due, ["event:b", "eventx"]);
    }
}

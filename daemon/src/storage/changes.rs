//! The change feed: an append-only log of what changed, for clients that poll or long-poll.
//!
//! Writers call [`record_change`] in the same transaction as the change itself; after each commit
//! that recorded changes the [`Store`](super::Store) publishes the newest seq, which
//! [`ChangeSubscriber`] waits on.

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use tokio::sync::watch;

use super::{StorageError, now_ms};

/// One entry of the change feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Position in the feed; strictly increasing, never reused.
    pub seq: i64,
    /// The document that changed.
    pub doc_id: String,
    /// What kind of thing changed (a caller-defined word such as `check_in`).
    pub kind: String,
    /// The id of the thing that changed, inside the document.
    pub id: String,
    /// When it was recorded, in milliseconds since the Unix epoch.
    pub at_ms: i64,
}

/// Appends an entry to the change feed and returns its seq. It becomes visible (and wakes
/// subscribers) when the transaction commits; if the job fails, it is rolled back with it.
pub fn record_change(tx: &Transaction<'_>, doc_id: &str, kind: &str, id: &str) -> Result<i64, StorageError> {
    // Not `RETURNING seq`: a statement with RETURNING opens a statement journal inside the
    // job's savepoint, and closing it (`vdbeCloseStatement` → `sqlite3BtreeSavepoint`) was
    // 10-14 % of the CPU of a sync round that feeds thousands of check-ins. The rowid of the
    // row just inserted on this connection is its seq.
    tx.prepare_cached("INSERT INTO changes (doc_id, kind, id, at) VALUES (?1, ?2, ?3, ?4)")?.execute(params![
        doc_id,
        kind,
        id,
        now_ms()
    ])?;
    Ok(tx.last_insert_rowid())
}

/// The highest seq the change feed ever handed out (0 if none), even if those entries were
/// pruned since.
pub fn latest_change_seq(conn: &Connection) -> Result<i64, StorageError> {
    Ok(conn
        .prepare_cached("SELECT seq FROM sqlite_sequence WHERE name = 'changes'")?
        .query_row([], |row| row.get(0))
        .optional()?
        .unwrap_or(0))
}

/// Up to `limit` entries with a seq greater than `after`, oldest first.
pub fn changes_since(conn: &Connection, after: i64, limit: usize) -> Result<Vec<Change>, StorageError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut stmt =
        conn.prepare_cached("SELECT seq, doc_id, kind, id, at FROM changes WHERE seq > ?1 ORDER BY seq LIMIT ?2")?;
    let rows = stmt.query_map(params![after, limit], |row| {
        Ok(Change { seq: row.get(0)?, doc_id: row.get(1)?, kind: row.get(2)?, id: row.get(3)?, at_ms: row.get(4)? })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Where the follower `name` of the change feed stopped, if it ever saved its place.
pub fn feed_cursor(conn: &Connection, name: &str) -> Result<Option<i64>, StorageError> {
    Ok(conn
        .prepare_cached("SELECT seq FROM feed_cursors WHERE name = ?1")?
        .query_row(params![name], |row| row.get(0))
        .optional()?)
}

/// Saves where the follower `name` of the change feed stopped.
pub fn set_feed_cursor(tx: &Transaction<'_>, name: &str, seq: i64) -> Result<(), StorageError> {
    tx.prepare_cached(
        "INSERT INTO feed_cursors (name, seq) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET seq = excluded.seq",
    )?
    .execute(params![name, seq])?;
    Ok(())
}

/// Waits for the change feed to move; from [`Store::subscribe_changes`](super::Store).
#[derive(Debug, Clone)]
pub struct ChangeSubscriber {
    rx: watch::Receiver<i64>,
}

impl ChangeSubscriber {
    pub(crate) fn new(rx: watch::Receiver<i64>) -> Self {
        Self { rx }
    }

    /// The newest committed seq known now (0 if the feed is empty).
    pub fn latest(&self) -> i64 {
        *self.rx.borrow()
    }

    /// Resolves with the newest committed seq as soon as it is greater than `after`
    /// (immediately if it already is). Fails with [`StorageError::Closed`] once the store is
    /// closed. Wrap it in `tokio::time::timeout` for a long poll.
    pub async fn wait_past(&mut self, after: i64) -> Result<i64, StorageError> {
        let seq = self.rx.wait_for(|seq| *seq > after).await.map_err(|_| StorageError::Closed)?;
        Ok(*seq)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::test_util::temp_store;
    use super::*;

    #[tokio::test]
    async fn feed_is_ordered_and_paged() {
        let (_dir, store) = temp_store().await;
        for i in 0..5 {
            store.write(move |tx| record_change(tx, "event:e1", "check_in", &format!("c{i}"))).await.unwrap();
        }
        // A failed job's change is rolled back with it.
        let err = store
            .write(|tx| {
                record_change(tx, "event:e1", "check_in", "rolled-back")?;
                Err::<(), _>(StorageError::job("nope"))
            })
            .await;
        assert!(matches!(err, Err(StorageError::Job(_))));
        store.write(|tx| record_change(tx, "portfolio:m1", "activity", "a1")).await.unwrap();

        let all = store.read(|c| changes_since(c, 0, 100)).await.unwrap();
        let ids: Vec<_> = all.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["c0", "c1", "c2", "c3", "c4", "a1"]);
        assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
        assert!(all.iter().all(|c| c.at_ms > 0));

        let page = store.read(move |c| changes_since(c, all[1].seq, 2)).await.unwrap();
        let ids: Vec<_> = page.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["c2", "c3"]);
        let latest = store.read(latest_change_seq).await.unwrap();
        assert_eq!(store.subscribe_changes().latest(), latest);
    }

    #[tokio::test]
    async fn subscriber_wakes_on_commit() {
        let (_dir, store) = temp_store().await;
        let mut sub = store.subscribe_changes();
        let start = sub.latest();
        assert_eq!(start, 0);
        let waiter = tokio::spawn(async move { sub.wait_past(start).await });
        // A commit without changes does not wake it.
        store.write(|_tx| Ok(())).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished());

        let seq = store.write(|tx| record_change(tx, "event:e1", "check_in", "c1")).await.unwrap();
        let woke = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("subscriber did not wake")
            .unwrap()
            .unwrap();
        assert_eq!(woke, seq);

        // Already past: returns at once. After close: Closed.
        let mut sub = store.subscribe_changes();
        assert_eq!(sub.wait_past(0).await.unwrap(), seq);
        store.close().await;
        assert!(matches!(sub.wait_past(seq).await, Err(StorageError::Closed)));
    }

    #[tokio::test]
    async fn feed_seq_survives_reopen() {
        let (dir, store) = temp_store().await;
        let seq = store.write(|tx| record_change(tx, "event:e1", "check_in", "c1")).await.unwrap();
        store.close().await;
        let store = super::super::Store::open(dir.path()).await.unwrap();
        assert_eq!(store.subscribe_changes().latest(), seq);
    }
}

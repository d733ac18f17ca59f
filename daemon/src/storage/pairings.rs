//! Paired page devices (`node/pairings.rs`): a browser paired once with `cec open kiosk --pair`
//! keeps a long-lived session cookie naming its pairing; the row says whether the pairing still
//! holds. Only the pairing's random id is stored, never the cookie.

use rusqlite::{Connection, Transaction, params};

use super::StorageError;

/// A pairing as stored. Times are ms since the epoch on the node's clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairingRow {
    /// Random, 128 bits, base64url: the cookie names it.
    pub id: String,
    /// The page it opens (`kiosk`).
    pub page: String,
    /// What the operator called the device (may be empty).
    pub label: String,
    /// When the browser was paired.
    pub paired_at: i64,
    /// When its latest cookie expires (renewal moves it).
    pub expires_at: i64,
    /// When it was ended, if it was.
    pub ended_at: Option<i64>,
}

/// Stores a new pairing.
pub fn put_pairing(tx: &Transaction<'_>, row: &PairingRow) -> Result<(), StorageError> {
    tx.prepare_cached(
        "INSERT INTO page_pairings (id, page, label, paired_at, expires_at, ended_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![row.id, row.page, row.label, row.paired_at, row.expires_at, row.ended_at])?;
    Ok(())
}

/// Moves a pairing's expiry to `expires_at` (a renewed cookie); false if it is unknown or ended.
pub fn renew_pairing(tx: &Transaction<'_>, id: &str, expires_at: i64) -> Result<bool, StorageError> {
    let n = tx
        .prepare_cached("UPDATE page_pairings SET expires_at = max(expires_at, ?2) WHERE id = ?1 AND ended_at IS NULL")?
        .execute(params![id, expires_at])?;
    Ok(n > 0)
}

/// Ends a pairing at `at`; an ended one keeps its first end. The row as it now stands, or
/// `None` if there is no such pairing.
pub fn end_pairing(tx: &Transaction<'_>, id: &str, at: i64) -> Result<Option<PairingRow>, StorageError> {
    tx.prepare_cached("UPDATE page_pairings SET ended_at = ?2 WHERE id = ?1 AND ended_at IS NULL")?
        .execute(params![id, at])?;
    Ok(list_pairings(tx)?.into_iter().find(|p| p.id == id))
}

/// Every pairing, oldest first.
pub fn list_pairings(conn: &Connection) -> Result<Vec<PairingRow>, StorageError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, page, label, paired_at, expires_at, ended_at FROM page_pairings ORDER BY paired_at, id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(PairingRow {
            id: r.get(0)?,
            page: r.get(1)?,
            label: r.get(2)?,
            paired_at: r.get(3)?,
            expires_at: r.get(4)?,
            ended_at: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::super::Store;
    use super::*;

    #[tokio::test]
    async fn a_pairing_is_renewed_until_it_is_ended_and_ends_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        let row = PairingRow {
            id: "p1".into(),
            page: "kiosk".into(),
            label: "door A".into(),
            paired_at: 10,
            expires_at: 100,
            ended_at: None,
        };
        let r = row.clone();
        store.write(move |tx| put_pairing(tx, &r)).await.unwrap();
        assert!(store.write(|tx| renew_pairing(tx, "p1", 200)).await.unwrap());
        // A renewal that arrives late never moves the expiry back.
        assert!(store.write(|tx| renew_pairing(tx, "p1", 150)).await.unwrap());
        assert!(!store.write(|tx| renew_pairing(tx, "nope", 200)).await.unwrap());
        let ended = store.write(|tx| end_pairing(tx, "p1", 300)).await.unwrap();
        assert_eq!(ended, Some(PairingRow { expires_at: 200, ended_at: Some(300), ..row.clone() }));
        let again = store.write(|tx| end_pairing(tx, "p1", 400)).await.unwrap();
        assert_eq!(again.and_then(|p| p.ended_at), Some(300), "the first end stands");
        assert!(!store.write(|tx| renew_pairing(tx, "p1", 500)).await.unwrap(), "an ended pairing stays ended");
        assert_eq!(store.write(|tx| end_pairing(tx, "nope", 1)).await.unwrap(), None);
        assert_eq!(store.read(list_pairings).await.unwrap().len(), 1);
        store.close().await;
    }
}

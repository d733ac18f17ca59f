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
    /// When it expires: its latest cookie's expiry, cut to `renewed_at` + the current
    /// `kiosk_pairing_days` at each start ([`apply_pairing_lifetime`]).
    pub expires_at: i64,
    /// When its browser last got a cookie (paired or renewed).
    pub renewed_at: i64,
    /// When it was ended, if it was.
    pub ended_at: Option<i64>,
}

/// Stores a new pairing.
pub fn put_pairing(tx: &Transaction<'_>, row: &PairingRow) -> Result<(), StorageError> {
    tx.prepare_cached(
        "INSERT INTO page_pairings (id, page, label, paired_at, expires_at, ended_at, renewed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![row.id, row.page, row.label, row.paired_at, row.expires_at, row.ended_at, row.renewed_at])?;
    Ok(())
}

/// Records a renewal at `at` with a cookie valid until `expires_at`: both only move forward (a
/// renewal that arrives late changes nothing); false if the pairing is unknown or ended.
pub fn renew_pairing(tx: &Transaction<'_>, id: &str, at: i64, expires_at: i64) -> Result<bool, StorageError> {
    let n = tx
        .prepare_cached(
            "UPDATE page_pairings SET expires_at = max(expires_at, ?3), renewed_at = max(coalesce(renewed_at, ?2), ?2)
             WHERE id = ?1 AND ended_at IS NULL",
        )?
        .execute(params![id, at, expires_at])?;
    Ok(n > 0)
}

/// Applies the current pairing lifetime (`lifetime_ms`, from `kiosk_pairing_days`) to the
/// pairings already issued, at start: a pairing expires at most `lifetime_ms` after its last
/// renewal, whatever expiry its cookie was issued with. The cut is stored, so raising the
/// setting later revives nothing. A pairing from before renewals were recorded (migration 12)
/// is taken to have been renewed under the current setting (`expires_at - lifetime_ms`, not
/// before it was paired): its expiry stands until the setting is next lowered. Answers how many
/// pairings' expiries were cut.
pub fn apply_pairing_lifetime(tx: &Transaction<'_>, lifetime_ms: i64) -> Result<usize, StorageError> {
    tx.prepare_cached(
        "UPDATE page_pairings SET renewed_at = max(paired_at, expires_at - ?1)
         WHERE renewed_at IS NULL",
    )?
    .execute(params![lifetime_ms])?;
    let cut = tx
        .prepare_cached(
            "UPDATE page_pairings SET expires_at = renewed_at + ?1
             WHERE ended_at IS NULL AND renewed_at + ?1 < expires_at",
        )?
        .execute(params![lifetime_ms])?;
    Ok(cut)
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
        "SELECT id, page, label, paired_at, expires_at, ended_at, coalesce(renewed_at, paired_at)
         FROM page_pairings ORDER BY paired_at, id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(PairingRow {
            id: r.get(0)?,
            page: r.get(1)?,
            label: r.get(2)?,
            paired_at: r.get(3)?,
            expires_at: r.get(4)?,
            ended_at: r.get(5)?,
            renewed_at: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::super::Store;
    use super::*;

    fn row(id: &str, paired_at: i64, expires_at: i64) -> PairingRow {
        PairingRow {
            id: id.into(),
            page: "kiosk".into(),
            label: "door A".into(),
            paired_at,
            expires_at,
            renewed_at: paired_at,
            ended_at: None,
        }
    }

    #[tokio::test]
    async fn a_pairing_is_renewed_until_it_is_ended_and_ends_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        let row = row("p1", 10, 100);
        let r = row.clone();
        store.write(move |tx| put_pairing(tx, &r)).await.unwrap();
        assert!(store.write(|tx| renew_pairing(tx, "p1", 60, 200)).await.unwrap());
        // A renewal that arrives late never moves the expiry or the renewal back.
        assert!(store.write(|tx| renew_pairing(tx, "p1", 50, 150)).await.unwrap());
        assert!(!store.write(|tx| renew_pairing(tx, "nope", 60, 200)).await.unwrap());
        let ended = store.write(|tx| end_pairing(tx, "p1", 300)).await.unwrap();
        assert_eq!(ended, Some(PairingRow { expires_at: 200, renewed_at: 60, ended_at: Some(300), ..row.clone() }));
        let again = store.write(|tx| end_pairing(tx, "p1", 400)).await.unwrap();
        assert_eq!(again.and_then(|p| p.ended_at), Some(300), "the first end stands");
        assert!(!store.write(|tx| renew_pairing(tx, "p1", 500, 500)).await.unwrap(), "an ended pairing stays ended");
        assert_eq!(store.write(|tx| end_pairing(tx, "nope", 1)).await.unwrap(), None);
        assert_eq!(store.read(list_pairings).await.unwrap().len(), 1);
        store.close().await;
    }

    #[tokio::test]
    async fn a_lower_lifetime_cuts_expiries_from_the_last_renewal_and_fills_in_old_rows() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        for r in [row("fresh", 0, 300), row("renewed", 0, 300), row("ended", 0, 300)] {
            store.write(move |tx| put_pairing(tx, &r)).await.unwrap();
        }
        store.write(|tx| renew_pairing(tx, "renewed", 200, 500)).await.unwrap();
        store.write(|tx| end_pairing(tx, "ended", 50)).await.unwrap();
        // Rows from before migration 12 have no renewal: taken as renewed under the lifetime
        // in force at the first start (expires_at - lifetime), never before they were paired.
        store
            .write(|tx| {
                tx.execute("INSERT INTO page_pairings (id, page, label, paired_at, expires_at) VALUES ('old', 'kiosk', '', 0, 1000), ('young', 'kiosk', '', 900, 1000)", [])?;
                Ok(())
            })
            .await
            .unwrap();
        // Unchanged lifetime (300): nothing is cut.
        assert_eq!(store.write(|tx| apply_pairing_lifetime(tx, 300)).await.unwrap(), 0);
        let by_id = |rows: Vec<PairingRow>| -> std::collections::HashMap<String, (i64, i64)> {
            rows.into_iter().map(|p| (p.id, (p.renewed_at, p.expires_at))).collect()
        };
        let rows = by_id(store.read(list_pairings).await.unwrap());
        assert_eq!(rows["old"], (700, 1000));
        assert_eq!(rows["young"], (900, 1000));
        // Lowered to 100: every pairing expires 100 after its last renewal, an ended one aside.
        assert_eq!(store.write(|tx| apply_pairing_lifetime(tx, 100)).await.unwrap(), 3);
        let rows = by_id(store.read(list_pairings).await.unwrap());
        assert_eq!(rows["fresh"], (0, 100));
        assert_eq!(rows["renewed"], (200, 300));
        assert_eq!(rows["ended"], (0, 300));
        assert_eq!(rows["old"], (700, 800));
        assert_eq!(rows["young"], (900, 1000));
        // Raised again: the cut stands.
        assert_eq!(store.write(|tx| apply_pairing_lifetime(tx, 1000)).await.unwrap(), 0);
        assert_eq!(by_id(store.read(list_pairings).await.unwrap())["fresh"], (0, 100));
        store.close().await;
    }
}

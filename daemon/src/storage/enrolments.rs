//! Enrolment codes (central node) and the revocations a node knows.
//!
//! A code is stored by the SHA-256 of its secret, never the secret. Claiming one checks its
//! expiry and uses and spends a use in one transaction (the writer thread runs one job at a
//! time), so two kiosks racing for the last use cannot both get it. A node that claims a code
//! it already used is answered again without spending another use: its first answer may have
//! been lost on the way.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::{StorageError, now_ms};

/// An enrolment code to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCode {
    /// SHA-256 of the code's secret.
    pub secret_sha256: [u8; 32],
    /// The role it grants.
    pub role: String,
    /// The scopes it grants, comma-separated.
    pub scopes: String,
    /// How many nodes may use it.
    pub uses: i64,
    /// Until when (ms since the epoch) it may be used.
    pub expires_at: i64,
    /// When the credentials it gives expire (ms since the epoch).
    pub credential_expires_at: i64,
}

/// What claiming a code gave.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Claim {
    /// A use was spent (or this node had spent one before): sign it a credential.
    Granted {
        /// The role.
        role: String,
        /// The scopes, comma-separated.
        scopes: String,
        /// When the credential expires (ms since the epoch).
        credential_expires_at: i64,
    },
    /// No such code.
    Unknown,
    /// Past its expiry (ms since the epoch).
    Expired(i64),
    /// Every use was spent (how many it had).
    UsedUp(i64),
}

/// Stores a new code.
pub fn put_enrolment_code(tx: &Transaction<'_>, code: &NewCode) -> Result<(), StorageError> {
    tx.prepare_cached(
        "INSERT INTO enrolment_codes
             (secret_sha256, role, scopes, uses, uses_left, expires_at, credential_expires_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        &code.secret_sha256[..],
        code.role,
        code.scopes,
        code.uses,
        code.expires_at,
        code.credential_expires_at,
        now_ms()
    ])?;
    Ok(())
}

/// Claims a use of the code whose secret hashes to `secret_sha256` for `node_id` at `now`
/// (ms since the epoch).
pub fn claim_enrolment_code(
    tx: &Transaction<'_>,
    secret_sha256: &[u8; 32],
    node_id: &str,
    now: i64,
) -> Result<Claim, StorageError> {
    let row = tx
        .prepare_cached(
            "SELECT role, scopes, uses, uses_left, expires_at, credential_expires_at
             FROM enrolment_codes WHERE secret_sha256 = ?1",
        )?
        .query_row([&secret_sha256[..]], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, i64>(5)?,
            ))
        })
        .optional()?;
    let Some((role, scopes, uses, uses_left, expires_at, credential_expires_at)) = row else {
        return Ok(Claim::Unknown);
    };
    if now >= expires_at {
        return Ok(Claim::Expired(expires_at));
    }
    let used_before = tx
        .prepare_cached("SELECT 1 FROM enrolment_uses WHERE secret_sha256 = ?1 AND node_id = ?2")?
        .query_row(params![&secret_sha256[..], node_id], |_| Ok(()))
        .optional()?
        .is_some();
    if !used_before {
        if uses_left <= 0 {
            return Ok(Claim::UsedUp(uses));
        }
        tx.prepare_cached("UPDATE enrolment_codes SET uses_left = uses_left - 1 WHERE secret_sha256 = ?1")?
            .execute([&secret_sha256[..]])?;
        tx.prepare_cached("INSERT INTO enrolment_uses (secret_sha256, node_id, used_at) VALUES (?1, ?2, ?3)")?
            .execute(params![&secret_sha256[..], node_id, now])?;
    }
    Ok(Claim::Granted { role, scopes, credential_expires_at })
}

/// A revocation as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationRow {
    /// The revoked node.
    pub node_id: String,
    /// When it was revoked (ms since the epoch).
    pub revoked_at: i64,
    /// The signed entry, as the organization key signed it.
    pub entry: String,
}

/// Stores a revocation unless one for that node is known; true if it was new.
pub fn put_revocation(tx: &Transaction<'_>, row: &RevocationRow) -> Result<bool, StorageError> {
    let n = tx
        .prepare_cached("INSERT OR IGNORE INTO revocations (node_id, revoked_at, entry) VALUES (?1, ?2, ?3)")?
        .execute(params![row.node_id, row.revoked_at, row.entry])?;
    Ok(n > 0)
}

/// Every known revocation, by node id.
pub fn list_revocations(conn: &Connection) -> Result<Vec<RevocationRow>, StorageError> {
    let mut stmt = conn.prepare_cached("SELECT node_id, revoked_at, entry FROM revocations ORDER BY node_id")?;
    let rows =
        stmt.query_map([], |r| Ok(RevocationRow { node_id: r.get(0)?, revoked_at: r.get(1)?, entry: r.get(2)? }))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::super::Store;
    use super::*;

    #[tokio::test]
    async fn codes_are_spent_once_per_node_and_refused_when_used_up_or_expired() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        let code = NewCode {
            secret_sha256: [1; 32],
            role: "kiosk".into(),
            scopes: "event:E1".into(),
            uses: 2,
            expires_at: 1_000,
            credential_expires_at: 5_000,
        };
        let c = code.clone();
        store.write(move |tx| put_enrolment_code(tx, &c)).await.unwrap();
        let claim = |node: &'static str, now: i64, secret: [u8; 32]| {
            let store = store.clone();
            async move { store.write(move |tx| claim_enrolment_code(tx, &secret, node, now)).await.unwrap() }
        };
        let granted = Claim::Granted { role: "kiosk".into(), scopes: "event:E1".into(), credential_expires_at: 5_000 };
        assert_eq!(claim("a", 10, [1; 32]).await, granted);
        // The same node again: answered, no use spent.
        assert_eq!(claim("a", 11, [1; 32]).await, granted);
        assert_eq!(claim("b", 12, [1; 32]).await, granted);
        assert_eq!(claim("c", 13, [1; 32]).await, Claim::UsedUp(2));
        assert_eq!(claim("a", 1_000, [1; 32]).await, Claim::Expired(1_000));
        assert_eq!(claim("a", 10, [2; 32]).await, Claim::Unknown);
        store.close().await;
    }

    #[tokio::test]
    async fn revocations_are_a_union() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        let row = |id: &str, at: i64| RevocationRow { node_id: id.into(), revoked_at: at, entry: format!("e{at}") };
        let (a, b, a2) = (row("na", 1), row("nb", 2), row("na", 3));
        assert!(store.write(move |tx| put_revocation(tx, &a)).await.unwrap());
        assert!(store.write(move |tx| put_revocation(tx, &b)).await.unwrap());
        assert!(!store.write(move |tx| put_revocation(tx, &a2)).await.unwrap());
        let all = store.read(list_revocations).await.unwrap();
        assert_eq!(all, vec![row("na", 1), row("nb", 2)]);
        store.close().await;
    }
}

//! The schema, as an ordered list of migrations tracked by `PRAGMA user_version`.
//!
//! Migration `i` (0-based) takes the schema from version `i` to version `i + 1`. Each runs in its
//! own `BEGIN IMMEDIATE` transaction together with the `user_version` bump, so a crash leaves the
//! store at a whole version. **Append only**: never edit or reorder a migration that has shipped;
//! add a new one at the end (index tables for check-ins and portfolio entries go here).

use rusqlite::{Connection, TransactionBehavior};

use super::StorageError;

/// The migrations, oldest first. The schema version of a store is the number applied.
pub const MIGRATIONS: &[&str] = &[
    // 1: documents, sync state, the change feed and blobs.
    r#"
    CREATE TABLE docs (
        doc_id      TEXT PRIMARY KEY NOT NULL,
        last_seq    INTEGER NOT NULL,
        chunk_count INTEGER NOT NULL,
        created_at  INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE doc_chunks (
        doc_id TEXT NOT NULL REFERENCES docs (doc_id) ON DELETE CASCADE,
        seq    INTEGER NOT NULL,
        bytes  BLOB NOT NULL,
        PRIMARY KEY (doc_id, seq)
    ) STRICT;

    CREATE TABLE doc_snapshots (
        doc_id       TEXT PRIMARY KEY NOT NULL REFERENCES docs (doc_id) ON DELETE CASCADE,
        bytes        BLOB NOT NULL,
        up_to_seq    INTEGER NOT NULL,
        compacted_at INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE peer_sync_states (
        peer_id    TEXT NOT NULL,
        doc_id     TEXT NOT NULL,
        state      BLOB NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (peer_id, doc_id)
    ) STRICT;

    CREATE TABLE changes (
        seq    INTEGER PRIMARY KEY AUTOINCREMENT,
        doc_id TEXT NOT NULL,
        kind   TEXT NOT NULL,
        id     TEXT NOT NULL,
        at     INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE blobs (
        sha256     TEXT PRIMARY KEY NOT NULL CHECK (length(sha256) = 64),
        size       INTEGER NOT NULL,
        created_at INTEGER NOT NULL
    ) STRICT, WITHOUT ROWID;
    "#,
    // 2: the check-in index, derived from attendance documents (rebuilt from them when empty).
    r#"
    CREATE TABLE checkin_index (
        id          TEXT PRIMARY KEY NOT NULL,
        event_id    TEXT NOT NULL,
        session_id  TEXT NOT NULL,
        member_id   TEXT NOT NULL,
        direction   TEXT NOT NULL,
        at          TEXT NOT NULL,
        method      TEXT NOT NULL,
        kiosk_id    TEXT NOT NULL,
        recorded_at TEXT NOT NULL
    ) STRICT;
    CREATE INDEX checkin_by_member ON checkin_index (member_id, event_id, session_id);
    CREATE INDEX checkin_by_session ON checkin_index (event_id, session_id, id);
    "#,
    // 3: the portfolio entry index, derived from portfolio documents (rebuilt when empty).
    r#"
    CREATE TABLE entry_index (
        member_id TEXT NOT NULL,
        entry_id  TEXT NOT NULL,
        kind      TEXT NOT NULL,
        date      TEXT NOT NULL,
        title     TEXT NOT NULL,
        PRIMARY KEY (member_id, entry_id)
    ) STRICT;
    CREATE INDEX entry_by_date ON entry_index (member_id, date, entry_id);
    "#,
    // 4: each document's heads beside it (a sync manifest needs no document loaded), and the
    // version of the projection (index rows, change feed) its derived rows were made with, so a
    // newer projection rebuilds them per document.
    r#"
    ALTER TABLE docs ADD COLUMN heads BLOB NOT NULL DEFAULT x'';
    ALTER TABLE docs ADD COLUMN projection INTEGER NOT NULL DEFAULT 0;
    "#,
    // 5: the peers this node syncs with, and how the last syncs went.
    r#"
    CREATE TABLE peers (
        peer_id    TEXT PRIMARY KEY NOT NULL,
        url        TEXT NOT NULL,
        source     TEXT NOT NULL,
        role       TEXT,
        added_at   INTEGER NOT NULL,
        last_seen  INTEGER,
        last_sync  INTEGER,
        last_error TEXT
    ) STRICT;
    "#,
    // 6: enrolment codes the central node issued (only the SHA-256 of each secret), which node
    // used which code (a retried enrolment is answered again without spending a use), and the
    // revocations this node knows (signed by the organization key; the list travels with sync).
    r#"
    CREATE TABLE enrolment_codes (
        secret_sha256         BLOB PRIMARY KEY NOT NULL CHECK (length(secret_sha256) = 32),
        role                  TEXT NOT NULL,
        scopes                TEXT NOT NULL,
        uses                  INTEGER NOT NULL,
        uses_left             INTEGER NOT NULL CHECK (uses_left >= 0),
        expires_at            INTEGER NOT NULL,
        credential_expires_at INTEGER NOT NULL,
        created_at            INTEGER NOT NULL
    ) STRICT, WITHOUT ROWID;

    CREATE TABLE enrolment_uses (
        secret_sha256 BLOB NOT NULL REFERENCES enrolment_codes (secret_sha256) ON DELETE CASCADE,
        node_id       TEXT NOT NULL,
        used_at       INTEGER NOT NULL,
        PRIMARY KEY (secret_sha256, node_id)
    ) STRICT, WITHOUT ROWID;

    CREATE TABLE revocations (
        node_id    TEXT PRIMARY KEY NOT NULL,
        revoked_at INTEGER NOT NULL,
        entry      TEXT NOT NULL
    ) STRICT;
    "#,
    // 7: voids of check-ins (corrections), derived from attendance documents like the check-in
    // index; stores from before hold no voids, so nothing needs rebuilding.
    r#"
    CREATE TABLE checkin_voids (
        checkin_id TEXT PRIMARY KEY NOT NULL,
        event_id   TEXT NOT NULL,
        session_id TEXT NOT NULL,
        by_node    TEXT NOT NULL,
        at         TEXT NOT NULL,
        reason     TEXT NOT NULL
    ) STRICT;
    CREATE INDEX checkin_voids_by_session ON checkin_voids (event_id, session_id);
    "#,
    // 8: other nodes' clock offsets as measured at each sync (`cec_core::sync::clock`): runs of
    // agreeing measurements per node, times in ms since the epoch on this node's clock,
    // `offset_ms` = that node's clock minus this one's. Keyed by node id, not by peer row: the
    // central node measures kiosks that sync with it but are not its peers.
    r#"
    CREATE TABLE clock_runs (
        node_id       TEXT NOT NULL,
        first_at      INTEGER NOT NULL,
        last_at       INTEGER NOT NULL,
        offset_ms     INTEGER NOT NULL,
        round_trip_ms INTEGER NOT NULL CHECK (round_trip_ms >= 0),
        PRIMARY KEY (node_id, first_at)
    ) STRICT, WITHOUT ROWID;
    "#,
    // 9: how far background followers of the change feed got (the central node's derivation),
    // so a restart resumes there instead of going through the whole feed again.
    r#"
    CREATE TABLE feed_cursors (
        name TEXT PRIMARY KEY NOT NULL,
        seq  INTEGER NOT NULL
    ) STRICT;
    "#,
    // 10: browsers paired with the node (`cec open kiosk --pair`): their session cookies name a
    // row here, which says whether the pairing still holds (times in ms on the node's clock).
    r#"
    CREATE TABLE page_pairings (
        id         TEXT PRIMARY KEY NOT NULL,
        page       TEXT NOT NULL,
        label      TEXT NOT NULL,
        paired_at  INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        ended_at   INTEGER
    ) STRICT;
    "#,
    // 11: retention on kiosks (`node::retention`): the events this node dropped once they had
    // ended and the central node held them, and each document dropped with the heads the
    // central node's sync state covered. Sync leaves every document of a retired event out, so
    // none comes back.
    r#"
    CREATE TABLE retired_events (
        event_id    TEXT PRIMARY KEY NOT NULL,
        provider_id TEXT NOT NULL,
        ended_at    INTEGER NOT NULL,
        retired_at  INTEGER NOT NULL,
        central_id  TEXT NOT NULL,
        documents   INTEGER NOT NULL,
        checkins    INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE retired_docs (
        doc_id     TEXT PRIMARY KEY NOT NULL,
        event_id   TEXT NOT NULL REFERENCES retired_events (event_id),
        heads      BLOB NOT NULL,
        retired_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX retired_docs_by_event ON retired_docs (event_id);
    "#,
    // 12: when a pairing was last renewed (its browser last used), so that a lowered
    // `kiosk_pairing_days` shortens the pairings already issued (`node::pairings`). Rows from
    // before have none; the node's first start on this schema fills it in (`storage::pairings`).
    r#"
    ALTER TABLE page_pairings ADD COLUMN renewed_at INTEGER;
    "#,
    // 13: the check-in log (`node::checkins`): check-ins acknowledged and indexed but not yet
    // written into their attendance document. A check-in is acknowledged once its row here and
    // its index row commit; the check-in writer folds the log into the documents later, many
    // check-ins per Automerge change, and deletes the rows in the fold's transaction. A start
    // folds whatever a crash left here.
    r#"
    CREATE TABLE checkin_log (
        id          TEXT PRIMARY KEY NOT NULL,
        event_id    TEXT NOT NULL,
        session_id  TEXT NOT NULL,
        member_id   TEXT NOT NULL,
        direction   TEXT NOT NULL,
        at          TEXT NOT NULL,
        method      TEXT NOT NULL,
        kiosk_id    TEXT NOT NULL,
        recorded_at TEXT NOT NULL
    ) STRICT, WITHOUT ROWID;
    "#,
    // 14: decoded views of event and portfolio documents (`node::docs`), written with each
    // change, so that a read of a document not in memory decodes a small serialized value
    // instead of loading and walking the Automerge document. A view is used only while its
    // heads are the document's heads in `docs` and its version is the binary's; any other is
    // ignored and written again.
    r#"
    CREATE TABLE doc_views (
        doc_id  TEXT PRIMARY KEY NOT NULL,
        heads   BLOB NOT NULL,
        version INTEGER NOT NULL,
        view    BLOB NOT NULL
    ) STRICT;
    "#,
    // 15: the check-in log in the order logged, appended to (`node::checkins`): a rowid table
    // with no other key, so that acknowledging a check-in writes one row at the end of one
    // B-tree. Its index row and feed entry are written when it is folded into its document.
    r#"
    CREATE TABLE checkin_log_seq (
        seq         INTEGER PRIMARY KEY,
        id          TEXT NOT NULL,
        event_id    TEXT NOT NULL,
        session_id  TEXT NOT NULL,
        member_id   TEXT NOT NULL,
        direction   TEXT NOT NULL,
        at          TEXT NOT NULL,
        method      TEXT NOT NULL,
        kiosk_id    TEXT NOT NULL,
        recorded_at TEXT NOT NULL
    ) STRICT;
    INSERT INTO checkin_log_seq (id, event_id, session_id, member_id, direction, at, method, kiosk_id, recorded_at)
        SELECT id, event_id, session_id, member_id, direction, at, method, kiosk_id, recorded_at
        FROM checkin_log ORDER BY event_id, session_id, id;
    DROP TABLE checkin_log;
    ALTER TABLE checkin_log_seq RENAME TO checkin_log;
    "#,
    // 16: the check-in log moved into a database of its own (`LOG_FILE`, `Store::open_log`); the
    // table above is only emptied into it at open. A binary from before would not see what is
    // logged there, so this version keeps it from opening the store. `log_database` holds one
    // row once the log's database was created: a store that has it and no log file is refused.
    r#"
    CREATE TABLE log_database (
        id         INTEGER PRIMARY KEY CHECK (id = 1),
        created_at INTEGER NOT NULL
    ) STRICT;
    "#,
];

/// The migrations of the check-in log's own database ([`super::LOG_FILE`]), oldest first: the
/// log moved out of the main database so that acknowledging a check-in never waits behind the
/// main writer's transactions (see `node::checkins`). Main's own `checkin_log` (migration 15)
/// stays in its schema, emptied into this one when a node opens.
pub(super) const LOG_MIGRATIONS: &[&str] = &[
    // 1: the check-in log, as main's migration 15 left it.
    r#"
    CREATE TABLE checkin_log (
        seq         INTEGER PRIMARY KEY,
        id          TEXT NOT NULL,
        event_id    TEXT NOT NULL,
        session_id  TEXT NOT NULL,
        member_id   TEXT NOT NULL,
        direction   TEXT NOT NULL,
        at          TEXT NOT NULL,
        method      TEXT NOT NULL,
        kiosk_id    TEXT NOT NULL,
        recorded_at TEXT NOT NULL
    ) STRICT;
    "#,
];

/// The schema version this binary writes.
pub fn schema_version() -> i64 {
    i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX)
}

/// Brings a database up to the version of `migrations` ([`MIGRATIONS`] for the main one,
/// [`LOG_MIGRATIONS`] for the check-in log's), one transaction per migration. Refuses a
/// database whose version is newer than this binary knows. Returns the version before.
pub(crate) fn migrate_with(conn: &mut Connection, migrations: &[&str]) -> Result<i64, StorageError> {
    let supported = i64::try_from(migrations.len()).unwrap_or(i64::MAX);
    let initial = user_version(conn)?;
    if initial > supported {
        return Err(StorageError::SchemaTooNew { found: initial, supported });
    }
    for (index, sql) in migrations.iter().enumerate() {
        let version = i64::try_from(index + 1).unwrap_or(i64::MAX);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Re-read under the write lock: another process may have migrated meanwhile.
        let current = user_version(&tx)?;
        if current > supported {
            return Err(StorageError::SchemaTooNew { found: current, supported });
        }
        if current >= version {
            continue;
        }
        tx.execute_batch(sql)
            .and_then(|()| tx.pragma_update(None, "user_version", version))
            .map_err(|source| StorageError::Migration { version, source })?;
        tx.commit().map_err(|source| StorageError::Migration { version, source })?;
        tracing::info!(version, "applied storage migration");
    }
    Ok(initial)
}

/// The `user_version` of the database.
pub(crate) fn user_version(conn: &Connection) -> Result<i64, StorageError> {
    Ok(conn.pragma_query_value(None, "user_version", |row| row.get(0))?)
}

#[cfg(test)]
mod tests {
    use super::super::Store;
    use super::*;

    fn table_exists(conn: &Connection, name: &str) -> bool {
        conn.query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1", [name], |row| {
            row.get::<_, i64>(0)
        })
        .unwrap()
            == 1
    }

    /// A log written by a binary before migration 15 (keyed by id) is carried into the
    /// appended log, every row kept, numbered in the order the fold used to take them.
    #[test]
    fn the_checkin_log_keeps_its_rows_when_it_becomes_appended() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate_with(&mut conn, &MIGRATIONS[..14]).unwrap();
        conn.execute_batch(
            "INSERT INTO checkin_log VALUES ('b', 'E', 'S2', 'M1', 'in', 'T1', 'badge', 'k', 'T2');
             INSERT INTO checkin_log VALUES ('a', 'E', 'S2', 'M2', 'out', 'T3', 'qr', 'k', 'T4');
             INSERT INTO checkin_log VALUES ('c', 'E', 'S1', 'M3', 'in', 'T5', 'badge', 'k', 'T6');",
        )
        .unwrap();
        migrate_with(&mut conn, MIGRATIONS).unwrap();
        let rows: Vec<(i64, String, String, String)> = conn
            .prepare("SELECT seq, id, session_id, direction FROM checkin_log ORDER BY seq")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let ids: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
        assert_eq!(ids, ["c", "a", "b"]);
        assert!(rows.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(rows[1].3, "out");
    }

    #[tokio::test]
    async fn fresh_store_gets_every_migration_and_reopen_is_a_no_op() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        let version = store.read(user_version).await.unwrap();
        assert_eq!(version, schema_version());
        assert!(version >= 1);
        store.close().await;

        let mut conn = Connection::open(dir.path().join(super::super::DB_FILE)).unwrap();
        for table in ["docs", "doc_chunks", "doc_snapshots", "peer_sync_states", "changes", "blobs"] {
            assert!(table_exists(&conn, table), "{table}");
        }
        // Running them again changes nothing (they would fail if re-executed).
        assert_eq!(migrate_with(&mut conn, MIGRATIONS).unwrap(), schema_version());
        assert_eq!(user_version(&conn).unwrap(), schema_version());
        drop(conn);
        let store = Store::open(dir.path()).await.unwrap();
        assert_eq!(store.read(user_version).await.unwrap(), schema_version());
    }

    #[test]
    fn appended_migrations_apply_in_order_and_a_failing_one_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("m.sqlite3")).unwrap();
        let one = "CREATE TABLE a (x INTEGER) STRICT;";
        let two = "CREATE TABLE b (x INTEGER) STRICT; INSERT INTO b VALUES (1);";
        assert_eq!(migrate_with(&mut conn, &[one]).unwrap(), 0);
        assert_eq!(user_version(&conn).unwrap(), 1);
        assert_eq!(migrate_with(&mut conn, &[one, two]).unwrap(), 1);
        assert_eq!(user_version(&conn).unwrap(), 2);
        assert!(table_exists(&conn, "b"));

        let bad = "CREATE TABLE c (x INTEGER); INSERT INTO nowhere VALUES (1);";
        let err = migrate_with(&mut conn, &[one, two, bad]).unwrap_err();
        assert!(matches!(err, StorageError::Migration { version: 3, .. }), "{err}");
        assert_eq!(user_version(&conn).unwrap(), 2);
        assert!(!table_exists(&conn, "c"), "the failed migration was rolled back");
    }

    #[tokio::test]
    async fn a_store_from_a_newer_binary_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        Store::open(dir.path()).await.unwrap().close().await;
        let conn = Connection::open(dir.path().join(super::super::DB_FILE)).unwrap();
        conn.pragma_update(None, "user_version", schema_version() + 1).unwrap();
        drop(conn);
        let err = Store::open(dir.path()).await.unwrap_err();
        assert!(
            matches!(err, StorageError::SchemaTooNew { found, supported }
                if found == schema_version() + 1 && supported == schema_version()),
            "{err}"
        );
        assert!(err.to_string().contains("newer"));
    }
}

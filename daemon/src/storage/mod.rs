//! Storage: SQLite (WAL) plus content-addressed blob files, behind one [`Store`].
//!
//! - One dedicated thread owns the only write connection and commits concurrent writes in
//!   batches ([`Store::write`], group commit); a write is acknowledged only once committed with
//!   `synchronous=FULL`.
//! - Reads run on a small pool of read-only connections ([`Store::read`]).
//! - The free functions (documents, change feed, sync state) take a `&Transaction` to write
//!   (inside a [`Store::write`] closure) or a `&Connection` to read (inside a [`Store::read`]
//!   closure, or a write closure through `Deref`), so callers compose them with their own index
//!   rows in one transaction.
//!
//! # Documents
//! A document is stored as a snapshot (a whole `AutoCommit::save`) plus the incremental chunks
//! appended after it; [`load_doc`] returns them concatenated for one `AutoCommit::load`, and
//! [`compact_doc`] / [`Store::compact_with_automerge`] fold chunks into a new snapshot.
//!
//! On disk: `<data_dir>/cecd.sqlite3` and `<data_dir>/blobs/ab/abcdef…`. The schema is in
//! `migrations.rs`. The check-in log has a database of its own, `<data_dir>/checkin-log.sqlite3`
//! ([`Store::open_log`]), with its own writer thread: see `node::checkins`.

mod blobs;
mod changes;
mod clocks;
mod compaction;
mod docs;
mod enrolments;
mod error;
mod migrations;
mod pairings;
mod peers;
mod reader;
mod retired;
mod sync_state;
mod writer;

#[cfg(test)]
mod store_tests;
#[cfg(test)]
pub(crate) mod test_util;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction};
use tokio::sync::watch;

pub use blobs::{BlobInfo, is_valid_sha256};
pub use changes::{
    Change, ChangeSubscriber, changes_since, feed_cursor, latest_change_seq, record_change, set_feed_cursor,
};
pub use clocks::{MAX_CLOCK_RUNS, clock_runs, latest_clock_runs, record_clock_sample};
pub use compaction::CompactionOutcome;
pub use docs::{
    LoadedDoc, MAX_DOC_ID_LEN, append_chunk, compact_doc, doc_heads, docs_needing_compaction,
    docs_with_projection_before, list_docs, load_doc, load_doc_at, load_doc_view, put_doc_view, set_doc_heads,
};
pub use enrolments::{
    Claim, NewCode, RevocationRow, claim_enrolment_code, list_revocations, put_enrolment_code, put_revocation,
};
pub use error::{Failure, Place, StorageError};
pub use migrations::{MIGRATIONS, schema_version};
pub use pairings::{PairingRow, apply_pairing_lifetime, end_pairing, list_pairings, put_pairing, renew_pairing};
pub use peers::{PeerRow, delete_peer, get_peer, list_peers, put_discovered_peer, put_peer, record_sync};
pub use retired::{
    RetiredEventRow, delete_doc, put_retired_doc, put_retired_event, retired_docs, retired_events, with_secure_delete,
};
pub use sync_state::{
    delete_sync_state, delete_sync_states_for_peer, get_sync_state, put_sync_state, sync_states_for_peer,
};
pub use writer::StoreStats;

use reader::ReadPool;
use writer::Writer;

/// The database file's name inside the data directory.
pub const DB_FILE: &str = "cecd.sqlite3";
/// The check-in log's database file inside the data directory ([`Store::open_log`]).
pub const LOG_FILE: &str = "checkin-log.sqlite3";
/// The blob directory's name inside the data directory.
pub const BLOB_DIR: &str = "blobs";

/// Tuning knobs of a [`Store`]; `Default` suits a node.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Read-only connections in the read pool.
    pub readers: usize,
    /// The most jobs committed in one transaction.
    pub max_batch: usize,
    /// How long a connection waits for a lock held by another process.
    pub busy_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self { readers: 4, max_batch: 256, busy_timeout: Duration::from_secs(5) }
    }
}

/// The node's storage. Cheap to clone; all clones share one writer thread and read pool.
///
/// Dropping the last clone lets queued writes finish in the background; call
/// [`Store::close`] to wait for that.
#[derive(Debug, Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    data_dir: PathBuf,
    writer: Writer,
    readers: Arc<ReadPool>,
    changes: watch::Receiver<i64>,
}

impl Store {
    /// Opens (creating if needed) the store in `data_dir` with default options.
    pub async fn open(data_dir: impl Into<PathBuf>) -> Result<Self, StorageError> {
        Self::open_with(data_dir, StoreOptions::default()).await
    }

    /// Opens (creating if needed) the store in `data_dir`, applying pending migrations.
    pub async fn open_with(data_dir: impl Into<PathBuf>, options: StoreOptions) -> Result<Self, StorageError> {
        let data_dir = data_dir.into();
        tokio::task::spawn_blocking(move || Self::open_blocking(data_dir, options))
            .await
            .map_err(|_| StorageError::Panicked)?
    }

    /// [`Store::open_with`] for callers outside an async context.
    pub fn open_blocking(data_dir: impl Into<PathBuf>, options: StoreOptions) -> Result<Self, StorageError> {
        let data_dir = data_dir.into();
        std::fs::create_dir_all(&data_dir)?;
        blobs::prepare_dir(&data_dir.join(BLOB_DIR))?;
        Self::open_file(data_dir, DB_FILE, MIGRATIONS, options)
    }

    /// Opens (creating if needed) the check-in log's own database in `data_dir` ([`LOG_FILE`]):
    /// one table, appended to by the check-in writer and emptied by the folds, with a writer
    /// thread of its own, so that acknowledging a check-in never waits for a transaction of the
    /// main database (a fold, a sync, a checkpoint). Durable as the main store is.
    pub async fn open_log(data_dir: impl Into<PathBuf>) -> Result<Self, StorageError> {
        let data_dir = data_dir.into();
        let options = StoreOptions { readers: 1, ..StoreOptions::default() };
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&data_dir)?;
            Self::open_file(data_dir, LOG_FILE, migrations::LOG_MIGRATIONS, options)
        })
        .await
        .map_err(|_| StorageError::Panicked)?
    }

    /// Opens database `file` of `data_dir` with `migrations` applied.
    fn open_file(
        data_dir: PathBuf,
        file: &str,
        migrations: &[&str],
        options: StoreOptions,
    ) -> Result<Self, StorageError> {
        let db_path = data_dir.join(file);
        // Created here with mode 0600 (SQLite would use 0644); its journal files take its mode.
        {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new().append(true).create(true).mode(0o600).open(&db_path)?;
        }
        let mut conn = open_write_connection(&db_path, options.busy_timeout)?;
        let before = migrations::migrate_with(&mut conn, migrations)?;
        // Only the main database has a change feed.
        let latest = if file == DB_FILE { latest_change_seq(&conn)? } else { 0 };
        tracing::info!(
            path = %db_path.display(),
            schema_before = before,
            schema = migrations.len(),
            "store opened"
        );
        let (changes_tx, changes) = watch::channel(latest);
        let (name, feed) =
            if file == DB_FILE { ("cecd-storage-writer", Some(changes_tx)) } else { ("cecd-log-writer", None) };
        let writer = Writer::spawn(conn, name, options.max_batch, feed)?;
        let readers = Arc::new(ReadPool::new(db_path, options.readers, options.busy_timeout));
        Ok(Self { inner: Arc::new(Inner { data_dir, writer, readers, changes }) })
    }

    /// The data directory this store lives in.
    pub fn data_dir(&self) -> &Path {
        &self.inner.data_dir
    }

    /// Runs `f` on the writer thread inside a savepoint of a group-commit transaction.
    ///
    /// The job is queued when this is called (so calls keep their order even if the futures
    /// are awaited later) and the future resolves after the batch committed. If `f` returns an
    /// error or panics, only its own writes are rolled back. Dropping the future does not
    /// cancel the job.
    ///
    /// `f` runs on the writer thread while the other jobs of its batch wait: keep it short, do
    /// not end the transaction (`COMMIT`, `RELEASE`) yourself, and never block on another
    /// write from inside it (that would deadlock).
    pub fn write<T, F>(&self, f: F) -> impl Future<Output = Result<T, StorageError>> + Send + 'static + use<T, F>
    where
        F: FnOnce(&Transaction<'_>) -> Result<T, StorageError> + Send + 'static,
        T: Send + 'static,
    {
        self.inner.writer.submit(f)
    }

    /// Runs `jobs` on the writer thread in one group-commit transaction, each in a savepoint
    /// of its own (one failing is rolled back alone); each future resolves once the batch has
    /// ended. The jobs are queued when this is called.
    pub fn write_all<T, F>(
        &self,
        jobs: Vec<F>,
    ) -> Vec<impl Future<Output = Result<T, StorageError>> + Send + 'static + use<T, F>>
    where
        F: FnOnce(&Transaction<'_>) -> Result<T, StorageError> + Send + 'static,
        T: Send + 'static,
    {
        self.inner.writer.submit_all(jobs)
    }

    /// Runs `f` on a read-only connection from the pool, on tokio's blocking threads.
    pub async fn read<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        F: FnOnce(&Connection) -> Result<T, StorageError> + Send + 'static,
        T: Send + 'static,
    {
        self.inner.readers.run(f).await
    }

    /// [`Store::read`] on the calling thread, without the hop to the blocking pool: only for
    /// a few rows read by key on a hot path, where the two thread switches cost more than the
    /// read (in WAL mode a reader never waits for the writer). Falls back to the pool when
    /// every read connection is busy.
    pub async fn read_here<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        F: FnOnce(&Connection) -> Result<T, StorageError> + Send + 'static,
        T: Send + 'static,
    {
        self.inner.readers.run_here(f).await
    }

    /// A snapshot of the writer's counters.
    pub fn stats(&self) -> StoreStats {
        self.inner.writer.stats()
    }

    /// The newest committed change-feed seq (0 for an empty feed). The writer publishes it
    /// before it answers the jobs of the commit that wrote it.
    pub fn latest_change_seq(&self) -> i64 {
        *self.inner.changes.borrow()
    }

    /// A handle that waits for the change feed to move past a seq.
    pub fn subscribe_changes(&self) -> ChangeSubscriber {
        ChangeSubscriber::new(self.inner.changes.clone())
    }

    /// Refuses new reads and writes, lets queued writes finish, and waits until the writer
    /// thread closed its connection. Calling it again (or from another clone) just waits.
    pub async fn close(&self) {
        self.inner.readers.close();
        self.inner.writer.shutdown().await;
    }

    fn blob_dir(&self) -> PathBuf {
        self.inner.data_dir.join(BLOB_DIR)
    }
}

fn open_write_connection(path: &Path, busy_timeout: Duration) -> Result<Connection, StorageError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(busy_timeout)?;
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StorageError::NotWal { mode });
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Each job runs in a savepoint: keep its statement journal in memory, not in a temp file.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    Ok(conn)
}

/// Whether the main database records that the check-in log's database was created
/// (`log_database`, migration 16).
pub fn log_database_recorded(conn: &Connection) -> Result<bool, StorageError> {
    Ok(conn.query_row("SELECT count(*) FROM log_database", [], |r| r.get::<_, i64>(0))? > 0)
}

/// Records that the check-in log's database was created.
pub fn record_log_database(tx: &Transaction<'_>) -> Result<(), StorageError> {
    tx.execute("INSERT OR IGNORE INTO log_database (id, created_at) VALUES (1, ?1)", [now_ms()])?;
    Ok(())
}

/// Milliseconds since the Unix epoch, the unit of every `*_at` column.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

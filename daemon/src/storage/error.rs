//! The one error type of the storage layer.

use std::sync::Arc;

/// Everything that can go wrong in the storage layer.
///
/// Jobs run through [`Store::write`](super::Store::write) return this type too; a job that fails
/// for a reason of its own (a domain rule, say) wraps it with [`StorageError::job`] so its
/// savepoint is rolled back and the caller can downcast it back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// SQLite reported an error.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A file system operation failed.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// SQLite refused to put the database in WAL mode.
    #[error("could not switch the database to wal mode (journal_mode is {mode})")]
    NotWal {
        /// The journal mode SQLite kept.
        mode: String,
    },
    /// The database was written by a newer `cecd` whose schema this binary does not know.
    #[error("the store has schema version {found}, newer than the {supported} this binary supports")]
    SchemaTooNew {
        /// The `user_version` found in the database.
        found: i64,
        /// The newest schema version this binary knows.
        supported: i64,
    },
    /// A schema migration failed; the store is left at the version before it.
    #[error("migration to schema version {version} failed: {source}")]
    Migration {
        /// The version the failed migration would have produced.
        version: i64,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// The group-commit transaction this write was part of could not begin or commit, so the
    /// write did not happen.
    #[error("the batch transaction failed: {0}")]
    BatchFailed(Arc<rusqlite::Error>),
    /// Another job in the same batch made SQLite abandon the whole transaction, so this write did
    /// not happen either. Retrying it is safe.
    #[error("the batch transaction was rolled back because of another write in it")]
    BatchAborted,
    /// The store has been closed (or its writer thread is gone).
    #[error("the store is closed")]
    Closed,
    /// A job panicked; its effects were rolled back.
    #[error("a storage job panicked")]
    Panicked,
    /// A job failed for a reason of its own; see [`StorageError::job`].
    #[error(transparent)]
    Job(Box<dyn std::error::Error + Send + Sync + 'static>),
    /// A blob is larger than the limit it was put with. Nothing was stored.
    #[error("blob exceeds the size limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The byte stream of a blob failed. Nothing was stored.
    #[error("blob stream failed: {0}")]
    Stream(Box<dyn std::error::Error + Send + Sync + 'static>),
    /// A blob hash is not 64 lowercase hexadecimal characters.
    #[error("invalid blob hash: expected 64 lowercase hex characters")]
    InvalidHash,
    /// A blob is recorded in the database but its file is missing.
    #[error("blob {sha256} is recorded but its file is missing")]
    MissingBlobFile {
        /// The blob's hash.
        sha256: String,
    },
    /// A document id is empty or too long.
    #[error("invalid document id")]
    InvalidDocId,
    /// A compaction request is inconsistent with what is stored.
    #[error("cannot compact document {doc_id}: {reason}")]
    Compaction {
        /// The document.
        doc_id: String,
        /// Why not.
        reason: &'static str,
    },
    /// Automerge could not load or save a document.
    #[error("automerge: {0}")]
    Automerge(#[from] automerge::AutomergeError),
}

/// What kind of storage failure an error is, for callers that answer differently to each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// The disk (or quota) is full.
    Full,
    /// The storage cannot be written at all: permission denied, read-only, an I/O error.
    Unavailable,
}

/// Where a failure happened, for messages: the database or the blob directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Place {
    /// `cecd.sqlite3` (and its journal).
    Database,
    /// `blobs/`.
    Blobs,
}

fn sqlite_failure(e: &rusqlite::Error) -> Option<Failure> {
    use rusqlite::ErrorCode as C;
    match e.sqlite_error_code()? {
        C::DiskFull => Some(Failure::Full),
        C::ReadOnly | C::CannotOpen | C::PermissionDenied | C::SystemIoFailure => Some(Failure::Unavailable),
        _ => None,
    }
}

fn io_failure(e: &std::io::Error) -> Option<Failure> {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::StorageFull | K::QuotaExceeded => Some(Failure::Full),
        K::PermissionDenied | K::ReadOnlyFilesystem => Some(Failure::Unavailable),
        _ => None,
    }
}

impl StorageError {
    /// Whether this is a full disk or unwritable storage (rather than a bug or bad input), and
    /// where: SQLite errors are the database's, file errors the blob directory's.
    pub fn failure(&self) -> Option<(Failure, Place)> {
        match self {
            Self::Sqlite(e) | Self::Migration { source: e, .. } => Some((sqlite_failure(e)?, Place::Database)),
            Self::BatchFailed(e) => Some((sqlite_failure(e)?, Place::Database)),
            Self::Io(e) => Some((io_failure(e)?, Place::Blobs)),
            Self::Stream(e) => {
                let io = e.downcast_ref::<std::io::Error>()?;
                Some((io_failure(io)?, Place::Blobs))
            }
            _ => None,
        }
    }

    /// Wraps an error of the caller's own in a job, so the job's savepoint is rolled back while
    /// the rest of the batch commits. Get it back with `downcast_ref` on the `Job` payload.
    pub fn job<E>(err: E) -> Self
    where
        E: Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    {
        Self::Job(err.into())
    }

    /// The error a caller gave to [`StorageError::job`], if this is one and of type `E`.
    pub fn downcast_job<E: std::error::Error + 'static>(&self) -> Option<&E> {
        match self {
            Self::Job(inner) => inner.downcast_ref::<E>(),
            _ => None,
        }
    }
}

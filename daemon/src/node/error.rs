//! `NodeError`: why a node service refused or failed, for the API and sync alike.

use cec_core::doc::DocError;

use super::DocsError;
use crate::storage::{BLOB_DIR, DB_FILE, Failure, LOG_FILE, Place, StorageError};

/// Why a node service (events, check-ins, credit, portfolio) did not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// Something named does not exist on this node.
    #[error("{0}")]
    NotFound(String),
    /// The same id already holds other content, or the state does not allow the change.
    #[error("{0}")]
    Conflict(String),
    /// This node may not do that (only the central node issues and revokes).
    #[error("{0}")]
    Forbidden(String),
    /// A value breaks a rule.
    #[error("{field}: {message}")]
    Invalid {
        /// The field at fault, as the API names it.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// Loading or storing a document failed.
    #[error(transparent)]
    Docs(Box<DocsError>),
    /// Storage failed.
    #[error(transparent)]
    Storage(Box<StorageError>),
    /// A document's content does not follow its schema.
    #[error(transparent)]
    Document(Box<DocError>),
    /// The write this item was part of failed (every item of that write gets the same error).
    #[error(transparent)]
    Shared(std::sync::Arc<NodeError>),
}

// Boxed: the errors below are large, and a `NodeError` travels in every per-item result.
impl From<DocsError> for NodeError {
    fn from(e: DocsError) -> Self {
        Self::Docs(Box::new(e))
    }
}

impl From<StorageError> for NodeError {
    fn from(e: StorageError) -> Self {
        Self::Storage(Box::new(e))
    }
}

impl From<DocError> for NodeError {
    fn from(e: DocError) -> Self {
        Self::Document(Box::new(e))
    }
}

impl NodeError {
    /// A value that breaks a rule.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid { field: field.into(), message: message.into() }
    }
}

/// A storage failure sorted by what its client can do about it, for the API's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageFault {
    /// A blob over the node's limit of `limit` bytes; nothing was stored.
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// A blob's name is not a sha256 in lowercase hex.
    InvalidHash,
    /// The disk is full: `what` (named for the operator) could not be written.
    Full {
        /// The file or directory, and that it is in the data directory.
        what: String,
    },
    /// `what` cannot be written: permission denied, read-only or failing.
    Unavailable {
        /// The file or directory, and that it is in the data directory.
        what: String,
    },
    /// None of these: a fault of this node's, for its log.
    Internal,
}

impl StorageFault {
    /// What `e` means to a client.
    pub fn of(e: &StorageError) -> Self {
        match e {
            StorageError::TooLarge { limit } => return Self::TooLarge { limit: *limit },
            StorageError::InvalidHash => return Self::InvalidHash,
            _ => {}
        }
        let Some((failure, place)) = e.failure() else { return Self::Internal };
        let what = match place {
            Place::Database => format!("the databases in the data directory ({DB_FILE}, {LOG_FILE})"),
            Place::Blobs => format!("the blob directory {BLOB_DIR}/ in the data directory"),
        };
        match failure {
            Failure::Full => Self::Full { what },
            _ => Self::Unavailable { what },
        }
    }
}

/// A result of a node service.
pub type NodeResult<T> = Result<T, NodeError>;

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite(code: i32) -> StorageError {
        StorageError::Sqlite(rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None))
    }

    /// A full disk and unwritable storage are told apart from bugs, and name the file or
    /// directory that failed.
    #[test]
    fn storage_failures_are_sorted_and_named() {
        let db = "the databases in the data directory (cecd.sqlite3, checkin-log.sqlite3)".to_owned();
        let blobs = "the blob directory blobs/ in the data directory".to_owned();
        let batch_full = StorageError::BatchFailed(std::sync::Arc::new(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            None,
        )));
        let cases = [
            (sqlite(rusqlite::ffi::SQLITE_FULL), StorageFault::Full { what: db.clone() }),
            (sqlite(rusqlite::ffi::SQLITE_READONLY), StorageFault::Unavailable { what: db.clone() }),
            (sqlite(rusqlite::ffi::SQLITE_IOERR), StorageFault::Unavailable { what: db.clone() }),
            (batch_full, StorageFault::Full { what: db }),
            (StorageError::Io(std::io::ErrorKind::StorageFull.into()), StorageFault::Full { what: blobs.clone() }),
            (
                StorageError::Io(std::io::ErrorKind::PermissionDenied.into()),
                StorageFault::Unavailable { what: blobs.clone() },
            ),
            (
                StorageError::Io(std::io::ErrorKind::ReadOnlyFilesystem.into()),
                StorageFault::Unavailable { what: blobs },
            ),
            (StorageError::TooLarge { limit: 10 }, StorageFault::TooLarge { limit: 10 }),
            (StorageError::InvalidHash, StorageFault::InvalidHash),
            (sqlite(rusqlite::ffi::SQLITE_CONSTRAINT), StorageFault::Internal),
        ];
        for (err, fault) in cases {
            assert_eq!(StorageFault::of(&err), fault, "{err}");
        }
    }
}

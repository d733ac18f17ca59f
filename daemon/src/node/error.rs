//! `NodeError`: why a node service refused or failed, for the API and sync alike.

use cec_core::doc::DocError;

use super::DocsError;
use crate::storage::StorageError;

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

/// A result of a node service.
pub type NodeResult<T> = Result<T, NodeError>;

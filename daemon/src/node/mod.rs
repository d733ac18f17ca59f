//! The node: its identity, storage, documents and configuration, shared by every handler.

pub mod docs;
pub mod identity;
pub mod index;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use automerge::AutoCommit;
use cec_core::doc::{self, DocId};
use tracing::info;

use crate::config::Config;
use crate::storage::{Store, StoreOptions};
pub use docs::{Docs, DocsError, Update};
pub use identity::Identity;

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The identity files.
    #[error(transparent)]
    Identity(#[from] identity::IdentityError),
    /// Storage.
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
    /// Rebuilding the index.
    #[error("rebuilding the check-in index: {0}")]
    Index(String),
}

/// A running node's shared state.
#[derive(Debug)]
pub struct Node {
    /// Storage.
    pub store: Store,
    /// Loaded documents.
    pub docs: Docs,
    /// Keys and token.
    pub identity: Identity,
    /// The data directory.
    pub data_dir: PathBuf,
    /// Configuration.
    pub config: Config,
    /// The address the API listens on, once bound.
    pub listen: Mutex<String>,
    /// Cancelled when the node begins to stop, so that long polls answer at once instead of
    /// holding graceful shutdown for up to their whole wait.
    pub stopping: tokio_util::sync::CancellationToken,
}

impl Node {
    /// Opens (or creates) the node in `data_dir`.
    pub async fn open(data_dir: &Path, config: Config) -> Result<Self, OpenError> {
        let identity = Identity::load_or_create(data_dir)?;
        let store = Store::open_with(data_dir, StoreOptions::default()).await?;
        let docs = Docs::new(store.clone(), doc::actor_for(&identity.node_id));
        let node = Self {
            store,
            docs,
            identity,
            data_dir: data_dir.to_owned(),
            config,
            listen: Mutex::new(String::new()),
            stopping: tokio_util::sync::CancellationToken::new(),
        };
        node.rebuild_index_if_missing().await?;
        Ok(node)
    }

    /// The node's role: `none` until it is enrolled.
    pub fn role(&self) -> &'static str {
        "none"
    }

    /// Rebuilds the index tables from the documents when they are empty.
    async fn rebuild_index_if_missing(&self) -> Result<(), OpenError> {
        self.rebuild_checkin_index().await?;
        self.rebuild_entry_index().await
    }

    async fn rebuild_entry_index(&self) -> Result<(), OpenError> {
        if self.store.read(index::entry_count).await? > 0 {
            return Ok(());
        }
        let ids = self.docs.list("portfolio:").await.map_err(|e| OpenError::Index(e.to_string()))?;
        for id in ids {
            let Ok(doc_id) = id.parse::<DocId>() else { continue };
            let Some(p) = self
                .docs
                .read(&doc_id, cec_core::doc::portfolio::read)
                .await
                .map_err(|e| OpenError::Index(e.to_string()))?
                .transpose()
                .map_err(|e| OpenError::Index(format!("{id}: {e}")))?
            else {
                continue;
            };
            if p.entries.is_empty() {
                continue;
            }
            info!(member = %p.member_id, entries = p.entries.len(), "rebuilding the entry index");
            let entries: Vec<_> = p.entries.into_values().collect();
            let member = p.member_id;
            self.store.write(move |tx| index::replace_entries(tx, &member, &entries)).await?;
        }
        Ok(())
    }

    async fn rebuild_checkin_index(&self) -> Result<(), OpenError> {
        if self.store.read(index::count).await? > 0 {
            return Ok(());
        }
        let ids = self.docs.list("attendance:").await.map_err(|e| OpenError::Index(e.to_string()))?;
        if ids.is_empty() {
            return Ok(());
        }
        info!(documents = ids.len(), "rebuilding the check-in index");
        for id in ids {
            let Ok(doc_id) = id.parse::<DocId>() else { continue };
            let checkins = self
                .docs
                .read(&doc_id, cec_core::doc::attendance::read)
                .await
                .map_err(|e| OpenError::Index(e.to_string()))?
                .transpose()
                .map_err(|e| OpenError::Index(format!("{id}: {e}")))?
                .unwrap_or_default();
            self.store
                .write(move |tx| {
                    for c in &checkins {
                        index::put_checkin(tx, c)?;
                    }
                    Ok(())
                })
                .await?;
        }
        Ok(())
    }

    /// A skeleton maker for `id`, for [`Docs::update`].
    pub fn skeleton(id: &DocId) -> impl FnOnce(&automerge::ActorId) -> AutoCommit + '_ {
        move |actor| match id {
            DocId::Event { event_id } => doc::event::new_doc(event_id, actor),
            DocId::Attendance { event_id, session_id } => doc::attendance::new_doc(event_id, session_id, actor),
            DocId::Portfolio { member_id } => doc::portfolio::new_doc(member_id, actor),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn indexes_are_rebuilt_from_documents_when_missing() {
        let dir = tempfile::tempdir().unwrap();
        let counts = |node: &Node| {
            let store = node.store.clone();
            async move { (store.read(index::count).await.unwrap(), store.read(index::entry_count).await.unwrap()) }
        };
        let before = {
            let node = Arc::new(Node::open(dir.path(), Config::default()).await.unwrap());
            crate::demo::load(node.clone()).await.unwrap();
            let c = counts(&node).await;
            node.store.close().await;
            c
        };
        assert_eq!(before, (15, 1), "the demo's scans and entry are indexed");
        let conn = rusqlite::Connection::open(dir.path().join(crate::storage::DB_FILE)).unwrap();
        conn.execute_batch("DELETE FROM checkin_index; DELETE FROM entry_index;").unwrap();
        drop(conn);
        let node = Node::open(dir.path(), Config::default()).await.unwrap();
        assert_eq!(counts(&node).await, before);
        node.store.close().await;
    }
}

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

    /// Rebuilds the check-in index from the attendance documents when it is empty.
    async fn rebuild_index_if_missing(&self) -> Result<(), OpenError> {
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

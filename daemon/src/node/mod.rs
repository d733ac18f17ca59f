//! The node: its identity, storage, documents and configuration, shared by every handler.

mod blobs;
pub mod checkins;
pub mod clock;
pub mod credential;
mod credit;
mod derivation;
pub mod docs;
pub mod enrol;
mod error;
pub mod events;
pub mod identity;
pub mod index;
pub mod pairings;
mod peers;
mod pending;
mod portfolio;
pub mod projection;
pub mod retention;
pub mod revocation;
pub mod tickets;
pub mod voids;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use cec_core::doc::DocId;
use tracing::info;

use crate::config::Config;
/// The rule a blob's name follows (a sha256 in lowercase hex), which the API's schema states too.
pub use crate::storage::is_valid_sha256;
use crate::storage::{Store, StoreOptions};
pub use checkins::{NewCheckIn, Recorded};
pub use derivation::DERIVATION_CURSOR;
pub use docs::{Docs, DocsError};
pub use error::{NodeError, NodeResult, StorageFault};
pub use events::Created;
pub use identity::Identity;
pub use peers::{Peer, PeerState, SyncReport};
pub use pending::Unacknowledged;

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
    /// The enrolment files.
    #[error(transparent)]
    Enrolment(#[from] credential::EnrolmentError),
    /// Rebuilding a document's derived rows.
    #[error("rebuilding the index: {0}")]
    Index(#[from] DocsError),
    /// Folding the check-in log into the documents.
    #[error("folding the check-in log into the attendance documents: {0}")]
    Log(String),
    /// The check-in log's database is missing from a data directory that had one.
    #[error(
        "the check-in log {} is missing, though this data directory had one: it may hold acknowledged \
         check-ins that are not in their documents yet. Put it back from the copy of the data directory \
         it was taken with (the whole directory is one backup)",
        .0.display()
    )]
    LogMissing(PathBuf),
}

/// A running node's shared state.
#[derive(Debug)]
pub struct Node {
    /// Storage.
    pub store: Store,
    /// The check-in log, in a database of its own with its own writer (see `checkins.rs`).
    pub log_store: Store,
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
    /// Check-in ids being written now (see `checkins.rs`).
    claims: checkins::Claims,
    /// Check-ins waiting for their attendance document's next change (see `checkins.rs`).
    ingest: checkins::Ingest,
    /// The organization as this node knows it: pinned key, own credential.
    pub enrolment: std::sync::RwLock<credential::Enrolment>,
    /// The peer listener's URL, once bound.
    pub peer_url: Mutex<Option<String>>,
    /// One lock per peer: sync rounds with a peer take turns (see `peers.rs`).
    sync_turns: Mutex<std::collections::HashMap<String, std::sync::Arc<tokio::sync::Mutex<()>>>>,
    /// Woken when a peer is found (mDNS), so the background sync reaches it soon.
    pub peers_changed: tokio::sync::Notify,
    /// Sync sessions other nodes opened with this one.
    pub responders: crate::sync::Responders,
    /// The revocations this node knows (see `revocation.rs`).
    revoked: std::sync::RwLock<revocation::Revoked>,
    /// One-time links that open a page in a browser (see `tickets.rs`).
    pub tickets: tickets::Tickets,
    /// Clock exchanges answered, waiting for the peer's instants (see `clock.rs`).
    pub clocks: clock::Clocks,
    /// Browsers paired with this node (see `pairings.rs`).
    pub pairings: pairings::Pairings,
    /// Peers' retired events and the last retention pass (see `retention.rs`).
    pub retention: retention::Retention,
    /// TLS client configurations per peer, with their session tickets (`peer::tls`).
    pub peer_tls: crate::peer::tls::ClientConfigs,
    /// The credential each peer last proved in a hello this node sent (this process): whether
    /// a round may open with its changes (`peers.rs`).
    proven_peers: Mutex<std::collections::HashMap<String, credential::Credential>>,
    /// The feed seq the central node's derivation has derived through, as this process knows
    /// it (`i64::MIN` until the derivation first reports): see `derivation.rs`.
    derived_through: std::sync::atomic::AtomicI64,
}

/// Opens the check-in log's database in `data_dir`, creating it (and recording that in the main
/// database) the first time; refuses to create it again once recorded, as a log that went
/// missing may have held acknowledged check-ins.
async fn open_log(store: &Store, data_dir: &Path) -> Result<Store, OpenError> {
    let path = data_dir.join(crate::storage::LOG_FILE);
    let recorded = store.read(crate::storage::log_database_recorded).await?;
    if recorded && !path.exists() {
        return Err(OpenError::LogMissing(path));
    }
    let log = Store::open_log(data_dir).await?;
    if !recorded {
        store.write(crate::storage::record_log_database).await?;
    }
    Ok(log)
}

impl Node {
    /// Opens (or creates) the node in `data_dir`.
    pub async fn open(data_dir: &Path, config: Config) -> Result<Self, OpenError> {
        let identity = Identity::load_or_create(data_dir)?;
        let store = Store::open_with(data_dir, StoreOptions::default()).await?;
        let log_store = open_log(&store, data_dir).await?;
        checkins::move_main_log(&store, &log_store).await?;
        let docs = Docs::new(store.clone(), identity.node_id.as_str(), docs::DEFAULT_CACHE_BYTES);
        let revoked = revocation::load(store.read(crate::storage::list_revocations).await?);
        // A lowered `kiosk_pairing_days` shortens the pairings already issued (`pairings.rs`).
        let lifetime_ms = i64::from(config.kiosk_pairing_days) * 86_400_000;
        let cut = store.write(move |tx| crate::storage::apply_pairing_lifetime(tx, lifetime_ms)).await?;
        if cut > 0 {
            tracing::info!(pairings = cut, days = config.kiosk_pairing_days, "pairings cut to kiosk_pairing_days");
        }
        let pairings = pairings::Pairings::load(store.read(crate::storage::list_pairings).await?);
        docs.load_retired(store.read(crate::storage::retired_events).await?.into_iter().map(|r| r.event_id));
        let node = Self {
            store,
            log_store,
            docs,
            identity,
            data_dir: data_dir.to_owned(),
            config,
            listen: Mutex::new(String::new()),
            stopping: tokio_util::sync::CancellationToken::new(),
            claims: checkins::Claims::default(),
            ingest: checkins::Ingest::default(),
            enrolment: std::sync::RwLock::new(credential::Enrolment::load(data_dir)?),
            peer_url: Mutex::new(None),
            sync_turns: Mutex::new(std::collections::HashMap::new()),
            peers_changed: tokio::sync::Notify::new(),
            responders: crate::sync::Responders::default(),
            revoked: std::sync::RwLock::new(revoked),
            tickets: tickets::Tickets::default(),
            clocks: clock::Clocks::default(),
            pairings,
            retention: retention::Retention::default(),
            peer_tls: crate::peer::tls::ClientConfigs::default(),
            proven_peers: Mutex::default(),
            derived_through: std::sync::atomic::AtomicI64::new(i64::MIN),
        };
        node.reproject_stale().await?;
        let folded = node.fold_log_at_open().await.map_err(|e| OpenError::Log(e.to_string()))?;
        if folded > 0 {
            info!(checkins = folded, "check-ins left in the log at the last stop folded into their documents");
        }
        Ok(node)
    }

    /// The node's role: `none` until it is enrolled.
    pub fn role(&self) -> &'static str {
        self.credential().map_or("none", |c| c.role.as_str())
    }

    /// This node's credential, if it is enrolled.
    pub fn credential(&self) -> Option<credential::Credential> {
        self.enrolment.read().unwrap_or_else(|p| p.into_inner()).credential.clone()
    }

    /// The pinned organization key, if enrolled.
    pub fn org_key(&self) -> Option<ed25519_dalek::VerifyingKey> {
        self.enrolment.read().unwrap_or_else(|p| p.into_inner()).org_key
    }

    /// Up to `limit` change-feed entries after `since`, oldest first. A check-in's entry is
    /// written when it is folded into its document: the log is folded first, so the answer
    /// names every check-in acknowledged before it.
    pub async fn changes(&self, since: i64, limit: usize) -> NodeResult<Vec<crate::storage::Change>> {
        self.fold_logged().await;
        self.feed_page(since, limit).await
    }

    /// [`Node::changes`] as the feed stands, without folding the log first (the central node's
    /// derivation follows the feed, and a fold's entries wake it again).
    pub(super) async fn feed_page(&self, since: i64, limit: usize) -> NodeResult<Vec<crate::storage::Change>> {
        Ok(self.store.read(move |c| crate::storage::changes_since(c, since, limit)).await?)
    }

    /// The number of check-ins this node holds: indexed, or logged and not yet folded. The log
    /// is read first, then the index, and a logged id found indexed counts once: a fold deletes
    /// log rows only once its index rows are committed, so none is missed or counted twice.
    pub async fn checkin_count(&self) -> NodeResult<i64> {
        let logged = self.log_store.read(index::logged_ids).await?;
        Ok(self
            .store
            .read(move |c| {
                let unfolded = logged.len() - index::indexed_ids(c, &logged)?.len();
                Ok(index::count(c)? + i64::try_from(unfolded).unwrap_or(i64::MAX))
            })
            .await?)
    }

    /// Lets queued writes of both databases finish and closes them (see [`Store::close`]).
    pub async fn close(&self) {
        self.log_store.close().await;
        self.store.close().await;
    }

    /// A handle that waits for the change feed to move past a seq (long polls of the feed).
    pub fn subscribe_changes(&self) -> crate::storage::ChangeSubscriber {
        self.store.subscribe_changes()
    }

    /// The storage writer's counters (transactions, jobs, batch sizes), for metrics.
    pub fn write_stats(&self) -> crate::storage::StoreStats {
        self.store.stats()
    }

    /// Rebuilds the derived rows of every document whose rows an older projection made
    /// (every document of a store from before projections, once).
    async fn reproject_stale(&self) -> Result<(), OpenError> {
        let stale = self.store.read(|c| crate::storage::docs_with_projection_before(c, projection::VERSION)).await?;
        if stale.is_empty() {
            return Ok(());
        }
        info!(documents = stale.len(), version = projection::VERSION, "rebuilding derived rows");
        for id in stale {
            let Ok(doc_id) = id.parse::<DocId>() else {
                tracing::warn!(doc_id = %id, "not a document id of this version; left as it is");
                continue;
            };
            self.docs.reproject(&doc_id).await?;
        }
        Ok(())
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
            node.fold_logged().await; // the index rows of logged check-ins come with the fold
            let c = counts(&node).await;
            node.close().await;
            c
        };
        assert_eq!(before, (15, 1), "the demo's scans and entry are indexed");
        let conn = rusqlite::Connection::open(dir.path().join(crate::storage::DB_FILE)).unwrap();
        conn.execute_batch(
            "DELETE FROM checkin_index; DELETE FROM entry_index;
             UPDATE docs SET projection = 0 WHERE doc_id LIKE 'attendance:%' OR doc_id LIKE 'portfolio:%';",
        )
        .unwrap();
        drop(conn);
        let node = Node::open(dir.path(), Config::default()).await.unwrap();
        assert_eq!(counts(&node).await, before);
        node.close().await;
    }
}

//! Loaded Automerge documents and the one write path into storage.
//!
//! A document is loaded on first use (snapshot and chunks concatenated, one `load`), kept in
//! memory while in use, and evicted when idle and the cache is large. A change is made in
//! memory under the document's lock, then the bytes since the last saved heads
//! (`save_after`, never `save_incremental`, see automerge#592) are queued to the writer with
//! the index rows and change-feed entries it implies, all in one transaction. The document stays
//! locked until that transaction commits, so no change is built on one that might not reach
//! the disk; writes to different documents share group commits.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use automerge::{ActorId, AutoCommit, ChangeHash};
use cec_core::doc::DocId;

use super::projection::{self, Projection};
use crate::storage::{self, StorageError, Store};

/// Why a document could not be loaded or stored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DocsError {
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The document's content does not follow its schema.
    #[error("document {doc_id}: {source}")]
    Schema {
        /// The document.
        doc_id: String,
        /// What is wrong.
        source: cec_core::doc::DocError,
    },
    /// The stored bytes do not load.
    #[error("document {doc_id} does not load: {message}")]
    Corrupt {
        /// The document.
        doc_id: String,
        /// Automerge's complaint.
        message: String,
    },
}

#[derive(Default)]
struct Slot {
    loaded: bool,
    doc: Option<AutoCommit>,
    saved: Vec<ChangeHash>,
}

/// Documents evicted above this many loaded.
const CACHE_SOFT_LIMIT: usize = 4096;

/// The loaded documents of a node.
pub struct Docs {
    store: Store,
    actor: ActorId,
    slots: Mutex<HashMap<DocId, Arc<tokio::sync::Mutex<Slot>>>>,
}

impl std::fmt::Debug for Docs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Docs").field("actor", &self.actor).finish_non_exhaustive()
    }
}

impl Docs {
    /// Documents over `store`, writing changes as `actor`.
    pub fn new(store: Store, actor: ActorId) -> Self {
        Self { store, actor, slots: Mutex::new(HashMap::new()) }
    }

    fn slot(&self, id: &DocId) -> Arc<tokio::sync::Mutex<Slot>> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if slots.len() > CACHE_SOFT_LIMIT {
            slots.retain(|_, s| Arc::strong_count(s) > 1);
        }
        slots.entry(id.clone()).or_default().clone()
    }

    async fn load(&self, id: &DocId, slot: &mut Slot) -> Result<(), DocsError> {
        if slot.loaded {
            return Ok(());
        }
        let key = id.to_string();
        let bytes = self.store.read(move |c| storage::load_doc(c, &key)).await?;
        if let Some(bytes) = bytes {
            let mut doc = AutoCommit::load(&bytes)
                .map_err(|e| DocsError::Corrupt { doc_id: id.to_string(), message: e.to_string() })?;
            doc.set_actor(self.actor.clone());
            doc.update_diff_cursor();
            slot.saved = doc.get_heads();
            slot.doc = Some(doc);
        }
        slot.loaded = true;
        Ok(())
    }

    /// Reads a document; `None` when this node does not hold it.
    pub async fn read<T>(&self, id: &DocId, f: impl FnOnce(&AutoCommit) -> T) -> Result<Option<T>, DocsError> {
        let slot = self.slot(id);
        let mut slot = slot.lock().await;
        self.load(id, &mut slot).await?;
        Ok(slot.doc.as_ref().map(f))
    }

    /// Changes a document (created from its skeleton when absent) and stores the change
    /// durably with its projection (index rows and change-feed entries). `f` returning an
    /// error leaves the document as it was. Returns once the change is committed.
    pub async fn update<T, E>(&self, id: &DocId, f: impl FnOnce(&mut AutoCommit) -> Result<T, E>) -> Result<T, E>
    where
        E: From<DocsError>,
    {
        let mut guard = self.slot(id).lock_owned().await;
        self.load(id, &mut guard).await?;
        let Slot { doc: doc_opt, saved, .. } = &mut *guard;
        let fresh = doc_opt.is_none();
        let doc = doc_opt.get_or_insert_with(|| {
            let mut d = cec_core::doc::new_doc(id, &self.actor);
            d.update_diff_cursor();
            d
        });
        let value = match f(doc) {
            Err(e) => {
                doc.rollback();
                if fresh {
                    *doc_opt = None;
                }
                return Err(e);
            }
            Ok(value) => value,
        };
        doc.commit();
        let heads = doc.get_heads();
        let bytes = doc.save_after(saved);
        if bytes.is_empty() {
            if fresh {
                *doc_opt = None;
            }
            return Ok(value);
        }
        let projection = match Projection::of_change(id, doc) {
            Ok(p) => p,
            Err(source) => {
                // The change is in memory but will not be stored: drop the document.
                *guard = Slot::default();
                return Err(DocsError::Schema { doc_id: id.to_string(), source }.into());
            }
        };
        *saved = heads.clone();
        let key = id.to_string();
        let write = self.store.write(move |tx| {
            storage::append_chunk(tx, &key, &bytes)?;
            storage::set_doc_heads(tx, &key, &encode_heads(&heads), projection::VERSION)?;
            projection.write(tx)
        });
        // The document stays locked until its change is committed or refused, in a task of its
        // own so a caller that goes away cannot cut this short: no other change is ever built
        // on one that might not reach the disk, and a locked document is never evicted. A
        // refused change leaves the in-memory document ahead of the disk, so it is dropped
        // under the lock and reloaded by the next user.
        let settled = tokio::spawn(async move {
            let result = write.await;
            if result.is_err() {
                *guard = Slot::default();
            }
            result
        });
        match settled.await {
            Ok(Ok(())) => Ok(value),
            Ok(Err(e)) => Err(DocsError::Storage(e).into()),
            Err(e) => Err(DocsError::Storage(StorageError::Job(Box::new(e))).into()),
        }
    }

    /// Rebuilds the derived rows (index, not the feed) of one stored document from its
    /// content, replacing what the index holds for it, and records its heads.
    pub async fn reproject(&self, id: &DocId) -> Result<(), DocsError> {
        let mut guard = self.slot(id).lock_owned().await;
        self.load(id, &mut guard).await?;
        let Some(doc) = guard.doc.as_mut() else { return Ok(()) };
        let projection =
            Projection::rebuild(id, doc).map_err(|source| DocsError::Schema { doc_id: id.to_string(), source })?;
        let heads = encode_heads(&doc.get_heads());
        let key = id.to_string();
        self.store
            .write(move |tx| {
                projection.write(tx)?;
                storage::set_doc_heads(tx, &key, &heads, projection::VERSION)
            })
            .await?;
        Ok(())
    }

    /// The ids of stored documents starting with `prefix`.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, DocsError> {
        let prefix = prefix.to_owned();
        Ok(self.store.read(move |c| storage::list_docs(c, &prefix)).await?)
    }
}

/// Heads as stored beside a document: the sorted 32-byte change hashes, concatenated.
pub fn encode_heads(heads: &[ChangeHash]) -> Vec<u8> {
    let mut sorted = heads.to_vec();
    sorted.sort();
    sorted.iter().flat_map(|h| h.0).collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use cec_core::doc::{self, actor_for};
    use cec_core::portfolio::{Entry, EntryKind};

    use super::*;

    fn note(id: &str) -> Entry {
        Entry {
            id: id.into(),
            kind: EntryKind::Note,
            title: id.into(),
            description: None,
            date: jiff::civil::date(2027, 1, 1),
            cecs: None,
            contact_minutes: None,
            category: None,
            provider: None,
            evidence: vec![],
        }
    }

    /// A change whose commit fails leaves nothing behind: concurrent writers to the same
    /// document never build on it, and what was acknowledged loads from disk.
    #[tokio::test]
    async fn a_refused_change_is_never_built_upon() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        // The disk refuses exactly the change that records entry "refused".
        store
            .write(|tx| {
                tx.execute_batch(
                    "CREATE TEMP TRIGGER refuse BEFORE INSERT ON changes WHEN NEW.id = 'refused'
                     BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
                )?;
                Ok(())
            })
            .await
            .unwrap();
        let docs = Arc::new(Docs::new(store.clone(), actor_for("n1")));
        let id = DocId::portfolio("M1");
        let put = |name: &'static str| {
            let docs = docs.clone();
            let id = id.clone();
            tokio::spawn(async move {
                docs.update(&id, |d| Ok::<_, crate::api::ApiError>(doc::portfolio::put_entry(d, &note(name))?)).await
            })
        };
        put("first").await.unwrap().unwrap();
        // Change A fails in its transaction; B and C race in behind it.
        let failing = put("refused");
        let others = [put("b"), put("c")];
        assert!(failing.await.unwrap().is_err());
        for o in others {
            o.await.unwrap().unwrap();
        }
        // In memory and on disk alike: the acknowledged entries, not the refused one.
        let in_memory = docs.read(&id, doc::portfolio::read).await.unwrap().unwrap().unwrap();
        let keys = |p: &cec_core::portfolio::Portfolio| p.entries.keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&in_memory), ["b", "c", "first"]);
        let fresh = Docs::new(store.clone(), actor_for("n1"));
        let on_disk = fresh.read(&id, doc::portfolio::read).await.unwrap().unwrap().unwrap();
        assert_eq!(keys(&on_disk), ["b", "c", "first"]);
        // The projection followed the documents: three entries indexed, fed once each.
        let indexed = store.read(|c| crate::node::index::list_entries(c, "M1", None, None, 10)).await.unwrap();
        assert_eq!(indexed.len(), 3);
        let feed = store.read(|c| storage::changes_since(c, 0, 100)).await.unwrap();
        let fed: Vec<_> = feed.iter().map(|c| (c.kind.as_str(), c.id.as_str())).collect();
        assert_eq!(fed.len(), 3);
        assert!(fed.iter().all(|(k, _)| *k == "entry"), "{fed:?}");
        store.close().await;
    }
}

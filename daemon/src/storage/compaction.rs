//! Compaction with Automerge: fold a document's chunks into a fresh snapshot.
//!
//! Three steps, so neither the writer thread nor a reader is held while Automerge works:
//! read the bytes and the seq they reach, load and `save()` on a blocking thread, then
//! [`compact_doc`] up to that seq only, so chunks appended meanwhile survive.

use automerge::AutoCommit;

use super::{StorageError, Store, compact_doc, docs_needing_compaction, load_doc_at};

/// What [`Store::compact_with_automerge`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CompactionOutcome {
    /// The document is not stored.
    Missing,
    /// Nothing follows the snapshot.
    UpToDate,
    /// A new snapshot replaced the chunks up to `up_to_seq`.
    Compacted {
        /// The last chunk folded in.
        up_to_seq: i64,
        /// How many chunks were folded in.
        chunks: usize,
        /// The size of the new snapshot in bytes.
        snapshot_len: usize,
    },
    /// Another compaction covered at least as much first; nothing was changed.
    Superseded,
}

impl Store {
    /// Compacts `doc_id`: loads its bytes with one `AutoCommit::load`, saves them whole, and
    /// replaces the chunks that were read. Refuses (changing nothing) if the stored bytes do not
    /// load completely, or if some change in them misses its dependencies, since the snapshot
    /// would silently drop it.
    pub async fn compact_with_automerge(&self, doc_id: &str) -> Result<CompactionOutcome, StorageError> {
        let id = doc_id.to_owned();
        let Some(loaded) = self.read(move |conn| load_doc_at(conn, &id)).await? else {
            return Ok(CompactionOutcome::Missing);
        };
        if loaded.chunks == 0 {
            return Ok(CompactionOutcome::UpToDate);
        }
        let id = doc_id.to_owned();
        let snapshot = tokio::task::spawn_blocking(move || snapshot_of(&id, &loaded.bytes))
            .await
            .map_err(|_| StorageError::Panicked)??;
        let snapshot_len = snapshot.len();
        let (up_to_seq, chunks) = (loaded.last_seq, loaded.chunks);
        let id = doc_id.to_owned();
        let replaced = self.write(move |tx| compact_doc(tx, &id, &snapshot, up_to_seq)).await?;
        Ok(if replaced {
            tracing::debug!(doc_id, up_to_seq, chunks, snapshot_len, "compacted document");
            CompactionOutcome::Compacted { up_to_seq, chunks, snapshot_len }
        } else {
            CompactionOutcome::Superseded
        })
    }

    /// Compacts every document with at least `min_chunks` pending chunks, one at a time; for a
    /// background job. A document that fails is logged and skipped. Returns how many were
    /// compacted.
    pub async fn compact_all(&self, min_chunks: usize) -> Result<usize, StorageError> {
        let due = self.read(move |conn| docs_needing_compaction(conn, min_chunks)).await?;
        let mut compacted = 0;
        for doc_id in due {
            match self.compact_with_automerge(&doc_id).await {
                Ok(CompactionOutcome::Compacted { .. }) => compacted += 1,
                Ok(_) => {}
                Err(StorageError::Closed) => return Err(StorageError::Closed),
                Err(err) => tracing::warn!(doc_id, cause = %err, "could not compact document"),
            }
        }
        Ok(compacted)
    }
}

/// The whole-document save of `bytes`, or an error if that would lose anything.
fn snapshot_of(doc_id: &str, bytes: &[u8]) -> Result<Vec<u8>, StorageError> {
    // `load` fails on a partial load (its default), so trailing garbage is an error.
    let mut doc = AutoCommit::load(bytes)?;
    if !doc.get_missing_deps(&[]).is_empty() {
        return Err(StorageError::Compaction {
            doc_id: doc_id.to_owned(),
            reason: "some stored changes miss their dependencies",
        });
    }
    Ok(doc.save())
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ROOT, ReadDoc};

    use super::super::test_util::temp_store;
    use super::super::{append_chunk, load_doc, load_doc_at};
    use super::*;

    fn load(bytes: &[u8]) -> AutoCommit {
        AutoCommit::load(bytes).unwrap()
    }

    #[tokio::test]
    async fn chunks_load_in_one_call_and_compaction_keeps_content() {
        let (_dir, store) = temp_store().await;
        let mut doc = AutoCommit::new();
        for i in 0..20_i64 {
            doc.put(ROOT, format!("k{i}"), i).unwrap();
            let chunk = doc.save_incremental();
            store.write(move |tx| append_chunk(tx, "attendance:e:s", &chunk)).await.unwrap();
        }
        let bytes = store.read(|c| load_doc(c, "attendance:e:s")).await.unwrap().unwrap();
        let mut loaded = load(&bytes);
        assert_eq!(loaded.get_heads(), doc.get_heads());
        let before = loaded.hydrate(ROOT, None).unwrap();
        assert_eq!(before, doc.hydrate(ROOT, None).unwrap());

        let outcome = store.compact_with_automerge("attendance:e:s").await.unwrap();
        assert!(matches!(outcome, CompactionOutcome::Compacted { up_to_seq: 20, chunks: 20, .. }));

        // A change made after the compaction read survives it and loads on top of the snapshot.
        doc.put(ROOT, "late", "yes").unwrap();
        let late = doc.save_incremental();
        store.write(move |tx| append_chunk(tx, "attendance:e:s", &late)).await.unwrap();
        let after = store.read(|c| load_doc_at(c, "attendance:e:s")).await.unwrap().unwrap();
        assert_eq!((after.snapshot_seq, after.chunks), (20, 1));
        let mut reloaded = load(&after.bytes);
        assert_eq!(reloaded.get_heads(), doc.get_heads());
        assert_eq!(reloaded.hydrate(ROOT, None).unwrap(), doc.hydrate(ROOT, None).unwrap());
        assert_eq!(store.compact_all(2).await.unwrap(), 0, "one pending chunk is below the threshold");
        assert_eq!(store.compact_all(1).await.unwrap(), 1);
        let compacted = store.read(|c| load_doc_at(c, "attendance:e:s")).await.unwrap().unwrap();
        assert_eq!((compacted.snapshot_seq, compacted.chunks), (21, 0));
        assert_eq!(load(&compacted.bytes).get_heads(), doc.get_heads());
        assert_eq!(store.compact_with_automerge("attendance:e:s").await.unwrap(), CompactionOutcome::UpToDate);
        assert_eq!(store.compact_with_automerge("nope").await.unwrap(), CompactionOutcome::Missing);
    }

    #[tokio::test]
    async fn chunk_appended_during_compaction_survives() {
        let (_dir, store) = temp_store().await;
        let mut doc = AutoCommit::new();
        for i in 0..5_i64 {
            doc.put(ROOT, "n", i).unwrap();
            let chunk = doc.save_incremental();
            store.write(move |tx| append_chunk(tx, "doc", &chunk)).await.unwrap();
        }
        // Do the three steps by hand, with an append between the read and the write.
        let read = store.read(|c| load_doc_at(c, "doc")).await.unwrap().unwrap();
        let snapshot = snapshot_of("doc", &read.bytes).unwrap();
        doc.put(ROOT, "n", 99_i64).unwrap();
        let late = doc.save_incremental();
        store.write(move |tx| append_chunk(tx, "doc", &late)).await.unwrap();
        let up_to = read.last_seq;
        assert!(store.write(move |tx| compact_doc(tx, "doc", &snapshot, up_to)).await.unwrap());
        let bytes = store.read(|c| load_doc(c, "doc")).await.unwrap().unwrap();
        let loaded = load(&bytes);
        let (value, _) = loaded.get(ROOT, "n").unwrap().unwrap();
        assert_eq!(value.as_i64(), Some(99));
    }

    #[tokio::test]
    async fn refuses_to_compact_what_would_lose_data() {
        let (_dir, store) = temp_store().await;
        let mut doc = AutoCommit::new();
        doc.put(ROOT, "a", 1_i64).unwrap();
        let first = doc.save_incremental();
        doc.put(ROOT, "b", 2_i64).unwrap();
        let second = doc.save_incremental();
        // Only the second change is stored: its dependency is missing.
        store.write(move |tx| append_chunk(tx, "gap", &second)).await.unwrap();
        assert!(matches!(
            store.compact_with_automerge("gap").await,
            Err(StorageError::Automerge(_) | StorageError::Compaction { .. })
        ));
        // A snapshot followed by a change whose dependency is missing: `load` accepts it (the
        // change waits in a queue) but `save` would drop it, so compaction must refuse.
        doc.put(ROOT, "c", 3_i64).unwrap();
        let third = doc.save_incremental();
        let first2 = first.clone();
        store.write(move |tx| append_chunk(tx, "queued", &first2)).await.unwrap();
        assert!(matches!(store.compact_with_automerge("queued").await.unwrap(), CompactionOutcome::Compacted { .. }));
        store.write(move |tx| append_chunk(tx, "queued", &third)).await.unwrap();
        assert!(matches!(store.compact_with_automerge("queued").await, Err(StorageError::Compaction { .. })));
        // Garbage after a valid chunk.
        let mut corrupt = first.clone();
        corrupt.extend_from_slice(b"not automerge");
        store.write(move |tx| append_chunk(tx, "corrupt", &corrupt)).await.unwrap();
        assert!(store.compact_with_automerge("corrupt").await.is_err());
        // compact_all skips failures and carries on.
        store.write(move |tx| append_chunk(tx, "fine", &first)).await.unwrap();
        assert_eq!(store.compact_all(1).await.unwrap(), 1);
        // The refused documents are untouched.
        let gap = store.read(|c| load_doc_at(c, "gap")).await.unwrap().unwrap();
        assert_eq!((gap.snapshot_seq, gap.chunks), (0, 1));
        let queued = store.read(|c| load_doc_at(c, "queued")).await.unwrap().unwrap();
        assert_eq!((queued.snapshot_seq, queued.chunks), (1, 1));
    }
}

//! What the central node has not acknowledged yet: the check-ins a kiosk holds that the
//! central node did not have at their last sync (what a kiosk screen shows as "not yet at the
//! central node").
//!
//! After a sync, the Automerge sync state stored for a peer and a document holds the heads both
//! sides had (`shared_heads`). A document whose heads are those has nothing pending; otherwise
//! the check-ins put since those heads are counted from the document's own diff.

use std::collections::BTreeSet;

use cec_core::CheckIn;
use cec_core::doc::{self, DocId};

use super::Node;
use super::docs::encode_heads;
use super::error::NodeResult;
use crate::storage;

/// The check-ins this node holds that the central node has not acknowledged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unacknowledged {
    /// The central node, when this node knows it (from its enrolment or a sync).
    pub central: Option<String>,
    /// Check-ins the central node did not have at the last sync (all of them, before any).
    pub checkins: usize,
    /// Attendance documents holding them.
    pub documents: usize,
}

impl Node {
    /// The central node this node syncs with, if it knows one.
    pub async fn central_peer(&self) -> NodeResult<Option<String>> {
        let peers = self.peers().await?;
        Ok(peers.into_iter().find(|p| p.role.as_deref() == Some("central") || p.source == "central").map(|p| p.peer_id))
    }

    /// What the central node has not acknowledged; `None` on the central node itself.
    pub async fn unacknowledged(&self) -> NodeResult<Option<Unacknowledged>> {
        if self.role() == "central" {
            return Ok(None);
        }
        // Counted from the documents: the log is folded into them first.
        self.fold_logged().await;
        let central = self.central_peer().await?;
        let peer = central.clone();
        // Per attendance document: its heads as stored, and the heads shared with the central
        // node at the last sync (none before any).
        let docs = self
            .store
            .read(move |c| with_shared_state(c, peer.as_deref(), storage::doc_heads(c, "attendance:")?))
            .await?;
        let mut pending = Unacknowledged { central, ..Unacknowledged::default() };
        for (id, heads, state) in docs {
            let n = self.put_since_shared(&id, &heads, state).await?.len();
            if n > 0 {
                pending.checkins += n;
                pending.documents += 1;
            }
        }
        Ok(Some(pending))
    }

    /// Of `sessions` (`(event_id, session_id)`), those where `member_id` has check-ins here that
    /// the central node did not have at the last sync (every one before any sync, or while no
    /// central node is known). Empty on the central node. Reads only those sessions' documents.
    pub async fn unacknowledged_sessions(
        &self,
        member_id: &str,
        sessions: BTreeSet<(String, String)>,
    ) -> NodeResult<BTreeSet<(String, String)>> {
        if self.role() == "central" || sessions.is_empty() {
            return Ok(BTreeSet::new());
        }
        self.fold_logged().await;
        let peer = self.central_peer().await?;
        let ids: Vec<String> = sessions.iter().map(|(e, s)| DocId::attendance(e, s).to_string()).collect();
        let docs = self
            .store
            .read(move |c| {
                let mut held = Vec::new();
                for id in ids {
                    // `doc_heads` takes a prefix: `…:s1` would also match `…:s10`.
                    held.extend(storage::doc_heads(c, &id)?.into_iter().find(|(d, _)| *d == id));
                }
                with_shared_state(c, peer.as_deref(), held)
            })
            .await?;
        let mut out = BTreeSet::new();
        for (id, heads, state) in docs {
            let put = self.put_since_shared(&id, &heads, state).await?;
            if let Some(c) = put.iter().find(|c| c.member_id == member_id) {
                out.insert((c.event_id.clone(), c.session_id.clone()));
            }
        }
        Ok(out)
    }

    /// The check-ins attendance document `id` (stored `heads`) holds beyond the heads shared
    /// with the central node in sync state `state` (all of them without one).
    async fn put_since_shared(&self, id: &str, heads: &[u8], state: Option<Vec<u8>>) -> NodeResult<Vec<CheckIn>> {
        let shared =
            state.and_then(|s| automerge::sync::State::decode(&s).ok()).map(|s| s.shared_heads).unwrap_or_default();
        if !shared.is_empty() && encode_heads(&shared) == heads {
            return Ok(Vec::new());
        }
        let Ok(doc_id) = id.parse::<DocId>() else { return Ok(Vec::new()) };
        // Read only: the lock is dropped without a commit, and nothing is changed.
        let mut locked = self.docs.lock_many([doc_id.clone()]).await?;
        let put = locked.get_mut(&doc_id).map(|d| {
            // Only heads this document has can bound a diff.
            let known: Vec<_> = shared.iter().copied().filter(|h| d.get_change_by_hash(h).is_some()).collect();
            let heads = d.get_heads();
            let patches = d.diff(&known, &heads);
            doc::attendance::put_in(d, &patches)
        });
        drop(locked);
        Ok(put.transpose()?.unwrap_or_default())
    }
}

/// A document's id, its stored heads, and its sync state with the central node.
type WithState = (String, Vec<u8>, Option<Vec<u8>>);

/// Each document of `docs` (its id and stored heads) with its sync state with the central
/// node `peer` (none before any sync, or while no central node is known).
fn with_shared_state(
    c: &rusqlite::Connection,
    peer: Option<&str>,
    docs: Vec<(String, Vec<u8>)>,
) -> Result<Vec<WithState>, storage::StorageError> {
    docs.into_iter()
        .map(|(id, heads)| {
            let shared = match peer {
                Some(p) => storage::get_sync_state(c, p, &id)?,
                None => None,
            };
            Ok((id, heads, shared))
        })
        .collect()
}

//! Retention on kiosks: an event's roster and attendance leave a kiosk once the event is over
//! and the central node holds them.
//!
//! A kiosk is a rented or shared device; the personal data it collected at a conference (the
//! roster, who came in and out when) must not stay on it forever, and nothing may be dropped
//! that the central node does not provably hold. A retention pass ([`Node::retire_due`], run by
//! the daemon's timer and after each sync with the central node) drops an event when:
//!
//! - this node is a **kiosk** (the central node never drops; staff and member nodes keep what
//!   they hold: a staff laptop is the association's own, a member's node holds no event);
//! - it knows its **central node** (enrolment, or a peer of role `central`);
//! - the event **ended** (the end of its last session, [`cec_core::Event::ends_at`]; an event
//!   without sessions has no end) at least `retention_days` (cecd.toml, default 7; 0: as soon
//!   as it ended) before now, judged by the **earlier** of this node's clock and the central
//!   node's as last measured, so a kiosk whose clock runs ahead never drops an event early;
//! - the central node **acknowledged every document** of the event this node holds (the event
//!   document and each attendance document): the Automerge sync state stored for the central
//!   node says both sides share heads that cover the document's heads
//!   (`sync::State::shared_heads`). The central node answers a sync round only after it
//!   committed what the round brought, so shared heads are heads it has stored.
//!
//! Dropping is one storage job, with `secure_delete` on: the documents (chunks, snapshots,
//! heads), their index rows (check-ins, voids), every peer's sync state for them and their
//! change-feed entries go; `retired_events` and `retired_docs` record what went, and the feed
//! says `retired` with the event id. The job checks the acknowledgement again, so nothing
//! that arrived meanwhile is lost: a write to one of the event's documents either reached the
//! writer before the job (the job then sees new heads and drops nothing) or is refused
//! ([`DocsError::Retired`](super::DocsError)). A check-in is acknowledged in the check-in
//! log's own database: the event is marked first, then its logged check-ins are counted in a
//! job of the log's writer, after every check-in it took before the mark (any held), and a
//! later one is refused.
//!
//! A retired event stays retired: sync sessions leave its documents out on both sides
//! ([`Node::retired_filter`]; each side tells the other its retired events in the hello), so
//! no peer brings them back, and local writes to them are refused.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use cec_core::doc::DocId;
use cec_core::sync::Retired;
use jiff::{SignedDuration, Timestamp};
use rusqlite::Connection;
use tracing::{debug, info, warn};

use super::Node;
use super::error::NodeResult;
use super::index;
use super::projection::FeedKind;
use crate::storage::{self, RetiredEventRow, StorageError};

/// The most retired event ids taken from one peer's hello.
pub const MAX_PEER_RETIRED: usize = 100_000;

/// What the node knows of retirement beyond its own storage: the retired events its peers
/// told it of, and how its last pass went.
#[derive(Debug, Default)]
pub struct Retention {
    peers: Mutex<HashMap<String, Arc<HashSet<String>>>>,
    last: Mutex<Option<Pass>>,
    /// Woken after a sync with the central node, which may have acknowledged what a pass waits
    /// for.
    pub wake: tokio::sync::Notify,
}

/// One event a pass dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetiredEvent {
    /// The event.
    pub event_id: String,
    /// Documents dropped.
    pub documents: usize,
    /// Check-ins dropped.
    pub checkins: usize,
}

/// One event that was due but kept, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// The event.
    pub event_id: String,
    /// When it became due (its end plus `retention_days`).
    pub due_at: Timestamp,
    /// Why it was kept.
    pub reason: String,
}

/// What one retention pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pass {
    /// The instant the pass judged by.
    pub at: Option<Timestamp>,
    /// Why the pass dropped nothing at all, when it did not look at events (not a kiosk, no
    /// central node known).
    pub inactive: Option<String>,
    /// The events dropped.
    pub retired: Vec<RetiredEvent>,
    /// The events due but kept (something the central node has not acknowledged yet).
    pub held: Vec<Held>,
}

impl Retention {
    /// Remembers the retired events `peer` told of (in its hello): sessions with it leave their
    /// documents out. At most [`MAX_PEER_RETIRED`] are kept; ids that are not event ids are
    /// skipped.
    pub fn note_peer(&self, peer: &str, events: Vec<String>) {
        let set: HashSet<String> =
            events.into_iter().take(MAX_PEER_RETIRED).filter(|e| cec_core::doc::validate_scope_id(e).is_ok()).collect();
        let mut peers = self.peers.lock().unwrap_or_else(|p| p.into_inner());
        if set.is_empty() {
            peers.remove(peer);
        } else {
            peers.insert(peer.to_owned(), Arc::new(set));
        }
    }

    /// The retired events `peer` last told of.
    pub fn of_peer(&self, peer: &str) -> Arc<HashSet<String>> {
        self.peers.lock().unwrap_or_else(|p| p.into_inner()).get(peer).cloned().unwrap_or_default()
    }

    /// How the last pass went.
    pub fn last_pass(&self) -> Option<Pass> {
        self.last.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// The stored documents of one event (its event document and its attendance documents) with
/// their heads, if the central node `central` acknowledged every one; otherwise why not.
fn acknowledged(
    conn: &Connection,
    central: &str,
    event_id: &str,
) -> Result<Result<BTreeMap<String, Vec<u8>>, String>, StorageError> {
    let event_doc = DocId::event(event_id).to_string();
    let mut docs: BTreeMap<String, Vec<u8>> =
        storage::doc_heads(conn, &event_doc)?.into_iter().filter(|(id, _)| *id == event_doc).collect();
    docs.extend(storage::doc_heads(conn, &format!("attendance:{event_id}:"))?);
    for (id, heads) in &docs {
        if heads.is_empty() {
            return Ok(Err(format!("{id}: its heads are not recorded")));
        }
        let Some(state) = storage::get_sync_state(conn, central, id)? else {
            return Ok(Err(format!("{id} was never synced with the central node")));
        };
        let Ok(state) = automerge::sync::State::decode(&state) else {
            return Ok(Err(format!("{id}: the sync state with the central node does not decode")));
        };
        let shared: HashSet<[u8; 32]> = state.shared_heads.iter().map(|h| h.0).collect();
        if !heads.chunks_exact(32).all(|h| shared.contains(h)) {
            return Ok(Err(format!("{id} has changes the central node has not acknowledged")));
        }
    }
    Ok(Ok(docs))
}

impl Node {
    /// The instant retention judges by: the earlier of this node's clock and the central
    /// node's as last measured (its offset less half the round trip), so a clock running ahead
    /// never drops an event early.
    pub async fn retention_clock(&self) -> NodeResult<Timestamp> {
        let own = super::clock::now();
        let Some(central) = self.central_peer().await? else { return Ok(own) };
        let runs = self.store.read(move |c| storage::clock_runs(c, &[central])).await?;
        let Some(run) = runs.into_values().next().and_then(|r| r.into_iter().max_by_key(|r| r.last_at_ms)) else {
            return Ok(own);
        };
        let behind = run.offset_ms.saturating_sub(run.round_trip_ms / 2).min(0);
        Ok(own.checked_add(SignedDuration::from_millis(behind)).unwrap_or(own))
    }

    /// Runs a retention pass judged at `now` (see the module documentation) and answers what
    /// it did. Events not yet due are left alone; due ones that something holds back are kept
    /// and listed in [`Pass::held`].
    pub async fn retire_due(&self, now: Timestamp) -> NodeResult<Pass> {
        let mut pass = Pass { at: Some(now), ..Pass::default() };
        let done = |pass: Pass| {
            *self.retention.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(pass.clone());
            Ok(pass)
        };
        if self.role() != "kiosk" {
            pass.inactive = Some(format!("only kiosks drop events (this node: {})", self.role()));
            return done(pass);
        }
        let Some(central) = self.central_peer().await? else {
            pass.inactive = Some("no central node known: nothing is dropped before it holds it".into());
            return done(pass);
        };
        let keep = SignedDuration::from_hours(i64::from(self.config.retention_days).saturating_mul(24));
        for id in self.docs.list("event:").await? {
            let Ok(DocId::Event { event_id }) = id.parse::<DocId>() else { continue };
            let Some(event) = self.docs.event(&event_id).await? else { continue };
            let Some(ended) = event.ends_at() else { continue };
            let Ok(due_at) = ended.checked_add(keep) else { continue };
            if now < due_at {
                continue;
            }
            match self.retire_event(&event, ended, &central).await? {
                Ok(r) => pass.retired.push(r),
                Err(reason) => {
                    debug!(event = %event_id, %due_at, %reason, "event due for retention kept");
                    pass.held.push(Held { event_id, due_at, reason });
                }
            }
        }
        done(pass)
    }

    /// Drops one ended event's documents if the central node `central` acknowledged every one;
    /// otherwise answers why not.
    async fn retire_event(
        &self,
        event: &cec_core::Event,
        ended: Timestamp,
        central: &str,
    ) -> NodeResult<Result<RetiredEvent, String>> {
        let event_id = event.id.clone();
        // Logged check-ins are not in the documents the central node acknowledged yet.
        self.fold_logged().await;
        let (c, e) = (central.to_owned(), event_id.clone());
        let listed = match self.store.read(move |conn| acknowledged(conn, &c, &e)).await? {
            Ok(docs) => docs,
            Err(why) => return Ok(Err(why)),
        };
        // No write to these documents while they are checked and dropped.
        let ids: Vec<DocId> = listed.keys().filter_map(|id| id.parse().ok()).collect();
        let locked = self.docs.lock_many(ids).await?;
        let retired_at = super::clock::now_ms();
        let row = RetiredEventRow {
            event_id: event_id.clone(),
            provider_id: event.provider.id.clone(),
            ended_at: ended.as_millisecond(),
            retired_at,
            central_id: central.to_owned(),
            documents: i64::try_from(listed.len()).unwrap_or(i64::MAX),
            checkins: 0,
        };
        let (central, central_id) = (central.to_owned(), central.to_owned());
        // Marked first, so that the log's writer refuses a check-in of the event from now on;
        // then counted in the log's writer, after every check-in it took before the mark.
        self.docs.mark_retired(&event_id);
        let e = event_id.clone();
        match self.log_store.write(move |tx| index::logged_count(tx, &e)).await {
            Ok(0) => {}
            Ok(_) => {
                self.docs.unretire(&event_id);
                return Ok(Err("some of its check-ins are not in its documents yet".to_owned()));
            }
            Err(e) => {
                self.docs.unretire(&event_id);
                return Err(e.into());
            }
        }
        let job = move |tx: &rusqlite::Transaction<'_>| {
            let docs = match acknowledged(tx, &central, &row.event_id)? {
                Ok(docs) if docs == listed => docs,
                Ok(_) => return Ok(Err("its documents changed while it was being retired".to_owned())),
                Err(why) => return Ok(Err(why)),
            };
            storage::with_secure_delete(tx, |tx| {
                let checkins = index::delete_event_checkins(tx, &row.event_id)?;
                let row = RetiredEventRow { checkins: i64::try_from(checkins).unwrap_or(i64::MAX), ..row };
                storage::put_retired_event(tx, &row)?;
                for (id, heads) in &docs {
                    storage::delete_doc(tx, id)?;
                    storage::put_retired_doc(tx, id, &row.event_id, heads, retired_at)?;
                }
                let event_doc = DocId::event(&row.event_id).to_string();
                storage::record_change(tx, &event_doc, FeedKind::Retired.as_str(), &row.event_id)?;
                Ok(Ok((docs.len(), checkins)))
            })
        };
        match self.docs.retire_with(&event_id, job).await {
            Ok(Ok((documents, checkins))) => {
                locked.forget_retired(&event_id);
                self.ingest.forget_event(&event_id);
                info!(
                    event = %event_id, %ended, retention_days = self.config.retention_days, documents, checkins,
                    central = %central_id,
                    "event retired: it ended, the retention time passed, and the central node holds every document; \
                     its roster and attendance are dropped from this node"
                );
                Ok(Ok(RetiredEvent { event_id, documents, checkins }))
            }
            Ok(Err(why)) => {
                self.docs.unretire(&event_id);
                Ok(Err(why))
            }
            Err(e) => {
                self.docs.unretire(&event_id);
                warn!(event = %event_id, cause = %e, "retiring an event failed; nothing was dropped");
                Err(e.into())
            }
        }
    }

    /// The events retired from this node, most recently retired first.
    pub async fn retired_events(&self) -> NodeResult<Vec<RetiredEventRow>> {
        Ok(self.store.read(storage::retired_events).await?)
    }

    /// The retired events this node tells a peer of in its hello: those its own credential
    /// covers (no other event is ever exchanged with anyone).
    pub async fn retired_to_tell(&self) -> Vec<String> {
        let Some(mine) = self.credential() else { return Vec::new() };
        let rows = match self.retired_events().await {
            Ok(rows) => rows,
            Err(e) => {
                warn!(cause = %e, "reading the retired events failed; the peer is not told of them");
                return Vec::new();
            }
        };
        rows.into_iter()
            .filter(|r| mine.scopes.covers(&DocId::event(&r.event_id), |_| Some(r.provider_id.clone())))
            .map(|r| r.event_id)
            .collect()
    }

    /// The documents a sync session with `peer` leaves out: those of events this node retired
    /// (asked live, so an event retired during the session is left out from then on) and of
    /// events `peer` told it retired.
    pub fn retired_filter(&self, peer: &str) -> Retired {
        let own = self.docs.retired().clone();
        let theirs = self.retention.of_peer(peer);
        Retired::new(move |doc| own.contains_doc(doc) || doc.event_id().is_some_and(|e| theirs.contains(e)))
    }
}

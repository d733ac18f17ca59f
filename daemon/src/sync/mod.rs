//! Peer sync: the daemon's side of `cec_core::sync`.
//!
//! The core [`Session`] decides what to send and applies what arrives; this module performs
//! its effects. Each turn ([`Driver::step`]) locks the documents the session needs
//! ([`Docs::lock_many`](crate::node::Docs::lock_many)), lets the session apply and generate
//! sync messages over them, and stores every document the peer changed, with its projection
//! (index rows, change feed) and the peer's updated sync states, in **one** storage job;
//! the frame goes out only after that commit. A dropped connection therefore loses nothing:
//! what was applied is on disk with the sync state that covers it, and the next session
//! resumes from there.
//!
//! An unchanged resync costs one round trip: the peer's hello answer carries the summary its
//! responder would open with ([`opening_summary`]), and an initiator whose own agrees ends
//! there ([`run_initiator_knowing`]).
//!
//! [`run_initiator`] drives a session over any [`Transport`]; [`Responders`] keeps the
//! answering side's sessions between requests, one per peer. Both leave out the documents of
//! events retired on either side ([`Node::retired_filter`]).
//!
//! What the peer sends is checked before it is committed: a document whose scope depends on
//! its content (an event this node did not hold, under a `provider:` scope: [`PeerScope`]) and
//! every change against the peer's write rights ([`refusal`]). A refused document is
//! discarded, its sync state is not stored, and the session stops exchanging it
//! ([`Session::reject`]).

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};

use automerge::{AutoCommit, ChangeHash};
use cec_core::doc::DocId;
use cec_core::ident::Role;
use cec_core::sync::{Config, DocStore, Event, Manifest, Session, Stats, Status, Summary};
use tracing::{debug, warn};

use crate::node::projection::Projection;
use crate::node::{DocsError, Node};
use crate::storage::{self, StorageError};

mod scope;

pub use scope::PeerScope;

/// Why a sync with a peer failed. What was applied before the failure stays applied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// Documents could not be loaded or stored.
    #[error(transparent)]
    Docs(Box<DocsError>),
    /// Storage failed.
    #[error(transparent)]
    Storage(Box<StorageError>),
    /// The session ended early (bad frame, out of turn, timed out).
    #[error("sync session failed: {0}")]
    Session(#[from] cec_core::sync::SessionError),
    /// The transport failed.
    #[error("peer unreachable: {0}")]
    Transport(String),
    /// The peer answered with nothing where a frame was due.
    #[error("peer sent no answer")]
    NoAnswer,
    /// A round with this peer is running already, in the other direction: one round at a time
    /// per pair of nodes (the running round exchanges what either side has).
    #[error("a sync round between these two nodes is running already (opened by the other side)")]
    Busy,
}

impl From<DocsError> for SyncError {
    fn from(e: DocsError) -> Self {
        Self::Docs(Box::new(e))
    }
}

impl From<StorageError> for SyncError {
    fn from(e: StorageError) -> Self {
        Self::Storage(Box::new(e))
    }
}

/// Milliseconds on the session's clock.
fn now_ms() -> u64 {
    u64::try_from(storage_now_ms()).unwrap_or(0)
}

fn storage_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Decodes heads as stored beside a document (32-byte hashes, concatenated).
fn decode_heads(bytes: &[u8]) -> Vec<ChangeHash> {
    bytes.chunks_exact(32).filter_map(|c| ChangeHash::try_from(c).ok()).collect()
}

/// The manifest of the documents this node holds that both scopes cover, from the heads
/// stored beside them (no document is loaded). Check-ins still in the log are folded into
/// their documents first, so a round carries every check-in acknowledged before it.
pub async fn manifest(node: &Node, scope: &PeerScope) -> Result<Manifest, SyncError> {
    node.fold_logged().await;
    let rows = node.store.read(|c| storage::doc_heads(c, "")).await?;
    let docs = rows.into_iter().filter_map(|(id, heads)| {
        let doc: DocId = id.parse().ok()?;
        scope.covers(&doc).then(|| (doc, decode_heads(&heads)))
    });
    Ok(Manifest::from_heads(docs))
}

/// The summary this node answers a sync opening from `peer` with, computed as its responder
/// session would (the documents both scopes cover, less the retired): the hello answer carries
/// it, so an initiator in sync with this node ends its round without a frame.
pub async fn opening_summary(node: &Node, peer: &str, scope: &Arc<PeerScope>) -> Result<Summary, SyncError> {
    let manifest = manifest(node, scope).await?;
    let session = Session::responder(0, Config::default(), scope.filter(), manifest);
    Ok(session.with_retired(node.retired_filter(peer)).summary())
}

/// Why a change from a peer of `role` to `doc` is refused, if it is: each document kind has
/// its writers. Verified records are the central node's alone (a member cannot forge its
/// history); a member writes only its own portfolio; kiosks and staff never write portfolios.
/// Events and attendance come from the central node, staff and kiosks (a kiosk relays the
/// central node's event changes to its neighbours in the hall).
pub fn refusal(role: Role, doc: &DocId, projection: &Projection) -> Option<String> {
    let verified = projection.writes_verified();
    match (role, doc) {
        (Role::Central, _) => None,
        (_, DocId::Portfolio { .. }) if verified => {
            Some(format!("a {role} node may not write verified records: only the central node does"))
        }
        (Role::Member, DocId::Portfolio { .. }) => None,
        (Role::Member, _) => Some("a member node writes only its own portfolio".into()),
        (Role::Kiosk | Role::Staff, DocId::Portfolio { .. }) => Some(format!("a {role} node may not write portfolios")),
        (Role::Kiosk | Role::Staff, _) => None,
    }
}

/// The session's view of the documents locked for one turn.
struct TurnStore<'a, 'b> {
    locked: &'a mut crate::node::docs::Locked<'b>,
    states: &'a HashMap<DocId, Vec<u8>>,
}

impl DocStore for TurnStore<'_, '_> {
    fn get_mut(&mut self, doc: &DocId) -> Option<&mut AutoCommit> {
        self.locked.get_mut(doc)
    }

    fn create(&mut self, doc: &DocId) {
        let _ = self.locked.get_or_create_empty(doc);
    }

    fn sync_state(&mut self, doc: &DocId) -> Option<Vec<u8>> {
        self.states.get(doc).cloned()
    }
}

/// One side of a session with one peer, and the peer's stored sync states.
#[derive(Debug)]
pub struct Driver {
    peer: String,
    role: Role,
    /// This node's turn with the peer, held while a responder's session lives.
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
    scope: Arc<PeerScope>,
    session: Session,
    states: HashMap<DocId, Vec<u8>>,
    /// Documents whose changes from this peer were refused, and why.
    pub refused: Vec<(DocId, String)>,
}

impl Driver {
    /// A session with `peer` (of `role`) on the side `side`, exchanging what `scope` allows;
    /// an initiator's may open with its changes (`push`, see [`Driver::initiator`]).
    async fn new(
        node: &Node,
        peer: &str,
        role: Role,
        scope: Arc<PeerScope>,
        side: impl FnOnce(Manifest, cec_core::sync::ScopeFilter) -> Session,
        push: Option<usize>,
    ) -> Result<Self, SyncError> {
        let manifest = manifest(node, &scope).await?;
        let p = peer.to_owned();
        let rows = node.store.read(move |c| storage::sync_states_for_peer(c, &p)).await?;
        let states: HashMap<DocId, Vec<u8>> =
            rows.into_iter().filter_map(|(d, s)| Some((d.parse().ok()?, s))).collect();
        let mut session = side(manifest, scope.filter()).with_retired(node.retired_filter(peer));
        if let Some(budget) = push {
            session = session.with_push(|d| states.get(d).cloned(), budget);
        }
        Ok(Self { peer: peer.to_owned(), role, _turn: None, scope, session, states, refused: Vec::new() })
    }

    /// An initiator's side of a session with `peer` (of `role`) exchanging what `scope`
    /// allows; with `push`, it may open with the changes made since the last sync with the
    /// peer, up to that many bytes of messages ([`Session::with_push`]).
    pub async fn initiator(
        node: &Node,
        peer: &str,
        role: Role,
        scope: Arc<PeerScope>,
        config: Config,
        push: Option<usize>,
    ) -> Result<Self, SyncError> {
        Self::new(node, peer, role, scope, |manifest, filter| Session::initiator(config, filter, manifest), push).await
    }

    /// Whether the opening may carry changes (see [`Driver::initiator`]).
    pub fn may_push(&self) -> bool {
        self.session.may_push()
    }

    /// Whether the opening sent carried changes.
    pub fn pushed(&self) -> bool {
        self.session.pushed()
    }

    /// Refuses `doc` for this session: its changes are discarded and its state not stored.
    fn reject(&mut self, locked: &mut crate::node::docs::Locked<'_>, doc: &DocId, why: String) {
        warn!(peer = %self.peer, %doc, cause = %why, "change refused");
        locked.discard(doc);
        self.session.reject(doc);
        self.states.remove(doc);
        self.refused.push((doc.clone(), why));
    }

    /// The session's statistics.
    pub fn stats(&self) -> &Stats {
        self.session.stats()
    }

    /// One turn: apply what arrived, generate what to send, store both durably; returns the
    /// frame to send (after its effects are committed), if one is due.
    pub async fn step(&mut self, node: &Node) -> Result<Option<Vec<u8>>, SyncError> {
        let needed = self.session.docs_needed();
        let mut locked = node.docs.lock_many(needed).await?;
        let frame = {
            let mut store = TurnStore { locked: &mut locked, states: &self.states };
            self.session.poll_transmit(now_ms(), &mut store)
        };
        let mut to_save = Vec::new();
        let mut changed = Vec::new();
        while let Some(event) = self.session.poll_event() {
            match event {
                // The chunk is recomputed by the commit from the saved heads, with its
                // projection; nothing to do here.
                Event::Changed { doc, .. } => {
                    debug!(peer = %self.peer, %doc, "changed by peer");
                    changed.push(doc);
                }
                Event::SaveSyncState { doc, state } => to_save.push((doc, state)),
                Event::DocFailed { doc, error } => {
                    warn!(peer = %self.peer, %doc, cause = %error, "document failed in sync; reloaded from disk");
                    locked.discard(&doc);
                }
                Event::Refused { doc } => warn!(peer = %self.peer, %doc, "peer offered a document outside the scope"),
                _ => {}
            }
        }
        // Documents whose scope depends on their content are judged by it now, events
        // before their attendance (document order).
        changed.sort();
        let mut rejected = HashSet::new();
        for doc in changed {
            if self.scope.pending(&doc).is_none() {
                continue;
            }
            let provider = match &doc {
                DocId::Event { .. } => {
                    locked.get_mut(&doc).and_then(|d| cec_core::doc::event::read(d).ok()).map(|e| e.provider.id)
                }
                _ => None,
            };
            if let Err(why) = self.scope.settle(&doc, provider.as_deref()) {
                self.reject(&mut locked, &doc, why);
                rejected.insert(doc);
            }
        }
        to_save.retain(|(doc, _)| !rejected.contains(doc));
        for (doc, state) in &to_save {
            self.states.insert(doc.clone(), state.clone());
        }
        // Changes beyond the peer's write rights are refused inside the commit, which then
        // stores no sync state for them either.
        let refused_by_role = Arc::new(Mutex::new(HashSet::new()));
        let peer = self.peer.clone();
        let role = self.role;
        let refused_in_job = refused_by_role.clone();
        let committed = locked
            .commit_checked(
                Some(Box::new(move |tx| {
                    let refused = refused_in_job.lock().unwrap_or_else(|p| p.into_inner());
                    for (doc, state) in to_save.iter().filter(|(d, _)| !refused.contains(d)) {
                        storage::put_sync_state(tx, &peer, &doc.to_string(), state)?;
                    }
                    Ok(())
                })),
                |doc, projection| {
                    let why = refusal(role, doc, projection);
                    if why.is_some() {
                        refused_by_role.lock().unwrap_or_else(|p| p.into_inner()).insert(doc.clone());
                    }
                    why
                },
            )
            .await?;
        for (doc, why) in committed.refused {
            let why = format!("the peer may not write it: {why}");
            warn!(peer = %self.peer, %doc, cause = %why, "change refused");
            self.session.reject(&doc);
            self.states.remove(&doc);
            self.refused.push((doc, why));
        }
        Ok(frame)
    }

    /// Takes a frame from the peer.
    pub fn input(&mut self, bytes: &[u8]) -> Result<(), SyncError> {
        Ok(self.session.handle_input(now_ms(), bytes)?)
    }

    /// Whether the session is still exchanging frames.
    pub fn is_open(&self) -> bool {
        *self.session.status() == Status::Open
    }

    /// How the session ended, if it did.
    pub fn status(&self) -> &Status {
        self.session.status()
    }
}

/// Carries frames to the peer's responder.
pub trait Transport {
    /// Sends `frame` and returns the peer's answer (`None` when it owes none: after `Done`).
    fn exchange(&mut self, frame: Vec<u8>) -> impl Future<Output = Result<Option<Vec<u8>>, SyncError>> + Send;
}

/// Syncs with `peer` (its node id) as the initiator, over `transport`, exchanging the
/// documents `scope` allows; returns what moved.
pub async fn run_initiator(
    node: &Node,
    peer: &str,
    role: Role,
    scope: Arc<PeerScope>,
    config: Config,
    transport: &mut impl Transport,
) -> Result<Stats, SyncError> {
    run_initiator_knowing(node, peer, role, scope, config, None, transport).await
}

/// [`run_initiator`], knowing the summary the peer would answer the opening with (its hello
/// answer carries it, see [`opening_summary`]): when this side's agrees, every document in
/// scope is in sync and the round ends without a frame.
pub async fn run_initiator_knowing(
    node: &Node,
    peer: &str,
    role: Role,
    scope: Arc<PeerScope>,
    config: Config,
    theirs: Option<&Summary>,
    transport: &mut impl Transport,
) -> Result<Stats, SyncError> {
    let driver = Driver::initiator(node, peer, role, scope, config, None).await?;
    open_knowing(node, driver, theirs, transport).await
}

/// Runs an initiator's session that has not opened yet, knowing the summary the peer would
/// answer the opening with, if it does: when this side's agrees, the round ends without a
/// frame.
pub async fn open_knowing(
    node: &Node,
    mut driver: Driver,
    theirs: Option<&Summary>,
    transport: &mut impl Transport,
) -> Result<Stats, SyncError> {
    if let Some(theirs) = theirs
        && driver.session.end_if_agreeing(theirs)
    {
        debug!(peer = %driver.peer, "in sync: the peer's summary agrees, no frame sent");
        return Ok(driver.stats().clone());
    }
    drive(node, driver, transport).await
}

/// Runs an initiator's session to its end over `transport`: each turn's frame sent, the
/// answer taken.
pub async fn drive(node: &Node, mut driver: Driver, transport: &mut impl Transport) -> Result<Stats, SyncError> {
    loop {
        let Some(frame) = driver.step(node).await? else { break };
        let answer = transport.exchange(frame).await?;
        match answer {
            Some(bytes) if driver.is_open() => driver.input(&bytes)?,
            None if driver.is_open() => return Err(SyncError::NoAnswer),
            _ => {}
        }
        if !driver.is_open() {
            // The last answer (an equal Hello) may still have work for a final turn.
            let _ = driver.step(node).await?;
            break;
        }
    }
    match driver.status() {
        Status::Failed(e) => Err(SyncError::Session(e.clone())),
        _ => Ok(driver.stats().clone()),
    }
}

/// The answering side's sessions, one per peer; a new opening from a peer replaces its
/// session.
///
/// One round at a time per pair of nodes: a responder's session holds this node's turn with
/// the peer ([`Node::sync_turn`]) from the opening to its end, so this node does not open a
/// round of its own toward that peer meanwhile; and an opening that arrives while this node's
/// own round toward the peer holds the turn is answered [`SyncError::Busy`] (never waited
/// for: two nodes opening toward each other at once would wait on each other). A session the
/// peer abandoned gives the turn back once idle past its timeout ([`Responders::expire_idle`]).
#[derive(Debug, Default)]
pub struct Responders {
    sessions: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<Driver>>>>,
}

impl Responders {
    /// Ends `peer`'s session if it has been idle past its timeout (the peer went away mid
    /// session), giving the turn back; answers whether one was ended.
    pub fn expire_idle(&self, peer: &str, now: u64) -> bool {
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        let idle = sessions.get(peer).is_some_and(|d| {
            d.try_lock().is_ok_and(|d| d.session.poll_timeout().is_none_or(|deadline| now >= deadline))
        });
        if idle {
            debug!(%peer, "an idle responder session ended");
            sessions.remove(peer);
        }
        idle
    }

    /// Answers one frame from `peer`, exchanging the documents `scope` allows (the scope is
    /// computed only when the frame opens a new session).
    pub async fn answer(
        &self,
        node: &Node,
        peer: &str,
        role: Role,
        scope: impl Future<Output = Arc<PeerScope>>,
        config: Config,
        frame: &[u8],
    ) -> Result<Option<Vec<u8>>, SyncError> {
        let opening = matches!(
            cec_core::sync::Frame::decode(frame, config.max_frame_bytes),
            Ok(cec_core::sync::Frame::Hello(_) | cec_core::sync::Frame::Push { .. })
        );
        let driver = {
            // Not cloned for an opening: the earlier session must go, turn and all.
            let existing =
                if opening { None } else { self.sessions.lock().unwrap_or_else(|p| p.into_inner()).get(peer).cloned() };
            match existing {
                Some(d) => d,
                None => {
                    // A new opening replaces this peer's own earlier session, and its turn.
                    drop(self.sessions.lock().unwrap_or_else(|p| p.into_inner()).remove(peer));
                    let turn = node.sync_turn(peer).try_lock_owned().map_err(|_| SyncError::Busy)?;
                    let responder = |manifest, filter| Session::responder(now_ms(), config, filter, manifest);
                    let mut d = Driver::new(node, peer, role, scope.await, responder, None).await?;
                    d._turn = Some(turn);
                    let d = Arc::new(tokio::sync::Mutex::new(d));
                    self.sessions.lock().unwrap_or_else(|p| p.into_inner()).insert(peer.to_owned(), d.clone());
                    d
                }
            }
        };
        let mut driver = driver.lock().await;
        let result = async {
            driver.input(frame)?;
            driver.step(node).await
        }
        .await;
        if result.is_err() || !driver.is_open() {
            self.sessions.lock().unwrap_or_else(|p| p.into_inner()).remove(peer);
        }
        result
    }
}

#[cfg(test)]
mod tests;

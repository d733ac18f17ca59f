//! The per-peer sync state machine (see the module documentation of [`crate::sync`]).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};

use automerge::sync::{BloomFilter, Have, Message, State, SyncDoc};

use super::wire::{HEADER_BYTES, ROUND_FIXED_BYTES, round_entry_bytes};
use super::{
    BUCKETS, Config, DocStore, DocSyncError, Event, Frame, HeadsDigest, Manifest, Retired, ScopeFilter, SessionError,
    Stats, Status, Summary,
};
use crate::doc::DocId;

/// The most a push carries of a document never synced with the peer (its whole history).
const NEW_DOC_PUSH_BYTES: usize = 4096;

/// How many documents never synced with the peer a push considers (each is encoded whole to
/// see whether it fits).
const NEW_DOCS_PUSHED: usize = 16;

/// Which end of the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Initiator,
    Responder,
}

/// Where the protocol stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Initiator: Hello not sent yet. Responder: waiting for the Hello.
    Opening,
    /// Initiator: Hello sent, waiting for the responder's Hello or Manifest.
    AwaitManifest,
    /// Exchanging rounds.
    Rounds,
    /// Over (see `Session::status`).
    Over,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Self::Opening => "opening",
            Self::AwaitManifest => "waiting for the manifest",
            Self::Rounds => "exchanging rounds",
            Self::Over => "over",
        }
    }
}

/// One document's sync state with the peer, as loaded from the host and since updated.
#[derive(Debug)]
struct DocSync {
    state: State,
    /// The encoding last given to (or loaded from) the host.
    saved: Vec<u8>,
}

/// A sync session with one peer. See [`crate::sync`] for the protocol and the host's contract.
#[derive(Debug)]
pub struct Session {
    side: Side,
    config: Config,
    scope: ScopeFilter,
    retired: Retired,
    manifest: Manifest,
    phase: Phase,
    status: Status,
    /// A frame the session owes the peer (or, for the initiator, may send).
    reply_due: bool,
    /// A control frame (Hello, Manifest) to send before anything else.
    control: Option<Frame>,
    /// The peer said it has more than its last frame held.
    peer_more: bool,
    docs: BTreeMap<DocId, DocSync>,
    /// Sync messages received and not yet applied.
    incoming: BTreeMap<DocId, Vec<u8>>,
    /// Documents that may have something to send.
    active: BTreeSet<DocId>,
    /// A generated message that did not fit in the last frame; it goes first in the next.
    held: Option<(DocId, Vec<u8>)>,
    failed: BTreeSet<DocId>,
    events: VecDeque<Event>,
    stats: Stats,
    deadline: Option<u64>,
    /// Initiator: documents whose changes since the last sync with the peer the opening may
    /// carry ([`Session::with_push`]), and how many bytes of messages it may carry.
    push: BTreeSet<DocId>,
    push_budget: usize,
    /// Initiator: the opening was a `Push`.
    sent_push: bool,
    /// Responder: the peer opened with a `Push` of this summary; compared once its changes are
    /// applied.
    peer_push: Option<Box<Summary>>,
    /// Initiator: the peer agreed after the push; its acknowledgements are applied, then the
    /// session ends without another frame.
    closing: bool,
}

impl Session {
    /// A session that opens the exchange, offering the documents of `manifest` the scope
    /// allows.
    pub fn initiator(config: Config, scope: ScopeFilter, manifest: Manifest) -> Self {
        let mut s = Self::new(Side::Initiator, config, scope, manifest);
        s.reply_due = true;
        s
    }

    /// A session that answers a peer's opening, offering the documents of `manifest` the
    /// scope allows. `now` starts the wait for the opening.
    pub fn responder(now: u64, config: Config, scope: ScopeFilter, manifest: Manifest) -> Self {
        let mut s = Self::new(Side::Responder, config, scope, manifest);
        s.deadline = Some(now.saturating_add(config.idle_timeout_ms));
        s
    }

    fn new(side: Side, config: Config, scope: ScopeFilter, mut manifest: Manifest) -> Self {
        manifest.retain(|d| scope.allows(d));
        Self {
            side,
            config,
            scope,
            retired: Retired::none(),
            manifest,
            phase: Phase::Opening,
            status: Status::Open,
            reply_due: false,
            control: None,
            peer_more: false,
            docs: BTreeMap::new(),
            incoming: BTreeMap::new(),
            active: BTreeSet::new(),
            held: None,
            failed: BTreeSet::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
            deadline: None,
            push: BTreeSet::new(),
            push_budget: 0,
            sent_push: false,
            peer_push: None,
            closing: false,
        }
    }

    /// Lets an initiator open with its changes (a `Push`) instead of its summary alone, so that
    /// a resync after a few local changes takes one round trip: the documents of the manifest
    /// whose heads moved since the last sync with the peer (`state` gives the stored sync state
    /// of a document), as Automerge sync messages carrying the changes after the heads both
    /// sides shared then, up to `budget` bytes of messages; a document never synced with the
    /// peer goes with its whole history if that is small (a few KB). A document whose message
    /// does not fit goes through the rounds as before. Only for a peer
    /// that takes a `Push` (the daemon's hello says so) and may hold every document of this
    /// session's scope. Call after [`Session::with_retired`].
    pub fn with_push(mut self, state: impl Fn(&DocId) -> Option<Vec<u8>>, budget: usize) -> Self {
        if self.side != Side::Initiator {
            return self;
        }
        let mut never_synced = 0;
        for (doc, digest) in self.manifest.iter() {
            let shared = state(doc)
                .filter(|b| !b.is_empty())
                .and_then(|bytes| catch_unwind(AssertUnwindSafe(|| State::decode(&bytes).ok())).ok().flatten())
                .map(|s| s.shared_heads)
                .unwrap_or_default();
            if shared.is_empty() {
                // Each is loaded and encoded whole to see whether it fits: a few at most.
                never_synced += 1;
                if never_synced > NEW_DOCS_PUSHED {
                    continue;
                }
            } else if HeadsDigest::of(&shared) == *digest {
                continue;
            }
            self.push.insert(doc.clone());
        }
        self.push_budget = budget;
        self
    }

    /// Whether the opening may be a `Push`: some document changed since its last sync with the
    /// peer (before the opening is sent).
    pub fn may_push(&self) -> bool {
        self.phase == Phase::Opening && !self.push.is_empty()
    }

    /// Whether the opening this session sent was a `Push`.
    pub fn pushed(&self) -> bool {
        self.sent_push
    }

    /// Leaves out the documents of `retired` (see [`Retired`]): they are taken out of the
    /// manifest now, and `retired` is asked again whenever the peer lists or sends a document
    /// and before one is applied or generated. Call before the first frame.
    pub fn with_retired(mut self, retired: Retired) -> Self {
        self.manifest.retain(|d| !retired.contains(d));
        self.retired = retired;
        self
    }

    /// Where the session stands.
    pub fn status(&self) -> &Status {
        &self.status
    }

    /// The summary this side opens with (or answers an opening with): its manifest's, after
    /// the scope and the retired documents took their share.
    pub fn summary(&self) -> Summary {
        self.manifest.summary()
    }

    /// Ends an initiator's session before its first frame when the peer's summary, learnt
    /// before the session (the daemon's hello answer carries the responder's), equals this
    /// side's: every document in scope agrees, so there is nothing to exchange and the opening
    /// round trip is saved. Returns whether it ended; otherwise the session opens as usual.
    pub fn end_if_agreeing(&mut self, theirs: &Summary) -> bool {
        let opening = self.side == Side::Initiator && self.phase == Phase::Opening && self.status == Status::Open;
        if opening && self.manifest.summary().differing(theirs) == 0 {
            self.finish();
            return true;
        }
        false
    }

    /// What the session did so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The documents the next [`Session::poll_transmit`] may read or change: those with
    /// received messages to apply and those that may have something to send.
    pub fn docs_needed(&self) -> BTreeSet<DocId> {
        let mut out: BTreeSet<DocId> = self.incoming.keys().cloned().collect();
        out.extend(self.active.iter().cloned());
        if self.phase == Phase::Opening {
            out.extend(self.push.iter().cloned());
        }
        if let Some((d, _)) = &self.held {
            out.insert(d.clone());
        }
        out.retain(|d| !self.retired.contains(d));
        out
    }

    /// Tells the session that `doc` changed locally during the session, so it offers the
    /// change on its next turn. Ignored for documents outside the scope or failed.
    pub fn notify_local_change(&mut self, doc: &DocId) {
        if self.phase == Phase::Rounds
            && self.scope.allows(doc)
            && !self.failed.contains(doc)
            && !self.retired.contains(doc)
        {
            self.active.insert(doc.clone());
        }
    }

    /// The next effect for the host to perform.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When the host should call [`Session::handle_timeout`] if no frame arrives before.
    pub fn poll_timeout(&self) -> Option<u64> {
        if self.status == Status::Open { self.deadline } else { None }
    }

    /// Ends the session if its deadline has passed.
    pub fn handle_timeout(&mut self, now: u64) {
        if self.deadline.is_some_and(|d| now >= d) && self.status == Status::Open {
            self.fail(SessionError::TimedOut);
        }
    }

    fn fail(&mut self, error: SessionError) {
        self.phase = Phase::Over;
        self.status = Status::Failed(error);
        self.deadline = None;
        self.reply_due = false;
    }

    fn finish(&mut self) {
        self.phase = Phase::Over;
        self.status = Status::Quiescent;
        self.deadline = None;
        self.reply_due = false;
    }

    fn unexpected(&mut self, got: &'static str) -> SessionError {
        let e = SessionError::Unexpected { got, state: self.phase.name() };
        self.fail(e.clone());
        e
    }

    /// Takes one frame from the peer. A frame that is malformed or out of turn ends the
    /// session with the returned error; one bad document inside a good frame does not.
    pub fn handle_input(&mut self, _now: u64, bytes: &[u8]) -> Result<(), SessionError> {
        if self.phase == Phase::Over {
            return Err(SessionError::Over);
        }
        self.stats.frames_received += 1;
        self.stats.bytes_received += bytes.len() as u64;
        let frame = match Frame::decode(bytes, self.config.max_frame_bytes) {
            Ok(f) => f,
            Err(e) => {
                let e = SessionError::Wire(e);
                self.fail(e.clone());
                return Err(e);
            }
        };
        // The responder takes a frame only when it owes none; the initiator only after sending.
        let awaiting = match self.side {
            Side::Responder => !self.reply_due,
            Side::Initiator => !self.reply_due && self.phase != Phase::Opening,
        };
        let kind = frame.kind();
        if !awaiting {
            return Err(self.unexpected(kind));
        }
        match (self.side, self.phase, frame) {
            (Side::Responder, Phase::Opening, Frame::Hello(theirs)) => {
                let ours = self.manifest.summary();
                let mask = ours.differing(&theirs);
                if mask == 0 {
                    self.control = Some(Frame::Hello(Box::new(ours)));
                } else {
                    self.control = Some(Frame::Manifest { mask, entries: self.manifest.entries_in(mask) });
                    self.phase = Phase::Rounds;
                }
                self.reply_due = true;
            }
            (Side::Responder, Phase::Opening, Frame::Push { summary, docs }) => {
                self.take_messages(docs);
                self.peer_push = Some(summary);
                self.reply_due = true;
            }
            (Side::Initiator, Phase::AwaitManifest, Frame::Agreed { docs }) if self.sent_push => {
                self.take_messages(docs);
                self.closing = true;
                self.reply_due = true;
            }
            (Side::Initiator, Phase::AwaitManifest, Frame::Hello(theirs)) => {
                if self.manifest.summary().differing(&theirs) != 0 {
                    return Err(self.unexpected("differing hello"));
                }
                self.finish();
            }
            (Side::Initiator, Phase::AwaitManifest, Frame::Manifest { mask, entries }) => {
                let mut allowed = Vec::with_capacity(entries.len());
                for (doc, digest) in entries {
                    if self.retired.contains(&doc) {
                        self.stats.retired.insert(doc);
                    } else if self.scope.allows(&doc) {
                        allowed.push((doc, digest));
                    } else {
                        self.refuse(doc);
                    }
                }
                // A document of this side's manifest retired since it was made is left out too.
                let retired = &self.retired;
                self.active = self.manifest.diff(mask, &allowed).into_iter().filter(|d| !retired.contains(d)).collect();
                // After a push, the responder owes its messages for the pushed documents (their
                // acknowledgements, its own changes): a round goes out for them even if this
                // side has nothing to send.
                self.peer_more |= self.sent_push;
                self.phase = Phase::Rounds;
                self.reply_due = true;
            }
            (_, Phase::Rounds, Frame::Round { docs, more }) => {
                self.take_messages(docs);
                self.peer_more = more;
                self.reply_due = true;
            }
            (Side::Responder, Phase::Rounds, Frame::Done) => self.finish(),
            _ => return Err(self.unexpected(kind)),
        }
        self.deadline = None;
        Ok(())
    }

    /// Takes the peer's sync messages to apply at the next turn, leaving out what is retired,
    /// outside the scope (refused) or failed.
    fn take_messages(&mut self, docs: Vec<(DocId, Vec<u8>)>) {
        for (doc, msg) in docs {
            if self.retired.contains(&doc) {
                self.stats.retired.insert(doc);
            } else if !self.scope.allows(&doc) {
                self.refuse(doc);
            } else if !self.failed.contains(&doc) {
                self.active.insert(doc.clone());
                self.incoming.insert(doc, msg);
            }
        }
    }

    fn refuse(&mut self, doc: DocId) {
        self.stats.refused.insert(doc.clone());
        self.events.push_back(Event::Refused { doc });
    }

    /// Refuses `doc` after the peer's changes to it were applied: the host found them outside
    /// the scope once their content was known (an event under a `provider:` scope) or beyond
    /// the peer's write rights, and discards them. The session stops exchanging the document
    /// and forgets its sync state; the host must not store the state it was given for it this
    /// turn, so a later session starts that document afresh. Counted as refused, not received.
    pub fn reject(&mut self, doc: &DocId) {
        self.failed.insert(doc.clone());
        self.active.remove(doc);
        self.incoming.remove(doc);
        self.docs.remove(doc);
        if self.held.as_ref().is_some_and(|(d, _)| d == doc) {
            self.held = None;
        }
        self.stats.docs_received.remove(doc);
        self.stats.docs_changed.remove(doc);
        self.stats.refused.insert(doc.clone());
    }

    /// The next frame to send, if one is due: applies the received sync messages to the
    /// host's documents, then generates the answers. Drain [`Session::poll_event`] after.
    pub fn poll_transmit(&mut self, now: u64, store: &mut dyn DocStore) -> Option<Vec<u8>> {
        if !self.reply_due || self.phase == Phase::Over {
            return None;
        }
        self.reply_due = false;
        if self.closing {
            // The peer agreed after this side's push: its acknowledgements are applied (the
            // sync states advance), and nothing more is sent.
            self.apply_incoming(store);
            self.finish();
            return None;
        }
        let frame = if let Some(f) = self.control.take() {
            if matches!(f, Frame::Hello(_)) && self.side == Side::Responder {
                // Equal summaries: the initiator ends on this answer.
                self.finish();
            }
            f
        } else if let Some(theirs) = self.peer_push.take() {
            // A push: its changes applied first, then the summaries compared.
            self.apply_incoming(store);
            self.phase = Phase::Rounds;
            let mask = self.manifest.summary().differing(&theirs);
            if mask == 0 {
                // Acknowledgements of the pushed documents (a frame of them cannot overflow:
                // the push that caused them was smaller). The session ends with them.
                let (docs, _) = self.generate(store);
                self.held = None;
                self.finish();
                Frame::Agreed { docs }
            } else {
                // The pushed documents stay active: their acknowledgements go with the rounds.
                Frame::Manifest { mask, entries: self.manifest.entries_in(mask) }
            }
        } else if self.phase == Phase::Opening {
            self.phase = Phase::AwaitManifest;
            let summary = Box::new(self.manifest.summary());
            let docs = self.generate_push(store);
            if docs.is_empty() {
                Frame::Hello(summary)
            } else {
                self.sent_push = true;
                Frame::Push { summary, docs }
            }
        } else {
            self.apply_incoming(store);
            let (docs, more) = self.generate(store);
            if self.side == Side::Initiator && docs.is_empty() && !more && !self.peer_more {
                self.finish();
                Frame::Done
            } else {
                Frame::Round { docs, more }
            }
        };
        let bytes = frame.encode();
        self.stats.frames_sent += 1;
        self.stats.bytes_sent += bytes.len() as u64;
        if self.phase != Phase::Over {
            self.deadline = Some(now.saturating_add(self.config.idle_timeout_ms));
        }
        Some(bytes)
    }

    /// The sync state of `doc`, loaded from the host on first use. A stored state that does
    /// not decode is replaced by a fresh one (costing a fuller exchange, never data).
    fn load_state<'a>(
        docs: &'a mut BTreeMap<DocId, DocSync>,
        store: &mut dyn DocStore,
        doc: &DocId,
    ) -> &'a mut DocSync {
        docs.entry(doc.clone()).or_insert_with(|| {
            let saved = store.sync_state(doc).unwrap_or_default();
            let state = if saved.is_empty() {
                None
            } else {
                catch_unwind(AssertUnwindSafe(|| State::decode(&saved).ok())).ok().flatten()
            };
            match state {
                Some(state) => DocSync { state, saved },
                None => DocSync { state: State::new(), saved: Vec::new() },
            }
        })
    }

    fn doc_failed(&mut self, doc: &DocId, error: DocSyncError) {
        self.failed.insert(doc.clone());
        self.active.remove(doc);
        self.incoming.remove(doc);
        self.docs.remove(doc);
        self.stats.errors.insert(doc.clone(), error.clone());
        self.events.push_back(Event::DocFailed { doc: doc.clone(), error });
    }

    fn apply_incoming(&mut self, store: &mut dyn DocStore) {
        for (doc, bytes) in std::mem::take(&mut self.incoming) {
            if self.failed.contains(&doc) {
                continue;
            }
            // Retired since it arrived: never created or changed again.
            if self.retired.contains(&doc) {
                self.stats.retired.insert(doc);
                continue;
            }
            if store.get_mut(&doc).is_none() {
                store.create(&doc);
            }
            let sync = Self::load_state(&mut self.docs, store, &doc);
            let Some(d) = store.get_mut(&doc) else {
                self.doc_failed(&doc, DocSyncError::Missing);
                continue;
            };
            let before = d.get_heads();
            let result = catch_unwind(AssertUnwindSafe(|| {
                let msg = Message::decode(&bytes).map_err(|e| DocSyncError::Decode(e.to_string()))?;
                d.sync().receive_sync_message(&mut sync.state, msg).map_err(|e| DocSyncError::Apply(e.to_string()))
            }));
            match result {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    self.doc_failed(&doc, e);
                    continue;
                }
                Err(_) => {
                    self.doc_failed(&doc, DocSyncError::Panicked("receive_sync_message"));
                    continue;
                }
            }
            self.stats.docs_received.insert(doc.clone());
            let heads = d.get_heads();
            if heads != before {
                // A push is compared after it is applied.
                self.manifest.insert(doc.clone(), HeadsDigest::of(&heads));
                let chunk = d.save_after(&before);
                self.stats.docs_changed.insert(doc.clone());
                self.events.push_back(Event::Changed { doc: doc.clone(), chunk, heads });
            }
            let state = sync.state.encode();
            if state != sync.saved {
                sync.saved.clone_from(&state);
                self.events.push_back(Event::SaveSyncState { doc, state });
            }
        }
    }

    /// The opening's messages for the documents of [`Session::with_push`]: each carries every
    /// change after the heads this side last shared with the peer (the peer has those, so it
    /// needs no bloom filter of them first), within the push budget and the frame limit. A
    /// document left out keeps its sync state as it was and goes through the rounds.
    fn generate_push(&mut self, store: &mut dyn DocStore) -> Vec<(DocId, Vec<u8>)> {
        let fixed = HEADER_BYTES + BUCKETS * 8 + 4;
        let mut room = self.push_budget.min(self.config.max_frame_bytes.saturating_sub(fixed));
        let mut out = Vec::new();
        for doc in std::mem::take(&mut self.push) {
            if room <= round_entry_bytes(&doc.to_string(), 0) {
                break;
            }
            if self.retired.contains(&doc) || !self.scope.allows(&doc) || store.get_mut(&doc).is_none() {
                continue;
            }
            let sync = Self::load_state(&mut self.docs, store, &doc);
            let Some(d) = store.get_mut(&doc) else { continue };
            let shared = sync.state.shared_heads.clone();
            // Never synced with the peer: its whole history, if small (the peer may hold the
            // document already, from another node, and then these bytes were not needed).
            let limit = if shared.is_empty() { room.min(NEW_DOC_PUSH_BYTES) } else { room };
            let before = sync.state.clone();
            sync.state.their_heads = Some(shared.clone());
            sync.state.their_need = Some(Vec::new());
            sync.state.their_have = Some(vec![Have { last_sync: shared, bloom: BloomFilter::default() }]);
            let msg = catch_unwind(AssertUnwindSafe(|| d.sync().generate_sync_message(&mut sync.state)));
            let entry = match msg {
                Ok(Some(m)) => {
                    let bytes = m.encode();
                    let size = round_entry_bytes(&doc.to_string(), bytes.len());
                    (size <= limit).then_some((bytes, size))
                }
                _ => None,
            };
            match entry {
                Some((bytes, size)) => {
                    room -= size;
                    self.stats.docs_sent.insert(doc.clone());
                    out.push((doc, bytes));
                }
                None => sync.state = before,
            }
        }
        out
    }

    /// Sync messages for the active documents, in document order, up to the frame limit.
    /// Returns them and whether more remain.
    fn generate(&mut self, store: &mut dyn DocStore) -> (Vec<(DocId, Vec<u8>)>, bool) {
        let max = self.config.max_frame_bytes;
        let mut size = HEADER_BYTES + ROUND_FIXED_BYTES;
        let mut out: Vec<(DocId, Vec<u8>)> = Vec::new();
        if let Some((doc, msg)) = self.held.take().filter(|(d, _)| !self.retired.contains(d)) {
            size += round_entry_bytes(&doc.to_string(), msg.len());
            self.stats.docs_sent.insert(doc.clone());
            out.push((doc, msg));
        }
        for doc in self.active.clone() {
            if self.failed.contains(&doc) || out.iter().any(|(d, _)| *d == doc) {
                continue;
            }
            if self.retired.contains(&doc) {
                self.active.remove(&doc);
                continue;
            }
            if store.get_mut(&doc).is_none() {
                store.create(&doc);
            }
            let sync = Self::load_state(&mut self.docs, store, &doc);
            let Some(d) = store.get_mut(&doc) else {
                self.doc_failed(&doc, DocSyncError::Missing);
                continue;
            };
            let msg = match catch_unwind(AssertUnwindSafe(|| d.sync().generate_sync_message(&mut sync.state))) {
                Ok(Some(m)) => m.encode(),
                Ok(None) => {
                    self.active.remove(&doc);
                    continue;
                }
                Err(_) => {
                    self.doc_failed(&doc, DocSyncError::Panicked("generate_sync_message"));
                    continue;
                }
            };
            // In flight now: a receive puts it back in `active`.
            self.active.remove(&doc);
            let entry = round_entry_bytes(&doc.to_string(), msg.len());
            if HEADER_BYTES + ROUND_FIXED_BYTES + entry > max {
                let len = HEADER_BYTES + ROUND_FIXED_BYTES + entry;
                self.doc_failed(&doc, DocSyncError::TooLarge { len, max });
                continue;
            }
            if size + entry > max {
                self.held = Some((doc, msg));
                break;
            }
            size += entry;
            self.stats.docs_sent.insert(doc.clone());
            out.push((doc, msg));
        }
        let more = self.held.is_some();
        (out, more)
    }
}

#[cfg(test)]
mod tests {
    use automerge::{AutoCommit, ROOT, transaction::Transactable};

    use super::*;

    #[derive(Debug, Default)]
    struct MapStore {
        docs: BTreeMap<DocId, AutoCommit>,
        states: BTreeMap<DocId, Vec<u8>>,
    }

    impl DocStore for MapStore {
        fn get_mut(&mut self, doc: &DocId) -> Option<&mut AutoCommit> {
            self.docs.get_mut(doc)
        }
        fn create(&mut self, doc: &DocId) {
            self.docs.insert(doc.clone(), AutoCommit::new());
        }
        fn sync_state(&mut self, doc: &DocId) -> Option<Vec<u8>> {
            self.states.get(doc).cloned()
        }
    }

    impl MapStore {
        fn manifest(&mut self) -> Manifest {
            Manifest::from_heads(self.docs.iter_mut().map(|(d, doc)| (d.clone(), doc.get_heads())))
        }
        fn perform(&mut self, s: &mut Session) {
            while let Some(ev) = s.poll_event() {
                if let Event::SaveSyncState { doc, state } = ev {
                    self.states.insert(doc, state);
                }
            }
        }
    }

    fn with_doc(id: &DocId, key: &str) -> MapStore {
        let mut doc = AutoCommit::new();
        doc.put(ROOT, key, 1).expect("put");
        MapStore { docs: [(id.clone(), doc)].into(), states: BTreeMap::new() }
    }

    /// Runs a session to its end; returns the bytes on the wire.
    fn run(a: &mut MapStore, b: &mut MapStore) -> u64 {
        let (sa, _) = run_retiring(a, b, Retired::none(), Retired::none());
        sa.bytes_sent + sa.bytes_received
    }

    /// Runs a session to its end, each side leaving out what it was given as retired; returns
    /// both sides' statistics (initiator first). Fails on any refusal: a retired document is
    /// never one.
    fn run_retiring(a: &mut MapStore, b: &mut MapStore, ra: Retired, rb: Retired) -> (Stats, Stats) {
        let cfg = Config::default();
        let mut sa = Session::initiator(cfg, ScopeFilter::all(), a.manifest()).with_retired(ra);
        let mut sb = Session::responder(0, cfg, ScopeFilter::all(), b.manifest()).with_retired(rb);
        while let Some(out) = sa.poll_transmit(0, a) {
            a.perform(&mut sa);
            sb.handle_input(0, &out).expect("input");
            let Some(back) = sb.poll_transmit(0, b) else { break };
            b.perform(&mut sb);
            sa.handle_input(0, &back).expect("input");
        }
        a.perform(&mut sa);
        assert_eq!((sa.status(), sb.status()), (&Status::Quiescent, &Status::Quiescent));
        assert!(sa.stats().refused.is_empty() && sb.stats().refused.is_empty());
        (sa.stats().clone(), sb.stats().clone())
    }

    /// A summary learnt before the session (the responder's, in the daemon's hello answer) ends
    /// an initiator that agrees with it before any frame, and only then: a differing summary,
    /// or one from a side that sees documents the initiator's scope or retirement leaves out,
    /// opens as usual and the documents still move.
    #[test]
    fn an_agreeing_summary_learnt_before_the_session_ends_it_without_a_frame() {
        let (id, other) = (DocId::event("E1"), DocId::event("E2"));
        let mut a = with_doc(&id, "a");
        let mut b = MapStore::default();
        run(&mut a, &mut b);
        let cfg = Config::default();
        let responder_summary = |b: &mut MapStore, scope| Session::responder(0, cfg, scope, b.manifest()).summary();

        // In sync: no frame at all.
        let theirs = responder_summary(&mut b, ScopeFilter::all());
        let mut sa = Session::initiator(cfg, ScopeFilter::all(), a.manifest());
        assert!(sa.end_if_agreeing(&theirs));
        assert_eq!(sa.status(), &Status::Quiescent);
        assert_eq!(sa.poll_transmit(0, &mut a), None, "nothing is sent");
        assert_eq!(sa.stats().frames_sent, 0);
        assert_eq!(Summary::from_bytes(&theirs.to_bytes()), Some(theirs), "the summary's bytes round-trip");
        assert_eq!(Summary::from_bytes(&[0; 7]), None);

        // The responder holds a document more: the initiator opens, and it arrives.
        b.docs.insert(other.clone(), AutoCommit::new());
        b.docs.get_mut(&other).expect("doc").put(ROOT, "b", 2).expect("put");
        let theirs = responder_summary(&mut b, ScopeFilter::all());
        let mut sa = Session::initiator(cfg, ScopeFilter::all(), a.manifest());
        assert!(!sa.end_if_agreeing(&theirs));
        assert!(sa.poll_transmit(0, &mut a).is_some(), "the opening goes out");
        run(&mut a, &mut b);
        assert!(a.docs.contains_key(&other));

        // Scope and retirement shape the summary on each side the same way: a side that leaves
        // E2 out agrees with a peer that left it out too, and not with one that did not.
        let only_e1 = || ScopeFilter::new(|d: &DocId| *d == DocId::event("E1"));
        let theirs = responder_summary(&mut b, only_e1());
        let mut sa = Session::initiator(cfg, only_e1(), a.manifest());
        assert!(sa.end_if_agreeing(&theirs));
        let retire_e2 = || Retired::new(|d: &DocId| *d == DocId::event("E2"));
        let mut sa = Session::initiator(cfg, ScopeFilter::all(), a.manifest()).with_retired(retire_e2());
        assert!(!sa.end_if_agreeing(&responder_summary(&mut b, ScopeFilter::all())));
        let mut sa = Session::initiator(cfg, ScopeFilter::all(), a.manifest()).with_retired(retire_e2());
        assert!(sa.end_if_agreeing(
            &Session::responder(0, cfg, ScopeFilter::all(), b.manifest()).with_retired(retire_e2()).summary()
        ));

        // Only an initiator that has not opened yet ends this way.
        let mut sb = Session::responder(0, cfg, ScopeFilter::all(), b.manifest());
        assert!(!sb.end_if_agreeing(&theirs));
        let mut sa = Session::initiator(cfg, ScopeFilter::all(), a.manifest());
        let theirs = sa.summary();
        assert!(sa.poll_transmit(0, &mut a).is_some());
        assert!(!sa.end_if_agreeing(&theirs), "the opening was sent: the session runs its course");
    }

    /// A document the receiving host refuses once it sees the content is neither kept nor
    /// exchanged further in that session, its state is not stored, and a later session
    /// transfers it in full once the host accepts it.
    #[test]
    fn a_document_rejected_after_its_content_arrived_starts_afresh_next_time() {
        let (id, other) = (DocId::event("E1"), DocId::event("E2"));
        let mut a = with_doc(&id, "a");
        a.docs.insert(other.clone(), AutoCommit::new());
        a.docs.get_mut(&other).expect("doc").put(ROOT, "b", 2).expect("put");
        let mut b = MapStore::default();
        let cfg = Config::default();
        let mut sa = Session::initiator(cfg, ScopeFilter::all(), a.manifest());
        let mut sb = Session::responder(0, cfg, ScopeFilter::all(), b.manifest());
        while let Some(out) = sa.poll_transmit(0, &mut a) {
            a.perform(&mut sa);
            sb.handle_input(0, &out).expect("input");
            let Some(back) = sb.poll_transmit(0, &mut b) else { break };
            // The host's check: E1's content is refused, its state not stored.
            let mut rejected = false;
            while let Some(ev) = sb.poll_event() {
                match ev {
                    Event::Changed { doc, .. } if doc == id => rejected = true,
                    Event::SaveSyncState { doc, state } if doc != id => drop(b.states.insert(doc, state)),
                    _ => {}
                }
            }
            if rejected {
                sb.reject(&id);
                b.docs.remove(&id);
            } else if sb.stats().refused.contains(&id) {
                assert!(
                    !Frame::decode(&back, cfg.max_frame_bytes)
                        .is_ok_and(|f| matches!(&f, Frame::Round { docs, .. } if docs.iter().any(|(d, _)| *d == id)))
                );
            }
            sa.handle_input(0, &back).expect("input");
        }
        assert_eq!((sa.status(), sb.status()), (&Status::Quiescent, &Status::Quiescent));
        assert!(sb.stats().refused.contains(&id) && !sb.stats().docs_changed.contains(&id));
        assert!(sb.stats().docs_changed.contains(&other), "the other document was kept");
        assert!(!b.docs.contains_key(&id) && !b.states.contains_key(&id));

        run(&mut a, &mut b);
        assert_eq!(b.docs.get_mut(&id).expect("sent again").get_heads(), a.docs.get_mut(&id).expect("doc").get_heads());
    }

    #[test]
    fn a_frame_out_of_turn_ends_the_session() {
        let mut store = MapStore::default();
        let mut s = Session::responder(0, Config::default(), ScopeFilter::all(), Manifest::new());
        let round = Frame::Round { docs: vec![], more: false }.encode();
        assert_eq!(s.handle_input(0, &round), Err(SessionError::Unexpected { got: "round", state: "opening" }));
        assert!(matches!(s.status(), Status::Failed(_)));
        assert_eq!(s.handle_input(0, &round), Err(SessionError::Over));
        assert_eq!(s.poll_transmit(0, &mut store), None);

        let mut i = Session::initiator(Config::default(), ScopeFilter::all(), Manifest::new());
        assert!(matches!(i.handle_input(0, &Frame::Done.encode()), Err(SessionError::Unexpected { .. })));
    }

    #[test]
    fn a_silent_peer_times_out() {
        let cfg = Config { idle_timeout_ms: 100, ..Config::default() };
        let mut s = Session::initiator(cfg, ScopeFilter::all(), Manifest::new());
        assert_eq!(s.poll_timeout(), None, "nothing to wait for before sending");
        s.poll_transmit(1_000, &mut MapStore::default()).expect("hello");
        assert_eq!(s.poll_timeout(), Some(1_100));
        s.handle_timeout(1_099);
        assert_eq!(s.status(), &Status::Open);
        s.handle_timeout(1_100);
        assert_eq!(s.status(), &Status::Failed(SessionError::TimedOut));
        assert_eq!(s.poll_timeout(), None);
    }

    #[test]
    fn a_document_on_one_side_only_is_transferred_and_states_are_persisted() {
        let id = DocId::event("E1");
        let mut a = with_doc(&id, "a");
        let mut b = MapStore::default();
        run(&mut a, &mut b);
        assert_eq!(b.docs.get_mut(&id).expect("created").get_heads(), a.docs.get_mut(&id).expect("doc").get_heads());
        assert!(a.states.contains_key(&id) && b.states.contains_key(&id));
    }

    /// A node that retired an event's documents never gets them back, whichever side opens
    /// the session and whether or not the peer knows; when both leave them out, an unchanged
    /// resync is one round trip.
    #[test]
    fn retired_documents_are_left_out_on_both_sides() {
        let (event, attendance, other) = (DocId::event("E1"), DocId::attendance("E1", "S1"), DocId::event("E2"));
        let of_e1 = || Retired::new(|d: &DocId| d.event_id() == Some("E1"));
        // `central` holds everything; `kiosk` retired E1 and holds E2 at the same heads.
        let mut central = with_doc(&event, "a");
        central.docs.insert(attendance.clone(), with_doc(&attendance, "b").docs.remove(&attendance).expect("doc"));
        central.docs.insert(other.clone(), with_doc(&other, "c").docs.remove(&other).expect("doc"));
        let mut kiosk = MapStore::default();
        let (k, _) = run_retiring(&mut kiosk, &mut central, Retired::none(), Retired::none());
        assert_eq!(k.docs_received.len(), 3);
        kiosk.docs.retain(|d, _| *d == other);

        // The kiosk opens; the central node lists E1's documents: left out, not refused.
        let (k, _) = run_retiring(&mut kiosk, &mut central, of_e1(), Retired::none());
        assert_eq!(k.retired, [attendance.clone(), event.clone()].into());
        assert_eq!(kiosk.docs.keys().collect::<Vec<_>>(), [&other]);
        // The central node opens and sends them: left out on arrival.
        let (c, k) = run_retiring(&mut central, &mut kiosk, Retired::none(), of_e1());
        assert!(c.docs_sent.contains(&event), "{c:?}");
        assert_eq!(k.retired, [attendance.clone(), event.clone()].into());
        assert_eq!(kiosk.docs.keys().collect::<Vec<_>>(), [&other]);
        // Both sides leave them out (the central node was told): the summaries agree.
        let (k, c) = run_retiring(&mut kiosk, &mut central, of_e1(), of_e1());
        assert_eq!((k.frames_sent, k.frames_received), (1, 1), "{k:?}");
        assert!(k.retired.is_empty() && c.retired.is_empty() && c.docs_sent.is_empty());
        assert_eq!(central.docs.len(), 3, "the central node keeps what it holds");
    }

    /// A document retired while a session runs is neither applied nor created from then on.
    #[test]
    fn a_document_retired_mid_session_is_not_created_again() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let id = DocId::event("E1");
        let mut central = with_doc(&id, "a");
        let mut kiosk = MapStore::default();
        let retired_now = std::sync::Arc::new(AtomicBool::new(false));
        let flag = retired_now.clone();
        let cfg = Config::default();
        let mut sk = Session::initiator(cfg, ScopeFilter::all(), kiosk.manifest())
            .with_retired(Retired::new(move |_| flag.load(Ordering::SeqCst)));
        let mut sc = Session::responder(0, cfg, ScopeFilter::all(), central.manifest());
        // Hello, then the manifest names E1; the kiosk asks for it.
        let hello = sk.poll_transmit(0, &mut kiosk).expect("hello");
        sc.handle_input(0, &hello).expect("input");
        let manifest = sc.poll_transmit(0, &mut central).expect("manifest");
        sk.handle_input(0, &manifest).expect("input");
        let ask = sk.poll_transmit(0, &mut kiosk).expect("round");
        sc.handle_input(0, &ask).expect("input");
        let changes = sc.poll_transmit(0, &mut central).expect("round");
        sk.handle_input(0, &changes).expect("input");
        // Retired between the frame's arrival and its application.
        retired_now.store(true, Ordering::SeqCst);
        assert!(sk.docs_needed().is_empty());
        let _ = sk.poll_transmit(0, &mut kiosk);
        // The empty document made to ask for E1 stays empty (the host drops it at the end).
        assert!(kiosk.docs.get_mut(&id).is_none_or(|d| d.get_heads().is_empty()), "nothing applied");
        assert!(sk.stats().retired.contains(&id));
        assert!(std::iter::from_fn(|| sk.poll_event()).all(|e| !matches!(e, Event::Changed { .. })));
    }

    #[test]
    fn a_resumed_session_starts_from_the_persisted_state() {
        let id = DocId::event("E1");
        let mut a = with_doc(&id, "a");
        // A long shared history: a fresh start summarizes all of it, a resumed one only what
        // came after the last sync.
        for i in 0..300 {
            let d = a.docs.get_mut(&id).expect("doc");
            d.put(ROOT, format!("k{i}"), i).expect("put");
            d.commit();
        }
        let mut b = MapStore::default();
        run(&mut a, &mut b);
        a.docs.get_mut(&id).expect("doc").put(ROOT, "new", 1).expect("put");
        let (mut a2, mut b2) = (
            MapStore { docs: a.docs.clone(), states: BTreeMap::new() },
            MapStore { docs: b.docs.clone(), states: BTreeMap::new() },
        );
        let resumed = run(&mut a, &mut b);
        let fresh = run(&mut a2, &mut b2);
        assert!(resumed + 200 < fresh, "resumed {resumed} bytes, fresh {fresh}");
        assert_eq!(b.docs.get_mut(&id).expect("doc").get_heads(), a.docs.get_mut(&id).expect("doc").get_heads());
        // A stored state that does not decode costs a fresh start, not the document.
        b.states.insert(id.clone(), vec![0xff, 1, 2]);
        a.docs.get_mut(&id).expect("doc").put(ROOT, "late", 1).expect("put");
        run(&mut a, &mut b);
        assert_eq!(b.docs.get_mut(&id).expect("doc").get_heads(), a.docs.get_mut(&id).expect("doc").get_heads());
    }

    /// Runs a session whose initiator may push (`budget` bytes), the responder limited to
    /// `scope`, to its end; returns both sides' statistics (initiator first).
    fn run_pushing(a: &mut MapStore, b: &mut MapStore, budget: usize, scope: ScopeFilter) -> (Stats, Stats) {
        run_pushing_frames(a, b, budget, scope).0
    }

    /// [`run_pushing`], with the kinds of the frames on the wire in order.
    fn run_pushing_frames(
        a: &mut MapStore,
        b: &mut MapStore,
        budget: usize,
        scope: ScopeFilter,
    ) -> ((Stats, Stats), Vec<&'static str>) {
        let cfg = Config::default();
        let kind = |bytes: &[u8]| Frame::decode(bytes, cfg.max_frame_bytes).expect("a frame").kind();
        let mut kinds = Vec::new();
        let states = a.states.clone();
        let mut sa =
            Session::initiator(cfg, ScopeFilter::all(), a.manifest()).with_push(|d| states.get(d).cloned(), budget);
        let mut sb = Session::responder(0, cfg, scope, b.manifest());
        while let Some(out) = sa.poll_transmit(0, a) {
            a.perform(&mut sa);
            kinds.push(kind(&out));
            sb.handle_input(0, &out).expect("input");
            let Some(back) = sb.poll_transmit(0, b) else { break };
            b.perform(&mut sb);
            kinds.push(kind(&back));
            sa.handle_input(0, &back).expect("input");
        }
        a.perform(&mut sa);
        assert_eq!((sa.status(), sb.status()), (&Status::Quiescent, &Status::Quiescent));
        ((sa.stats().clone(), sb.stats().clone()), kinds)
    }

    fn heads(s: &mut MapStore, id: &DocId) -> Vec<automerge::ChangeHash> {
        s.docs.get_mut(id).expect("doc").get_heads()
    }

    /// After a change on the initiator's side only, the opening carries it and the responder's
    /// one answer ends the session: one round trip, both sync states advanced, so the next
    /// resync has nothing to push. Without a budget, or for a document never synced with the
    /// peer, the session opens with its summary as before.
    #[test]
    fn one_change_since_the_last_sync_takes_one_round_trip() {
        let (id, fresh) = (DocId::attendance("E1", "S1"), DocId::attendance("E1", "S2"));
        let mut a = with_doc(&id, "a");
        let mut b = MapStore::default();
        run(&mut a, &mut b);
        a.docs.get_mut(&id).expect("doc").put(ROOT, "checkin", 2).expect("put");

        let ((sa, sb), kinds) = run_pushing_frames(&mut a, &mut b, 64 << 10, ScopeFilter::all());
        assert_eq!(kinds, ["push", "agreed"]);
        assert_eq!((sa.frames_sent, sa.frames_received), (1, 1), "one round trip");
        assert_eq!(sb.docs_changed, BTreeSet::from([id.clone()]));
        assert_eq!(heads(&mut a, &id), heads(&mut b, &id));
        let shared = |s: &MapStore| State::decode(&s.states[&id]).expect("state").shared_heads;
        assert_eq!(shared(&a), heads(&mut a, &id), "the initiator's state took the acknowledgement");
        assert_eq!(shared(&b), heads(&mut b, &id));

        // Nothing moved since: the opening is the summary, and the peer agrees with it.
        let cfg = Config::default();
        let states = a.states.clone();
        let mut sa =
            Session::initiator(cfg, ScopeFilter::all(), a.manifest()).with_push(|d| states.get(d).cloned(), 64 << 10);
        let hello = sa.poll_transmit(0, &mut a).expect("opening");
        assert!(matches!(Frame::decode(&hello, cfg.max_frame_bytes), Ok(Frame::Hello(_))) && !sa.pushed());

        // No budget: the change goes through the rounds (hello, manifest, two rounds, done).
        a.docs.get_mut(&id).expect("doc").put(ROOT, "checkin", 3).expect("put");
        let (sa, _) = run_pushing(&mut a, &mut b, 0, ScopeFilter::all());
        assert!(sa.frames_sent > 1);
        assert_eq!(heads(&mut a, &id), heads(&mut b, &id));

        // A small document the peer never had from this side goes with its whole history; a
        // large one through the rounds.
        a.docs.insert(fresh.clone(), AutoCommit::new());
        a.docs.get_mut(&fresh).expect("doc").put(ROOT, "new", 1).expect("put");
        let (sa, _) = run_pushing(&mut a, &mut b, 64 << 10, ScopeFilter::all());
        assert_eq!(sa.frames_sent, 1, "a new small document is pushed");
        assert_eq!(heads(&mut a, &fresh), heads(&mut b, &fresh));
        let large = DocId::attendance("E1", "S3");
        a.docs.insert(large.clone(), AutoCommit::new());
        a.docs.get_mut(&large).expect("doc").put(ROOT, "blob", "x".repeat(3 * NEW_DOC_PUSH_BYTES)).expect("put");
        let (sa, _) = run_pushing(&mut a, &mut b, 64 << 10, ScopeFilter::all());
        assert!(sa.frames_sent > 1, "a large new document goes through the rounds");
        assert_eq!(heads(&mut a, &large), heads(&mut b, &large));
    }

    /// A push the responder does not agree with afterwards (it changed something too) goes on
    /// in rounds from the responder's manifest, and both sides converge; a pushed document
    /// outside the responder's scope is refused, not applied.
    #[test]
    fn a_push_the_peer_does_not_agree_with_goes_on_in_rounds() {
        let (id, other) = (DocId::attendance("E1", "S1"), DocId::event("E2"));
        let mut a = with_doc(&id, "a");
        a.docs.insert(other.clone(), AutoCommit::new());
        a.docs.get_mut(&other).expect("doc").put(ROOT, "e", 1).expect("put");
        let mut b = MapStore::default();
        run(&mut a, &mut b);
        a.docs.get_mut(&id).expect("doc").put(ROOT, "from_a", 1).expect("put");
        b.docs.get_mut(&id).expect("doc").put(ROOT, "from_b", 1).expect("put");
        let ((_, sb), kinds) = run_pushing_frames(&mut a, &mut b, 64 << 10, ScopeFilter::all());
        assert_eq!(kinds[..2], ["push", "manifest"], "{kinds:?}");
        assert!(sb.docs_changed.contains(&id), "the push was applied");
        assert_eq!(heads(&mut a, &id), heads(&mut b, &id));

        // The responder no longer takes E2: the pushed change to it is refused.
        a.docs.get_mut(&other).expect("doc").put(ROOT, "e", 2).expect("put");
        let before = heads(&mut b, &other);
        let only_attendance = ScopeFilter::new(|d: &DocId| matches!(d, DocId::Attendance { .. }));
        let ((_, sb), kinds) = run_pushing_frames(&mut a, &mut b, 64 << 10, only_attendance);
        assert_eq!(kinds.first(), Some(&"push"), "{kinds:?}");
        assert!(sb.refused.contains(&other), "refused from the push");
        assert_eq!(heads(&mut b, &other), before, "not applied");
    }
}

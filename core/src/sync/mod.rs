//! Sans-IO document sync between two nodes: one [`Session`] per peer connection.
//!
//! The session has the shape of quinn-proto's `Connection`: the host feeds it bytes
//! ([`Session::handle_input`]) and timer expiries ([`Session::handle_timeout`]), and polls it for
//! bytes to send ([`Session::poll_transmit`]), effects to perform ([`Session::poll_event`]) and the
//! next deadline ([`Session::poll_timeout`]). It never reads a clock (`now` is milliseconds on
//! any monotonic scale the host likes), a socket or a file.
//!
//! Per document it runs Automerge's own sync protocol (`automerge::sync::State`,
//! `generate_sync_message`, `receive_sync_message`); around it, this module adds:
//!
//! - **a manifest exchange first** ([`manifest`]): the initiator sends a [`Summary`] of its
//!   documents in scope (32 bucket digests); the responder answers with the same summary if
//!   everything agrees (one round trip, a few hundred bytes, whatever the number of documents)
//!   or with its entries in the differing buckets; the initiator computes which documents
//!   differ or exist on one side only;
//! - **a push first, when it pays** ([`Session::with_push`]): an initiator that changed
//!   documents since its last sync with the peer may open with `Push`, its summary and Automerge
//!   messages carrying every change after the heads both sides shared then (the peer has those,
//!   so no bloom filter round is needed); the responder applies them, compares summaries, and
//!   answers `Agreed` with its acknowledgements (the session ends: one round trip) or with its
//!   manifest entries as above (the rounds go on, the pushed documents' answers in them);
//! - **rounds** ([`wire::Frame::Round`]): each frame carries sync messages for many documents;
//!   the responder answers every round; the initiator ends with `Done` once neither side has
//!   anything to send;
//! - **bounded frames**: a frame never exceeds [`Config::max_frame_bytes`]; what does not fit
//!   goes in the next round; incoming frames over the limit or malformed are refused;
//! - **containment**: a document whose sync message is malformed, refused by Automerge or makes
//!   it panic is marked failed for this session and reported ([`Event::DocFailed`]); the others
//!   carry on;
//! - **scope**: the session offers, sends and accepts only documents its [`ScopeFilter`]
//!   allows; anything else from the peer is reported ([`Event::Refused`]) and dropped;
//! - **retired documents** ([`Session::with_retired`]): documents one side dropped for good
//!   are neither offered nor taken, and the peer listing or sending one is no refusal;
//! - **persisted sync state**: per document, the session starts from the host's stored
//!   `sync::State` bytes and emits updated ones ([`Event::SaveSyncState`]).
//!
//! # The host's contract
//!
//! 1. Build the session with [`Session::initiator`] or [`Session::responder`], giving the
//!    [`Manifest`] of the documents it holds in scope for this peer.
//! 2. Loop: `poll_transmit(now, store)` and send what it returns; feed each frame received
//!    to `handle_input(now, bytes)`; when no input arrives by `poll_timeout()`, call
//!    `handle_timeout(now)`. The responder answers each frame it receives with exactly one
//!    frame (except `Done`); the initiator sends the first frame.
//! 3. Before `poll_transmit`, make the documents of [`Session::docs_needed`] available
//!    through the [`DocStore`] (lock or load them).
//! 4. After each `poll_transmit`, drain `poll_event` and perform the effects: persist
//!    [`Event::Changed`] chunks and [`Event::SaveSyncState`] states of one poll together, the
//!    chunk first; on [`Event::DocFailed`] drop the in-memory document (Automerge may have
//!    half-applied a change before failing) and reload it from storage.
//! 5. A document the session created ([`DocStore::create`]) that is still empty when the
//!    session ends was never persisted; drop it.
//! 6. The session is over when [`Session::status`] is not [`Status::Open`]; a new connection
//!    starts a new session, which resumes from the persisted sync states.

pub mod clock;
mod manifest;
mod session;
pub mod wire;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use automerge::{AutoCommit, ChangeHash};

use crate::doc::DocId;

pub use manifest::{BUCKETS, HeadsDigest, Manifest, Summary, bucket_of};
pub use session::Session;
pub use wire::{Frame, WireError};

/// Limits of a session. Both peers should use the same `max_frame_bytes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// The largest frame sent or accepted, in bytes.
    pub max_frame_bytes: usize,
    /// How long to wait for the peer's next frame, in milliseconds.
    pub idle_timeout_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self { max_frame_bytes: 8 << 20, idle_timeout_ms: 30_000 }
    }
}

/// The host's documents and stored sync states for one peer, as the session needs them.
pub trait DocStore {
    /// The document `doc`, if this node holds it (in memory now).
    fn get_mut(&mut self, doc: &DocId) -> Option<&mut AutoCommit>;
    /// Makes a new **empty** document `doc` (no changes, the node's actor) that
    /// [`DocStore::get_mut`] returns from now on. It is persisted only through
    /// [`Event::Changed`].
    fn create(&mut self, doc: &DocId);
    /// The stored sync state of `doc` with this peer (`automerge::sync::State::encode`), if any.
    fn sync_state(&mut self, doc: &DocId) -> Option<Vec<u8>>;
}

/// Which documents may be exchanged with this peer: those inside both nodes' scopes
/// (see [`crate::ident::Scopes::covers`]).
pub struct ScopeFilter(Box<dyn Fn(&DocId) -> bool + Send>);

impl ScopeFilter {
    /// The documents for which `allows` is true.
    pub fn new(allows: impl Fn(&DocId) -> bool + Send + 'static) -> Self {
        Self(Box::new(allows))
    }

    /// Every document (two central nodes).
    pub fn all() -> Self {
        Self::new(|_| true)
    }

    /// Whether `doc` may be exchanged.
    pub fn allows(&self, doc: &DocId) -> bool {
        (self.0)(doc)
    }
}

impl fmt::Debug for ScopeFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ScopeFilter(..)")
    }
}

/// Documents left out of a session because one of the two nodes **retired** them (dropped
/// them for good once a third node, the central one, held them): never offered, never sent,
/// and left out without a refusal when the peer lists or sends them, since the peer may hold
/// them rightly. The host's predicate is asked at every use, not once: a document retired
/// while the session runs is left out from then on.
pub struct Retired(Box<dyn Fn(&DocId) -> bool + Send>);

impl Retired {
    /// The documents for which `retired` is true.
    pub fn new(retired: impl Fn(&DocId) -> bool + Send + 'static) -> Self {
        Self(Box::new(retired))
    }

    /// No document.
    pub fn none() -> Self {
        Self::new(|_| false)
    }

    /// Whether `doc` is left out.
    pub fn contains(&self, doc: &DocId) -> bool {
        (self.0)(doc)
    }
}

impl fmt::Debug for Retired {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Retired(..)")
    }
}

/// An effect the host performs.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The peer's changes were applied to `doc` in memory; persist `chunk` (the document's
    /// bytes after the heads it had before, as `AutoCommit::save_after`; the whole document
    /// if it was created by this session).
    Changed {
        /// The document.
        doc: DocId,
        /// The changes to append to its storage.
        chunk: Vec<u8>,
        /// Its heads now.
        heads: Vec<ChangeHash>,
    },
    /// Persist the sync state of `doc` with this peer.
    SaveSyncState {
        /// The document.
        doc: DocId,
        /// `automerge::sync::State::encode`.
        state: Vec<u8>,
    },
    /// `doc` failed in this session and is left out of the rest of it; drop its in-memory
    /// copy (it may be half-changed) and reload it from storage.
    DocFailed {
        /// The document.
        doc: DocId,
        /// Why.
        error: DocSyncError,
    },
    /// The peer sent or listed `doc`, which is outside the scope; nothing of it was applied.
    Refused {
        /// The document.
        doc: DocId,
    },
}

/// Why one document failed in a session.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DocSyncError {
    /// The peer's sync message does not decode.
    #[error("bad sync message: {0}")]
    Decode(String),
    /// Automerge refused to apply the peer's sync message.
    #[error("sync message not applied: {0}")]
    Apply(String),
    /// Automerge panicked on this document.
    #[error("automerge panicked in {0}")]
    Panicked(&'static str),
    /// The document's sync message does not fit in a frame.
    #[error("sync message of {len} bytes does not fit in a frame of {max}")]
    TooLarge {
        /// The frame bytes it would need.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The store did not provide a document it was asked to create.
    #[error("document store did not provide the document")]
    Missing,
}

/// Why a session ended without reaching quiescence.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The peer sent bytes that are not a frame.
    #[error("bad frame from peer: {0}")]
    Wire(#[from] WireError),
    /// The peer sent a frame the protocol does not allow at this point.
    #[error("unexpected {got} frame while {state}")]
    Unexpected {
        /// The frame's kind.
        got: &'static str,
        /// What the session was doing.
        state: &'static str,
    },
    /// The peer did not answer in time.
    #[error("peer did not answer in time")]
    TimedOut,
    /// Input arrived after the session ended.
    #[error("session is over")]
    Over,
}

/// Where a session stands.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Status {
    /// Exchanging frames.
    Open,
    /// Both sides are in sync on every document of the session (failed ones aside).
    Quiescent,
    /// Ended early; what was applied and persisted stays, the next session resumes.
    Failed(SessionError),
}

/// What a session did, for the host's logs and metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Frames sent.
    pub frames_sent: u64,
    /// Frames received.
    pub frames_received: u64,
    /// Bytes sent.
    pub bytes_sent: u64,
    /// Bytes received.
    pub bytes_received: u64,
    /// Documents for which at least one sync message was sent.
    pub docs_sent: BTreeSet<DocId>,
    /// Documents for which at least one sync message was received and applied.
    pub docs_received: BTreeSet<DocId>,
    /// Documents the peer's changes changed here.
    pub docs_changed: BTreeSet<DocId>,
    /// Documents the peer sent or listed outside the scope.
    pub refused: BTreeSet<DocId>,
    /// Documents the peer listed or sent that were left out as retired ([`Retired`]).
    pub retired: BTreeSet<DocId>,
    /// Documents that failed, and why.
    pub errors: BTreeMap<DocId, DocSyncError>,
}

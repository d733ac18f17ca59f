//! The Automerge schemas of the replicated documents.
//!
//! | doc id | module | holds |
//! | --- | --- | --- |
//! | `event:<event_id>` | [`event`] | the event, provider, policy, sessions, roster |
//! | `attendance:<event_id>:<session_id>` | [`attendance`] | one session's check-ins, keyed by id |
//! | `portfolio:<member_id>` | [`portfolio`] | one member's records, entries, goals, programs, petitions |
//!
//! Every document starts from a **deterministic skeleton**: the same first change (fixed actor,
//! fixed time) on every node, creating the root maps. Two kiosks that create the same
//! attendance document offline therefore share its maps instead of racing to create them (two
//! concurrent `put_object`s on one key would hide one side's check-ins). Later changes use the
//! node's own actor.
//!
//! Values are stored exactly: decimals as strings, instants as RFC 3339 strings, dates as
//! `YYYY-MM-DD`. Writes only touch values that differ, so applying the same content twice
//! makes no change. The root holds `schema` ([`SCHEMA_VERSION`]) and `type` for migrations.

pub mod attendance;
pub mod event;
mod fields;
pub mod portfolio;
pub mod touched;

use std::fmt;
use std::str::FromStr;

use automerge::{ActorId, AutoCommit, ObjType, ROOT, transaction::CommitOptions, transaction::Transactable};
use sha2::{Digest, Sha256};

use crate::id::{IdError, validate};

pub use fields::DocError;

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: i64 = 1;

/// The schema version in every document's skeleton, forever (see [`skeleton`]).
const SKELETON_SCHEMA: i64 = 1;

/// Which document: the unit of replication.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DocId {
    /// `event:<event_id>`
    Event {
        /// The event.
        event_id: String,
    },
    /// `attendance:<event_id>:<session_id>`
    Attendance {
        /// The event.
        event_id: String,
        /// The session.
        session_id: String,
    },
    /// `portfolio:<member_id>`
    Portfolio {
        /// The member.
        member_id: String,
    },
}

/// Why a string is not a document id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DocIdError {
    /// Not one of the three forms.
    #[error("not a document id: {0:?}")]
    Form(String),
    /// A part is not a valid id.
    #[error("bad id in document id: {0}")]
    Id(#[from] IdError),
    /// Event and session ids may not hold `:`, which separates them in attendance doc ids.
    #[error("event and session ids may not contain ':'")]
    Colon,
}

/// Checks an id that becomes part of an attendance document id (event and session ids).
pub fn validate_scope_id(id: &str) -> Result<(), DocIdError> {
    validate(id)?;
    if id.contains(':') {
        return Err(DocIdError::Colon);
    }
    Ok(())
}

impl DocId {
    /// The event document of `event_id`.
    pub fn event(event_id: impl Into<String>) -> Self {
        Self::Event { event_id: event_id.into() }
    }

    /// The attendance document of one session.
    pub fn attendance(event_id: impl Into<String>, session_id: impl Into<String>) -> Self {
        Self::Attendance { event_id: event_id.into(), session_id: session_id.into() }
    }

    /// The portfolio of `member_id`.
    pub fn portfolio(member_id: impl Into<String>) -> Self {
        Self::Portfolio { member_id: member_id.into() }
    }

    /// `event`, `attendance` or `portfolio`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Event { .. } => "event",
            Self::Attendance { .. } => "attendance",
            Self::Portfolio { .. } => "portfolio",
        }
    }

    /// The event this document belongs to, if any.
    pub fn event_id(&self) -> Option<&str> {
        match self {
            Self::Event { event_id } | Self::Attendance { event_id, .. } => Some(event_id),
            Self::Portfolio { .. } => None,
        }
    }

    /// The deterministic actor of the skeleton change.
    fn skeleton_actor(&self) -> ActorId {
        let digest = Sha256::digest(format!("cecsync-skeleton-v1:{self}").as_bytes());
        ActorId::from(&digest[..16])
    }
}

impl fmt::Display for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Event { event_id } => write!(f, "event:{event_id}"),
            Self::Attendance { event_id, session_id } => write!(f, "attendance:{event_id}:{session_id}"),
            Self::Portfolio { member_id } => write!(f, "portfolio:{member_id}"),
        }
    }
}

impl FromStr for DocId {
    type Err = DocIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, rest) = s.split_once(':').ok_or_else(|| DocIdError::Form(s.to_owned()))?;
        match kind {
            "event" => {
                validate_scope_id(rest)?;
                Ok(Self::event(rest))
            }
            "attendance" => {
                let (e, sid) = rest.split_once(':').ok_or_else(|| DocIdError::Form(s.to_owned()))?;
                validate_scope_id(e)?;
                validate_scope_id(sid)?;
                Ok(Self::attendance(e, sid))
            }
            "portfolio" => {
                validate(rest)?;
                Ok(Self::portfolio(rest))
            }
            _ => Err(DocIdError::Form(s.to_owned())),
        }
    }
}

/// A new document of `id` holding only its skeleton (identical on every node), with `actor` set
/// for the changes that follow.
pub(crate) fn skeleton(id: &DocId, maps: &[&str], actor: &ActorId) -> AutoCommit {
    let mut doc = AutoCommit::new().with_actor(id.skeleton_actor());
    // Infallible on a fresh document: the root exists and the keys are plain strings.
    // FROZEN: every node, of every version, must make this exact change for the same id, or
    // two of them would write different changes under one actor and sequence number and
    // could never merge. Later schema versions update `schema` in an ordinary change; the
    // test `skeletons_are_frozen` pins the change hashes.
    let _ = doc.put(ROOT, "schema", SKELETON_SCHEMA);
    let _ = doc.put(ROOT, "type", id.kind());
    let _ = doc.put(ROOT, "id", id.to_string());
    let ids: Vec<(&str, &str)> = match id {
        DocId::Event { event_id } => vec![("event_id", event_id)],
        DocId::Attendance { event_id, session_id } => vec![("event_id", event_id), ("session_id", session_id)],
        DocId::Portfolio { member_id } => vec![("member_id", member_id)],
    };
    for (k, v) in ids {
        let _ = doc.put(ROOT, k, v);
    }
    for m in maps {
        let _ = doc.put_object(ROOT, *m, ObjType::Map);
    }
    doc.commit_with(CommitOptions::default().with_time(0));
    doc.set_actor(actor.clone());
    doc
}

/// A new document of `id` (its frozen skeleton), writing as `actor`.
pub fn new_doc(id: &DocId, actor: &ActorId) -> AutoCommit {
    match id {
        DocId::Event { event_id } => event::new_doc(event_id, actor),
        DocId::Attendance { event_id, session_id } => attendance::new_doc(event_id, session_id, actor),
        DocId::Portfolio { member_id } => portfolio::new_doc(member_id, actor),
    }
}

/// Checks that `doc` is a document of `id` with a schema this build can read.
pub fn check_header(doc: &AutoCommit, id: &DocId) -> Result<(), DocError> {
    let schema = fields::get_i64(doc, &ROOT, "schema")?.ok_or(DocError::Missing("schema"))?;
    if schema > SCHEMA_VERSION {
        return Err(DocError::NewerSchema(schema));
    }
    let kind = fields::get_str(doc, &ROOT, "type")?;
    if kind.as_deref() != Some(id.kind()) {
        return Err(DocError::Invalid { field: "type", message: format!("expected {}", id.kind()) });
    }
    Ok(())
}

/// An actor id for a node, from its node id (stable across restarts so changes stay compact).
pub fn actor_for(node_id: &str) -> ActorId {
    let digest = Sha256::digest(format!("cecsync-actor-v1:{node_id}").as_bytes());
    ActorId::from(&digest[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    const FROZEN_ATTENDANCE_E1_S1: &str = "094a06639395e26bb769688063e1d2e41be7da1226eb368d81c81e9ef89edc28";
    const FROZEN_EVENT_E1: &str = "5719e263e50e02c61537b5656045a4dbbf9df6ae893ecfe26f3112e1c5cfffc4";
    const FROZEN_PORTFOLIO_M1: &str = "450436bbe7c872f728491aa91dbf5be2159c9827ea353b7c0844116a4027b674";

    #[test]
    fn doc_ids_round_trip() {
        for s in ["event:E1", "attendance:E1:S-2", "portfolio:M.1", "portfolio:urn:m:1"] {
            let id: DocId = s.parse().expect(s);
            assert_eq!(id.to_string(), s);
        }
    }

    #[test]
    fn bad_doc_ids_are_refused() {
        for s in ["event", "event:", "nope:E1", "attendance:E1", "attendance:E:1:S", "event:a/b", "event:a:b"] {
            assert!(s.parse::<DocId>().is_err(), "{s}");
        }
    }

    /// The skeletons' change hashes never change (see `skeleton`): if this fails, a change to
    /// a skeleton would keep new nodes from merging with every existing one. Add fields in a
    /// later, ordinary change instead.
    #[test]
    fn skeletons_are_frozen() {
        let actor = actor_for("n");
        let hash = |mut d: AutoCommit| d.get_heads()[0].to_string();
        assert_eq!(hash(crate::doc::attendance::new_doc("E1", "S1", &actor)), FROZEN_ATTENDANCE_E1_S1,);
        assert_eq!(hash(crate::doc::event::new_doc("E1", &actor)), FROZEN_EVENT_E1);
        assert_eq!(hash(crate::doc::portfolio::new_doc("M1", &actor)), FROZEN_PORTFOLIO_M1);
    }

    #[test]
    fn skeletons_are_identical_on_every_node() {
        let id = DocId::attendance("E1", "S1");
        let mut a = skeleton(&id, &["checkins"], &actor_for("kiosk-a"));
        let mut b = skeleton(&id, &["checkins"], &actor_for("kiosk-b"));
        assert_eq!(a.get_heads(), b.get_heads());
        check_header(&a, &id).expect("header");
        assert!(check_header(&a, &DocId::event("E1")).is_err());
    }
}

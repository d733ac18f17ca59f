//! Projections: the index rows and change-feed entries that follow from document changes.
//!
//! Derived data follows the documents, not the handlers. After any change to a loaded
//! document, local or received from a peer, the write path asks the document what changed
//! since it last looked (`diff_incremental`), names the touched items per document kind
//! ([`cec_core::doc::touched`]), reads their current values, and writes the index rows and feed
//! entries in the same transaction as the change. [`Projection::rebuild`] derives a document's
//! rows from scratch, replacing what was there: the store rebuilds every document whose rows
//! were made by an older [`VERSION`].

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;

use automerge::AutoCommit;
use cec_core::doc::touched::{Touched, touched};
use cec_core::doc::{self, DocError, DocId};
use cec_core::portfolio::{Entry, Portfolio};
use cec_core::{CheckIn, Void};
use rusqlite::Transaction;

use super::index;
use crate::storage::{self, StorageError};

/// The version of the projection code. Bump it when what a document projects to changes: each
/// document's rows are then rebuilt on the next start.
pub const VERSION: i64 = 1;

/// What changed, as the change feed names it (`kind` in `GET /v1/changes`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum FeedKind {
    /// An event's own fields; id: the event id.
    Event,
    /// A session; id: `<event_id>/<session_id>`.
    Session,
    /// An event's roster; id: the event id.
    Roster,
    /// A check-in; id: the check-in id.
    CheckIn,
    /// A member's profile; id: the member id.
    Profile,
    /// A verified record; id: `<event_id>/<session_id>`.
    Verified,
    /// A portfolio entry (added, edited or removed); id: the entry id.
    Entry,
    /// A plan goal; id: the goal id.
    Goal,
    /// A requirement program; id: the program id.
    Requirement,
    /// A petition; id: the petition id.
    Petition,
    /// An event retired from this kiosk (`retention.rs`): its documents, check-ins included,
    /// are gone from this node; id: the event id. The one entry that is not a projection of a
    /// document change: the retirement's storage job writes it.
    Retired,
}

impl FeedKind {
    /// The word in the change feed.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Event => "event",
            Self::Session => "session",
            Self::Roster => "roster",
            Self::CheckIn => "checkin",
            Self::Profile => "profile",
            Self::Verified => "verified",
            Self::Entry => "entry",
            Self::Goal => "goal",
            Self::Requirement => "requirement",
            Self::Petition => "petition",
            Self::Retired => "retired",
        }
    }
}

impl fmt::Display for FeedKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One write to an index table.
#[derive(Debug, Clone)]
enum Row {
    CheckIn(CheckIn),
    Entry { member_id: String, entry: Entry },
    NoEntry { member_id: String, entry_id: String },
    Void { event_id: String, session_id: String, void: Void },
}

/// The derived writes of one document change, to run in the change's transaction.
#[derive(Debug, Clone, Default)]
pub struct Projection {
    doc_id: String,
    /// Delete every derived row of the document first (a rebuild).
    replace: bool,
    rows: Vec<Row>,
    feed: Vec<(FeedKind, String)>,
    /// The change put or deleted the map of verified records whole (no feed entry names it).
    verified_map: bool,
}

impl Projection {
    /// What the change since the document's diff cursor implies, moving the cursor to its
    /// heads. The cursor must have been set when the document was loaded or created
    /// (`update_diff_cursor`).
    pub fn of_change(id: &DocId, doc: &mut AutoCommit) -> Result<Self, DocError> {
        Self::of_decoded_change(id, doc, None)
    }

    /// [`Projection::of_change`] of a portfolio the caller decoded already (as it is now):
    /// the document is not decoded again for its entries.
    pub fn of_decoded_change(id: &DocId, doc: &mut AutoCommit, decoded: Option<&Portfolio>) -> Result<Self, DocError> {
        let patches = doc.diff_incremental();
        if let DocId::Attendance { .. } = id {
            // The hot path: check-ins decoded from the patches, none looked up again.
            let mut p = Self::of_checkins(id, doc::attendance::put_in(doc, &patches)?);
            p.add_voids(id, doc::attendance::voids_in(doc, &patches)?);
            return Ok(p);
        }
        let items = touched(id, &patches);
        Self::of_items(id, doc, &items, false, decoded)
    }

    /// Every derived row of the document, replacing what the index holds for it; no feed
    /// entries (nothing changed for clients). Leaves the diff cursor at the heads.
    pub fn rebuild(id: &DocId, doc: &mut AutoCommit) -> Result<Self, DocError> {
        doc.update_diff_cursor();
        let mut p = if let DocId::Attendance { .. } = id {
            let mut p = Self { replace: true, ..Self::of_checkins(id, doc::attendance::read(doc)?) };
            p.add_voids(id, doc::attendance::voids(doc)?.into_values().collect());
            p
        } else {
            let heads = doc.get_heads();
            let patches = doc.diff(&[], &heads);
            Self::of_items(id, doc, &touched(id, &patches), true, None)?
        };
        p.feed.clear();
        Ok(p)
    }

    fn of_items(
        id: &DocId,
        doc: &AutoCommit,
        items: &BTreeSet<Touched>,
        replace: bool,
        decoded: Option<&Portfolio>,
    ) -> Result<Self, DocError> {
        let mut p = Self { doc_id: id.to_string(), replace, ..Self::default() };
        let mut portfolio = decoded.map(Cow::Borrowed);
        for item in items {
            match (id, item) {
                (DocId::Event { event_id }, Touched::Event) => p.feed.push((FeedKind::Event, event_id.clone())),
                (DocId::Event { event_id }, Touched::Roster) => p.feed.push((FeedKind::Roster, event_id.clone())),
                (DocId::Event { event_id }, Touched::Session(s)) => {
                    p.feed.push((FeedKind::Session, format!("{event_id}/{s}")));
                }
                (DocId::Portfolio { member_id }, Touched::Entry(eid)) => {
                    if portfolio.is_none() {
                        portfolio = Some(Cow::Owned(doc::portfolio::read(doc)?));
                    }
                    let entry = portfolio.as_ref().and_then(|pf| pf.entries.get(eid));
                    p.rows.push(match entry {
                        Some(e) => Row::Entry { member_id: member_id.clone(), entry: e.clone() },
                        None => Row::NoEntry { member_id: member_id.clone(), entry_id: eid.clone() },
                    });
                    p.feed.push((FeedKind::Entry, eid.clone()));
                }
                (DocId::Portfolio { member_id }, Touched::Profile) => {
                    p.feed.push((FeedKind::Profile, member_id.clone()));
                }
                (DocId::Portfolio { .. }, Touched::Verified(k)) => p.feed.push((FeedKind::Verified, k.clone())),
                // A new document's own skeleton makes the map too: only another one counts.
                (DocId::Portfolio { member_id }, Touched::VerifiedMap) => {
                    p.verified_map = !doc::portfolio::verified_map_is_the_skeletons(doc, member_id);
                }
                (DocId::Portfolio { .. }, Touched::Goal(k)) => p.feed.push((FeedKind::Goal, k.clone())),
                (DocId::Portfolio { .. }, Touched::Requirement(k)) => {
                    p.feed.push((FeedKind::Requirement, k.clone()));
                }
                (DocId::Portfolio { .. }, Touched::Petition(k)) => p.feed.push((FeedKind::Petition, k.clone())),
                _ => {}
            }
        }
        Ok(p)
    }

    fn of_checkins(id: &DocId, checkins: Vec<CheckIn>) -> Self {
        let mut p = Self { doc_id: id.to_string(), ..Self::default() };
        for c in checkins {
            p.feed.push((FeedKind::CheckIn, c.id.clone()));
            p.rows.push(Row::CheckIn(c));
        }
        p
    }

    /// Index rows and feed entries of voids: a void is a change of the check-in it voids.
    fn add_voids(&mut self, id: &DocId, voids: Vec<Void>) {
        let DocId::Attendance { event_id, session_id } = id else { return };
        for v in voids {
            let entry = (FeedKind::CheckIn, v.checkin_id.clone());
            if !self.feed.contains(&entry) {
                self.feed.push(entry);
            }
            self.rows.push(Row::Void { event_id: event_id.clone(), session_id: session_id.clone(), void: v });
        }
    }

    /// The change-feed entries, for tests and logs.
    pub fn feed(&self) -> &[(FeedKind, String)] {
        &self.feed
    }

    /// Whether the change wrote verified records: one named in the feed, or the map of them
    /// put or deleted whole.
    pub fn writes_verified(&self) -> bool {
        self.verified_map || self.feed.iter().any(|(k, _)| *k == FeedKind::Verified)
    }

    /// Writes the rows and feed entries inside the change's transaction.
    pub fn write(&self, tx: &Transaction<'_>) -> Result<(), StorageError> {
        if self.replace {
            let id: DocId = self.doc_id.parse().map_err(StorageError::job)?;
            match &id {
                DocId::Attendance { event_id, session_id } => index::delete_session_checkins(tx, event_id, session_id)?,
                DocId::Portfolio { member_id } => index::replace_entries(tx, member_id, &[])?,
                DocId::Event { .. } => {}
            }
        }
        for row in &self.rows {
            match row {
                Row::CheckIn(c) => index::put_checkin(tx, c)?,
                Row::Entry { member_id, entry } => index::put_entry(tx, member_id, entry)?,
                Row::NoEntry { member_id, entry_id } => index::delete_entry(tx, member_id, entry_id)?,
                Row::Void { event_id, session_id, void } => index::put_void(tx, event_id, session_id, void)?,
            }
        }
        for (kind, item) in &self.feed {
            storage::record_change(tx, &self.doc_id, kind.as_str(), item)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use cec_core::doc::actor_for;
    use cec_core::{Direction, Method};

    use super::*;

    fn checkin(id: &str) -> CheckIn {
        let at: jiff::Timestamp = "2027-03-01T09:00:00Z".parse().unwrap();
        CheckIn {
            id: id.into(),
            event_id: "E1".into(),
            session_id: "S1".into(),
            member_id: "M1".into(),
            direction: Direction::In,
            at,
            method: Method::Badge,
            kiosk_id: "k".into(),
            recorded_at: at,
        }
    }

    #[test]
    fn a_merged_change_projects_like_a_local_one() {
        let id = DocId::attendance("E1", "S1");
        let mut here = doc::attendance::new_doc("E1", "S1", &actor_for("here"));
        here.update_diff_cursor();
        let mut there = doc::attendance::new_doc("E1", "S1", &actor_for("there"));
        doc::attendance::add_checkin(&mut here, &checkin("local")).unwrap();
        here.commit();
        let local = Projection::of_change(&id, &mut here).unwrap();
        doc::attendance::add_checkin(&mut there, &checkin("remote")).unwrap();
        there.commit();
        here.merge(&mut there).unwrap();
        let remote = Projection::of_change(&id, &mut here).unwrap();
        assert_eq!(local.feed(), [(FeedKind::CheckIn, "local".to_owned())]);
        assert_eq!(remote.feed(), [(FeedKind::CheckIn, "remote".to_owned())]);
        let rebuilt = Projection::rebuild(&id, &mut here).unwrap();
        assert!(rebuilt.replace && rebuilt.feed().is_empty());
        assert_eq!(rebuilt.rows.len(), 2);
    }
}

//! What a set of Automerge patches touched, in the terms of each document's schema.
//!
//! The daemon keeps its index tables and change feed as projections of document changes, for
//! local and remote changes alike: it asks the document for the patches since it last looked
//! (`AutoCommit::diff_incremental`) and this module names the items they touched. Reading the
//! items' current values is the caller's business (an item touched and then deleted is still
//! named, so the caller can drop its index row).

use std::collections::BTreeSet;

use automerge::{Patch, PatchAction, Prop};

use super::DocId;

/// One item of a document that a change touched.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Touched {
    /// The event's own fields (title, provider, venue, time zone, policy).
    Event,
    /// A session of the event.
    Session(String),
    /// The roster (one entry however many members changed).
    Roster,
    /// A check-in of an attendance document.
    CheckIn(String),
    /// The member's profile.
    Profile,
    /// A verified record, keyed `<event_id>/<session_id>`.
    Verified(String),
    /// The map of verified records itself, put or deleted whole at the root: every record it
    /// held (which the patches do not name).
    VerifiedMap,
    /// A self-documented entry.
    Entry(String),
    /// A plan goal.
    Goal(String),
    /// A requirement program.
    Requirement(String),
    /// A petition.
    Petition(String),
}

/// The top-level key a patch is under and, below it, the item's key.
fn place(p: &Patch) -> (Option<String>, Option<String>) {
    let action_key = match &p.action {
        PatchAction::PutMap { key, .. } | PatchAction::DeleteMap { key } => Some(key.clone()),
        PatchAction::Increment { prop: Prop::Map(key), .. } | PatchAction::Conflict { prop: Prop::Map(key) } => {
            Some(key.clone())
        }
        _ => None,
    };
    let key_at = |i: usize| match p.path.get(i) {
        Some((_, Prop::Map(k))) => Some(k.clone()),
        _ => None,
    };
    match p.path.len() {
        0 => (action_key, None),
        1 => (key_at(0), action_key),
        _ => (key_at(0), key_at(1)),
    }
}

/// The items of document `id` that `patches` touched, each named once, in order.
pub fn touched(id: &DocId, patches: &[Patch]) -> BTreeSet<Touched> {
    let mut out = BTreeSet::new();
    for p in patches {
        let (section, item) = place(p);
        let Some(section) = section else { continue };
        let t = match (id, section.as_str(), item) {
            (DocId::Attendance { .. }, "checkins", Some(i)) if super::attendance::is_batch_key(&i) => {
                // A batch names the check-ins it holds, one per line after its tag.
                if let PatchAction::PutMap { value: (automerge::Value::Scalar(v), _), .. } = &p.action
                    && let automerge::ScalarValue::Str(text) = v.as_ref()
                {
                    let ids = text.split('\n').skip(1).filter_map(|line| line.split('|').next());
                    out.extend(ids.map(|c| Touched::CheckIn(c.to_owned())));
                }
                continue;
            }
            (DocId::Attendance { .. }, "checkins", Some(i)) => Touched::CheckIn(i),
            // A void is a change to the check-in it voids.
            (DocId::Attendance { .. }, "voids", Some(i)) => Touched::CheckIn(i),
            (DocId::Attendance { .. }, _, _) => continue,
            (DocId::Event { .. }, "sessions", Some(i)) => Touched::Session(i),
            (DocId::Event { .. }, "roster", _) => Touched::Roster,
            (DocId::Event { .. }, "sessions", None) => continue,
            (DocId::Event { .. }, _, _) => Touched::Event,
            (DocId::Portfolio { .. }, "profile", _) => Touched::Profile,
            (DocId::Portfolio { .. }, "verified", Some(i)) => Touched::Verified(i),
            (DocId::Portfolio { .. }, "verified", None) => Touched::VerifiedMap,
            (DocId::Portfolio { .. }, "entries", Some(i)) => Touched::Entry(i),
            (DocId::Portfolio { .. }, "goals", Some(i)) => Touched::Goal(i),
            (DocId::Portfolio { .. }, "requirements", Some(i)) => Touched::Requirement(i),
            (DocId::Portfolio { .. }, "petitions", Some(i)) => Touched::Petition(i),
            (DocId::Portfolio { .. }, _, _) => continue,
        };
        out.insert(t);
    }
    out
}

#[cfg(test)]
mod tests {
    use automerge::{ActorId, AutoCommit};
    use jiff::Timestamp;

    use super::*;
    use crate::checkin::{CheckIn, Direction, Method};
    use crate::doc::{actor_for, attendance, event, portfolio};
    use crate::event::RosterMember;
    use crate::portfolio::{Entry, EntryKind};

    fn checkin(id: &str, kiosk: &str) -> CheckIn {
        let at: Timestamp = "2027-03-01T09:00:00Z".parse().unwrap();
        CheckIn {
            id: id.into(),
            event_id: "E1".into(),
            session_id: "S1".into(),
            member_id: "M1".into(),
            direction: Direction::In,
            at,
            method: Method::Badge,
            kiosk_id: kiosk.into(),
            recorded_at: at,
        }
    }

    fn watched(mut d: AutoCommit) -> AutoCommit {
        d.update_diff_cursor();
        d
    }

    #[test]
    fn local_and_remote_checkins_are_named_once() {
        let id = DocId::attendance("E1", "S1");
        let mut a = watched(attendance::new_doc("E1", "S1", &actor_for("a")));
        let mut b = attendance::new_doc("E1", "S1", &actor_for("b"));
        attendance::add_checkin(&mut a, &checkin("c1", "a")).unwrap();
        a.commit();
        assert_eq!(touched(&id, &a.diff_incremental()), BTreeSet::from([Touched::CheckIn("c1".into())]));
        // A change made elsewhere and merged in is named the same way.
        attendance::add_checkin(&mut b, &checkin("c2", "b")).unwrap();
        attendance::add_checkin(&mut b, &checkin("c3", "b")).unwrap();
        b.commit();
        a.merge(&mut b).unwrap();
        let t = touched(&id, &a.diff_incremental());
        assert_eq!(t, BTreeSet::from([Touched::CheckIn("c2".into()), Touched::CheckIn("c3".into())]));
        // Nothing new: nothing touched.
        assert!(touched(&id, &a.diff_incremental()).is_empty());
    }

    #[test]
    fn a_rolled_back_change_touches_nothing() {
        let id = DocId::attendance("E1", "S1");
        let mut a = watched(attendance::new_doc("E1", "S1", &actor_for("a")));
        attendance::add_checkin(&mut a, &checkin("c1", "a")).unwrap();
        a.rollback();
        assert!(touched(&id, &a.diff_incremental()).is_empty());
    }

    #[test]
    fn event_and_portfolio_items() {
        let actor = ActorId::from(&[7u8; 16][..]);
        let eid = DocId::event("E1");
        let mut e = watched(event::new_doc("E1", &actor));
        event::put_roster_member(&mut e, &RosterMember { member_id: "M1".into(), name: "Ann".into(), email: None })
            .unwrap();
        event::put_roster_member(&mut e, &RosterMember { member_id: "M2".into(), name: "Bo".into(), email: None })
            .unwrap();
        e.commit();
        assert_eq!(touched(&eid, &e.diff_incremental()), BTreeSet::from([Touched::Roster]));

        let pid = DocId::portfolio("M1");
        let mut p = watched(portfolio::new_doc("M1", &actor));
        let entry = Entry {
            id: "x1".into(),
            kind: EntryKind::Note,
            title: "t".into(),
            description: None,
            date: jiff::civil::date(2027, 1, 1),
            cecs: None,
            contact_minutes: None,
            category: None,
            provider: None,
            evidence: vec!["a".repeat(64)],
        };
        portfolio::put_entry(&mut p, &entry).unwrap();
        p.commit();
        assert_eq!(touched(&pid, &p.diff_incremental()), BTreeSet::from([Touched::Entry("x1".into())]));
        portfolio::delete_entry(&mut p, "x1").unwrap();
        p.commit();
        assert_eq!(touched(&pid, &p.diff_incremental()), BTreeSet::from([Touched::Entry("x1".into())]));
    }

    /// Replacing the whole map of verified records is named: it removes every record in it.
    #[test]
    fn the_verified_map_replaced_whole_is_named() {
        use automerge::transaction::Transactable as _;
        let id = DocId::portfolio("M1");
        let mut d = watched(crate::doc::new_doc(&id, &actor_for("member")));
        d.put_object(automerge::ROOT, "verified", automerge::ObjType::Map).unwrap();
        let patches = d.diff_incremental();
        assert_eq!(touched(&id, &patches), BTreeSet::from([Touched::VerifiedMap]));
        assert!(!portfolio::verified_map_is_the_skeletons(&d, "M1"), "put anew");

        // A node that receives the portfolio whole sees the skeleton make the map: its own.
        let mut fresh = watched(portfolio::new_doc("M1", &actor_for("member")));
        let mut received = AutoCommit::new();
        received.merge(&mut fresh).unwrap();
        assert!(touched(&id, &received.diff_incremental()).contains(&Touched::VerifiedMap));
        assert!(portfolio::verified_map_is_the_skeletons(&received, "M1"));
        fresh.delete(automerge::ROOT, "verified").unwrap();
        assert!(!portfolio::verified_map_is_the_skeletons(&fresh, "M1"), "deleted");
    }
}

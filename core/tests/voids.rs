//! Corrections: a voided check-in stays in the document but earns nothing, and a void survives
//! merging with a node that still has only the original.

use std::collections::BTreeSet;

use automerge::AutoCommit;
use cec_core::doc::attendance::{self, Voided};
use cec_core::doc::{DocId, actor_for, touched};
use cec_core::{
    CheckIn, CreditRule, Direction, Method, Segment, Session, SessionFormat, Void, credit_session, without_voided,
};
use jiff::{SignedDuration, Timestamp};
use rust_decimal::Decimal;

const START: &str = "2027-03-01T14:00:00Z";

fn start() -> Timestamp {
    START.parse().expect("an instant")
}

fn session() -> Session {
    Session {
        id: "S1".into(),
        title: "Seventy-five".into(),
        category: "general".into(),
        format: SessionFormat::InPerson,
        starts_at: start(),
        segments: vec![Segment::new("instruction".parse().expect("a segment kind"), 75)],
    }
}

fn scan(id: &str, member: &str, direction: Direction, minutes: i64) -> CheckIn {
    let at = start() + SignedDuration::from_mins(minutes);
    CheckIn {
        id: id.into(),
        event_id: "E1".into(),
        session_id: "S1".into(),
        member_id: member.into(),
        direction,
        at,
        method: Method::Badge,
        kiosk_id: "k1".into(),
        recorded_at: at,
    }
}

fn void(id: &str, by: &str, minutes: i64, reason: &str) -> Void {
    Void {
        checkin_id: id.into(),
        by: by.into(),
        at: start() + SignedDuration::from_mins(minutes),
        reason: reason.into(),
    }
}

fn cecs(checkins: &[CheckIn]) -> Decimal {
    credit_session(&session(), "M1", checkins, &CreditRule::aca()).credit
}

/// A mistaken early out-scan, voided, no longer cuts the member's credit; a voided in-scan
/// earns nothing; the void of another member's scan changes nothing for this one.
#[test]
fn credit_ignores_voided_checkins() {
    let all = [
        scan("a", "M1", Direction::In, 0),
        scan("b", "M1", Direction::Out, 15), // wrong badge, scanned out by mistake
        scan("c", "M1", Direction::Out, 75),
        scan("d", "M2", Direction::In, 0),
    ];
    assert_eq!(cecs(&all), Decimal::new(25, 2));
    let voided = BTreeSet::from(["b".to_owned()]);
    assert_eq!(cecs(&without_voided(&all, &voided)), Decimal::new(125, 2));
    let voided = BTreeSet::from(["a".to_owned(), "b".to_owned()]);
    assert_eq!(cecs(&without_voided(&all, &voided)), Decimal::ZERO);
    let voided = BTreeSet::from(["d".to_owned()]);
    assert_eq!(cecs(&without_voided(&all, &voided)), Decimal::new(25, 2));
    assert_eq!(without_voided(&all, &voided).len(), 3, "the voided scan is left out, the others kept");
}

fn doc_with(kiosk: &str, checkins: &[CheckIn]) -> AutoCommit {
    let mut d = attendance::new_doc("E1", "S1", &actor_for(kiosk));
    for c in checkins {
        attendance::add_checkin(&mut d, c).expect("recorded");
    }
    d.commit();
    d
}

/// Voiding keeps the check-in, is idempotent (the first void stands), and refuses an id the
/// document does not hold.
#[test]
fn a_void_keeps_the_fact_and_is_idempotent() {
    let mut d = doc_with("k1", &[scan("a", "M1", Direction::In, 0)]);
    let first = void("a", "k1", 5, "wrong badge | typed twice");
    assert_eq!(attendance::void(&mut d, &first).unwrap(), Voided::New(first.clone()));
    d.commit();
    let again = void("a", "k2", 9, "other");
    assert_eq!(attendance::void(&mut d, &again).unwrap(), Voided::Existing(first.clone()));
    assert!(attendance::void(&mut d, &void("zz", "k1", 5, "")).is_err());
    assert_eq!(attendance::read(&d).unwrap().len(), 1, "the check-in itself stays");
    let loaded = AutoCommit::load(&d.save()).unwrap();
    assert_eq!(attendance::void_of(&loaded, "a").unwrap(), Some(first.clone()));
    assert_eq!(attendance::voids(&loaded).unwrap().into_values().collect::<Vec<_>>(), [first]);
}

/// A void made on one node survives a merge with a node that still has only the original
/// check-in, in both directions; voids that two nodes made concurrently (each creating the
/// `voids` map) are both kept.
#[test]
fn a_void_survives_merges() {
    let facts = [scan("a", "M1", Direction::In, 0), scan("b", "M1", Direction::Out, 15)];
    let mut original = doc_with("k1", &facts);
    let mut voider = original.fork().with_actor(actor_for("k2"));
    let v = void("b", "k2", 20, "mistaken scan");
    attendance::void(&mut voider, &v).unwrap();
    voider.commit();
    // The node with the original also records more meanwhile.
    attendance::add_checkin(&mut original, &scan("c", "M1", Direction::Out, 75)).unwrap();
    original.commit();
    let mut one = original.fork();
    one.merge(&mut voider.clone()).unwrap();
    let mut other = voider.fork();
    other.merge(&mut original.clone()).unwrap();
    for d in [&one, &other] {
        assert_eq!(attendance::void_of(d, "b").unwrap(), Some(v.clone()));
        let all = attendance::read(d).unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(cecs(&without_voided(&all, &attendance::voids(d).unwrap())), Decimal::new(125, 2));
    }

    // Concurrent voids of two check-ins, each node creating `voids`: the union stands.
    let mut x = doc_with("k1", &facts).with_actor(actor_for("x"));
    let mut y = x.fork().with_actor(actor_for("y"));
    let vx = void("a", "x", 30, "");
    let vy = void("b", "y", 31, "");
    attendance::void(&mut x, &vx).unwrap();
    x.commit();
    attendance::void(&mut y, &vy).unwrap();
    y.commit();
    x.update_diff_cursor();
    x.merge(&mut y.clone()).unwrap();
    let patches = x.diff_incremental();
    y.merge(&mut x.clone()).unwrap();
    for d in [&x, &y] {
        let all = attendance::voids(d).unwrap();
        assert_eq!(all.keys().cloned().collect::<Vec<_>>(), ["a", "b"]);
    }
    // The merge is seen as a change of the voided check-ins, so projections follow.
    let seen: Vec<String> = attendance::voids_in(&x, &patches).unwrap().into_iter().map(|v| v.checkin_id).collect();
    assert!(seen.contains(&"b".to_owned()), "{seen:?}");
    let t = touched::touched(&DocId::attendance("E1", "S1"), &patches);
    assert!(t.contains(&touched::Touched::CheckIn("b".into())) || seen.contains(&"b".to_owned()));
}

/// A local void is seen in the change's patches as a change of that check-in.
#[test]
fn a_void_is_a_change_of_its_checkin() {
    let mut d = doc_with("k1", &[scan("a", "M1", Direction::In, 0)]);
    d.update_diff_cursor();
    let v = void("a", "k1", 1, "");
    attendance::void(&mut d, &v).unwrap();
    d.commit();
    let patches = d.diff_incremental();
    assert_eq!(attendance::voids_in(&d, &patches).unwrap(), [v]);
    let t = touched::touched(&DocId::attendance("E1", "S1"), &patches);
    assert_eq!(t, BTreeSet::from([touched::Touched::CheckIn("a".into())]));
}

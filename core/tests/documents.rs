//! The document schemas: what is written reads back the same, through save and load, and the
//! rules of each document hold.

use automerge::{AutoCommit, ROOT, transaction::Transactable};
use cec_core::doc::{self, DocError, DocId, actor_for};
use cec_core::goals::{Benchmark, Goal};
use cec_core::petition::{Petition, PetitionStatus};
use cec_core::portfolio::{Entry, EntryKind, Profile, VerifiedRecord};
use cec_core::requirements::Program;
use cec_core::{
    CheckIn, Direction, Endorsement, Event, Method, Policy, Provider, RosterMember, Segment, SegmentKind, Session,
    SessionFormat,
};
use jiff::civil::date;
use rust_decimal::Decimal;

fn d(s: &str) -> Decimal {
    s.parse().expect("decimal")
}

fn reload(doc: &mut AutoCommit) -> AutoCommit {
    AutoCommit::load(&doc.save()).expect("load")
}

fn event() -> Event {
    let s1 = Session {
        id: "S1".into(),
        title: "Lunch keynote".into(),
        category: "general".into(),
        format: SessionFormat::InPerson,
        starts_at: "2027-03-01T17:00:00Z".parse().expect("ts"),
        segments: vec![
            Segment::new(SegmentKind::Meal, 30),
            Segment::new(SegmentKind::Keynote, 30),
            Segment::new(SegmentKind::Meal, 30),
        ],
    };
    let s2 = Session {
        id: "S2".into(),
        title: "Webinar".into(),
        category: "ethics".into(),
        format: SessionFormat::OnlineLive,
        ..s1.clone()
    };
    Event {
        id: "E1".into(),
        title: "Spring Conference".into(),
        provider: Provider {
            id: "P1".into(),
            name: "Counseling Institute".into(),
            endorsement: Some(Endorsement {
                number: "ACA-77".into(),
                valid_from: date(2027, 1, 1),
                valid_until: date(2027, 12, 31),
            }),
        },
        venue: Some("Hall B".into()),
        timezone: "America/Chicago".into(),
        policy: Policy { grace_minutes: 5, full_attendance_required: true },
        sessions: [("S1".to_string(), s1), ("S2".to_string(), s2)].into(),
        roster: [(
            "M1".to_string(),
            RosterMember { member_id: "M1".into(), name: "José Núñez".into(), email: Some("j@example.org".into()) },
        )]
        .into(),
    }
}

#[test]
fn an_event_reads_back_as_written() {
    let ev = event();
    let mut d1 = doc::event::new_doc("E1", &actor_for("central"));
    doc::event::put_all(&mut d1, &ev).expect("write");
    assert_eq!(doc::event::read(&d1).expect("read"), ev);
    assert_eq!(doc::event::read(&reload(&mut d1)).expect("read"), ev);
}

#[test]
fn rewriting_an_event_unchanged_makes_no_change() {
    let ev = event();
    let mut d1 = doc::event::new_doc("E1", &actor_for("central"));
    doc::event::put_all(&mut d1, &ev).expect("write");
    d1.commit();
    let heads = d1.get_heads();
    doc::event::put_all(&mut d1, &ev).expect("write");
    assert_eq!(d1.commit(), None);
    assert_eq!(d1.get_heads(), heads);
    // An update touches what changed and keeps the rest.
    let mut ev2 = ev.clone();
    ev2.provider.endorsement = None;
    ev2.sessions.get_mut("S1").expect("S1").segments.push(Segment::new(SegmentKind::Instruction, 15));
    doc::event::put_all(&mut d1, &ev2).expect("write");
    assert_eq!(doc::event::read(&d1).expect("read"), ev2);
}

#[test]
fn checkins_are_immutable() {
    let mut d1 = doc::attendance::new_doc("E1", "S1", &actor_for("kiosk"));
    let c = CheckIn {
        id: "0190-a".into(),
        event_id: "E1".into(),
        session_id: "S1".into(),
        member_id: "M1".into(),
        direction: Direction::In,
        at: "2027-03-01T17:00:00Z".parse().expect("ts"),
        method: Method::Qr,
        kiosk_id: "kiosk".into(),
        recorded_at: "2027-03-01T17:00:01.5Z".parse().expect("ts"),
    };
    assert_eq!(doc::attendance::add_checkin(&mut d1, &c).expect("add"), doc::attendance::Added::New);
    assert_eq!(doc::attendance::add_checkin(&mut d1, &c).expect("again"), doc::attendance::Added::Existing);
    let other = CheckIn { direction: Direction::Out, ..c.clone() };
    assert!(matches!(doc::attendance::add_checkin(&mut d1, &other), Err(DocError::Conflict(_))));
    assert_eq!(doc::attendance::read(&reload(&mut d1)).expect("read"), vec![c]);
    assert_eq!(doc::attendance::count(&d1), 1);
    assert_eq!(doc::attendance::get(&d1, "0190-a").expect("get").map(|x| x.member_id), Some("M1".to_owned()));
    assert_eq!(doc::attendance::get(&d1, "nope").expect("get"), None);
}

fn verified(session: &str, cecs: &str) -> VerifiedRecord {
    VerifiedRecord {
        event_id: "E1".into(),
        session_id: session.into(),
        event_title: "Spring Conference".into(),
        session_title: session.into(),
        provider_id: "P1".into(),
        provider_name: "Counseling Institute".into(),
        endorsement_number: "ACA-77".into(),
        date: date(2027, 3, 1),
        category: "general".into(),
        contact_minutes: 30,
        cecs: d(cecs),
        verification_code: "ABCD-0000-1111-2222".into(),
    }
}

#[test]
fn a_portfolio_reads_back_as_written() {
    let mut p = doc::portfolio::new_doc("M1", &actor_for("laptop"));
    let profile = Profile { name: Some("Zoë Müller".into()), email: None };
    let entry = Entry {
        id: "A1".into(),
        kind: EntryKind::Activity,
        title: "Self-study: trauma-informed care".into(),
        description: Some("Book and reflection".into()),
        date: date(2027, 2, 2),
        cecs: Some(d("1.50")),
        contact_minutes: Some(90),
        category: Some("clinical".into()),
        provider: None,
        evidence: vec!["ab".repeat(32)],
    };
    let goal = Goal {
        id: "G1".into(),
        title: "12 CECs by June".into(),
        target_cecs: d("12"),
        category: None,
        start: Some(date(2027, 1, 1)),
        due: date(2027, 6, 30),
        benchmarks: vec![Benchmark {
            title: "3 in risk management".into(),
            target_cecs: d("3"),
            due: date(2027, 3, 31),
        }],
    };
    let program = Program {
        id: "LPC".into(),
        title: "License renewal".into(),
        window_start: date(2026, 1, 1),
        window_end: date(2027, 12, 31),
        total_cecs: d("40"),
        minimums: [("ethics".to_string(), d("3"))].into(),
        verified_only: false,
    };
    let petition = Petition {
        id: "PT1".into(),
        target_association: "NBCC".into(),
        record_ids: vec!["E1/S1".into(), "A1".into()],
        note: Some("please".into()),
        status: PetitionStatus::PartiallyAccepted,
        accepted_cecs: Some(d("1.5")),
        created: date(2027, 4, 1),
    };
    doc::portfolio::put_profile(&mut p, &profile).expect("profile");
    doc::portfolio::put_entry(&mut p, &entry).expect("entry");
    doc::portfolio::put_goal(&mut p, &goal).expect("goal");
    doc::portfolio::put_program(&mut p, &program).expect("program");
    doc::portfolio::put_petition(&mut p, &petition).expect("petition");
    doc::portfolio::apply_verified(&mut p, "E1", &[verified("S1", "0.5")]).expect("verified");

    let read = doc::portfolio::read(&reload(&mut p)).expect("read");
    assert_eq!(read.member_id, "M1");
    assert_eq!(read.profile, profile);
    // Decimals are stored normalized: 1.50 reads back as 1.5, the same value.
    assert_eq!(read.entries["A1"], Entry { cecs: Some(d("1.5")), ..entry });
    assert_eq!(read.goals["G1"], goal);
    assert_eq!(read.requirements["LPC"], program);
    assert_eq!(read.petitions["PT1"], petition);
    assert_eq!(read.verified["E1/S1"], verified("S1", "0.5"));

    assert!(doc::portfolio::delete_entry(&mut p, "A1").expect("delete"));
    assert!(!doc::portfolio::delete_entry(&mut p, "A1").expect("delete again"));
    assert!(doc::portfolio::read(&p).expect("read").entries.is_empty());
}

#[test]
fn applying_verified_records_replaces_only_that_events_records() {
    let mut p = doc::portfolio::new_doc("M1", &actor_for("central"));
    let mut other = verified("S9", "1");
    other.event_id = "E2".into();
    doc::portfolio::apply_verified(&mut p, "E2", std::slice::from_ref(&other)).expect("E2");
    assert!(doc::portfolio::apply_verified(&mut p, "E1", &[verified("S1", "0.5"), verified("S2", "1")]).expect("E1"));
    // A late check-out lowers S1 and S2 is no longer earned.
    assert!(doc::portfolio::apply_verified(&mut p, "E1", &[verified("S1", "0.25")]).expect("again"));
    let read = doc::portfolio::read(&p).expect("read");
    let keys: Vec<&str> = read.verified.keys().map(String::as_str).collect();
    assert_eq!(keys, ["E1/S1", "E2/S9"]);
    assert_eq!(read.verified["E1/S1"].cecs, d("0.25"));
}

#[test]
fn a_registered_name_fills_only_an_empty_profile() {
    let mut p = doc::portfolio::new_doc("M1", &actor_for("central"));
    assert!(doc::portfolio::name_if_unnamed(&mut p, "Ana Lima").expect("named"));
    assert!(!doc::portfolio::name_if_unnamed(&mut p, "Ana Lima").expect("again"), "no change the second time");
    assert!(!doc::portfolio::name_if_unnamed(&mut p, "A. Lima").expect("another"), "a name stays");
    assert_eq!(doc::portfolio::read(&p).expect("read").profile.name.as_deref(), Some("Ana Lima"));
}

#[test]
fn a_newer_schema_is_refused() {
    let mut p = doc::portfolio::new_doc("M1", &actor_for("laptop"));
    p.put(ROOT, "schema", doc::SCHEMA_VERSION + 1).expect("put");
    assert!(matches!(doc::portfolio::read(&p), Err(DocError::NewerSchema(_))));
    let wrong = doc::event::new_doc("E1", &actor_for("laptop"));
    assert!(doc::check_header(&wrong, &DocId::portfolio("M1")).is_err());
}

#[test]
fn concurrent_portfolio_edits_merge() {
    let base = doc::portfolio::new_doc("M1", &actor_for("central"));
    let mut phone = base.clone().with_actor(actor_for("phone"));
    let mut laptop = base.clone().with_actor(actor_for("laptop"));
    let entry = |id: &str| Entry {
        id: id.into(),
        kind: EntryKind::Note,
        title: id.into(),
        description: None,
        date: date(2027, 1, 1),
        cecs: None,
        contact_minutes: None,
        category: None,
        provider: None,
        evidence: vec![],
    };
    doc::portfolio::put_entry(&mut phone, &entry("from-phone")).expect("put");
    doc::portfolio::put_entry(&mut laptop, &entry("from-laptop")).expect("put");
    phone.merge(&mut laptop).expect("merge");
    let ids: Vec<String> = doc::portfolio::read(&phone).expect("read").entries.into_keys().collect::<Vec<_>>();
    assert_eq!(ids, ["from-laptop", "from-phone"]);
}

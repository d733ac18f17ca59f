//! Laws checked with proptest: credit arithmetic, merging documents, derivation.

use std::collections::BTreeMap;

use automerge::AutoCommit;
use cec_core::doc::{self, actor_for};
use cec_core::{
    CheckIn, CreditRule, Direction, Endorsement, Event, Method, Policy, Provider, Segment, SegmentKind, Session,
    SessionFormat, credit_session, derive,
};
use jiff::civil::date;
use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;
use rust_decimal::Decimal;

fn start() -> Timestamp {
    "2027-05-10T13:00:00Z".parse().expect("start")
}

fn arb_rule() -> impl Strategy<Value = CreditRule> {
    (prop::sample::select(CreditRule::BUILTIN.to_vec()), 0u32..10, any::<bool>()).prop_map(|(id, grace, all)| {
        let mut r = CreditRule::builtin(id).expect("builtin");
        r.grace_minutes = grace;
        r.all_or_nothing = all;
        r
    })
}

fn arb_session() -> impl Strategy<Value = Session> {
    prop::collection::vec((prop::sample::select(SegmentKind::ALL.to_vec()), 1u32..120), 1..5).prop_map(|segs| Session {
        id: "S1".into(),
        title: "s".into(),
        category: "general".into(),
        format: SessionFormat::InPerson,
        starts_at: start(),
        segments: segs.into_iter().map(|(k, m)| Segment::new(k, m)).collect(),
    })
}

fn checkin(id: String, member: &str, direction: Direction, offset_secs: i64) -> CheckIn {
    let at = start() + SignedDuration::from_secs(offset_secs);
    CheckIn {
        id,
        event_id: "E1".into(),
        session_id: "S1".into(),
        member_id: member.into(),
        direction,
        at,
        method: Method::Badge,
        kiosk_id: "k".into(),
        recorded_at: at,
    }
}

fn arb_scans(member: &'static str) -> impl Strategy<Value = Vec<CheckIn>> {
    prop::collection::vec((any::<bool>(), -1800i64..30_000), 0..8).prop_map(move |v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (inn, off))| {
                checkin(format!("{member}-{i}"), member, if inn { Direction::In } else { Direction::Out }, off)
            })
            .collect()
    })
}

/// Scans clustered around the start and the end of a 60-minute session, where door grace acts.
fn arb_scans_near_edges() -> impl Strategy<Value = Vec<CheckIn>> {
    prop::collection::vec((any::<bool>(), prop_oneof![-300i64..900, 2_700i64..3_900]), 0..10).prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (inn, off))| {
                checkin(format!("e-{i}"), "M1", if inn { Direction::In } else { Direction::Out }, off)
            })
            .collect()
    })
}

fn secs(d: SignedDuration) -> Decimal {
    cec_core::attendance::decimal_seconds(d)
}

proptest! {
    #[test]
    fn credit_is_a_step_and_never_exceeds_creditable_time(session in arb_session(), scans in arb_scans("M1"), rule in arb_rule()) {
        let c = credit_session(&session, "M1", &scans, &rule);
        prop_assert!(rule.is_step(c.credit), "{} is not a multiple of {}", c.credit, rule.increment);
        let credited_secs = c.credit * rule.minutes_per_unit * Decimal::from(60);
        prop_assert!(credited_secs <= secs(c.creditable));
        prop_assert!(c.creditable <= c.attended);
        prop_assert!(c.attended <= session.span().duration());
        prop_assert!(c.creditable <= c.session_creditable);
        prop_assert!(c.credit <= c.max_credit);
    }

    #[test]
    fn grace_never_counts_time_twice(scans in arb_scans_near_edges(), grace in 1u32..15, all in any::<bool>()) {
        let session = Session {
            id: "S1".into(),
            title: "s".into(),
            category: "general".into(),
            format: SessionFormat::InPerson,
            starts_at: start(),
            segments: vec![Segment::new(SegmentKind::Instruction, 60)],
        };
        let rule = CreditRule { grace_minutes: grace, all_or_nothing: all, ..CreditRule::aca() };
        let c = credit_session(&session, "M1", &scans, &rule);
        prop_assert!(c.attended <= session.span().duration(), "attended {:?}", c.attended);
        prop_assert!(c.credit <= c.max_credit);
        for w in c.presence.spans.windows(2) {
            prop_assert!(w[0].end < w[1].start, "spans overlap or touch: {:?}", c.presence.spans);
        }
    }

    #[test]
    fn credit_is_monotone_in_presence(session in arb_session(), rule in arb_rule(), a in -600i64..20_000, len in 0i64..20_000, more_before in 0i64..3_000, more_after in 0i64..3_000) {
        let short = [checkin("a".into(), "M1", Direction::In, a), checkin("b".into(), "M1", Direction::Out, a + len)];
        let long = [
            checkin("a".into(), "M1", Direction::In, a - more_before),
            checkin("b".into(), "M1", Direction::Out, a + len + more_after),
        ];
        let c1 = credit_session(&session, "M1", &short, &rule);
        let c2 = credit_session(&session, "M1", &long, &rule);
        prop_assert!(c2.creditable >= c1.creditable);
        prop_assert!(c2.credit >= c1.credit, "{} then {}", c1.credit, c2.credit);
    }

    #[test]
    fn credit_for_seconds_is_monotone(rule in arb_rule(), s1 in 0i64..1_000_000, extra in 0i64..100_000) {
        prop_assert!(rule.credit_for_seconds(Decimal::from(s1 + extra)) >= rule.credit_for_seconds(Decimal::from(s1)));
    }

    #[test]
    fn concurrent_checkins_merge_to_their_union(a in arb_scans("M1"), b in arb_scans("M2")) {
        let base = doc::attendance::new_doc("E1", "S1", &actor_for("central"));
        let mut k1 = base.clone().with_actor(actor_for("kiosk-1"));
        let mut k2 = base.clone().with_actor(actor_for("kiosk-2"));
        for c in &a { doc::attendance::add_checkin(&mut k1, c).expect("add"); }
        for c in &b { doc::attendance::add_checkin(&mut k2, c).expect("add"); }
        k1.commit();
        k2.commit();

        let mut ab = k1.clone();
        ab.merge(&mut k2.clone()).expect("merge");
        let mut ba = k2.clone();
        ba.merge(&mut k1.clone()).expect("merge");

        let union: BTreeMap<String, CheckIn> = a.iter().chain(b.iter()).map(|c| (c.id.clone(), c.clone())).collect();
        let got: BTreeMap<String, CheckIn> = doc::attendance::read(&ab).expect("read").into_iter().map(|c| (c.id.clone(), c)).collect();
        prop_assert_eq!(&got, &union);
        // Commutative: same content and same heads either way.
        prop_assert_eq!(doc::attendance::read(&ba).expect("read"), doc::attendance::read(&ab).expect("read"));
        prop_assert_eq!(sorted_heads(&mut ab), sorted_heads(&mut ba));
        // Idempotent: merging again changes nothing.
        let heads = sorted_heads(&mut ab);
        ab.merge(&mut k2.clone()).expect("merge");
        ab.merge(&mut ba.clone()).expect("merge");
        prop_assert_eq!(sorted_heads(&mut ab), heads);
    }

    #[test]
    fn independently_created_attendance_docs_share_their_checkins(a in arb_scans("M1"), b in arb_scans("M2")) {
        // Two kiosks that never met create the same session's document offline.
        let mut k1 = doc::attendance::new_doc("E1", "S1", &actor_for("kiosk-1"));
        let mut k2 = doc::attendance::new_doc("E1", "S1", &actor_for("kiosk-2"));
        for c in &a { doc::attendance::add_checkin(&mut k1, c).expect("add"); }
        for c in &b { doc::attendance::add_checkin(&mut k2, c).expect("add"); }
        k1.merge(&mut k2).expect("merge");
        prop_assert_eq!(doc::attendance::read(&k1).expect("read").len(), a.len() + b.len());
    }

    #[test]
    fn derivation_applied_twice_or_on_two_nodes_converges(scans in arb_scans("M1"), more in arb_scans("M2")) {
        let event = event();
        let all: Vec<CheckIn> = scans.into_iter().chain(more).collect();
        let derived = derive::derive(&event, &all, &CreditRule::aca());
        for (member, records) in &derived {
            let mut n1 = doc::portfolio::new_doc(member, &actor_for("central-1"));
            let mut n2 = doc::portfolio::new_doc(member, &actor_for("central-2"));
            derive::apply(&mut n1, &event.id, records).expect("apply");
            let heads = sorted_heads(&mut n1);
            prop_assert!(!derive::apply(&mut n1, &event.id, records).expect("apply again"));
            prop_assert_eq!(sorted_heads(&mut n1), heads);
            derive::apply(&mut n2, &event.id, records).expect("apply");
            let mut merged = n1.clone();
            merged.merge(&mut n2).expect("merge");
            let p1 = doc::portfolio::read(&n1).expect("read");
            let pm = doc::portfolio::read(&merged).expect("read");
            prop_assert_eq!(&p1.verified, &pm.verified);
            let expected: BTreeMap<String, _> = records.iter().map(|r| (r.key(), r.clone())).collect();
            prop_assert_eq!(&pm.verified, &expected);
        }
    }
}

fn sorted_heads(d: &mut AutoCommit) -> Vec<automerge::ChangeHash> {
    let mut h = d.get_heads();
    h.sort();
    h
}

fn event() -> Event {
    let session = Session {
        id: "S1".into(),
        title: "Ethics".into(),
        category: "ethics".into(),
        format: SessionFormat::InPerson,
        starts_at: start(),
        segments: vec![
            Segment::new(SegmentKind::Instruction, 75),
            Segment::new(SegmentKind::Break, 15),
            Segment::new(SegmentKind::Practice, 60),
        ],
    };
    Event {
        id: "E1".into(),
        title: "Spring conference".into(),
        provider: Provider {
            id: "P1".into(),
            name: "Provider".into(),
            endorsement: Some(Endorsement {
                number: "ACA-9".into(),
                valid_from: date(2027, 1, 1),
                valid_until: date(2027, 12, 31),
            }),
        },
        venue: None,
        timezone: "UTC".into(),
        policy: Policy::default(),
        sessions: [("S1".to_string(), session)].into(),
        roster: BTreeMap::new(),
    }
}

//! Every rule of `docs/cec-rules.md` as data: the six examples of the source, then a table of
//! further cases. Each case is a session (segments), one member's scans (minutes after the
//! session start, `m` or `m:ss`, negative before it), the event's policy and endorsement, and
//! the credit and flags expected.

use std::collections::BTreeMap;

use cec_core::{
    CheckIn, CreditRule, Direction, Endorsement, Event, Flag, Method, Policy, Provider, RosterMember, Segment, Session,
    SessionFormat, attend,
};
use jiff::civil::date;
use jiff::{SignedDuration, Timestamp};
use rust_decimal::Decimal;

const START: &str = "2027-03-01T14:00:00Z";

#[derive(Clone, Copy)]
struct Case {
    name: &'static str,
    segments: &'static str,
    scans: &'static str,
    grace: u32,
    full: bool,
    rule: &'static str,
    endorsement: &'static str,
    on_roster: bool,
    online: bool,
    cecs: &'static str,
    flags: &'static [&'static str],
}

const BASE: Case = Case {
    name: "",
    segments: "instruction 75",
    scans: "in 0, out 75",
    grace: 0,
    full: false,
    rule: "aca",
    endorsement: "valid",
    on_roster: true,
    online: false,
    cecs: "0",
    flags: &[],
};

fn offset(s: &str) -> SignedDuration {
    let (neg, s) = s.strip_prefix('-').map_or((false, s), |r| (true, r));
    let (m, sec) = s.split_once(':').unwrap_or((s, "0"));
    let d = SignedDuration::from_secs(m.parse::<i64>().expect("minutes") * 60 + sec.parse::<i64>().expect("seconds"));
    if neg { -d } else { d }
}

fn segments(spec: &str) -> Vec<Segment> {
    spec.split(',')
        .map(|part| {
            let mut it = part.split_whitespace();
            let kind = it.next().expect("kind").parse().expect("segment kind");
            let minutes = it.next().expect("minutes").parse().expect("minutes");
            Segment::new(kind, minutes)
        })
        .collect()
}

fn scans(spec: &str, member: &str, online: bool) -> Vec<CheckIn> {
    let start: Timestamp = START.parse().expect("start");
    spec.split(',')
        .filter(|s| !s.trim().is_empty())
        .enumerate()
        .map(|(i, part)| {
            let mut it = part.split_whitespace();
            let direction: Direction = it.next().expect("direction").parse().expect("direction");
            let at = start + offset(it.next().expect("offset"));
            CheckIn {
                id: format!("c{i:03}"),
                event_id: "E1".into(),
                session_id: "S1".into(),
                member_id: member.into(),
                direction,
                at,
                method: if online { Method::OnlineLog } else { Method::Badge },
                kiosk_id: if i % 2 == 0 { "kiosk-a".into() } else { "kiosk-b".into() },
                recorded_at: at,
            }
        })
        .collect()
}

fn event(case: &Case) -> Event {
    let endorsement = match case.endorsement {
        "valid" => Some(Endorsement {
            number: "ACA-2027-001".into(),
            valid_from: date(2027, 1, 1),
            valid_until: date(2027, 12, 31),
        }),
        "expired" => Some(Endorsement {
            number: "ACA-2025-001".into(),
            valid_from: date(2025, 1, 1),
            valid_until: date(2026, 12, 31),
        }),
        "none" => None,
        other => panic!("endorsement {other}"),
    };
    let session = Session {
        id: "S1".into(),
        title: case.name.into(),
        category: "general".into(),
        format: if case.online { SessionFormat::OnlineLive } else { SessionFormat::InPerson },
        starts_at: START.parse().expect("start"),
        segments: segments(case.segments),
    };
    session.validate().expect("valid session");
    let mut roster = BTreeMap::new();
    roster.insert("M1".into(), RosterMember { member_id: "M1".into(), name: "Ana".into(), email: None });
    Event {
        id: "E1".into(),
        title: "Conference".into(),
        provider: Provider { id: "P1".into(), name: "Provider".into(), endorsement },
        venue: None,
        timezone: "America/New_York".into(),
        policy: Policy { grace_minutes: case.grace, full_attendance_required: case.full },
        sessions: [("S1".to_string(), session)].into(),
        roster,
    }
}

fn run(case: &Case) {
    let event = event(case);
    let member = if case.on_roster { "M1" } else { "M9" };
    let checkins = scans(case.scans, member, case.online);
    let rule = CreditRule::builtin(case.rule).expect("rule");
    let a = attend(&event, &event.sessions["S1"], member, &checkins, &rule);
    let want: Decimal = case.cecs.parse().expect("cecs");
    assert_eq!(a.credit.credit, want, "{}: credit", case.name);
    let flags: Vec<&str> = a.flags().map(Flag::as_str).collect();
    let mut want_flags: Vec<&str> = case.flags.to_vec();
    want_flags.sort_by_key(|f| Flag::ALL.iter().position(|x| x.as_str() == *f).expect(f));
    assert_eq!(flags, want_flags, "{}: flags", case.name);
    assert_eq!(a.is_verified(), case.endorsement == "valid", "{}: verified", case.name);
    assert!(a.credit.credit <= a.credit.max_credit, "{}: never more than the session offers", case.name);
    if a.credit.credit < a.credit.max_credit || !a.is_verified() {
        assert!(a.reason().is_some(), "{}: a reduced credit explains itself", case.name);
    } else if case.flags.is_empty() {
        assert_eq!(a.reason(), None, "{}: full credit needs no reason", case.name);
    }
}

/// The source's six examples (`cec-rules.md`, "The seed's examples"), with full attendance.
#[test]
fn the_seed_examples() {
    let seed = [
        Case {
            name: "75-minute conference session",
            segments: "instruction 75",
            scans: "in 0, out 75",
            cecs: "1.25",
            ..BASE
        },
        Case {
            name: "2-hour conference session",
            segments: "instruction 120",
            scans: "in 0, out 120",
            cecs: "2",
            ..BASE
        },
        Case {
            name: "90-minute lunch with a 30-minute keynote",
            segments: "meal 30, keynote 30, meal 30",
            scans: "in 0, out 90",
            cecs: "0.5",
            ..BASE
        },
        Case {
            name: "workshop: 60 instruction then 30 practice",
            segments: "instruction 60, practice 30",
            scans: "in 0, out 90",
            cecs: "1.5",
            ..BASE
        },
        Case {
            name: "90-minute open forum",
            segments: "open_forum 90",
            scans: "in 0, out 90",
            cecs: "0",
            flags: &["no_creditable_content"],
            ..BASE
        },
        Case {
            name: "45-minute webinar",
            segments: "instruction 45",
            scans: "in 0, out 45",
            online: true,
            cecs: "0.75",
            ..BASE
        },
    ];
    for case in &seed {
        run(case);
    }
}

/// The further rules, one or more cases each.
#[test]
fn the_rule_table() {
    let cases = [
        // Rule 3: presence still open closes at the session's end.
        Case { name: "no checkout closes at the end", scans: "in 0", cecs: "1.25", flags: &["no_checkout"], ..BASE },
        Case {
            name: "late arrival without checkout",
            scans: "in 20",
            cecs: "0.75",
            flags: &["no_checkout", "partial_attendance"],
            ..BASE
        },
        // Quarter-hour steps and the minimum.
        Case {
            name: "55 minutes earn 0.75",
            scans: "in 0, out 55",
            cecs: "0.75",
            flags: &["partial_attendance"],
            ..BASE
        },
        Case {
            name: "14 minutes earn nothing",
            scans: "in 0, out 14",
            cecs: "0",
            flags: &["partial_attendance", "below_minimum"],
            ..BASE
        },
        Case {
            name: "one second short of 15 minutes earns nothing",
            scans: "in 0, out 14:59",
            cecs: "0",
            flags: &["partial_attendance", "below_minimum"],
            ..BASE
        },
        Case {
            name: "15 minutes earn the minimum",
            scans: "in 0, out 15",
            cecs: "0.25",
            flags: &["partial_attendance"],
            ..BASE
        },
        Case {
            name: "29 minutes earn 0.25",
            scans: "in 0, out 29",
            cecs: "0.25",
            flags: &["partial_attendance"],
            ..BASE
        },
        Case {
            name: "30 minutes earn 0.5",
            scans: "in 0, out 30",
            cecs: "0.5",
            flags: &["partial_attendance"],
            ..BASE
        },
        // Rule 4: clipping to the session.
        Case {
            name: "early and late scans are clipped",
            scans: "in -10, out 85",
            cecs: "1.25",
            flags: &["outside_session"],
            ..BASE
        },
        Case {
            name: "a scan after the end earns nothing",
            scans: "in 80",
            cecs: "0",
            flags: &["outside_session", "partial_attendance"],
            ..BASE
        },
        Case {
            name: "a visit before the start earns nothing",
            scans: "in -30, out -5",
            cecs: "0",
            flags: &["outside_session", "partial_attendance"],
            ..BASE
        },
        // Rule 5: grace.
        Case {
            name: "in within grace counts from the start",
            scans: "in 5, out 75",
            grace: 5,
            cecs: "1.25",
            flags: &["grace_applied"],
            ..BASE
        },
        Case {
            name: "in past grace counts from the scan",
            scans: "in 6, out 75",
            grace: 5,
            cecs: "1",
            flags: &["partial_attendance"],
            ..BASE
        },
        Case {
            name: "out within grace counts to the end",
            scans: "in 0, out 70",
            grace: 5,
            cecs: "1.25",
            flags: &["grace_applied"],
            ..BASE
        },
        Case {
            name: "out before grace counts from the scan",
            scans: "in 0, out 69",
            grace: 5,
            cecs: "1",
            flags: &["partial_attendance"],
            ..BASE
        },
        Case {
            name: "grace never bridges a gap: a short step out near the start",
            segments: "instruction 60",
            scans: "in 0, out 9, in 10, out 50, in 51",
            grace: 10,
            cecs: "0.75",
            flags: &["no_checkout", "partial_attendance"],
            ..BASE
        },
        Case {
            name: "grace never bridges a gap under full attendance",
            segments: "instruction 60",
            scans: "in 0, out 9, in 10, out 30, in 38, out 51",
            grace: 10,
            full: true,
            cecs: "0",
            flags: &["grace_applied", "partial_attendance", "full_attendance_required"],
            ..BASE
        },
        Case {
            name: "no grace without a policy",
            scans: "in 1, out 75",
            cecs: "1",
            flags: &["partial_attendance"],
            ..BASE
        },
        // Rule 2: duplicates and strays.
        Case {
            name: "a duplicate in changes nothing",
            scans: "in 0, in 10, out 75",
            cecs: "1.25",
            flags: &["duplicate_checkin"],
            ..BASE
        },
        Case {
            name: "a stray out is ignored",
            scans: "out -5, in 0, out 75",
            cecs: "1.25",
            flags: &["stray_checkout"],
            ..BASE
        },
        Case {
            name: "only an out earns nothing",
            scans: "out 30",
            cecs: "0",
            flags: &["stray_checkout", "partial_attendance"],
            ..BASE
        },
        Case {
            name: "a second out after leaving is a stray",
            scans: "in 0, out 30, out 75",
            cecs: "0.5",
            flags: &["stray_checkout", "partial_attendance"],
            ..BASE
        },
        Case {
            name: "leave and come back adds both stays",
            scans: "in 0, out 20, in 40, out 75",
            cecs: "0.75",
            flags: &["partial_attendance"],
            ..BASE
        },
        // Rule 1: ordering ties, `in` before `out`.
        // (Were `out` first, it would be a stray and the `in` would run to the end: 0.75.)
        Case {
            name: "in and out at the same instant: in first, nothing attended",
            scans: "out 30, in 30",
            cecs: "0",
            flags: &["partial_attendance"],
            ..BASE
        },
        Case {
            name: "scans given out of order are replayed in time order",
            scans: "out 75, in 0",
            cecs: "1.25",
            ..BASE
        },
        // Rule 6: only creditable segments count.
        Case {
            name: "keynote part of a lunch",
            segments: "meal 30, keynote 30, meal 30",
            scans: "in 35, out 90",
            cecs: "0.25",
            flags: &["partial_attendance"],
            ..BASE
        },
        Case {
            name: "lunch without the keynote",
            segments: "meal 30, keynote 30, meal 30",
            scans: "in 0, out 30",
            cecs: "0",
            flags: &["partial_attendance"],
            ..BASE
        },
        Case {
            name: "workshop instruction only",
            segments: "instruction 60, practice 30",
            scans: "in 0, out 60",
            cecs: "1",
            flags: &["partial_attendance"],
            ..BASE
        },
        Case {
            name: "panel and demonstration are creditable",
            segments: "panel 60, demonstration 30",
            scans: "in 0, out 90",
            cecs: "1.5",
            ..BASE
        },
        Case {
            name: "a break inside a session is not",
            segments: "instruction 45, break 15, instruction 45",
            scans: "in 0, out 105",
            cecs: "1.5",
            ..BASE
        },
        Case {
            name: "networking, exhibits and business earn nothing",
            segments: "networking 30, exhibit 30, business 30",
            scans: "in 0, out 90",
            cecs: "0",
            flags: &["no_creditable_content"],
            ..BASE
        },
        // Rule 7: full attendance required.
        Case {
            name: "full attendance: one minute short earns nothing",
            scans: "in 0, out 74",
            full: true,
            cecs: "0",
            flags: &["partial_attendance", "full_attendance_required"],
            ..BASE
        },
        Case { name: "full attendance given", scans: "in 0, out 75", full: true, cecs: "1.25", ..BASE },
        Case {
            name: "full attendance with grace",
            scans: "in 3, out 72",
            full: true,
            grace: 5,
            cecs: "1.25",
            flags: &["grace_applied"],
            ..BASE
        },
        Case {
            name: "full attendance ignores missed meals",
            segments: "meal 30, keynote 30, meal 30",
            scans: "in 30, out 60",
            full: true,
            cecs: "0.5",
            ..BASE
        },
        // Rule 8: online sessions take the same rules.
        Case {
            name: "webinar join late",
            segments: "instruction 45",
            scans: "in 10, out 45",
            online: true,
            cecs: "0.5",
            flags: &["partial_attendance"],
            ..BASE
        },
        // Verified vs. not endorsed.
        Case { name: "no endorsement", endorsement: "none", cecs: "1.25", flags: &["not_endorsed"], ..BASE },
        Case {
            name: "expired endorsement",
            endorsement: "expired",
            cecs: "1.25",
            flags: &["endorsement_expired"],
            ..BASE
        },
        // Rosters go stale.
        Case { name: "a member not on the roster", on_roster: false, cecs: "1.25", flags: &["unknown_member"], ..BASE },
        // Other rule sets.
        Case { name: "full hours: 75 minutes earn 1", rule: "full_hours", cecs: "1", ..BASE },
        Case {
            name: "full hours: 55 minutes earn nothing",
            rule: "full_hours",
            scans: "in 0, out 55",
            cecs: "0",
            flags: &["partial_attendance", "below_minimum"],
            ..BASE
        },
        Case {
            name: "IACET: 2 hours are 0.2 CEU",
            rule: "iacet_ceu",
            segments: "instruction 120",
            scans: "in 0, out 120",
            cecs: "0.2",
            ..BASE
        },
        Case { name: "IACET: 75 minutes are 0.1 CEU", rule: "iacet_ceu", cecs: "0.1", ..BASE },
    ];
    assert!(cases.len() >= 30);
    for case in &cases {
        run(case);
    }
}

/// Rounding happens per session, per member, never on a sum.
#[test]
fn rounding_is_per_session() {
    let start: Timestamp = START.parse().expect("start");
    let mut sessions = BTreeMap::new();
    let mut checkins = Vec::new();
    for i in 0..3i64 {
        let id = format!("S{i}");
        let starts_at = start + SignedDuration::from_hours(i);
        sessions.insert(
            id.clone(),
            Session {
                id: id.clone(),
                title: id.clone(),
                category: "general".into(),
                format: SessionFormat::InPerson,
                starts_at,
                segments: segments("instruction 20"),
            },
        );
        for (n, (dir, at)) in [(Direction::In, starts_at), (Direction::Out, starts_at + SignedDuration::from_mins(20))]
            .into_iter()
            .enumerate()
        {
            checkins.push(CheckIn {
                id: format!("{id}-{n}"),
                event_id: "E1".into(),
                session_id: id.clone(),
                member_id: "M1".into(),
                direction: dir,
                at,
                method: Method::Badge,
                kiosk_id: "k".into(),
                recorded_at: at,
            });
        }
    }
    let mut ev = event(&BASE);
    ev.sessions = sessions;
    let results = cec_core::attend_all(&ev, &checkins, &CreditRule::aca());
    assert_eq!(results.len(), 3);
    let sum: Decimal = results.iter().map(|a| a.credit.credit).sum();
    assert_eq!(sum, "0.75".parse::<Decimal>().expect("dec"));
}

/// Another member's scans never count toward this member.
#[test]
fn scans_are_per_member() {
    let case = BASE;
    let ev = event(&case);
    let mut checkins = scans("in 0, out 75", "M1", false);
    let mut other = scans("in 0, out 15", "M2", false);
    for c in &mut other {
        c.id.push_str("-m2");
    }
    checkins.extend(other);
    let a = attend(&ev, &ev.sessions["S1"], "M2", &checkins, &CreditRule::aca());
    assert_eq!(a.credit.credit, "0.25".parse::<Decimal>().expect("dec"));
    let b = attend(&ev, &ev.sessions["S1"], "M1", &checkins, &CreditRule::aca());
    assert_eq!(b.credit.credit, "1.25".parse::<Decimal>().expect("dec"));
}

/// The kiosk's sentence for 0.75.
#[test]
fn a_reduced_credit_explains_itself() {
    let case = Case { scans: "in 0, out 55", ..BASE };
    let ev = event(&case);
    let a = attend(&ev, &ev.sessions["S1"], "M1", &scans(case.scans, "M1", false), &CreditRule::aca());
    assert_eq!(
        a.reason().as_deref(),
        Some("attended 55 of 75 creditable minutes; credit is granted in 15-minute steps")
    );
    let case = Case { scans: "in 0", endorsement: "none", ..BASE };
    let ev = event(&case);
    let a = attend(&ev, &ev.sessions["S1"], "M1", &scans(case.scans, "M1", false), &CreditRule::aca());
    let reason = a.reason().expect("reason");
    assert!(reason.contains("no check-out"), "{reason}");
    assert!(reason.contains("no endorsement"), "{reason}");
}

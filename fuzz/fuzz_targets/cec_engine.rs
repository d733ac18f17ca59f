//! The CEC engine against a small reference model of `docs/cec-rules.md`, written apart from
//! it and as plainly as possible: one second at a time over the session, no interval
//! arithmetic. Whatever session, policy and check-ins the bytes make, both give the same CECs.
//!
//! Input: byte 0 segments (1–4), then two bytes per segment (kind, minutes 0–120); one byte of
//! policy (grace 0–15 minutes, full attendance required); then four bytes per check-in
//! (direction, member A or B, seconds from the start as a signed 16-bit number: up to about
//! nine hours either side).
#![no_main]

use cec_core::attendance::credit_session;
use cec_core::event::{Segment, SegmentKind, Session, SessionFormat};
use cec_core::rules::CreditRule;
use cec_core::{CheckIn, Direction, Method};
use jiff::{SignedDuration, Timestamp};
use libfuzzer_sys::fuzz_target;
use rust_decimal::Decimal;

/// The creditable kinds, as `cec-rules.md`'s table lists them (not the engine's own list).
fn creditable(kind: SegmentKind) -> bool {
    matches!(
        kind,
        SegmentKind::Instruction
            | SegmentKind::Keynote
            | SegmentKind::Practice
            | SegmentKind::Panel
            | SegmentKind::Demonstration
    )
}

struct Scan {
    id: String,
    member: &'static str,
    direction: Direction,
    /// Seconds from the session's start.
    at: i64,
}

/// The reference: rules 1–7 for member A, one second at a time.
fn reference(segments: &[(SegmentKind, u32)], grace_minutes: i64, full_required: bool, scans: &[Scan]) -> Decimal {
    let end: i64 = segments.iter().map(|(_, m)| i64::from(*m) * 60).sum();
    // Rule 1: A's scans in time order, `in` before `out` at one instant, then by id.
    let mut mine: Vec<&Scan> = scans.iter().filter(|s| s.member == "A").collect();
    mine.sort_by_key(|s| (s.at, s.direction != Direction::In, s.id.clone()));
    // Rules 2 and 3: presence opens at an `in` when none is open and closes at an `out`;
    // presence still open closes at the session's end.
    let mut spans: Vec<(i64, i64)> = Vec::new();
    let mut open: Option<i64> = None;
    for s in mine {
        match (s.direction, open) {
            (Direction::In, None) => open = Some(s.at),
            (Direction::Out, Some(from)) => {
                spans.push((from, s.at));
                open = None;
            }
            _ => {}
        }
    }
    if let Some(from) = open {
        spans.push((from, end.max(from)));
    }
    // Rule 4: clipped to the session; a scan in and out at one instant attends nothing.
    let mut present = vec![false; usize::try_from(end).unwrap_or(0)];
    let mut first: Option<i64> = None;
    let mut last: Option<i64> = None;
    for (a, b) in spans {
        let (a, b) = (a.max(0), b.min(end));
        if a >= b {
            continue;
        }
        first = Some(first.map_or(a, |f| f.min(a)));
        last = Some(last.map_or(b, |l| l.max(b)));
        for t in a..b {
            present[t as usize] = true;
        }
    }
    // Rule 5: the first arrival within the grace after the start counts from the start; the
    // last departure within the grace before the end counts to the end.
    let grace = grace_minutes * 60;
    if let Some(f) = first
        && grace > 0
        && f > 0
        && f <= grace
    {
        for t in 0..f {
            present[t as usize] = true;
        }
    }
    if let Some(l) = last
        && grace > 0
        && l < end
        && l >= end - grace
    {
        for t in l..end {
            present[t as usize] = true;
        }
    }
    // Rule 6: seconds present during creditable segments.
    let mut creditable_seconds = 0i64;
    let mut session_creditable = 0i64;
    let mut t = 0i64;
    for (kind, m) in segments {
        for _ in 0..(i64::from(*m) * 60) {
            if creditable(*kind) {
                session_creditable += 1;
                if present[t as usize] {
                    creditable_seconds += 1;
                }
            }
            t += 1;
        }
    }
    // Rule 7: full attendance required.
    if full_required && creditable_seconds < session_creditable {
        return Decimal::ZERO;
    }
    // Units: floor(seconds / 900) quarter hours.
    Decimal::new(creditable_seconds / 900 * 25, 2)
}

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else { return };
    let n = usize::from(n % 4) + 1;
    if rest.len() < n * 2 + 1 {
        return;
    }
    let (seg_bytes, rest) = rest.split_at(n * 2);
    let segments: Vec<(SegmentKind, u32)> = seg_bytes
        .chunks(2)
        .map(|c| (SegmentKind::ALL[usize::from(c[0]) % SegmentKind::ALL.len()], u32::from(c[1]) % 121))
        .collect();
    let (policy, rest) = rest.split_at(1);
    let grace = u32::from(policy[0] >> 1) % 16;
    let full_required = policy[0] & 1 == 1;
    let start: Timestamp = "2027-03-01T09:00:00Z".parse().expect("an instant");
    let scans: Vec<Scan> = rest
        .chunks_exact(4)
        .enumerate()
        .map(|(i, c)| Scan {
            id: format!("c{i:03}"),
            member: if c[0] & 2 == 0 { "A" } else { "B" },
            direction: if c[0] & 1 == 0 { Direction::In } else { Direction::Out },
            at: i64::from(i16::from_le_bytes([c[1], c[2]])) + i64::from(c[3] % 2),
        })
        .collect();

    let session = Session {
        id: "S1".into(),
        title: "S".into(),
        category: "general".into(),
        format: SessionFormat::InPerson,
        starts_at: start,
        segments: segments.iter().map(|(k, m)| Segment::new(*k, *m)).collect(),
    };
    let checkins: Vec<CheckIn> = scans
        .iter()
        .map(|s| CheckIn {
            id: s.id.clone(),
            event_id: "E1".into(),
            session_id: "S1".into(),
            member_id: s.member.into(),
            direction: s.direction,
            at: start + SignedDuration::from_secs(s.at),
            method: Method::Badge,
            kiosk_id: "k".into(),
            recorded_at: start,
        })
        .collect();
    let rule = CreditRule { grace_minutes: grace, all_or_nothing: full_required, ..CreditRule::aca() };
    let engine = credit_session(&session, "A", &checkins, &rule).credit;
    let model = reference(&segments, i64::from(grace), full_required, &scans);
    assert_eq!(
        engine.normalize(),
        model.normalize(),
        "segments {segments:?}, grace {grace}, full {full_required}, scans {:?}",
        scans.iter().map(|s| (s.member, s.direction, s.at)).collect::<Vec<_>>()
    );
});

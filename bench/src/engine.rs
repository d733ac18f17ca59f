//! `cec-bench engine`: the CEC engine of `cec-core` on a large event, without storage or HTTP.
//!
//! One event with S sessions (the source's six layouts in turn: a 75-minute session, a 2-hour
//! one, a lunch with a keynote, a workshop, an open forum, a webinar), a roster of M members,
//! and for each member a few sessions with an `in` and an `out` (some early, late, doubled or
//! missing), from a fixed seed. Timed: `attend_all` over the whole event (what the central
//! node's derivation runs), the best of R runs, as member-sessions credited per second.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::ensure;
use cec_core::event::{Endorsement, Policy, Provider, RosterMember, Segment, SegmentKind, Session, SessionFormat};
use cec_core::{CheckIn, CreditRule, Direction, Event, Method, attend_all};
use jiff::{SignedDuration, Timestamp};

/// Options of `cec-bench engine`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Sessions in the event
    #[arg(long, default_value_t = 60)]
    pub(crate) sessions: usize,
    /// Members on the roster
    #[arg(long, default_value_t = 5_000)]
    pub(crate) members: usize,
    /// Sessions each member attends
    #[arg(long, default_value_t = 6)]
    pub(crate) per_member: usize,
    /// Timed runs (the best one is reported)
    #[arg(long, default_value_t = 5)]
    pub(crate) runs: usize,
}

/// A small deterministic generator (xorshift), so every run credits the same event.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

fn layout(i: usize) -> (Vec<Segment>, SessionFormat) {
    use SegmentKind::{Instruction, Keynote, Meal, OpenForum, Practice};
    let seg = Segment::new;
    match i % 6 {
        0 => (vec![seg(Instruction, 75)], SessionFormat::InPerson),
        1 => (vec![seg(Instruction, 120)], SessionFormat::InPerson),
        2 => (vec![seg(Meal, 30), seg(Keynote, 30), seg(Meal, 30)], SessionFormat::InPerson),
        3 => (vec![seg(Instruction, 60), seg(Practice, 30)], SessionFormat::InPerson),
        4 => (vec![seg(OpenForum, 90)], SessionFormat::InPerson),
        _ => (vec![seg(Instruction, 45)], SessionFormat::OnlineLive),
    }
}

/// The event and its check-ins.
fn build(args: &Args) -> anyhow::Result<(Event, Vec<CheckIn>)> {
    let day: Timestamp = "2026-04-16T13:00:00Z".parse()?;
    let mut sessions = BTreeMap::new();
    for s in 0..args.sessions {
        let (segments, format) = layout(s);
        let starts_at = day + SignedDuration::from_mins(i64::try_from(s % 8)? * 150);
        let id = format!("s{s:03}");
        let session =
            Session { id: id.clone(), title: id.clone(), category: "general".into(), format, starts_at, segments };
        sessions.insert(id, session);
    }
    let roster = (0..args.members)
        .map(|m| {
            let id = format!("M{m:06}");
            (id.clone(), RosterMember { member_id: id, name: format!("Member {m}"), email: None })
        })
        .collect();
    let endorsement = Endorsement {
        number: "ACA-1".into(),
        valid_from: jiff::civil::date(2026, 1, 1),
        valid_until: jiff::civil::date(2026, 12, 31),
    };
    let event = Event {
        id: "E".into(),
        title: "Large conference".into(),
        provider: Provider { id: "P".into(), name: "P".into(), endorsement: Some(endorsement) },
        venue: None,
        timezone: "America/Chicago".into(),
        policy: Policy { grace_minutes: 5, full_attendance_required: false },
        sessions,
        roster,
    };
    let ids: Vec<&Session> = event.sessions.values().collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut checkins = Vec::new();
    let mut n = 0usize;
    let mut push = |member: &str, s: &Session, direction, at: Timestamp| {
        n += 1;
        checkins.push(CheckIn {
            id: format!("c{n:08}"),
            event_id: "E".into(),
            session_id: s.id.clone(),
            member_id: member.to_owned(),
            direction,
            at,
            method: Method::Badge,
            kiosk_id: "k1".into(),
            recorded_at: at,
        });
    };
    for m in 0..args.members {
        let member = format!("M{m:06}");
        for _ in 0..args.per_member {
            let s = ids[usize::try_from(rng.below(ids.len() as u64))?];
            let span = s.span();
            let late = SignedDuration::from_secs(i64::try_from(rng.below(1200))? - 300);
            push(&member, s, Direction::In, span.start + late);
            match rng.below(10) {
                0 => {} // no checkout
                1 => {
                    push(&member, s, Direction::In, span.start + late + SignedDuration::from_secs(5));
                    push(&member, s, Direction::Out, span.end);
                }
                _ => {
                    let early = SignedDuration::from_secs(i64::try_from(rng.below(1800))? - 300);
                    push(&member, s, Direction::Out, span.end - early);
                }
            }
        }
    }
    Ok((event, checkins))
}

/// Runs the benchmark and prints its report.
pub(crate) fn main(args: &Args) -> anyhow::Result<()> {
    ensure!(args.sessions > 0 && args.members > 0 && args.runs > 0, "sessions, members and runs must be positive");
    let (event, checkins) = build(args)?;
    let rule = CreditRule::aca();
    let mut best = Duration::MAX;
    let mut credited = 0;
    let mut total = rust_decimal::Decimal::ZERO;
    for _ in 0..args.runs {
        let started = Instant::now();
        let out = attend_all(&event, &checkins, &rule);
        best = best.min(started.elapsed());
        credited = out.len();
        total = out.iter().map(|a| a.credit.credit).sum();
    }
    let per_sec = credited as f64 / best.as_secs_f64();
    println!("## cec-bench engine, {}", Timestamp::now().strftime("%Y-%m-%d %H:%M UTC"));
    println!();
    println!(
        "- event: {} sessions (the source's six layouts), {} members, {} check-ins",
        args.sessions,
        args.members,
        checkins.len()
    );
    println!("- `attend_all` (the central node's derivation): best of {} runs", args.runs);
    println!();
    println!("| member-sessions credited | best run | member-sessions/s | µs each | total CECs |");
    println!("|---:|---:|---:|---:|---:|");
    println!(
        "| {credited} | {:.1} ms | {per_sec:.0} | {:.2} | {total} |",
        best.as_secs_f64() * 1e3,
        best.as_secs_f64() * 1e6 / credited.max(1) as f64
    );
    Ok(())
}

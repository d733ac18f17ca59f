//! From check-ins to creditable time and credit, with the reasons (`cec-rules.md`).
//!
//! [`credit_session`] is the rule book for one member and one session; [`attend`] adds what the
//! event knows (endorsement on the session's date, the roster). Every result carries
//! machine-readable [`Flag`]s and can explain itself in a sentence, so a kiosk can tell an
//! attendee why they got 0.75.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use jiff::{SignedDuration, Timestamp};
use rust_decimal::Decimal;

use crate::checkin::{CheckIn, Direction};
use crate::event::{EndorsementStatus, Event, Session, Span, minutes};
use crate::rules::CreditRule;

/// Something about an attendance record worth telling the member or staff.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Flag {
    /// Presence was still open at the session's end and closed there.
    NoCheckout,
    /// An `out` with nothing open was ignored.
    StrayCheckout,
    /// A second `in` while already present was ignored.
    DuplicateCheckin,
    /// Some presence fell outside the session and was clipped.
    OutsideSession,
    /// A door grace moved an `in` to the start or an `out` to the end.
    GraceApplied,
    /// Less than the session's creditable time was attended.
    PartialAttendance,
    /// Some creditable time, but less than the rule's minimum award.
    BelowMinimum,
    /// Full attendance is required and was not given: no credit.
    FullAttendanceRequired,
    /// The session has no creditable segments (an open forum, say).
    NoCreditableContent,
    /// The provider holds no endorsement: no verified credit.
    NotEndorsed,
    /// The provider's endorsement was not valid on the session's date.
    EndorsementExpired,
    /// The member is not on the event's roster (accepted anyway; rosters go stale).
    UnknownMember,
}

impl Flag {
    /// Every flag.
    pub const ALL: [Flag; 12] = [
        Self::NoCheckout,
        Self::StrayCheckout,
        Self::DuplicateCheckin,
        Self::OutsideSession,
        Self::GraceApplied,
        Self::PartialAttendance,
        Self::BelowMinimum,
        Self::FullAttendanceRequired,
        Self::NoCreditableContent,
        Self::NotEndorsed,
        Self::EndorsementExpired,
        Self::UnknownMember,
    ];

    /// The stable snake_case name clients match on.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoCheckout => "no_checkout",
            Self::StrayCheckout => "stray_checkout",
            Self::DuplicateCheckin => "duplicate_checkin",
            Self::OutsideSession => "outside_session",
            Self::GraceApplied => "grace_applied",
            Self::PartialAttendance => "partial_attendance",
            Self::BelowMinimum => "below_minimum",
            Self::FullAttendanceRequired => "full_attendance_required",
            Self::NoCreditableContent => "no_creditable_content",
            Self::NotEndorsed => "not_endorsed",
            Self::EndorsementExpired => "endorsement_expired",
            Self::UnknownMember => "unknown_member",
        }
    }
}

impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A member's presence in one session, replayed from their check-ins.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Presence {
    /// Spans present, clipped to the session, in order, not overlapping.
    pub spans: Vec<Span>,
    /// What happened on the way.
    pub flags: BTreeSet<Flag>,
}

/// Replays one member's check-ins for `session` (rules 1–5 of `cec-rules.md`).
///
/// `checkins` may be in any order and may hold other members' or sessions' scans; only those
/// of `member_id` for this session count.
pub fn presence(session: &Session, member_id: &str, checkins: &[CheckIn], grace_minutes: u32) -> Presence {
    let span = session.span();
    let grace = minutes(grace_minutes);
    let mut mine: Vec<&CheckIn> =
        checkins.iter().filter(|c| c.member_id == member_id && c.session_id == session.id).collect();
    mine.sort_by(|a, b| a.replay_key().cmp(&b.replay_key()));

    let mut out = Presence::default();
    let mut open: Option<Timestamp> = None;
    let mut raw: Vec<Span> = Vec::new();
    for c in mine {
        match (c.direction, open) {
            (Direction::In, None) => open = Some(c.at),
            (Direction::In, Some(_)) => {
                out.flags.insert(Flag::DuplicateCheckin);
            }
            (Direction::Out, Some(from)) => {
                raw.push(Span { start: from, end: c.at });
                open = None;
            }
            (Direction::Out, None) => {
                out.flags.insert(Flag::StrayCheckout);
            }
        }
    }
    if let Some(from) = open {
        if from < span.end {
            out.flags.insert(Flag::NoCheckout);
        }
        raw.push(Span { start: from, end: span.end.max(from) });
    }
    for r in raw {
        if r.end <= r.start && r.start >= span.start && r.start <= span.end {
            continue; // in and out at one instant inside the session: nothing attended
        }
        match r.intersect(&span) {
            Some(clipped) => {
                if clipped != r {
                    out.flags.insert(Flag::OutsideSession);
                }
                out.spans.push(clipped);
            }
            None => {
                out.flags.insert(Flag::OutsideSession);
            }
        }
    }
    // Rule 5 applies to presence as a whole: the first arrival within the grace after the
    // start counts from the start, the last departure within the grace before the end counts
    // to the end. Gaps in between are never bridged.
    if grace_minutes > 0 {
        if let Some(first) = out.spans.first_mut()
            && first.start > span.start
            && first.start <= span.start + grace
        {
            first.start = span.start;
            out.flags.insert(Flag::GraceApplied);
        }
        if let Some(last) = out.spans.last_mut()
            && last.end < span.end
            && last.end >= span.end - grace
        {
            last.end = span.end;
            out.flags.insert(Flag::GraceApplied);
        }
    }
    out.spans = union(std::mem::take(&mut out.spans));
    out
}

/// Sorts spans and merges the ones that overlap or touch, so no time is counted twice.
fn union(mut spans: Vec<Span>) -> Vec<Span> {
    spans.sort();
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    for s in spans {
        match out.last_mut() {
            Some(last) if s.start <= last.end => last.end = last.end.max(s.end),
            _ => out.push(s),
        }
    }
    out
}

/// Measure of the overlap between two sorted lists of disjoint spans.
fn overlap(a: &[Span], b: &[Span]) -> SignedDuration {
    let mut total = SignedDuration::ZERO;
    for x in a {
        for y in b {
            if let Some(i) = x.intersect(y) {
                total += i.duration();
            }
        }
    }
    total
}

/// An exact duration as decimal seconds.
pub fn decimal_seconds(d: SignedDuration) -> Decimal {
    Decimal::from_i128_with_scale(d.as_nanos(), 9).normalize()
}

/// Whole minutes of a duration, rounded down.
pub fn whole_minutes(d: SignedDuration) -> u64 {
    u64::try_from(d.as_secs() / 60).unwrap_or(0)
}

/// Credit for one member in one session under one rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionCredit {
    /// The replayed presence.
    pub presence: Presence,
    /// Time present within the session.
    pub attended: SignedDuration,
    /// Time present during creditable segments.
    pub creditable: SignedDuration,
    /// The session's creditable time.
    pub session_creditable: SignedDuration,
    /// Credit earned, in the rule's unit; a multiple of the rule's increment.
    pub credit: Decimal,
    /// The most this session can earn under the rule.
    pub max_credit: Decimal,
    /// Reasons and anomalies.
    pub flags: BTreeSet<Flag>,
}

/// Applies rules 1–7 of `cec-rules.md` for one member and one session.
pub fn credit_session(session: &Session, member_id: &str, checkins: &[CheckIn], rule: &CreditRule) -> SessionCredit {
    let presence = presence(session, member_id, checkins, rule.grace_minutes);
    let attended = presence.spans.iter().map(Span::duration).sum();
    let creditable_spans = session.creditable_spans();
    let creditable = overlap(&presence.spans, &creditable_spans);
    let session_creditable: SignedDuration = creditable_spans.iter().map(Span::duration).sum();
    let max_credit = rule.credit_for_seconds(decimal_seconds(session_creditable));
    let mut flags = presence.flags.clone();
    let mut credit = rule.credit_for_seconds(decimal_seconds(creditable));

    if session_creditable.is_zero() {
        flags.insert(Flag::NoCreditableContent);
    } else if creditable < session_creditable {
        flags.insert(Flag::PartialAttendance);
        if rule.all_or_nothing {
            flags.insert(Flag::FullAttendanceRequired);
            credit = Decimal::ZERO;
        }
    }
    if creditable.is_positive() && credit.is_zero() && !flags.contains(&Flag::FullAttendanceRequired) {
        flags.insert(Flag::BelowMinimum);
    }
    SessionCredit { presence, attended, creditable, session_creditable, credit, max_credit, flags }
}

/// Whether credit from a session is verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verification {
    /// The provider's endorsement was valid on the session's date.
    Verified {
        /// The endorsement number.
        endorsement_number: String,
    },
    /// No valid endorsement: the attendance is kept and shown, but earns no verified credit.
    Unverified,
}

/// A member's attendance at one session of an event, as a kiosk or the central node sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attendance {
    /// The event.
    pub event_id: String,
    /// The session.
    pub session_id: String,
    /// The member.
    pub member_id: String,
    /// Credit under the event's door rule.
    pub credit: SessionCredit,
    /// Verified or not.
    pub verification: Verification,
    /// The rule's step, for explanations.
    step_seconds: Option<u64>,
    /// The rule's minimum, for explanations.
    minimum: Decimal,
    /// Contact minutes the minimum award needs, for explanations.
    minimum_minutes: Decimal,
}

impl Attendance {
    /// Whether the credit is verified.
    pub fn is_verified(&self) -> bool {
        matches!(self.verification, Verification::Verified { .. })
    }

    /// Flags, sorted.
    pub fn flags(&self) -> impl Iterator<Item = Flag> + '_ {
        self.credit.flags.iter().copied()
    }

    /// Why the credit is less than the session's most, in one sentence; `None` when the member
    /// earned the most the session offers and it is verified.
    pub fn reason(&self) -> Option<String> {
        explain(&self.credit, self.step_seconds, (self.minimum, self.minimum_minutes), &self.verification)
    }
}

fn explain(
    c: &SessionCredit,
    step_seconds: Option<u64>,
    (minimum, minimum_minutes): (Decimal, Decimal),
    v: &Verification,
) -> Option<String> {
    let f = &c.flags;
    let mut parts: Vec<String> = Vec::new();
    let attended = whole_minutes(c.creditable);
    let offered = whole_minutes(c.session_creditable);
    if f.contains(&Flag::NoCreditableContent) {
        parts.push("this session has no creditable learning time".into());
    } else if f.contains(&Flag::FullAttendanceRequired) {
        parts.push(format!("full attendance is required and {attended} of {offered} creditable minutes were attended"));
    } else if f.contains(&Flag::BelowMinimum) {
        parts.push(format!(
            "{attended} creditable minutes is less than the {} minutes needed for the minimum award of {minimum}",
            minimum_minutes.normalize()
        ));
    } else if c.credit < c.max_credit {
        let mut s = format!("attended {attended} of {offered} creditable minutes");
        if let Some(step) = step_seconds.filter(|s| *s > 0)
            && c.creditable.as_secs() % i64::try_from(step).unwrap_or(i64::MAX) != 0
        {
            s.push_str(&format!("; credit is granted in {}-minute steps", step / 60));
        }
        parts.push(s);
    }
    if f.contains(&Flag::NoCheckout) {
        parts.push("no check-out was recorded, so presence was counted to the session's end".into());
    }
    if f.contains(&Flag::OutsideSession) {
        parts.push("scans outside the session's time were not counted".into());
    }
    if f.contains(&Flag::StrayCheckout) {
        parts.push("a check-out without a check-in was ignored".into());
    }
    if f.contains(&Flag::NotEndorsed) {
        parts.push("the provider holds no endorsement, so the credit is not verified".into());
    } else if f.contains(&Flag::EndorsementExpired) {
        parts.push(
            "the provider's endorsement was not valid on the session's date, so the credit is not verified".into(),
        );
    } else if !matches!(v, Verification::Verified { .. }) {
        parts.push("the credit is not verified".into());
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// A member's attendance at `session` of `event`, credited by `rule` under the event's policy.
pub fn attend(
    event: &Event,
    session: &Session,
    member_id: &str,
    checkins: &[CheckIn],
    rule: &CreditRule,
) -> Attendance {
    let rule = event.door_rule(rule.clone());
    let mut credit = credit_session(session, member_id, checkins, &rule);
    let verification = match event.provider.endorsement_on(event.session_date(session)) {
        EndorsementStatus::Valid { number } => Verification::Verified { endorsement_number: number },
        EndorsementStatus::Expired { .. } => {
            credit.flags.insert(Flag::EndorsementExpired);
            Verification::Unverified
        }
        EndorsementStatus::None => {
            credit.flags.insert(Flag::NotEndorsed);
            Verification::Unverified
        }
    };
    if !event.roster.is_empty() && !event.roster.contains_key(member_id) {
        credit.flags.insert(Flag::UnknownMember);
    }
    Attendance {
        event_id: event.id.clone(),
        session_id: session.id.clone(),
        member_id: member_id.to_owned(),
        credit,
        verification,
        step_seconds: rule.step_seconds(),
        minimum: rule.minimum,
        minimum_minutes: rule.minimum * rule.minutes_per_unit,
    }
}

/// Every member's attendance at every session of `event` that `checkins` mention, ordered by
/// session then member.
pub fn attend_all(event: &Event, checkins: &[CheckIn], rule: &CreditRule) -> Vec<Attendance> {
    // Each member-session is credited from its own check-ins only: handing every one of the
    // event's check-ins to each member made a large event cost members × check-ins.
    let mut groups: BTreeMap<(&str, &str), Vec<CheckIn>> = BTreeMap::new();
    for c in checkins.iter().filter(|c| c.event_id == event.id) {
        groups.entry((&c.session_id, &c.member_id)).or_default().push(c.clone());
    }
    let mut out = Vec::with_capacity(groups.len());
    for ((session_id, member), mine) in &groups {
        let Some(session) = event.sessions.get(*session_id) else { continue };
        out.push(attend(event, session, member, mine, rule));
    }
    out
}

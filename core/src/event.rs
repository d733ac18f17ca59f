//! Events, their provider and endorsement, their door policy, sessions and segments.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use rust_decimal::Decimal;

use crate::rules::CreditRule;

/// What happens during a stretch of a session; only some kinds are creditable contact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum SegmentKind {
    /// A set learning experience.
    Instruction,
    /// A keynote (the seed's keynote during lunch).
    Keynote,
    /// Individual or guided practice that is part of a workshop.
    Practice,
    /// A structured presentation by several presenters.
    Panel,
    /// A demonstration.
    Demonstration,
    /// A meal.
    Meal,
    /// A break.
    Break,
    /// Open forum discussion: no set learning experience.
    OpenForum,
    /// Networking.
    Networking,
    /// Exhibit hall time.
    Exhibit,
    /// Business meetings.
    Business,
}

impl SegmentKind {
    /// Every kind, in the order of `cec-rules.md`.
    pub const ALL: [SegmentKind; 11] = [
        Self::Instruction,
        Self::Keynote,
        Self::Practice,
        Self::Panel,
        Self::Demonstration,
        Self::Meal,
        Self::Break,
        Self::OpenForum,
        Self::Networking,
        Self::Exhibit,
        Self::Business,
    ];

    /// Whether time in this kind of segment is creditable contact.
    pub fn is_creditable(self) -> bool {
        matches!(self, Self::Instruction | Self::Keynote | Self::Practice | Self::Panel | Self::Demonstration)
    }

    /// The stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Instruction => "instruction",
            Self::Keynote => "keynote",
            Self::Practice => "practice",
            Self::Panel => "panel",
            Self::Demonstration => "demonstration",
            Self::Meal => "meal",
            Self::Break => "break",
            Self::OpenForum => "open_forum",
            Self::Networking => "networking",
            Self::Exhibit => "exhibit",
            Self::Business => "business",
        }
    }
}

/// A name that is not one of a closed set of values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?}, expected one of: {expected}")]
pub struct UnknownName {
    /// What kind of name it was meant to be.
    pub what: &'static str,
    /// The name given.
    pub value: String,
    /// The accepted names, comma-separated.
    pub expected: String,
}

pub(crate) fn parse_name<T: Copy>(
    what: &'static str,
    value: &str,
    all: &[T],
    name: impl Fn(T) -> &'static str,
) -> Result<T, UnknownName> {
    all.iter().copied().find(|v| name(*v) == value).ok_or_else(|| UnknownName {
        what,
        value: value.to_owned(),
        expected: all.iter().map(|v| name(*v)).collect::<Vec<_>>().join(", "),
    })
}

impl FromStr for SegmentKind {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_name("segment kind", s, &Self::ALL, Self::as_str)
    }
}

impl fmt::Display for SegmentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a session is delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum SessionFormat {
    /// In a room; presence comes from door scans.
    #[default]
    InPerson,
    /// Live online; presence comes from the platform's join/leave log.
    OnlineLive,
}

impl SessionFormat {
    /// Every format.
    pub const ALL: [SessionFormat; 2] = [Self::InPerson, Self::OnlineLive];

    /// The stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InPerson => "in_person",
            Self::OnlineLive => "online_live",
        }
    }
}

impl FromStr for SessionFormat {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_name("session format", s, &Self::ALL, Self::as_str)
    }
}

/// A stretch of a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Segment {
    /// What happens.
    pub kind: SegmentKind,
    /// How long, in minutes.
    pub minutes: u32,
}

impl Segment {
    /// A segment of `kind` lasting `minutes`.
    pub fn new(kind: SegmentKind, minutes: u32) -> Self {
        Self { kind, minutes }
    }
}

/// The category credit counts toward when a session names none.
pub const DEFAULT_CATEGORY: &str = "general";

/// A credit category's one spelling: categories are ids (ASCII), compared without case, so
/// `Ethics` and `ethics` are one category. New categories are stored so; older ones, typed
/// with capitals, still read as they were and count together with the lowercase spelling.
pub fn category_key(category: &str) -> String {
    category.to_ascii_lowercase()
}

/// Whether two categories are the same one (see [`category_key`]).
pub fn same_category(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// One session of an event: consecutive segments from `starts_at`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Session {
    /// Session id, unique within the event.
    pub id: String,
    /// Title.
    pub title: String,
    /// The credit category (`general`, `ethics`, ...).
    pub category: String,
    /// In person or online.
    pub format: SessionFormat,
    /// When the first segment starts.
    pub starts_at: Timestamp,
    /// The segments, in order.
    pub segments: Vec<Segment>,
}

/// A half-open span of time `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    /// Inclusive start.
    pub start: Timestamp,
    /// Exclusive end.
    pub end: Timestamp,
}

impl Span {
    /// Length; zero when empty.
    pub fn duration(&self) -> SignedDuration {
        if self.end > self.start { self.end.duration_since(self.start) } else { SignedDuration::ZERO }
    }

    /// The overlap of two spans, if any.
    pub fn intersect(&self, other: &Span) -> Option<Span> {
        let start = self.start.max(other.start);
        let end = self.end.min(other.end);
        (end > start).then_some(Span { start, end })
    }
}

/// Why a session is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// A session needs at least one segment.
    #[error("a session needs at least one segment")]
    NoSegments,
    /// Segments must last at least a minute.
    #[error("segment {0} lasts 0 minutes")]
    EmptySegment(usize),
    /// Sessions longer than this are almost certainly data entry errors.
    #[error("a session may last at most {max} minutes, this one lasts {got}")]
    TooLong {
        /// The limit.
        max: u32,
        /// The session's length.
        got: u64,
    },
}

/// The longest session accepted: three days.
pub const MAX_SESSION_MINUTES: u32 = 3 * 24 * 60;

impl Session {
    /// Checks the segments.
    pub fn validate(&self) -> Result<(), SessionError> {
        if self.segments.is_empty() {
            return Err(SessionError::NoSegments);
        }
        if let Some(i) = self.segments.iter().position(|s| s.minutes == 0) {
            return Err(SessionError::EmptySegment(i));
        }
        let total: u64 = self.segments.iter().map(|s| u64::from(s.minutes)).sum();
        if total > u64::from(MAX_SESSION_MINUTES) {
            return Err(SessionError::TooLong { max: MAX_SESSION_MINUTES, got: total });
        }
        Ok(())
    }

    /// Total length in minutes.
    pub fn total_minutes(&self) -> u32 {
        self.segments.iter().map(|s| s.minutes).sum()
    }

    /// Creditable minutes: the sum of creditable segments.
    pub fn creditable_minutes(&self) -> u32 {
        self.segments.iter().filter(|s| s.kind.is_creditable()).map(|s| s.minutes).sum()
    }

    /// The session's span `[starts_at, starts_at + total minutes)`.
    pub fn span(&self) -> Span {
        Span { start: self.starts_at, end: self.starts_at + minutes(self.total_minutes()) }
    }

    /// The spans of the creditable segments, merged where adjacent.
    pub fn creditable_spans(&self) -> Vec<Span> {
        let mut spans: Vec<Span> = Vec::new();
        let mut at = self.starts_at;
        for seg in &self.segments {
            let end = at + minutes(seg.minutes);
            if seg.kind.is_creditable() {
                match spans.last_mut() {
                    Some(last) if last.end == at => last.end = end,
                    _ => spans.push(Span { start: at, end }),
                }
            }
            at = end;
        }
        spans
    }

    /// The most credit this session can earn under `rule`.
    pub fn max_credit(&self, rule: &CreditRule) -> Decimal {
        rule.credit_for_minutes(self.creditable_minutes())
    }

    /// The calendar date the session starts on, in the event's time zone.
    pub fn date_in(&self, tz: &TimeZone) -> Date {
        tz.to_datetime(self.starts_at).date()
    }
}

pub(crate) fn minutes(m: u32) -> SignedDuration {
    SignedDuration::from_mins(i64::from(m))
}

/// An endorsement of a provider by the association, valid over a range of dates.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Endorsement {
    /// The endorsement number printed on transcripts.
    pub number: String,
    /// First day it is valid.
    pub valid_from: Date,
    /// Last day it is valid (inclusive).
    pub valid_until: Date,
}

/// Whether an event's attendance is verified credit on a given date.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EndorsementStatus {
    /// Valid on that date.
    Valid {
        /// The endorsement number.
        number: String,
    },
    /// The provider has an endorsement, but not valid on that date.
    Expired {
        /// The endorsement number.
        number: String,
    },
    /// The provider holds no endorsement.
    None,
}

/// The provider of an event's education.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Provider {
    /// Provider id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Its endorsement, if it holds one.
    pub endorsement: Option<Endorsement>,
}

impl Provider {
    /// Whether attendance on `date` is verified credit.
    pub fn endorsement_on(&self, date: Date) -> EndorsementStatus {
        match &self.endorsement {
            None => EndorsementStatus::None,
            Some(e) if e.valid_from <= date && date <= e.valid_until => {
                EndorsementStatus::Valid { number: e.number.clone() }
            }
            Some(e) => EndorsementStatus::Expired { number: e.number.clone() },
        }
    }
}

/// An event's door policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Policy {
    /// Minutes of grace at the door (see `cec-rules.md`, rule 5).
    pub grace_minutes: u32,
    /// Whether anything short of full attendance earns nothing.
    pub full_attendance_required: bool,
}

/// A registered member on an event's roster.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RosterMember {
    /// Member id.
    pub member_id: String,
    /// Name shown at the door.
    pub name: String,
    /// Email, if known.
    pub email: Option<String>,
}

/// An event: its provider, policy, sessions and roster.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Event {
    /// Event id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Who provides the education.
    pub provider: Provider,
    /// Where it takes place.
    pub venue: Option<String>,
    /// IANA time zone name of the venue (dates of sessions are taken there).
    pub timezone: String,
    /// Door policy.
    pub policy: Policy,
    /// Sessions by id.
    pub sessions: BTreeMap<String, Session>,
    /// Registered members by id.
    pub roster: BTreeMap<String, RosterMember>,
}

/// Why an event is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// The time zone is not a known IANA name.
    #[error("unknown time zone {0:?}")]
    TimeZone(String),
    /// The endorsement ends before it starts.
    #[error("endorsement valid_until is before valid_from")]
    EndorsementRange,
}

impl Event {
    /// Checks the time zone and endorsement range.
    pub fn validate(&self) -> Result<(), EventError> {
        self.tz()?;
        if let Some(e) = &self.provider.endorsement
            && e.valid_until < e.valid_from
        {
            return Err(EventError::EndorsementRange);
        }
        Ok(())
    }

    /// The event's time zone.
    pub fn tz(&self) -> Result<TimeZone, EventError> {
        parse_tz(&self.timezone)
    }

    /// The rule credit is computed by at the door: `rule` under this event's policy.
    pub fn door_rule(&self, rule: CreditRule) -> CreditRule {
        rule.with_policy(&self.policy)
    }

    /// The date a session takes place on, in the event's time zone (UTC if it is unknown).
    pub fn session_date(&self, session: &Session) -> Date {
        session.date_in(&self.tz().unwrap_or(TimeZone::UTC))
    }

    /// When the event ends: the end of its last session (the latest `starts_at` plus that
    /// session's minutes, whichever session ends last). `None` for an event without sessions,
    /// which has no end yet.
    pub fn ends_at(&self) -> Option<Timestamp> {
        self.sessions.values().map(|s| s.span().end).max()
    }
}

/// Parses an IANA time zone name (`UTC` included).
pub fn parse_tz(name: &str) -> Result<TimeZone, EventError> {
    TimeZone::get(name).map_err(|_| EventError::TimeZone(name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn session(segments: &[(SegmentKind, u32)]) -> Session {
        Session {
            id: "S1".into(),
            title: "t".into(),
            category: DEFAULT_CATEGORY.into(),
            format: SessionFormat::InPerson,
            starts_at: ts("2027-03-01T12:00:00Z"),
            segments: segments.iter().map(|&(k, m)| Segment::new(k, m)).collect(),
        }
    }

    #[test]
    fn kinds_round_trip_and_unknown_is_an_error() {
        for k in SegmentKind::ALL {
            assert_eq!(k.as_str().parse::<SegmentKind>(), Ok(k));
        }
        let err = "lecture".parse::<SegmentKind>().expect_err("unknown");
        assert!(err.to_string().contains("unknown segment kind \"lecture\""), "{err}");
        assert!(err.to_string().contains("open_forum"));
    }

    #[test]
    fn only_learning_kinds_are_creditable() {
        let creditable: Vec<_> = SegmentKind::ALL.iter().filter(|k| k.is_creditable()).map(|k| k.as_str()).collect();
        assert_eq!(creditable, ["instruction", "keynote", "practice", "panel", "demonstration"]);
    }

    #[test]
    fn creditable_spans_skip_meals_and_merge_neighbours() {
        use SegmentKind::*;
        let s = session(&[(Meal, 30), (Keynote, 20), (Instruction, 10), (Meal, 30)]);
        assert_eq!(s.total_minutes(), 90);
        assert_eq!(s.creditable_minutes(), 30);
        assert_eq!(
            s.creditable_spans(),
            vec![Span { start: ts("2027-03-01T12:30:00Z"), end: ts("2027-03-01T13:00:00Z") }]
        );
        assert_eq!(s.span().end, ts("2027-03-01T13:30:00Z"));
    }

    #[test]
    fn validation_catches_empty_and_absurd_sessions() {
        use SegmentKind::*;
        assert_eq!(session(&[]).validate(), Err(SessionError::NoSegments));
        assert_eq!(session(&[(Instruction, 0)]).validate(), Err(SessionError::EmptySegment(0)));
        assert!(matches!(
            session(&[(Instruction, MAX_SESSION_MINUTES + 1)]).validate(),
            Err(SessionError::TooLong { .. })
        ));
    }

    #[test]
    fn session_date_is_taken_in_the_event_time_zone() {
        use SegmentKind::*;
        let mut s = session(&[(Instruction, 60)]);
        s.starts_at = ts("2027-03-02T03:00:00Z");
        assert_eq!(s.date_in(&parse_tz("America/Los_Angeles").expect("tz")), jiff::civil::date(2027, 3, 1));
        assert_eq!(s.date_in(&TimeZone::UTC), jiff::civil::date(2027, 3, 2));
        assert!(parse_tz("Mars/Olympus").is_err());
    }

    #[test]
    fn an_event_ends_with_the_session_that_ends_last() {
        use SegmentKind::*;
        let mut event = Event {
            id: "E1".into(),
            title: "t".into(),
            provider: Provider { id: "P".into(), name: "P".into(), endorsement: None },
            venue: None,
            timezone: "UTC".into(),
            policy: Policy::default(),
            sessions: BTreeMap::new(),
            roster: BTreeMap::new(),
        };
        assert_eq!(event.ends_at(), None, "no session, no end");
        // A later start that ends earlier than a long session started before it.
        let long = session(&[(Meal, 30), (Instruction, 240)]);
        let mut short = session(&[(Instruction, 30)]);
        short.id = "S2".into();
        short.starts_at = ts("2027-03-01T14:00:00Z");
        event.sessions.insert(long.id.clone(), long);
        event.sessions.insert(short.id.clone(), short);
        assert_eq!(event.ends_at(), Some(ts("2027-03-01T16:30:00Z")));
    }

    #[test]
    fn endorsement_validity_is_inclusive() {
        let p = Provider {
            id: "P".into(),
            name: "P".into(),
            endorsement: Some(Endorsement {
                number: "ACA-1".into(),
                valid_from: jiff::civil::date(2027, 1, 1),
                valid_until: jiff::civil::date(2027, 12, 31),
            }),
        };
        assert!(matches!(p.endorsement_on(jiff::civil::date(2027, 1, 1)), EndorsementStatus::Valid { .. }));
        assert!(matches!(p.endorsement_on(jiff::civil::date(2027, 12, 31)), EndorsementStatus::Valid { .. }));
        assert!(matches!(p.endorsement_on(jiff::civil::date(2028, 1, 1)), EndorsementStatus::Expired { .. }));
        let none = Provider { endorsement: None, ..p };
        assert_eq!(none.endorsement_on(jiff::civil::date(2027, 6, 1)), EndorsementStatus::None);
    }
}

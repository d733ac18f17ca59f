//! Conversions between the wire types and `cec-core`'s domain, with validation errors that
//! name the field at fault.

use cec_client::wire::*;
use cec_core::attendance::whole_minutes;
use cec_core::event::DEFAULT_CATEGORY;
use cec_core::portfolio::{CreditRecord, Entry, Totals};
use cec_core::{
    Attendance, CheckIn, CreditRule, Endorsement, Event, Policy, Provider, Segment, Session, ceus_from_cecs,
};
use rust_decimal::Decimal;

use super::error::ApiError;
use super::extract::{check_id, check_scope_id};

/// A new id: a UUIDv7, which sorts by creation time.
pub(super) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// The largest credit value the API takes (an activity's CECs, a goal's or a program's target):
/// far above any real one, and far enough inside `Decimal`'s range that no total, remainder or
/// pace computed from such values can overflow.
pub(super) const MAX_CREDIT: u32 = 10_000;
/// The most contact minutes one entry may claim (the same bound, in minutes).
pub(super) const MAX_ENTRY_MINUTES: u32 = MAX_CREDIT * 60;

/// The most decimal places a credit value in a request may have (quarters need two).
pub(super) const CREDIT_PLACES: u32 = 2;

/// Checks that a credit value is within [`MAX_CREDIT`] with at most [`CREDIT_PLACES`]
/// decimal places (so `"0.0000000000000000000000000001"` is no target).
pub(super) fn check_credit(field: &str, d: Decimal) -> Result<(), ApiError> {
    if d > Decimal::from(MAX_CREDIT) {
        return Err(ApiError::invalid(field, format!("must be at most {MAX_CREDIT}")));
    }
    if d.normalize().scale() > CREDIT_PLACES {
        return Err(ApiError::invalid(field, format!("must have at most {CREDIT_PLACES} decimal places")));
    }
    Ok(())
}

/// The API's bounds on an entry, beyond the domain's own validation.
pub(super) fn check_entry_bounds(e: &Entry) -> Result<(), ApiError> {
    if let Some(c) = e.cecs {
        check_credit("cecs", c)?;
    }
    if e.contact_minutes.is_some_and(|m| m > MAX_ENTRY_MINUTES) {
        return Err(ApiError::invalid("contact_minutes", format!("must be at most {MAX_ENTRY_MINUTES}")));
    }
    Ok(())
}

/// The longest time-zone name taken (the longest IANA name is 32 characters).
pub(super) const MAX_TIME_ZONE_LEN: usize = 64;

/// Whether `name` is shaped like an IANA time-zone name: parts of `[A-Za-z0-9_+-]` between
/// single slashes, at most [`MAX_TIME_ZONE_LEN`] in all. Only such a name is looked up (the
/// document's pattern for `timezone`); one the time-zone database does not know is `422` too.
pub(super) fn is_time_zone_shape(name: &str) -> bool {
    name.len() <= MAX_TIME_ZONE_LEN
        && name.split('/').all(|part| {
            !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'-'))
        })
}

/// A non-empty title.
pub(super) fn non_empty(field: &str, s: &str) -> Result<(), ApiError> {
    if s.trim().is_empty() { Err(ApiError::invalid(field, "must not be empty")) } else { Ok(()) }
}

/// A new event from its request.
pub(super) fn event_from(req: NewEvent, id: String) -> Result<Event, ApiError> {
    check_scope_id("id", &id)?;
    non_empty("title", &req.title)?;
    check_id("provider.id", &req.provider.id)?;
    non_empty("provider.name", &req.provider.name)?;
    if !is_time_zone_shape(&req.timezone) {
        return Err(ApiError::invalid("timezone", format!("{:?} is not an IANA time-zone name", req.timezone)));
    }
    let policy = req.policy.unwrap_or_default();
    let event = Event {
        id,
        title: req.title,
        provider: Provider {
            id: req.provider.id,
            name: req.provider.name,
            endorsement: req.provider.endorsement.map(|e| Endorsement {
                number: e.number,
                valid_from: e.valid_from,
                valid_until: e.valid_until,
            }),
        },
        venue: req.venue,
        timezone: req.timezone,
        policy: Policy {
            grace_minutes: policy.grace_minutes,
            full_attendance_required: policy.full_attendance_required,
        },
        sessions: Default::default(),
        roster: Default::default(),
    };
    if let Some(e) = &event.provider.endorsement {
        non_empty("provider.endorsement.number", &e.number)?;
    }
    event.validate().map_err(|e| match e {
        cec_core::event::EventError::TimeZone(_) => ApiError::invalid("timezone", e.to_string()),
        other => ApiError::invalid("provider.endorsement.valid_until", other.to_string()),
    })?;
    if event.policy.grace_minutes > 120 {
        return Err(ApiError::invalid("policy.grace_minutes", "must be at most 120"));
    }
    Ok(event)
}

/// The wire form of an event.
pub(super) fn event_json(e: &Event) -> EventJson {
    EventJson {
        id: e.id.clone(),
        title: e.title.clone(),
        provider: ProviderJson {
            id: e.provider.id.clone(),
            name: e.provider.name.clone(),
            endorsement: e.provider.endorsement.as_ref().map(|x| EndorsementJson {
                number: x.number.clone(),
                valid_from: x.valid_from,
                valid_until: x.valid_until,
            }),
        },
        venue: e.venue.clone(),
        timezone: e.timezone.clone(),
        policy: PolicyJson {
            grace_minutes: e.policy.grace_minutes,
            full_attendance_required: e.policy.full_attendance_required,
        },
        session_count: e.sessions.len(),
        roster_count: e.roster.len(),
    }
}

/// A new session from its request.
pub(super) fn session_from(req: NewSession, id: String) -> Result<Session, ApiError> {
    check_scope_id("id", &id)?;
    non_empty("title", &req.title)?;
    let category = req.category.unwrap_or_else(|| DEFAULT_CATEGORY.into());
    check_id("category", &category)?;
    let category = cec_core::event::category_key(&category);
    let format = match req.format.as_deref() {
        None => Default::default(),
        Some(f) => f.parse().map_err(|e: cec_core::event::UnknownName| ApiError::invalid("format", e.to_string()))?,
    };
    let mut segments = Vec::with_capacity(req.segments.len());
    for (i, s) in req.segments.iter().enumerate() {
        let kind = s.kind.parse().map_err(|e: cec_core::event::UnknownName| {
            ApiError::invalid(format!("segments[{i}].kind"), e.to_string())
        })?;
        segments.push(Segment::new(kind, s.minutes));
    }
    let session = Session { id, title: req.title, category, format, starts_at: req.starts_at, segments };
    session.validate().map_err(|e| match e {
        cec_core::event::SessionError::EmptySegment(i) => {
            ApiError::invalid(format!("segments[{i}].minutes"), e.to_string())
        }
        other => ApiError::invalid("segments", other.to_string()),
    })?;
    // Time arithmetic on the session (its end, door grace, local dates) must stay within the
    // representable instants: keep a day of room on either side.
    let day = jiff::SignedDuration::from_hours(24);
    let length = jiff::SignedDuration::from_mins(session.segments.iter().map(|g| i64::from(g.minutes)).sum());
    let room = session.starts_at.checked_sub(day).is_ok()
        && length.checked_add(day).is_some_and(|d| session.starts_at.checked_add(d).is_ok());
    if !room {
        return Err(ApiError::invalid("starts_at", "too close to the end of representable time"));
    }
    Ok(session)
}

/// The wire form of a session.
pub(super) fn session_json(event_id: &str, s: &Session) -> SessionJson {
    SessionJson {
        id: s.id.clone(),
        event_id: event_id.to_owned(),
        title: s.title.clone(),
        category: s.category.clone(),
        format: s.format.as_str().into(),
        starts_at: s.starts_at,
        ends_at: s.span().end,
        segments: s.segments.iter().map(|g| SegmentJson { kind: g.kind.as_str().into(), minutes: g.minutes }).collect(),
        creditable_minutes: s.creditable_minutes(),
        max_cecs: s.max_credit(&CreditRule::aca()),
    }
}

/// The wire form of a check-in.
pub(super) fn checkin_json(c: &CheckIn, member_name: Option<String>, on_roster: bool) -> CheckInJson {
    CheckInJson {
        id: c.id.clone(),
        event_id: c.event_id.clone(),
        session_id: c.session_id.clone(),
        member_id: c.member_id.clone(),
        member_name,
        direction: c.direction.as_str().into(),
        at: c.at,
        method: c.method.as_str().into(),
        kiosk_id: c.kiosk_id.clone(),
        recorded_at: c.recorded_at,
        flags: if on_roster { vec![] } else { vec!["unknown_member".into()] },
        voided: None,
        clock_skew: None,
    }
}

/// The wire form of a void.
pub(super) fn void_json(v: &cec_core::Void) -> cec_client::wire::VoidJson {
    cec_client::wire::VoidJson { at: v.at, by: v.by.clone(), reason: v.reason.clone() }
}

/// The wire form of one attendance.
pub(super) fn attendance_json(a: &Attendance, session_title: &str) -> AttendanceJson {
    AttendanceJson {
        event_id: a.event_id.clone(),
        session_id: a.session_id.clone(),
        session_title: session_title.to_owned(),
        attended_minutes: whole_minutes(a.credit.attended),
        creditable_minutes: whole_minutes(a.credit.creditable),
        cecs: a.credit.credit,
        max_cecs: a.credit.max_credit,
        verified: a.is_verified(),
        flags: a.flags().map(|f| f.as_str().to_owned()).collect(),
        reason: a.reason(),
    }
}

/// The wire form of a credit line.
pub(super) fn record_json(r: &CreditRecord) -> CreditRecordJson {
    CreditRecordJson {
        id: r.id.clone(),
        source: r.source.as_str().into(),
        date: r.date,
        title: r.title.clone(),
        provider: r.provider.clone(),
        endorsement_number: r.endorsement_number.clone(),
        category: r.category.clone(),
        contact_minutes: r.contact_minutes,
        contact_hours: r.contact_hours(),
        cecs: r.cecs,
        ceus: ceus_from_cecs(r.cecs),
        verification_code: r.verification_code.clone(),
    }
}

/// The wire form of totals.
pub(super) fn totals_json(t: &Totals, records: &[CreditRecord]) -> TotalsJson {
    TotalsJson {
        verified_cecs: t.verified,
        self_reported_cecs: t.self_reported,
        total_cecs: t.total,
        ceus: t.ceus,
        contact_hours: records.iter().map(CreditRecord::contact_hours).sum::<Decimal>().normalize(),
        by_category: t.by_category.clone(),
    }
}

/// A new entry from its request.
pub(super) fn entry_from(req: NewEntry, id: String) -> Result<Entry, ApiError> {
    check_id("id", &id)?;
    let kind = req.kind.parse().map_err(|e: cec_core::event::UnknownName| ApiError::invalid("kind", e.to_string()))?;
    if let Some(c) = &req.category {
        check_id("category", c)?;
    }
    let category = req.category.as_deref().map(cec_core::event::category_key);
    let entry = Entry {
        id,
        kind,
        title: req.title,
        description: req.description,
        date: req.date,
        cecs: req.cecs,
        contact_minutes: req.contact_minutes,
        category,
        provider: req.provider,
        evidence: req.evidence,
    };
    entry.validate().map_err(|e| ApiError::invalid(e.field, e.message))?;
    check_entry_bounds(&entry)?;
    Ok(entry)
}

/// The wire form of an entry.
pub(super) fn entry_json(e: &Entry) -> EntryJson {
    EntryJson {
        id: e.id.clone(),
        kind: e.kind.as_str().into(),
        title: e.title.clone(),
        description: e.description.clone(),
        date: e.date,
        cecs: e.cecs,
        contact_minutes: e.contact_minutes,
        category: e.category.clone(),
        provider: e.provider.clone(),
        evidence: e.evidence.clone(),
        credited_cecs: e.self_reported_cecs(),
    }
}

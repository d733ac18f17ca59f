//! The `event:<event_id>` document.
//!
//! ```text
//! { schema, type: "event", id, event_id, title, venue?, timezone,
//!   provider: { id, name, endorsement?: { number, valid_from, valid_until } },
//!   policy: { grace_minutes, full_attendance_required },
//!   sessions: { <session_id>: { title, category, format, starts_at,
//!                               segments: [ { kind, minutes } ] } },
//!   roster: { <member_id>: { name, email? } } }
//! ```

use std::collections::BTreeMap;

use automerge::{ActorId, AutoCommit, ObjId, ObjType, ROOT, transaction::Transactable};

use super::fields::{self, DocError, invalid};
use super::{DocId, check_header, skeleton};
use crate::event::{Endorsement, Event, Policy, Provider, RosterMember, Segment, Session};

const MAPS: &[&str] = &["provider", "policy", "sessions", "roster"];

/// A new event document (its skeleton) for `event_id`, writing as `actor`.
pub fn new_doc(event_id: &str, actor: &ActorId) -> AutoCommit {
    skeleton(&DocId::event(event_id), MAPS, actor)
}

/// Writes the event's own fields (not its sessions or roster), touching only what differs.
pub fn put_event(doc: &mut AutoCommit, event: &Event) -> Result<(), DocError> {
    fields::put(doc, &ROOT, "event_id", event.id.as_str())?;
    fields::put(doc, &ROOT, "title", event.title.as_str())?;
    fields::put_opt(doc, &ROOT, "venue", event.venue.clone())?;
    fields::put(doc, &ROOT, "timezone", event.timezone.as_str())?;
    let provider = fields::ensure_map(doc, &ROOT, "provider")?;
    fields::put(doc, &provider, "id", event.provider.id.as_str())?;
    fields::put(doc, &provider, "name", event.provider.name.as_str())?;
    match &event.provider.endorsement {
        Some(e) => {
            let m = fields::ensure_map(doc, &provider, "endorsement")?;
            fields::put(doc, &m, "number", e.number.as_str())?;
            fields::put(doc, &m, "valid_from", e.valid_from.to_string())?;
            fields::put(doc, &m, "valid_until", e.valid_until.to_string())?;
        }
        None => {
            fields::delete(doc, &provider, "endorsement")?;
        }
    }
    let policy = fields::ensure_map(doc, &ROOT, "policy")?;
    fields::put(doc, &policy, "grace_minutes", i64::from(event.policy.grace_minutes))?;
    fields::put(doc, &policy, "full_attendance_required", event.policy.full_attendance_required)?;
    Ok(())
}

/// Adds or updates one session.
pub fn put_session(doc: &mut AutoCommit, session: &Session) -> Result<(), DocError> {
    let sessions = fields::ensure_map(doc, &ROOT, "sessions")?;
    let s = fields::ensure_map(doc, &sessions, &session.id)?;
    fields::put(doc, &s, "title", session.title.as_str())?;
    fields::put(doc, &s, "category", session.category.as_str())?;
    fields::put(doc, &s, "format", session.format.as_str())?;
    fields::put(doc, &s, "starts_at", session.starts_at.to_string())?;
    if read_segments(doc, &s).ok().as_deref() != Some(session.segments.as_slice()) {
        let list = doc.put_object(&s, "segments", ObjType::List)?;
        for (i, seg) in session.segments.iter().enumerate() {
            let m = doc.insert_object(&list, i, ObjType::Map)?;
            doc.put(&m, "kind", seg.kind.as_str())?;
            doc.put(&m, "minutes", i64::from(seg.minutes))?;
        }
    }
    Ok(())
}

/// Adds or updates one roster member.
pub fn put_roster_member(doc: &mut AutoCommit, member: &RosterMember) -> Result<(), DocError> {
    let roster = fields::ensure_map(doc, &ROOT, "roster")?;
    let m = fields::ensure_map(doc, &roster, &member.member_id)?;
    fields::put(doc, &m, "name", member.name.as_str())?;
    fields::put_opt(doc, &m, "email", member.email.clone())?;
    Ok(())
}

/// Writes a whole event: fields, every session and every roster member. Sessions and members
/// absent from `event` are left alone (documents merge; nothing is removed by omission).
pub fn put_all(doc: &mut AutoCommit, event: &Event) -> Result<(), DocError> {
    put_event(doc, event)?;
    for s in event.sessions.values() {
        put_session(doc, s)?;
    }
    for m in event.roster.values() {
        put_roster_member(doc, m)?;
    }
    Ok(())
}

fn read_segments(doc: &AutoCommit, session: &ObjId) -> Result<Vec<Segment>, DocError> {
    let list = fields::get_list(doc, session, "segments")?.ok_or(DocError::Missing("segments"))?;
    fields::list_maps(doc, &list)?
        .iter()
        .map(|m| {
            Ok(Segment { kind: fields::req_parsed(doc, m, "kind")?, minutes: fields::req_u32(doc, m, "minutes")? })
        })
        .collect()
}

fn read_session(doc: &AutoCommit, id: &str, s: &ObjId) -> Result<Session, DocError> {
    Ok(Session {
        id: id.to_owned(),
        title: fields::req_str(doc, s, "title")?,
        category: fields::req_str(doc, s, "category")?,
        format: fields::req_parsed(doc, s, "format")?,
        starts_at: fields::req_timestamp(doc, s, "starts_at")?,
        segments: read_segments(doc, s)?,
    })
}

/// Reads the event, its sessions and roster. Fails on a document whose event fields were never
/// written (a skeleton that only received sessions).
pub fn read(doc: &AutoCommit) -> Result<Event, DocError> {
    let event_id = fields::req_str(doc, &ROOT, "event_id")?;
    check_header(doc, &DocId::event(&event_id))?;
    let provider = fields::req_map(doc, &ROOT, "provider")?;
    let endorsement = match fields::get_map(doc, &provider, "endorsement")? {
        Some(e) => Some(Endorsement {
            number: fields::req_str(doc, &e, "number")?,
            valid_from: fields::req_date(doc, &e, "valid_from")?,
            valid_until: fields::req_date(doc, &e, "valid_until")?,
        }),
        None => None,
    };
    let policy = fields::req_map(doc, &ROOT, "policy")?;
    let mut sessions = BTreeMap::new();
    let sessions_obj = fields::req_map(doc, &ROOT, "sessions")?;
    for id in fields::keys(doc, &sessions_obj) {
        let s = fields::get_map(doc, &sessions_obj, &id)?.ok_or_else(|| invalid("sessions", "expected a map"))?;
        sessions.insert(id.clone(), read_session(doc, &id, &s)?);
    }
    let mut roster = BTreeMap::new();
    let roster_obj = fields::req_map(doc, &ROOT, "roster")?;
    for id in fields::keys(doc, &roster_obj) {
        let m = fields::get_map(doc, &roster_obj, &id)?.ok_or_else(|| invalid("roster", "expected a map"))?;
        roster.insert(
            id.clone(),
            RosterMember {
                member_id: id,
                name: fields::req_str(doc, &m, "name")?,
                email: fields::get_str(doc, &m, "email")?,
            },
        );
    }
    Ok(Event {
        id: event_id,
        title: fields::req_str(doc, &ROOT, "title")?,
        provider: Provider {
            id: fields::req_str(doc, &provider, "id")?,
            name: fields::req_str(doc, &provider, "name")?,
            endorsement,
        },
        venue: fields::get_str(doc, &ROOT, "venue")?,
        timezone: fields::req_str(doc, &ROOT, "timezone")?,
        policy: Policy {
            grace_minutes: fields::get_u32(doc, &policy, "grace_minutes")?.unwrap_or(0),
            full_attendance_required: fields::get_bool(doc, &policy, "full_attendance_required")?.unwrap_or(false),
        },
        sessions,
        roster,
    })
}

//! The `attendance:<event_id>:<session_id>` document: one session's check-ins.
//!
//! ```text
//! { schema, type: "attendance", id, event_id, session_id,
//!   checkins: { <checkin_id>: { member_id, direction, at, method, kiosk_id, recorded_at } } }
//! ```
//!
//! Check-ins are immutable facts keyed by a unique id, so kiosks that record concurrently never
//! conflict: merging two forks gives the union of their check-ins.

use automerge::{ActorId, AutoCommit, ROOT};

use super::fields::{self, DocError, invalid};
use super::{DocId, check_header, skeleton};
use crate::checkin::CheckIn;

/// A new attendance document (its skeleton), writing as `actor`.
pub fn new_doc(event_id: &str, session_id: &str, actor: &ActorId) -> AutoCommit {
    skeleton(&DocId::attendance(event_id, session_id), &["checkins"], actor)
}

/// What adding a check-in did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Added {
    /// It was new and is now recorded.
    New,
    /// The same check-in (same id, same content) was already there.
    Existing,
}

/// Records a check-in. The same id with the same content changes nothing; the same id with
/// other content is a [`DocError::Conflict`] (check-ins are never edited).
pub fn add_checkin(doc: &mut AutoCommit, c: &CheckIn) -> Result<Added, DocError> {
    let checkins = fields::ensure_map(doc, &ROOT, "checkins")?;
    if fields::get_map(doc, &checkins, &c.id)?.is_some() {
        let existing = read_checkin(doc, &checkins, &c.id)?;
        return if &existing == c {
            Ok(Added::Existing)
        } else {
            Err(DocError::Conflict(format!("check-in {}", c.id)))
        };
    }
    let m = fields::ensure_map(doc, &checkins, &c.id)?;
    fields::put(doc, &m, "member_id", c.member_id.as_str())?;
    fields::put(doc, &m, "direction", c.direction.as_str())?;
    fields::put(doc, &m, "at", c.at.to_string())?;
    fields::put(doc, &m, "method", c.method.as_str())?;
    fields::put(doc, &m, "kiosk_id", c.kiosk_id.as_str())?;
    fields::put(doc, &m, "recorded_at", c.recorded_at.to_string())?;
    Ok(Added::New)
}

fn read_checkin(doc: &AutoCommit, checkins: &automerge::ObjId, id: &str) -> Result<CheckIn, DocError> {
    let m = fields::get_map(doc, checkins, id)?.ok_or_else(|| invalid("checkins", "expected a map"))?;
    let event_id = fields::req_str(doc, &ROOT, "event_id")?;
    let session_id = fields::req_str(doc, &ROOT, "session_id")?;
    Ok(CheckIn {
        id: id.to_owned(),
        event_id,
        session_id,
        member_id: fields::req_str(doc, &m, "member_id")?,
        direction: fields::req_parsed(doc, &m, "direction")?,
        at: fields::req_timestamp(doc, &m, "at")?,
        method: fields::req_parsed(doc, &m, "method")?,
        kiosk_id: fields::req_str(doc, &m, "kiosk_id")?,
        recorded_at: fields::req_timestamp(doc, &m, "recorded_at")?,
    })
}

/// The check-in `id`, if the document holds it, without decoding the others.
pub fn get(doc: &AutoCommit, id: &str) -> Result<Option<CheckIn>, DocError> {
    let Some(checkins) = fields::get_map(doc, &ROOT, "checkins")? else { return Ok(None) };
    if fields::get_map(doc, &checkins, id)?.is_none() {
        return Ok(None);
    }
    read_checkin(doc, &checkins, id).map(Some)
}

/// Every check-in in the document, ordered by id.
pub fn read(doc: &AutoCommit) -> Result<Vec<CheckIn>, DocError> {
    let event_id = fields::req_str(doc, &ROOT, "event_id")?;
    let session_id = fields::req_str(doc, &ROOT, "session_id")?;
    check_header(doc, &DocId::attendance(event_id, session_id))?;
    let checkins = fields::req_map(doc, &ROOT, "checkins")?;
    fields::keys(doc, &checkins).iter().map(|id| read_checkin(doc, &checkins, id)).collect()
}

/// The number of check-ins, without decoding them.
pub fn count(doc: &AutoCommit) -> usize {
    match fields::get_map(doc, &ROOT, "checkins") {
        Ok(Some(m)) => automerge::ReadDoc::length(doc, &m),
        _ => 0,
    }
}

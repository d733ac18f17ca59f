//! The `attendance:<event_id>:<session_id>` document: one session's check-ins.
//!
//! ```text
//! { schema, type: "attendance", id, event_id, session_id,
//!   checkins: { "#<actor>/<first_id>": "c2\n<id>|<member_id>|<direction>|<at>|<method>|<kiosk_id>|<recorded_at>\n…",
//!               <checkin_id>: "c1|<member_id>|<direction>|<at>|<method>|<kiosk_id>|<recorded_at>",
//!               <checkin_id>: { member_id, direction, at, method, kiosk_id, recorded_at } },
//!   voids: { <checkin_id>: "v1|<node_id>|<at>|<reason>" } }
//! ```
//!
//! Check-ins are immutable facts keyed by a unique id, so kiosks that record concurrently never
//! conflict: merging two forks gives the union of their check-ins. Three layouts live side by
//! side in the one `checkins` map of the frozen skeleton (so concurrent kiosks never race to
//! create a new map), and every reader reads all three:
//! - **`c2`, written now: several check-ins in one value.** A change writes all its check-ins
//!   as one string, one `put` whatever their number (`docs/design.md`: a `put` is the unit of
//!   Automerge's cost). Its key is `#`, the writing actor and the first check-in's id: `#` is
//!   in no check-in id, so it never names a check-in, and an actor never writes the same first
//!   id twice (it never writes an id the document holds), so two nodes never put the same key.
//!   Two nodes putting one key concurrently would leave a conflict in which Automerge shows
//!   one value and hides the other, and the hidden one's check-ins would be lost to readers.
//! - `c1`: one check-in per value, keyed by its id (documents from before `c2`).
//! - a map of fields per check-in, keyed by its id (documents from before `c1`).
//!
//! One check-in id can be in two values: two nodes that both recorded it (a client that
//! retried against another kiosk), or a value of an older layout beside a batch. Readers
//! report it once: a value keyed by the id itself stands over batches, and of several batches
//! the one under the smallest key stands, so every node that holds the same changes reads the
//! same check-in.
//!
//! `voids` holds corrections (`design.md`: a correction voids, never deletes): a mistaken
//! scan keeps its check-in and gains a void, keyed by the check-in's id. The map is not in the
//! frozen skeleton; the first void creates it in an ordinary change, so documents from before
//! keep loading. Two nodes that void concurrently may each create `voids`; Automerge keeps
//! both maps as a conflict of the root key, and every read takes the union of them, so no
//! void is ever hidden by a merge.

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ROOT, ReadDoc};

use super::fields::{self, DocError, invalid};
use super::{DocId, check_header, skeleton};
use crate::checkin::{CheckIn, Void};

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

/// The version tag of the one-check-in-per-value layout.
const V1: &str = "c1";

/// The version tag of the several-check-ins-per-value layout.
const V2: &str = "c2";

/// The first character of a batch's key, which no check-in id holds (`crate::id`).
const BATCH: char = '#';

/// A check-in's fields as its one value, in the `c1` layout.
fn encode(c: &CheckIn) -> String {
    format!(
        "{V1}|{}|{}|{}|{}|{}|{}",
        c.member_id,
        c.direction.as_str(),
        c.at,
        c.method.as_str(),
        c.kiosk_id,
        c.recorded_at
    )
}

/// Check-ins as one value, in the `c2` layout: the tag, then a line per check-in.
fn encode_batch(checkins: &[CheckIn]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(2 + checkins.len() * 120);
    out.push_str(V2);
    for c in checkins {
        let _ = write!(
            out,
            "\n{}|{}|{}|{}|{}|{}|{}",
            c.id,
            c.member_id,
            c.direction.as_str(),
            c.at,
            c.method.as_str(),
            c.kiosk_id,
            c.recorded_at
        );
    }
    out
}

/// The session a document's check-ins belong to, read once per call rather than per check-in.
struct Place {
    event_id: String,
    session_id: String,
}

impl Place {
    fn of(doc: &AutoCommit) -> Result<Self, DocError> {
        Ok(Self {
            event_id: fields::req_str(doc, &ROOT, "event_id")?,
            session_id: fields::req_str(doc, &ROOT, "session_id")?,
        })
    }
}

/// A check-in from its id and its fields after the version tag, split at `|`.
fn from_fields(place: &Place, id: &str, parts: &[&str]) -> Result<CheckIn, DocError> {
    let bad = |m: &str| invalid("checkins", format!("check-in {id}: {m}"));
    let [member, direction, at, method, kiosk, recorded] = parts[..] else {
        return Err(bad("not a check-in value of a known version"));
    };
    Ok(CheckIn {
        id: id.to_owned(),
        event_id: place.event_id.clone(),
        session_id: place.session_id.clone(),
        member_id: member.to_owned(),
        direction: direction.parse().map_err(|_| bad("bad direction"))?,
        at: at.parse().map_err(|_| bad("bad time"))?,
        method: method.parse().map_err(|_| bad("bad method"))?,
        kiosk_id: kiosk.to_owned(),
        recorded_at: recorded.parse().map_err(|_| bad("bad recorded time"))?,
    })
}

/// A `c1` value, the check-in `id`.
fn decode(place: &Place, id: &str, value: &str) -> Result<CheckIn, DocError> {
    let parts: Vec<&str> = value.split('|').collect();
    match parts.split_first() {
        Some((&V1, rest)) => from_fields(place, id, rest),
        _ => Err(invalid("checkins", format!("check-in {id}: not a check-in value of a known version"))),
    }
}

/// A `c2` value under `key`: its check-ins, in the order written.
fn decode_batch(place: &Place, key: &str, value: &str) -> Result<Vec<CheckIn>, DocError> {
    let mut lines = value.split('\n');
    if lines.next() != Some(V2) {
        return Err(invalid("checkins", format!("{key}: not a batch of check-ins of a known version")));
    }
    lines
        .map(|line| {
            let parts: Vec<&str> = line.split('|').collect();
            match parts.split_first() {
                Some((id, rest)) if !id.is_empty() => from_fields(place, id, rest),
                _ => Err(invalid("checkins", format!("{key}: a line without a check-in id"))),
            }
        })
        .collect()
}

/// Whether `key` of the `checkins` map holds a batch (layout `c2`) rather than one check-in.
pub(crate) fn is_batch_key(key: &str) -> bool {
    key.starts_with(BATCH)
}

/// Whether a check-in's fields can be written as one value (no field holds a separator, and
/// the id does not look like a batch's key).
fn encodable(c: &CheckIn) -> bool {
    let clean = |s: &str| !s.contains(['|', '\n']);
    clean(&c.id) && clean(&c.member_id) && clean(&c.kiosk_id) && !c.id.is_empty() && !is_batch_key(&c.id)
}

fn not_encodable(c: &CheckIn) -> DocError {
    invalid("checkins", format!("check-in {}: a field holds '|' or a line break, or the id starts with '#'", c.id))
}

/// Records a check-in. The same id with the same content changes nothing; the same id with
/// other content is a [`DocError::Conflict`] (check-ins are never edited). Looks the id up in
/// every value of the document: the write path of the daemon knows its documents' ids and
/// calls [`insert_new`] instead.
pub fn add_checkin(doc: &mut AutoCommit, c: &CheckIn) -> Result<Added, DocError> {
    let checkins = fields::ensure_map(doc, &ROOT, "checkins")?;
    if let Some(existing) = get(doc, &c.id)? {
        return if &existing == c {
            Ok(Added::Existing)
        } else {
            Err(DocError::Conflict(format!("check-in {}", c.id)))
        };
    }
    insert_new(doc, &checkins, std::slice::from_ref(c))?;
    Ok(Added::New)
}

/// The `checkins` map of the document, created if missing (it is in the skeleton, so its id is
/// the same on every node and never changes).
pub fn checkins_map(doc: &mut AutoCommit) -> Result<automerge::ObjId, DocError> {
    fields::ensure_map(doc, &ROOT, "checkins")
}

/// Writes check-ins the caller knows the document does not hold yet (distinct ids), into
/// `checkins` (from [`checkins_map`]): one `put` of one `c2` value for all of them, nothing
/// read. Nothing is written when one of them cannot be encoded. Call it at most once per
/// change with a given first check-in (its key names the actor and the first id).
pub fn insert_new(doc: &mut AutoCommit, checkins: &automerge::ObjId, new: &[CheckIn]) -> Result<(), DocError> {
    let Some(first) = new.first() else { return Ok(()) };
    if let Some(bad) = new.iter().find(|c| !encodable(c)) {
        return Err(not_encodable(bad));
    }
    let key = format!("{BATCH}{}/{}", doc.get_actor().to_hex_string(), first.id);
    doc.put(checkins, key, encode_batch(new))?;
    Ok(())
}

/// Whether `c` can be written by [`insert_new`]: an error naming the field if not.
pub fn check_encodable(c: &CheckIn) -> Result<(), DocError> {
    if encodable(c) { Ok(()) } else { Err(not_encodable(c)) }
}

/// The check-in under its own key `id` (an older layout), if any.
fn read_checkin(
    doc: &AutoCommit,
    place: &Place,
    checkins: &automerge::ObjId,
    id: &str,
) -> Result<Option<CheckIn>, DocError> {
    match doc.get(checkins, id)? {
        None => Ok(None),
        Some((automerge::Value::Scalar(v), _)) => match v.as_ref() {
            automerge::ScalarValue::Str(s) => decode(place, id, s).map(Some),
            _ => Err(invalid("checkins", format!("check-in {id}: not a string"))),
        },
        Some((automerge::Value::Object(_), m)) => read_map_checkin(doc, place, &m, id).map(Some),
    }
}

/// The check-ins of the batch under `key`.
fn read_batch(
    doc: &AutoCommit,
    place: &Place,
    checkins: &automerge::ObjId,
    key: &str,
) -> Result<Vec<CheckIn>, DocError> {
    match doc.get(checkins, key)? {
        None => Ok(Vec::new()),
        Some((automerge::Value::Scalar(v), _)) => match v.as_ref() {
            automerge::ScalarValue::Str(s) => decode_batch(place, key, s),
            _ => Err(invalid("checkins", format!("{key}: not a string"))),
        },
        Some(_) => Err(invalid("checkins", format!("{key}: not a string"))),
    }
}

/// A check-in written as a map of fields (documents from before the one-value layout).
fn read_map_checkin(doc: &AutoCommit, place: &Place, m: &automerge::ObjId, id: &str) -> Result<CheckIn, DocError> {
    Ok(CheckIn {
        id: id.to_owned(),
        event_id: place.event_id.clone(),
        session_id: place.session_id.clone(),
        member_id: fields::req_str(doc, m, "member_id")?,
        direction: fields::req_parsed(doc, m, "direction")?,
        at: fields::req_timestamp(doc, m, "at")?,
        method: fields::req_parsed(doc, m, "method")?,
        kiosk_id: fields::req_str(doc, m, "kiosk_id")?,
        recorded_at: fields::req_timestamp(doc, m, "recorded_at")?,
    })
}

/// Records a check-in in the layout documents had before the one-value layout, for tests of
/// old documents.
#[doc(hidden)]
pub fn add_checkin_as_map(doc: &mut AutoCommit, c: &CheckIn) -> Result<(), DocError> {
    let checkins = fields::ensure_map(doc, &ROOT, "checkins")?;
    let m = fields::ensure_map(doc, &checkins, &c.id)?;
    fields::put(doc, &m, "member_id", c.member_id.as_str())?;
    fields::put(doc, &m, "direction", c.direction.as_str())?;
    fields::put(doc, &m, "at", c.at.to_string())?;
    fields::put(doc, &m, "method", c.method.as_str())?;
    fields::put(doc, &m, "kiosk_id", c.kiosk_id.as_str())?;
    fields::put(doc, &m, "recorded_at", c.recorded_at.to_string())
}

/// Records a check-in in the `c1` layout (one value per check-in, under its id), which
/// documents had before batches, for tests of old documents.
#[doc(hidden)]
pub fn add_checkin_as_value(doc: &mut AutoCommit, c: &CheckIn) -> Result<(), DocError> {
    if !encodable(c) {
        return Err(not_encodable(c));
    }
    let checkins = fields::ensure_map(doc, &ROOT, "checkins")?;
    doc.put(&checkins, c.id.as_str(), encode(c))?;
    Ok(())
}

/// The check-in `id`, if the document holds it: under its own key, or else in the first batch
/// (in key order) that holds it.
pub fn get(doc: &AutoCommit, id: &str) -> Result<Option<CheckIn>, DocError> {
    let Some(checkins) = fields::get_map(doc, &ROOT, "checkins")? else { return Ok(None) };
    Ok(winners(doc, &Place::of(doc)?, &checkins, [id])?.remove(id))
}

/// What the document holds for each of `ids` (those it holds), by the module's rule: the
/// value under the id's own key, or else the first batch in key order holding it. Batches are
/// scanned as text, only the lines of the ids sought decoded, and no further than the last of
/// them found.
fn winners<'a>(
    doc: &AutoCommit,
    place: &Place,
    checkins: &automerge::ObjId,
    ids: impl IntoIterator<Item = &'a str>,
) -> Result<std::collections::BTreeMap<String, CheckIn>, DocError> {
    let ids: Vec<&str> = ids.into_iter().collect();
    // Which ids have a value under a key of their own: a lookup each for a few ids; for many
    // (a batch another node wrote, thousands of check-ins) one pass over the map's keys, which
    // in the batch layout are few, instead of a seek per id that almost always misses.
    let own_keys: Option<std::collections::HashSet<String>> =
        (ids.len() > 16).then(|| doc.keys(checkins).filter(|k| !is_batch_key(k)).collect());
    let mut out = std::collections::BTreeMap::new();
    let mut open = std::collections::BTreeSet::new();
    for id in ids {
        let own = match &own_keys {
            Some(keys) if !keys.contains(id) => None,
            _ => read_checkin(doc, place, checkins, id)?,
        };
        match own {
            Some(c) => {
                out.insert(id.to_owned(), c);
            }
            None => {
                open.insert(id);
            }
        }
    }
    for key in doc.keys(checkins).filter(|k| is_batch_key(k)) {
        if open.is_empty() {
            break;
        }
        let Some((automerge::Value::Scalar(v), _)) = doc.get(checkins, &key)? else { continue };
        let automerge::ScalarValue::Str(text) = v.as_ref() else { continue };
        let mut lines = text.split('\n');
        if lines.next() != Some(V2) {
            return Err(invalid("checkins", format!("{key}: not a batch of check-ins of a known version")));
        }
        for line in lines {
            // Only the lines of the ids sought are split into their fields.
            let (id, rest) = line.split_once('|').unwrap_or((line, ""));
            if open.remove(id) {
                let rest: Vec<&str> = rest.split('|').collect();
                out.insert(id.to_owned(), from_fields(place, id, &rest)?);
            }
        }
    }
    Ok(out)
}

/// Every check-in of the document by id, each once (see the module's rule for an id found in
/// several values).
fn all_by_id(doc: &AutoCommit, place: &Place) -> Result<std::collections::BTreeMap<String, CheckIn>, DocError> {
    let checkins = fields::req_map(doc, &ROOT, "checkins")?;
    let mut out = std::collections::BTreeMap::new();
    let mut own_keys = Vec::new();
    for key in fields::keys(doc, &checkins) {
        if is_batch_key(&key) {
            // Keys come in order: the first batch holding an id stands over later ones.
            for c in read_batch(doc, place, &checkins, &key)? {
                out.entry(c.id.clone()).or_insert(c);
            }
        } else {
            own_keys.push(key);
        }
    }
    for id in own_keys {
        if let Some(c) = read_checkin(doc, place, &checkins, &id)? {
            out.insert(id, c);
        }
    }
    Ok(out)
}

/// The check-ins that `patches` (from `diff_incremental`) put, as the document now holds them,
/// each once: a value is decoded from its patch, an old map-layout check-in read from the
/// document. A batch written by the document's own actor holds only ids new to the document
/// (its writer checked); one of another actor may repeat an id held elsewhere, and then what
/// the document holds for its ids is looked up in every value.
pub fn put_in(doc: &AutoCommit, patches: &[automerge::Patch]) -> Result<Vec<CheckIn>, DocError> {
    use automerge::{PatchAction, Prop, ScalarValue, Value};
    let mut place = None;
    let mut checkins = None;
    let mut seen = std::collections::BTreeMap::new();
    let mut foreign_batch = false;
    let own = doc.get_actor().clone();
    for p in patches {
        let in_checkins = matches!(p.path.first(), Some((_, Prop::Map(k))) if k == "checkins");
        let key = match (&p.action, p.path.len()) {
            (PatchAction::PutMap { key, .. }, 1) if in_checkins => key,
            (_, 2..) if in_checkins => match &p.path[1].1 {
                Prop::Map(k) => k,
                Prop::Seq(_) => continue,
            },
            _ => continue,
        };
        let place = match &place {
            Some(pl) => pl,
            None => place.insert(Place::of(doc)?),
        };
        match &p.action {
            PatchAction::PutMap { value: (Value::Scalar(v), op), .. } if p.path.len() == 1 => {
                let ScalarValue::Str(s) = v.as_ref() else {
                    return Err(invalid("checkins", format!("{key}: not a string")));
                };
                if is_batch_key(key) {
                    foreign_batch |= !matches!(op, automerge::ObjId::Id(_, actor, _) if *actor == own);
                    for c in decode_batch(place, key, s)? {
                        seen.entry(c.id.clone()).or_insert(c);
                    }
                } else {
                    seen.insert(key.clone(), decode(place, key, s)?);
                }
            }
            _ if is_batch_key(key) => {}
            _ => {
                let map = match &checkins {
                    Some(m) => m,
                    None => checkins.insert(fields::req_map(doc, &ROOT, "checkins")?),
                };
                if let Some(c) = read_checkin(doc, place, map, key)? {
                    seen.insert(key.clone(), c);
                }
            }
        }
    }
    if foreign_batch && let Some(place) = &place {
        let map = fields::req_map(doc, &ROOT, "checkins")?;
        return Ok(winners(doc, place, &map, seen.keys().map(String::as_str))?.into_values().collect());
    }
    Ok(seen.into_values().collect())
}

/// Every check-in in the document, ordered by id, each once.
pub fn read(doc: &AutoCommit) -> Result<Vec<CheckIn>, DocError> {
    let place = Place::of(doc)?;
    check_header(doc, &DocId::attendance(&place.event_id, &place.session_id))?;
    Ok(all_by_id(doc, &place)?.into_values().collect())
}

/// The number of check-ins (each id once; decodes them).
pub fn count(doc: &AutoCommit) -> usize {
    read(doc).map_or(0, |all| all.len())
}

/// The version tag of a void's value.
const VOID_V1: &str = "v1";

fn encode_void(v: &Void) -> String {
    format!("{VOID_V1}|{}|{}|{}", v.by, v.at, v.reason)
}

fn decode_void(id: &str, value: &str) -> Result<Void, DocError> {
    let bad = |m: &str| invalid("voids", format!("void of {id}: {m}"));
    let mut parts = value.splitn(4, '|');
    let (Some(VOID_V1), Some(by), Some(at), Some(reason)) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("not a void value of a known version"));
    };
    Ok(Void {
        checkin_id: id.to_owned(),
        by: by.to_owned(),
        at: at.parse().map_err(|_| bad("bad time"))?,
        reason: reason.to_owned(),
    })
}

/// Every `voids` map at the root: one, or several when nodes created it concurrently.
fn void_maps(doc: &AutoCommit) -> Result<Vec<automerge::ObjId>, DocError> {
    Ok(doc
        .get_all(ROOT, "voids")?
        .into_iter()
        .filter_map(|(v, id)| matches!(v, automerge::Value::Object(automerge::ObjType::Map)).then_some(id))
        .collect())
}

/// The void of check-in `id` in one map, if any (of concurrent voids of one id, the winner).
fn void_in(doc: &AutoCommit, map: &automerge::ObjId, id: &str) -> Result<Option<Void>, DocError> {
    match doc.get(map, id)? {
        Some((automerge::Value::Scalar(v), _)) => match v.as_ref() {
            automerge::ScalarValue::Str(s) => decode_void(id, s).map(Some),
            _ => Err(invalid("voids", format!("void of {id}: not a string"))),
        },
        Some(_) => Err(invalid("voids", format!("void of {id}: not a string"))),
        None => Ok(None),
    }
}

/// The void of check-in `id`, if it is voided. Of several (concurrent voids), the earliest.
pub fn void_of(doc: &AutoCommit, id: &str) -> Result<Option<Void>, DocError> {
    let mut found: Option<Void> = None;
    for m in void_maps(doc)? {
        if let Some(v) = void_in(doc, &m, id)?
            && found.as_ref().is_none_or(|f| (v.at, &v.by) < (f.at, &f.by))
        {
            found = Some(v);
        }
    }
    Ok(found)
}

/// Every void in the document, by check-in id (the union of concurrent `voids` maps).
pub fn voids(doc: &AutoCommit) -> Result<std::collections::BTreeMap<String, Void>, DocError> {
    let mut out = std::collections::BTreeMap::new();
    for m in void_maps(doc)? {
        for id in fields::keys(doc, &m) {
            if let Some(v) = void_of(doc, &id)? {
                out.insert(id, v);
            }
        }
    }
    Ok(out)
}

/// What voiding did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Voided {
    /// The check-in is now voided by this void.
    New(Void),
    /// It was voided before; the earlier void stands.
    Existing(Void),
}

/// Voids the check-in `void.checkin_id`, which the document must hold
/// ([`DocError::Missing`] otherwise). Voiding again changes nothing: the first void stands.
pub fn void(doc: &mut AutoCommit, void: &Void) -> Result<Voided, DocError> {
    if get(doc, &void.checkin_id)?.is_none() {
        return Err(DocError::Missing("checkins"));
    }
    if let Some(existing) = void_of(doc, &void.checkin_id)? {
        return Ok(Voided::Existing(existing));
    }
    if void.by.contains('|') {
        return Err(invalid("voids", "a node id holds '|'"));
    }
    let map = fields::ensure_map(doc, &ROOT, "voids")?;
    doc.put(&map, void.checkin_id.as_str(), encode_void(void))?;
    Ok(Voided::New(void.clone()))
}

/// The check-ins whose voids `patches` (from `diff_incremental`) put or made visible, with
/// their voids as the document now holds them.
pub fn voids_in(doc: &AutoCommit, patches: &[automerge::Patch]) -> Result<Vec<Void>, DocError> {
    use automerge::{PatchAction, Prop};
    let mut ids = std::collections::BTreeSet::new();
    let mut all = false;
    for p in patches {
        let in_voids = matches!(p.path.first(), Some((_, Prop::Map(k))) if k == "voids");
        match (&p.action, p.path.len()) {
            (PatchAction::PutMap { key, .. }, 1) if in_voids => {
                ids.insert(key.clone());
            }
            (PatchAction::PutMap { key, .. } | PatchAction::Conflict { prop: Prop::Map(key) }, 0) if key == "voids" => {
                all = true;
            }
            _ => {}
        }
    }
    if all {
        return Ok(voids(doc)?.into_values().collect());
    }
    let mut out = Vec::new();
    for id in ids {
        if let Some(v) = void_of(doc, &id)? {
            out.push(v);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkin::{Direction, Method};
    use crate::doc::actor_for;

    fn checkin(id: &str, kiosk: &str) -> CheckIn {
        let at: jiff::Timestamp = "2027-03-01T09:00:00.5Z".parse().unwrap();
        CheckIn {
            id: id.into(),
            event_id: "E1".into(),
            session_id: "S1".into(),
            member_id: "M-1".into(),
            direction: Direction::Out,
            at,
            method: Method::Qr,
            kiosk_id: kiosk.into(),
            recorded_at: at,
        }
    }

    /// The check-ins a change put are read from its patches, local or merged, in both layouts,
    /// each once however many patches name it.
    #[test]
    fn put_in_names_the_checkins_of_a_change() {
        let mut a = new_doc("E1", "S1", &actor_for("a"));
        a.update_diff_cursor();
        let checkins = checkins_map(&mut a).unwrap();
        insert_new(&mut a, &checkins, &[checkin("c2", "a"), checkin("c1", "a")]).unwrap();
        a.commit();
        let patches = a.diff_incremental();
        assert_eq!(put_in(&a, &patches).unwrap(), [checkin("c1", "a"), checkin("c2", "a")]);
        let mut b = new_doc("E1", "S1", &actor_for("b"));
        add_checkin_as_map(&mut b, &checkin("c-old", "b")).unwrap();
        add_checkin_as_value(&mut b, &checkin("c-c1", "b")).unwrap();
        add_checkin(&mut b, &checkin("c3", "b")).unwrap();
        b.commit();
        a.merge(&mut b).unwrap();
        let patches = a.diff_incremental();
        assert_eq!(put_in(&a, &patches).unwrap(), [checkin("c-c1", "b"), checkin("c-old", "b"), checkin("c3", "b")]);
        let none = a.diff_incremental();
        assert!(put_in(&a, &none).unwrap().is_empty());
        // A value that is not a check-in is an error, not skipped.
        let mut c = new_doc("E1", "S1", &actor_for("c"));
        c.update_diff_cursor();
        let m = checkins_map(&mut c).unwrap();
        c.put(&m, "bad", "c1|only|three").unwrap();
        c.commit();
        let patches = c.diff_incremental();
        assert!(put_in(&c, &patches).is_err());
    }

    /// A document from before the one-value layout keeps loading, and merges with one written
    /// after it: both layouts are read side by side.
    #[test]
    fn old_map_check_ins_read_beside_one_value_check_ins() {
        let mut old = new_doc("E1", "S1", &actor_for("old-kiosk"));
        add_checkin_as_map(&mut old, &checkin("c-old", "old-kiosk")).unwrap();
        old.commit();
        let mut new = new_doc("E1", "S1", &actor_for("new-kiosk"));
        assert_eq!(add_checkin(&mut new, &checkin("c-new", "new-kiosk")).unwrap(), Added::New);
        new.commit();
        new.merge(&mut old).unwrap();
        let all = read(&new).unwrap();
        assert_eq!(all, [checkin("c-new", "new-kiosk"), checkin("c-old", "old-kiosk")]);
        // The same check-in again is no change, in either layout; other content is a conflict.
        assert_eq!(add_checkin(&mut new, &checkin("c-old", "old-kiosk")).unwrap(), Added::Existing);
        assert_eq!(add_checkin(&mut new, &checkin("c-new", "new-kiosk")).unwrap(), Added::Existing);
        assert!(matches!(add_checkin(&mut new, &checkin("c-old", "other")), Err(DocError::Conflict(_))));
        assert_eq!(get(&new, "c-old").unwrap(), Some(checkin("c-old", "old-kiosk")));
        // Saved and loaded again, the same.
        let loaded = AutoCommit::load(&new.save()).unwrap();
        assert_eq!(read(&loaded).unwrap(), all);
    }

    /// A check-in written alone is one put; check-ins written together are one put for all.
    #[test]
    fn check_ins_written_together_are_one_value() {
        let mut d = new_doc("E1", "S1", &actor_for("k"));
        let before = d.get_heads();
        for i in 0..10 {
            add_checkin(&mut d, &checkin(&format!("c{i}"), "k")).unwrap();
        }
        d.commit();
        let ops: usize = d.get_changes(&before).iter().map(|c| c.len()).sum();
        assert_eq!(ops, 10);
        let before = d.get_heads();
        let m = checkins_map(&mut d).unwrap();
        let many: Vec<CheckIn> = (10..60).map(|i| checkin(&format!("c{i}"), "k")).collect();
        insert_new(&mut d, &m, &many).unwrap();
        d.commit();
        let ops: usize = d.get_changes(&before).iter().map(|c| c.len()).sum();
        assert_eq!(ops, 1, "fifty check-ins in one put");
        assert_eq!(read(&d).unwrap().len(), 60);
        assert_eq!(get(&d, "c33").unwrap(), Some(checkin("c33", "k")));
        assert_eq!(get(&d, "c3").unwrap(), Some(checkin("c3", "k")));
        assert_eq!(get(&d, "c6").unwrap(), Some(checkin("c6", "k")), "c6 is a prefix of c60..: found whole");
        assert_eq!(get(&d, "c600").unwrap(), None);
        // Nothing is written when one of them cannot be encoded.
        let before = d.get_heads();
        let bad = [checkin("c70", "k"), checkin("c71", "k|k")];
        assert!(insert_new(&mut d, &m, &bad).is_err());
        assert!(insert_new(&mut d, &m, &[checkin("#c72", "k")]).is_err(), "an id that looks like a batch key");
        d.commit();
        assert!(d.get_changes(&before).is_empty());
    }

    /// Documents in every layout (a map of fields per check-in, one `c1` value per check-in,
    /// `c2` batches) load, and forks in different layouts merge to the union, in any order,
    /// saved and loaded again.
    #[test]
    fn every_layout_loads_and_merges() {
        let mut maps = new_doc("E1", "S1", &actor_for("map-kiosk"));
        add_checkin_as_map(&mut maps, &checkin("m1", "map-kiosk")).unwrap();
        add_checkin_as_map(&mut maps, &checkin("m2", "map-kiosk")).unwrap();
        maps.commit();
        let mut values = new_doc("E1", "S1", &actor_for("c1-kiosk"));
        add_checkin_as_value(&mut values, &checkin("v1", "c1-kiosk")).unwrap();
        add_checkin_as_value(&mut values, &checkin("v2", "c1-kiosk")).unwrap();
        values.commit();
        let mut batches = new_doc("E1", "S1", &actor_for("c2-kiosk"));
        let m = checkins_map(&mut batches).unwrap();
        insert_new(&mut batches, &m, &[checkin("b1", "c2-kiosk"), checkin("b2", "c2-kiosk")]).unwrap();
        batches.commit();
        insert_new(&mut batches, &m, &[checkin("b3", "c2-kiosk")]).unwrap();
        batches.commit();
        // Each loads alone from its saved bytes.
        for (d, ids) in [(&mut maps, ["m1", "m2"]), (&mut values, ["v1", "v2"]), (&mut batches, ["b1", "b2"])] {
            let loaded = AutoCommit::load(&d.save()).unwrap();
            let got: Vec<String> = read(&loaded).unwrap().into_iter().map(|c| c.id).collect();
            assert!(ids.iter().all(|id| got.contains(&(*id).to_owned())), "{got:?}");
            assert_eq!(count(&loaded), got.len());
        }
        let mut one = maps.fork();
        one.merge(&mut values).unwrap();
        one.merge(&mut batches).unwrap();
        let mut other = batches.fork();
        other.merge(&mut values).unwrap();
        other.merge(&mut maps).unwrap();
        let all = read(&one).unwrap();
        let ids: Vec<&str> = all.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["b1", "b2", "b3", "m1", "m2", "v1", "v2"]);
        assert_eq!(read(&other).unwrap(), all);
        assert_eq!(read(&AutoCommit::load(&one.save()).unwrap()).unwrap(), all);
        for c in &all {
            assert_eq!(get(&one, &c.id).unwrap().as_ref(), Some(c));
        }
    }

    /// Two nodes that recorded one check-in id (a client that retried against another kiosk)
    /// are read as one check-in; with other content, every node reads the same one whatever
    /// the order of the merge, and a value keyed by the id itself stands over batches. The
    /// projection of the merge names each id once, as the document reads it.
    #[test]
    fn an_id_in_two_values_is_read_once_and_the_same_everywhere() {
        let mut a = new_doc("E1", "S1", &actor_for("a"));
        a.update_diff_cursor();
        let m = checkins_map(&mut a).unwrap();
        insert_new(&mut a, &m, &[checkin("x", "a"), checkin("dup", "same"), checkin("diff", "a")]).unwrap();
        a.commit();
        let _ = a.diff_incremental();
        let mut b = new_doc("E1", "S1", &actor_for("b"));
        let m = checkins_map(&mut b).unwrap();
        insert_new(&mut b, &m, &[checkin("diff", "b"), checkin("dup", "same"), checkin("y", "b")]).unwrap();
        b.commit();
        let mut ab = a.fork();
        ab.merge(&mut b).unwrap();
        let mut ba = b.fork();
        ba.merge(&mut a).unwrap();
        let read_ab = read(&ab).unwrap();
        assert_eq!(read_ab.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["diff", "dup", "x", "y"]);
        assert_eq!(read(&ba).unwrap(), read_ab, "the same check-ins whatever the order");
        assert_eq!(count(&ab), 4);
        let diff = get(&ab, "diff").unwrap().unwrap();
        assert_eq!(get(&ba, "diff").unwrap().as_ref(), Some(&diff));
        assert!(read_ab.contains(&diff));
        // The merge's projection on `a`: b's batch is another actor's, so what the document
        // holds for its ids is read whole.
        a.merge(&mut b).unwrap();
        let patches = a.diff_incremental();
        let projected = put_in(&a, &patches).unwrap();
        assert_eq!(projected.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["diff", "dup", "y"]);
        assert_eq!(projected[0], diff, "the projection names the check-in the document reads");
        // A value keyed by the id itself (an older layout) stands over both batches.
        let mut c = new_doc("E1", "S1", &actor_for("c"));
        add_checkin_as_value(&mut c, &checkin("diff", "c")).unwrap();
        c.commit();
        a.merge(&mut c).unwrap();
        assert_eq!(get(&a, "diff").unwrap(), Some(checkin("diff", "c")));
        let patches = a.diff_incremental();
        assert_eq!(put_in(&a, &patches).unwrap(), [checkin("diff", "c")]);
        assert_eq!(read(&a).unwrap().iter().filter(|x| x.id == "diff").count(), 1);
    }

    /// A batch of many check-ins from another node (projected with one pass over the map's
    /// keys rather than a lookup per id): what it projects is what the document reads, a value
    /// under an id's own key standing over the batch.
    #[test]
    fn a_large_foreign_batch_projects_as_the_document_reads() {
        let mut a = new_doc("E1", "S1", &actor_for("a"));
        let m = checkins_map(&mut a).unwrap();
        insert_new(&mut a, &m, &[checkin("k03", "a")]).unwrap();
        add_checkin_as_value(&mut a, &checkin("k07", "a")).unwrap();
        a.commit();
        let _ = a.diff_incremental();
        let mut b = new_doc("E1", "S1", &actor_for("b"));
        let m = checkins_map(&mut b).unwrap();
        let many: Vec<CheckIn> = (0..40).map(|i| checkin(&format!("k{i:02}"), "b")).collect();
        insert_new(&mut b, &m, &many).unwrap();
        b.commit();
        a.merge(&mut b).unwrap();
        let patches = a.diff_incremental();
        let projected = put_in(&a, &patches).unwrap();
        assert_eq!(projected.len(), 40);
        assert_eq!(projected, read(&a).unwrap(), "each id as the document reads it");
        assert_eq!(projected[7], checkin("k07", "a"), "the value under its own key stands");
        assert_eq!(get(&a, "k07").unwrap(), Some(checkin("k07", "a")));
    }

    /// Why a batch's key names its actor: two kiosks that put one key concurrently leave a
    /// conflict, and a read sees one value, hiding the other's check-ins. Batches of two
    /// kiosks that start with the same check-in id have different keys, so the merge holds
    /// both and reads the union.
    #[test]
    fn two_kiosks_never_put_one_batch_key() {
        let mut a = new_doc("E1", "S1", &actor_for("a"));
        let mut b = new_doc("E1", "S1", &actor_for("b"));
        let (ma, mb) = (checkins_map(&mut a).unwrap(), checkins_map(&mut b).unwrap());
        // The hazard, shown with a hand-made shared key: one of the two values is hidden.
        let mut sa = a.fork();
        let mut sb = b.fork();
        sa.put(&ma, "#shared", encode_batch(&[checkin("p", "a")])).unwrap();
        sb.put(&mb, "#shared", encode_batch(&[checkin("q", "b")])).unwrap();
        sa.merge(&mut sb).unwrap();
        assert_eq!(sa.get_all(&ma, "#shared").unwrap().len(), 2, "a conflict");
        assert_eq!(read(&sa).unwrap().len(), 1, "one side's check-ins hidden");
        // What the write path does: both start with "same", under keys of their own.
        insert_new(&mut a, &ma, &[checkin("same", "k"), checkin("a1", "a")]).unwrap();
        a.commit();
        insert_new(&mut b, &mb, &[checkin("same", "k"), checkin("b1", "b")]).unwrap();
        b.commit();
        a.merge(&mut b).unwrap();
        let ids: Vec<String> = read(&a).unwrap().into_iter().map(|c| c.id).collect();
        assert_eq!(ids, ["a1", "b1", "same"]);
        let keys: Vec<String> = a.keys(&ma).collect();
        assert_eq!(keys.len(), 2, "{keys:?}");
        assert!(keys.iter().all(|k| a.get_all(&ma, k).unwrap().len() == 1), "no conflict");
    }
}

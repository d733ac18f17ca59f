//! The `attendance:<event_id>:<session_id>` document: one session's check-ins.
//!
//! ```text
//! { schema, type: "attendance", id, event_id, session_id,
//!   checkins: { <checkin_id>: "c1|<member_id>|<direction>|<at>|<method>|<kiosk_id>|<recorded_at>" },
//!   voids: { <checkin_id>: "v1|<node_id>|<at>|<reason>" } }
//! ```
//!
//! `voids` holds corrections (`design.md`: a correction voids, never deletes): a mistaken
//! scan keeps its check-in and gains a void, keyed by the check-in's id. The map is not in the
//! frozen skeleton; the first void creates it in an ordinary change, so documents from before
//! keep loading. Two nodes that void concurrently may each create `voids`; Automerge keeps
//! both maps as a conflict of the root key, and every read takes the union of them, so no
//! void is ever hidden by a merge.
//!
//! Check-ins are immutable facts keyed by a unique id, so kiosks that record concurrently never
//! conflict: merging two forks gives the union of their check-ins. Each is written as **one
//! string value** (version `c1`, fields joined by `|`, which no id, name or RFC 3339 instant
//! contains): one `put` instead of a map of six, several times cheaper to write and to read
//! (see `docs/design.md`). Documents written before hold each check-in as a map of those
//! fields; both layouts are read, in the same `checkins` map of the frozen skeleton, so
//! concurrent kiosks never race to create a new map.

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

/// The version tag of the one-value layout.
const V1: &str = "c1";

/// A check-in's fields as its one value.
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

fn decode(place: &Place, id: &str, value: &str) -> Result<CheckIn, DocError> {
    let bad = |m: &str| invalid("checkins", format!("check-in {id}: {m}"));
    let parts: Vec<&str> = value.split('|').collect();
    let [V1, member, direction, at, method, kiosk, recorded] = parts[..] else {
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

/// Whether a check-in's fields can be written as one value (no field holds the separator).
fn encodable(c: &CheckIn) -> bool {
    !c.member_id.contains('|') && !c.kiosk_id.contains('|')
}

/// Records a check-in. The same id with the same content changes nothing; the same id with
/// other content is a [`DocError::Conflict`] (check-ins are never edited).
pub fn add_checkin(doc: &mut AutoCommit, c: &CheckIn) -> Result<Added, DocError> {
    let checkins = fields::ensure_map(doc, &ROOT, "checkins")?;
    if let Some(existing) = read_checkin(doc, &Place::of(doc)?, &checkins, &c.id)? {
        return if &existing == c {
            Ok(Added::Existing)
        } else {
            Err(DocError::Conflict(format!("check-in {}", c.id)))
        };
    }
    if !encodable(c) {
        return Err(invalid("checkins", format!("check-in {}: an id holds '|'", c.id)));
    }
    doc.put(&checkins, c.id.as_str(), encode(c))?;
    Ok(Added::New)
}

/// The `checkins` map of the document, created if missing (it is in the skeleton, so its id is
/// the same on every node and never changes).
pub fn checkins_map(doc: &mut AutoCommit) -> Result<automerge::ObjId, DocError> {
    fields::ensure_map(doc, &ROOT, "checkins")
}

/// Writes a check-in the caller knows the document does not hold yet, into `checkins` (from
/// [`checkins_map`]): one `put`, nothing read.
pub fn insert_new(doc: &mut AutoCommit, checkins: &automerge::ObjId, c: &CheckIn) -> Result<(), DocError> {
    if !encodable(c) {
        return Err(invalid("checkins", format!("check-in {}: an id holds '|'", c.id)));
    }
    doc.put(checkins, c.id.as_str(), encode(c))?;
    Ok(())
}

/// The check-in `id` under `checkins`, in either layout.
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

/// The check-in `id`, if the document holds it, without decoding the others.
pub fn get(doc: &AutoCommit, id: &str) -> Result<Option<CheckIn>, DocError> {
    let Some(checkins) = fields::get_map(doc, &ROOT, "checkins")? else { return Ok(None) };
    read_checkin(doc, &Place::of(doc)?, &checkins, id)
}

/// The check-ins that `patches` (from `diff_incremental`) put, as the document now holds them:
/// a one-value check-in is decoded from its patch, an old map-layout one read from the document.
pub fn put_in(doc: &AutoCommit, patches: &[automerge::Patch]) -> Result<Vec<CheckIn>, DocError> {
    use automerge::{PatchAction, Prop, ScalarValue, Value};
    let mut place = None;
    let mut checkins = None;
    let mut seen = std::collections::BTreeMap::new();
    for p in patches {
        let in_checkins = matches!(p.path.first(), Some((_, Prop::Map(k))) if k == "checkins");
        let id = match (&p.action, p.path.len()) {
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
        let c = match &p.action {
            PatchAction::PutMap { value: (Value::Scalar(v), _), .. } if p.path.len() == 1 => match v.as_ref() {
                ScalarValue::Str(s) => Some(decode(place, id, s)?),
                _ => return Err(invalid("checkins", format!("check-in {id}: not a string"))),
            },
            _ => {
                let map = match &checkins {
                    Some(m) => m,
                    None => checkins.insert(fields::req_map(doc, &ROOT, "checkins")?),
                };
                read_checkin(doc, place, map, id)?
            }
        };
        if let Some(c) = c {
            seen.insert(id.clone(), c);
        }
    }
    Ok(seen.into_values().collect())
}

/// Every check-in in the document, ordered by id.
pub fn read(doc: &AutoCommit) -> Result<Vec<CheckIn>, DocError> {
    let place = Place::of(doc)?;
    check_header(doc, &DocId::attendance(&place.event_id, &place.session_id))?;
    let checkins = fields::req_map(doc, &ROOT, "checkins")?;
    fields::keys(doc, &checkins).iter().filter_map(|id| read_checkin(doc, &place, &checkins, id).transpose()).collect()
}

/// The number of check-ins, without decoding them.
pub fn count(doc: &AutoCommit) -> usize {
    match fields::get_map(doc, &ROOT, "checkins") {
        Ok(Some(m)) => automerge::ReadDoc::length(doc, &m),
        _ => 0,
    }
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
        insert_new(&mut a, &checkins, &checkin("c1", "a")).unwrap();
        insert_new(&mut a, &checkins, &checkin("c2", "a")).unwrap();
        a.commit();
        let patches = a.diff_incremental();
        assert_eq!(put_in(&a, &patches).unwrap(), [checkin("c1", "a"), checkin("c2", "a")]);
        let mut b = new_doc("E1", "S1", &actor_for("b"));
        add_checkin_as_map(&mut b, &checkin("c-old", "b")).unwrap();
        add_checkin(&mut b, &checkin("c3", "b")).unwrap();
        b.commit();
        a.merge(&mut b).unwrap();
        let patches = a.diff_incremental();
        assert_eq!(put_in(&a, &patches).unwrap(), [checkin("c-old", "b"), checkin("c3", "b")]);
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

    /// One check-in is one put: the change holds one operation per check-in.
    #[test]
    fn a_check_in_is_one_value() {
        let mut d = new_doc("E1", "S1", &actor_for("k"));
        let before = d.get_heads();
        for i in 0..10 {
            add_checkin(&mut d, &checkin(&format!("c{i}"), "k")).unwrap();
        }
        d.commit();
        let ops: usize = d.get_changes(&before).iter().map(|c| c.len()).sum();
        assert_eq!(ops, 10);
    }
}

//! The `portfolio:<member_id>` document: one member's whole portfolio.
//!
//! ```text
//! { schema, type: "portfolio", id, member_id,
//!   profile: { name?, email? },
//!   verified: { "<event_id>/<session_id>": { event_id, session_id, event_title, session_title,
//!               provider_id, provider_name, endorsement_number, date, category,
//!               contact_minutes, cecs, verification_code } },
//!   entries: { <id>: { kind, title, description?, date, cecs?, contact_minutes?, category?,
//!                      provider?, evidence: [sha256] } },
//!   goals: { <id>: { title, target_cecs, category?, start?, due,
//!                    benchmarks: [ { title, target_cecs, due } ] } },
//!   requirements: { <id>: { title, window_start, window_end, total_cecs,
//!                           minimums: { <category>: cecs }, verified_only } },
//!   petitions: { <id>: { target_association, record_ids: [..], note?, status,
//!                        accepted_cecs?, created } } }
//! ```
//!
//! Verified records are keyed deterministically by event and session, and written only where
//! they differ, so deriving them twice, or on two nodes, converges to the same content.

use std::collections::{BTreeMap, BTreeSet};

use automerge::{ActorId, AutoCommit, ObjId, ObjType, ROOT, transaction::Transactable};

use super::fields::{self, DocError, dec, invalid};
use super::{DocId, check_header, skeleton};
use crate::goals::{Benchmark, Goal};
use crate::petition::Petition;
use crate::portfolio::{Entry, Portfolio, Profile, VerifiedRecord};
use crate::requirements::Program;

const MAPS: &[&str] = &["profile", "verified", "entries", "goals", "requirements", "petitions"];

/// A new portfolio document (its skeleton) for `member_id`, writing as `actor`.
pub fn new_doc(member_id: &str, actor: &ActorId) -> AutoCommit {
    skeleton(&DocId::portfolio(member_id), MAPS, actor)
}

/// Whether the map of verified records in `doc` (the portfolio of `member_id`) is the one its
/// frozen skeleton made, the same on every node: not put anew or deleted whole by a later
/// change (which would drop every record in it without naming one).
pub fn verified_map_is_the_skeletons(doc: &AutoCommit, member_id: &str) -> bool {
    use automerge::ReadDoc as _;
    let skeleton = new_doc(member_id, &ActorId::random());
    let id = |d: &AutoCommit| d.get(ROOT, "verified").ok().flatten().map(|(_, obj)| obj.to_string());
    id(doc).is_some_and(|mine| Some(mine) == id(&skeleton))
}

fn item(doc: &mut AutoCommit, section: &'static str, id: &str) -> Result<ObjId, DocError> {
    let s = fields::ensure_map(doc, &ROOT, section)?;
    fields::ensure_map(doc, &s, id)
}

/// Writes the profile.
pub fn put_profile(doc: &mut AutoCommit, p: &Profile) -> Result<(), DocError> {
    let m = fields::ensure_map(doc, &ROOT, "profile")?;
    fields::put_opt(doc, &m, "name", p.name.clone())?;
    fields::put_opt(doc, &m, "email", p.email.clone())
}

/// Names the member in the profile with `name` (the name they registered under), unless the
/// profile names them already; whether it wrote. Derivation does it on the central node, so that
/// the member's own devices, which hold no event roster, show the name too.
pub fn name_if_unnamed(doc: &mut AutoCommit, name: &str) -> Result<bool, DocError> {
    let m = fields::ensure_map(doc, &ROOT, "profile")?;
    if fields::get_str(doc, &m, "name")?.is_some() {
        return Ok(false);
    }
    fields::put(doc, &m, "name", name)?;
    Ok(true)
}

/// Adds or updates a self-documented entry.
pub fn put_entry(doc: &mut AutoCommit, e: &Entry) -> Result<(), DocError> {
    let m = item(doc, "entries", &e.id)?;
    fields::put(doc, &m, "kind", e.kind.as_str())?;
    fields::put(doc, &m, "title", e.title.as_str())?;
    fields::put_opt(doc, &m, "description", e.description.clone())?;
    fields::put(doc, &m, "date", e.date.to_string())?;
    fields::put_opt(doc, &m, "cecs", e.cecs.map(dec))?;
    match e.contact_minutes {
        Some(v) => fields::put(doc, &m, "contact_minutes", i64::from(v))?,
        None => {
            fields::delete(doc, &m, "contact_minutes")?;
        }
    }
    fields::put_opt(doc, &m, "category", e.category.clone())?;
    fields::put_opt(doc, &m, "provider", e.provider.clone())?;
    fields::put_str_list(doc, &m, "evidence", &e.evidence)
}

/// Removes an entry; `false` if there was none.
pub fn delete_entry(doc: &mut AutoCommit, id: &str) -> Result<bool, DocError> {
    let s = fields::ensure_map(doc, &ROOT, "entries")?;
    fields::delete(doc, &s, id)
}

/// Adds or replaces a goal.
pub fn put_goal(doc: &mut AutoCommit, g: &Goal) -> Result<(), DocError> {
    let m = item(doc, "goals", &g.id)?;
    fields::put(doc, &m, "title", g.title.as_str())?;
    fields::put(doc, &m, "target_cecs", dec(g.target_cecs))?;
    fields::put_opt(doc, &m, "category", g.category.clone())?;
    fields::put_opt(doc, &m, "start", g.start.map(|d| d.to_string()))?;
    fields::put(doc, &m, "due", g.due.to_string())?;
    if read_benchmarks(doc, &m).ok().as_deref() != Some(g.benchmarks.as_slice()) {
        let list = doc.put_object(&m, "benchmarks", ObjType::List)?;
        for (i, b) in g.benchmarks.iter().enumerate() {
            let bm = doc.insert_object(&list, i, ObjType::Map)?;
            doc.put(&bm, "title", b.title.as_str())?;
            doc.put(&bm, "target_cecs", dec(b.target_cecs))?;
            doc.put(&bm, "due", b.due.to_string())?;
        }
    }
    Ok(())
}

/// Adds or replaces a requirement program.
pub fn put_program(doc: &mut AutoCommit, p: &Program) -> Result<(), DocError> {
    let m = item(doc, "requirements", &p.id)?;
    fields::put(doc, &m, "title", p.title.as_str())?;
    fields::put(doc, &m, "window_start", p.window_start.to_string())?;
    fields::put(doc, &m, "window_end", p.window_end.to_string())?;
    fields::put(doc, &m, "total_cecs", dec(p.total_cecs))?;
    fields::put(doc, &m, "verified_only", p.verified_only)?;
    let mins = fields::ensure_map(doc, &m, "minimums")?;
    for stale in fields::keys(doc, &mins).into_iter().filter(|k| !p.minimums.contains_key(k)) {
        fields::delete(doc, &mins, &stale)?;
    }
    for (cat, v) in &p.minimums {
        fields::put(doc, &mins, cat, dec(*v))?;
    }
    Ok(())
}

/// Adds or updates a petition.
pub fn put_petition(doc: &mut AutoCommit, p: &Petition) -> Result<(), DocError> {
    let m = item(doc, "petitions", &p.id)?;
    fields::put(doc, &m, "target_association", p.target_association.as_str())?;
    fields::put_str_list(doc, &m, "record_ids", &p.record_ids)?;
    fields::put_opt(doc, &m, "note", p.note.clone())?;
    fields::put(doc, &m, "status", p.status.as_str())?;
    fields::put_opt(doc, &m, "accepted_cecs", p.accepted_cecs.map(dec))?;
    fields::put(doc, &m, "created", p.created.to_string())
}

fn put_verified(doc: &mut AutoCommit, r: &VerifiedRecord) -> Result<(), DocError> {
    let m = item(doc, "verified", &r.key())?;
    fields::put(doc, &m, "event_id", r.event_id.as_str())?;
    fields::put(doc, &m, "session_id", r.session_id.as_str())?;
    fields::put(doc, &m, "event_title", r.event_title.as_str())?;
    fields::put(doc, &m, "session_title", r.session_title.as_str())?;
    fields::put(doc, &m, "provider_id", r.provider_id.as_str())?;
    fields::put(doc, &m, "provider_name", r.provider_name.as_str())?;
    fields::put(doc, &m, "endorsement_number", r.endorsement_number.as_str())?;
    fields::put(doc, &m, "date", r.date.to_string())?;
    fields::put(doc, &m, "category", r.category.as_str())?;
    fields::put(doc, &m, "contact_minutes", i64::try_from(r.contact_minutes).unwrap_or(i64::MAX))?;
    fields::put(doc, &m, "cecs", dec(r.cecs))?;
    fields::put(doc, &m, "verification_code", r.verification_code.as_str())
}

/// Makes the portfolio's verified records of `event_id` exactly `records` (all of that event):
/// adds and updates what differs, removes records of the event that are no longer earned.
/// Returns whether anything changed. Applying the same records again changes nothing.
pub fn apply_verified(doc: &mut AutoCommit, event_id: &str, records: &[VerifiedRecord]) -> Result<bool, DocError> {
    let before = doc.get_heads();
    let section = fields::ensure_map(doc, &ROOT, "verified")?;
    let wanted: BTreeSet<String> = records.iter().map(VerifiedRecord::key).collect();
    let prefix = format!("{event_id}/");
    for key in fields::keys(doc, &section) {
        if key.starts_with(&prefix) && !wanted.contains(&key) {
            fields::delete(doc, &section, &key)?;
        }
    }
    for r in records.iter().filter(|r| r.event_id == event_id) {
        put_verified(doc, r)?;
    }
    doc.commit();
    Ok(doc.get_heads() != before)
}

fn read_benchmarks(doc: &AutoCommit, goal: &ObjId) -> Result<Vec<Benchmark>, DocError> {
    let Some(list) = fields::get_list(doc, goal, "benchmarks")? else { return Ok(Vec::new()) };
    fields::list_maps(doc, &list)?
        .iter()
        .map(|b| {
            Ok(Benchmark {
                title: fields::req_str(doc, b, "title")?,
                target_cecs: fields::req_decimal(doc, b, "target_cecs")?,
                due: fields::req_date(doc, b, "due")?,
            })
        })
        .collect()
}

fn section<T>(
    doc: &AutoCommit,
    name: &'static str,
    read: impl Fn(&AutoCommit, &str, &ObjId) -> Result<T, DocError>,
) -> Result<BTreeMap<String, T>, DocError> {
    let s = fields::req_map(doc, &ROOT, name)?;
    let mut out = BTreeMap::new();
    for id in fields::keys(doc, &s) {
        let m = fields::get_map(doc, &s, &id)?.ok_or_else(|| invalid(name, "expected a map"))?;
        let v = read(doc, &id, &m)?;
        out.insert(id, v);
    }
    Ok(out)
}

fn read_verified(doc: &AutoCommit, _key: &str, m: &ObjId) -> Result<VerifiedRecord, DocError> {
    Ok(VerifiedRecord {
        event_id: fields::req_str(doc, m, "event_id")?,
        session_id: fields::req_str(doc, m, "session_id")?,
        event_title: fields::req_str(doc, m, "event_title")?,
        session_title: fields::req_str(doc, m, "session_title")?,
        provider_id: fields::req_str(doc, m, "provider_id")?,
        provider_name: fields::req_str(doc, m, "provider_name")?,
        endorsement_number: fields::req_str(doc, m, "endorsement_number")?,
        date: fields::req_date(doc, m, "date")?,
        category: fields::req_str(doc, m, "category")?,
        contact_minutes: u64::try_from(
            fields::get_i64(doc, m, "contact_minutes")?.ok_or(DocError::Missing("contact_minutes"))?,
        )
        .map_err(|_| invalid("contact_minutes", "negative"))?,
        cecs: fields::req_decimal(doc, m, "cecs")?,
        verification_code: fields::req_str(doc, m, "verification_code")?,
    })
}

fn read_entry(doc: &AutoCommit, id: &str, m: &ObjId) -> Result<Entry, DocError> {
    Ok(Entry {
        id: id.to_owned(),
        kind: fields::req_parsed(doc, m, "kind")?,
        title: fields::req_str(doc, m, "title")?,
        description: fields::get_str(doc, m, "description")?,
        date: fields::req_date(doc, m, "date")?,
        cecs: fields::get_parsed(doc, m, "cecs")?,
        contact_minutes: fields::get_u32(doc, m, "contact_minutes")?,
        category: fields::get_str(doc, m, "category")?,
        provider: fields::get_str(doc, m, "provider")?,
        evidence: fields::get_str_list(doc, m, "evidence")?,
    })
}

fn read_goal(doc: &AutoCommit, id: &str, m: &ObjId) -> Result<Goal, DocError> {
    Ok(Goal {
        id: id.to_owned(),
        title: fields::req_str(doc, m, "title")?,
        target_cecs: fields::req_decimal(doc, m, "target_cecs")?,
        category: fields::get_str(doc, m, "category")?,
        start: fields::get_parsed(doc, m, "start")?,
        due: fields::req_date(doc, m, "due")?,
        benchmarks: read_benchmarks(doc, m)?,
    })
}

fn read_program(doc: &AutoCommit, id: &str, m: &ObjId) -> Result<Program, DocError> {
    let mut minimums = BTreeMap::new();
    if let Some(mins) = fields::get_map(doc, m, "minimums")? {
        for cat in fields::keys(doc, &mins) {
            let v = fields::str_at(doc, &mins, &cat, "minimums")?.ok_or(DocError::Missing("minimums"))?;
            minimums.insert(cat, v.parse().map_err(|_| invalid("minimums", "not a decimal"))?);
        }
    }
    Ok(Program {
        id: id.to_owned(),
        title: fields::req_str(doc, m, "title")?,
        window_start: fields::req_date(doc, m, "window_start")?,
        window_end: fields::req_date(doc, m, "window_end")?,
        total_cecs: fields::req_decimal(doc, m, "total_cecs")?,
        minimums,
        verified_only: fields::get_bool(doc, m, "verified_only")?.unwrap_or(false),
    })
}

fn read_petition(doc: &AutoCommit, id: &str, m: &ObjId) -> Result<Petition, DocError> {
    Ok(Petition {
        id: id.to_owned(),
        target_association: fields::req_str(doc, m, "target_association")?,
        record_ids: fields::get_str_list(doc, m, "record_ids")?,
        note: fields::get_str(doc, m, "note")?,
        status: fields::req_parsed(doc, m, "status")?,
        accepted_cecs: fields::get_parsed(doc, m, "accepted_cecs")?,
        created: fields::req_date(doc, m, "created")?,
    })
}

/// Reads the whole portfolio.
pub fn read(doc: &AutoCommit) -> Result<Portfolio, DocError> {
    let member_id = fields::req_str(doc, &ROOT, "member_id")?;
    check_header(doc, &DocId::portfolio(&member_id))?;
    let profile = fields::req_map(doc, &ROOT, "profile")?;
    Ok(Portfolio {
        profile: Profile {
            name: fields::get_str(doc, &profile, "name")?,
            email: fields::get_str(doc, &profile, "email")?,
        },
        verified: section(doc, "verified", read_verified)?,
        entries: section(doc, "entries", read_entry)?,
        goals: section(doc, "goals", read_goal)?,
        requirements: section(doc, "requirements", read_program)?,
        petitions: section(doc, "petitions", read_petition)?,
        member_id,
    })
}

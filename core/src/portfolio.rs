//! A member's portfolio: verified records, self-documented entries, credit totals, transcript.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use jiff::civil::Date;
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

use crate::event::{UnknownName, parse_name};
use crate::goals::Goal;
use crate::petition::Petition;
use crate::requirements::Program;
use crate::rules::{CreditRule, ceus_from_cecs};

/// The kinds of entry a member documents themself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum EntryKind {
    /// A self-directed learning activity; the only kind that carries self-reported CECs.
    Activity,
    /// A work or volunteer experience.
    Experience,
    /// A sample of work.
    WorkSample,
    /// An example of a learning activity.
    LearningActivity,
    /// A free note.
    Note,
}

impl EntryKind {
    /// Every kind.
    pub const ALL: [EntryKind; 5] =
        [Self::Activity, Self::Experience, Self::WorkSample, Self::LearningActivity, Self::Note];

    /// The stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Activity => "activity",
            Self::Experience => "experience",
            Self::WorkSample => "work_sample",
            Self::LearningActivity => "learning_activity",
            Self::Note => "note",
        }
    }
}

impl FromStr for EntryKind {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_name("entry kind", s, &Self::ALL, Self::as_str)
    }
}

impl fmt::Display for EntryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something the member documented themself.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    /// Entry id.
    pub id: String,
    /// What it is.
    pub kind: EntryKind,
    /// Title.
    pub title: String,
    /// Longer description.
    pub description: Option<String>,
    /// When it happened.
    pub date: Date,
    /// Self-reported CECs (activities only): a non-negative multiple of 0.25.
    pub cecs: Option<Decimal>,
    /// Contact minutes; credit is derived from them by the ACA rule when `cecs` is absent.
    pub contact_minutes: Option<u32>,
    /// Credit category.
    pub category: Option<String>,
    /// Who provided it.
    pub provider: Option<String>,
    /// Evidence blobs by SHA-256 (lowercase hex).
    pub evidence: Vec<String>,
}

/// Why an entry is not valid; `field` names the offending field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct EntryError {
    /// The field at fault.
    pub field: &'static str,
    /// What is wrong with it.
    pub message: String,
}

fn entry_err(field: &'static str, message: impl Into<String>) -> EntryError {
    EntryError { field, message: message.into() }
}

/// Whether `s` is a SHA-256 in lowercase hex.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Entry {
    /// Checks the rules of `cec-rules.md` for self-reported credit.
    pub fn validate(&self) -> Result<(), EntryError> {
        if self.title.trim().is_empty() {
            return Err(entry_err("title", "must not be empty"));
        }
        if let Some(cecs) = self.cecs {
            if self.kind != EntryKind::Activity {
                return Err(entry_err("cecs", "only an activity carries self-reported CECs"));
            }
            if !CreditRule::aca().is_step(cecs) {
                return Err(entry_err("cecs", "must be a non-negative multiple of 0.25"));
            }
            if let Some(m) = self.contact_minutes
                && cecs > CreditRule::aca().credit_for_minutes(m)
            {
                return Err(entry_err(
                    "cecs",
                    format!("{m} contact minutes earn at most {} CECs", CreditRule::aca().credit_for_minutes(m)),
                ));
            }
        }
        if let Some(bad) = self.evidence.iter().find(|e| !is_sha256_hex(e)) {
            return Err(entry_err("evidence", format!("{bad:?} is not a sha256 in lowercase hex")));
        }
        Ok(())
    }

    /// Self-reported CECs: given, or derived from contact minutes by the ACA rule; `None` for
    /// entries that carry no credit.
    pub fn self_reported_cecs(&self) -> Option<Decimal> {
        if self.kind != EntryKind::Activity {
            return None;
        }
        self.cecs.or_else(|| self.contact_minutes.map(|m| CreditRule::aca().credit_for_minutes(m)))
    }
}

/// Verified credit for one session, derived from endorsed attendance. Keyed by [`Self::key`]
/// so that re-derivation on any node converges on the same record.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VerifiedRecord {
    /// The event.
    pub event_id: String,
    /// The session.
    pub session_id: String,
    /// The event's title.
    pub event_title: String,
    /// The session's title.
    pub session_title: String,
    /// The provider's id.
    pub provider_id: String,
    /// The provider's name.
    pub provider_name: String,
    /// The endorsement number valid on the session's date.
    pub endorsement_number: String,
    /// The session's date, in the event's time zone.
    pub date: Date,
    /// Credit category.
    pub category: String,
    /// Creditable minutes attended.
    pub contact_minutes: u64,
    /// CECs earned.
    pub cecs: Decimal,
    /// A code the association can look up to confirm the record.
    pub verification_code: String,
}

impl VerifiedRecord {
    /// The deterministic key: `<event_id>/<session_id>` (ids never contain `/`).
    pub fn key(&self) -> String {
        verified_key(&self.event_id, &self.session_id)
    }
}

/// The key of the verified record for a session.
pub fn verified_key(event_id: &str, session_id: &str) -> String {
    format!("{event_id}/{session_id}")
}

/// The verification code of a verified record: a digest of who earned what, where and under
/// which endorsement, as four groups of four hex digits. Every node computes the same code for
/// the same record, so the central node can confirm a code a member shows.
pub fn verification_code(
    member_id: &str,
    event_id: &str,
    session_id: &str,
    cecs: Decimal,
    endorsement_number: &str,
) -> String {
    let mut h = Sha256::new();
    for part in
        ["cecsync-verify-v1", member_id, event_id, session_id, &cecs.normalize().to_string(), endorsement_number]
    {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    let digest = h.finalize();
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02X}")).collect();
    format!("{}-{}-{}-{}", &hex[0..4], &hex[4..8], &hex[8..12], &hex[12..16])
}

/// The member's profile.
#[derive(Clone, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Profile {
    /// Name.
    pub name: Option<String>,
    /// Email.
    pub email: Option<String>,
}

/// A member's whole portfolio.
#[derive(Clone, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Portfolio {
    /// Whose it is.
    pub member_id: String,
    /// Profile.
    pub profile: Profile,
    /// Educational history: verified records by key.
    pub verified: BTreeMap<String, VerifiedRecord>,
    /// Self-documented entries by id.
    pub entries: BTreeMap<String, Entry>,
    /// Plan goals by id.
    pub goals: BTreeMap<String, Goal>,
    /// Requirement programs by id.
    pub requirements: BTreeMap<String, Program>,
    /// Petitions for credit by id.
    pub petitions: BTreeMap<String, Petition>,
}

/// Where credit comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// Endorsed attendance.
    Verified,
    /// Documented by the member.
    SelfReported,
}

impl Source {
    /// `verified` or `self_reported`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Verified => "verified",
            Self::SelfReported => "self_reported",
        }
    }
}

/// One line of credit, verified or self-reported: what transcripts, goals, requirements and
/// petitions count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreditRecord {
    /// Record id: a verified record's key (`event/session`) or an entry id.
    pub id: String,
    /// Verified or self-reported.
    pub source: Source,
    /// When.
    pub date: Date,
    /// Title for people.
    pub title: String,
    /// Provider name.
    pub provider: Option<String>,
    /// Endorsement number (verified only).
    pub endorsement_number: Option<String>,
    /// Credit category.
    pub category: String,
    /// Contact minutes, when known.
    pub contact_minutes: Option<u64>,
    /// CECs.
    pub cecs: Decimal,
    /// Verification code (verified only).
    pub verification_code: Option<String>,
}

impl CreditRecord {
    /// A verified record as a credit line.
    pub fn from_verified(r: &VerifiedRecord) -> Self {
        Self {
            id: r.key(),
            source: Source::Verified,
            date: r.date,
            title: format!("{}: {}", r.event_title, r.session_title),
            provider: Some(r.provider_name.clone()),
            endorsement_number: Some(r.endorsement_number.clone()),
            category: r.category.clone(),
            contact_minutes: Some(r.contact_minutes),
            cecs: r.cecs,
            verification_code: Some(r.verification_code.clone()),
        }
    }

    /// A self-reported activity as a credit line; `None` for entries without credit.
    pub fn from_entry(e: &Entry) -> Option<Self> {
        let cecs = e.self_reported_cecs()?;
        Some(Self {
            id: e.id.clone(),
            source: Source::SelfReported,
            date: e.date,
            title: e.title.clone(),
            provider: e.provider.clone(),
            endorsement_number: None,
            category: e.category.clone().unwrap_or_else(|| crate::event::DEFAULT_CATEGORY.into()),
            contact_minutes: e.contact_minutes.map(u64::from),
            cecs,
            verification_code: None,
        })
    }

    /// Contact hours for people: contact minutes / 60 to two places, else the CECs.
    pub fn contact_hours(&self) -> Decimal {
        match self.contact_minutes {
            Some(m) => (Decimal::from(m) / Decimal::from(60)).round_dp(2).normalize(),
            None => self.cecs,
        }
    }
}

impl Portfolio {
    /// An empty portfolio for `member_id`.
    pub fn new(member_id: impl Into<String>) -> Self {
        Self { member_id: member_id.into(), ..Self::default() }
    }

    /// Every credit line, ordered by date then id.
    pub fn credit_records(&self) -> Vec<CreditRecord> {
        let mut out: Vec<CreditRecord> = self
            .verified
            .values()
            .map(CreditRecord::from_verified)
            .chain(self.entries.values().filter_map(CreditRecord::from_entry))
            .collect();
        sort_records(&mut out);
        out
    }

    /// A credit line by record id.
    pub fn record(&self, id: &str) -> Option<CreditRecord> {
        if let Some(v) = self.verified.get(id) {
            return Some(CreditRecord::from_verified(v));
        }
        self.entries.get(id).and_then(CreditRecord::from_entry)
    }
}

/// Orders credit lines by date then id.
pub fn sort_records(records: &mut [CreditRecord]) {
    records.sort_by(|a, b| (a.date, &a.id).cmp(&(b.date, &b.id)));
}

/// Credit added up, verified and self-reported apart and together.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Totals {
    /// Verified CECs.
    pub verified: Decimal,
    /// Self-reported CECs.
    pub self_reported: Decimal,
    /// Both.
    pub total: Decimal,
    /// CEU equivalent of the total.
    pub ceus: Decimal,
    /// Total by category.
    pub by_category: BTreeMap<String, Decimal>,
}

/// Adds up credit lines.
pub fn totals<'a>(records: impl IntoIterator<Item = &'a CreditRecord>) -> Totals {
    let mut t = Totals::default();
    for r in records {
        match r.source {
            Source::Verified => t.verified += r.cecs,
            Source::SelfReported => t.self_reported += r.cecs,
        }
        *t.by_category.entry(crate::event::category_key(&r.category)).or_default() += r.cecs;
    }
    t.total = t.verified + t.self_reported;
    t.ceus = ceus_from_cecs(t.total);
    t
}

/// Credit lines between two dates (inclusive, either open), with totals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transcript {
    /// The lines, by date.
    pub records: Vec<CreditRecord>,
    /// Their totals.
    pub totals: Totals,
}

/// The member's transcript between `from` and `to` (inclusive).
pub fn transcript(portfolio: &Portfolio, from: Option<Date>, to: Option<Date>) -> Transcript {
    let records: Vec<CreditRecord> = portfolio
        .credit_records()
        .into_iter()
        .filter(|r| from.is_none_or(|f| r.date >= f) && to.is_none_or(|t| r.date <= t))
        .collect();
    let totals = totals(&records);
    Transcript { records, totals }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use rust_decimal_macros::dec;

    pub(crate) fn activity(id: &str, d: Date, cecs: Option<Decimal>, minutes: Option<u32>) -> Entry {
        Entry {
            id: id.into(),
            kind: EntryKind::Activity,
            title: format!("activity {id}"),
            description: None,
            date: d,
            cecs,
            contact_minutes: minutes,
            category: None,
            provider: None,
            evidence: vec![],
        }
    }

    #[test]
    fn self_reported_cecs_are_quarter_steps() {
        let d = date(2027, 1, 1);
        assert!(activity("a", d, Some(dec!(1.25)), None).validate().is_ok());
        assert!(activity("a", d, Some(dec!(0)), None).validate().is_ok());
        let e = activity("a", d, Some(dec!(1.3)), None).validate().expect_err("not a step");
        assert_eq!(e.field, "cecs");
        assert!(activity("a", d, Some(dec!(-0.25)), None).validate().is_err());
    }

    #[test]
    fn self_reported_cecs_derive_from_minutes_by_the_aca_rule() {
        let d = date(2027, 1, 1);
        assert_eq!(activity("a", d, None, Some(50)).self_reported_cecs(), Some(dec!(0.75)));
        assert_eq!(activity("a", d, Some(dec!(2)), Some(50)).self_reported_cecs(), Some(dec!(2)));
        assert_eq!(activity("a", d, None, None).self_reported_cecs(), None);
    }

    #[test]
    fn self_reported_cecs_never_exceed_the_contact_time_given() {
        let d = date(2027, 1, 1);
        assert!(activity("a", d, Some(dec!(0.25)), Some(15)).validate().is_ok());
        assert!(activity("a", d, Some(dec!(0.25)), Some(60)).validate().is_ok());
        assert_eq!(activity("a", d, Some(dec!(10)), Some(15)).validate().expect_err("too much").field, "cecs");
    }

    #[test]
    fn only_activities_carry_cecs() {
        let mut e = activity("a", date(2027, 1, 1), Some(dec!(1)), None);
        e.kind = EntryKind::Experience;
        assert_eq!(e.validate().expect_err("experience").field, "cecs");
        e.cecs = None;
        e.contact_minutes = Some(600);
        assert_eq!(e.self_reported_cecs(), None);
    }

    #[test]
    fn evidence_must_be_sha256() {
        let mut e = activity("a", date(2027, 1, 1), None, None);
        e.evidence = vec!["../etc/passwd".into()];
        assert_eq!(e.validate().expect_err("bad").field, "evidence");
        e.evidence = vec!["a".repeat(64)];
        assert!(e.validate().is_ok());
    }

    #[test]
    fn verification_codes_are_stable_and_distinct() {
        let a = verification_code("M1", "E1", "S1", dec!(1.25), "ACA-1");
        assert_eq!(a, verification_code("M1", "E1", "S1", dec!(1.250), "ACA-1"));
        assert_ne!(a, verification_code("M2", "E1", "S1", dec!(1.25), "ACA-1"));
        assert_ne!(a, verification_code("M1", "E1", "S1", dec!(1.5), "ACA-1"));
        assert_eq!(a.len(), 19);
        assert!(a.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
    }

    #[test]
    fn totals_keep_verified_and_self_reported_apart() {
        let mut p = Portfolio::new("M1");
        let v = VerifiedRecord {
            event_id: "E1".into(),
            session_id: "S1".into(),
            event_title: "Conf".into(),
            session_title: "Ethics".into(),
            provider_id: "P".into(),
            provider_name: "Prov".into(),
            endorsement_number: "ACA-1".into(),
            date: date(2027, 3, 1),
            category: "ethics".into(),
            contact_minutes: 75,
            cecs: dec!(1.25),
            verification_code: "X".into(),
        };
        p.verified.insert(v.key(), v);
        p.entries.insert("A1".into(), activity("A1", date(2027, 2, 1), Some(dec!(2)), None));
        p.entries.insert("A2".into(), activity("A2", date(2027, 4, 1), None, Some(20)));
        let t = transcript(&p, None, None);
        assert_eq!(t.records.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["A1", "E1/S1", "A2"]);
        assert_eq!(t.totals.verified, dec!(1.25));
        assert_eq!(t.totals.self_reported, dec!(2.25));
        assert_eq!(t.totals.total, dec!(3.5));
        assert_eq!(t.totals.ceus, dec!(0.35));
        assert_eq!(t.totals.by_category["ethics"], dec!(1.25));
        assert_eq!(t.totals.by_category["general"], dec!(2.25));
        let march = transcript(&p, Some(date(2027, 3, 1)), Some(date(2027, 3, 31)));
        assert_eq!(march.records.len(), 1);
        assert_eq!(march.records[0].contact_hours(), dec!(1.25));

        // A category typed with capitals (data stored before categories were lowercased) is
        // the same category: one line by category, in its lowercase spelling.
        let mut a3 = activity("A3", date(2027, 5, 1), Some(dec!(1)), None);
        a3.category = Some("Ethics".into());
        p.entries.insert("A3".into(), a3);
        let t = transcript(&p, None, None);
        assert_eq!(t.totals.by_category["ethics"], dec!(2.25));
        assert!(!t.totals.by_category.contains_key("Ethics"), "{:?}", t.totals.by_category);
    }
}

//! Petitions for credit: a member asks another association to accept chosen CECs.

use std::fmt;
use std::str::FromStr;

use jiff::civil::Date;
use rust_decimal::Decimal;

use crate::event::{UnknownName, parse_name};
use crate::portfolio::{CreditRecord, Portfolio, Source, totals};
use crate::rules::ceus_from_cecs;

/// Where a petition stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum PetitionStatus {
    /// Being prepared.
    #[default]
    Draft,
    /// Sent, no answer yet.
    Submitted,
    /// All credit accepted.
    Accepted,
    /// Some credit accepted.
    PartiallyAccepted,
    /// Refused.
    Denied,
}

impl PetitionStatus {
    /// Every status.
    pub const ALL: [PetitionStatus; 5] =
        [Self::Draft, Self::Submitted, Self::Accepted, Self::PartiallyAccepted, Self::Denied];

    /// The stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Submitted => "submitted",
            Self::Accepted => "accepted",
            Self::PartiallyAccepted => "partially_accepted",
            Self::Denied => "denied",
        }
    }

    /// Whether the other association has answered.
    pub fn is_answer(self) -> bool {
        matches!(self, Self::Accepted | Self::PartiallyAccepted | Self::Denied)
    }
}

impl FromStr for PetitionStatus {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_name("petition status", s, &Self::ALL, Self::as_str)
    }
}

impl fmt::Display for PetitionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A petition for credit.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Petition {
    /// Petition id.
    pub id: String,
    /// The association asked to accept the credit.
    pub target_association: String,
    /// The credit lines chosen (verified keys or entry ids).
    pub record_ids: Vec<String>,
    /// A note from the member.
    pub note: Option<String>,
    /// Where it stands.
    pub status: PetitionStatus,
    /// Credit the other association accepted, once answered.
    pub accepted_cecs: Option<Decimal>,
    /// When the petition was created.
    pub created: Date,
}

/// Why a petition cannot be made or changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PetitionError {
    /// A chosen record is not in the portfolio (or carries no credit).
    #[error("record {0:?} is not a credit record of this portfolio")]
    UnknownRecord(String),
    /// A petition needs at least one record.
    #[error("a petition needs at least one record")]
    NoRecords,
    /// The same record is chosen twice.
    #[error("record {0:?} is chosen twice")]
    DuplicateRecord(String),
    /// The status cannot change this way.
    #[error("a {from} petition cannot become {to}")]
    Transition {
        /// The current status.
        from: PetitionStatus,
        /// The status asked for.
        to: PetitionStatus,
    },
    /// Accepted credit is missing or out of range.
    #[error("accepted_cecs: {0}")]
    AcceptedCecs(&'static str),
}

impl Petition {
    /// Checks the chosen records against the portfolio.
    pub fn validate(&self, portfolio: &Portfolio) -> Result<(), PetitionError> {
        if self.record_ids.is_empty() {
            return Err(PetitionError::NoRecords);
        }
        let mut seen = std::collections::BTreeSet::new();
        for id in &self.record_ids {
            if !seen.insert(id) {
                return Err(PetitionError::DuplicateRecord(id.clone()));
            }
            if portfolio.record(id).is_none() {
                return Err(PetitionError::UnknownRecord(id.clone()));
            }
        }
        Ok(())
    }

    /// Moves the petition to `to`, recording the credit accepted. `requested` is the packet's
    /// total: an acceptance defaults to it; a partial acceptance needs an amount between zero
    /// and it (exclusive); a denial accepts nothing. A petition is not reopened as a draft once
    /// submitted; an answer may be corrected.
    pub fn transition(
        &mut self,
        to: PetitionStatus,
        accepted_cecs: Option<Decimal>,
        requested: Decimal,
    ) -> Result<(), PetitionError> {
        use PetitionStatus::*;
        let allowed = match (self.status, to) {
            (Draft, Draft | Submitted) => true,
            (Draft, _) => false,
            (_, Draft) => false,
            (Submitted | Accepted | PartiallyAccepted | Denied, _) => true,
        };
        if !allowed {
            return Err(PetitionError::Transition { from: self.status, to });
        }
        let accepted = match to {
            Draft | Submitted => {
                if accepted_cecs.is_some() {
                    return Err(PetitionError::AcceptedCecs("only an answered petition has accepted credit"));
                }
                None
            }
            Accepted => {
                let a = accepted_cecs.unwrap_or(requested);
                if a != requested {
                    return Err(PetitionError::AcceptedCecs(
                        "an accepted petition accepts all requested credit; use partially_accepted",
                    ));
                }
                Some(a)
            }
            PartiallyAccepted => {
                let a = accepted_cecs.ok_or(PetitionError::AcceptedCecs("required for partially_accepted"))?;
                if a <= Decimal::ZERO || a >= requested {
                    return Err(PetitionError::AcceptedCecs("must be more than 0 and less than the credit requested"));
                }
                Some(a)
            }
            Denied => {
                if accepted_cecs.is_some_and(|a| !a.is_zero()) {
                    return Err(PetitionError::AcceptedCecs("a denied petition accepts nothing"));
                }
                Some(Decimal::ZERO)
            }
        };
        self.status = to;
        self.accepted_cecs = accepted;
        Ok(())
    }
}

/// One line of a petition packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PacketLine {
    /// The credit line.
    pub record: CreditRecord,
    /// Contact hours.
    pub contact_hours: Decimal,
    /// CEU equivalent.
    pub ceus: Decimal,
}

/// What a member sends with a petition: the chosen records with contact hours, CEU
/// equivalents, provider, endorsement numbers and verification codes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    /// The member.
    pub member_id: String,
    /// The member's name, if known.
    pub member_name: Option<String>,
    /// The petition.
    pub petition_id: String,
    /// The association asked.
    pub target_association: String,
    /// Where it stands.
    pub status: PetitionStatus,
    /// The note.
    pub note: Option<String>,
    /// The lines, in the order chosen.
    pub lines: Vec<PacketLine>,
    /// Verified CECs.
    pub verified_cecs: Decimal,
    /// Self-reported CECs.
    pub self_reported_cecs: Decimal,
    /// All CECs requested.
    pub total_cecs: Decimal,
    /// CEU equivalent of the total.
    pub total_ceus: Decimal,
    /// Contact hours in all.
    pub total_contact_hours: Decimal,
}

/// The packet of `petition` from `portfolio`.
pub fn packet(portfolio: &Portfolio, petition: &Petition) -> Result<Packet, PetitionError> {
    let mut lines = Vec::with_capacity(petition.record_ids.len());
    for id in &petition.record_ids {
        let record = portfolio.record(id).ok_or_else(|| PetitionError::UnknownRecord(id.clone()))?;
        lines.push(PacketLine { contact_hours: record.contact_hours(), ceus: ceus_from_cecs(record.cecs), record });
    }
    let t = totals(lines.iter().map(|l| &l.record));
    Ok(Packet {
        member_id: portfolio.member_id.clone(),
        member_name: portfolio.profile.name.clone(),
        petition_id: petition.id.clone(),
        target_association: petition.target_association.clone(),
        status: petition.status,
        note: petition.note.clone(),
        total_contact_hours: lines.iter().map(|l| l.contact_hours).sum(),
        lines,
        verified_cecs: t.verified,
        self_reported_cecs: t.self_reported,
        total_cecs: t.total,
        total_ceus: t.ceus,
    })
}

/// The verified lines of a packet: the ones carrying verification codes.
pub fn verified_lines(p: &Packet) -> impl Iterator<Item = &PacketLine> {
    p.lines.iter().filter(|l| l.record.source == Source::Verified)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::portfolio::{Entry, EntryKind, VerifiedRecord, verification_code};
    use jiff::civil::date;
    use rust_decimal_macros::dec;

    fn portfolio() -> Portfolio {
        let mut p = Portfolio::new("M1");
        p.profile.name = Some("Zoë Müller".into());
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
            verification_code: verification_code("M1", "E1", "S1", dec!(1.25), "ACA-1"),
        };
        p.verified.insert(v.key(), v);
        p.entries.insert(
            "A1".into(),
            Entry {
                id: "A1".into(),
                kind: EntryKind::Activity,
                title: "Reading group".into(),
                description: None,
                date: date(2027, 2, 1),
                cecs: Some(dec!(2)),
                contact_minutes: None,
                category: None,
                provider: Some("Library".into()),
                evidence: vec![],
            },
        );
        p
    }

    fn petition(ids: &[&str]) -> Petition {
        Petition {
            id: "PT1".into(),
            target_association: "NBCC".into(),
            record_ids: ids.iter().map(|s| s.to_string()).collect(),
            note: None,
            status: PetitionStatus::Draft,
            accepted_cecs: None,
            created: date(2027, 4, 1),
        }
    }

    #[test]
    fn packet_lists_the_chosen_records_with_codes_and_equivalents() {
        let p = portfolio();
        let pk = packet(&p, &petition(&["E1/S1", "A1"])).expect("packet");
        assert_eq!(pk.lines.len(), 2);
        assert_eq!(pk.lines[0].record.id, "E1/S1");
        assert_eq!(pk.lines[0].contact_hours, dec!(1.25));
        assert_eq!(pk.lines[0].ceus, dec!(0.125));
        assert_eq!(pk.lines[0].record.endorsement_number.as_deref(), Some("ACA-1"));
        assert!(pk.lines[0].record.verification_code.is_some());
        assert_eq!(pk.lines[1].record.verification_code, None);
        assert_eq!(pk.lines[1].contact_hours, dec!(2));
        assert_eq!(pk.total_cecs, dec!(3.25));
        assert_eq!(pk.verified_cecs, dec!(1.25));
        assert_eq!(pk.self_reported_cecs, dec!(2));
        assert_eq!(pk.total_ceus, dec!(0.325));
        assert_eq!(pk.total_contact_hours, dec!(3.25));
        assert_eq!(verified_lines(&pk).count(), 1);
    }

    #[test]
    fn unknown_and_duplicate_records_are_refused() {
        let p = portfolio();
        assert_eq!(petition(&["nope"]).validate(&p), Err(PetitionError::UnknownRecord("nope".into())));
        assert_eq!(petition(&["A1", "A1"]).validate(&p), Err(PetitionError::DuplicateRecord("A1".into())));
        assert_eq!(petition(&[]).validate(&p), Err(PetitionError::NoRecords));
        assert!(petition(&["A1"]).validate(&p).is_ok());
    }

    #[test]
    fn status_moves_forward_and_records_what_was_accepted() {
        let mut pt = petition(&["E1/S1", "A1"]);
        let requested = dec!(3.25);
        assert!(matches!(
            pt.transition(PetitionStatus::Accepted, None, requested),
            Err(PetitionError::Transition { .. })
        ));
        pt.transition(PetitionStatus::Submitted, None, requested).expect("submit");
        assert!(pt.transition(PetitionStatus::PartiallyAccepted, None, requested).is_err());
        assert!(pt.transition(PetitionStatus::PartiallyAccepted, Some(dec!(3.25)), requested).is_err());
        pt.transition(PetitionStatus::PartiallyAccepted, Some(dec!(2.5)), requested).expect("partial");
        assert_eq!(pt.accepted_cecs, Some(dec!(2.5)));
        pt.transition(PetitionStatus::Accepted, None, requested).expect("corrected");
        assert_eq!(pt.accepted_cecs, Some(requested));
        assert!(pt.transition(PetitionStatus::Draft, None, requested).is_err());
        pt.transition(PetitionStatus::Denied, None, requested).expect("denied");
        assert_eq!(pt.accepted_cecs, Some(dec!(0)));
    }
}

//! Derivation: endorsed attendance becomes verified records in members' portfolios.
//!
//! [`derive`] is a pure function from an event and its check-ins to the verified records each
//! member has earned; [`apply`] writes one member's records into their portfolio document so
//! that applying the same records again, or on another node, converges to the same content.

use std::collections::BTreeMap;

use automerge::AutoCommit;

use crate::attendance::{Verification, attend_all, whole_minutes};
use crate::checkin::CheckIn;
use crate::doc::DocError;
use crate::event::Event;
use crate::portfolio::{VerifiedRecord, verification_code};
use crate::rules::CreditRule;

/// The verified records earned at `event`, by member. Every member with check-ins at the event
/// appears, with an empty list when nothing verified was earned, so that [`apply`] removes
/// records that no longer hold (a late check-out that shortened presence, say).
pub fn derive(event: &Event, checkins: &[CheckIn], rule: &CreditRule) -> BTreeMap<String, Vec<VerifiedRecord>> {
    let mut out: BTreeMap<String, Vec<VerifiedRecord>> = BTreeMap::new();
    for a in attend_all(event, checkins, rule) {
        let records = out.entry(a.member_id.clone()).or_default();
        let Verification::Verified { endorsement_number } = &a.verification else { continue };
        if a.credit.credit.is_zero() {
            continue;
        }
        let Some(session) = event.sessions.get(&a.session_id) else { continue };
        records.push(VerifiedRecord {
            event_id: event.id.clone(),
            session_id: session.id.clone(),
            event_title: event.title.clone(),
            session_title: session.title.clone(),
            provider_id: event.provider.id.clone(),
            provider_name: event.provider.name.clone(),
            endorsement_number: endorsement_number.clone(),
            date: event.session_date(session),
            category: session.category.clone(),
            contact_minutes: whole_minutes(a.credit.creditable),
            cecs: a.credit.credit,
            verification_code: verification_code(
                &a.member_id,
                &event.id,
                &session.id,
                a.credit.credit,
                endorsement_number,
            ),
        });
    }
    out
}

/// Makes the verified records of `event_id` in a member's portfolio document exactly
/// `records`. Returns whether the document changed.
pub fn apply(portfolio: &mut AutoCommit, event_id: &str, records: &[VerifiedRecord]) -> Result<bool, DocError> {
    crate::doc::portfolio::apply_verified(portfolio, event_id, records)
}

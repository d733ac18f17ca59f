//! A member's portfolio: entries, goals, requirement programs and petitions, with the rules
//! that hold across them (a record a petition claims keeps its credit).

use cec_core::doc::{self, DocId};
use cec_core::goals::Goal;
use cec_core::petition::{Petition, PetitionError, PetitionStatus, packet};
use cec_core::portfolio::{Entry, Portfolio};
use cec_core::requirements::Program;
use rust_decimal::Decimal;

use super::Node;
use super::error::{NodeError, NodeResult};
use super::events::Created;
use super::index::{self, EntryCursor};

/// A petition rule broken, as the API reports it.
fn petition_err(e: PetitionError) -> NodeError {
    match e {
        PetitionError::Transition { .. } => NodeError::Conflict(e.to_string()),
        // The field is named once, by the API's answer; core's message names it for itself.
        PetitionError::AcceptedCecs(why) => NodeError::invalid("accepted_cecs", why),
        other => NodeError::invalid("record_ids", other.to_string()),
    }
}

/// A record chosen in a petition keeps the credit the petition's packet claims: while a
/// petition holds it, it is not removed and its CECs, contact minutes and date do not change;
/// its wording may.
fn refuse_if_petitioned(p: &Portfolio, entry_id: &str) -> NodeResult<()> {
    match p.petitions.values().find(|pt| pt.record_ids.iter().any(|r| r == entry_id)) {
        Some(pt) => Err(NodeError::Conflict(format!(
            "entry {entry_id:?} is a record of petition {:?} ({}): its credit cannot change and it cannot be removed",
            pt.id, pt.status
        ))),
        None => Ok(()),
    }
}

fn domain_invalid(field: &str, message: impl Into<String>) -> NodeError {
    NodeError::invalid(field, message)
}

impl Node {
    /// Changes the member's portfolio document (created if absent).
    async fn update_portfolio<T>(
        &self,
        member_id: &str,
        f: impl FnOnce(&mut automerge::AutoCommit) -> NodeResult<T>,
    ) -> NodeResult<T> {
        cec_core::id::validate(member_id).map_err(|e| NodeError::invalid("member_id", e.to_string()))?;
        self.docs.update(&DocId::portfolio(member_id), f).await
    }

    /// Adds an entry; the same entry again is [`Created::Existing`], other content a conflict.
    pub async fn create_entry(&self, member_id: &str, entry: Entry) -> NodeResult<(Created, Entry)> {
        self.update_portfolio(member_id, |d| {
            let p = doc::portfolio::read(d)?;
            if let Some(existing) = p.entries.get(&entry.id) {
                let mut same = entry.clone();
                same.cecs = same.cecs.map(|c| c.normalize());
                // An entry stored before categories were lowercased is the same entry again.
                let mut folded = existing.clone();
                folded.category = folded.category.as_deref().map(cec_core::event::category_key);
                return if folded == same {
                    Ok((Created::Existing, existing.clone()))
                } else {
                    Err(NodeError::Conflict(format!("entry {:?} exists with other content", entry.id)))
                };
            }
            doc::portfolio::put_entry(d, &entry)?;
            Ok((Created::New, entry))
        })
        .await
    }

    /// Edits an entry with `edit`; `credit_changes` says whether the edit may change its
    /// credit, contact minutes or date (refused while a petition claims it).
    pub async fn edit_entry(
        &self,
        member_id: &str,
        entry_id: &str,
        credit_changes: bool,
        edit: impl FnOnce(&mut Entry) -> NodeResult<()>,
    ) -> NodeResult<Entry> {
        self.update_portfolio(member_id, |d| {
            let p = doc::portfolio::read(d)?;
            if credit_changes {
                refuse_if_petitioned(&p, entry_id)?;
            }
            let mut e = p
                .entries
                .get(entry_id)
                .cloned()
                .ok_or_else(|| NodeError::NotFound(format!("no entry {entry_id:?}")))?;
            edit(&mut e)?;
            e.validate().map_err(|err| domain_invalid(err.field, err.message))?;
            doc::portfolio::put_entry(d, &e)?;
            Ok(e)
        })
        .await
    }

    /// Removes an entry (refused while a petition claims it).
    pub async fn delete_entry(&self, member_id: &str, entry_id: &str) -> NodeResult<()> {
        self.update_portfolio(member_id, |d| {
            refuse_if_petitioned(&doc::portfolio::read(d)?, entry_id)?;
            if !doc::portfolio::delete_entry(d, entry_id)? {
                return Err(NodeError::NotFound(format!("no entry {entry_id:?}")));
            }
            Ok(())
        })
        .await
    }

    /// A page of the member's entries by date (optionally of one kind) after `after`, and the
    /// cursor of the next page.
    pub async fn entries_page(
        &self,
        member_id: &str,
        kind: Option<String>,
        after: Option<EntryCursor>,
        limit: usize,
    ) -> NodeResult<(Vec<Entry>, Option<EntryCursor>)> {
        let m = member_id.to_owned();
        let mut keys =
            self.store.read(move |c| index::list_entries(c, &m, kind.as_deref(), after.as_ref(), limit + 1)).await?;
        let next = (keys.len() > limit).then(|| keys[limit - 1].clone());
        keys.truncate(limit);
        let items = match self.stored_portfolio(member_id).await? {
            Some(p) => keys.iter().filter_map(|(_, id)| p.entries.get(id)).cloned().collect(),
            None => Vec::new(),
        };
        Ok((items, next))
    }

    /// Sets a goal. A goal that exists keeps its start unless `start_given`.
    pub async fn put_goal(&self, member_id: &str, goal: Goal, start_given: bool) -> NodeResult<()> {
        self.update_portfolio(member_id, |d| {
            // Keep the start of an existing goal unless the request sets one (then validate: an
            // old goal's kept start may be long before today).
            let mut goal = goal;
            if let Some(old) = doc::portfolio::read(d)?.goals.get(&goal.id)
                && !start_given
            {
                goal.start = old.start;
            }
            goal.validate().map_err(|e| domain_invalid(e.field, e.message))?;
            doc::portfolio::put_goal(d, &goal)?;
            Ok(())
        })
        .await
    }

    /// Sets a requirement program.
    pub async fn put_program(&self, member_id: &str, program: &Program) -> NodeResult<()> {
        program.validate().map_err(|e| domain_invalid(e.field, e.message))?;
        self.update_portfolio(member_id, |d| Ok(doc::portfolio::put_program(d, program)?)).await
    }

    /// Creates a petition from records of the member's effective portfolio; idempotent by id.
    pub async fn create_petition(&self, member_id: &str, petition: Petition) -> NodeResult<(Created, Petition)> {
        let (p, _) = self.effective_portfolio(member_id).await?;
        petition.validate(&p).map_err(petition_err)?;
        self.update_portfolio(member_id, |d| {
            if let Some(existing) = doc::portfolio::read(d)?.petitions.get(&petition.id) {
                let same = existing.target_association == petition.target_association
                    && existing.record_ids == petition.record_ids
                    && existing.note == petition.note;
                return if same {
                    Ok((Created::Existing, existing.clone()))
                } else {
                    Err(NodeError::Conflict(format!("petition {:?} exists with other content", petition.id)))
                };
            }
            doc::portfolio::put_petition(d, &petition)?;
            Ok((Created::New, petition))
        })
        .await
    }

    /// Moves a petition to `status` (recording the CECs accepted), checked against the
    /// petition as stored, under the document's lock, so two answers racing cannot both pass.
    pub async fn answer_petition(
        &self,
        member_id: &str,
        petition_id: &str,
        status: PetitionStatus,
        accepted_cecs: Option<Decimal>,
    ) -> NodeResult<Petition> {
        let (p, _) = self.effective_portfolio(member_id).await?;
        let petition =
            p.petitions.get(petition_id).ok_or_else(|| NodeError::NotFound(format!("no petition {petition_id:?}")))?;
        let requested = packet(&p, petition).map_err(petition_err)?.total_cecs;
        self.update_portfolio(member_id, |d| {
            let mut current = doc::portfolio::read(d)?
                .petitions
                .remove(petition_id)
                .ok_or_else(|| NodeError::NotFound(format!("no petition {petition_id:?}")))?;
            current.transition(status, accepted_cecs, requested).map_err(petition_err)?;
            doc::portfolio::put_petition(d, &current)?;
            Ok(current)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_credit_refusals_name_their_field_once() {
        let e =
            crate::api::ApiError::from(petition_err(PetitionError::AcceptedCecs("required for partially_accepted")));
        assert_eq!(e.field.as_deref(), Some("accepted_cecs"));
        assert_eq!(e.message, "accepted_cecs: required for partially_accepted");
    }
}

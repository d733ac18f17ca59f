//! A member's attendance and effective portfolio, from the check-ins and portfolio this node
//! holds.

use std::collections::{BTreeMap, BTreeSet};

use std::sync::Arc;

use cec_core::portfolio::{CreditRecord, Portfolio};
use cec_core::{Attendance, CheckIn, CreditRule, Event, attend};

use super::Node;
use super::error::{NodeError, NodeResult};
use super::index;

fn check_member(member_id: &str) -> NodeResult<()> {
    cec_core::id::validate(member_id).map_err(|e| NodeError::invalid("member_id", e.to_string()))
}

impl Node {
    /// A member's check-ins this node holds, voided ones left out, with their events, grouped by event (check-ins of
    /// events this node does not hold yet are left out).
    pub async fn member_checkins(
        &self,
        member_id: &str,
        event_id: Option<&str>,
    ) -> NodeResult<Vec<(Arc<Event>, Vec<CheckIn>)>> {
        // Acknowledged check-ins of the member still in the log (not indexed before their
        // fold), taken before the index is read: see `Node::logged_where`.
        let logged = self.logged_where(|c| c.member_id == member_id && event_id.is_none_or(|e| e == c.event_id));
        let ids = super::checkins::logged_ids(&logged);
        // From the index: no attendance document is decoded to answer this. One member's rows
        // by key, read on this thread: the hop to the blocking pool and back cost more.
        let (m, e) = (member_id.to_owned(), event_id.map(str::to_owned));
        let (rows, voided, indexed) = self
            .store
            .read_here(move |c| {
                Ok((
                    index::member_checkins(c, &m, e.as_deref())?,
                    index::member_voided(c, &m, e.as_deref())?,
                    index::indexed_ids(c, &ids)?,
                ))
            })
            .await?;
        let mut rows = super::checkins::merge_logged(rows, logged, &indexed);
        rows.sort_by(|a, b| (&a.event_id, &a.session_id, a.at, &a.id).cmp(&(&b.event_id, &b.session_id, b.at, &b.id)));
        // Voided check-ins are corrections: they stay stored and listed, but earn nothing.
        let rows = cec_core::without_voided(&rows, &voided);
        let mut by_event: BTreeMap<String, Vec<CheckIn>> = BTreeMap::new();
        for c in rows {
            by_event.entry(c.event_id.clone()).or_default().push(c);
        }
        let mut out = Vec::new();
        for (event_id, checkins) in by_event {
            let Some(event) = self.event(&event_id).await? else { continue };
            out.push((event, checkins));
        }
        Ok(out)
    }

    /// A member's attendance per session from the check-ins this node holds, under the ACA
    /// rule, with each session's title.
    pub async fn attendance(&self, member_id: &str, event_id: Option<&str>) -> NodeResult<Vec<(Attendance, String)>> {
        check_member(member_id)?;
        let mut items = Vec::new();
        for (event, checkins) in self.member_checkins(member_id, event_id).await? {
            let mut sessions: Vec<&str> = checkins.iter().map(|c| c.session_id.as_str()).collect();
            sessions.sort_unstable();
            sessions.dedup();
            for sid in sessions {
                let Some(session) = event.sessions.get(sid) else { continue };
                let a = attend(&event, session, member_id, &checkins, &CreditRule::aca());
                items.push((a, session.title.clone()));
            }
        }
        Ok(items)
    }

    /// The member's portfolio as stored here, if this node holds it.
    /// Never waits for a commit in flight: it reads the portfolio as last committed.
    pub async fn stored_portfolio(&self, member_id: &str) -> NodeResult<Option<Arc<Portfolio>>> {
        check_member(member_id)?;
        Ok(self.docs.portfolio(member_id).await?)
    }

    /// The member's portfolio as this node knows it: the stored portfolio (if held) plus
    /// verified records derived from check-ins held here that the portfolio does not have yet;
    /// and whether the portfolio itself is held here.
    pub async fn effective_portfolio(&self, member_id: &str) -> NodeResult<(Portfolio, bool)> {
        let (p, held, _) = self.effective_portfolio_and_local(member_id).await?;
        Ok((p, held))
    }

    /// Of `records` (lines of the effective portfolio `p`, whose records taken from check-ins
    /// here are `local`), those the central node has not verified: taken from check-ins here,
    /// of sessions where the member has check-ins the central node did not have at the last
    /// sync. `None` on the central node, which verifies.
    pub async fn unconfirmed<'r>(
        &self,
        member_id: &str,
        p: &Portfolio,
        local: &BTreeSet<String>,
        records: &'r [CreditRecord],
    ) -> NodeResult<Option<Vec<&'r CreditRecord>>> {
        if self.role() == "central" {
            return Ok(None);
        }
        let session_of = |id: &String| p.verified.get(id).map(|v| (v.event_id.clone(), v.session_id.clone()));
        let local: Vec<&CreditRecord> = records.iter().filter(|r| local.contains(&r.id)).collect();
        let waiting =
            self.unacknowledged_sessions(member_id, local.iter().filter_map(|r| session_of(&r.id)).collect()).await?;
        Ok(Some(local.into_iter().filter(|r| session_of(&r.id).is_some_and(|s| waiting.contains(&s))).collect()))
    }

    /// [`Node::effective_portfolio`], and the keys of the verified records it took from
    /// check-ins held here because the stored portfolio lacks them: credit the central node has
    /// not verified yet (on the central node itself, records its derivation has not written
    /// yet).
    pub async fn effective_portfolio_and_local(
        &self,
        member_id: &str,
    ) -> NodeResult<(Portfolio, bool, BTreeSet<String>)> {
        // On a central node whose derivation is current and whose log is empty, the stored
        // portfolio already holds every record the check-ins here imply, so a named one is the
        // answer: a cold read then costs the portfolio's view, not also the member's check-in
        // rows scattered over the index. (Checked before the portfolio is read; see
        // `Node::derivation_current`. An unnamed one still takes its name from a roster below.)
        // The log is read before the head: a fold publishes the head before it empties the
        // log, so a check-in gone from the log here is covered by the head read next (read the
        // other way round, a fold between the two reads would hide it).
        let current = self.role() == "central" && !self.ingest.has_logged() && self.derivation_current();
        let stored = self.stored_portfolio(member_id).await?;
        if current && let Some(p) = stored.as_ref().filter(|p| p.profile.name.is_some()) {
            return Ok(((**p).clone(), true, BTreeSet::new()));
        }
        let mut local = BTreeSet::new();
        let held = stored.is_some();
        let mut p = stored.map_or_else(|| Portfolio::new(member_id), |p| (*p).clone());
        for (event, checkins) in self.member_checkins(member_id, None).await? {
            if p.profile.name.is_none() {
                // Until the member names themself, show the name they registered under.
                p.profile.name = event.roster.get(member_id).map(|m| m.name.clone());
            }
            let derived = cec_core::derive::derive(&event, &checkins, &CreditRule::aca());
            for r in derived.into_values().flatten() {
                if let std::collections::btree_map::Entry::Vacant(v) = p.verified.entry(r.key()) {
                    local.insert(r.key());
                    v.insert(r);
                }
            }
        }
        Ok((p, held, local))
    }
}

//! A member's attendance and effective portfolio, from the check-ins and portfolio this node
//! holds.

use std::collections::BTreeMap;

use cec_core::doc::{self, DocId};
use cec_core::portfolio::Portfolio;
use cec_core::{Attendance, CheckIn, CreditRule, Event, attend};

use super::Node;
use super::error::{NodeError, NodeResult};
use super::index;

fn check_member(member_id: &str) -> NodeResult<()> {
    cec_core::id::validate(member_id).map_err(|e| NodeError::invalid("member_id", e.to_string()))
}

impl Node {
    /// A member's check-ins this node holds, with their events, grouped by event (check-ins of
    /// events this node does not hold yet are left out).
    pub async fn member_checkins(
        &self,
        member_id: &str,
        event_id: Option<&str>,
    ) -> NodeResult<Vec<(Event, Vec<CheckIn>)>> {
        let (m, e) = (member_id.to_owned(), event_id.map(str::to_owned));
        let pairs = self.store.read(move |c| index::member_sessions(c, &m, e.as_deref())).await?;
        let mut by_event: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (event, session) in pairs {
            by_event.entry(event).or_default().push(session);
        }
        let mut out = Vec::new();
        for (event_id, sessions) in by_event {
            let Some(event) = self.event(&event_id).await? else { continue };
            let mut checkins = Vec::new();
            for s in sessions {
                let got = self.docs.read(&DocId::attendance(&event_id, &s), doc::attendance::read).await?;
                if let Some(list) = got {
                    checkins.extend(list?.into_iter().filter(|c| c.member_id == member_id));
                }
            }
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
    pub async fn stored_portfolio(&self, member_id: &str) -> NodeResult<Option<Portfolio>> {
        check_member(member_id)?;
        Ok(self.docs.read(&DocId::portfolio(member_id), doc::portfolio::read).await?.transpose()?)
    }

    /// The member's portfolio as this node knows it: the stored portfolio (if held) plus
    /// verified records derived from check-ins held here that the portfolio does not have yet;
    /// and whether the portfolio itself is held here.
    pub async fn effective_portfolio(&self, member_id: &str) -> NodeResult<(Portfolio, bool)> {
        let stored = self.stored_portfolio(member_id).await?;
        let held = stored.is_some();
        let mut p = stored.unwrap_or_else(|| Portfolio::new(member_id));
        for (event, checkins) in self.member_checkins(member_id, None).await? {
            if p.profile.name.is_none() {
                // Until the member names themself, show the name they registered under.
                p.profile.name = event.roster.get(member_id).map(|m| m.name.clone());
            }
            let derived = cec_core::derive::derive(&event, &checkins, &CreditRule::aca());
            for r in derived.into_values().flatten() {
                p.verified.entry(r.key()).or_insert(r);
            }
        }
        Ok((p, held))
    }
}

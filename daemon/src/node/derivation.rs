//! The central node's derivation: endorsed attendance becomes verified records in members'
//! portfolios, which then travel to the members' devices with sync.
//!
//! It follows the change feed: every check-in that arrives (from a kiosk by sync, or recorded
//! here) names its event and member; that member's records of that event are derived again
//! from all the check-ins held (`cec_core::derive`) and written with
//! `cec_core::derive::apply`, which also lowers or removes records that no longer hold. Applying
//! the same records again changes nothing, so deriving twice, or after a restart, is harmless.

use std::collections::{BTreeMap, BTreeSet};

use cec_core::CreditRule;
use cec_core::doc::DocId;

use super::Node;
use super::error::NodeResult;
use super::index;

impl Node {
    /// Makes the verified records of `event_id` in the portfolios of `members` follow the
    /// check-ins this node holds; returns how many portfolios changed. A member with nothing
    /// verified and no portfolio here gets none made.
    pub async fn derive_event(&self, event_id: &str, members: &BTreeSet<String>) -> NodeResult<usize> {
        let Some(event) = self.event(event_id).await? else { return Ok(0) };
        let mut changed = 0;
        for member in members {
            let (m, e) = (member.clone(), event_id.to_owned());
            let (checkins, voided) = self
                .store
                .read(move |c| Ok((index::member_checkins(c, &m, Some(&e))?, index::member_voided(c, &m, Some(&e))?)))
                .await?;
            let checkins = cec_core::without_voided(&checkins, &voided);
            let derived = cec_core::derive::derive(&event, &checkins, &CreditRule::aca());
            let records = derived.get(member).cloned().unwrap_or_default();
            let held = self.stored_portfolio(member).await?;
            let has_event = held.as_ref().is_some_and(|p| p.verified.values().any(|r| r.event_id == event_id));
            if records.is_empty() && !has_event {
                continue;
            }
            let id = DocId::portfolio(member.as_str());
            let did = self
                .docs
                .update(&id, |d| cec_core::derive::apply(d, event_id, &records).map_err(super::NodeError::from))
                .await?;
            changed += usize::from(did);
        }
        Ok(changed)
    }

    /// Derives what the check-ins fed after `after` imply; returns the feed position reached.
    pub async fn derive_since(&self, after: i64) -> NodeResult<i64> {
        let mut cursor = after;
        loop {
            let page = self.changes(cursor, 1000).await?;
            let Some(last) = page.last() else { return Ok(cursor) };
            cursor = last.seq;
            let ids: Vec<String> = page.iter().filter(|c| c.kind == "checkin").map(|c| c.id.clone()).collect();
            let places = self.store.read(move |c| index::checkin_members(c, &ids)).await?;
            let mut by_event: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for (event, member) in places {
                by_event.entry(event).or_default().insert(member);
            }
            for (event, members) in by_event {
                let n = self.derive_event(&event, &members).await?;
                if n > 0 {
                    tracing::info!(event = %event, portfolios = n, "verified records derived");
                }
            }
        }
    }
}

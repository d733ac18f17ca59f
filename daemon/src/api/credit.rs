//! A member's attendance and credit, from the check-ins and portfolio this node holds.

use std::collections::BTreeMap;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use cec_client::wire::{AttendanceList, CecSummary};
use cec_core::doc::{self, DocId};
use cec_core::portfolio::{Portfolio, totals};
use cec_core::{CheckIn, CreditRule, Event, attend};
use jiff::civil::Date;

use super::AppState;
use super::convert::{attendance_json, record_json};
use super::error::{ApiError, ApiResult};
use super::extract::{Query, check_id};
use crate::node::Node;
use crate::node::index;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/members/{member_id}/attendance", get(attendance))
        .route("/v1/members/{member_id}/cecs", get(cecs))
}

/// A member's check-ins this node holds, with their events, grouped by event.
async fn member_checkins(
    node: &Node,
    member_id: &str,
    event_id: Option<&str>,
) -> ApiResult<Vec<(Event, Vec<CheckIn>)>> {
    let (m, e) = (member_id.to_owned(), event_id.map(str::to_owned));
    let pairs = node.store.read(move |c| index::member_sessions(c, &m, e.as_deref())).await?;
    let mut by_event: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (event, session) in pairs {
        by_event.entry(event).or_default().push(session);
    }
    let mut out = Vec::new();
    for (event_id, sessions) in by_event {
        let Some(Some(event)) = node.docs.read(&DocId::event(&event_id), |d| doc::event::read(d).ok()).await? else {
            continue; // check-ins for an event this node does not (yet) hold
        };
        let mut checkins = Vec::new();
        for s in sessions {
            let got = node.docs.read(&DocId::attendance(&event_id, &s), doc::attendance::read).await?;
            if let Some(list) = got {
                checkins.extend(list?.into_iter().filter(|c| c.member_id == member_id));
            }
        }
        out.push((event, checkins));
    }
    Ok(out)
}

/// The member's portfolio as this node knows it: the stored portfolio (if held) plus verified
/// records derived from check-ins held here that the portfolio does not have yet.
pub(super) async fn effective_portfolio(node: &Node, member_id: &str) -> ApiResult<(Portfolio, bool)> {
    check_id("member_id", member_id)?;
    let stored = node.docs.read(&DocId::portfolio(member_id), doc::portfolio::read).await?.transpose()?;
    let held = stored.is_some();
    let mut p = stored.unwrap_or_else(|| Portfolio::new(member_id));
    for (event, checkins) in member_checkins(node, member_id, None).await? {
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

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AttendanceQuery {
    event_id: Option<String>,
}

async fn attendance(
    State(node): State<AppState>,
    Path(member_id): Path<String>,
    Query(q): Query<AttendanceQuery>,
) -> ApiResult<Json<AttendanceList>> {
    check_id("member_id", &member_id)?;
    let mut items = Vec::new();
    for (event, checkins) in member_checkins(&node, &member_id, q.event_id.as_deref()).await? {
        let mut sessions: Vec<&str> = checkins.iter().map(|c| c.session_id.as_str()).collect();
        sessions.sort_unstable();
        sessions.dedup();
        for sid in sessions {
            let Some(session) = event.sessions.get(sid) else { continue };
            let a = attend(&event, session, &member_id, &checkins, &CreditRule::aca());
            items.push(attendance_json(&a, &session.title));
        }
    }
    Ok(Json(AttendanceList { items }))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RangeQuery {
    pub(super) from: Option<String>,
    pub(super) to: Option<String>,
}

/// Parses an optional `YYYY-MM-DD` query value.
pub(super) fn parse_date(field: &str, v: Option<&str>) -> ApiResult<Option<Date>> {
    v.filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<Date>().map_err(|_| ApiError::invalid(field, format!("{s:?} is not a date like 2027-03-01")))
        })
        .transpose()
}

async fn cecs(
    State(node): State<AppState>,
    Path(member_id): Path<String>,
    Query(q): Query<RangeQuery>,
) -> ApiResult<Json<CecSummary>> {
    let from = parse_date("from", q.from.as_deref())?;
    let to = parse_date("to", q.to.as_deref())?;
    let (p, _) = effective_portfolio(&node, &member_id).await?;
    let t = cec_core::portfolio::transcript(&p, from, to);
    let sums = totals(&t.records);
    Ok(Json(CecSummary {
        member_id,
        verified_cecs: sums.verified,
        self_reported_cecs: sums.self_reported,
        total_cecs: sums.total,
        ceus: sums.ceus,
        by_category: sums.by_category,
        records: t.records.iter().map(record_json).collect(),
    }))
}

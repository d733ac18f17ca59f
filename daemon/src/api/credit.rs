//! A member's attendance and credit, from the check-ins and portfolio this node holds.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use cec_client::wire::{AttendanceList, CecSummary, UnconfirmedCredit};
use cec_core::portfolio::{Portfolio, totals};
use jiff::civil::Date;

use super::AppState;
use super::convert::{attendance_json, record_json};
use super::error::{ApiError, ApiResult};
use super::extract::{Query, check_id, check_scope_id};
use crate::node::Node;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/members/{member_id}/attendance", get(attendance))
        .route("/v1/members/{member_id}/cecs", get(cecs))
}

/// The member's portfolio as this node knows it (see [`Node::effective_portfolio`]).
pub(super) async fn effective_portfolio(node: &Node, member_id: &str) -> ApiResult<(Portfolio, bool)> {
    check_id("member_id", member_id)?;
    Ok(node.effective_portfolio(member_id).await?)
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
    if let Some(e) = &q.event_id {
        check_scope_id("event_id", e)?;
    }
    let skewed = node.skewed_sessions(&member_id, q.event_id.as_deref()).await?;
    let items = node
        .attendance(&member_id, q.event_id.as_deref())
        .await?
        .iter()
        .map(|(a, title)| {
            let mut json = attendance_json(a, title);
            // A check-in of a node whose clock was off: shown, never taken out of the credit.
            if skewed.contains(&(a.event_id.clone(), a.session_id.clone())) {
                json.flags.push("clock_skew".into());
            }
            json
        })
        .collect();
    Ok(Json(AttendanceList { items }))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RangeQuery {
    pub(super) from: Option<String>,
    pub(super) to: Option<String>,
}

/// Parses an optional `YYYY-MM-DD` query value: four digits of year (from 0001), two of
/// month, two of day, a real date; nothing else (no sign, no six-digit year, no time).
pub(super) fn parse_date(field: &str, v: Option<&str>) -> ApiResult<Option<Date>> {
    v.map(|s| {
        let shape = s.len() == 10
            && s.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
        shape
            .then(|| s.parse::<Date>().ok())
            .flatten()
            .filter(|d| d.year() >= 1)
            .ok_or_else(|| ApiError::invalid(field, format!("{s:?} is not a date like 2027-03-01")))
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
    check_id("member_id", &member_id)?;
    let (p, _, local) = node.effective_portfolio_and_local(&member_id).await?;
    let t = cec_core::portfolio::transcript(&p, from, to);
    let sums = totals(&t.records);
    let unconfirmed = node.unconfirmed(&member_id, &p, &local, &t.records).await?.map(|pending| UnconfirmedCredit {
        sessions: u32::try_from(pending.len()).unwrap_or(u32::MAX),
        cecs: pending.iter().map(|r| r.cecs).sum(),
        record_ids: pending.iter().map(|r| r.id.clone()).collect(),
    });
    Ok(Json(CecSummary {
        member_id,
        verified_cecs: sums.verified,
        self_reported_cecs: sums.self_reported,
        total_cecs: sums.total,
        ceus: sums.ceus,
        by_category: sums.by_category,
        records: t.records.iter().map(record_json).collect(),
        unconfirmed,
    }))
}

#[cfg(test)]
mod tests {
    use super::parse_date;

    #[test]
    fn query_dates_are_one_shape() {
        assert_eq!(parse_date("from", Some("2027-03-01")).unwrap(), Some(jiff::civil::date(2027, 3, 1)));
        assert_eq!(parse_date("from", Some("0001-01-01")).unwrap(), Some(jiff::civil::date(1, 1, 1)));
        assert_eq!(parse_date("from", None).unwrap(), None);
        for bad in [
            "",
            "2027-02-30",
            "2027-3-01",
            "+002027-03-01",
            "20270301",
            "2027-03-01T00:00",
            "0000-01-01",
            " 2027-03-01",
        ] {
            assert!(parse_date("from", Some(bad)).is_err(), "{bad:?}");
        }
    }
}

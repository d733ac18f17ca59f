//! Check-ins: single, batch, and the listing.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use cec_client::wire::{
    BatchItem, BatchResult, CheckInBatch, CheckInJson, ClockSkewJson, NewCheckIn as NewCheckInJson, Page, VoidRequest,
};
use cec_core::{CheckIn, Event};
use jiff::Timestamp;

use super::AppState;
use super::convert::{checkin_json, new_id, void_json};
use super::error::{ApiError, ApiResult};
use super::extract::{JsonBody, Query, check_cursor, check_id, check_scope_id, parse_limit};
use crate::node::clock::{self, Skew};
use crate::node::index::CheckInFilter;
use crate::node::{NewCheckIn, Node, NodeError, Recorded};

/// The most check-ins in one batch.
pub(super) const MAX_BATCH: usize = 1000;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/checkins", post(create).get(list))
        .route("/v1/checkins/batch", post(batch))
        .route("/v1/checkins/{checkin_id}/void", post(void))
}

/// Parses a request into the check-in as it would be stored.
fn validate(req: NewCheckInJson, node: &Node, now: Timestamp) -> Result<NewCheckIn, ApiError> {
    let id = req.id.unwrap_or_else(new_id);
    check_id("id", &id)?;
    check_scope_id("event_id", &req.event_id)?;
    check_scope_id("session_id", &req.session_id)?;
    check_id("member_id", &req.member_id)?;
    let direction = req
        .direction
        .parse()
        .map_err(|e: cec_core::event::UnknownName| ApiError::invalid("direction", e.to_string()))?;
    let method = match req.method.as_deref() {
        None => Default::default(),
        Some(m) => m.parse().map_err(|e: cec_core::event::UnknownName| ApiError::invalid("method", e.to_string()))?,
    };
    Ok(NewCheckIn {
        at_given: req.at.is_some(),
        method_given: req.method.is_some(),
        checkin: CheckIn {
            id,
            event_id: req.event_id,
            session_id: req.session_id,
            member_id: req.member_id,
            direction,
            at: req.at.unwrap_or(now),
            method,
            kiosk_id: node.identity.node_id.to_string(),
            recorded_at: now,
        },
    })
}

fn status(r: &Recorded) -> StatusCode {
    match r {
        Recorded::Created(_) => StatusCode::CREATED,
        Recorded::Existing(_) => StatusCode::OK,
    }
}

/// Shows a recording node's clock skew on its check-in: the `clock_skew` flag and the offset
/// (derived when read, see `node::clock`; credit is unchanged).
fn mark(json: &mut CheckInJson, skew: Option<&Skew>) {
    if let Some(s) = skew {
        json.flags.push("clock_skew".into());
        json.clock_skew =
            Some(ClockSkewJson { offset_ms: s.offset_ms, round_trip_ms: s.round_trip_ms, measured_at: s.measured_at });
    }
}

fn with_skew(mut json: CheckInJson, skew: Option<&Skew>) -> CheckInJson {
    mark(&mut json, skew);
    json
}

async fn mark_skews<'a>(
    node: &Node,
    items: impl IntoIterator<Item = (&'a CheckIn, &'a mut CheckInJson)>,
) -> ApiResult<()> {
    let items: Vec<_> = items.into_iter().collect();
    let skews = node.clock_skews(items.iter().map(|(c, _)| *c)).await?;
    for (c, json) in items {
        mark(json, skews.get(&c.id));
    }
    Ok(())
}

fn to_json(event: &Event, c: &CheckIn) -> CheckInJson {
    let member = event.roster.get(&c.member_id);
    checkin_json(c, member.map(|m| m.name.clone()), event.roster.is_empty() || member.is_some())
}

async fn create(
    State(node): State<AppState>,
    JsonBody(req): JsonBody<NewCheckInJson>,
) -> ApiResult<(StatusCode, Json<CheckInJson>)> {
    let inc = validate(req, &node, clock::now())?;
    let event = node.require_event(&inc.checkin.event_id).await?;
    let session_id = inc.checkin.session_id.clone();
    let mut results = node.record_checkins(&event, &session_id, vec![inc]).await?;
    let r = results.pop().ok_or_else(|| ApiError::internal("check-in", "no result"))??;
    let mut json = to_json(&event, r.checkin());
    if let Recorded::Existing(c) = &r {
        // A retry of a check-in voided since answers it as it now stands.
        json.voided = node.voids_of(vec![c.id.clone()]).await?.get(&c.id).map(void_json);
    }
    mark_skews(&node, [(r.checkin(), &mut json)]).await?;
    Ok((status(&r), Json(json)))
}

async fn batch(State(node): State<AppState>, JsonBody(req): JsonBody<CheckInBatch>) -> ApiResult<Json<BatchResult>> {
    if req.checkins.len() > MAX_BATCH {
        return Err(ApiError::invalid("checkins", format!("at most {MAX_BATCH} check-ins per batch")));
    }
    let now = clock::now();
    let items = req
        .checkins
        .into_iter()
        .enumerate()
        .map(|(index, value)| {
            serde_json::from_value::<NewCheckInJson>(value)
                .map_err(|e| ApiError::invalid(format!("checkins[{index}]"), e.to_string()))
                .and_then(|r| validate(r, &node, now))
                .map_err(|e| NodeError::Invalid { field: e.field.unwrap_or_default(), message: e.message })
        })
        .collect();
    let results = node.record_batch(items).await?;
    let retried: Vec<String> = results
        .iter()
        .filter_map(|r| match r {
            Ok((Recorded::Existing(c), _)) => Some(c.id.clone()),
            _ => None,
        })
        .collect();
    let voids = if retried.is_empty() { Default::default() } else { node.voids_of(retried).await? };
    let skews = node.clock_skews(results.iter().filter_map(|r| r.as_ref().ok()).map(|(rec, _)| rec.checkin())).await?;
    let results = results
        .into_iter()
        .enumerate()
        .map(|(index, r)| match r {
            Ok((rec, event)) => BatchItem {
                index,
                status: status(&rec).as_u16(),
                checkin: Some(with_skew(
                    CheckInJson {
                        voided: voids.get(&rec.checkin().id).map(void_json),
                        ..to_json(&event, rec.checkin())
                    },
                    skews.get(&rec.checkin().id),
                )),
                error: None,
            },
            Err(e) => {
                let e = ApiError::from(e);
                BatchItem { index, status: e.status.as_u16(), checkin: None, error: Some(e.detail()) }
            }
        })
        .collect();
    Ok(Json(BatchResult { results }))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    event_id: Option<String>,
    session_id: Option<String>,
    member_id: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
}

async fn list(State(node): State<AppState>, Query(q): Query<ListQuery>) -> ApiResult<Json<Page<CheckInJson>>> {
    let limit = parse_limit(q.limit.as_deref())?;
    for (field, v) in [("event_id", &q.event_id), ("session_id", &q.session_id)] {
        v.as_deref().map(|v| check_scope_id(field, v)).transpose()?;
    }
    q.member_id.as_deref().map(|v| check_id("member_id", v)).transpose()?;
    check_cursor(q.cursor.as_deref(), |c| cec_core::id::validate(c).is_ok())?;
    let filter =
        CheckInFilter { event_id: q.event_id, session_id: q.session_id, member_id: q.member_id, after: q.cursor };
    let (rows, next_cursor) = node.checkins(filter, limit).await?;
    let voids = node.voids_of(rows.iter().map(|(c, _)| c.id.clone()).collect()).await?;
    let skews = node.clock_skews(rows.iter().map(|(c, _)| c)).await?;
    let items = rows
        .iter()
        .map(|(c, e)| {
            let mut json = match e {
                Some(e) => to_json(e, c),
                None => checkin_json(c, None, true),
            };
            json.voided = voids.get(&c.id).map(void_json);
            with_skew(json, skews.get(&c.id))
        })
        .collect();
    Ok(Json(Page { items, next_cursor }))
}

/// Voids a check-in: the check-in stays, listed with its void, and earns nothing. Voiding it
/// again answers the void that stands.
async fn void(
    State(node): State<AppState>,
    Path(checkin_id): Path<String>,
    JsonBody(req): JsonBody<VoidRequest>,
) -> ApiResult<Json<CheckInJson>> {
    check_id("checkin_id", &checkin_id)?;
    let answer = node.void_checkin(&checkin_id, req.reason.as_deref().unwrap_or(""), clock::now()).await?;
    let event = node.event(&answer.checkin.event_id).await?;
    let mut json = match event {
        Some(e) => to_json(&e, &answer.checkin),
        None => checkin_json(&answer.checkin, None, true),
    };
    json.voided = Some(void_json(&answer.void));
    mark_skews(&node, [(&answer.checkin, &mut json)]).await?;
    if answer.new {
        tracing::info!(checkin = %checkin_id, "check-in voided");
    }
    Ok(Json(json))
}

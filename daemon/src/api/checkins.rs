//! Check-ins: single, batch, and the listing.

use std::collections::BTreeMap;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use cec_client::wire::{BatchItem, BatchResult, CheckInBatch, CheckInJson, NewCheckIn, Page};
use cec_core::doc::{self, DocId};
use cec_core::{CheckIn, Event};
use jiff::Timestamp;

use super::AppState;
use super::convert::{checkin_json, new_id};
use super::error::{ApiError, ApiResult};
use super::events::load_event;
use super::extract::{JsonBody, Query, check_id, check_scope_id, parse_limit};
use crate::node::Node;
use crate::node::index::{self, CheckInFilter};

/// The most check-ins in one batch.
pub(super) const MAX_BATCH: usize = 1000;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/v1/checkins", post(create).get(list)).route("/v1/checkins/batch", post(batch))
}

/// A validated request: the check-in as it would be stored, and which fields the client gave
/// (a retry without `at` must not conflict with the `at` the node filled in).
struct Incoming {
    checkin: CheckIn,
    at_given: bool,
    method_given: bool,
}

fn validate(req: NewCheckIn, node: &Node, now: Timestamp) -> Result<Incoming, ApiError> {
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
    Ok(Incoming {
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
            kiosk_id: node.identity.node_id.clone(),
            recorded_at: now,
        },
    })
}

/// Whether a stored check-in answers a retried request.
fn same(stored: &CheckIn, inc: &Incoming) -> bool {
    let c = &inc.checkin;
    stored.event_id == c.event_id
        && stored.session_id == c.session_id
        && stored.member_id == c.member_id
        && stored.direction == c.direction
        && (!inc.at_given || stored.at == c.at)
        && (!inc.method_given || stored.method == c.method)
}

type ItemResult = Result<(StatusCode, CheckIn), ApiError>;

/// Records the check-ins of one session in one document change (one durable write).
async fn record_session(
    node: &Node,
    event: &Event,
    session_id: &str,
    items: Vec<Incoming>,
) -> ApiResult<Vec<ItemResult>> {
    if !event.sessions.contains_key(session_id) {
        let err = ApiError::not_found(format!("no session {session_id:?} in event {:?}", event.id));
        return Ok(items.iter().map(|_| Err(err.clone())).collect());
    }
    // An id already used in another session is a conflict too: the index (and so listings and
    // credit) holds one check-in per id.
    let ids: Vec<String> = items.iter().map(|i| i.checkin.id.clone()).collect();
    let elsewhere: BTreeMap<String, String> = node
        .store
        .read(move |c| index::checkin_places(c, &ids))
        .await?
        .into_iter()
        .filter(|(_, e, s)| (e.as_str(), s.as_str()) != (event.id.as_str(), session_id))
        .map(|(id, e, s)| (id, format!("{e}/{s}")))
        .collect();
    let doc_id = DocId::attendance(&event.id, session_id);
    node.docs
        .update(&doc_id, |d| {
            // Look up only the ids being written: decoding the whole session on every scan
            // made a session's check-ins cost O(n^2) (BENCHMARKS.md).
            let mut stored: BTreeMap<String, CheckIn> = BTreeMap::new();
            for inc in &items {
                if let Some(c) = doc::attendance::get(d, &inc.checkin.id)? {
                    stored.insert(c.id.clone(), c);
                }
            }
            let mut results = Vec::with_capacity(items.len());
            for inc in items {
                if let Some(place) = elsewhere.get(&inc.checkin.id) {
                    results.push(Err(ApiError::conflict(format!(
                        "check-in {:?} exists in session {place} with other content",
                        inc.checkin.id
                    ))));
                    continue;
                }
                match stored.get(&inc.checkin.id) {
                    Some(existing) if same(existing, &inc) => results.push(Ok((StatusCode::OK, existing.clone()))),
                    Some(_) => results.push(Err(ApiError::conflict(format!(
                        "check-in {:?} exists with other content",
                        inc.checkin.id
                    )))),
                    None => {
                        doc::attendance::add_checkin(d, &inc.checkin)?;
                        stored.insert(inc.checkin.id.clone(), inc.checkin.clone());
                        results.push(Ok((StatusCode::CREATED, inc.checkin)));
                    }
                }
            }
            Ok::<_, ApiError>(results)
        })
        .await
}

fn to_json(event: &Event, c: &CheckIn) -> CheckInJson {
    let member = event.roster.get(&c.member_id);
    checkin_json(c, member.map(|m| m.name.clone()), event.roster.is_empty() || member.is_some())
}

async fn create(
    State(node): State<AppState>,
    JsonBody(req): JsonBody<NewCheckIn>,
) -> ApiResult<(StatusCode, Json<CheckInJson>)> {
    let inc = validate(req, &node, Timestamp::now())?;
    let event = load_event(&node, &inc.checkin.event_id).await?;
    let session_id = inc.checkin.session_id.clone();
    let mut results = record_session(&node, &event, &session_id, vec![inc]).await?;
    let (status, c) = results.pop().ok_or_else(|| ApiError::internal("check-in", "no result"))??;
    Ok((status, Json(to_json(&event, &c))))
}

async fn batch(State(node): State<AppState>, JsonBody(req): JsonBody<CheckInBatch>) -> ApiResult<Json<BatchResult>> {
    if req.checkins.len() > MAX_BATCH {
        return Err(ApiError::invalid("checkins", format!("at most {MAX_BATCH} check-ins per batch")));
    }
    let now = Timestamp::now();
    let mut results: Vec<Option<BatchItem>> = vec![None; req.checkins.len()];
    let fail = |index: usize, e: ApiError| BatchItem {
        index,
        status: e.status.as_u16(),
        checkin: None,
        error: Some(e.detail()),
    };
    // Group by session, keeping each session's items in request order.
    let mut groups: BTreeMap<(String, String), Vec<(usize, Incoming)>> = BTreeMap::new();
    // Sessions are written concurrently: one id in two sessions of one batch is refused here.
    let mut placed: BTreeMap<String, (String, String)> = BTreeMap::new();
    for (index, value) in req.checkins.into_iter().enumerate() {
        let parsed = serde_json::from_value::<NewCheckIn>(value)
            .map_err(|e| ApiError::invalid(format!("checkins[{index}]"), e.to_string()))
            .and_then(|r| validate(r, &node, now))
            .and_then(|inc| {
                let place = (inc.checkin.event_id.clone(), inc.checkin.session_id.clone());
                match placed.entry(inc.checkin.id.clone()) {
                    std::collections::btree_map::Entry::Occupied(o) if *o.get() != place => Err(ApiError::conflict(
                        format!("check-in {:?} appears in two sessions of this batch", inc.checkin.id),
                    )),
                    std::collections::btree_map::Entry::Occupied(_) => Ok(inc),
                    std::collections::btree_map::Entry::Vacant(v) => {
                        v.insert(place);
                        Ok(inc)
                    }
                }
            });
        match parsed {
            Ok(inc) => groups
                .entry((inc.checkin.event_id.clone(), inc.checkin.session_id.clone()))
                .or_default()
                .push((index, inc)),
            Err(e) => results[index] = Some(fail(index, e)),
        }
    }
    let mut events: BTreeMap<String, Option<Event>> = BTreeMap::new();
    let mut pending = Vec::new();
    for ((event_id, session_id), items) in groups {
        if !events.contains_key(&event_id) {
            let found = match load_event(&node, &event_id).await {
                Ok(e) => Some(e),
                Err(e) if e.code == "not_found" => None,
                Err(e) => return Err(e),
            };
            events.insert(event_id.clone(), found);
        }
        let Some(Some(event)) = events.get(&event_id) else {
            for (index, _) in items {
                results[index] = Some(fail(index, ApiError::not_found(format!("no event {event_id:?} on this node"))));
            }
            continue;
        };
        let (indexes, incs): (Vec<usize>, Vec<Incoming>) = items.into_iter().unzip();
        let event = event.clone();
        let node = node.clone();
        pending.push(async move {
            let out = record_session(&node, &event, &session_id, incs).await;
            (indexes, event, out)
        });
    }
    // Sessions are written concurrently so their commits share a transaction.
    for (indexes, event, out) in futures_util::future::join_all(pending).await {
        let out = out?;
        for (index, r) in indexes.into_iter().zip(out) {
            results[index] = Some(match r {
                Ok((status, c)) => {
                    BatchItem { index, status: status.as_u16(), checkin: Some(to_json(&event, &c)), error: None }
                }
                Err(e) => fail(index, e),
            });
        }
    }
    Ok(Json(BatchResult { results: results.into_iter().flatten().collect() }))
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
    let filter =
        CheckInFilter { event_id: q.event_id, session_id: q.session_id, member_id: q.member_id, after: q.cursor };
    let mut rows = node.store.read(move |c| index::list_checkins(c, &filter, limit + 1)).await?;
    let next_cursor = (rows.len() > limit).then(|| rows[limit - 1].id.clone());
    rows.truncate(limit);
    let mut events: BTreeMap<String, Option<Event>> = BTreeMap::new();
    let mut items = Vec::with_capacity(rows.len());
    for c in &rows {
        if !events.contains_key(&c.event_id) {
            events.insert(c.event_id.clone(), load_event(&node, &c.event_id).await.ok());
        }
        items.push(match events.get(&c.event_id) {
            Some(Some(e)) => to_json(e, c),
            _ => checkin_json(c, None, true),
        });
    }
    Ok(Json(Page { items, next_cursor }))
}

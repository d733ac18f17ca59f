//! Events, sessions and rosters.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use cec_client::wire::{EventJson, NewEvent, NewSession, Page, Roster, RosterMemberJson, SessionJson};
use cec_core::{Event, RosterMember};

use super::AppState;
use super::convert::{event_from, event_json, new_id, session_from, session_json};
use super::error::{ApiError, ApiResult};
use super::extract::{JsonBody, PageQuery, Query, check_cursor, check_id, check_scope_id, parse_limit};
use crate::node::{Created, Node};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/events", post(create_event).get(list_events))
        .route("/v1/events/{event_id}", get(get_event))
        .route("/v1/events/{event_id}/sessions", post(create_session).get(list_sessions))
        .route("/v1/events/{event_id}/sessions/{session_id}", get(get_session))
        .route("/v1/events/{event_id}/roster", post(add_roster).get(get_roster))
}

/// The event `event_id`, or 404.
pub(super) async fn load_event(node: &Node, event_id: &str) -> ApiResult<Arc<Event>> {
    check_scope_id("event_id", event_id)?;
    Ok(node.require_event(event_id).await?)
}

fn status(c: Created) -> StatusCode {
    match c {
        Created::New => StatusCode::CREATED,
        Created::Existing => StatusCode::OK,
    }
}

async fn create_event(
    State(node): State<AppState>,
    JsonBody(req): JsonBody<NewEvent>,
) -> ApiResult<(StatusCode, Json<EventJson>)> {
    let id = req.id.clone().unwrap_or_else(new_id);
    let event = event_from(req, id.clone())?;
    let (created, stored) = node.create_event(event).await?;
    Ok((status(created), Json(event_json(&stored))))
}

async fn list_events(State(node): State<AppState>, Query(q): Query<PageQuery>) -> ApiResult<Json<Page<EventJson>>> {
    let limit = parse_limit(q.limit.as_deref())?;
    check_cursor(q.cursor.as_deref(), |c| cec_core::doc::validate_scope_id(c).is_ok())?;
    let (events, more) = node.events(q.cursor.as_deref(), limit).await?;
    let next_cursor = more.then(|| events.last().map(|e| e.id.clone())).flatten();
    let items = events.iter().map(|e| event_json(e)).collect();
    Ok(Json(Page { items, next_cursor }))
}

async fn get_event(State(node): State<AppState>, Path(event_id): Path<String>) -> ApiResult<Json<EventJson>> {
    Ok(Json(event_json(&*load_event(&node, &event_id).await?)))
}

async fn create_session(
    State(node): State<AppState>,
    Path(event_id): Path<String>,
    JsonBody(req): JsonBody<NewSession>,
) -> ApiResult<(StatusCode, Json<SessionJson>)> {
    load_event(&node, &event_id).await?;
    let id = req.id.clone().unwrap_or_else(new_id);
    let session = session_from(req, id.clone())?;
    let (created, stored) = node.create_session(&event_id, session).await?;
    Ok((status(created), Json(session_json(&event_id, &stored))))
}

async fn list_sessions(
    State(node): State<AppState>,
    Path(event_id): Path<String>,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<Page<SessionJson>>> {
    let limit = parse_limit(q.limit.as_deref())?;
    check_cursor(q.cursor.as_deref(), |c| cec_core::doc::validate_scope_id(c).is_ok())?;
    let event = load_event(&node, &event_id).await?;
    let mut sessions: Vec<_> = event.sessions.values().collect();
    sessions.sort_by(|a, b| (a.starts_at, &a.id).cmp(&(b.starts_at, &b.id)));
    let page = paginate(sessions, q.cursor.as_deref(), limit, |s| s.id.clone());
    Ok(Json(Page { items: page.0.iter().map(|s| session_json(&event_id, s)).collect(), next_cursor: page.1 }))
}

/// One page of `items` (already ordered) after the item whose key is `cursor`.
pub(super) fn paginate<T>(
    items: Vec<T>,
    cursor: Option<&str>,
    limit: usize,
    key: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    let start = match cursor {
        Some(c) => items.iter().position(|i| key(i) == c).map_or(items.len(), |p| p + 1),
        None => 0,
    };
    let mut rest: Vec<T> = items.into_iter().skip(start).collect();
    let next = (rest.len() > limit).then(|| key(&rest[limit - 1]));
    rest.truncate(limit);
    (rest, next)
}

async fn get_session(
    State(node): State<AppState>,
    Path((event_id, session_id)): Path<(String, String)>,
) -> ApiResult<Json<SessionJson>> {
    let event = load_event(&node, &event_id).await?;
    let s = event
        .sessions
        .get(&session_id)
        .ok_or_else(|| ApiError::not_found(format!("no session {session_id:?} in event {event_id:?}")))?;
    Ok(Json(session_json(&event_id, s)))
}

fn roster_json(event: &Event) -> Roster {
    Roster {
        members: event
            .roster
            .values()
            .map(|m| RosterMemberJson { member_id: m.member_id.clone(), name: m.name.clone(), email: m.email.clone() })
            .collect(),
    }
}

async fn add_roster(
    State(node): State<AppState>,
    Path(event_id): Path<String>,
    JsonBody(req): JsonBody<Roster>,
) -> ApiResult<Json<Roster>> {
    load_event(&node, &event_id).await?;
    let mut members = Vec::with_capacity(req.members.len());
    for (i, m) in req.members.into_iter().enumerate() {
        check_id(&format!("members[{i}].member_id"), &m.member_id)?;
        if m.name.trim().is_empty() {
            return Err(ApiError::invalid(format!("members[{i}].name"), "must not be empty"));
        }
        members.push(RosterMember { member_id: m.member_id, name: m.name, email: m.email });
    }
    let event = node.add_roster(&event_id, &members).await?;
    Ok(Json(roster_json(&event)))
}

async fn get_roster(State(node): State<AppState>, Path(event_id): Path<String>) -> ApiResult<Json<Roster>> {
    Ok(Json(roster_json(&*load_event(&node, &event_id).await?)))
}

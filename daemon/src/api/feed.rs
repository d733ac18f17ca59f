//! The change feed: what changed since a cursor, with long poll.

use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use cec_client::wire::{ChangeJson, Changes};

use super::AppState;
use super::error::{ApiError, ApiResult};
use super::extract::{Query, parse_limit, parse_whole};

/// The longest long poll.
pub(super) const MAX_WAIT_SECS: u64 = 60;
/// The largest `since` (18 digits: far beyond any sequence number a node reaches).
pub(super) const MAX_SINCE: u64 = 999_999_999_999_999_999;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/v1/changes", get(changes))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangesQuery {
    since: Option<String>,
    wait: Option<String>,
    limit: Option<String>,
}

async fn changes(State(node): State<AppState>, Query(q): Query<ChangesQuery>) -> ApiResult<Json<Changes>> {
    let since: i64 = match q.since.as_deref() {
        None => 0,
        Some(s) => parse_whole(s, MAX_SINCE)
            .and_then(|n| i64::try_from(n).ok())
            .ok_or_else(|| ApiError::invalid("since", "not a cursor from this feed"))?,
    };
    let wait = match q.wait.as_deref() {
        None => 0,
        Some(s) => parse_whole(s, MAX_WAIT_SECS)
            .ok_or_else(|| ApiError::invalid("wait", format!("seconds from 0 to {MAX_WAIT_SECS}")))?,
    };
    let limit = parse_limit(q.limit.as_deref())?;
    let mut sub = node.subscribe_changes();
    let mut rows = node.changes(since, limit).await?;
    if rows.is_empty() && wait > 0 {
        let woke = tokio::select! {
            woke = tokio::time::timeout(Duration::from_secs(wait), sub.wait_past(since)) => matches!(woke, Ok(Ok(_))),
            () = node.stopping.cancelled() => false,
        };
        if woke {
            rows = node.changes(since, limit).await?;
        }
    }
    let cursor = rows.last().map_or(since.max(0), |r| r.seq);
    Ok(Json(Changes {
        changes: rows.into_iter().map(|r| ChangeJson { doc_id: r.doc_id, kind: r.kind, id: r.id }).collect(),
        cursor: cursor.to_string(),
    }))
}

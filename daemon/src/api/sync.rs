//! Peers, sync rounds, and credentials (issuing on the central node, installing anywhere).

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use std::collections::HashMap;

use cec_client::wire::{
    CentralStatus, CredentialJson, HeldEventJson, InstallCredential, IssueCredential, NewPeer, Page, PeerClockJson,
    PeerJson, RetentionStatus, RetiredEventJson, SyncPeerJson, SyncRequest, SyncResult, SyncStatus,
};
use cec_core::ident::{Role, Scope, Scopes};
use cec_core::sync::clock::ClockRun;

use super::AppState;
use super::error::{ApiError, ApiResult};
use super::extract::{JsonBody, check_id};
use crate::node::credential::{Credential, EnrolmentError, parse_public_key};
use crate::node::{Node, Peer, SyncReport};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/peers", get(list_peers).post(add_peer))
        .route("/v1/peers/{peer_id}", delete(remove_peer))
        .route("/v1/sync", post(sync_now))
        .route("/v1/sync/status", get(status))
        .route("/v1/admin/credentials", post(issue))
        .route("/v1/node/credential", post(install))
}

fn ts(ms: Option<i64>) -> Option<jiff::Timestamp> {
    ms.and_then(|m| jiff::Timestamp::from_millisecond(m).ok())
}

fn clock_json(node_id: &str, r: &ClockRun, bound_ms: i64) -> PeerClockJson {
    PeerClockJson {
        node_id: node_id.to_owned(),
        offset_ms: r.offset_ms,
        round_trip_ms: r.round_trip_ms,
        measured_at: ts(Some(r.last_at_ms)).unwrap_or(jiff::Timestamp::UNIX_EPOCH),
        skewed: r.exceeds(bound_ms),
    }
}

/// The peers with their clocks, and every clock this node measured.
async fn peers_and_clocks(node: &Node) -> ApiResult<(Vec<PeerJson>, Vec<PeerClockJson>)> {
    let bound = node.clock_skew_bound_ms();
    let clocks: Vec<PeerClockJson> =
        node.known_clocks().await?.iter().map(|(id, r)| clock_json(id, r, bound)).collect();
    let by_id: HashMap<&str, &PeerClockJson> = clocks.iter().map(|c| (c.node_id.as_str(), c)).collect();
    let peers = node
        .peers()
        .await?
        .into_iter()
        .map(|p| {
            let clock = by_id.get(p.peer_id.as_str()).map(|c| (*c).clone());
            PeerJson { clock, ..peer_json(p) }
        })
        .collect();
    Ok((peers, clocks))
}

fn peer_json(p: Peer) -> PeerJson {
    let state = p.state().as_str();
    PeerJson {
        peer_id: p.peer_id,
        url: p.url,
        role: p.role,
        source: p.source,
        last_seen: p.last_seen,
        last_sync: p.last_sync,
        state: state.into(),
        last_error: p.last_error,
        clock: None,
    }
}

/// A credential as the API shows it.
pub(super) fn credential_json(c: &Credential) -> CredentialJson {
    CredentialJson {
        org: c.org.clone(),
        node_id: c.node_id.to_string(),
        role: c.role.as_str().into(),
        scopes: c.scopes.iter().map(ToString::to_string).collect(),
        issued_at: c.issued_at,
        expires_at: c.expires_at,
        credential: c.encoded.clone(),
        revoked_at: None,
    }
}

async fn list_peers(State(node): State<AppState>) -> ApiResult<Json<Page<PeerJson>>> {
    let (items, _) = peers_and_clocks(&node).await?;
    Ok(Json(Page { items, next_cursor: None }))
}

async fn add_peer(
    State(node): State<AppState>,
    JsonBody(req): JsonBody<NewPeer>,
) -> ApiResult<(StatusCode, Json<PeerJson>)> {
    Ok((StatusCode::CREATED, Json(peer_json(node.add_peer(&req.url).await?))))
}

async fn remove_peer(State(node): State<AppState>, Path(peer_id): Path<String>) -> ApiResult<StatusCode> {
    check_id("peer_id", &peer_id)?;
    node.remove_peer(&peer_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn report_json(r: SyncReport) -> SyncPeerJson {
    SyncPeerJson {
        peer_id: r.peer_id,
        docs_sent: r.docs_sent,
        docs_received: r.docs_received,
        bytes_sent: r.bytes_sent,
        bytes_received: r.bytes_received,
        frames_sent: r.frames_sent,
        error: r.error,
    }
}

async fn sync_now(State(node): State<AppState>, JsonBody(req): JsonBody<SyncRequest>) -> ApiResult<Json<SyncResult>> {
    if node.credential().is_none() {
        return Err(ApiError::conflict(
            "this node is not enrolled: enrol it with a code (POST /v1/node/enroll) or install a credential \
             (POST /v1/node/credential) first",
        ));
    }
    let reports = match req.peer_id {
        Some(p) => {
            check_id("peer_id", &p)?;
            vec![node.sync_peer(&p).await?]
        }
        None => node.sync_all().await?,
    };
    Ok(Json(SyncResult { peers: reports.into_iter().map(report_json).collect() }))
}

async fn status(State(node): State<AppState>) -> ApiResult<Json<SyncStatus>> {
    let (peers, clocks) = peers_and_clocks(&node).await?;
    let central = node.unacknowledged().await?.map(|u| CentralStatus {
        peer_id: u.central,
        checkins_pending: u64::try_from(u.checkins).unwrap_or(u64::MAX),
        documents_pending: u64::try_from(u.documents).unwrap_or(u64::MAX),
    });
    Ok(Json(SyncStatus {
        node_id: node.identity.node_id.to_string(),
        enrolled: node.credential().is_some(),
        peer_url: node.peer_url.lock().ok().and_then(|u| u.clone()),
        peers,
        central,
        clocks,
        clock_skew_bound_secs: node.config.clock_skew_bound_secs,
        retention: retention_json(&node).await?,
    }))
}

/// The events retired shown at most.
const RETIRED_SHOWN: usize = 100;

async fn retention_json(node: &Node) -> ApiResult<RetentionStatus> {
    let inactive_reason = if node.role() != "kiosk" {
        Some(format!("only kiosks drop events (this node: {})", node.role()))
    } else if node.central_peer().await?.is_none() {
        Some("no central node known: nothing is dropped before it holds it".to_owned())
    } else {
        None
    };
    let retired = node.retired_events().await?;
    let last = node.retention.last_pass();
    Ok(RetentionStatus {
        active: inactive_reason.is_none(),
        inactive_reason,
        retention_days: node.config.retention_days,
        retired_count: u64::try_from(retired.len()).unwrap_or(u64::MAX),
        retired: retired
            .into_iter()
            .take(RETIRED_SHOWN)
            .map(|r| RetiredEventJson {
                event_id: r.event_id,
                ended_at: ts(Some(r.ended_at)).unwrap_or(jiff::Timestamp::UNIX_EPOCH),
                retired_at: ts(Some(r.retired_at)).unwrap_or(jiff::Timestamp::UNIX_EPOCH),
                central_id: r.central_id,
                documents: u64::try_from(r.documents).unwrap_or(0),
                checkins: u64::try_from(r.checkins).unwrap_or(0),
            })
            .collect(),
        held: last
            .as_ref()
            .map(|p| {
                p.held
                    .iter()
                    .map(|h| HeldEventJson { event_id: h.event_id.clone(), due_at: h.due_at, reason: h.reason.clone() })
                    .collect()
            })
            .unwrap_or_default(),
        last_pass_at: last.and_then(|p| p.at),
    })
}

pub(super) fn enrolment_err(e: EnrolmentError) -> ApiError {
    match e {
        EnrolmentError::Refused(c) => ApiError::invalid("credential", c.to_string()),
        EnrolmentError::OtherOrganization => ApiError::conflict(e.to_string()),
        other => ApiError::internal("enrolment", other),
    }
}

async fn issue(
    State(node): State<AppState>,
    JsonBody(req): JsonBody<IssueCredential>,
) -> ApiResult<(StatusCode, Json<CredentialJson>)> {
    let key =
        parse_public_key(&req.node_public_key).map_err(|e| ApiError::invalid("node_public_key", e.to_string()))?;
    let role: Role =
        req.role.parse().map_err(|e: cec_core::ident::RoleError| ApiError::invalid("role", e.to_string()))?;
    let mut scopes = Vec::with_capacity(req.scopes.len());
    for (i, s) in req.scopes.iter().enumerate() {
        scopes.push(s.parse::<Scope>().map_err(|e| ApiError::invalid(format!("scopes[{i}]"), e.to_string()))?);
    }
    if scopes.is_empty() {
        return Err(ApiError::invalid("scopes", "at least one scope"));
    }
    let c = node.issue_credential(&key, role, &Scopes::new(scopes), req.expires_at)?;
    Ok((StatusCode::CREATED, Json(credential_json(&c))))
}

async fn install(
    State(node): State<AppState>,
    JsonBody(req): JsonBody<InstallCredential>,
) -> ApiResult<Json<CredentialJson>> {
    let installed = install_on(&node, &req.credential, &req.org_public_key)?;
    Ok(Json(credential_json(&installed)))
}

/// Installs a credential on `node`, pinning the organization key.
pub(super) fn install_on(node: &Node, credential: &str, org_key: &str) -> ApiResult<Credential> {
    node.install_credential(credential, org_key).map_err(enrolment_err)
}

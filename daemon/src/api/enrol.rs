//! Enrolment codes and revocations: issuing codes and revoking nodes on the central node,
//! enrolling with a code anywhere, and the revocations a node knows.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use cec_client::wire::{EnrollRequest, EnrolledJson, EnrolmentJson, NewEnrolment, NewRevocation, Page, RevocationJson};
use cec_core::ident::{NodeId, Role, Scope, Scopes};

use super::AppState;
use super::error::{ApiError, ApiResult};
use super::events::paginate;
use super::extract::{JsonBody, PageQuery, Query, check_cursor, parse_limit};
use super::sync::{credential_json, enrolment_err};
use crate::node::enrol::{self, EnrolError};
use crate::node::revocation::Revocation;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/enrolments", post(create))
        .route("/v1/node/enroll", post(enroll))
        .route("/v1/admin/revocations", post(revoke).get(list_revocations))
}

fn scopes(list: &[String]) -> ApiResult<Scopes> {
    let mut out = Vec::with_capacity(list.len());
    for (i, s) in list.iter().enumerate() {
        out.push(s.parse::<Scope>().map_err(|e| ApiError::invalid(format!("scopes[{i}]"), e.to_string()))?);
    }
    if out.is_empty() {
        return Err(ApiError::invalid("scopes", "at least one scope"));
    }
    Ok(Scopes::new(out))
}

async fn create(
    State(node): State<AppState>,
    JsonBody(req): JsonBody<NewEnrolment>,
) -> ApiResult<(StatusCode, Json<EnrolmentJson>)> {
    let role: Role =
        req.role.parse().map_err(|e: cec_core::ident::RoleError| ApiError::invalid("role", e.to_string()))?;
    let issued = node
        .create_enrolment(enrol::NewEnrolment {
            role,
            scopes: scopes(&req.scopes)?,
            uses: req.uses,
            expires_at: req.expires_at,
            credential_expires_at: req.credential_expires_at,
            peer_address: req.peer_address,
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(EnrolmentJson {
            code: issued.code.to_string(),
            role: issued.request.role.as_str().into(),
            scopes: issued.request.scopes.iter().map(ToString::to_string).collect(),
            uses: issued.request.uses,
            expires_at: issued.request.expires_at,
            credential_expires_at: issued.credential_expires_at,
            central_url: issued.code.central_url(),
        }),
    ))
}

fn enrol_err(e: EnrolError) -> ApiError {
    match e {
        EnrolError::Code(c) => ApiError::invalid("code", c.to_string()),
        EnrolError::Refused(_) | EnrolError::Fingerprint(_) => ApiError::invalid("code", e.to_string()),
        EnrolError::IsCentral | EnrolError::OtherOrganization => ApiError::conflict(e.to_string()),
        EnrolError::Unreachable { .. } => ApiError::central_unreachable(e.to_string()),
        EnrolError::Install(i) => enrolment_err(i),
        EnrolError::Node(n) => n.into(),
    }
}

async fn enroll(State(node): State<AppState>, JsonBody(req): JsonBody<EnrollRequest>) -> ApiResult<Json<EnrolledJson>> {
    let e = node.enroll(&req.code).await.map_err(enrol_err)?;
    Ok(Json(EnrolledJson {
        credential: credential_json(&e.credential),
        org_public_key: e.org_public_key,
        central_id: e.central.to_string(),
        central_url: e.central_url,
    }))
}

fn revocation_json(r: &Revocation) -> RevocationJson {
    RevocationJson { node_id: r.node_id.to_string(), revoked_at: r.revoked_at, revocation: r.encoded.clone() }
}

async fn revoke(
    State(node): State<AppState>,
    JsonBody(req): JsonBody<NewRevocation>,
) -> ApiResult<(StatusCode, Json<RevocationJson>)> {
    let id: NodeId = req
        .node_id
        .trim()
        .parse()
        .map_err(|e: cec_core::ident::NodeIdError| ApiError::invalid("node_id", e.to_string()))?;
    let (r, new) = node.revoke(&id).await?;
    Ok((if new { StatusCode::CREATED } else { StatusCode::OK }, Json(revocation_json(&r))))
}

async fn list_revocations(
    State(node): State<AppState>,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<Page<RevocationJson>>> {
    let limit = parse_limit(q.limit.as_deref())?;
    check_cursor(q.cursor.as_deref(), |c| c.parse::<cec_core::ident::NodeId>().is_ok())?;
    let all: Vec<RevocationJson> = node.revocations().iter().map(revocation_json).collect();
    let (items, next_cursor) = paginate(all, q.cursor.as_deref(), limit, |r| r.node_id.clone());
    Ok(Json(Page { items, next_cursor }))
}

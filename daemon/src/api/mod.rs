//! The local HTTP API (`docs/api.md`): `app(node) -> Router` builds it, `serve` runs it.
//!
//! One file per resource. Guards run before any handler: the `Host` check (no DNS
//! rebinding: only loopback names and addresses) and the bearer token or a page session
//! (all but `GET /v1/health` and the pages' static assets and `/open`: `pages.rs`,
//! `session.rs`).

mod checkins;
mod convert;
mod credit;
mod enrol;
mod error;
mod etag;
mod events;
mod extract;
mod feed;
mod metrics;
mod openapi;
mod openapi_rules;
mod pages;
mod portfolio;
mod reports;
mod server;
mod session;
mod sync;

use std::sync::Arc;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use cec_client::wire::{Health, NodeInfo};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;

pub use error::{ApiError, ApiResult};

use crate::node::Node;

/// Handler state: the node.
pub type AppState = Arc<Node>;

/// The API's router over `node`.
///
/// The routes sit behind one fallback service so that a layer sees their final answers: axum
/// adds `Allow` to a 405 outside any layer of the router that routes it.
pub fn app(node: AppState) -> Router {
    Router::new()
        .fallback_service(routes(node.clone()))
        .layer(middleware::from_fn_with_state(node, hide_methods_without_token))
}

fn routes(node: AppState) -> Router {
    let v1 = Router::new()
        .route("/v1/node", get(node_info))
        .route("/v1/openapi.json", get(openapi::openapi_json))
        .route("/metrics", get(metrics::render))
        .merge(events::routes())
        .merge(checkins::routes())
        .merge(credit::routes())
        .merge(portfolio::routes())
        .merge(reports::routes())
        .merge(feed::routes())
        .merge(sync::routes())
        .merge(enrol::routes())
        .merge(pages::api_routes())
        .route_layer(middleware::from_fn_with_state(node.clone(), require_token));
    Router::new()
        .route("/v1/health", get(health))
        .merge(pages::routes())
        .merge(v1)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(metrics::track))
        .layer(middleware::from_fn(etag::etag))
        .layer(middleware::from_fn(check_host))
        .layer(middleware::from_fn(error::json_errors))
        .layer(CompressionLayer::new())
        .layer(CatchPanicLayer::custom(|_| ApiError::internal("handler", "panicked").into_response()))
        .with_state(node)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint; see /v1/openapi.json")
}

async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
}

/// Whether a `Host` header names this machine: `localhost`, `*.localhost`, 127.0.0.0/8, ::1,
/// each with an optional port. Anything after a bracketed address but a port is refused.
fn is_loopback_host(host: &str) -> bool {
    fn is_port(p: &str) -> bool {
        p.len() <= 5 && p.chars().all(|c| c.is_ascii_digit())
    }
    if let Some(rest) = host.strip_prefix('[') {
        let Some((addr, after)) = rest.split_once(']') else { return false };
        let port_ok = after.is_empty() || after.strip_prefix(':').is_some_and(is_port);
        return port_ok && addr.parse::<std::net::Ipv6Addr>().is_ok_and(|ip| ip.is_loopback());
    }
    let name = match host.rsplit_once(':') {
        Some((h, port)) if is_port(port) => h,
        Some(_) => return false,
        None => host,
    };
    let name = name.to_ascii_lowercase();
    if name == "localhost" || name.ends_with(".localhost") {
        return true;
    }
    name.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

async fn check_host(req: Request, next: Next) -> Response {
    // An absolute-form request line names its host too; both must be this machine.
    if let Some(h) = req.uri().authority().map(|a| a.as_str())
        && !is_loopback_host(h)
    {
        return ApiError::forbidden(format!("host {h:?} is not this machine")).into_response();
    }
    let mut hosts = req.headers().get_all(header::HOST).iter();
    let first = hosts.next();
    if hosts.next().is_some() {
        return ApiError::bad_request("more than one Host header").into_response();
    }
    let host = match first {
        Some(h) => match h.to_str() {
            Ok(h) => Some(h),
            Err(_) => return ApiError::bad_request("the Host header is not ASCII").into_response(),
        },
        None => req.uri().host(),
    };
    match host {
        Some(h) if is_loopback_host(h) => next.run(req).await,
        Some(h) => ApiError::forbidden(format!("host {h:?} is not this machine")).into_response(),
        None => ApiError::forbidden("a Host header is required").into_response(),
    }
}

/// Whether the request carries this node's token: `Authorization: Bearer <token>`, the scheme
/// in any case (RFC 9110 §11.1).
fn has_token(node: &Node, headers: &axum::http::HeaderMap) -> bool {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim_start().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    given.is_some_and(|t| constant_time_eq(t.as_bytes(), node.identity.token.as_bytes()))
}

async fn require_token(State(node): State<AppState>, req: Request, next: Next) -> Response {
    match session::auth(&node, req.method(), req.headers()) {
        session::Auth::Token | session::Auth::Session(session::Cookie::Day) => next.run(req).await,
        session::Auth::Session(session::Cookie::Paired { id, expires }) => {
            let matched = req.extensions().get::<MatchedPath>().map(MatchedPath::as_str);
            if !session::kiosk_allows(req.method(), matched) {
                return ApiError::forbidden(
                    "a paired kiosk screen reaches only what the kiosk screen needs; \
                     open other pages with `cec open PAGE`",
                )
                .into_response();
            }
            let mut resp = next.run(req).await;
            pages::renew(&node, &id, expires, &mut resp).await;
            resp
        }
        session::Auth::CrossSite => {
            ApiError::forbidden("a page's request must carry X-CEC-Request: 1 and come from this origin")
                .into_response()
        }
        session::Auth::Ended => ApiError::session_ended().into_response(),
        session::Auth::None => ApiError::unauthorized().into_response(),
    }
}

/// Paths open without the token: health, the pages' assets and the ticket exchange.
fn is_open_path(path: &str) -> bool {
    path == "/v1/health"
        || path == "/open"
        || path.starts_with("/assets/")
        || pages::PAGES.iter().any(|p| path.strip_prefix('/') == Some(p))
}

/// A `405` lists the path's methods in `Allow`; without the token that is a `401` like any
/// other answer from a protected path.
async fn hide_methods_without_token(State(node): State<AppState>, req: Request, next: Next) -> Response {
    let open = is_open_path(req.uri().path())
        || matches!(
            session::auth(&node, req.method(), req.headers()),
            session::Auth::Token | session::Auth::Session(_)
        );
    let resp = next.run(req).await;
    if resp.status() == axum::http::StatusCode::METHOD_NOT_ALLOWED && !open {
        return ApiError::unauthorized().into_response();
    }
    resp
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn health(State(node): State<AppState>) -> axum::Json<Health> {
    axum::Json(Health {
        status: "ok".into(),
        node_id: node.identity.node_id.to_string(),
        role: node.role().into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

async fn node_info(State(node): State<AppState>) -> axum::Json<NodeInfo> {
    axum::Json(NodeInfo {
        node_id: node.identity.node_id.to_string(),
        role: node.role().into(),
        public_key: node.identity.public_key(),
        org_public_key: node.org_key().map(|k| crate::node::credential::encode_public_key(&k)),
        credential: node.credential().and_then(|c| {
            let mut json = sync::credential_json(&c);
            json.revoked_at = node.own_revocation().map(|r| r.revoked_at);
            serde_json::to_value(json).ok()
        }),
        data_dir: node.data_dir.display().to_string(),
        listen: node.listen.lock().map(|l| l.clone()).unwrap_or_default(),
        peer_url: node.peer_url.lock().ok().and_then(|u| u.clone()),
    })
}

/// Serves `app` on `listener` until `shutdown` resolves, then finishes in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    node: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    server::serve(listener, node, shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for ok in ["localhost", "localhost:7420", "127.0.0.1", "127.0.0.1:80", "[::1]:7420", "[::1]", "app.localhost:1"]
        {
            assert!(is_loopback_host(ok), "{ok}");
        }
        for bad in [
            "example.com",
            "evil.com:7420",
            "10.0.0.1",
            "192.168.1.2:7420",
            "localhost.evil.com",
            "[2001:db8::1]",
            "[::1].evil.com",
            "[::1]evil",
            "[::1]:80.evil.com",
            "[::1",
            "localhost:x",
            "127.0.0.1:80:80",
            "::1",
            "[127.0.0.1]",
            "localhost:123456",
        ] {
            assert!(!is_loopback_host(bad), "{bad}");
        }
    }
}

//! The peer listener: TLS with client keys, a handshake timeout, a connection cap, and the
//! sync route. A peer without a valid credential of this node's organization gets nothing.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Extension, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use cec_client::wire::{ErrorBody, ErrorDetail};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;
use tracing::{debug, info, warn};

use super::{CREDENTIAL_HEADER, MAX_FRAME_BYTES, check_peer, shared_scope};
use crate::node::Node;
use crate::node::credential::Credential;

/// How long a peer may take to complete the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a peer connection may wait for its next request.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Peer connections open at once.
const MAX_PEER_CONNECTIONS: usize = 64;

/// The key the peer proved it holds in the TLS handshake.
#[derive(Clone, Copy, Debug)]
struct PeerKey([u8; 32]);

fn refuse(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = ErrorBody { error: ErrorDetail { code: code.into(), message: message.into(), field: None } };
    (status, Json(body)).into_response()
}

fn router(node: Arc<Node>) -> Router {
    Router::new()
        .route("/peer/v1/hello", post(hello))
        .route("/peer/v1/sync", post(sync))
        .layer(DefaultBodyLimit::max(MAX_FRAME_BYTES + 1024))
        .fallback(|| async { refuse(StatusCode::NOT_FOUND, "not_found", "no such peer endpoint") })
        .with_state(node)
}

/// Both credentials, or the refusal to answer.
fn admit(node: &Node, key: &[u8; 32], headers: &HeaderMap) -> Result<(Credential, Credential), Box<Response>> {
    let Some(mine) = node.credential() else {
        return Err(Box::new(refuse(
            StatusCode::FORBIDDEN,
            "not_enrolled",
            "this node has no credential and syncs with no one",
        )));
    };
    let Some(presented) = headers.get(CREDENTIAL_HEADER).and_then(|v| v.to_str().ok()) else {
        return Err(Box::new(refuse(StatusCode::UNAUTHORIZED, "unauthorized", "a credential is required")));
    };
    match check_peer(node, presented, key) {
        Ok(theirs) => Ok((mine, theirs)),
        Err(e) => {
            warn!(cause = %e, "peer refused");
            Err(Box::new(refuse(StatusCode::FORBIDDEN, "forbidden", e.to_string())))
        }
    }
}

fn with_credential(mut resp: Response, mine: &Credential) -> Response {
    if let Ok(v) = HeaderValue::from_str(&mine.encoded) {
        resp.headers_mut().insert(CREDENTIAL_HEADER, v);
    }
    resp
}

/// Exchanges credentials before a session, so the initiator knows the shared scope before it
/// offers anything.
async fn hello(
    State(node): State<Arc<Node>>,
    Extension(PeerKey(key)): Extension<PeerKey>,
    headers: HeaderMap,
) -> Response {
    match admit(&node, &key, &headers) {
        Ok((mine, _)) => with_credential(StatusCode::NO_CONTENT.into_response(), &mine),
        Err(resp) => *resp,
    }
}

async fn sync(
    State(node): State<Arc<Node>>,
    Extension(PeerKey(key)): Extension<PeerKey>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (mine, theirs) = match admit(&node, &key, &headers) {
        Ok(both) => both,
        Err(resp) => return *resp,
    };
    let scope = shared_scope(&node, mine.scopes.clone(), theirs.scopes.clone()).await;
    let config = cec_core::sync::Config { max_frame_bytes: MAX_FRAME_BYTES, ..Default::default() };
    let peer = theirs.node_id.to_string();
    let answer = node.responders.answer(&node, &peer, theirs.role, move || scope, config, &body).await;
    let _ = node
        .store
        .write({
            let peer = peer.clone();
            let role = theirs.role.as_str();
            let error = answer.as_ref().err().map(ToString::to_string);
            move |tx| crate::storage::record_sync(tx, &peer, Some(role), error.as_deref(), true)
        })
        .await;
    let resp = match answer {
        Ok(Some(frame)) => {
            ([(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"))], frame).into_response()
        }
        Ok(None) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => {
            debug!(%peer, cause = %e, "sync frame refused");
            refuse(StatusCode::BAD_REQUEST, "sync_failed", e.to_string())
        }
    };
    with_credential(resp, &mine)
}

/// Serves the peer listener on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    node: Arc<Node>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let tls = tokio_rustls::TlsAcceptor::from(super::tls::server_config(node.identity.signing_key())?);
    let app = router(node);
    let slots = Arc::new(Semaphore::new(MAX_PEER_CONNECTIONS));
    tokio::pin!(shutdown);
    loop {
        let (stream, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    warn!(cause = %e, "peer accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            warn!(%addr, max = MAX_PEER_CONNECTIONS, "peer connection limit reached: connection closed");
            continue;
        };
        let (tls, app) = (tls.clone(), app.clone());
        tokio::spawn(async move {
            let _slot = slot;
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(stream)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    debug!(%addr, cause = %e, "peer TLS handshake failed");
                    return;
                }
                Err(_) => {
                    debug!(%addr, "peer TLS handshake timed out");
                    return;
                }
            };
            let key =
                stream.get_ref().1.peer_certificates().and_then(|c| c.first()).and_then(super::tls::certificate_key);
            let Some(key) = key else { return };
            let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let app = app.clone();
                async move {
                    let mut req = req.map(axum::body::Body::new);
                    req.extensions_mut().insert(PeerKey(key));
                    app.oneshot(req).await
                }
            });
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new()).header_read_timeout(IDLE_TIMEOUT);
            if let Err(e) = http.serve_connection(TokioIo::new(stream), service).await {
                debug!(%addr, cause = %e, "peer connection ended");
            }
        });
    }
    info!("peer listener stopped");
    Ok(())
}

//! The peer listener: TLS with client keys, a handshake timeout, a connection cap, and the
//! hello, sync and enrol routes. A peer without a valid credential of this node's organization
//! gets nothing but an enrolment, and only from the central node with a valid code.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
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

use super::{
    BUSY_CODE, CREDENTIAL_HEADER, EnrolAnswer, EnrolRequest, Hello, MAX_FRAME_BYTES, REVOCATION_HEADER, check_peer,
};
use cec_core::ident::Role;

use crate::node::Node;
use crate::node::clock::{self, CLOCK_HEADER};
use crate::node::credential::{Credential, CredentialError};
use crate::node::enrol::ClaimError;
use crate::sync::PeerScope;

/// How long a peer may take to complete the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a peer connection may wait for its next request.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Peer connections open at once.
const MAX_PEER_CONNECTIONS: usize = 64;
/// Enrolment attempts one connection may make. A real client makes one; a code's secret is
/// 128 random bits, so guessing one is hopeless anyway, and this keeps a connection (one TLS
/// handshake) from being a cheap oracle.
const MAX_ENROL_ATTEMPTS: u32 = 3;
/// How long a refused enrolment waits before it is answered, to slow guessing further.
const REFUSED_ENROL_DELAY: Duration = Duration::from_millis(250);

/// Enrolment attempts made on one connection.
#[derive(Clone, Debug, Default)]
struct EnrolAttempts(Arc<AtomicU32>);

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
        .route("/peer/v1/enroll", post(enroll))
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
    if let Some(r) = node.own_revocation() {
        return Err(Box::new(refuse(
            StatusCode::FORBIDDEN,
            "not_enrolled",
            format!("this node's credential was revoked at {}: it syncs with no one", r.revoked_at),
        )));
    }
    match check_peer(node, presented, key) {
        Ok(theirs) => Ok((mine, theirs)),
        Err(e) => {
            warn!(cause = %e, "peer refused");
            let revoked = matches!(e, CredentialError::Revoked(_));
            let mut resp = refuse(StatusCode::FORBIDDEN, if revoked { "revoked" } else { "forbidden" }, e.to_string());
            // A revoked peer gets its revocation, so that it stops trying.
            let own = node.revocation_of(&cec_core::ident::NodeId::from_public_key(key));
            if let Some(v) = own.and_then(|r| HeaderValue::from_str(&r.encoded).ok()) {
                resp.headers_mut().insert(REVOCATION_HEADER, v);
            }
            Err(Box::new(resp))
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
/// offers anything, and revocations both ways.
async fn hello(
    State(node): State<Arc<Node>>,
    Extension(PeerKey(key)): Extension<PeerKey>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let received_at = clock::now_ms();
    let (mine, theirs_cred) = match admit(&node, &key, &headers) {
        Ok(both) => both,
        Err(resp) => return *resp,
    };
    let peer = theirs_cred.node_id.to_string();
    // The instants of the peer's last hello, when its round ended on the answer.
    complete_clock(&node, &peer, &headers).await;
    let theirs: Hello = if body.is_empty() {
        Hello::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(h) => h,
            Err(e) => return refuse(StatusCode::BAD_REQUEST, "bad_request", format!("hello: {e}")),
        }
    };
    if let Err(e) = node.merge_revocations(&theirs.revocations).await {
        warn!(cause = %e, "storing revocations from a peer failed");
    }
    node.retention.note_peer(&peer, theirs.retired_events);
    // What the peer just told may revoke the peer itself.
    if let Err(resp) = admit(&node, &key, &headers) {
        return *resp;
    }
    // A round may end on this answer (nothing to sync, or a push agreed): the peer was seen.
    let _ = node.record_peer_sync(&peer, Some(theirs_cred.role.as_str()), None, true).await;
    let scope = if theirs.want_summary || theirs.push.is_some() {
        Some(PeerScope::of(&node, mine.scopes.clone(), theirs_cred.scopes.clone()).await)
    } else {
        None
    };
    let answer = match (theirs.push.as_deref(), &scope) {
        (Some(push), Some(scope)) => answer_push(&node, &peer, theirs_cred.role, scope, push).await,
        _ => None,
    };
    let summary = match &scope {
        Some(scope) if theirs.want_summary && answer.is_none() => {
            match crate::sync::opening_summary(&node, &peer, scope).await {
                Ok(s) => Some(b64(&s.to_bytes())),
                // The initiator then opens as usual and learns the same from the session.
                Err(e) => {
                    warn!(%peer, cause = %e, "reading the manifest for a hello failed");
                    None
                }
            }
        }
        _ => None,
    };
    let revocations = node.revocation_entries();
    let sent_at = clock::now_ms();
    // The initiator's next request completes the measurement with its own two instants.
    node.clocks.answered(&peer, received_at, sent_at);
    let answer = Hello {
        revocations,
        sent_at_ms: Some(sent_at),
        received_at_ms: Some(received_at),
        retired_events: node.retired_to_tell().await,
        want_summary: false,
        summary,
        push: None,
        answer: answer.map(|a| b64(&a)),
    };
    with_credential(Json(answer).into_response(), &mine)
}

/// The largest answer to a push a hello answer carries (before base64url); larger ones would
/// strain the hello answer's size limit (`client.rs`).
const MAX_PUSH_ANSWER_BYTES: usize = 1 << 20;

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Takes the opening frame a hello carried (`Hello::push`) as a new responder session's first
/// frame, and answers it: the frame to put in the hello answer, or none when this node does
/// not take it now (its own round toward the peer is running, or the frame is refused), and
/// the peer then opens as usual.
async fn answer_push(node: &Arc<Node>, peer: &str, role: Role, scope: &Arc<PeerScope>, push: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let Ok(frame) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(push) else {
        debug!(%peer, "a hello's push is not base64url: the peer opens as usual");
        return None;
    };
    let config = cec_core::sync::Config { max_frame_bytes: MAX_FRAME_BYTES, ..Default::default() };
    let answer = node.responders.answer(node, peer, role, std::future::ready(scope.clone()), config, &frame).await;
    match answer {
        // A large answer (a manifest of many documents) goes as a sync frame of its own: the
        // peer opens again as usual, which replaces this session.
        Ok(Some(a)) if a.len() > MAX_PUSH_ANSWER_BYTES => {
            debug!(%peer, bytes = a.len(), "the answer to a hello's push is large: the peer opens as usual");
            None
        }
        Ok(a) => a,
        Err(crate::sync::SyncError::Busy) => {
            debug!(%peer, "a hello's push waits: this node's own round toward the peer is running");
            None
        }
        Err(e) => {
            debug!(%peer, cause = %e, "a hello's push was refused");
            let _ = node.record_peer_sync(peer, Some(role.as_str()), Some(&e.to_string()), true).await;
            None
        }
    }
}

/// Completes and stores the measurement of `peer`'s clock that the instants in the request's
/// clock header finish (see `node::clock`), if they do.
async fn complete_clock(node: &Node, peer: &str, headers: &HeaderMap) {
    let measured = headers.get(CLOCK_HEADER).and_then(|v| v.to_str().ok()).and_then(|h| node.clocks.complete(peer, h));
    if let Some(sample) = measured
        && let Err(e) = node.record_clock(peer, sample).await
    {
        warn!(%peer, cause = %e, "storing the peer's clock offset failed");
    }
}

/// Enrols a node that has no credential yet: the central node checks the code's secret and
/// signs a credential for the key the client proved in the TLS handshake.
async fn enroll(
    State(node): State<Arc<Node>>,
    Extension(PeerKey(key)): Extension<PeerKey>,
    Extension(EnrolAttempts(attempts)): Extension<EnrolAttempts>,
    body: Bytes,
) -> Response {
    if attempts.fetch_add(1, Ordering::Relaxed) >= MAX_ENROL_ATTEMPTS {
        return refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_attempts",
            format!("at most {MAX_ENROL_ATTEMPTS} enrolment attempts per connection"),
        );
    }
    let secret: Option<[u8; cec_core::enrol::SECRET_BYTES]> =
        serde_json::from_slice::<EnrolRequest>(&body).ok().and_then(|r| {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(r.secret).ok()?.try_into().ok()
        });
    let Some(secret) = secret else {
        return refuse(StatusCode::BAD_REQUEST, "bad_request", "expected {\"secret\": base64url of 16 bytes}");
    };
    let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(&key) else {
        return refuse(StatusCode::BAD_REQUEST, "bad_request", "the TLS client key is not an ed25519 key");
    };
    match node.claim_enrolment(&secret, &key).await {
        Ok(cred) => {
            let org = node.org_key().map(|k| crate::node::credential::encode_public_key(&k)).unwrap_or_default();
            let answer =
                EnrolAnswer { credential: cred.encoded, org_public_key: org, revocations: node.revocation_entries() };
            Json(answer).into_response()
        }
        Err(ClaimError::Refused(why)) => {
            info!(node = %cec_core::ident::NodeId::from_public_key(key.as_bytes()), cause = %why, "enrolment refused");
            tokio::time::sleep(REFUSED_ENROL_DELAY).await;
            refuse(StatusCode::FORBIDDEN, "enrolment_refused", why)
        }
        Err(ClaimError::NotCentral) => refuse(
            StatusCode::FORBIDDEN,
            "not_central",
            "this node is not the organization's central node: it enrols no one",
        ),
        Err(ClaimError::Failed(e)) => {
            warn!(cause = %e, "enrolment failed");
            refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the central node could not store the enrolment; try again",
            )
        }
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
    let peer = theirs.node_id.to_string();
    complete_clock(&node, &peer, &headers).await;
    let scope = crate::sync::PeerScope::of(&node, mine.scopes.clone(), theirs.scopes.clone());
    let config = cec_core::sync::Config { max_frame_bytes: MAX_FRAME_BYTES, ..Default::default() };
    let answer = node.responders.answer(&node, &peer, theirs.role, scope, config, &body).await;
    // Busy is this node's own round toward the peer, not the peer's failure.
    let error = answer.as_ref().err().filter(|e| !matches!(e, crate::sync::SyncError::Busy)).map(ToString::to_string);
    let _ = node.record_peer_sync(&peer, Some(theirs.role.as_str()), error.as_deref(), true).await;
    let resp = match answer {
        Ok(Some(frame)) => {
            ([(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"))], frame).into_response()
        }
        Ok(None) => StatusCode::NO_CONTENT.into_response(),
        Err(crate::sync::SyncError::Busy) => {
            debug!(%peer, "sync opening answered busy: this node's own round toward the peer is running");
            refuse(StatusCode::CONFLICT, BUSY_CODE, crate::sync::SyncError::Busy.to_string())
        }
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
            let attempts = EnrolAttempts::default();
            let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let app = app.clone();
                let attempts = attempts.clone();
                async move {
                    let mut req = req.map(axum::body::Body::new);
                    req.extensions_mut().insert(PeerKey(key));
                    req.extensions_mut().insert(attempts);
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

#[cfg(test)]
mod tests {
    use cec_core::sync::{Frame, Summary};

    use super::*;

    /// A hello's push is taken as a new responder session's first frame and answered: `Agreed`
    /// when the summaries agree once it is applied, `Manifest` when they do not. While this
    /// node's own round toward the peer runs, or when the push is not base64url, it is not
    /// taken, and the peer opens as usual.
    #[tokio::test]
    async fn a_hellos_push_is_answered_or_left_to_the_usual_opening() {
        let dir = tempfile::tempdir().unwrap();
        let node = Arc::new(Node::open(dir.path(), crate::config::Config::default()).await.unwrap());
        let (peer, scope) = ("n000000000000000000000001", PeerScope::all());
        let ours = crate::sync::opening_summary(&node, peer, &scope).await.unwrap();
        let push = |summary: Summary| b64(&Frame::Push { summary: Box::new(summary), docs: vec![] }.encode());
        let decode = |bytes: Vec<u8>| Frame::decode(&bytes, MAX_FRAME_BYTES).unwrap();

        let agreed = answer_push(&node, peer, Role::Kiosk, &scope, &push(ours)).await;
        assert_eq!(agreed.map(decode), Some(Frame::Agreed { docs: vec![] }));
        let mut other = ours;
        other.0[0][0] ^= 1;
        let differing = answer_push(&node, peer, Role::Kiosk, &scope, &push(other)).await;
        assert!(matches!(differing.map(decode), Some(Frame::Manifest { .. })));
        // That session waits for the peer's next frame, holding the turn: the peer went away.
        assert!(node.responders.expire_idle(peer, u64::MAX));

        let turn = node.sync_turn(peer).try_lock_owned().unwrap();
        assert_eq!(answer_push(&node, peer, Role::Kiosk, &scope, &push(ours)).await, None, "busy");
        drop(turn);
        assert_eq!(answer_push(&node, peer, Role::Kiosk, &scope, "not base64!").await, None);
    }
}

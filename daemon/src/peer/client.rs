//! Connecting to a peer: TLS pinned to its node id, one HTTP/1.1 connection per sync session
//! (or per enrolment, for a node that has no credential yet).

use std::time::Duration;

use axum::body::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;

use super::{CREDENTIAL_HEADER, EnrolAnswer, EnrolRequest, Hello, MAX_FRAME_BYTES, PeerUrl, REVOCATION_HEADER};
use crate::node::Node;
use crate::node::clock::{self, CLOCK_HEADER};
use crate::node::credential::Credential;
use crate::sync::{SyncError, Transport};
use cec_core::sync::Summary;
use cec_core::sync::clock::ClockSample;

/// How long connecting and the TLS handshake may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one request may take (the peer applies and stores a round before answering).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

fn transport(e: impl std::fmt::Display) -> SyncError {
    SyncError::Transport(e.to_string())
}

/// An open connection to a peer, carrying one sync session.
pub struct PeerConnection<'a> {
    node: &'a Node,
    url: PeerUrl,
    sender: SendRequest<Full<Bytes>>,
    credential: String,
    /// The peer's credential, checked on its first answer.
    pub peer_credential: Option<Credential>,
    /// This node's instants of the hello (`<t0> <t3>`), for the peer, sent with the next
    /// request.
    clock: Option<String>,
}

impl std::fmt::Debug for PeerConnection<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerConnection").field("url", &self.url.to_string()).finish_non_exhaustive()
    }
}

/// Opens a TLS connection to `url` (pinned to its node id, proving this node's key; resuming
/// the last session with that node where it can) and an HTTP/1.1 connection over it.
async fn open(node: &Node, url: &PeerUrl) -> Result<SendRequest<Full<Bytes>>, SyncError> {
    let config = node.peer_tls.get(node.identity.signing_key(), &url.node_id).map_err(transport)?;
    let connector = tokio_rustls::TlsConnector::from(config);
    let name = ServerName::try_from("cecsync").map_err(transport)?;
    let connect = async {
        let tcp = TcpStream::connect(&url.authority).await.map_err(transport)?;
        tcp.set_nodelay(true).map_err(transport)?;
        connector.connect(name, tcp).await.map_err(|e| {
            if e.to_string().contains("ApplicationVerificationFailure") {
                transport(format!(
                    "the node at {} is not node {} (its key does not match the peer URL)",
                    url.authority, url.node_id
                ))
            } else {
                transport(e)
            }
        })
    };
    let tls = tokio::time::timeout(CONNECT_TIMEOUT, connect).await.map_err(|_| transport("connect timed out"))??;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.map_err(transport)?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// An answer: its status, headers and body (bounded).
struct Answer {
    status: hyper::StatusCode,
    headers: hyper::HeaderMap,
    body: Bytes,
}

impl Answer {
    /// The error envelope's `code: message`, or the body as text.
    fn error_text(&self) -> String {
        serde_json::from_slice::<cec_client::wire::ErrorBody>(&self.body)
            .map(|b| format!("{}: {}", b.error.code, b.error.message))
            .unwrap_or_else(|_| String::from_utf8_lossy(&self.body).into_owned())
    }

    /// The error envelope's code, if the body is one.
    fn error_code(&self) -> Option<String> {
        serde_json::from_slice::<cec_client::wire::ErrorBody>(&self.body).ok().map(|b| b.error.code)
    }

    /// The error envelope's message alone, or the body as text.
    fn error_message(&self) -> String {
        serde_json::from_slice::<cec_client::wire::ErrorBody>(&self.body)
            .map(|b| b.error.message)
            .unwrap_or_else(|_| String::from_utf8_lossy(&self.body).into_owned())
    }
}

async fn send(
    sender: &mut SendRequest<Full<Bytes>>,
    url: &PeerUrl,
    path: &str,
    content_type: &str,
    credential: Option<&str>,
    clock: Option<String>,
    body: Vec<u8>,
) -> Result<Answer, SyncError> {
    let mut req = hyper::Request::post(path)
        .header(hyper::header::HOST, &url.authority)
        .header(hyper::header::CONTENT_TYPE, content_type);
    if let Some(c) = credential {
        req = req.header(CREDENTIAL_HEADER, c);
    }
    if let Some(c) = clock {
        req = req.header(CLOCK_HEADER, c);
    }
    let req = req.body(Full::new(Bytes::from(body))).map_err(transport)?;
    sender.ready().await.map_err(transport)?;
    let resp = sender.send_request(req).await.map_err(transport)?;
    let (parts, body) = resp.into_parts();
    let body = Limited::new(body, MAX_FRAME_BYTES + 1024)
        .collect()
        .await
        .map_err(|e| transport(format!("reading the answer: {e}")))?
        .to_bytes();
    Ok(Answer { status: parts.status, headers: parts.headers, body })
}

/// Why an enrolment did not give a credential.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnrolCallError {
    /// The central node could not be reached, or answered something unreadable.
    #[error("{0}")]
    Unreachable(String),
    /// The central node refused the code.
    #[error("{0}")]
    Refused(String),
}

/// Presents an enrolment code's `secret` to the central node at `url` (TLS pinned to its node
/// id, proving this node's key, no credential) and returns its answer, unchecked.
pub async fn enroll(node: &Node, url: &PeerUrl, secret: &[u8]) -> Result<EnrolAnswer, EnrolCallError> {
    use base64::Engine;
    let unreachable = |e: SyncError| EnrolCallError::Unreachable(e.to_string());
    let call = async {
        let mut sender = open(node, url).await.map_err(unreachable)?;
        let body = serde_json::to_vec(&EnrolRequest {
            secret: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret),
        })
        .unwrap_or_default();
        let answer = send(&mut sender, url, "/peer/v1/enroll", "application/json", None, None, body)
            .await
            .map_err(unreachable)?;
        match answer.status.as_u16() {
            200 => serde_json::from_slice(&answer.body)
                .map_err(|e| EnrolCallError::Unreachable(format!("the central node's answer is not understood: {e}"))),
            400..=499 => Err(EnrolCallError::Refused(answer.error_message())),
            _ => Err(EnrolCallError::Unreachable(format!("answered {}: {}", answer.status, answer.error_text()))),
        }
    };
    tokio::time::timeout(REQUEST_TIMEOUT, call)
        .await
        .map_err(|_| EnrolCallError::Unreachable("the central node did not answer in time".into()))?
}

/// What a peer's hello answer told.
#[derive(Debug)]
pub struct HelloAnswer {
    /// The peer's credential, checked.
    pub credential: Credential,
    /// The summary its responder would answer an opening with, if it gave one.
    pub summary: Option<Summary>,
    /// Its responder's answer to the push the hello carried, if it took it.
    pub pushed: Option<Vec<u8>>,
}

impl<'a> PeerConnection<'a> {
    /// Connects to `url`, proving this node's key and requiring the peer's.
    pub async fn connect(node: &'a Node, url: &PeerUrl) -> Result<Self, SyncError> {
        let credential =
            node.credential().ok_or_else(|| transport("this node is not enrolled: it has no credential"))?.encoded;
        let sender = open(node, url).await?;
        // The instants of the last round's hello, if that round ended on its answer.
        let clock = node.clocks.take_to_tell(url.node_id.as_str());
        Ok(Self { node, url: url.clone(), sender, credential, peer_credential: None, clock })
    }

    /// Keeps this node's instants of the hello, if no request after it carried them to the
    /// peer (the round ended on the hello answer), for the next round's hello.
    pub fn keep_unsent_clock(&mut self) {
        if let Some(c) = self.clock.take() {
            self.node.clocks.keep_to_tell(self.url.node_id.as_str(), c);
        }
    }

    /// Exchanges credentials and revocations: returns the peer's credential, checked, after
    /// the peer's revocations were merged (the peer itself may be among them), the summary
    /// the peer's session would answer an opening with, if it gave one, and its responder's
    /// answer to `push` (an opening sync frame carrying changes), if it took it.
    pub async fn hello(&mut self, push: Option<&[u8]>) -> Result<HelloAnswer, SyncError> {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut mine = Hello {
            revocations: self.node.revocation_entries(),
            retired_events: self.node.retired_to_tell().await,
            want_summary: true,
            push: push.map(|p| b64.encode(p)),
            ..Hello::default()
        };
        let sent_at = clock::now_ms();
        mine.sent_at_ms = Some(sent_at);
        let body = serde_json::to_vec(&mine).unwrap_or_default();
        let answer = self.post("/peer/v1/hello", "application/json", body).await?;
        let received_at = clock::now_ms();
        let theirs = self.peer_credential.clone().ok_or_else(|| transport("peer answered without a credential"))?;
        // A peer of an older version answers 204 without revocations.
        let mut retired = Vec::new();
        let mut summary = None;
        let mut pushed = None;
        if let Some(body) = answer {
            let hello: Hello = serde_json::from_slice(&body).map_err(|e| transport(format!("peer's hello: {e}")))?;
            self.node.merge_revocations(&hello.revocations).await.map_err(|e| transport(e.to_string()))?;
            retired = hello.retired_events;
            if let Some(a) = hello.answer {
                pushed = Some(
                    b64.decode(a.as_bytes())
                        .map_err(|_| transport("the peer's answer to the push is not base64url"))?,
                );
            }
            if let Some(s) = hello.summary {
                let bytes = b64.decode(s.as_bytes()).ok();
                summary = Some(
                    bytes
                        .as_deref()
                        .and_then(Summary::from_bytes)
                        .ok_or_else(|| transport("the peer's hello carries a summary that is not one"))?,
                );
            }
            // The peer's clock, measured from the exchange's four instants; the peer gets this
            // node's two with the next request and measures this node's clock the same way.
            if let (Some(t1), Some(t2)) = (hello.received_at_ms, hello.sent_at_ms) {
                match ClockSample::measure(sent_at, t1, t2, received_at) {
                    Some(sample) => {
                        self.clock = Some(format!("{sent_at} {received_at}"));
                        if let Err(e) = self.node.record_clock(theirs.node_id.as_str(), sample).await {
                            tracing::warn!(peer = %theirs.node_id, cause = %e, "storing the peer's clock offset failed");
                        }
                    }
                    None => {
                        tracing::warn!(peer = %theirs.node_id, "the peer's hello instants are impossible: no clock measured")
                    }
                }
            }
        }
        if self.node.is_revoked(&theirs.node_id) {
            return Err(transport(format!("peer refused: credential of node {} was revoked", theirs.node_id)));
        }
        self.node.retention.note_peer(theirs.node_id.as_str(), retired);
        Ok(HelloAnswer { credential: theirs, summary, pushed })
    }

    async fn post(&mut self, path: &str, content_type: &str, body: Vec<u8>) -> Result<Option<Vec<u8>>, SyncError> {
        let clock = self.clock.take();
        let answer = send(&mut self.sender, &self.url, path, content_type, Some(&self.credential), clock, body).await?;
        if self.peer_credential.is_none()
            && let Some(c) = answer.headers.get(CREDENTIAL_HEADER).and_then(|v| v.to_str().ok())
        {
            self.peer_credential = Some(self.check_server(c)?);
        }
        match answer.status.as_u16() {
            200 if self.peer_credential.is_some() => Ok(Some(answer.body.to_vec())),
            200 => Err(transport("peer answered without a credential")),
            204 => Ok(None),
            409 if answer.error_code().as_deref() == Some(super::BUSY_CODE) => Err(SyncError::Busy),
            _ => {
                // A peer that refused this node as revoked tells it so: learn it.
                if let Some(r) = answer.headers.get(REVOCATION_HEADER).and_then(|v| v.to_str().ok()) {
                    let _ = self.node.merge_revocations(&[r.to_owned()]).await;
                }
                Err(transport(format!("peer answered {}: {}", answer.status, answer.error_text())))
            }
        }
    }

    /// Checks the server's credential: signed by this organization, for the node the URL
    /// pins (the TLS handshake proved the server holds that node's key), valid now.
    fn check_server(&self, presented: &str) -> Result<Credential, SyncError> {
        let refused = |e: &dyn std::fmt::Display| transport(format!("peer refused: {e}"));
        let org = self.node.org_key().ok_or_else(|| refused(&"this node has no organization key"))?;
        let cred = Credential::verify(presented, &org).map_err(|e| refused(&e))?;
        if cred.node_id != self.url.node_id {
            return Err(refused(&format!("its credential is for node {}", cred.node_id)));
        }
        cred.check(&cred.node_key, clock::now(), &|id| self.node.is_revoked(id)).map_err(|e| refused(&e))?;
        Ok(cred)
    }
}

impl Transport for PeerConnection<'_> {
    async fn exchange(&mut self, frame: Vec<u8>) -> Result<Option<Vec<u8>>, SyncError> {
        tokio::time::timeout(REQUEST_TIMEOUT, self.post("/peer/v1/sync", "application/octet-stream", frame))
            .await
            .map_err(|_| transport("peer did not answer in time"))?
    }
}

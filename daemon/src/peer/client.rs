//! Connecting to a peer: TLS pinned to its node id, one HTTP/1.1 connection per sync session.

use std::time::Duration;

use axum::body::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;

use super::{CREDENTIAL_HEADER, MAX_FRAME_BYTES, PeerUrl};
use crate::node::Node;
use crate::node::credential::Credential;
use crate::sync::{SyncError, Transport};

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
}

impl std::fmt::Debug for PeerConnection<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerConnection").field("url", &self.url.to_string()).finish_non_exhaustive()
    }
}

impl<'a> PeerConnection<'a> {
    /// Connects to `url`, proving this node's key and requiring the peer's.
    pub async fn connect(node: &'a Node, url: &PeerUrl) -> Result<Self, SyncError> {
        let credential =
            node.credential().ok_or_else(|| transport("this node is not enrolled: it has no credential"))?.encoded;
        let config = super::tls::client_config(node.identity.signing_key(), &url.node_id).map_err(transport)?;
        let connector = tokio_rustls::TlsConnector::from(config);
        let name = ServerName::try_from("cecsync").map_err(transport)?;
        let connect = async {
            let tcp = TcpStream::connect(&url.authority).await.map_err(transport)?;
            tcp.set_nodelay(true).map_err(transport)?;
            connector.connect(name, tcp).await.map_err(transport)
        };
        let tls =
            tokio::time::timeout(CONNECT_TIMEOUT, connect).await.map_err(|_| transport("connect timed out"))??;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.map_err(transport)?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Self { node, url: url.clone(), sender, credential, peer_credential: None })
    }

    /// Exchanges credentials: returns the peer's, checked.
    pub async fn hello(&mut self) -> Result<Credential, SyncError> {
        self.post("/peer/v1/hello", Vec::new()).await?;
        self.peer_credential.clone().ok_or_else(|| transport("peer answered without a credential"))
    }

    async fn post(&mut self, path: &str, frame: Vec<u8>) -> Result<Option<Vec<u8>>, SyncError> {
        let req = hyper::Request::post(path)
            .header(hyper::header::HOST, &self.url.authority)
            .header(hyper::header::CONTENT_TYPE, "application/octet-stream")
            .header(CREDENTIAL_HEADER, &self.credential)
            .body(Full::new(Bytes::from(frame)))
            .map_err(transport)?;
        self.sender.ready().await.map_err(transport)?;
        let resp = self.sender.send_request(req).await.map_err(transport)?;
        let status = resp.status();
        if self.peer_credential.is_none()
            && let Some(c) = resp.headers().get(CREDENTIAL_HEADER).and_then(|v| v.to_str().ok())
        {
            self.peer_credential = Some(self.check_server(c)?);
        }
        let body = Limited::new(resp.into_body(), MAX_FRAME_BYTES + 1024)
            .collect()
            .await
            .map_err(|e| transport(format!("reading the answer: {e}")))?
            .to_bytes();
        match status.as_u16() {
            200 if self.peer_credential.is_some() => Ok(Some(body.to_vec())),
            200 => Err(transport("peer answered without a credential")),
            204 => Ok(None),
            _ => {
                let message = serde_json::from_slice::<cec_client::wire::ErrorBody>(&body)
                    .map(|b| format!("{}: {}", b.error.code, b.error.message))
                    .unwrap_or_else(|_| String::from_utf8_lossy(&body).into_owned());
                Err(transport(format!("peer answered {status}: {message}")))
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
        cred.check(&cred.node_key, jiff::Timestamp::now(), &|_| false).map_err(|e| refused(&e))?;
        Ok(cred)
    }
}

impl Transport for PeerConnection<'_> {
    async fn exchange(&mut self, frame: Vec<u8>) -> Result<Option<Vec<u8>>, SyncError> {
        tokio::time::timeout(REQUEST_TIMEOUT, self.post("/peer/v1/sync", frame))
            .await
            .map_err(|_| transport("peer did not answer in time"))?
    }
}

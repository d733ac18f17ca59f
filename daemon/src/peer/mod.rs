//! The peer listener and client: nodes syncing with each other over mutually authenticated
//! TLS, apart from the local API.
//!
//! A peer URL is `https://<host>:<port>/<node_id>`: where the node listens and which key it
//! must prove it holds. Routes on the peer listener (documented in `docs/api-extensions.md`):
//!
//! - `POST /peer/v1/hello`: the credential exchange before a session; both sides hand each
//!   other the revocations they know (JSON [`Hello`] both ways) and keep the union, the
//!   instants of the exchange on their wall clocks, from which each measures the other's clock
//!   offset (the initiator tells its two in the `cecsync-clock` header of its next request),
//!   and the events each retired, whose documents the session leaves out. Asked for it, the
//!   answer also carries the summary of the documents the answering node holds in both scopes:
//!   an initiator whose own summary agrees is in sync, and the round is this one request. Its
//!   instants for the clock measurement then go with its next round's hello.
//! - `POST /peer/v1/sync`: one frame of a sync session (`application/octet-stream`) in, the
//!   answering frame out (204 when none is due). The request carries the client's credential
//!   in the `cecsync-credential` header; the answer carries the server's.
//! - `POST /peer/v1/enroll` (central node): the one route a client without a credential may
//!   call. [`EnrolRequest`] in, [`EnrolAnswer`] out: a credential for the key the client proved
//!   in the TLS handshake, if the code's secret is known, unexpired and not used up.
//!
//! A peer refused because it was revoked gets the signed revocation in the
//! `cecsync-revocation` header, so that it learns it and stops trying.

pub mod client;
pub mod mdns;
pub mod server;
pub mod tls;

use std::fmt;
use std::str::FromStr;

use cec_core::ident::NodeId;

use crate::node::Node;
use crate::node::credential::{Credential, CredentialError};

/// The header that carries a node's signed credential.
pub const CREDENTIAL_HEADER: &str = "cecsync-credential";
/// The header that carries a refused peer's own revocation.
pub const REVOCATION_HEADER: &str = "cecsync-revocation";

/// The error code of a `409` answer to a sync opening while the answering node's own round
/// toward the peer is running (one round at a time per pair of nodes).
pub const BUSY_CODE: &str = "busy";

/// The body of `POST /peer/v1/hello` and of its answer (an empty request body is a hello
/// without revocations).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Hello {
    /// The signed revocations the sender knows.
    #[serde(default)]
    pub revocations: Vec<String>,
    /// When the sender sent it (ms since the epoch on the sender's wall clock): the clock
    /// exchange of each sync (`node::clock`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at_ms: Option<i64>,
    /// In an answer: when the hello it answers arrived (the answering node's clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_at_ms: Option<i64>,
    /// The events the sender retired (`node::retention`) that its credential covers: the
    /// session that follows leaves their documents out on both sides.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retired_events: Vec<String>,
    /// In a request: the initiator asks for the answering node's opening summary.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub want_summary: bool,
    /// In an answer: the summary (base64url of its bytes, `cec_core::sync::Summary::to_bytes`)
    /// the answering node's session would answer the opening with, over the documents both
    /// credentials cover. An initiator whose own summary agrees is in sync and sends no frame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// In a request: the initiator's opening sync frame when it carries the changes made since
    /// the last sync with the answering node (a `Push`, base64url of its bytes); the answering
    /// node's responder takes it as its session's first frame. A node of an earlier version
    /// ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push: Option<String>,
    /// In an answer to a hello with `push`: the responder's answer frame (base64url). Without
    /// it the push was not taken (the node was busy, or does not know pushes), and the
    /// initiator opens as usual.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
}

/// The body of `POST /peer/v1/enroll`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrolRequest {
    /// The code's secret, base64url.
    pub secret: String,
}

/// The answer of `POST /peer/v1/enroll`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EnrolAnswer {
    /// The credential, for the key the client proved.
    pub credential: String,
    /// The organization public key, base64url (the client checks it against the code's
    /// fingerprint before pinning it).
    pub org_public_key: String,
    /// The revocations the central node knows.
    #[serde(default)]
    pub revocations: Vec<String>,
}

/// The largest frame a peer may send, in bytes (the session's own limit).
pub const MAX_FRAME_BYTES: usize = 8 << 20;

/// Where a peer listens and which node it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerUrl {
    /// `host:port`.
    pub authority: String,
    /// The node that must answer there.
    pub node_id: NodeId,
}

impl fmt::Display for PeerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "https://{}/{}", self.authority, self.node_id)
    }
}

/// Why a string is not a peer URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a peer URL (expected https://HOST:PORT/NODE_ID, as GET /v1/node gives in peer_url): {0}")]
pub struct PeerUrlError(String);

impl FromStr for PeerUrl {
    type Err = PeerUrlError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || PeerUrlError(s.to_owned());
        let rest = s.trim().strip_prefix("https://").ok_or_else(bad)?;
        let (authority, node) = rest.split_once('/').ok_or_else(bad)?;
        let node = node.trim_end_matches('/');
        let (host, port) = authority.rsplit_once(':').ok_or_else(bad)?;
        if host.is_empty() || port.parse::<u16>().is_err() {
            return Err(bad());
        }
        Ok(Self { authority: authority.to_owned(), node_id: node.parse().map_err(|_| bad())? })
    }
}

/// Checks the credential a peer presented with the key it proved in TLS, against this node's
/// pinned organization key.
pub fn check_peer(node: &Node, presented: &str, key: &[u8; 32]) -> Result<Credential, CredentialError> {
    let org = node.org_key().ok_or(CredentialError::NotEnrolled)?;
    let cred = Credential::verify(presented, &org)?;
    cred.check(key, crate::node::clock::now(), &|id| node.is_revoked(id))?;
    Ok(cred)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_urls() {
        let id = NodeId::from_public_key(&[3; 32]);
        let url: PeerUrl = format!("https://127.0.0.1:7421/{id}").parse().unwrap();
        assert_eq!(url.authority, "127.0.0.1:7421");
        assert_eq!(url.to_string().parse::<PeerUrl>().unwrap(), url);
        for bad in ["http://127.0.0.1:1/x", "https://127.0.0.1/n1", "https://h:1/notanid", "https://:1/x"] {
            assert!(bad.parse::<PeerUrl>().is_err(), "{bad}");
        }
    }
}

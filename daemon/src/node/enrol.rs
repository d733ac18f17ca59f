//! Enrolment codes: the central node issues them and answers them; any other node enrols with
//! one (see `cec_core::enrol` for the code itself).
//!
//! On the central node, a code is stored as the SHA-256 of its secret with the role, scopes,
//! uses left and expiry it grants (`storage::enrolments`). The enrolling node connects to the
//! central node's peer listener (TLS pinned to the node id in the code, proving its own key),
//! presents the secret on `POST /peer/v1/enroll`, checks the organization key it gets back
//! against the code's fingerprint, installs the credential and keeps the central node as its
//! peer of source `central`, so that its background sync reaches it with no `cec peers add`.

use cec_core::enrol::{CodeError, EnrolmentCode, SECRET_BYTES, fingerprint, valid_authority};
use cec_core::ident::{NodeId, Role, Scopes};
use ed25519_dalek::VerifyingKey;
use jiff::Timestamp;
use sha2::{Digest, Sha256};
use tracing::info;

use super::Node;
use super::credential::{Credential, Enrolment, EnrolmentError, parse_public_key};
use super::error::{NodeError, NodeResult};
use super::identity::random32;
use crate::peer::PeerUrl;
use crate::peer::client::EnrolCallError;
use crate::storage::{self, Claim, NewCode, StorageError};

/// The most uses one code may have.
pub const MAX_USES: u32 = 10_000;

/// A code to issue.
#[derive(Debug, Clone)]
pub struct NewEnrolment {
    /// The role it grants (not `central`).
    pub role: Role,
    /// The scopes it grants.
    pub scopes: Scopes,
    /// How many nodes may enrol with it.
    pub uses: u32,
    /// Until when it may be used.
    pub expires_at: Timestamp,
    /// When the credentials it gives expire (default: `expires_at`).
    pub credential_expires_at: Option<Timestamp>,
    /// `host:port` where new nodes reach this node's peer listener (default: the address it
    /// listens on).
    pub peer_address: Option<String>,
}

/// A code the central node issued.
#[derive(Debug, Clone)]
pub struct IssuedCode {
    /// The code.
    pub code: EnrolmentCode,
    /// What it was issued for.
    pub request: NewEnrolment,
    /// When the credentials it gives expire.
    pub credential_expires_at: Timestamp,
}

/// Why the central node did not answer an enrolment with a credential.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClaimError {
    /// This node is not the central node.
    #[error("not the central node")]
    NotCentral,
    /// The code is unknown, expired or used up, or the node was revoked.
    #[error("{0}")]
    Refused(String),
    /// Storage failed.
    #[error(transparent)]
    Failed(#[from] StorageError),
}

/// Why `enroll` did not install a credential.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnrolError {
    /// The code does not parse.
    #[error("{0}")]
    Code(#[from] CodeError),
    /// This node is the central node.
    #[error("this node is the organization's central node: it enrols others, it is not enrolled")]
    IsCentral,
    /// This node is pinned to another organization.
    #[error("this node belongs to another organization (its pinned organization key is not the code's)")]
    OtherOrganization,
    /// The central node refused the code.
    #[error("the central node refused the code: {0}")]
    Refused(String),
    /// The central node could not be reached.
    #[error("cannot reach the central node at {url}: {cause}")]
    Unreachable {
        /// Its peer URL.
        url: String,
        /// Why.
        cause: String,
    },
    /// The central node's organization key is not the one the code names.
    #[error(
        "the node at {0} presented an organization key that does not match the code's fingerprint: nothing was \
         installed (is the code from your organization's central node?)"
    )]
    Fingerprint(String),
    /// Installing the credential failed.
    #[error(transparent)]
    Install(#[from] EnrolmentError),
    /// Storing the central peer or the revocations failed.
    #[error(transparent)]
    Node(#[from] NodeError),
}

/// What enrolling gave.
#[derive(Debug, Clone)]
pub struct Enrolled {
    /// The installed credential.
    pub credential: Credential,
    /// The pinned organization key, base64url.
    pub org_public_key: String,
    /// The central node's peer URL, now this node's `central` peer.
    pub central_url: String,
    /// The central node.
    pub central: NodeId,
}

fn secret_hash(secret: &[u8]) -> [u8; 32] {
    Sha256::digest(secret).into()
}

fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

impl Node {
    /// Issues an enrolment code (central node only; its peer listener must be on).
    pub async fn create_enrolment(&self, req: NewEnrolment) -> NodeResult<IssuedCode> {
        let org = self.enrolment.read().unwrap_or_else(|p| p.into_inner()).org_signing.clone();
        let Some(org) = org else {
            return Err(NodeError::Forbidden(
                "only the organization's central node issues enrolment codes (cecd init-central)".into(),
            ));
        };
        if req.role == Role::Central {
            return Err(NodeError::invalid("role", "enrolment codes are for kiosk, member and staff nodes"));
        }
        if req.scopes.iter().next().is_none() {
            return Err(NodeError::invalid("scopes", "at least one scope"));
        }
        if !(1..=MAX_USES).contains(&req.uses) {
            return Err(NodeError::invalid("uses", format!("must be from 1 to {MAX_USES}")));
        }
        let now = Timestamp::now();
        if req.expires_at <= now {
            return Err(NodeError::invalid("expires_at", "must be in the future"));
        }
        let credential_expires_at = req.credential_expires_at.unwrap_or(req.expires_at);
        if credential_expires_at < req.expires_at {
            return Err(NodeError::invalid(
                "credential_expires_at",
                "must not be before expires_at (a node enrolling late would get an expired credential)",
            ));
        }
        let listening = self.peer_url.lock().ok().and_then(|u| u.clone());
        let authority = match (&req.peer_address, listening) {
            (_, None) => {
                return Err(NodeError::Conflict(
                    "the peer listener is off: start cecd with --peer-listen ADDR so that new nodes can reach it"
                        .into(),
                ));
            }
            (Some(a), Some(_)) => {
                if !valid_authority(a) {
                    return Err(NodeError::invalid("peer_address", "expected HOST:PORT"));
                }
                a.clone()
            }
            (None, Some(url)) => {
                let url: PeerUrl =
                    url.parse().map_err(|e: crate::peer::PeerUrlError| NodeError::Conflict(e.to_string()))?;
                let host = url.authority.rsplit_once(':').map_or("", |(h, _)| h);
                if matches!(host, "0.0.0.0" | "[::]") {
                    return Err(NodeError::invalid(
                        "peer_address",
                        format!(
                            "the peer listener listens on every address ({}): give the HOST:PORT new nodes reach it at",
                            url.authority
                        ),
                    ));
                }
                url.authority
            }
        };
        let secret: [u8; SECRET_BYTES] = random32().map_err(|e| NodeError::Conflict(e.to_string()))?[..SECRET_BYTES]
            .try_into()
            .map_err(|_| NodeError::Conflict("no randomness".into()))?;
        let code = EnrolmentCode::new(&authority, self.node_id(), fingerprint(org.verifying_key().as_bytes()), secret)
            .map_err(|e| NodeError::invalid("peer_address", e.to_string()))?;
        let row = NewCode {
            secret_sha256: secret_hash(&secret),
            role: req.role.as_str().to_owned(),
            scopes: req.scopes.to_string(),
            uses: i64::from(req.uses),
            expires_at: ms(req.expires_at),
            credential_expires_at: ms(credential_expires_at),
        };
        self.store.write(move |tx| storage::put_enrolment_code(tx, &row)).await?;
        info!(role = req.role.as_str(), scopes = %req.scopes, uses = req.uses, expires_at = %req.expires_at, "enrolment code issued");
        Ok(IssuedCode { code, request: req, credential_expires_at })
    }

    /// Answers an enrolment (central node): spends a use of the code whose secret is `secret`
    /// and signs a credential for `key`.
    pub async fn claim_enrolment(&self, secret: &[u8], key: &VerifyingKey) -> Result<Credential, ClaimError> {
        let (org, name) = {
            let e = self.enrolment.read().unwrap_or_else(|p| p.into_inner());
            match (&e.org_signing, &e.org_name) {
                (Some(k), Some(n)) => (k.clone(), n.clone()),
                _ => return Err(ClaimError::NotCentral),
            }
        };
        let node = NodeId::from_public_key(key.as_bytes());
        if node == self.node_id() {
            return Err(ClaimError::Refused("the central node does not enrol itself".into()));
        }
        if self.is_revoked(&node) {
            return Err(ClaimError::Refused(format!(
                "node {node} was revoked: it cannot enrol again (a new node key, that is a new data directory, can)"
            )));
        }
        let (hash, id, now) = (secret_hash(secret), node.to_string(), Timestamp::now());
        let claim = self.store.write(move |tx| storage::claim_enrolment_code(tx, &hash, &id, ms(now))).await?;
        let at = |m: i64| Timestamp::from_millisecond(m).map_or_else(|_| m.to_string(), |t| t.to_string());
        let refused = |m: String| Err(ClaimError::Refused(m));
        let (role, scopes, expires) = match claim {
            Claim::Granted { role, scopes, credential_expires_at } => (role, scopes, credential_expires_at),
            Claim::Unknown => return refused("unknown enrolment code".into()),
            Claim::Expired(t) => return refused(format!("the enrolment code expired at {}", at(t))),
            Claim::UsedUp(n) => {
                return refused(format!("the enrolment code is used up (all {n} of its uses were spent)"));
            }
        };
        let stored = |what: &str| ClaimError::Refused(format!("the stored code's {what} is not understood"));
        let role: Role = role.parse().map_err(|_| stored("role"))?;
        let scopes = Scopes::parse_list(&scopes).map_err(|_| stored("scopes"))?;
        let expires = Timestamp::from_millisecond(expires).map_err(|_| stored("expiry"))?;
        let cred = Credential::issue(&org, &name, key, role, &scopes, now, expires);
        info!(node = %node, role = role.as_str(), %scopes, "node enrolled with a code");
        Ok(cred)
    }

    /// Enrols this node with `code`: fetches a credential from the central node it names,
    /// checks the organization key against the code's fingerprint, installs the credential and
    /// keeps the central node as a peer of source `central`.
    pub async fn enroll(&self, code: &str) -> Result<Enrolled, EnrolError> {
        let code: EnrolmentCode = code.parse()?;
        if self.enrolment.read().unwrap_or_else(|p| p.into_inner()).org_signing.is_some() {
            return Err(EnrolError::IsCentral);
        }
        if self.org_key().is_some_and(|k| fingerprint(k.as_bytes()) != code.org_fingerprint) {
            return Err(EnrolError::OtherOrganization);
        }
        let url = PeerUrl { authority: code.authority.clone(), node_id: code.central.clone() };
        let answer = crate::peer::client::enroll(self, &url, &code.secret).await.map_err(|e| match e {
            EnrolCallError::Refused(m) => EnrolError::Refused(m),
            EnrolCallError::Unreachable(cause) => EnrolError::Unreachable { url: url.to_string(), cause },
        })?;
        let org = parse_public_key(&answer.org_public_key).map_err(|_| EnrolError::Fingerprint(url.to_string()))?;
        if fingerprint(org.as_bytes()) != code.org_fingerprint {
            return Err(EnrolError::Fingerprint(url.to_string()));
        }
        let credential = self.install_credential(&answer.credential, &answer.org_public_key)?;
        let (id, u) = (url.node_id.to_string(), url.to_string());
        self.store.write(move |tx| storage::put_peer(tx, &id, &u, "central")).await.map_err(NodeError::from)?;
        self.clocks.invalidate();
        self.merge_revocations(&answer.revocations).await?;
        info!(central = %url, role = credential.role.as_str(), scopes = %credential.scopes, "enrolled");
        Ok(Enrolled {
            credential,
            org_public_key: answer.org_public_key,
            central_url: url.to_string(),
            central: url.node_id,
        })
    }

    /// Issues a credential for the node holding `key`, signed by the organization key: only
    /// the central node (`cecd init-central`) holds that key. It expires at `expires_at`,
    /// which must be in the future.
    pub fn issue_credential(
        &self,
        key: &VerifyingKey,
        role: Role,
        scopes: &Scopes,
        expires_at: Timestamp,
    ) -> NodeResult<Credential> {
        let (org_key, org) = {
            let e = self.enrolment.read().unwrap_or_else(|p| p.into_inner());
            match (&e.org_signing, &e.org_name) {
                (Some(k), Some(n)) => (k.clone(), n.clone()),
                _ => {
                    return Err(NodeError::Forbidden(
                        "only the organization's central node issues credentials (cecd init-central)".into(),
                    ));
                }
            }
        };
        let now = Timestamp::now();
        if expires_at <= now {
            return Err(NodeError::invalid("expires_at", "must be in the future"));
        }
        let c = Credential::issue(&org_key, &org, key, role, scopes, now, expires_at);
        info!(node = %c.node_id, role = role.as_str(), %scopes, "credential issued");
        Ok(c)
    }

    /// Installs `credential` for this node, pinning `org_key` (see [`Enrolment::install`]).
    pub fn install_credential(&self, credential: &str, org_key: &str) -> Result<Credential, EnrolmentError> {
        let key = self.identity.signing_key().verifying_key();
        let e = Enrolment::install(&self.data_dir, &key, credential, org_key, Timestamp::now())?;
        let c = e.credential.clone().ok_or(EnrolmentError::Refused(super::credential::CredentialError::NotEnrolled))?;
        *self.enrolment.write().unwrap_or_else(|p| p.into_inner()) = e;
        info!(role = c.role.as_str(), scopes = %c.scopes, "credential installed");
        Ok(c)
    }
}

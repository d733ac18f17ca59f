//! Revocations: the organization withdrawing a node's credentials (a lost kiosk).
//!
//! A revocation is a string `cecsync-rev-v1.<payload>.<signature>`: the payload is base64url
//! JSON `{node_id, revoked_at}`, the signature is the organization key's ed25519 signature of
//! `cecsync-rev-v1.<payload>` (the prefix is signed too, so a revocation can never pass for a
//! credential or the other way round). Any node checks one offline against its pinned
//! organization key, so nodes relay them: every peer handshake exchanges the lists both ways and
//! each side keeps the union. A node refuses a revoked peer in the handshake and on every sync
//! request, and a node that learns of its own revocation stops syncing.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cec_core::ident::NodeId;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use tracing::{debug, info};

use super::Node;
use super::credential::CredentialError;
use super::error::{NodeError, NodeResult};
use crate::storage::{self, RevocationRow};

const PREFIX: &str = "cecsync-rev-v1.";
/// The longest revocation string accepted.
const MAX_LEN: usize = 1024;
/// The most revocations taken from one peer message.
pub const MAX_EXCHANGED: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    node_id: String,
    revoked_at: Timestamp,
}

/// A revocation whose signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    /// The revoked node.
    pub node_id: NodeId,
    /// When the organization revoked it.
    pub revoked_at: Timestamp,
    /// The signed string.
    pub encoded: String,
}

fn malformed(why: impl std::fmt::Display) -> CredentialError {
    CredentialError::Malformed(format!("revocation: {why}"))
}

impl Revocation {
    /// Signs the revocation of `node_id` at `now` with the organization key.
    pub fn sign(org_key: &SigningKey, node_id: &NodeId, now: Timestamp) -> Self {
        // To the millisecond, as storage keeps it.
        let now = Timestamp::from_millisecond(now.as_millisecond()).unwrap_or(now);
        let payload = Payload { node_id: node_id.to_string(), revoked_at: now };
        // Serializing a struct of a string and a timestamp cannot fail.
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&payload).unwrap_or_default());
        let signed = format!("{PREFIX}{body}");
        let sig = org_key.sign(signed.as_bytes());
        Self {
            node_id: node_id.clone(),
            revoked_at: now,
            encoded: format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes())),
        }
    }

    /// Checks `encoded` against the organization key.
    pub fn verify(encoded: &str, org_key: &VerifyingKey) -> Result<Self, CredentialError> {
        let encoded = encoded.trim();
        if encoded.len() > MAX_LEN {
            return Err(malformed("too long"));
        }
        let (signed, sig) = encoded.rsplit_once('.').ok_or_else(|| malformed("no signature"))?;
        let body = signed.strip_prefix(PREFIX).ok_or_else(|| malformed("unknown format"))?;
        let sig = URL_SAFE_NO_PAD.decode(sig).map_err(malformed)?;
        let sig = Signature::from_slice(&sig).map_err(malformed)?;
        org_key.verify_strict(signed.as_bytes(), &sig).map_err(|_| CredentialError::WrongOrganization)?;
        let json = URL_SAFE_NO_PAD.decode(body).map_err(malformed)?;
        let p: Payload = serde_json::from_slice(&json).map_err(malformed)?;
        Ok(Self {
            node_id: p.node_id.parse().map_err(malformed)?,
            revoked_at: p.revoked_at,
            encoded: encoded.to_owned(),
        })
    }
}

/// The revocations a node knows, by node id.
pub type Revoked = HashMap<NodeId, Revocation>;

/// Reads the stored revocations (each was checked before it was stored).
pub(super) fn load(rows: Vec<RevocationRow>) -> Revoked {
    rows.into_iter()
        .filter_map(|r| {
            let node_id: NodeId = r.node_id.parse().ok()?;
            let revoked_at = Timestamp::from_millisecond(r.revoked_at).ok()?;
            Some((node_id.clone(), Revocation { node_id, revoked_at, encoded: r.entry }))
        })
        .collect()
}

impl Node {
    /// Whether the organization revoked `node`, as far as this node knows.
    pub fn is_revoked(&self, node: &NodeId) -> bool {
        self.revoked.read().unwrap_or_else(|p| p.into_inner()).contains_key(node)
    }

    /// The revocation of `node`, if this node heard of it.
    pub fn revocation_of(&self, node: &NodeId) -> Option<Revocation> {
        self.revoked.read().unwrap_or_else(|p| p.into_inner()).get(node).cloned()
    }

    /// This node's own revocation, if it heard of it.
    pub fn own_revocation(&self) -> Option<Revocation> {
        self.revocation_of(&self.node_id())
    }

    /// Every revocation this node knows, by node id.
    pub fn revocations(&self) -> Vec<Revocation> {
        let mut all: Vec<Revocation> =
            self.revoked.read().unwrap_or_else(|p| p.into_inner()).values().cloned().collect();
        all.sort_by(|a, b| a.node_id.cmp(&b.node_id));
        all
    }

    /// The signed strings of every revocation this node knows, to hand a peer.
    pub fn revocation_entries(&self) -> Vec<String> {
        self.revocations().into_iter().map(|r| r.encoded).collect()
    }

    /// Revokes `node_id`'s credentials (central node only). Idempotent: revoking a revoked node
    /// answers the first revocation and `false`.
    pub async fn revoke(&self, node_id: &NodeId) -> NodeResult<(Revocation, bool)> {
        let org = self.enrolment.read().unwrap_or_else(|p| p.into_inner()).org_signing.clone();
        let Some(org) = org else {
            return Err(NodeError::Forbidden("only the organization's central node revokes credentials".into()));
        };
        if *node_id == self.node_id() {
            return Err(NodeError::invalid("node_id", "that is the central node itself, which cannot be revoked"));
        }
        if let Some(known) = self.revoked.read().unwrap_or_else(|p| p.into_inner()).get(node_id) {
            return Ok((known.clone(), false));
        }
        let r = Revocation::sign(&org, node_id, Timestamp::now());
        let added = self.store_revocations(vec![r.clone()]).await?;
        info!(node = %node_id, "credentials revoked");
        Ok((r, added > 0))
    }

    /// Merges revocations a peer sent: those signed by this node's organization and new here are
    /// stored and take effect at once; the others are skipped. Returns how many were new.
    pub async fn merge_revocations(&self, entries: &[String]) -> NodeResult<usize> {
        let Some(org) = self.org_key() else { return Ok(0) };
        let mut fresh = Vec::new();
        {
            let known = self.revoked.read().unwrap_or_else(|p| p.into_inner());
            for e in entries.iter().take(MAX_EXCHANGED) {
                match Revocation::verify(e, &org) {
                    Ok(r) if !known.contains_key(&r.node_id) => fresh.push(r),
                    Ok(_) => {}
                    Err(err) => debug!(cause = %err, "revocation from a peer skipped"),
                }
            }
        }
        if fresh.is_empty() {
            return Ok(0);
        }
        let n = self.store_revocations(fresh).await?;
        if n > 0 {
            info!(count = n, "revocations learned from a peer");
        }
        Ok(n)
    }

    async fn store_revocations(&self, list: Vec<Revocation>) -> NodeResult<usize> {
        let rows: Vec<RevocationRow> = list
            .iter()
            .map(|r| RevocationRow {
                node_id: r.node_id.to_string(),
                revoked_at: r.revoked_at.as_millisecond(),
                entry: r.encoded.clone(),
            })
            .collect();
        let added = self
            .store
            .write(move |tx| {
                let mut n = 0;
                for r in &rows {
                    n += usize::from(storage::put_revocation(tx, r)?);
                }
                Ok(n)
            })
            .await?;
        let mut known = self.revoked.write().unwrap_or_else(|p| p.into_inner());
        for r in list {
            known.entry(r.node_id.clone()).or_insert(r);
        }
        Ok(added)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> SigningKey {
        SigningKey::from_bytes(&[b; 32])
    }

    #[test]
    fn revocations_verify_only_with_their_organization_and_untampered() {
        let (org, other) = (key(1), key(2));
        let node = NodeId::from_public_key(&[3; 32]);
        let now: Timestamp = "2027-03-01T09:00:00Z".parse().unwrap();
        let r = Revocation::sign(&org, &node, now);
        assert_eq!(Revocation::verify(&r.encoded, &org.verifying_key()).unwrap(), r);
        assert_eq!(Revocation::verify(&r.encoded, &other.verifying_key()), Err(CredentialError::WrongOrganization));
        // Another node id in the payload breaks the signature.
        let (signed, sig) = r.encoded.rsplit_once('.').unwrap();
        let body = signed.strip_prefix(PREFIX).unwrap();
        let mut p: Payload = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).unwrap()).unwrap();
        p.node_id = NodeId::from_public_key(&[4; 32]).to_string();
        let forged = format!("{PREFIX}{}.{sig}", URL_SAFE_NO_PAD.encode(serde_json::to_vec(&p).unwrap()));
        assert_eq!(Revocation::verify(&forged, &org.verifying_key()), Err(CredentialError::WrongOrganization));
        for bad in ["", "garbage", "cecsync-rev-v1.", "cecsync-rev-v1.a.b", &"x".repeat(5000)] {
            assert!(Revocation::verify(bad, &org.verifying_key()).is_err(), "{bad}");
        }
    }

    /// A central node revokes (never itself, idempotently); another node of the organization
    /// merges only what that organization signed, keeps it across restarts, and relays it.
    #[tokio::test]
    async fn nodes_merge_only_their_organizations_revocations() {
        use super::super::Identity;
        use super::super::credential::{Enrolment, encode_public_key};
        use crate::config::Config;

        let now = Timestamp::now();
        let central_dir = tempfile::tempdir().unwrap();
        let id = Identity::load_or_create(central_dir.path()).unwrap();
        Enrolment::init_central(central_dir.path(), "ACA", id.signing_key(), now).unwrap();
        let central = Node::open(central_dir.path(), Config::default()).await.unwrap();
        let lost = NodeId::from_public_key(&[3; 32]);
        assert!(matches!(central.revoke(&central.node_id()).await, Err(NodeError::Invalid { .. })));
        let (r, new) = central.revoke(&lost).await.unwrap();
        assert!(new && central.is_revoked(&lost));
        let (again, new) = central.revoke(&lost).await.unwrap();
        assert!(!new);
        assert_eq!(again, r);

        // A kiosk of the organization (its org key pinned by installing a credential).
        let kiosk_dir = tempfile::tempdir().unwrap();
        let kiosk_id = Identity::load_or_create(kiosk_dir.path()).unwrap();
        let org = Enrolment::load(central_dir.path()).unwrap().org_signing.unwrap();
        let scopes = cec_core::ident::Scopes::new([cec_core::ident::Scope::All]);
        let cred = super::super::credential::Credential::issue(
            &org,
            "ACA",
            &kiosk_id.signing_key().verifying_key(),
            cec_core::ident::Role::Kiosk,
            &scopes,
            now,
            Timestamp::MAX,
        );
        let kiosk = Node::open(kiosk_dir.path(), Config::default()).await.unwrap();
        kiosk.install_credential(&cred.encoded, &encode_public_key(&org.verifying_key())).unwrap();
        kiosk.revoke(&lost).await.unwrap_err();
        // Another organization's revocation, garbage and a forged entry are skipped.
        let foreign = Revocation::sign(&key(9), &NodeId::from_public_key(&[4; 32]), now);
        let entries = vec![foreign.encoded, "garbage".into(), r.encoded.clone(), r.encoded.clone()];
        assert_eq!(kiosk.merge_revocations(&entries).await.unwrap(), 1);
        assert_eq!(kiosk.merge_revocations(&entries).await.unwrap(), 0);
        assert!(kiosk.is_revoked(&lost) && !kiosk.is_revoked(&NodeId::from_public_key(&[4; 32])));
        assert_eq!(kiosk.revocation_entries(), vec![r.encoded.clone()]);
        kiosk.close().await;
        drop(kiosk);
        let reopened = Node::open(kiosk_dir.path(), Config::default()).await.unwrap();
        assert!(reopened.is_revoked(&lost), "revocations are kept across restarts");
        assert_eq!(reopened.revocations()[0].revoked_at, r.revoked_at);
        reopened.close().await;
        central.close().await;
    }

    #[test]
    fn a_credential_is_not_a_revocation_and_a_revocation_is_not_a_credential() {
        use super::super::credential::Credential;
        let org = key(1);
        let now: Timestamp = "2027-03-01T09:00:00Z".parse().unwrap();
        let scopes = cec_core::ident::Scopes::new([cec_core::ident::Scope::All]);
        let c =
            Credential::issue(&org, "ACA", &key(5).verifying_key(), cec_core::ident::Role::Kiosk, &scopes, now, now);
        assert!(Revocation::verify(&c.encoded, &org.verifying_key()).is_err());
        let r = Revocation::sign(&org, &NodeId::from_public_key(&[3; 32]), now);
        assert!(Credential::verify(&r.encoded, &org.verifying_key()).is_err());
        // The same body under the other prefix does not verify either: the prefix is signed.
        let swapped = r.encoded.replacen(PREFIX, "cecsync-cred-v1.", 1);
        assert!(Credential::verify(&swapped, &org.verifying_key()).is_err());
    }
}

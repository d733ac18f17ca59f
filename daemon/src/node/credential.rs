//! Credentials: what the organization's central node signs to let a node sync.
//!
//! A credential names one node key, its role and its scopes, and expires. It is a string
//! `cecsync-cred-v1.<payload>.<signature>`: the payload is base64url JSON, the signature is
//! the organization key's ed25519 signature of the payload's base64url text. A node checks a
//! peer's credential offline against the organization public key it pinned when its own
//! credential was installed.
//!
//! Files in the data directory: `org-key` (central node only: the organization's secret seed,
//! 0600), `org-public-key` (the pinned organization key, base64url), `credential` (this node's
//! own signed credential).

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cec_core::ident::{NodeId, Role, Scopes};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::identity::{IdentityError, random32, write_secret};

/// The organization's secret key (central node only).
pub const ORG_KEY_FILE: &str = "org-key";
/// The pinned organization public key.
pub const ORG_PUBLIC_KEY_FILE: &str = "org-public-key";
/// This node's credential.
pub const CREDENTIAL_FILE: &str = "credential";
/// The organization's name (central node only).
pub const ORG_NAME_FILE: &str = "org-name";

const PREFIX: &str = "cecsync-cred-v1.";

/// Why a credential is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// Not a credential string.
    #[error("not a credential: {0}")]
    Malformed(String),
    /// The signature is not the pinned organization's.
    #[error("credential not signed by this organization")]
    WrongOrganization,
    /// Past its expiry.
    #[error("credential expired at {0}")]
    Expired(Timestamp),
    /// It names another key than the one presenting it.
    #[error("credential is for node {named}, presented by {presented}")]
    WrongKey {
        /// The node the credential names.
        named: String,
        /// The node presenting it.
        presented: String,
    },
    /// The organization revoked it.
    #[error("credential of node {0} was revoked")]
    Revoked(String),
    /// This node has no credential or no pinned organization key.
    #[error("this node is not enrolled: it has no credential")]
    NotEnrolled,
}

/// The signed content of a credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    org: String,
    node_id: String,
    node_key: String,
    role: String,
    scopes: Vec<String>,
    issued_at: Timestamp,
    expires_at: Timestamp,
}

/// A credential whose signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// The organization's name.
    pub org: String,
    /// The node it is for.
    pub node_id: NodeId,
    /// That node's public key.
    pub node_key: [u8; 32],
    /// Its role.
    pub role: Role,
    /// What it may sync.
    pub scopes: Scopes,
    /// When it was signed.
    pub issued_at: Timestamp,
    /// When it stops being accepted.
    pub expires_at: Timestamp,
    /// The signed string, as presented.
    pub encoded: String,
}

fn malformed(why: impl std::fmt::Display) -> CredentialError {
    CredentialError::Malformed(why.to_string())
}

/// Decodes a base64url ed25519 public key.
pub fn parse_public_key(s: &str) -> Result<VerifyingKey, CredentialError> {
    let bytes = URL_SAFE_NO_PAD.decode(s.trim()).map_err(malformed)?;
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| malformed("a public key is 32 bytes"))?;
    VerifyingKey::from_bytes(&bytes).map_err(malformed)
}

/// A public key as base64url.
pub fn encode_public_key(key: &VerifyingKey) -> String {
    URL_SAFE_NO_PAD.encode(key.as_bytes())
}

impl Credential {
    /// Signs a credential for `node_key` with the organization key.
    pub fn issue(
        org_key: &SigningKey,
        org: &str,
        node_key: &VerifyingKey,
        role: Role,
        scopes: &Scopes,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Self {
        let node_id = NodeId::from_public_key(node_key.as_bytes());
        let payload = Payload {
            org: org.to_owned(),
            node_id: node_id.to_string(),
            node_key: encode_public_key(node_key),
            role: role.as_str().to_owned(),
            scopes: scopes.iter().map(ToString::to_string).collect(),
            issued_at: now,
            expires_at,
        };
        // Serializing a struct of strings and timestamps cannot fail.
        let json = serde_json::to_vec(&payload).unwrap_or_default();
        let body = URL_SAFE_NO_PAD.encode(json);
        let sig = org_key.sign(body.as_bytes());
        let encoded = format!("{PREFIX}{body}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()));
        Self {
            org: org.to_owned(),
            node_id,
            node_key: *node_key.as_bytes(),
            role,
            scopes: scopes.clone(),
            issued_at: now,
            expires_at,
            encoded,
        }
    }

    /// Checks `encoded` against the organization key: signature, then content. Expiry and the
    /// presenting key are checked by [`Credential::check`].
    pub fn verify(encoded: &str, org_key: &VerifyingKey) -> Result<Self, CredentialError> {
        let encoded = encoded.trim();
        if encoded.len() > 8 * 1024 {
            return Err(malformed("too long"));
        }
        let rest = encoded.strip_prefix(PREFIX).ok_or_else(|| malformed("unknown format"))?;
        let (body, sig) = rest.split_once('.').ok_or_else(|| malformed("no signature"))?;
        let sig = URL_SAFE_NO_PAD.decode(sig).map_err(malformed)?;
        let sig = Signature::from_slice(&sig).map_err(malformed)?;
        org_key.verify_strict(body.as_bytes(), &sig).map_err(|_| CredentialError::WrongOrganization)?;
        let json = URL_SAFE_NO_PAD.decode(body).map_err(malformed)?;
        let p: Payload = serde_json::from_slice(&json).map_err(malformed)?;
        let key = parse_public_key(&p.node_key)?;
        let node_id = NodeId::from_public_key(key.as_bytes());
        if node_id.as_str() != p.node_id {
            return Err(malformed("node id does not match its key"));
        }
        let scopes = Scopes::new(p.scopes.iter().map(|s| s.parse()).collect::<Result<Vec<_>, _>>().map_err(malformed)?);
        Ok(Self {
            org: p.org,
            node_id,
            node_key: *key.as_bytes(),
            role: p.role.parse().map_err(malformed)?,
            scopes,
            issued_at: p.issued_at,
            expires_at: p.expires_at,
            encoded: encoded.to_owned(),
        })
    }

    /// Whether this credential may be used now by the node whose key is `presented`, given
    /// the revoked node ids.
    pub fn check(
        &self,
        presented: &[u8; 32],
        now: Timestamp,
        revoked: &dyn Fn(&NodeId) -> bool,
    ) -> Result<(), CredentialError> {
        if &self.node_key != presented {
            return Err(CredentialError::WrongKey {
                named: self.node_id.to_string(),
                presented: NodeId::from_public_key(presented).to_string(),
            });
        }
        if now >= self.expires_at {
            return Err(CredentialError::Expired(self.expires_at));
        }
        if revoked(&self.node_id) {
            return Err(CredentialError::Revoked(self.node_id.to_string()));
        }
        Ok(())
    }
}

/// The organization as a node knows it: its pinned key, its own credential and, on the
/// central node, the organization's secret key.
#[derive(Debug, Default, Clone)]
pub struct Enrolment {
    /// The pinned organization public key.
    pub org_key: Option<VerifyingKey>,
    /// This node's credential.
    pub credential: Option<Credential>,
    /// The organization's signing key (central node only).
    pub org_signing: Option<SigningKey>,
    /// The organization's name (central node only).
    pub org_name: Option<String>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> IdentityError + '_ {
    move |source| IdentityError::Io { path: path.display().to_string(), source }
}

impl Enrolment {
    /// Reads what `dir` holds. A credential that no longer verifies against the pinned key
    /// is an error (the files were tampered with).
    pub fn load(dir: &Path) -> Result<Self, EnrolmentError> {
        let read = |name: &str| -> Result<Option<String>, EnrolmentError> {
            let path = dir.join(name);
            match std::fs::read_to_string(&path) {
                Ok(s) if !s.trim().is_empty() => Ok(Some(s.trim().to_owned())),
                Ok(_) => Ok(None),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(EnrolmentError::Identity(io(&path)(e))),
            }
        };
        let mut out = Self::default();
        if let Some(k) = read(ORG_PUBLIC_KEY_FILE)? {
            out.org_key = Some(parse_public_key(&k).map_err(|e| EnrolmentError::File(ORG_PUBLIC_KEY_FILE, e))?);
        }
        if let (Some(c), Some(key)) = (read(CREDENTIAL_FILE)?, out.org_key.as_ref()) {
            out.credential = Some(Credential::verify(&c, key).map_err(|e| EnrolmentError::File(CREDENTIAL_FILE, e))?);
        }
        let seed_path = dir.join(ORG_KEY_FILE);
        if seed_path.exists() {
            let seed = std::fs::read(&seed_path).map_err(|e| EnrolmentError::Identity(io(&seed_path)(e)))?;
            let seed: [u8; 32] = seed.try_into().map_err(|_| {
                EnrolmentError::File(ORG_KEY_FILE, CredentialError::Malformed("expected 32 bytes".into()))
            })?;
            out.org_signing = Some(SigningKey::from_bytes(&seed));
            out.org_name = read(ORG_NAME_FILE)?;
        }
        Ok(out)
    }

    /// Makes the node in `dir` (with signing key `node_key`) the organization's central node:
    /// a new organization key, pinned, and a credential for itself with role `central` and
    /// scope `*` that does not expire in practice.
    pub fn init_central(dir: &Path, org: &str, node_key: &SigningKey, now: Timestamp) -> Result<Self, EnrolmentError> {
        if dir.join(ORG_KEY_FILE).exists() {
            return Err(EnrolmentError::AlreadyCentral);
        }
        let org_signing = SigningKey::from_bytes(&random32()?);
        write_secret(&dir.join(ORG_KEY_FILE), org_signing.as_bytes())?;
        write_secret(&dir.join(ORG_NAME_FILE), org.as_bytes())?;
        // The central node's own credential does not expire in practice; a round date reads
        // better than the largest instant.
        let far = "9999-01-01T00:00:00Z".parse().unwrap_or(Timestamp::MAX);
        let scopes = Scopes::new([cec_core::ident::Scope::All]);
        let cred = Credential::issue(&org_signing, org, &node_key.verifying_key(), Role::Central, &scopes, now, far);
        write_secret(&dir.join(ORG_PUBLIC_KEY_FILE), encode_public_key(&org_signing.verifying_key()).as_bytes())?;
        write_secret(&dir.join(CREDENTIAL_FILE), cred.encoded.as_bytes())?;
        Self::load(dir)
    }

    /// Installs `credential` for this node (key `node_key`), pinning `org_key`. Refuses a
    /// credential for another key, one not signed by `org_key`, an expired one, and a change
    /// of organization once one is pinned.
    pub fn install(
        dir: &Path,
        node_key: &VerifyingKey,
        credential: &str,
        org_key: &str,
        now: Timestamp,
    ) -> Result<Self, EnrolmentError> {
        let org = parse_public_key(org_key).map_err(EnrolmentError::Refused)?;
        let current = Self::load(dir)?;
        if current.org_key.is_some_and(|k| k != org) {
            return Err(EnrolmentError::OtherOrganization);
        }
        let cred = Credential::verify(credential, &org).map_err(EnrolmentError::Refused)?;
        cred.check(node_key.as_bytes(), now, &|_| false).map_err(EnrolmentError::Refused)?;
        write_secret(&dir.join(ORG_PUBLIC_KEY_FILE), encode_public_key(&org).as_bytes())?;
        write_secret(&dir.join(CREDENTIAL_FILE), cred.encoded.as_bytes())?;
        Self::load(dir)
    }
}

/// Why the enrolment files could not be read or changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnrolmentError {
    /// Reading or writing a file.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// A file holds something that does not verify.
    #[error("{0}: {1}")]
    File(&'static str, CredentialError),
    /// The node is the central node already.
    #[error("this node is already an organization's central node")]
    AlreadyCentral,
    /// A credential to install was refused.
    #[error("credential refused: {0}")]
    Refused(CredentialError),
    /// The node is pinned to another organization.
    #[error("this node belongs to another organization (another organization key is pinned)")]
    OtherOrganization,
}

#[cfg(test)]
mod tests {
    use cec_core::ident::Scope;

    use super::*;

    fn key(b: u8) -> SigningKey {
        SigningKey::from_bytes(&[b; 32])
    }

    #[test]
    fn issued_credentials_verify_and_refuse_what_they_should() {
        let (org, other_org, node, thief) = (key(1), key(2), key(3), key(4));
        let now: Timestamp = "2027-03-01T09:00:00Z".parse().unwrap();
        let later: Timestamp = "2027-03-10T00:00:00Z".parse().unwrap();
        let scopes = Scopes::new([Scope::Event("E1".into())]);
        let c = Credential::issue(&org, "ACA", &node.verifying_key(), Role::Kiosk, &scopes, now, later);
        let v = Credential::verify(&c.encoded, &org.verifying_key()).unwrap();
        assert_eq!(v, c);
        assert_eq!(v.check(node.verifying_key().as_bytes(), now, &|_| false), Ok(()));
        // Signed by another organization.
        assert_eq!(Credential::verify(&c.encoded, &other_org.verifying_key()), Err(CredentialError::WrongOrganization));
        // Presented by another key.
        assert!(matches!(
            v.check(thief.verifying_key().as_bytes(), now, &|_| false),
            Err(CredentialError::WrongKey { .. })
        ));
        // Expired; revoked.
        assert_eq!(v.check(node.verifying_key().as_bytes(), later, &|_| false), Err(CredentialError::Expired(later)));
        assert!(matches!(v.check(node.verifying_key().as_bytes(), now, &|_| true), Err(CredentialError::Revoked(_))));
        // Tampered: a widened scope breaks the signature.
        let body = c.encoded.strip_prefix(PREFIX).unwrap().split_once('.').unwrap();
        let mut p: Payload = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body.0).unwrap()).unwrap();
        p.scopes = vec!["*".into()];
        let forged = format!("{PREFIX}{}.{}", URL_SAFE_NO_PAD.encode(serde_json::to_vec(&p).unwrap()), body.1);
        assert_eq!(Credential::verify(&forged, &org.verifying_key()), Err(CredentialError::WrongOrganization));
        assert!(Credential::verify("garbage", &org.verifying_key()).is_err());
    }

    #[test]
    fn central_node_and_installation() {
        let central_dir = tempfile::tempdir().unwrap();
        let kiosk_dir = tempfile::tempdir().unwrap();
        let now: Timestamp = "2027-03-01T09:00:00Z".parse().unwrap();
        let central = Enrolment::init_central(central_dir.path(), "ACA", &key(5), now).unwrap();
        assert_eq!(central.credential.as_ref().unwrap().role, Role::Central);
        assert!(matches!(
            Enrolment::init_central(central_dir.path(), "ACA", &key(5), now),
            Err(EnrolmentError::AlreadyCentral)
        ));
        let org = central.org_signing.unwrap();
        let kiosk = key(6);
        let scopes = Scopes::new([Scope::Event("E1".into())]);
        let c = Credential::issue(&org, "ACA", &kiosk.verifying_key(), Role::Kiosk, &scopes, now, Timestamp::MAX);
        let org_pub = encode_public_key(&org.verifying_key());
        // Not for this node's key: refused.
        let wrong = Enrolment::install(kiosk_dir.path(), &key(7).verifying_key(), &c.encoded, &org_pub, now);
        assert!(matches!(wrong, Err(EnrolmentError::Refused(CredentialError::WrongKey { .. }))));
        let e = Enrolment::install(kiosk_dir.path(), &kiosk.verifying_key(), &c.encoded, &org_pub, now).unwrap();
        assert_eq!(e.credential.unwrap().scopes, scopes);
        // Another organization cannot take over a pinned node.
        let other = encode_public_key(&key(8).verifying_key());
        let c2 = Credential::issue(&key(8), "X", &kiosk.verifying_key(), Role::Kiosk, &scopes, now, Timestamp::MAX);
        assert!(matches!(
            Enrolment::install(kiosk_dir.path(), &kiosk.verifying_key(), &c2.encoded, &other, now),
            Err(EnrolmentError::OtherOrganization)
        ));
    }
}

//! The node's identity and API token, created in the data directory on first start.
//!
//! - `node-key`: the ed25519 secret key seed (32 bytes, mode 0600); the node id derives from the
//!   public key.
//! - `api-token`: the bearer token of the local API (mode 0600), printed by `cecd token`.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha256};

/// File holding the node key seed.
pub const KEY_FILE: &str = "node-key";
/// File holding the API token.
pub const TOKEN_FILE: &str = "api-token";
/// File the running node writes its API base URL to, for the CLI.
pub const URL_FILE: &str = "api-url";

/// Why the identity could not be loaded or created.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// The key file is not 32 bytes.
    #[error("{0}: not a node key (expected 32 bytes)")]
    BadKey(String),
    /// No randomness available.
    #[error("no randomness available: {0}")]
    Random(String),
}

/// The node's keys and token.
pub struct Identity {
    key: SigningKey,
    /// The API token.
    pub token: String,
    /// The node id: `n` and 24 hex digits of the public key's SHA-256.
    pub node_id: String,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity").field("node_id", &self.node_id).finish_non_exhaustive()
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> IdentityError + '_ {
    move |source| IdentityError::Io { path: path.display().to_string(), source }
}

fn random32() -> Result<[u8; 32], IdentityError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| IdentityError::Random(e.to_string()))?;
    Ok(b)
}

/// Writes a new secret file with mode 0600, durably; refuses to overwrite.
fn create_secret(path: &Path, bytes: &[u8]) -> Result<(), IdentityError> {
    let mut f = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(io(path))?;
    f.write_all(bytes).map_err(io(path))?;
    f.sync_all().map_err(io(path))?;
    Ok(())
}

impl Identity {
    /// Loads the identity from `dir`, creating what is missing.
    pub fn load_or_create(dir: &Path) -> Result<Self, IdentityError> {
        // Portfolios, check-ins and evidence live here: only this user may read them.
        if !dir.exists() {
            std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(io(dir))?;
        }
        let key_path = dir.join(KEY_FILE);
        if !key_path.exists() {
            create_secret(&key_path, &random32()?)?;
        }
        let seed = fs::read(&key_path).map_err(io(&key_path))?;
        let seed: [u8; 32] = seed.try_into().map_err(|_| IdentityError::BadKey(key_path.display().to_string()))?;
        let key = SigningKey::from_bytes(&seed);

        let token_path = dir.join(TOKEN_FILE);
        if !token_path.exists() {
            create_secret(&token_path, URL_SAFE_NO_PAD.encode(random32()?).as_bytes())?;
        }
        let token = fs::read_to_string(&token_path).map_err(io(&token_path))?.trim().to_owned();
        // Keep the token private even if someone loosened it.
        let _ = fs::set_permissions(&token_path, fs::Permissions::from_mode(0o600));

        let digest = Sha256::digest(key.verifying_key().as_bytes());
        let node_id = format!("n{}", digest.iter().take(12).map(|b| format!("{b:02x}")).collect::<String>());
        Ok(Self { key, token, node_id })
    }

    /// The public key, base64url.
    pub fn public_key(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.key.verifying_key().as_bytes())
    }
}

/// Reads the API token of the node in `dir`, without creating anything.
pub fn read_token(dir: &Path) -> Result<String, IdentityError> {
    let path = dir.join(TOKEN_FILE);
    Ok(fs::read_to_string(&path).map_err(io(&path))?.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_is_created_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let a = Identity::load_or_create(dir.path()).unwrap();
        let b = Identity::load_or_create(dir.path()).unwrap();
        assert_eq!(a.node_id, b.node_id);
        assert_eq!(a.token, b.token);
        assert_eq!(a.token, read_token(dir.path()).unwrap());
        assert!(a.token.len() >= 40);
        let mode = fs::metadata(dir.path().join(TOKEN_FILE)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let fresh = dir.path().join("new").join("cecd");
        Identity::load_or_create(&fresh).unwrap();
        assert_eq!(fs::metadata(&fresh).unwrap().permissions().mode() & 0o777, 0o700);
        let other = tempfile::tempdir().unwrap();
        assert_ne!(Identity::load_or_create(other.path()).unwrap().node_id, a.node_id);
    }
}

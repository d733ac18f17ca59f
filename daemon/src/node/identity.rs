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
    #[error(
        "{path}: not a node key ({found} bytes, expected 32); a new key would make a new node, so restore \
         the file from a backup, or move the data directory aside to start a new node"
    )]
    BadKey {
        /// The file.
        path: String,
        /// Its length.
        found: usize,
    },
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
    pub node_id: cec_core::ident::NodeId,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity").field("node_id", &self.node_id).finish_non_exhaustive()
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> IdentityError + '_ {
    move |source| IdentityError::Io { path: path.display().to_string(), source }
}

pub(crate) fn random32() -> Result<[u8; 32], IdentityError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| IdentityError::Random(e.to_string()))?;
    Ok(b)
}

/// Writes a secret file with mode 0600 atomically: a temporary file beside it, fsynced, then
/// renamed over it and the directory fsynced. A crash or a full disk leaves the old file (or
/// none), never a short one.
pub(crate) fn write_secret(path: &Path, bytes: &[u8]) -> Result<(), IdentityError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let written = (|| {
        let mut f = fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
        f.set_permissions(fs::Permissions::from_mode(0o600))?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent() {
            fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    })();
    written.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        IdentityError::Io { path: path.display().to_string(), source: e }
    })
}

/// Tightens the data directory to this user alone: directories 0700, files 0600, recursively
/// (the database, its journal, blobs). Portfolios, check-ins and evidence live there.
pub fn secure_data_dir(dir: &Path) -> Result<(), IdentityError> {
    fn walk(path: &Path, is_dir: bool, loosened: &mut usize) -> Result<(), IdentityError> {
        let meta = fs::symlink_metadata(path).map_err(io(path))?;
        let mode = meta.permissions().mode() & 0o7777;
        let want = if is_dir { 0o700 } else { mode & 0o600 };
        if mode & 0o077 != 0 || (is_dir && mode & 0o700 != 0o700) {
            fs::set_permissions(path, fs::Permissions::from_mode(want)).map_err(io(path))?;
            *loosened += 1;
        }
        if is_dir {
            for entry in fs::read_dir(path).map_err(io(path))? {
                let entry = entry.map_err(io(path))?;
                let kind = entry.file_type().map_err(io(path))?;
                if kind.is_dir() || kind.is_file() {
                    walk(&entry.path(), kind.is_dir(), loosened)?;
                }
            }
        }
        Ok(())
    }
    let mut loosened = 0;
    walk(dir, true, &mut loosened)?;
    if loosened > 0 {
        tracing::warn!(data_dir = %dir.display(), files = loosened, "data directory was readable by others: tightened to 0700/0600");
    }
    Ok(())
}

impl Identity {
    /// Loads the identity from `dir`, creating what is missing.
    ///
    /// The data directory (created if missing) is tightened to this user first. An empty or
    /// unreadable API token is replaced by a new one (clients then need `cecd token` again); a
    /// node key that cannot be read is an error, since a new key would be a new node.
    pub fn load_or_create(dir: &Path) -> Result<Self, IdentityError> {
        if !dir.exists() {
            std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(io(dir))?;
        }
        secure_data_dir(dir)?;
        let key_path = dir.join(KEY_FILE);
        if !key_path.exists() {
            write_secret(&key_path, &random32()?)?;
        }
        let seed = fs::read(&key_path).map_err(io(&key_path))?;
        let found = seed.len();
        let seed: [u8; 32] =
            seed.try_into().map_err(|_| IdentityError::BadKey { path: key_path.display().to_string(), found })?;
        let key = SigningKey::from_bytes(&seed);

        let token_path = dir.join(TOKEN_FILE);
        let token = match fs::read_to_string(&token_path) {
            Ok(t) if !t.trim().is_empty() => t.trim().to_owned(),
            read => {
                if token_path.exists() {
                    let why = read.err().map_or_else(|| "empty".to_owned(), |e| e.to_string());
                    tracing::warn!(path = %token_path.display(), cause = %why, "api token unusable: writing a new one (see `cecd token`)");
                }
                let token = URL_SAFE_NO_PAD.encode(random32()?);
                write_secret(&token_path, token.as_bytes())?;
                token
            }
        };

        let node_id = cec_core::ident::NodeId::from_public_key(key.verifying_key().as_bytes());
        Ok(Self { key, token, node_id })
    }

    /// The node's signing key (its TLS certificate and credential requests are made from it).
    pub fn signing_key(&self) -> &SigningKey {
        &self.key
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

    /// A first start on a full disk left an empty `api-token`; the node then answered 401 to
    /// every token. An empty or unreadable token is replaced; the node key is kept.
    #[test]
    fn an_empty_or_unreadable_token_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let first = Identity::load_or_create(dir.path()).unwrap();
        let token_path = dir.path().join(TOKEN_FILE);
        fs::write(&token_path, "").unwrap();
        let second = Identity::load_or_create(dir.path()).unwrap();
        assert!(second.token.len() >= 40, "{:?}", second.token);
        assert_eq!(second.token, read_token(dir.path()).unwrap());
        assert_eq!(second.node_id, first.node_id);
        fs::write(&token_path, "  \n").unwrap();
        assert!(Identity::load_or_create(dir.path()).unwrap().token.len() >= 40);
        fs::remove_file(&token_path).unwrap();
        fs::write(&token_path, [0xff, 0xfe, 0x00]).unwrap(); // not UTF-8
        let third = Identity::load_or_create(dir.path()).unwrap();
        assert!(third.token.len() >= 40 && third.token.is_ascii());
        assert_eq!(fs::metadata(&token_path).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(!dir.path().join("api-token.tmp").exists());
    }

    #[test]
    fn a_bad_node_key_is_an_error_not_a_new_identity() {
        let dir = tempfile::tempdir().unwrap();
        Identity::load_or_create(dir.path()).unwrap();
        let key_path = dir.path().join(KEY_FILE);
        for bad in [&b""[..], b"short"] {
            fs::write(&key_path, bad).unwrap();
            let e = Identity::load_or_create(dir.path()).unwrap_err().to_string();
            assert!(e.contains("node-key") && e.contains("expected 32"), "{e}");
            assert_eq!(fs::read(&key_path).unwrap(), bad, "the key file was replaced");
        }
    }

    /// `mkdir -m 755 d; cecd --data-dir d` left the data readable by every local user.
    #[test]
    fn an_existing_data_dir_is_tightened() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("d");
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        fs::create_dir_all(dir.join("blobs/ab")).unwrap();
        fs::set_permissions(dir.join("blobs"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(dir.join("blobs/ab"), fs::Permissions::from_mode(0o775)).unwrap();
        for f in ["cecd.sqlite3", "blobs/ab/abcd"] {
            fs::write(dir.join(f), "x").unwrap();
            fs::set_permissions(dir.join(f), fs::Permissions::from_mode(0o644)).unwrap();
        }
        Identity::load_or_create(&dir).unwrap();
        let mode = |p: &str| fs::metadata(dir.join(p)).unwrap().permissions().mode() & 0o777;
        for d in ["", "blobs", "blobs/ab"] {
            assert_eq!(mode(d), 0o700, "{d}");
        }
        for f in ["cecd.sqlite3", "blobs/ab/abcd", KEY_FILE, TOKEN_FILE] {
            assert_eq!(mode(f), 0o600, "{f}");
        }
    }
}

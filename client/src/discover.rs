//! Finding the local node: its data directory, API token and URL.
//!
//! The lookups are pure functions of a [`DiscoverEnv`] so they can be tested without touching
//! the process environment; [`DiscoverEnv::from_process`] reads the real one.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::ClientError;

/// Where `cecd` listens unless told otherwise.
pub const DEFAULT_URL: &str = "http://127.0.0.1:7420";

/// The token file in a data directory.
pub const TOKEN_FILE: &str = "api-token";

/// The file in a data directory where a running `cecd` writes its API URL.
pub const URL_FILE: &str = "api-url";

/// The environment that discovery reads. Empty values count as unset.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DiscoverEnv {
    /// `CECD_DATA_DIR`.
    pub cecd_data_dir: Option<PathBuf>,
    /// `XDG_DATA_HOME` (ignored unless absolute, as the XDG spec says).
    pub xdg_data_home: Option<PathBuf>,
    /// The home directory.
    pub home: Option<PathBuf>,
    /// `CEC_URL`.
    pub cec_url: Option<String>,
}

impl DiscoverEnv {
    /// Reads `CECD_DATA_DIR`, `XDG_DATA_HOME`, `CEC_URL` and the home directory.
    pub fn from_process() -> DiscoverEnv {
        fn var(name: &str) -> Option<OsString> {
            std::env::var_os(name).filter(|v| !v.is_empty())
        }
        DiscoverEnv {
            cecd_data_dir: var("CECD_DATA_DIR").map(PathBuf::from),
            xdg_data_home: var("XDG_DATA_HOME").map(PathBuf::from),
            home: dirs::home_dir(),
            cec_url: var("CEC_URL").and_then(|v| v.into_string().ok()).filter(|v| !v.trim().is_empty()),
        }
    }
}

/// Where the URL came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UrlSource {
    /// `--url` or an explicit argument.
    Explicit,
    /// `CEC_URL`.
    Env,
    /// The data directory's `api-url` file.
    File,
    /// [`DEFAULT_URL`].
    Default,
}

/// What discovery found.
#[derive(Clone, PartialEq, Eq)]
pub struct Discovery {
    /// The data directory.
    pub data_dir: PathBuf,
    /// Whether the data directory was chosen explicitly (argument or `CECD_DATA_DIR`).
    pub data_dir_explicit: bool,
    /// The API's base URL, without a trailing slash.
    pub base_url: String,
    /// Where the URL came from.
    pub url_source: UrlSource,
    /// The bearer token.
    pub token: String,
}

impl fmt::Debug for Discovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Discovery")
            .field("data_dir", &self.data_dir)
            .field("data_dir_explicit", &self.data_dir_explicit)
            .field("base_url", &self.base_url)
            .field("url_source", &self.url_source)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// The data directory: `explicit`, else `CECD_DATA_DIR`, else `$XDG_DATA_HOME/cecd`, else
/// `~/.local/share/cecd`. The flag says whether it was chosen explicitly.
pub fn data_dir(explicit: Option<PathBuf>, env: &DiscoverEnv) -> Result<(PathBuf, bool), ClientError> {
    if let Some(dir) = explicit.filter(|d| !d.as_os_str().is_empty()) {
        return Ok((dir, true));
    }
    if let Some(dir) = env.cecd_data_dir.clone().filter(|d| !d.as_os_str().is_empty()) {
        return Ok((dir, true));
    }
    if let Some(xdg) = env.xdg_data_home.as_ref().filter(|d| d.is_absolute()) {
        return Ok((xdg.join("cecd"), false));
    }
    match &env.home {
        Some(home) => Ok((home.join(".local").join("share").join("cecd"), false)),
        None => Err(ClientError::NoDataDir { path: PathBuf::from("~/.local/share/cecd"), explicit: false }),
    }
}

/// Finds the node: data directory (see [`data_dir`]), token from `<data_dir>/api-token`, and
/// URL from `explicit_url`, else `CEC_URL`, else `<data_dir>/api-url`, else [`DEFAULT_URL`].
pub fn discover(
    explicit_dir: Option<PathBuf>,
    explicit_url: Option<String>,
    env: &DiscoverEnv,
) -> Result<Discovery, ClientError> {
    let (data_dir, data_dir_explicit) = data_dir(explicit_dir, env)?;
    if !data_dir.is_dir() {
        return Err(ClientError::NoDataDir { path: data_dir, explicit: data_dir_explicit });
    }
    let token_path = data_dir.join(TOKEN_FILE);
    let token = match read_trimmed(&token_path)? {
        Some(t) if !t.is_empty() => t,
        _ => return Err(ClientError::NoToken { path: token_path, data_dir }),
    };
    let (raw, url_source) = if let Some(u) = explicit_url.filter(|u| !u.trim().is_empty()) {
        (u, UrlSource::Explicit)
    } else if let Some(u) = env.cec_url.clone().filter(|u| !u.trim().is_empty()) {
        (u, UrlSource::Env)
    } else if let Some(u) = read_trimmed(&data_dir.join(URL_FILE))?.filter(|u| !u.is_empty()) {
        (u, UrlSource::File)
    } else {
        (DEFAULT_URL.to_owned(), UrlSource::Default)
    };
    let base_url = normalize_url(&raw)?;
    Ok(Discovery { data_dir, data_dir_explicit, base_url, url_source, token })
}

/// `127.0.0.1:7420` → `http://127.0.0.1:7420`; trailing slashes dropped; only `http`.
pub fn normalize_url(raw: &str) -> Result<String, ClientError> {
    let t = raw.trim();
    let with_scheme = if t.contains("://") { t.to_owned() } else { format!("http://{t}") };
    let url = reqwest::Url::parse(&with_scheme)
        .map_err(|e| ClientError::BadUrl { url: raw.to_owned(), cause: e.to_string() })?;
    if url.scheme() != "http" {
        return Err(ClientError::BadUrl {
            url: raw.to_owned(),
            cause: "only http:// is supported (the API is served on loopback)".into(),
        });
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(ClientError::BadUrl { url: raw.to_owned(), cause: "no host".into() });
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// The file's content trimmed, or `None` when it does not exist.
fn read_trimmed(path: &Path) -> Result<Option<String>, ClientError> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s.trim().to_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ClientError::Io { path: path.to_owned(), source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_home(home: &Path) -> DiscoverEnv {
        DiscoverEnv { home: Some(home.to_owned()), ..DiscoverEnv::default() }
    }

    fn node_dir(token: &str, url: Option<&str>) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(TOKEN_FILE), token).unwrap();
        if let Some(u) = url {
            std::fs::write(dir.path().join(URL_FILE), u).unwrap();
        }
        dir
    }

    #[test]
    fn data_dir_precedence() {
        let mut env = env_home(Path::new("/home/ann"));
        assert_eq!(data_dir(None, &env).unwrap(), (PathBuf::from("/home/ann/.local/share/cecd"), false));
        env.xdg_data_home = Some("relative/ignored".into());
        assert_eq!(data_dir(None, &env).unwrap().0, PathBuf::from("/home/ann/.local/share/cecd"));
        env.xdg_data_home = Some("/xdg".into());
        assert_eq!(data_dir(None, &env).unwrap(), (PathBuf::from("/xdg/cecd"), false));
        env.cecd_data_dir = Some("/srv/cecd".into());
        assert_eq!(data_dir(None, &env).unwrap(), (PathBuf::from("/srv/cecd"), true));
        assert_eq!(data_dir(Some("/arg".into()), &env).unwrap(), (PathBuf::from("/arg"), true));
        assert!(data_dir(None, &DiscoverEnv::default()).is_err());
    }

    #[test]
    fn reads_token_and_url_file() {
        let dir = node_dir("s3cret\n", Some("http://127.0.0.1:45123\n"));
        let d = discover(Some(dir.path().to_owned()), None, &DiscoverEnv::default()).unwrap();
        assert_eq!(d.token, "s3cret");
        assert_eq!(d.base_url, "http://127.0.0.1:45123");
        assert_eq!(d.url_source, UrlSource::File);
        assert!(d.data_dir_explicit);
        assert!(!format!("{d:?}").contains("s3cret"), "the token must not be printed");
    }

    #[test]
    fn url_precedence() {
        let dir = node_dir("t", Some("http://127.0.0.1:45123"));
        let mut env = DiscoverEnv { cec_url: Some("http://127.0.0.1:5000/".into()), ..DiscoverEnv::default() };
        let d = discover(Some(dir.path().to_owned()), None, &env).unwrap();
        assert_eq!((d.base_url.as_str(), d.url_source), ("http://127.0.0.1:5000", UrlSource::Env));
        let d = discover(Some(dir.path().to_owned()), Some("127.0.0.1:6000".into()), &env).unwrap();
        assert_eq!((d.base_url.as_str(), d.url_source), ("http://127.0.0.1:6000", UrlSource::Explicit));
        env.cec_url = None;
        let bare = node_dir("t", None);
        let d = discover(Some(bare.path().to_owned()), None, &env).unwrap();
        assert_eq!((d.base_url.as_str(), d.url_source), (DEFAULT_URL, UrlSource::Default));
    }

    #[test]
    fn env_data_dir_is_used() {
        let dir = node_dir("tok", None);
        let env = DiscoverEnv { cecd_data_dir: Some(dir.path().to_owned()), ..DiscoverEnv::default() };
        let d = discover(None, None, &env).unwrap();
        assert_eq!(d.data_dir, dir.path());
        assert_eq!(d.token, "tok");
    }

    #[test]
    fn xdg_data_home_is_used() {
        let xdg = tempfile::tempdir().unwrap();
        std::fs::create_dir(xdg.path().join("cecd")).unwrap();
        std::fs::write(xdg.path().join("cecd").join(TOKEN_FILE), "x").unwrap();
        let env = DiscoverEnv { xdg_data_home: Some(xdg.path().to_owned()), ..DiscoverEnv::default() };
        let d = discover(None, None, &env).unwrap();
        assert_eq!(d.data_dir, xdg.path().join("cecd"));
        assert!(!d.data_dir_explicit);
    }

    #[test]
    fn helpful_errors() {
        let home = tempfile::tempdir().unwrap();
        let e = discover(None, None, &env_home(home.path())).unwrap_err();
        assert!(matches!(e, ClientError::NoDataDir { .. }));
        let msg = e.to_string();
        assert!(msg.contains("no cecd data directory at") && msg.contains("--data-dir"), "{msg}");

        let missing = home.path().join("kiosk");
        let e = discover(Some(missing.clone()), None, &env_home(home.path())).unwrap_err();
        assert!(matches!(e, ClientError::NoDataDir { explicit: true, .. }), "{e:?}");
        assert!(e.to_string().contains(&format!("`cecd --data-dir {}`", missing.display())), "{e}");

        let empty = tempfile::tempdir().unwrap();
        let e = discover(Some(empty.path().to_owned()), None, &DiscoverEnv::default()).unwrap_err();
        assert!(matches!(e, ClientError::NoToken { .. }));
        assert!(e.to_string().contains("api-token"), "{e}");

        let blank = node_dir("  \n", None);
        let e = discover(Some(blank.path().to_owned()), None, &DiscoverEnv::default()).unwrap_err();
        assert!(matches!(e, ClientError::NoToken { .. }));
    }

    #[test]
    fn normalizes_urls() {
        assert_eq!(normalize_url("http://127.0.0.1:7420/").unwrap(), "http://127.0.0.1:7420");
        assert_eq!(normalize_url(" 127.0.0.1:9 ").unwrap(), "http://127.0.0.1:9");
        assert_eq!(normalize_url("http://[::1]:7420").unwrap(), "http://[::1]:7420");
        assert!(matches!(normalize_url("https://127.0.0.1"), Err(ClientError::BadUrl { .. })));
        assert!(matches!(normalize_url("http://"), Err(ClientError::BadUrl { .. })));
    }
}

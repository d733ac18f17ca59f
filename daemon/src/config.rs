//! Configuration: flags first, then `<data_dir>/cecd.toml`, then defaults.
//!
//! ```toml
//! listen = "127.0.0.1:7420"   # the local API address
//! log = "info"                # tracing filter (RUST_LOG syntax)
//! blob_max_bytes = 67108864   # the largest blob accepted by PUT /v1/blobs
//! max_connections = 512       # open API connections at most; more wait to be accepted
//! header_timeout_ms = 10000   # a connection waiting for (the rest of) a request header is closed
//! peer_listen = "0.0.0.0:7421" # the peer listener (off when unset)
//! sync_interval_secs = 30     # background sync rounds (0: only on request)
//! mdns_interfaces = ["eth0"]  # advertise and find peers by mDNS on these interfaces only (off when empty)
//! clock_skew_bound_secs = 120 # check-ins of a node whose clock was off by more are flagged clock_skew
//! kiosk_pairing_days = 90     # a paired kiosk screen stays signed in this long unused (1-400)
//! retention_days = 7          # a kiosk drops an event this long after its end, once the central node holds it
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The config file's name in the data directory.
pub const CONFIG_FILE: &str = "cecd.toml";
/// The default API address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7420";

/// Node configuration.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The local API address.
    pub listen: String,
    /// Tracing filter.
    pub log: String,
    /// The largest blob accepted.
    pub blob_max_bytes: u64,
    /// The most API connections open at once; further ones wait in the listen backlog.
    pub max_connections: usize,
    /// How long a connection may take to send a request's header, counted from when it opened
    /// or finished its previous request: it closes idle keep-alive connections too. Request
    /// bodies have the same time between their bytes.
    pub header_timeout_ms: u64,
    /// The peer listener's address (other nodes sync there); off when unset.
    pub peer_listen: Option<String>,
    /// Seconds between background sync rounds with every known peer (0: only on request).
    pub sync_interval_secs: u64,
    /// The network interfaces mDNS advertises and browses on (`lo` for loopback); off when
    /// empty, and always off without a peer listener.
    pub mdns_interfaces: Vec<String>,
    /// How far (in seconds, either way) a node's clock may be from this node's, as measured at
    /// sync, before the check-ins it recorded are shown with `clock_skew` (derived when read;
    /// credit is unchanged).
    pub clock_skew_bound_secs: u64,
    /// How long a kiosk screen paired with `cec open kiosk --pair` stays signed in without being
    /// used, in days; each day it is used starts the period again. 1 to 400 (browsers keep a
    /// cookie at most 400 days).
    pub kiosk_pairing_days: u32,
    /// On a kiosk: days after an event's end (the end of its last session) before the kiosk
    /// drops the event's documents (roster and attendance), and then only once the central
    /// node has acknowledged every one of them (`node::retention`). 0: as soon as the event
    /// has ended and the central node holds it all. Other roles never drop anything.
    pub retention_days: u32,
}

/// The longest `kiosk_pairing_days`: browsers cap a cookie's lifetime at 400 days.
pub const MAX_PAIRING_DAYS: u32 = 400;

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN.into(),
            log: "info".into(),
            blob_max_bytes: 64 * 1024 * 1024,
            max_connections: 512,
            header_timeout_ms: 10_000,
            peer_listen: None,
            sync_interval_secs: 30,
            mdns_interfaces: Vec::new(),
            clock_skew_bound_secs: 120,
            kiosk_pairing_days: 90,
            retention_days: 7,
        }
    }
}

/// Why the config file could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConfigError {
    path: String,
    message: String,
}

impl Config {
    /// Reads `<dir>/cecd.toml` if present, else the defaults.
    pub fn load(dir: &Path) -> Result<Self, ConfigError> {
        let path = dir.join(CONFIG_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let config: Self = toml::from_str(&text)
                    .map_err(|e| ConfigError { path: path.display().to_string(), message: e.to_string() })?;
                if !(1..=MAX_PAIRING_DAYS).contains(&config.kiosk_pairing_days) {
                    return Err(ConfigError {
                        path: path.display().to_string(),
                        message: format!("kiosk_pairing_days must be 1 to {MAX_PAIRING_DAYS}"),
                    });
                }
                Ok(config)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(ConfigError { path: path.display().to_string(), message: e.to_string() }),
        }
    }
}

/// The platform's default data directory: `$XDG_DATA_HOME/cecd`, else `~/.local/share/cecd`.
pub fn default_data_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x).join("cecd");
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    home.join(".local").join("share").join("cecd")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_file_or_defaults() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Config::load(dir.path()).unwrap(), Config::default());
        std::fs::write(dir.path().join(CONFIG_FILE), "listen = \"127.0.0.1:9000\"\n").unwrap();
        assert_eq!(Config::load(dir.path()).unwrap().listen, "127.0.0.1:9000");
        assert_eq!(Config::load(dir.path()).unwrap().clock_skew_bound_secs, 120);
        std::fs::write(dir.path().join(CONFIG_FILE), "clock_skew_bound_secs = 5\n").unwrap();
        assert_eq!(Config::load(dir.path()).unwrap().clock_skew_bound_secs, 5);
        std::fs::write(dir.path().join(CONFIG_FILE), "kiosk_pairing_days = 30\n").unwrap();
        assert_eq!(Config::load(dir.path()).unwrap().kiosk_pairing_days, 30);
        for bad in ["kiosk_pairing_days = 0\n", "kiosk_pairing_days = 401\n"] {
            std::fs::write(dir.path().join(CONFIG_FILE), bad).unwrap();
            assert!(Config::load(dir.path()).unwrap_err().to_string().contains("kiosk_pairing_days"), "{bad}");
        }
        std::fs::write(dir.path().join(CONFIG_FILE), "clock_skew_bound_secs = 5\n").unwrap();
        assert_eq!(Config::load(dir.path()).unwrap().retention_days, 7, "absent: a week");
        std::fs::write(dir.path().join(CONFIG_FILE), "retention_days = 0\n").unwrap();
        assert_eq!(Config::load(dir.path()).unwrap().retention_days, 0);
        std::fs::write(dir.path().join(CONFIG_FILE), "retention_days = -1\n").unwrap();
        assert!(Config::load(dir.path()).is_err(), "a negative number of days is refused");
        std::fs::write(dir.path().join(CONFIG_FILE), "lisen = 1\n").unwrap();
        assert!(Config::load(dir.path()).unwrap_err().to_string().contains("lisen"));
    }
}

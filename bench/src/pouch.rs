//! PouchDB 9 under express-pouchdb 4.2 on LevelDB, as a Node child process running
//! `bench/peers/ingest-server.js` (installed with `npm ci` in `bench/peers`; nothing vendored).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use hyper::Method;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::load::one_request;

/// How long the server may take to print its address.
const START_DEADLINE: Duration = Duration::from_secs(30);

/// The peers directory as laid out in the source tree this binary was built from.
pub(crate) fn default_peers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("peers")
}

/// Versions of what `npm ci` installed, or why PouchDB cannot run.
pub(crate) fn installed(peers: &Path, node: &Path) -> Result<String, String> {
    let version = |package: &str| -> Result<String, String> {
        let manifest = peers.join("node_modules").join(package).join("package.json");
        let text = std::fs::read_to_string(&manifest).map_err(|_| {
            format!("{} is missing: run `npm ci` in {} to install PouchDB", manifest.display(), peers.display())
        })?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", manifest.display()))?;
        Ok(value["version"].as_str().unwrap_or("?").to_owned())
    };
    let pouchdb = version("pouchdb")?;
    let express_pouchdb = version("express-pouchdb")?;
    let leveldown = version("leveldown")?;
    let node_version = std::process::Command::new(node)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .ok_or_else(|| format!("`{} --version` does not run: Node.js is needed for PouchDB", node.display()))?;
    Ok(format!("pouchdb {pouchdb}, express-pouchdb {express_pouchdb}, leveldown {leveldown}, node {node_version}"))
}

/// A running `ingest-server.js`.
#[derive(Debug)]
pub(crate) struct Server {
    child: Child,
    pub(crate) addr: SocketAddr,
    timeout: Duration,
}

impl Server {
    pub(crate) async fn start(
        node: &Path,
        peers: &Path,
        data_dir: &Path,
        log: &Path,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("cannot open {}", log.display()))?;
        let mut child = Command::new(node)
            .arg("ingest-server.js")
            .arg("0")
            .arg(data_dir)
            .current_dir(peers)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {} ingest-server.js", node.display()))?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let addr = tokio::time::timeout(START_DEADLINE, async {
            while let Some(line) = lines.next_line().await? {
                if let Some(addr) = line.strip_prefix("listening on http://") {
                    return addr.trim().parse::<SocketAddr>().with_context(|| format!("bad address in {line:?}"));
                }
            }
            bail!("ingest-server.js exited before listening; see {}", log.display())
        })
        .await
        .with_context(|| format!("ingest-server.js did not listen within {START_DEADLINE:?}"))??;
        ensure!(addr.ip().is_loopback(), "ingest-server.js listens on {addr}, not on the loopback address");
        // Whatever else it prints is read and dropped, so the pipe never fills.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self { child, addr, timeout })
    }

    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// `doc_count` of the `checkins` database.
    pub(crate) async fn doc_count(&self) -> anyhow::Result<u64> {
        let (status, body) = one_request(self.addr, Method::GET, "/checkins", None, None, self.timeout).await?;
        ensure!(status.is_success(), "GET /checkins: {status}");
        let info: serde_json::Value = serde_json::from_slice(&body)?;
        info["doc_count"].as_u64().context("GET /checkins: no doc_count")
    }

    /// SIGKILL, then reap.
    pub(crate) async fn kill(mut self) -> anyhow::Result<()> {
        self.child.kill().await.context("cannot kill node")
    }
}

//! A `cecd` child process on a data directory: start, set up the benchmark's event, kill -9,
//! count what it stored.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use hyper::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::load::one_request;

/// The event every run creates.
pub(crate) const EVENT: &str = "bench-event";

/// How long a node may take to write `api-url`.
const START_DEADLINE: Duration = Duration::from_secs(30);

/// A running `cecd`.
#[derive(Debug)]
pub(crate) struct Node {
    child: Child,
    pub(crate) addr: SocketAddr,
    pub(crate) token: String,
    pub(crate) log: PathBuf,
    timeout: Duration,
}

impl Node {
    /// Starts `bin --data-dir <data_dir> --listen 127.0.0.1:0`, stderr appended to `log`, and
    /// waits for `<data_dir>/api-url`.
    pub(crate) async fn start(bin: &Path, data_dir: &Path, log: &Path, timeout: Duration) -> anyhow::Result<Self> {
        let url_file = data_dir.join("api-url");
        // A stale file from an earlier (killed) process on this directory would point elsewhere.
        let _ = std::fs::remove_file(&url_file);
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("cannot open {}", log.display()))?;
        let mut child = Command::new(bin)
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let deadline = Instant::now() + START_DEADLINE;
        let url = loop {
            if let Ok(url) = std::fs::read_to_string(&url_file) {
                let url = url.trim().to_owned();
                if !url.is_empty() {
                    break url;
                }
            }
            if let Some(status) = child.try_wait()? {
                bail!("cecd exited with {status} before listening; see {}", log.display());
            }
            if Instant::now() > deadline {
                bail!("cecd did not write {} within {START_DEADLINE:?}; see {}", url_file.display(), log.display());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let addr: SocketAddr = url
            .strip_prefix("http://")
            .map(|a| a.trim_end_matches('/'))
            .and_then(|a| a.parse().ok())
            .with_context(|| format!("cecd wrote api-url {url:?}, not http://<ip>:<port>"))?;
        ensure!(addr.ip().is_loopback(), "cecd listens on {addr}, not on the loopback address");
        let token = std::fs::read_to_string(data_dir.join("api-token")).context("cannot read api-token")?;
        Ok(Self { child, addr, token: token.trim().to_owned(), log: log.to_owned(), timeout })
    }

    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> anyhow::Result<(StatusCode, Value)> {
        let body = body.map(|b| b.to_string().into_bytes());
        let (status, bytes) = one_request(self.addr, method, path, Some(&self.token), body, self.timeout).await?;
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok((status, value))
    }

    async fn post_ok(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let (status, answer) = self.call(Method::POST, path, Some(body)).await?;
        ensure!(status == StatusCode::OK || status == StatusCode::CREATED, "POST {path}: {status}: {answer}");
        Ok(answer)
    }

    /// `version` from `GET /v1/health`.
    pub(crate) async fn version(&self) -> anyhow::Result<String> {
        let (status, answer) = self.call(Method::GET, "/v1/health", None).await?;
        ensure!(status.is_success(), "GET /v1/health: {status}: {answer}");
        Ok(answer["version"].as_str().unwrap_or("?").to_owned())
    }

    /// One event with `sessions` sessions (`s0`, `s1`, …) of one hour of instruction.
    pub(crate) async fn setup(&self, sessions: usize) -> anyhow::Result<()> {
        self.post_ok(
            "/v1/events",
            &json!({
                "id": EVENT,
                "title": "Benchmark conference",
                "provider": {"id": "bench-provider", "name": "Benchmark provider",
                             "endorsement": {"number": "B-1", "valid_from": "2026-01-01", "valid_until": "2026-12-31"}},
                "timezone": "America/Chicago",
            }),
        )
        .await?;
        for s in 0..sessions {
            self.post_ok(
                &format!("/v1/events/{EVENT}/sessions"),
                &json!({
                    "id": format!("s{s}"),
                    "title": format!("Session {s}"),
                    "starts_at": "2026-04-16T09:00:00Z",
                    "segments": [{"kind": "instruction", "minutes": 60}],
                }),
            )
            .await?;
        }
        Ok(())
    }

    /// The ids of the event's stored check-ins, from `GET /v1/checkins`, at most `max_pages`
    /// pages of 1000.
    pub(crate) async fn stored_ids(&self, max_pages: usize) -> anyhow::Result<HashSet<String>> {
        let mut ids = HashSet::new();
        let mut cursor: Option<String> = None;
        for _ in 0..max_pages {
            let mut path = format!("/v1/checkins?event_id={EVENT}&limit=1000");
            if let Some(c) = &cursor {
                path.push_str("&cursor=");
                path.push_str(&percent_encode(c));
            }
            let (status, page) = self.call(Method::GET, &path, None).await?;
            ensure!(status == StatusCode::OK, "GET {path}: {status}: {page}");
            let items = page["items"].as_array().with_context(|| format!("GET {path}: no items"))?;
            for item in items {
                ids.insert(item["id"].as_str().context("a check-in without an id")?.to_owned());
            }
            match page["next_cursor"].as_str() {
                Some(c) if !items.is_empty() => cursor = Some(c.to_owned()),
                _ => return Ok(ids),
            }
        }
        bail!("GET /v1/checkins had more than {max_pages} pages of 1000")
    }

    /// `cecd_checkins_stored` from `GET /metrics`.
    pub(crate) async fn stored_metric(&self) -> anyhow::Result<Option<u64>> {
        let (status, bytes) =
            one_request(self.addr, Method::GET, "/metrics", Some(&self.token), None, self.timeout).await?;
        ensure!(status.is_success(), "GET /metrics: {status}");
        let text = String::from_utf8_lossy(&bytes);
        Ok(text.lines().find_map(|l| {
            let value = l.strip_prefix("cecd_checkins_stored ")?;
            // A gauge of whole numbers well below 2^53.
            value.trim().parse::<f64>().ok().map(|v| v as u64)
        }))
    }

    /// SIGKILL, then reap.
    pub(crate) async fn kill(mut self) -> anyhow::Result<()> {
        self.child.kill().await.context("cannot kill cecd")
    }

    /// The last lines of the node's log.
    pub(crate) fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

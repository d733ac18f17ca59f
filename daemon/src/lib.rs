//! `cecd`: a cecsync node.
//!
//! The binary (`main.rs`) only parses flags and starts things; everything it runs lives here so
//! tests can drive it in-process: [`node::Node`] (identity, storage, documents),
//! [`api::app`] (the local API as an axum `Router`) and [`run`].

pub mod api;
pub mod config;
pub mod demo;
pub mod node;
pub mod peer;
pub mod report;
pub mod storage;
pub mod sync;

use std::path::Path;
use std::sync::Arc;

use tracing::info;

/// Opens the node in `data_dir`, binds `listen`, writes `<data_dir>/api-url`, and serves the
/// API until `shutdown` resolves; then finishes in-flight requests and closes storage.
pub async fn run(
    data_dir: &Path,
    config: config::Config,
    demo: bool,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let _running = lock_data_dir(data_dir)?;
    let node = Arc::new(node::Node::open(data_dir, config.clone()).await?);
    node.start_ingest();
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
    let addr = listener.local_addr()?;
    if let Ok(mut l) = node.listen.lock() {
        *l = addr.to_string();
    }
    if demo {
        let summary = demo::load(node.clone()).await?;
        info!(%summary, "demo data loaded");
    }
    let url = format!("http://{addr}");
    write_atomically(&data_dir.join(node::identity::URL_FILE), url.as_bytes())?;
    info!(%url, node_id = %node.identity.node_id, data_dir = %data_dir.display(), "cecd listening");
    let compactor = tokio::spawn(compact_periodically(node.store.clone()));
    let warmer = tokio::spawn(warm_events(node.clone()));
    let peer_listener = match &config.peer_listen {
        Some(addr) => {
            let l = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen for peers on {addr}: {e}"))?;
            let url = peer::PeerUrl { authority: l.local_addr()?.to_string(), node_id: node.node_id() };
            info!(peer_url = %url, "peer listener open");
            if let Ok(mut u) = node.peer_url.lock() {
                *u = Some(url.to_string());
            }
            let port = l.local_addr()?.port();
            let stopping = node.stopping.clone();
            let server = tokio::spawn(peer::server::serve(l, node.clone(), async move { stopping.cancelled().await }));
            Some((server, port))
        }
        None => None,
    };
    let discovery = match (&peer_listener, config.mdns_interfaces.is_empty()) {
        (_, true) => None,
        (None, false) => {
            tracing::warn!("mdns_interfaces is set but the peer listener is off (--peer-listen): no mDNS");
            None
        }
        (Some((_, port)), false) => match peer::mdns::start(node.clone(), &config.mdns_interfaces, *port) {
            Ok(d) => Some(d),
            Err(e) => {
                tracing::warn!(cause = %e, "mDNS discovery could not start; static peers still sync");
                None
            }
        },
    };
    let syncer = tokio::spawn(sync_periodically(node.clone()));
    let deriver = tokio::spawn(derive_continuously(node.clone()));
    let retainer = tokio::spawn(retire_periodically(node.clone()));
    // On a signal, stop taking requests and end long polls at once, so shutdown waits only
    // for writes in flight.
    let stopping = node.stopping.clone();
    api::serve(listener, node.clone(), async move {
        shutdown.await;
        stopping.cancel();
    })
    .await?;
    compactor.abort();
    warmer.abort();
    syncer.abort();
    deriver.abort();
    retainer.abort();
    drop(discovery);
    if let Some((p, _)) = peer_listener {
        p.abort();
    }
    info!("shutting down: finishing queued writes");
    // Acknowledged check-ins still in the log go into their documents now (a start would do it
    // otherwise), so a stopped node's documents hold everything it took.
    node.fold_logged().await;
    node.close().await;
    let _ = std::fs::remove_file(data_dir.join(node::identity::URL_FILE));
    Ok(())
}

/// Syncs with every known peer soon after a local change and every `sync_interval_secs`,
/// backing off (with jitter) while rounds fail; one round at a time.
async fn sync_periodically(node: Arc<node::Node>) {
    let interval = node.config.sync_interval_secs;
    if interval == 0 {
        return;
    }
    let mut changes = node.store.subscribe_changes();
    let mut seen = changes.latest();
    let mut failures: u32 = 0;
    loop {
        let base = std::time::Duration::from_secs(interval);
        let backoff = base.saturating_mul(1 << failures.min(5));
        let jitter = std::time::Duration::from_millis(u64::from(node::identity::random32().map_or(0, |b| b[0])) * 4);
        tokio::select! {
            () = tokio::time::sleep(backoff + jitter) => {}
            () = node.peers_changed.notified() => {}
            // Soon after a local change (debounced), unless rounds are failing.
            Ok(seq) = changes.wait_past(seen), if failures == 0 => {
                seen = seq;
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
            () = node.stopping.cancelled() => return,
        }
        if node.credential().is_none() {
            continue;
        }
        match node.sync_all().await {
            Ok(reports) => {
                let failed = reports.iter().filter(|r| r.error.is_some()).count();
                failures = if failed > 0 && failed == reports.len() { failures + 1 } else { 0 };
                for r in reports.iter().filter(|r| r.docs_sent + r.docs_received > 0 || r.error.is_some()) {
                    info!(peer = %r.peer_id, sent = r.docs_sent, received = r.docs_received, error = ?r.error, "synced");
                }
            }
            Err(e) => tracing::warn!(cause = %e, "sync round failed"),
        }
        seen = changes.latest().max(seen);
    }
}

/// On the central node, turns endorsed attendance into verified records as check-ins arrive
/// (by sync or locally), following the change feed from where it last saved its place (from the
/// start on a store that never derived; deriving is idempotent).
async fn derive_continuously(node: Arc<node::Node>) {
    let mut changes = node.store.subscribe_changes();
    let mut cursor = node.derivation_cursor().await.unwrap_or_else(|e| {
        tracing::warn!(cause = %e, "reading where derivation stopped failed; deriving from the start");
        0
    });
    loop {
        if node.role() == "central" {
            match node.derive_since(cursor).await {
                Ok(c) => cursor = c,
                Err(e) => tracing::warn!(cause = %e, "deriving verified records failed; retrying on the next change"),
            }
        } else {
            cursor = changes.latest();
        }
        tokio::select! {
            r = changes.wait_past(cursor) => if r.is_err() { return },
            () = tokio::time::sleep(std::time::Duration::from_secs(30)) => {}
            () = node.stopping.cancelled() => return,
        }
    }
}

/// How often a kiosk looks for ended events to drop (besides after each sync with the central
/// node).
const RETENTION_PASS_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

/// On a kiosk, drops the events that ended `retention_days` ago once the central node holds
/// them (`node::retention`): a pass shortly after start, every ten minutes, and after each
/// sync with the central node.
async fn retire_periodically(node: Arc<node::Node>) {
    let mut wait = std::time::Duration::from_secs(5);
    loop {
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = node.retention.wake.notified() => {}
            () = node.stopping.cancelled() => return,
        }
        wait = RETENTION_PASS_EVERY;
        let pass = match node.retention_clock().await {
            Ok(now) => node.retire_due(now).await,
            Err(e) => Err(e),
        };
        if let Err(e) = pass {
            tracing::warn!(cause = %e, "retention pass failed; nothing more was dropped");
        }
    }
}

/// Chunks per document before the background job folds them into a snapshot.
const COMPACT_AFTER_CHUNKS: usize = 64;

/// Reads the held events' views into memory once after a start (see [`node::Docs::warm_events`]),
/// so the first summaries and attendance reads do not each decode their events.
async fn warm_events(node: Arc<node::Node>) {
    let started = std::time::Instant::now();
    match node.docs.warm_events().await {
        Ok(n) => info!(events = n, ms = started.elapsed().as_millis(), "event views in memory"),
        Err(e) => tracing::warn!(cause = %e, "event views not read ahead; they are read on first use"),
    }
}

/// Folds documents' incremental chunks into snapshots every minute, so loading stays one
/// snapshot plus a few chunks however long a node runs.
async fn compact_periodically(store: storage::Store) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tick.tick().await;
        match store.compact_all(COMPACT_AFTER_CHUNKS).await {
            Ok(0) => {}
            Ok(n) => info!(documents = n, "compacted"),
            Err(e) => tracing::warn!(cause = %e, "compaction failed"),
        }
    }
}

/// The file a running node holds locked in its data directory, with its process id in it.
pub const LOCK_FILE: &str = "cecd.lock";

/// Locks `data_dir` for this process (creating it 0700 if missing) until the returned file is
/// dropped or the process ends, however it ends. A second `cecd` on the same directory (a
/// service and a start by hand) would otherwise open the same store beside the first and, when
/// stopped, remove the `api-url` of the one still running, so `cec` no longer finds it.
pub fn lock_data_dir(data_dir: &Path) -> anyhow::Result<std::fs::File> {
    use std::io::{Read, Seek, Write};
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if !data_dir.exists() {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(data_dir)?;
    }
    let path = data_dir.join(LOCK_FILE);
    let open =
        || std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).mode(0o600).open(&path);
    let mut file = open().map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let pid = holder.trim().parse::<u32>().map(|p| format!(" (pid {p})")).unwrap_or_default();
            anyhow::bail!(
                "another cecd{pid} is running with the data directory {}: stop it first, or start this one with another --data-dir",
                data_dir.display()
            );
        }
        Err(std::fs::TryLockError::Error(e)) => anyhow::bail!("cannot lock {}: {e}", path.display()),
    }
    // The pid only names the holder in the message above; a full disk must not stop the node.
    let _ = file.set_len(0).and_then(|()| file.rewind()).and_then(|_| writeln!(file, "{}", std::process::id()));
    Ok(file)
}

/// Writes `path` (mode 0600, like everything in the data directory) through a temporary file.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
    f.write_all(bytes)?;
    std::fs::rename(tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_node_per_data_directory() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("kiosk");
        let first = lock_data_dir(&dir).unwrap();
        let e = lock_data_dir(&dir).unwrap_err().to_string();
        assert!(e.contains(&format!("another cecd (pid {}) is running", std::process::id())), "{e}");
        assert!(e.contains("--data-dir"), "{e}");
        drop(first);
        let again = lock_data_dir(&dir);
        assert!(again.is_ok(), "the lock ends with its holder: {again:?}");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
    }
}

//! `cec-bench sync`: what a sync costs in cecd, and the same workload in automerge-repo and in
//! PouchDB replicating to express-pouchdb, in one run.
//!
//! cecd runs in this process: every node is a `cecd::node::Node` on its own temporary data
//! directory, the central node (organization key, scope `*`) serves its real peer listener
//! (TLS, HTTP/1.1) on 127.0.0.1 port 0, and kiosks (role `kiosk`, scope `event:<id>`) sync with
//! it through a counting TCP relay on 127.0.0.1, so the bytes on the wire (TLS records, HTTP
//! headers) are measured beside the sync frames' own bytes. No mDNS, no background sync rounds:
//! every round is one `Node::sync_peer` call.
//!
//! The peers run under Node.js from `bench/peers/` (`npm ci` there; nothing vendored):
//! `sync-peers.mjs` starts the peer's server as a child process on 127.0.0.1, relays its kiosks
//! through its own counting TCP relay and prints one JSON line of results.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use cec_core::event::{Policy, Provider, Segment, SegmentKind, Session, SessionFormat};
use cec_core::ident::{Role, Scope, Scopes};
use cec_core::{CheckIn, Direction, Event, Method};
use cecd::config::Config;
use cecd::node::credential::{Credential, Enrolment, encode_public_key};
use cecd::node::{NewCheckIn, Node, SyncReport};
use cecd::peer::PeerUrl;
use jiff::Timestamp;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::machine;

/// Sync benchmark: cecd kiosk → central, kiosks converging through the central node, resyncs;
/// then the same workload on automerge-repo and on PouchDB → express-pouchdb.
///
/// 1. `--checkins` check-ins recorded at one kiosk (spread over `--sessions` sessions, 500 per
///    change; not timed), then one sync round timed until the central node has committed them.
/// 2. `--kiosks` kiosks each record `--per-kiosk` check-ins of the same event (not timed); then
///    rounds, every kiosk with the central node at once, until every kiosk holds all of them.
/// 3. A central node holding one event and `--docs` - 1 sessions' attendance (one check-in
///    each); a kiosk syncs it once, then a resync with nothing changed and a resync after one
///    new check-in are measured.
///
/// Speed never fails the run; a run that could not be done (exit 2) does.
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// Check-ins recorded at the kiosk and replicated to the central node (part 1)
    #[arg(long, default_value_t = 10_000)]
    pub(crate) checkins: usize,

    /// Sessions the check-ins are spread over (parts 1 and 2)
    #[arg(long, default_value_t = 20)]
    pub(crate) sessions: usize,

    /// Kiosks converging through the central node (part 2)
    #[arg(long, default_value_t = 10)]
    pub(crate) kiosks: usize,

    /// Check-ins recorded at each kiosk (part 2)
    #[arg(long, default_value_t = 5_000)]
    pub(crate) per_kiosk: usize,

    /// Documents in scope for the resyncs (one event and the rest attendance; part 3)
    #[arg(long, default_value_t = 500)]
    pub(crate) docs: usize,

    /// Measure cecd only
    #[arg(long)]
    pub(crate) skip_peers: bool,

    /// The peers' directory (`npm ci` installed there)
    #[arg(long, default_value_os_t = crate::pouch::default_peers_dir())]
    pub(crate) peers_dir: PathBuf,

    /// Node.js
    #[arg(long, default_value = "node")]
    pub(crate) node: PathBuf,

    /// How long one peer's whole run may take
    #[arg(long, default_value = "900s", value_parser = parse_secs)]
    pub(crate) peer_timeout: Duration,
}

fn parse_secs(s: &str) -> Result<Duration, String> {
    let n = s.strip_suffix('s').unwrap_or(s);
    n.parse::<f64>().map(Duration::from_secs_f64).map_err(|e| format!("{s:?}: {e}"))
}

/// Bytes relayed each way between kiosks and the central node's peer listener.
#[derive(Debug, Default)]
struct Wire {
    up: AtomicU64,
    down: AtomicU64,
}

impl Wire {
    fn total(&self) -> u64 {
        self.up.load(Ordering::Relaxed) + self.down.load(Ordering::Relaxed)
    }
}

/// A TCP relay on 127.0.0.1 to `to` that counts bytes as they pass (so a round's bytes are all
/// counted by the time it returns).
async fn relay(to: String, wire: Arc<Wire>) -> anyhow::Result<String> {
    let l = TcpListener::bind("127.0.0.1:0").await?;
    let addr = l.local_addr()?.to_string();
    tokio::spawn(async move {
        while let Ok((inbound, _)) = l.accept().await {
            let (to, wire) = (to.clone(), wire.clone());
            tokio::spawn(async move {
                let Ok(outbound) = TcpStream::connect(&to).await else { return };
                let _ = inbound.set_nodelay(true);
                let _ = outbound.set_nodelay(true);
                let (ir, iw) = inbound.into_split();
                let (or, ow) = outbound.into_split();
                let up = pump(ir, ow, wire.clone(), true);
                let down = pump(or, iw, wire, false);
                let _ = tokio::join!(up, down);
            });
        }
    });
    Ok(addr)
}

/// Copies `from` to `to`, counting each read before it is written on.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    wire: Arc<Wire>,
    up: bool,
) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0_u8; 64 * 1024];
    loop {
        let n = from.read(&mut buf).await?;
        if n == 0 {
            return to.shutdown().await;
        }
        let counter = if up { &wire.up } else { &wire.down };
        counter.fetch_add(n as u64, Ordering::Relaxed);
        to.write_all(&buf[..n]).await?;
    }
}

fn config() -> Config {
    // No background rounds (every round is measured), no mDNS.
    Config { sync_interval_secs: 0, mdns_interfaces: Vec::new(), ..Config::default() }
}

const AT: &str = "2027-03-01T09:00:00Z";

fn event(id: &str) -> Event {
    Event {
        id: id.into(),
        title: "Bench".into(),
        provider: Provider { id: "P".into(), name: "P".into(), endorsement: None },
        venue: None,
        timezone: "UTC".into(),
        policy: Policy::default(),
        sessions: BTreeMap::new(),
        roster: BTreeMap::new(),
    }
}

fn session(i: usize, at: Timestamp) -> Session {
    Session {
        id: format!("s{i}"),
        title: format!("Session {i}"),
        category: "general".into(),
        format: SessionFormat::InPerson,
        starts_at: at,
        segments: vec![Segment::new(SegmentKind::Instruction, 60)],
    }
}

/// A central node serving its peer listener behind a counting relay.
struct Central {
    node: Arc<Node>,
    org: Enrolment,
    via: String,
    wire: Arc<Wire>,
    _dir: tempfile::TempDir,
}

struct Kiosk {
    node: Arc<Node>,
    peer_id: String,
    _dir: tempfile::TempDir,
}

async fn central(event_id: &str, sessions: usize, at: Timestamp) -> anyhow::Result<Central> {
    let dir = tempfile::tempdir()?;
    let id = cecd::node::Identity::load_or_create(dir.path())?;
    let org = Enrolment::init_central(dir.path(), "Bench", id.signing_key(), Timestamp::now())?;
    let node = Arc::new(Node::open(dir.path(), config()).await?);
    ensure!(org.org_signing.is_some(), "no organization key");
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let target = listener.local_addr()?.to_string();
    tokio::spawn(cecd::peer::server::serve(listener, node.clone(), std::future::pending()));
    let wire = Arc::new(Wire::default());
    let via = relay(target, wire.clone()).await?;
    node.create_event(event(event_id)).await?;
    for i in 0..sessions {
        node.create_session(event_id, session(i, at)).await?;
    }
    Ok(Central { node, org, via, wire, _dir: dir })
}

/// A kiosk enrolled for `event_id` with the central node as its peer, synced once (not timed).
async fn kiosk(c: &Central, event_id: &str) -> anyhow::Result<Kiosk> {
    let dir = tempfile::tempdir()?;
    let id = cecd::node::Identity::load_or_create(dir.path())?;
    let key = id.signing_key().verifying_key();
    let scopes = Scopes::new([Scope::Event(event_id.into())]);
    let org_key = c.org.org_signing.as_ref().context("org key")?;
    let cred = Credential::issue(org_key, "Bench", &key, Role::Kiosk, &scopes, Timestamp::now(), Timestamp::MAX);
    Enrolment::install(
        dir.path(),
        &key,
        &cred.encoded,
        &encode_public_key(&org_key.verifying_key()),
        Timestamp::now(),
    )?;
    let node = Arc::new(Node::open(dir.path(), config()).await?);
    let url = PeerUrl { authority: c.via.clone(), node_id: c.node.node_id() };
    let peer_id = node.add_peer(&url.to_string()).await?.peer_id;
    let k = Kiosk { node, peer_id, _dir: dir };
    sync(&k).await.context("first sync")?;
    Ok(k)
}

async fn sync(k: &Kiosk) -> anyhow::Result<SyncReport> {
    let r = k.node.sync_peer(&k.peer_id).await?;
    if let Some(e) = &r.error {
        bail!("sync: {e}");
    }
    Ok(r)
}

/// Records `n` check-ins at `kiosk`, ids `{prefix}{i}`, round robin over the sessions, 500 per
/// request, and folds them into their documents.
async fn record(
    k: &Kiosk,
    event_id: &str,
    prefix: &str,
    n: usize,
    sessions: usize,
    at: Timestamp,
) -> anyhow::Result<()> {
    let ev = k.node.require_event(event_id).await?;
    let mut by_session: BTreeMap<usize, Vec<NewCheckIn>> = BTreeMap::new();
    for i in 0..n {
        let s = i % sessions;
        by_session.entry(s).or_default().push(new_checkin(
            format!("{prefix}{i:06}"),
            event_id,
            &format!("s{s}"),
            format!("M{}", i / 2),
            if i % 2 == 0 { Direction::In } else { Direction::Out },
            &k.node.identity.node_id.to_string(),
            at,
        ));
    }
    for (s, items) in by_session {
        for chunk in items.chunks(500) {
            for r in k.node.record_checkins(&ev, &format!("s{s}"), chunk.to_vec()).await? {
                r?;
            }
        }
    }
    // Acknowledged check-ins wait in the kiosk's log until the fold moves them into their
    // documents (within `FOLD_AFTER`, 100 ms). A kiosk syncs long after that, so the sync is
    // timed from documents that hold them, and their saved size is measured from there too
    // (read before the fold, the documents held none: "0.0 B" per check-in).
    k.node.fold_logged().await;
    Ok(())
}

fn new_checkin(
    id: String,
    event_id: &str,
    session_id: &str,
    member_id: String,
    direction: Direction,
    kiosk_id: &str,
    at: Timestamp,
) -> NewCheckIn {
    NewCheckIn {
        checkin: CheckIn {
            id,
            event_id: event_id.into(),
            session_id: session_id.into(),
            member_id,
            direction,
            at,
            method: Method::Badge,
            kiosk_id: kiosk_id.into(),
            recorded_at: at,
        },
        at_given: true,
        method_given: true,
    }
}

/// The attendance documents of `event_id` at `node`, each loaded from its stored chunks and saved
/// whole (Automerge's document form: columns compressed, the form a first sync sends), and the
/// stored chunks themselves (change chunks as written, one per commit): `(saved, stored)` bytes.
async fn attendance_bytes(node: &Node, event_id: &str) -> anyhow::Result<(u64, u64)> {
    let prefix = format!("attendance:{event_id}:");
    let stored = node
        .store
        .read(move |c| {
            let mut all = Vec::new();
            for id in cecd::storage::list_docs(c, &prefix)? {
                all.extend(cecd::storage::load_doc(c, &id)?);
            }
            Ok(all)
        })
        .await?;
    let (mut saved, mut chunks) = (0_u64, 0_u64);
    for bytes in stored {
        chunks += bytes.len() as u64;
        saved += automerge::AutoCommit::load(&bytes)?.save().len() as u64;
    }
    Ok((saved, chunks))
}

/// cecd's figures.
#[derive(Debug, Default)]
struct Cecd {
    one_secs: f64,
    one_frames: u64,
    one_frame_bytes: u64,
    one_wire: u64,
    one_stored: u64,
    one_saved: u64,
    many_secs: f64,
    many_rounds: usize,
    many_wire: u64,
    resync_requests: u64,
    resync_frame_bytes: u64,
    resync_wire: u64,
    resync_secs: f64,
    /// The same unchanged resync by a kiosk that forgot its TLS sessions (restarted).
    resync_full_tls_wire: u64,
    first_bytes: u64,
    new_requests: u64,
    new_frame_bytes: u64,
    new_wire: u64,
    new_secs: f64,
}

async fn run_cecd(args: &Args) -> anyhow::Result<Cecd> {
    let at: Timestamp = AT.parse()?;
    let mut out = Cecd::default();

    // Part 1: N check-ins kiosk → central.
    let c = central("E1", args.sessions, at).await?;
    let k = kiosk(&c, "E1").await?;
    record(&k, "E1", "c", args.checkins, args.sessions, at).await?;
    (out.one_saved, out.one_stored) = attendance_bytes(&k.node, "E1").await?;
    let before = c.node.checkin_count().await?;
    let wire0 = c.wire.total();
    let started = Instant::now();
    let r = sync(&k).await?;
    out.one_secs = started.elapsed().as_secs_f64();
    out.one_wire = c.wire.total() - wire0;
    out.one_frames = r.frames_sent;
    out.one_frame_bytes = r.bytes_sent + r.bytes_received;
    let held = c.node.checkin_count().await? - before;
    ensure!(held == args.checkins as i64, "central holds {held} of {} check-ins", args.checkins);
    close(&[&c.node, &k.node]).await;
    drop((c, k));

    // Part 2: K kiosks × P check-ins converged through the central node.
    let c = central("E2", args.sessions, at).await?;
    let mut kiosks = Vec::new();
    for i in 0..args.kiosks {
        let k = kiosk(&c, "E2").await?;
        record(&k, "E2", &format!("k{i}-"), args.per_kiosk, args.sessions, at).await?;
        kiosks.push(k);
    }
    let want = (args.kiosks * args.per_kiosk) as i64;
    let wire0 = c.wire.total();
    let started = Instant::now();
    let mut rounds = 0;
    loop {
        rounds += 1;
        // Every kiosk opens its round with the central node at the same moment, each on its own
        // task; the round ends when the last one has returned.
        let tasks: Vec<_> = kiosks
            .iter()
            .map(|k| {
                let (node, peer) = (k.node.clone(), k.peer_id.clone());
                tokio::spawn(async move { node.sync_peer(&peer).await })
            })
            .collect();
        for t in tasks {
            let r = t.await??;
            ensure!(r.error.is_none(), "sync: {:?}", r.error);
        }
        let mut all = true;
        for k in &kiosks {
            all &= k.node.checkin_count().await? == want;
        }
        if all {
            break;
        }
        ensure!(rounds < 10, "kiosks not converged after {rounds} rounds");
    }
    out.many_secs = started.elapsed().as_secs_f64();
    out.many_rounds = rounds;
    out.many_wire = c.wire.total() - wire0;
    ensure!(c.node.checkin_count().await? == want, "the central node lacks check-ins");
    let mut nodes: Vec<&Arc<Node>> = kiosks.iter().map(|k| &k.node).collect();
    nodes.push(&c.node);
    close(&nodes).await;
    drop((c, kiosks));

    // Part 3: resyncs with `docs` documents in scope.
    let sessions = args.docs.saturating_sub(1).max(1);
    let c = central("E3", sessions, at).await?;
    let ev = c.node.require_event("E3").await?;
    for s in 0..sessions {
        let one = new_checkin(format!("d{s}"), "E3", &format!("s{s}"), "M1".into(), Direction::In, "central", at);
        for r in c.node.record_checkins(&ev, &format!("s{s}"), vec![one]).await? {
            r?;
        }
    }
    let k = kiosk(&c, "E3").await?;
    // `kiosk` synced once already; that first sync is what the kiosk had to fetch.
    ensure!(k.node.checkin_count().await? == sessions as i64, "the kiosk lacks check-ins after its first sync");
    out.first_bytes = c.wire.total();
    let wire0 = c.wire.total();
    let started = Instant::now();
    let again = sync(&k).await?;
    out.resync_secs = started.elapsed().as_secs_f64();
    out.resync_wire = c.wire.total() - wire0;
    out.resync_requests = again.frames_sent;
    out.resync_frame_bytes = again.bytes_sent + again.bytes_received;
    k.node.peer_tls.forget();
    let wire0 = c.wire.total();
    sync(&k).await?;
    out.resync_full_tls_wire = c.wire.total() - wire0;
    let one =
        new_checkin("new1".into(), "E3", "s0", "M2".into(), Direction::In, &k.node.identity.node_id.to_string(), at);
    let kev = k.node.require_event("E3").await?;
    for r in k.node.record_checkins(&kev, "s0", vec![one]).await? {
        r?;
    }
    let wire0 = c.wire.total();
    let started = Instant::now();
    let new = sync(&k).await?;
    out.new_secs = started.elapsed().as_secs_f64();
    out.new_wire = c.wire.total() - wire0;
    out.new_requests = new.frames_sent;
    out.new_frame_bytes = new.bytes_sent + new.bytes_received;
    ensure!(c.node.checkin_count().await? == sessions as i64 + 1, "the new check-in did not reach the central node");
    close(&[&c.node, &k.node]).await;
    Ok(out)
}

async fn close(nodes: &[&Arc<Node>]) {
    for n in nodes {
        n.close().await;
    }
}

/// One peer's run: its JSON line, or why it did not run.
type PeerRun = Result<serde_json::Value, String>;

/// The peers `sync-peers.mjs` knows, with the packages whose versions it reports.
const PEERS: [(&str, &str); 2] = [("automerge-repo", "@automerge/automerge-repo"), ("pouchdb", "pouchdb")];

/// Runs `node sync-peers.mjs SYSTEM ...` and returns its `RESULT` line.
async fn run_peer(args: &Args, system: &str, package: &str) -> PeerRun {
    let manifest = args.peers_dir.join("node_modules").join(package).join("package.json");
    if !manifest.is_file() {
        return Err(format!("{} is missing: run `npm ci` in {}", manifest.display(), args.peers_dir.display()));
    }
    let data = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut cmd = tokio::process::Command::new(&args.node);
    cmd.arg("sync-peers.mjs")
        .arg(system)
        .args(["--checkins", &args.checkins.to_string()])
        .args(["--sessions", &args.sessions.to_string()])
        .args(["--kiosks", &args.kiosks.to_string()])
        .args(["--per-kiosk", &args.per_kiosk.to_string()])
        .args(["--docs", &args.docs.to_string()])
        // Part 2 may not converge (automerge-repo did not here): a third of the whole run's
        // limit for it, so that part 1's and part 3's figures are still reported.
        .args(["--part-secs", &(args.peer_timeout.as_secs() / 3).to_string()])
        .arg("--data")
        .arg(data.path())
        .current_dir(&args.peers_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        // In a process group of its own, so that a timeout stops the servers and kiosk
        // processes it started too (killed, it cannot stop them itself).
        .process_group(0)
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|e| format!("cannot start {}: {e}", args.node.display()))?;
    let _group = child.id().map(KillGroup);
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let read = async {
        let mut lines = BufReader::new(stdout).lines();
        let mut result = None;
        while let Some(line) = lines.next_line().await.map_err(|e| e.to_string())? {
            if let Some(json) = line.strip_prefix("RESULT ") {
                result = Some(serde_json::from_str::<serde_json::Value>(json).map_err(|e| e.to_string())?);
            } else {
                println!("    {system}: {line}");
            }
        }
        let status = child.wait().await.map_err(|e| e.to_string())?;
        match result {
            Some(r) if status.success() => Ok(r),
            _ => Err(format!("sync-peers.mjs {system} failed ({status})")),
        }
    };
    match tokio::time::timeout(args.peer_timeout, read).await {
        Ok(r) => r,
        Err(_) => Err(format!("sync-peers.mjs {system} did not finish within {:?}", args.peer_timeout)),
    }
}

/// Kills a process group when dropped (nothing happens if it is gone already).
struct KillGroup(u32);

impl Drop for KillGroup {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0)])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn secs(s: f64) -> String {
    if s < 1.0 { format!("{:.1} ms", s * 1000.0) } else { format!("{s:.2} s") }
}

fn bytes(b: f64) -> String {
    if b >= 10_000.0 { format!("{:.0} KB", b / 1000.0) } else { format!("{b:.0} B") }
}

/// A peer's figure at `path` (e.g. `one.secs`), if it ran and reported it.
fn peer_num(run: &PeerRun, path: &str) -> Option<f64> {
    let mut v = run.as_ref().ok()?;
    for key in path.split('.') {
        v = v.get(key)?;
    }
    v.as_f64()
}

fn peer_cell(run: &PeerRun, path: &str, f: impl Fn(f64) -> String) -> String {
    match run {
        Err(_) => "skipped".into(),
        Ok(_) => peer_num(run, path).map_or_else(|| "n/a".into(), f),
    }
}

fn report(args: &Args, c: &Cecd, peers: &[(&str, PeerRun)]) -> String {
    let mut s = String::new();
    let n = args.checkins as f64;
    let many = (args.kiosks * args.per_kiosk) as f64;
    let (am, pouch) = (&peers[0].1, &peers[1].1);
    let _ = writeln!(s, "\n| | cecd | automerge-repo | PouchDB → express-pouchdb | target |");
    let _ = writeln!(s, "| --- | ---: | ---: | ---: | ---: |");
    let mut row = |name: &str, ours: String, path: &str, f: &dyn Fn(f64) -> String, target: &str| {
        let _ =
            writeln!(s, "| {name} | {ours} | {} | {} | {target} |", peer_cell(am, path, f), peer_cell(pouch, path, f));
    };
    row(
        &format!("1. {} check-ins kiosk → central, until committed there", args.checkins),
        secs(c.one_secs),
        "one.secs",
        &secs,
        "< 0.2 s",
    );
    row(
        "1. bytes on the wire per check-in (both ways; cecd: TLS + HTTP)",
        format!("{:.1} B", c.one_wire as f64 / n),
        "one.wire",
        &|w| format!("{:.1} B", w / n),
        "",
    );
    row(
        "1. requests (cecd: the hello and the sync frames) or messages sent by the kiosk",
        c.one_frames.to_string(),
        "one.requests",
        &|r| format!("{r:.0}"),
        "",
    );
    let _ = writeln!(
        s,
        "| 1. cecd sync frames per check-in (both ways; TLS + HTTP overhead {:.1} %) | {:.1} B | | | ≤ 64 B |",
        100.0 * (c.one_wire as f64 / c.one_frame_bytes.max(1) as f64 - 1.0),
        c.one_frame_bytes as f64 / n
    );
    let _ = writeln!(
        s,
        "| 1. a check-in's own compressed size: the kiosk's attendance documents saved whole / count | {:.1} B | | | |",
        c.one_saved as f64 / n
    );
    let _ = writeln!(
        s,
        "| 1. the kiosk's stored attendance chunks (change chunks, uncompressed) / count | {:.1} B | | | |",
        c.one_stored as f64 / n
    );
    let mut row = |name: &str, ours: String, path: &str, f: &dyn Fn(f64) -> String, target: &str| {
        let _ =
            writeln!(s, "| {name} | {ours} | {} | {} | {target} |", peer_cell(am, path, f), peer_cell(pouch, path, f));
    };
    row(
        &format!("2. {} kiosks × {} check-ins converged through the central node", args.kiosks, args.per_kiosk),
        format!("{} ({} rounds)", secs(c.many_secs), c.many_rounds),
        "many.secs",
        &secs,
        "< 5 s",
    );
    row(
        "2. bytes on the wire, all kiosks, per check-in recorded",
        format!("{:.1} B", c.many_wire as f64 / many),
        "many.wire",
        &|w| format!("{:.1} B", w / many),
        "",
    );
    row(
        &format!("3. unchanged resync, {} documents: requests (cecd: the hello and the sync frames)", args.docs),
        c.resync_requests.to_string(),
        "resync.requests",
        &|r| format!("{r:.0}"),
        "1 round trip",
    );
    let _ = writeln!(
        s,
        "| 3. unchanged resync: cecd sync frame bytes after the hello | {} | | | |",
        bytes(c.resync_frame_bytes as f64)
    );
    let mut row = |name: &str, ours: String, path: &str, f: &dyn Fn(f64) -> String, target: &str| {
        let _ =
            writeln!(s, "| {name} | {ours} | {} | {} | {target} |", peer_cell(am, path, f), peer_cell(pouch, path, f));
    };
    row(
        "3. unchanged resync: bytes on the wire (cecd: a new TLS connection, resumed, included)",
        bytes(c.resync_wire as f64),
        "resync.wire",
        &|w| bytes(w),
        "< 4 KB",
    );
    let _ = writeln!(
        s,
        "| 3. unchanged resync by a restarted kiosk (full TLS handshake): bytes on the wire | {} | | | |",
        bytes(c.resync_full_tls_wire as f64)
    );
    let mut row = |name: &str, ours: String, path: &str, f: &dyn Fn(f64) -> String, target: &str| {
        let _ =
            writeln!(s, "| {name} | {ours} | {} | {} | {target} |", peer_cell(am, path, f), peer_cell(pouch, path, f));
    };
    row("3. unchanged resync: time", secs(c.resync_secs), "resync.secs", &secs, "");
    row(
        "3. resync after one new check-in: requests (cecd: the hello and the sync frames)",
        c.new_requests.to_string(),
        "new.requests",
        &|r| format!("{r:.0}"),
        "",
    );
    row("3. resync after one new check-in: bytes on the wire", bytes(c.new_wire as f64), "new.wire", &|w| bytes(w), "");
    row("3. resync after one new check-in: time", secs(c.new_secs), "new.secs", &secs, "");
    row(
        &format!("3. first sync of the {} documents: bytes on the wire", args.docs),
        bytes(c.first_bytes as f64),
        "first.wire",
        &|w| bytes(w),
        "",
    );
    // Ratios from this run only: the best peer is the fastest of those that ran.
    for (label, ours, path, target) in [("1", c.one_secs, "one.secs", "≥ 5×"), ("2", c.many_secs, "many.secs", "≥ 5×")]
    {
        let best = peers
            .iter()
            .filter_map(|(name, run)| peer_num(run, path).map(|t| (t, *name)))
            .min_by(|a, b| a.0.total_cmp(&b.0));
        let cell = best.map_or_else(|| "no peer ran".into(), |(t, name)| format!("{:.1}× ({name})", t / ours));
        let _ = writeln!(s, "| {label}. cecd faster than the best peer, same run | {cell} | | | {target} |");
    }
    for (name, run) in peers {
        match run {
            Ok(v) => {
                let _ = writeln!(
                    s,
                    "\n{name}: {}; durability: {}; part 2: {}",
                    v["versions"].as_str().unwrap_or("?"),
                    v["durability"].as_str().unwrap_or("?"),
                    v["many"]["how"].as_str().unwrap_or("?")
                );
            }
            Err(why) => {
                let _ = writeln!(s, "\n{name}: SKIPPED: {why}");
            }
        }
    }
    s
}

pub(crate) fn main(args: &Args) -> anyhow::Result<()> {
    ensure!(args.checkins > 0 && args.sessions > 0 && args.kiosks > 0 && args.per_kiosk > 0, "sizes must be positive");
    ensure!(args.docs >= 2, "--docs counts the event and at least one attendance document");
    println!("# cec-bench sync");
    println!("machine: {}", machine::describe());
    println!("commit: {}", machine::git_commit(Path::new(env!("CARGO_MANIFEST_DIR"))));
    println!("load average before: {}", machine::loadavg());
    println!(
        "cecd: nodes in this process on temporary data directories, TLS on 127.0.0.1 through a counting relay; \
         durability: every received change committed with SQLite synchronous=FULL (fsync) before a round returns"
    );
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let c = runtime.block_on(run_cecd(args)).context("cecd")?;
    println!(
        "cecd done: part 1 {}, part 2 {} ({} rounds), resync {} / after one new {}; load average: {}",
        secs(c.one_secs),
        secs(c.many_secs),
        c.many_rounds,
        secs(c.resync_secs),
        secs(c.new_secs),
        machine::loadavg()
    );
    let mut peers: Vec<(&str, PeerRun)> = Vec::new();
    for (system, package) in PEERS {
        let run = if args.skip_peers {
            Err("--skip-peers".to_owned())
        } else {
            runtime.block_on(run_peer(args, system, package))
        };
        match &run {
            Ok(_) => println!("{system} done; load average: {}", machine::loadavg()),
            Err(why) => println!("{system}: SKIPPED: {why}"),
        }
        peers.push((system, run));
    }
    print!("{}", report(args, &c, &peers));
    println!("\nload average after: {}", machine::loadavg());
    Ok(())
}

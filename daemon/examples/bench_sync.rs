//! What a sync costs: check-ins replicated kiosk → central over the real peer listener (TLS on
//! loopback), and a resync when nothing changed.
//!
//! Two nodes run in this process on temporary data directories: a central node (organization
//! key, scope `*`) with its peer listener on 127.0.0.1 port 0, and a kiosk enrolled for one
//! event. Between them runs a counting TCP relay, so the bytes on the wire (TLS records, HTTP
//! headers) are measured beside the sync frames' own bytes. The kiosk records N check-ins
//! (not timed), then one sync round is timed until the central node has committed them, and the
//! central node's index is checked to hold every one. A second part puts D documents in scope
//! (one event and D-1 sessions' attendance) and times a resync with nothing changed.
//!
//! Every loop is bounded and the program stops by itself; it talks only to 127.0.0.1.
//! Run: `cargo run --release -p cecd --example bench_sync` (see BENCHMARKS.md).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{Context, ensure};
use cec_core::event::{Policy, Provider, Segment, SegmentKind, Session, SessionFormat};
use cec_core::ident::{Role, Scope, Scopes};
use cec_core::{CheckIn, Direction, Event, Method};
use cecd::config::Config;
use cecd::node::credential::{Credential, Enrolment, encode_public_key};
use cecd::node::index::CheckInFilter;
use cecd::node::{NewCheckIn, Node};
use cecd::peer::PeerUrl;
use clap::Parser;
use jiff::Timestamp;
use tokio::net::{TcpListener, TcpStream};

/// Sync benchmark of cecd.
#[derive(Debug, Parser)]
#[command(name = "bench_sync")]
struct Args {
    /// Check-ins recorded at the kiosk and replicated to the central node
    #[arg(long, default_value_t = 10_000)]
    checkins: usize,
    /// Sessions the check-ins are spread over
    #[arg(long, default_value_t = 20)]
    sessions: usize,
    /// Documents in scope for the resync (one event and the rest attendance)
    #[arg(long, default_value_t = 500)]
    docs: usize,
}

/// Bytes relayed each way between the kiosk and the central node's peer listener.
#[derive(Debug, Default)]
struct Wire {
    up: AtomicU64,
    down: AtomicU64,
}

async fn relay(to: String, wire: Arc<Wire>) -> anyhow::Result<String> {
    let l = TcpListener::bind("127.0.0.1:0").await?;
    let addr = l.local_addr()?.to_string();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = l.accept().await {
            let (to, wire) = (to.clone(), wire.clone());
            tokio::spawn(async move {
                let Ok(mut outbound) = TcpStream::connect(&to).await else { return };
                if let Ok((up, down)) = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await {
                    wire.up.fetch_add(up, Ordering::Relaxed);
                    wire.down.fetch_add(down, Ordering::Relaxed);
                }
            });
        }
    });
    Ok(addr)
}

fn event(id: &str, sessions: usize, at: Timestamp) -> (Event, Vec<Session>) {
    let e = Event {
        id: id.into(),
        title: "Bench".into(),
        provider: Provider { id: "P".into(), name: "P".into(), endorsement: None },
        venue: None,
        timezone: "UTC".into(),
        policy: Policy::default(),
        sessions: BTreeMap::new(),
        roster: BTreeMap::new(),
    };
    let s = (0..sessions)
        .map(|i| Session {
            id: format!("s{i}"),
            title: format!("Session {i}"),
            category: "general".into(),
            format: SessionFormat::InPerson,
            starts_at: at,
            segments: vec![Segment::new(SegmentKind::Instruction, 60)],
        })
        .collect();
    (e, s)
}

struct Pair {
    central: Arc<Node>,
    kiosk: Arc<Node>,
    wire: Arc<Wire>,
    peer_id: String,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

async fn pair(event_id: &str) -> anyhow::Result<Pair> {
    let (cd, kd) = (tempfile::tempdir()?, tempfile::tempdir()?);
    let config = Config { sync_interval_secs: 0, ..Config::default() };
    let central_id = cecd::node::Identity::load_or_create(cd.path())?;
    let org = Enrolment::init_central(cd.path(), "Bench", central_id.signing_key(), Timestamp::now())?;
    let central = Arc::new(Node::open(cd.path(), config.clone()).await?);
    let kiosk = Arc::new(Node::open(kd.path(), config).await?);
    let org_key = org.org_signing.context("org key")?;
    let scopes = Scopes::new([Scope::Event(event_id.into())]);
    let kiosk_key = kiosk.identity.signing_key().verifying_key();
    let cred = Credential::issue(&org_key, "Bench", &kiosk_key, Role::Kiosk, &scopes, Timestamp::now(), Timestamp::MAX);
    Enrolment::install(
        kd.path(),
        &kiosk_key,
        &cred.encoded,
        &encode_public_key(&org_key.verifying_key()),
        Timestamp::now(),
    )?;
    let kiosk = {
        // Reopen so the node reads its credential.
        kiosk.store.close().await;
        drop(kiosk);
        Arc::new(Node::open(kd.path(), Config { sync_interval_secs: 0, ..Config::default() }).await?)
    };
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let target = listener.local_addr()?.to_string();
    tokio::spawn(cecd::peer::server::serve(listener, central.clone(), std::future::pending()));
    let wire = Arc::new(Wire::default());
    let via = relay(target, wire.clone()).await?;
    let url = PeerUrl { authority: via, node_id: central.node_id() };
    let peer = kiosk.add_peer(&url.to_string()).await?;
    Ok(Pair { central, kiosk, wire, peer_id: peer.peer_id, _dirs: (cd, kd) })
}

async fn record(kiosk: &Arc<Node>, event_id: &str, n: usize, sessions: usize, at: Timestamp) -> anyhow::Result<()> {
    let ev = kiosk.require_event(event_id).await?;
    let mut by_session: BTreeMap<usize, Vec<NewCheckIn>> = BTreeMap::new();
    for i in 0..n {
        let s = i % sessions;
        by_session.entry(s).or_default().push(NewCheckIn {
            checkin: CheckIn {
                id: format!("c{i:06}"),
                event_id: event_id.into(),
                session_id: format!("s{s}"),
                member_id: format!("M{}", i / 2),
                direction: if i % 2 == 0 { Direction::In } else { Direction::Out },
                at,
                method: Method::Badge,
                kiosk_id: kiosk.identity.node_id.to_string(),
                recorded_at: at,
            },
            at_given: true,
            method_given: true,
        });
    }
    for (s, items) in by_session {
        for chunk in items.chunks(500) {
            for r in kiosk.record_checkins(&ev, &format!("s{s}"), chunk.to_vec()).await? {
                r?;
            }
        }
    }
    Ok(())
}

async fn setup_event(central: &Node, event_id: &str, sessions: usize, at: Timestamp) -> anyhow::Result<()> {
    let (e, ss) = event(event_id, sessions, at);
    central.create_event(e).await?;
    for s in ss {
        central.create_session(event_id, s).await?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let at: Timestamp = "2027-03-01T09:00:00Z".parse()?;

    // Part 1: N check-ins kiosk → central.
    let p = pair("E1").await?;
    setup_event(&p.central, "E1", args.sessions, at).await?;
    let first = p.kiosk.sync_peer(&p.peer_id).await?;
    ensure!(first.error.is_none(), "first sync: {:?}", first.error);
    record(&p.kiosk, "E1", args.checkins, args.sessions, at).await?;
    let (up0, down0) = (p.wire.up.load(Ordering::Relaxed), p.wire.down.load(Ordering::Relaxed));
    let started = Instant::now();
    let r = p.kiosk.sync_peer(&p.peer_id).await?;
    let took = started.elapsed();
    ensure!(r.error.is_none(), "sync: {:?}", r.error);
    let (held, _) = p.central.checkins(CheckInFilter::default(), args.checkins + 10).await?;
    ensure!(held.len() == args.checkins, "central holds {} of {} check-ins", held.len(), args.checkins);
    let wire_up = p.wire.up.load(Ordering::Relaxed) - up0;
    let wire_down = p.wire.down.load(Ordering::Relaxed) - down0;
    let n = args.checkins as f64;
    println!("## {} check-ins, {} sessions, kiosk -> central over TLS on loopback", args.checkins, args.sessions);
    println!(
        "sync round: {:.3} s ({} frames sent), all {} committed at the central node",
        took.as_secs_f64(),
        r.frames_sent,
        held.len()
    );
    println!(
        "frames: {} B sent + {} B received = {:.1} B per check-in",
        r.bytes_sent,
        r.bytes_received,
        (r.bytes_sent + r.bytes_received) as f64 / n
    );
    println!(
        "wire (TLS + HTTP): {} B up + {} B down = {:.1} B per check-in; overhead over frames {:.1}%",
        wire_up,
        wire_down,
        (wire_up + wire_down) as f64 / n,
        100.0 * ((wire_up + wire_down) as f64 / (r.bytes_sent + r.bytes_received).max(1) as f64 - 1.0)
    );

    // Part 2: a resync with nothing changed, D documents in scope.
    let q = pair("E2").await?;
    setup_event(&q.central, "E2", args.docs.saturating_sub(1), at).await?;
    let ev = q.central.require_event("E2").await?;
    for s in 0..args.docs.saturating_sub(1) {
        let one = NewCheckIn {
            checkin: CheckIn {
                id: format!("d{s}"),
                event_id: "E2".into(),
                session_id: format!("s{s}"),
                member_id: "M1".into(),
                direction: Direction::In,
                at,
                method: Method::Badge,
                kiosk_id: "central".into(),
                recorded_at: at,
            },
            at_given: true,
            method_given: true,
        };
        q.central.record_checkins(&ev, &format!("s{s}"), vec![one]).await?;
    }
    let full = q.kiosk.sync_peer(&q.peer_id).await?;
    ensure!(full.error.is_none(), "first sync: {:?}", full.error);
    let (up0, down0) = (q.wire.up.load(Ordering::Relaxed), q.wire.down.load(Ordering::Relaxed));
    let started = Instant::now();
    let again = q.kiosk.sync_peer(&q.peer_id).await?;
    let took = started.elapsed();
    ensure!(again.error.is_none(), "resync: {:?}", again.error);
    let wire = q.wire.up.load(Ordering::Relaxed) - up0 + q.wire.down.load(Ordering::Relaxed) - down0;
    println!("## resync with nothing changed, {} documents in scope", args.docs);
    println!(
        "first sync: {} frames, {} B; resync: {} sync request(s) + 1 hello, {} B of frames, {} B on the wire (new TLS connection included), {:.1} ms",
        full.frames_sent,
        full.bytes_sent + full.bytes_received,
        again.frames_sent,
        again.bytes_sent + again.bytes_received,
        wire,
        took.as_secs_f64() * 1000.0
    );
    for n in [p.central, p.kiosk, q.central, q.kiosk] {
        n.store.close().await;
    }
    Ok(())
}

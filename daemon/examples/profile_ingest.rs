//! The check-in write path without HTTP, for profiling (`perf`, `valgrind --tool=callgrind`):
//! a node in a temporary directory, one event with `SESSIONS` sessions, `TASKS` concurrent
//! writers each recording `PER_TASK` single check-ins one after the other, as the API's
//! `POST /v1/checkins` does. Prints wall time, the process's CPU time per check-in, and how
//! many check-ins each storage transaction carried.
//!
//! ```sh
//! cargo build --release -p cecd --example profile_ingest
//! target/release/examples/profile_ingest [TASKS] [PER_TASK] [SESSIONS]
//! valgrind --tool=callgrind target/release/examples/profile_ingest 32 20 20
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use cec_core::event::{Policy, Provider, Segment, SegmentKind, Session, SessionFormat};
use cec_core::{CheckIn, Direction, Event, Method};
use cecd::config::Config;
use cecd::node::{NewCheckIn, Node};

fn arg(n: usize, default: usize) -> usize {
    std::env::args().nth(n).and_then(|a| a.parse().ok()).unwrap_or(default)
}

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks: f64 = fields.get(11..13).map_or(0.0, |f| f.iter().filter_map(|t| t.parse::<f64>().ok()).sum());
    ticks / 100.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let (tasks, per_task, sessions) = (arg(1, 32), arg(2, 500), arg(3, 20));
    let dir = tempfile::tempdir()?;
    let node = Arc::new(Node::open(dir.path(), Config::default()).await?);
    let at: jiff::Timestamp = "2026-04-16T09:00:00Z".parse()?;
    let event = Event {
        id: "E1".into(),
        title: "Profile".into(),
        provider: Provider { id: "P".into(), name: "P".into(), endorsement: None },
        venue: None,
        timezone: "UTC".into(),
        policy: Policy::default(),
        sessions: BTreeMap::new(),
        roster: BTreeMap::new(),
    };
    node.create_event(event).await?;
    for s in 0..sessions {
        let session = Session {
            id: format!("s{s}"),
            title: format!("S{s}"),
            category: "general".into(),
            format: SessionFormat::InPerson,
            starts_at: at,
            segments: vec![Segment::new(SegmentKind::Instruction, 60)],
        };
        node.create_session("E1", session).await?;
    }
    // Acknowledgements commit in the check-in log's database: its writer's counts.
    let before = node.log_store.stats();
    let (cpu0, wall0) = (cpu_seconds(), Instant::now());
    let mut handles = Vec::new();
    for t in 0..tasks {
        let node = node.clone();
        handles.push(tokio::spawn(async move {
            for i in 0..per_task {
                let n = t * per_task + i;
                let event = node.require_event("E1").await?;
                let checkin = CheckIn {
                    id: format!("c{t}-{i}"),
                    event_id: "E1".into(),
                    session_id: format!("s{}", n % sessions),
                    member_id: format!("m{:05}", n % 500),
                    direction: if (n / 500) % 2 == 0 { Direction::In } else { Direction::Out },
                    at,
                    method: Method::Badge,
                    kiosk_id: "k1".into(),
                    recorded_at: at,
                };
                let session = checkin.session_id.clone();
                let inc = NewCheckIn { checkin, at_given: true, method_given: true };
                let mut out = node.record_checkins(&event, &session, vec![inc]).await?;
                out.pop().expect("one answer")?;
            }
            anyhow::Ok(())
        }));
    }
    for h in handles {
        h.await??;
    }
    let (wall, cpu) = (wall0.elapsed().as_secs_f64(), cpu_seconds() - cpu0);
    let after = node.log_store.stats();
    let n = (tasks * per_task) as f64;
    let batches = (after.batches_committed - before.batches_committed) as f64;
    let jobs = (after.jobs_committed - before.jobs_committed) as f64;
    println!(
        "{n} check-ins in {wall:.2} s: {:.0}/s, CPU {:.1} µs per check-in; {:.1} check-ins per log job, {:.1} per log transaction",
        n / wall,
        cpu * 1e6 / n,
        n / jobs,
        n / batches
    );
    node.close().await;
    Ok(())
}

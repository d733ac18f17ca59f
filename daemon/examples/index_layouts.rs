//! What a check-in index row costs to write in SQLite, for several layouts of the check-in
//! index, at the store's durability (WAL, `synchronous = FULL`, the default checkpoint). Rows
//! are written as the fold and a sync write them: many per transaction, with the index's
//! `INSERT … ON CONFLICT` statement. Each layout gets a fresh database in the system's temporary
//! directory; the layouts alternate, `ROUNDS` times, so that a slow moment of the machine falls
//! on all of them.
//!
//! Workloads:
//! - `ingest`: the rows of `bench/wrk/checkin.lua` (ids in order per wrk thread, two threads,
//!   500 members, 20 sessions of one event) in transactions of 256, a fold's piece;
//! - `sync`: check-ins of 10 kiosks with time-ordered ids (UUIDv7-like, the kiosks' times
//!   interleaved), 10,000 members, 5 events of 40 sessions, arriving a kiosk at a time in
//!   transactions of 500.
//!
//! Layouts (`current` is migration 2's):
//! - `current`: a rowid table with the id as a text primary key, `checkin_by_member` on
//!   (member, event, session) and `checkin_by_session` on (event, session, id);
//! - `without-rowid`: the same keyed by id in a `WITHOUT ROWID` table (one b-tree fewer);
//! - `no-member-key`: `current` without `checkin_by_member` (what the member key costs);
//! - `member-only`: `checkin_by_member` on the member alone (smaller entries);
//! - `by-member`: the table clustered by (member, event, session, id), the id a unique key;
//! - `two-level`: no member key on the table; a member's rows are found in a small `recent`
//!   table written with each transaction and merged, sorted, into a large one every
//!   `MERGE` rows (default 4,096), as a log-structured index would.
//!
//! `cargo run --release -p cecd --example index_layouts -- [ingest|sync] [ROWS] [ROUNDS]`
//!
//! `BATCH` sets the rows per transaction instead of the workload's; `SYNCHRONOUS=NORMAL`
//! writes as an index apart from the acknowledgements would (no fsync at each commit);
//! `ONLY=<layout>` runs one layout.

use std::path::Path;
use std::time::Instant;

use rusqlite::{Connection, params};

const TABLE: &str = "CREATE TABLE checkin_index (
    id TEXT PRIMARY KEY NOT NULL, event_id TEXT NOT NULL, session_id TEXT NOT NULL,
    member_id TEXT NOT NULL, direction TEXT NOT NULL, at TEXT NOT NULL, method TEXT NOT NULL,
    kiosk_id TEXT NOT NULL, recorded_at TEXT NOT NULL) STRICT";
const BY_SESSION: &str = "CREATE INDEX checkin_by_session ON checkin_index (event_id, session_id, id);";

/// A layout: its name and its schema.
fn layouts() -> Vec<(&'static str, String)> {
    let member_pairs = "(member_id TEXT NOT NULL, event_id TEXT NOT NULL, session_id TEXT NOT NULL, id TEXT NOT NULL,
        PRIMARY KEY (member_id, event_id, session_id, id)) STRICT, WITHOUT ROWID;";
    vec![
        (
            "current",
            format!(
                "{TABLE}; CREATE INDEX checkin_by_member ON checkin_index (member_id, event_id, session_id); {BY_SESSION}"
            ),
        ),
        (
            "without-rowid",
            format!(
                "{TABLE}, WITHOUT ROWID; CREATE INDEX checkin_by_member ON checkin_index (member_id, event_id, session_id); {BY_SESSION}"
            ),
        ),
        ("no-member-key", format!("{TABLE}; {BY_SESSION}")),
        ("member-only", format!("{TABLE}; CREATE INDEX checkin_by_member ON checkin_index (member_id); {BY_SESSION}")),
        (
            "by-member",
            "CREATE TABLE checkin_index (
                id TEXT NOT NULL, event_id TEXT NOT NULL, session_id TEXT NOT NULL,
                member_id TEXT NOT NULL, direction TEXT NOT NULL, at TEXT NOT NULL, method TEXT NOT NULL,
                kiosk_id TEXT NOT NULL, recorded_at TEXT NOT NULL,
                PRIMARY KEY (member_id, event_id, session_id, id)) STRICT, WITHOUT ROWID;
             CREATE UNIQUE INDEX checkin_by_id ON checkin_index (id);
             CREATE INDEX checkin_by_session ON checkin_index (event_id, session_id, id);"
                .to_owned(),
        ),
        (
            "two-level",
            format!(
                "{TABLE}; {BY_SESSION} CREATE TABLE member_merged {member_pairs} CREATE TABLE member_recent {member_pairs}"
            ),
        ),
    ]
}

/// One check-in row's varying columns: id, event, session, member.
type Row = [String; 4];

/// Writes `rows` in transactions of `batch` into a fresh database of `schema` in `dir`;
/// answers the seconds it took and the bytes of the database and its WAL at the end.
fn run(dir: &Path, schema: &str, rows: &[Row], batch: usize, merge_every: usize, synchronous: &str) -> (f64, u64) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("a scratch directory");
    let path = dir.join("index.sqlite3");
    let mut conn = Connection::open(&path).expect("a database");
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)).expect("WAL");
    assert_eq!(mode, "wal");
    conn.execute_batch(&format!("PRAGMA synchronous = {synchronous};")).expect("pragmas");
    conn.execute_batch(schema).expect("the layout's schema");
    let two_level = schema.contains("member_recent");
    let mut since_merge = 0;
    let t = Instant::now();
    for chunk in rows.chunks(batch) {
        let tx = conn.transaction().expect("a transaction");
        {
            let mut put = tx
                .prepare_cached(
                    "INSERT INTO checkin_index
                         (id, event_id, session_id, member_id, direction, at, method, kiosk_id, recorded_at)
                     VALUES (?1, ?2, ?3, ?4, 'in', '2026-04-16T09:10:00Z', 'badge', 'kiosk-0190a1b2c3', '2026-04-16T09:10:00.123Z')
                     ON CONFLICT (id) DO UPDATE SET member_id = excluded.member_id
                     WHERE event_id = excluded.event_id AND session_id = excluded.session_id",
                )
                .expect("the insert");
            for [id, event, session, member] in chunk {
                put.execute(params![id, event, session, member]).expect("a row");
            }
            if two_level {
                let mut put =
                    tx.prepare_cached("INSERT OR IGNORE INTO member_recent VALUES (?1, ?2, ?3, ?4)").expect("insert");
                for [id, event, session, member] in chunk {
                    put.execute(params![member, event, session, id]).expect("a recent row");
                }
            }
        }
        tx.commit().expect("a commit");
        since_merge += chunk.len();
        if two_level && since_merge >= merge_every {
            since_merge = 0;
            let tx = conn.transaction().expect("a transaction");
            tx.execute_batch(
                "INSERT OR IGNORE INTO member_merged SELECT * FROM member_recent ORDER BY 1, 2, 3, 4;
                 DELETE FROM member_recent;",
            )
            .expect("a merge");
            tx.commit().expect("a commit");
        }
    }
    let secs = t.elapsed().as_secs_f64();
    let size = |name: &str| std::fs::metadata(dir.join(name)).map_or(0, |m| m.len());
    let bytes = size("index.sqlite3") + size("index.sqlite3-wal");
    drop(conn);
    let _ = std::fs::remove_dir_all(dir);
    (secs, bytes)
}

fn ingest_rows(n: usize) -> Vec<Row> {
    (0..n)
        .map(|i| {
            let (thread, counter) = (i % 2, i / 2 + 1);
            [
                format!("w1764849600-{thread}-{counter}"),
                "E".to_owned(),
                format!("s{}", counter % 20),
                format!("M{}", counter % 500),
            ]
        })
        .collect()
}

fn sync_rows(n: usize) -> Vec<Row> {
    // xorshift64: the same rows on every run, no dependency.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut random = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let per_kiosk = n / 10;
    let mut rows = Vec::with_capacity(n);
    for kiosk in 0..10u64 {
        for i in 0..per_kiosk {
            // A check-in every 20 ms per kiosk, the kiosks' clocks 1 ms apart.
            let ms = 1_764_849_600_000_u64 + i as u64 * 20 + kiosk;
            let id = format!(
                "{:08x}-{:04x}-7{:03x}-8{:03x}-{:012x}",
                ms >> 16,
                ms & 0xffff,
                random() & 0xfff,
                random() & 0xfff,
                random() & 0xffff_ffff_ffff
            );
            rows.push([
                id,
                format!("event-{}", i % 5),
                format!("session-{}", (i / 7) % 40),
                format!("member-{:06}", random() % 10_000),
            ]);
        }
    }
    rows
}

fn main() {
    let mut args = std::env::args().skip(1);
    let workload = args.next().unwrap_or_else(|| "ingest".to_owned());
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(150_000);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    let merge_every: usize = std::env::var("MERGE").ok().and_then(|m| m.parse().ok()).unwrap_or(4_096);
    let synchronous = std::env::var("SYNCHRONOUS").unwrap_or_else(|_| "FULL".to_owned());
    let only = std::env::var("ONLY").ok();
    let (rows, batch) = match workload.as_str() {
        "ingest" => (ingest_rows(n), 256),
        "sync" => (sync_rows(n), 500),
        other => {
            eprintln!("unknown workload {other:?}: ingest or sync");
            std::process::exit(2);
        }
    };
    let batch = std::env::var("BATCH").ok().and_then(|b| b.parse().ok()).unwrap_or(batch);
    let dir = std::env::temp_dir().join(format!("cecd-index-layouts-{}", std::process::id()));
    println!(
        "{workload}: {} rows in transactions of {batch}, synchronous = {synchronous}; µs per row, rows/s, MB of database and WAL",
        rows.len()
    );
    for round in 1..=rounds {
        for (name, schema) in layouts().into_iter().filter(|(name, _)| only.as_deref().is_none_or(|o| o == *name)) {
            let (secs, bytes) = run(&dir, &schema, &rows, batch, merge_every, &synchronous);
            println!(
                "round {round} {name:14} {:7.2} µs {:8.0}/s {:6.1} MB",
                secs * 1e6 / rows.len() as f64,
                rows.len() as f64 / secs,
                bytes as f64 / 1e6
            );
        }
    }
}

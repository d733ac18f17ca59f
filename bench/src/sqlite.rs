//! The raw SQLite ceiling: what the daemon's HTTP stack and its storage discipline cost with
//! nothing else in between.
//!
//! `POST /checkins` on axum (the daemon's axum, hyper and rusqlite versions) parses the same
//! JSON body as `POST /v1/checkins`, checks the direction and the time, and queues one row for
//! the writer. The writer thread, as in `daemon/src/storage`, drains what is queued (at most 256
//! jobs) into one transaction on one connection in WAL mode with `synchronous=FULL`, and each
//! request is answered 201 only after the COMMIT that holds its row. The server runs on its own
//! OS threads: a 2-worker multi-thread tokio runtime (`sqlite-ceiling`, like cecd's runtime on
//! this 2-core machine) and the writer (`sqlite-writer`), not on the load generator's runtime.

use std::net::SocketAddr;
use std::path::Path;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use rusqlite::{Connection, OpenFlags, params};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

/// The largest group commit, as the daemon's writer's `max_batch`.
const MAX_BATCH: usize = 256;

/// Threads of this server are named with this prefix (for their CPU time).
pub(crate) const THREAD_PREFIX: &str = "sqlite-";

/// The check-in as `POST /v1/checkins` takes it.
#[derive(Debug, Deserialize, Serialize)]
struct CheckIn {
    id: String,
    event_id: String,
    session_id: String,
    member_id: String,
    direction: Direction,
    at: String,
    #[serde(default)]
    method: Option<String>,
}

#[derive(Debug, Deserialize, Serialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Direction {
    In,
    Out,
}

impl Direction {
    fn as_str(self) -> &'static str {
        match self {
            Self::In => "in",
            Self::Out => "out",
        }
    }
}

#[derive(Debug, Serialize)]
struct Stored {
    #[serde(flatten)]
    checkin: CheckIn,
    recorded_at: String,
}

/// One queued insert and where its answer goes.
#[derive(Debug)]
struct Job {
    checkin: CheckIn,
    at_ms: i64,
    reply: oneshot::Sender<Result<CheckIn, String>>,
}

/// A running SQLite ceiling server.
#[derive(Debug)]
pub(crate) struct Ceiling {
    pub(crate) addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
    writer: Option<JoinHandle<anyhow::Result<u64>>>,
}

fn open(path: &Path) -> anyhow::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        bail!("SQLite would not switch to WAL (journal_mode is {mode})");
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS checkins (
             id TEXT PRIMARY KEY,
             event_id TEXT NOT NULL,
             session_id TEXT NOT NULL,
             member_id TEXT NOT NULL,
             direction TEXT NOT NULL,
             at_ms INTEGER NOT NULL,
             method TEXT,
             recorded_at_ms INTEGER NOT NULL
         )",
    )?;
    Ok(conn)
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// Inserts every job's row in one transaction; the outer error is the transaction's.
fn commit_batch(conn: &mut Connection, batch: &[Job], now: i64) -> rusqlite::Result<Vec<Result<(), String>>> {
    let tx = conn.transaction()?;
    let mut results = Vec::with_capacity(batch.len());
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO checkins (id, event_id, session_id, member_id, direction, at_ms, method, recorded_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        for job in batch {
            let c = &job.checkin;
            let r = insert.execute(params![
                c.id,
                c.event_id,
                c.session_id,
                c.member_id,
                c.direction.as_str(),
                job.at_ms,
                c.method,
                now
            ]);
            results.push(r.map(|_| ()).map_err(|e| e.to_string()));
        }
    }
    tx.commit()?;
    Ok(results)
}

/// Drains the queue into transactions until every sender is gone; returns the rows stored.
fn writer(mut conn: Connection, mut rx: mpsc::Receiver<Job>) -> anyhow::Result<u64> {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        match commit_batch(&mut conn, &batch, now_ms()) {
            Ok(results) => {
                for (job, r) in batch.drain(..).zip(results) {
                    let _ = job.reply.send(r.map(|()| job.checkin));
                }
            }
            Err(e) => {
                for job in batch.drain(..) {
                    let _ = job.reply.send(Err(format!("commit failed: {e}")));
                }
            }
        }
    }
    let rows: i64 = conn.query_row("SELECT count(*) FROM checkins", [], |row| row.get(0))?;
    Ok(u64::try_from(rows).unwrap_or(0))
}

fn problem(status: StatusCode, message: String) -> Response {
    (status, Json(serde_json::json!({"error": {"code": "ceiling", "message": message}}))).into_response()
}

async fn post_checkin(State(queue): State<mpsc::Sender<Job>>, Json(checkin): Json<CheckIn>) -> Response {
    let at = match checkin.at.parse::<jiff::Timestamp>() {
        Ok(at) => at,
        Err(e) => return problem(StatusCode::UNPROCESSABLE_ENTITY, format!("at: {e}")),
    };
    let (reply, answer) = oneshot::channel();
    if queue.send(Job { checkin, at_ms: at.as_millisecond(), reply }).await.is_err() {
        return problem(StatusCode::SERVICE_UNAVAILABLE, "the writer has stopped".into());
    }
    match answer.await {
        Ok(Ok(checkin)) => {
            let recorded_at = jiff::Timestamp::now().to_string();
            (StatusCode::CREATED, Json(Stored { checkin, recorded_at })).into_response()
        }
        Ok(Err(e)) => problem(StatusCode::INTERNAL_SERVER_ERROR, e),
        Err(_) => problem(StatusCode::INTERNAL_SERVER_ERROR, "the writer dropped the job".into()),
    }
}

impl Ceiling {
    /// Opens `<dir>/ceiling.sqlite3` and starts serving on 127.0.0.1, port picked by the OS.
    pub(crate) fn start(dir: &Path) -> anyhow::Result<Self> {
        let conn = open(&dir.join("ceiling.sqlite3"))?;
        let (queue, rx) = mpsc::channel::<Job>(4 * MAX_BATCH);
        let writer = std::thread::Builder::new()
            .name(format!("{THREAD_PREFIX}writer"))
            .spawn(move || writer(conn, rx))
            .context("cannot start the writer thread")?;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let server = std::thread::Builder::new()
            .name(format!("{THREAD_PREFIX}ceiling"))
            .spawn(move || -> anyhow::Result<()> {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name(format!("{THREAD_PREFIX}ceiling"))
                    .enable_all()
                    .build()?;
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)?;
                    let app = axum::Router::new().route("/checkins", post(post_checkin)).with_state(queue);
                    tokio::select! {
                        served = axum::serve(listener, app) => served?,
                        _ = stopped => {}
                    }
                    anyhow::Ok(())
                })?;
                // Drops the open connections' tasks, and with them the last queue senders.
                runtime.shutdown_timeout(Duration::from_secs(2));
                Ok(())
            })
            .context("cannot start the server thread")?;
        Ok(Self { addr, stop: Some(stop), server: Some(server), writer: Some(writer) })
    }

    /// Stops serving, lets the writer finish, and returns the rows stored.
    pub(crate) fn stop(mut self) -> anyhow::Result<u64> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let server = self.server.take().context("stopped twice")?;
        join_within(server, Duration::from_secs(10), "the SQLite ceiling's server")??;
        let writer = self.writer.take().context("stopped twice")?;
        join_within(writer, Duration::from_secs(30), "the SQLite ceiling's writer")?
    }
}

/// Joins `handle` if it finishes within `limit`; otherwise leaves it and fails.
fn join_within<T>(handle: JoinHandle<T>, limit: Duration, what: &str) -> anyhow::Result<T> {
    let deadline = Instant::now() + limit;
    while !handle.is_finished() {
        if Instant::now() > deadline {
            bail!("{what} did not stop within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    handle.join().map_err(|_| anyhow::anyhow!("{what} panicked"))
}

impl Drop for Ceiling {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

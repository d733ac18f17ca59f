//! The load generator: C keep-alive HTTP/1.1 connections to one 127.0.0.1 address, each in a
//! closed loop (send a request, read the whole answer, send the next), for a warm-up that is not
//! counted and then a fixed measured time.
//!
//! A request counts if it was sent during the measured window; its latency runs from sending it
//! to having read its whole answer, and goes into an HDR histogram whatever the status. 2xx,
//! other statuses and transport errors (connect, I/O, timeouts) are counted apart; after a
//! transport error the connection is dropped and opened again. Throughput is the counted
//! requests over the time from the window's start to the last counted answer.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Latencies are recorded in microseconds, up to an hour, to 3 significant digits.
const HIST_MAX_US: u64 = 3_600_000_000;

/// What one request of a run is.
#[derive(Debug, Clone)]
pub(crate) enum Kind {
    /// `POST /v1/checkins` with the API token.
    CecdCheckin { token: String },
    /// `GET /v1/health`, open.
    CecdHealth,
    /// `POST /checkins` on the SQLite ceiling.
    SqliteCheckin,
    /// `PUT /checkins/<id>` on express-pouchdb.
    PouchPut,
}

/// The requests of one run: check-in `i` is the same JSON whichever target takes it.
#[derive(Debug, Clone)]
pub(crate) struct Workload {
    pub(crate) kind: Kind,
    /// The `Host` header: `127.0.0.1:<port>`.
    pub(crate) host: String,
    /// Check-in ids are `<prefix>-<i>`.
    pub(crate) prefix: String,
    pub(crate) event: String,
    pub(crate) sessions: usize,
    pub(crate) members: usize,
}

/// splitmix64: a fixed, well-mixed function of `i`, so members and directions look drawn at
/// random but every run sends the same check-ins.
fn mix(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Workload {
    pub(crate) fn checkin_id(&self, i: u64) -> String {
        format!("{}-{i}", self.prefix)
    }

    /// Check-in `i`: session `i mod sessions`, a member and a direction drawn from `mix(i)`, at
    /// 09:00 plus `i mod 3600` seconds.
    pub(crate) fn checkin_json(&self, i: u64) -> Vec<u8> {
        let h = mix(i);
        let sessions = self.sessions.max(1) as u64;
        let members = self.members.max(1) as u64;
        let secs = i % 3600;
        let body = serde_json::json!({
            "id": self.checkin_id(i),
            "event_id": self.event,
            "session_id": format!("s{}", i % sessions),
            "member_id": format!("m{:05}", h % members),
            "direction": if (h >> 32) & 1 == 0 { "in" } else { "out" },
            "at": format!("2026-04-16T09:{:02}:{:02}Z", secs / 60, secs % 60),
            "method": "badge",
        });
        body.to_string().into_bytes()
    }

    fn request(&self, i: u64) -> anyhow::Result<Request<Full<Bytes>>> {
        let builder = Request::builder().header(hyper::header::HOST, &self.host);
        let req = match &self.kind {
            Kind::CecdHealth => builder.method(Method::GET).uri("/v1/health").body(Full::new(Bytes::new()))?,
            Kind::CecdCheckin { token } => builder
                .method(Method::POST)
                .uri("/v1/checkins")
                .header(hyper::header::AUTHORIZATION, format!("Bearer {token}"))
                .header(hyper::header::CONTENT_TYPE, "application/json")
                .body(Full::new(Bytes::from(self.checkin_json(i))))?,
            Kind::SqliteCheckin => builder
                .method(Method::POST)
                .uri("/checkins")
                .header(hyper::header::CONTENT_TYPE, "application/json")
                .body(Full::new(Bytes::from(self.checkin_json(i))))?,
            Kind::PouchPut => builder
                .method(Method::PUT)
                .uri(format!("/checkins/{}", self.checkin_id(i)))
                .header(hyper::header::CONTENT_TYPE, "application/json")
                .body(Full::new(Bytes::from(self.checkin_json(i))))?,
        };
        Ok(req)
    }

    /// Whether the run keeps the numbers of acknowledged requests (for a durability check).
    fn stores(&self) -> bool {
        !matches!(self.kind, Kind::CecdHealth)
    }
}

/// How long a run goes on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schedule {
    pub(crate) warmup: Duration,
    pub(crate) duration: Duration,
    pub(crate) request_timeout: Duration,
}

/// What a run measured.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// Requests sent in the measured window that got an answer or failed.
    pub(crate) requests: u64,
    /// Of those, answered 2xx.
    pub(crate) ok: u64,
    pub(crate) non_2xx: u64,
    pub(crate) transport_errors: u64,
    /// From the window's start to the last counted answer.
    pub(crate) elapsed: Duration,
    /// Latency in microseconds of every answered request of the window.
    pub(crate) hist: Histogram<u64>,
    /// Numbers `i` of every request answered 2xx, warm-up included (stored kinds only).
    pub(crate) acknowledged: Vec<u64>,
    /// Requests sent in all, warm-up included.
    pub(crate) sent: u64,
    pub(crate) first_error: Option<String>,
}

impl Outcome {
    /// 2xx answers per second of the window: failed requests do not count as throughput.
    pub(crate) fn per_second(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 { self.ok as f64 / secs } else { 0.0 }
    }

    /// Percentile `q` (0..=100) in milliseconds.
    pub(crate) fn ms(&self, q: f64) -> f64 {
        if self.hist.is_empty() { 0.0 } else { self.hist.value_at_quantile(q / 100.0) as f64 / 1000.0 }
    }

    pub(crate) fn max_ms(&self) -> f64 {
        if self.hist.is_empty() { 0.0 } else { self.hist.max() as f64 / 1000.0 }
    }
}

/// One connection's tally.
#[derive(Debug)]
struct Tally {
    requests: u64,
    ok: u64,
    non_2xx: u64,
    transport_errors: u64,
    last_counted: Option<Instant>,
    hist: Histogram<u64>,
    acknowledged: Vec<u64>,
    first_error: Option<String>,
}

impl Tally {
    fn new() -> anyhow::Result<Self> {
        Ok(Self {
            requests: 0,
            ok: 0,
            non_2xx: 0,
            transport_errors: 0,
            last_counted: None,
            hist: Histogram::new_with_bounds(1, HIST_MAX_US, 3)?,
            acknowledged: Vec::new(),
            first_error: None,
        })
    }

    fn error(&mut self, counted: bool, message: impl FnOnce() -> String) {
        if counted {
            self.transport_errors += 1;
        }
        if self.first_error.is_none() {
            self.first_error = Some(message());
        }
    }
}

pub(crate) async fn connect(addr: SocketAddr, timeout: Duration) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let stream = tokio::time::timeout(timeout, TcpStream::connect(addr)).await.context("connect timed out")??;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        // Ends when the sender is dropped or the server closes; errors show on the sender.
        let _ = conn.await;
    });
    Ok(sender)
}

/// Sends one request on `sender` and reads the whole answer.
pub(crate) async fn exchange(
    sender: &mut SendRequest<Full<Bytes>>,
    req: Request<Full<Bytes>>,
) -> anyhow::Result<(StatusCode, Bytes)> {
    sender.ready().await?;
    let resp = sender.send_request(req).await?;
    let status = resp.status();
    let body = resp.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

/// One connection's closed loop.
async fn worker(
    addr: SocketAddr,
    workload: Arc<Workload>,
    schedule: Schedule,
    next: Arc<AtomicU64>,
    start: Arc<OnceLock<Instant>>,
    ready: Arc<tokio::sync::Barrier>,
) -> anyhow::Result<Tally> {
    let mut tally = Tally::new()?;
    let mut sender = connect(addr, schedule.request_timeout).await.ok();
    // All connections are open (or failed) before the clock starts.
    ready.wait().await;
    let t0 = *start.get_or_init(Instant::now);
    let window_start = t0 + schedule.warmup;
    let end = window_start + schedule.duration;
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        let counted = now >= window_start;
        let mut conn = match sender.take() {
            Some(s) => s,
            None => match connect(addr, schedule.request_timeout.min(end - now)).await {
                Ok(s) => s,
                Err(e) => {
                    tally.error(counted, || format!("connect: {e:#}"));
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let i = next.fetch_add(1, Ordering::Relaxed);
        let req = workload.request(i)?;
        let sent = Instant::now();
        let answer = tokio::time::timeout(schedule.request_timeout, exchange(&mut conn, req)).await;
        let done = Instant::now();
        let latency = done - sent;
        match answer {
            Ok(Ok((status, body))) => {
                if counted {
                    tally.requests += 1;
                    tally.last_counted = Some(done);
                    let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX).max(1);
                    tally.hist.saturating_record(us);
                }
                if status.is_success() {
                    if counted {
                        tally.ok += 1;
                    }
                    if workload.stores() {
                        tally.acknowledged.push(i);
                    }
                } else {
                    if counted {
                        tally.non_2xx += 1;
                    }
                    if tally.first_error.is_none() {
                        let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
                        tally.first_error = Some(format!("request {i}: {status}: {text}"));
                    }
                }
                sender = Some(conn);
            }
            Ok(Err(e)) => {
                if counted {
                    tally.requests += 1;
                    tally.last_counted = Some(done);
                }
                tally.error(counted, || format!("request {i}: {e:#}"));
            }
            Err(_) => {
                if counted {
                    tally.requests += 1;
                    tally.last_counted = Some(done);
                }
                tally.error(counted, || format!("request {i}: no answer within {:?}", schedule.request_timeout));
            }
        }
    }
    Ok(tally)
}

/// Runs `connections` closed loops against `addr` for `schedule`.
pub(crate) async fn run(
    addr: SocketAddr,
    workload: Workload,
    connections: usize,
    schedule: Schedule,
) -> anyhow::Result<Outcome> {
    ensure!(addr.ip().is_loopback(), "the load generator only talks to the loopback address, not {addr}");
    ensure!(connections > 0, "no connections");
    let workload = Arc::new(workload);
    let next = Arc::new(AtomicU64::new(0));
    let start = Arc::new(OnceLock::new());
    let ready = Arc::new(tokio::sync::Barrier::new(connections));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..connections {
        workers.spawn(worker(addr, workload.clone(), schedule, next.clone(), start.clone(), ready.clone()));
    }
    // Each worker stops by itself after warm-up + duration + at most one request timeout (plus
    // one connect timeout before the clock starts); this bound only guards against a bug.
    let bound = schedule.warmup + schedule.duration + 3 * schedule.request_timeout + Duration::from_secs(10);
    let mut total = Tally::new()?;
    let joined = tokio::time::timeout(bound, async {
        while let Some(done) = workers.join_next().await {
            let tally = done.context("a load worker panicked")??;
            total.requests += tally.requests;
            total.ok += tally.ok;
            total.non_2xx += tally.non_2xx;
            total.transport_errors += tally.transport_errors;
            total.last_counted = total.last_counted.max(tally.last_counted);
            total.hist.add(&tally.hist).context("merging histograms")?;
            total.acknowledged.extend(tally.acknowledged);
            if total.first_error.is_none() {
                total.first_error = tally.first_error;
            }
        }
        anyhow::Ok(())
    })
    .await;
    match joined {
        Ok(r) => r?,
        Err(_) => {
            workers.abort_all();
            anyhow::bail!("the load run did not end within {bound:?}");
        }
    }
    let window_start = start.get().map(|t0| *t0 + schedule.warmup);
    let elapsed = match (window_start, total.last_counted) {
        (Some(w), Some(last)) => last.saturating_duration_since(w),
        _ => Duration::ZERO,
    };
    total.acknowledged.sort_unstable();
    Ok(Outcome {
        requests: total.requests,
        ok: total.ok,
        non_2xx: total.non_2xx,
        transport_errors: total.transport_errors,
        elapsed,
        hist: total.hist,
        acknowledged: total.acknowledged,
        sent: next.load(Ordering::Relaxed),
        first_error: total.first_error,
    })
}

/// One request on a fresh connection, for setup and checks (not measured).
pub(crate) async fn one_request(
    addr: SocketAddr,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Vec<u8>>,
    timeout: Duration,
) -> anyhow::Result<(StatusCode, Bytes)> {
    ensure!(addr.ip().is_loopback(), "only the loopback address, not {addr}");
    let mut builder = Request::builder().method(method.clone()).uri(path).header(hyper::header::HOST, addr.to_string());
    if let Some(token) = token {
        builder = builder.header(hyper::header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if body.is_some() {
        builder = builder.header(hyper::header::CONTENT_TYPE, "application/json");
    }
    let req = builder.body(Full::new(body.map(Bytes::from).unwrap_or_default()))?;
    let answer = tokio::time::timeout(timeout, async {
        let mut sender = connect(addr, timeout).await?;
        exchange(&mut sender, req).await
    })
    .await
    .with_context(|| format!("{method} {path}: no answer within {timeout:?}"))?;
    answer.with_context(|| format!("{method} {path}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkins_are_fixed_and_spread() {
        let w = Workload {
            kind: Kind::SqliteCheckin,
            host: "127.0.0.1:1".into(),
            prefix: "p".into(),
            event: "e".into(),
            sessions: 20,
            members: 500,
        };
        let a: serde_json::Value = serde_json::from_slice(&w.checkin_json(7)).unwrap();
        let b: serde_json::Value = serde_json::from_slice(&w.checkin_json(7)).unwrap();
        assert_eq!(a, b);
        assert_eq!(a["id"], "p-7");
        assert_eq!(a["session_id"], "s7");
        let members: std::collections::HashSet<String> = (0..5000)
            .map(|i| serde_json::from_slice::<serde_json::Value>(&w.checkin_json(i)).unwrap()["member_id"].to_string())
            .collect();
        assert!(members.len() > 450, "{} members of 500", members.len());
        let ins = (0..1000)
            .filter(|&i| serde_json::from_slice::<serde_json::Value>(&w.checkin_json(i)).unwrap()["direction"] == "in")
            .count();
        assert!((400..600).contains(&ins), "{ins} ins of 1000");
    }
}
